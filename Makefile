# autoperf: a C core (core/) driven by Lua (lua/).
# make          build ./autoperf and build/lib/autoperf/core.so
# make test     install missing packages, build, run every test
# make demo     install missing packages, build, profile a bundled workload
# make asan     the same tests against an ASan+UBSan build
# make install  PREFIX=/usr/local DESTDIR=

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
DATADIR  := $(PREFIX)/share/autoperf

PKGS     := lua5.4 zlib
# Debian's libpfm4-dev ships no .pc file; fall back to -lpfm.
PFM_LIBS := $(shell pkg-config --libs libpfm 2>/dev/null || echo -lpfm)

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -Werror
CPPFLAGS += -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) $(PFM_LIBS) -lreadline -lm

CORE_SRC := counters.c proc.c closer.c io.c catalog.c pfm.c plan.c sim.c \
            lcore.c lcounters.c lproc.c lio.c lcatalog.c lplan.c lsim.c lrepl.c
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
HEADERS  := $(wildcard core/*.h)
WORKLOADS := $(patsubst examples/workloads/%.c,$(BUILD)/workloads/%,$(wildcard examples/workloads/*.c))

# The binary lives at the top of the tree for the default build (lua/ is
# beside it); other builds (asan) keep it in their build directory.
BIN      := $(if $(filter build,$(BUILD)),autoperf,$(BUILD)/autoperf)

LUA      := lua5.4
BUSTED   := $(LUA) /usr/bin/busted

.PHONY: all test check demo asan install uninstall clean bootstrap workloads bench bench-plan bench-profile soak

all: $(BIN) $(BUILD)/lib/autoperf/core.so workloads

workloads: $(WORKLOADS)

$(BUILD)/obj/%.o: core/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -fPIC -c -o $@ $<

$(BUILD)/obj/main.o: CPPFLAGS += -DAP_DATADIR='"$(DATADIR)"'

$(BIN): $(BUILD)/obj/main.o $(CORE_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wl,-E -o $@ $^ $(LDLIBS)

$(BUILD)/lib/autoperf/core.so: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -o $@ $^ $(filter-out -llua5.4,$(LDLIBS))

$(BUILD)/workloads/%: examples/workloads/%.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -D_GNU_SOURCE -O2 -o $@ $< -lpthread

bootstrap:
	@scripts/bootstrap

# The tests run the binary and load core.so from a plain lua5.4 (the asan
# build runs busted inside its own instrumented binary instead); the
# summary line "N passed, N failed" is the last line of the output.
check: all
	AUTOPERF_BIN=$(abspath $(BIN)) AUTOPERF_BUILD=$(abspath $(BUILD)) \
	AUTOPERF_WORKLOADS=$(abspath $(BUILD)/workloads) \
	$(TEST_ENV) $(BUSTED) --helper=spec/helper.lua -o spec/summary.lua spec

test: bootstrap
	@$(MAKE) --no-print-directory check

asan: bootstrap
	@$(MAKE) --no-print-directory BUILD=build-asan \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" \
	  BUSTED="$(abspath build-asan/autoperf) run /usr/bin/busted" \
	  TEST_ENV="ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(abspath spec/lsan.supp):print_suppressions=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" \
	  check

demo: bootstrap
	@$(MAKE) --no-print-directory all
	@scripts/demo

# Fault injection at length: 200 random SIGKILLs (the suite runs 20).
soak: all
	AUTOPERF_SOAK_TRIALS=$${AUTOPERF_SOAK_TRIALS:-200} AUTOPERF_BIN=$(abspath $(BIN)) \
	AUTOPERF_BUILD=$(abspath $(BUILD)) AUTOPERF_WORKLOADS=$(abspath $(BUILD)/workloads) \
	$(BUSTED) --helper=spec/helper.lua -o spec/summary.lua --filter='fault injection' spec/robust_spec.lua

# Benchmarks (numbers, not pass/fail).
bench: bench-plan bench-profile

bench-plan: all
	./$(BIN) run scripts/bench-plan.lua

bench-profile: all
	./$(BIN) run scripts/bench-profile.lua

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(DATADIR)/lua/autoperf \
	  $(DESTDIR)$(PREFIX)/lib/lua/5.4/autoperf $(DESTDIR)$(PREFIX)/lib/autoperf
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/autoperf
	cp -r lua/autoperf $(DESTDIR)$(DATADIR)/lua/
	install -m 755 $(BUILD)/lib/autoperf/core.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/autoperf/core.so
	cp -r examples $(DESTDIR)$(DATADIR)/
	install -d $(DESTDIR)$(PREFIX)/lib/autoperf/workloads
	install -m 755 $(WORKLOADS) $(DESTDIR)$(PREFIX)/lib/autoperf/workloads/

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/autoperf $(DESTDIR)$(DATADIR) \
	  $(DESTDIR)$(PREFIX)/lib/lua/5.4/autoperf $(DESTDIR)$(PREFIX)/lib/autoperf

clean:
	rm -rf build build-asan autoperf
