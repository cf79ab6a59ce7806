# autoperf: a C core (core/) driven by Lua (lua/).
# make          build ./autoperf and build/lib/autoperf/core.so
# make test     install missing packages, build, run every test
# make demo     install missing packages, build, profile a bundled workload
# make asan     the same tests against an ASan+UBSan build
# make test-intel  the tests with libpfm4 forced to an Intel model (icl)
# make test-user   the user-facing tests as an unprivileged user
# make install  PREFIX=/usr/local DESTDIR=
# make CROSS=aarch64-linux-gnu- STATIC=1   a static arm64 build in build-aarch64/
#               (its Lua modules, with argparse, dkjson and a cjson shim, in
#               build-aarch64/lua/ beside the binary; install as usual)
# make test-pmu the real-PMU lane: the arm64 build under QEMU (scripts/test-pmu)
# make test-slurm the Slurm lane: autoperf slurm's job array on a one-node
#               Slurm started on this machine (scripts/slurm-lane)
# make test-report the HTML report in a real headless Chromium
#               (spec/report_browser.py; scripts/bootstrap --browser)

PREFIX   ?= /usr/local
DESTDIR  ?=
CROSS    ?=
STATIC   ?=
# Cross builds keep out of the native build/.
BUILD    ?= $(if $(CROSS),build-$(firstword $(subst -, ,$(CROSS))),build)
DATADIR  := $(PREFIX)/share/autoperf

PKGS     := lua5.4 zlib
ifneq ($(CROSS),)
CC       := $(CROSS)gcc
PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/$(CROSS:%-=%)/pkgconfig:/usr/share/pkgconfig pkg-config
else
PKG_CONFIG := pkg-config
endif
# Debian's libpfm4-dev ships no .pc file; fall back to -lpfm.
PFM_LIBS := $(shell $(PKG_CONFIG) --libs libpfm 2>/dev/null || echo -lpfm)

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -std=c11 -Wall -Wextra -Werror
# The core runs threads (run files inflated and parsed ahead, results
# written behind): -pthread when compiling and linking, static builds too,
# kept out of CFLAGS so that a CFLAGS given (asan) does not drop it.
THREADS  := -pthread
CPPFLAGS += -D_GNU_SOURCE $(shell $(PKG_CONFIG) --cflags $(PKGS))
# The correlation kernel runs on OpenBLAS (Debian's libopenblas-dev: its
# dsyrk on every core), loaded on first use from the path found here; a
# static build (the arm64 lane) has no dlopen and uses a plain loop.
ifeq ($(STATIC),)
OPENBLAS_DIR := $(patsubst %/,%,$(shell $(PKG_CONFIG) --variable=libdir openblas 2>/dev/null))
ifneq ($(OPENBLAS_DIR),)
CPPFLAGS += $(shell $(PKG_CONFIG) --cflags openblas) -DAP_OPENBLAS='"$(OPENBLAS_DIR)/libopenblas.so.0"'
endif
endif
# Run files are inflated and deflated by ISA-L (Debian's libisal-dev:
# 4-5x zlib's inflate, the most of what aggregate costs; 5x zlib's level-1
# deflate, the most of what the sampler spends); a static build (the
# arm64 lane: Debian ships no libisal.a) uses zlib.
ifeq ($(STATIC),)
ifneq ($(shell $(PKG_CONFIG) --exists libisal && echo yes),)
PKGS     += libisal
CPPFLAGS += -DAP_ISAL
endif
endif
ifneq ($(STATIC),)
# One self-contained binary: C modules cannot be loaded, so no core.so, and
# readline's static library needs its terminal library spelled out.
LDFLAGS  += -static
LDLIBS   += $(shell $(PKG_CONFIG) --static --libs $(PKGS)) $(PFM_LIBS) -lreadline -ltinfo -lm -ldl
else
LDLIBS   += $(shell $(PKG_CONFIG) --libs $(PKGS)) $(PFM_LIBS) -lreadline -lm -ldl
endif

CORE_SRC := counters.c capacity.c proc.c closer.c io.c gz.c table.c runfile.c reader.c aggregate.c synth.c \
            catalog.c pfm.c plan.c sim.c numeric.c series.c cgroup.c \
            lcore.c lhelp.c lsys.c lcounters.c lproc.c lio.c lrunfile.c lreader.c lsynth.c lcatalog.c lplan.c lsim.c lrepl.c lnumeric.c lseries.c
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
HEADERS  := $(wildcard core/*.h)
WORKLOADS := $(patsubst examples/workloads/%.c,$(BUILD)/workloads/%,$(wildcard examples/workloads/*.c))

# The binary lives at the top of the tree for the default build (lua/ is
# beside it); other builds (asan) keep it in their build directory.
BIN      := $(if $(filter build,$(BUILD)),autoperf,$(BUILD)/autoperf)
# A static binary carries its Lua modules beside it (BUILD/lua): ours and
# the pure-Lua ones it needs; cjson (a C module) is replaced by a shim.
LUA_DEPS := /usr/share/lua/5.4/argparse.lua /usr/share/lua/5.4/dkjson.lua
TARGETS  := $(BIN) $(if $(STATIC),$(BUILD)/lua/autoperf/cli.lua,$(BUILD)/lib/autoperf/core.so) workloads pmu-events

# The kernel's perf event tables (tools/perf/pmu-events/arch JSON) for the
# parts libpfm4 lacks (AMD Zen 5, arm64 cores), from Debian's
# linux-source-6.12 (scripts/bootstrap): extracted once into
# build/pmu-events/ (one place for every build variant: the data is not
# per architecture), installed under share/autoperf/pmu-events/. The
# binary finds it beside its Lua modules (catalog/kernel_json.lua).
KERNEL_TAR ?= /usr/src/linux-source-6.12.tar.xz
PMU_EVENTS := build/pmu-events
PMU_EVENTS_STAMP := $(PMU_EVENTS)/.extracted

LUA      := lua5.4
# The specs make check runs (test-user runs the user-facing ones).
SPECS    ?= spec
BUSTED   := $(LUA) /usr/bin/busted

.PHONY: all pmu-events test test-intel test-user check demo asan install uninstall clean bootstrap workloads bench bench-plan bench-profile bench-perturbation bench-numeric bench-aggregate bench-analysis soak test-pmu test-slurm test-report

all: $(TARGETS)

workloads: $(WORKLOADS)

ifneq ($(wildcard $(KERNEL_TAR)),)
pmu-events: $(PMU_EVENTS_STAMP)

$(PMU_EVENTS_STAMP): $(KERNEL_TAR)
	@echo "extracting the kernel's pmu-events JSON (amdzen*, arm64) from $(KERNEL_TAR)"
	@rm -rf $(PMU_EVENTS) && mkdir -p $(PMU_EVENTS)
	tar -xJf $(KERNEL_TAR) -C $(PMU_EVENTS) --strip-components=5 --wildcards \
	  '*/tools/perf/pmu-events/arch/x86/amdzen*' '*/tools/perf/pmu-events/arch/arm64'
	@touch $@
else
pmu-events:
	@echo "note: $(KERNEL_TAR) is missing (Debian's linux-source-6.12: scripts/bootstrap installs it);" \
	  "without it there are no Zen 5 or arm64 event tables from the kernel's pmu-events JSON"
endif

$(BUILD)/obj/%.o: core/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) $(THREADS) -fPIC -c -o $@ $<

$(BUILD)/obj/main.o: CPPFLAGS += -DAP_DATADIR='"$(DATADIR)"'

$(BIN): $(BUILD)/obj/main.o $(CORE_OBJ)
	$(CC) $(CFLAGS) $(THREADS) $(LDFLAGS) -Wl,-E -o $@ $^ $(LDLIBS)

$(BUILD)/lib/autoperf/core.so: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(THREADS) $(LDFLAGS) -shared -o $@ $^ $(filter-out -llua5.4,$(LDLIBS))

$(BUILD)/workloads/%: examples/workloads/%.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -D_GNU_SOURCE -O2 $(if $(STATIC),-static) -o $@ $< -lpthread

$(BUILD)/lua/autoperf/cli.lua: $(wildcard lua/autoperf/*.lua lua/autoperf/*/*.lua) lua/static/cjson.lua $(LUA_DEPS)
	@mkdir -p $(BUILD)/lua
	rm -rf $(BUILD)/lua/autoperf
	cp -r lua/autoperf $(BUILD)/lua/
	cp $(LUA_DEPS) lua/static/cjson.lua $(BUILD)/lua/
	@touch $@

# The real-PMU lane: a static arm64 autoperf and its checks in an arm64
# Linux under QEMU (scripts/test-pmu says how); ends with "N passed, N failed".
test-pmu:
	@scripts/bootstrap-pmu
	@scripts/test-pmu

# The Slurm lane: Debian's slurm-wlm and munge, a private one-node cluster
# (scripts/slurm-lane says how); ends with "N passed, N failed".
test-slurm:
	@scripts/bootstrap --slurm
	@$(MAKE) --no-print-directory all
	@scripts/slurm-lane

# Without chromium (not installable here) the suite says so and skips.
test-report:
	@scripts/bootstrap --browser || echo "test-report: chromium could not be installed"
	@$(MAKE) --no-print-directory all
	@AUTOPERF_BIN=$(abspath $(BIN)) AUTOPERF_WORKLOADS=$(abspath $(BUILD)/workloads) \
	  /usr/bin/python3 spec/report_browser.py

bootstrap:
	@scripts/bootstrap

# The tests run the binary and load core.so from a plain lua5.4 (the asan
# build runs busted inside its own instrumented binary instead); the
# summary line "N passed, N failed" is the last line of the output.
check: all
	AUTOPERF_BIN=$(abspath $(BIN)) AUTOPERF_BUILD=$(abspath $(BUILD)) \
	AUTOPERF_WORKLOADS=$(abspath $(BUILD)/workloads) \
	$(TEST_ENV) $(BUSTED) --helper=spec/helper.lua -o spec/summary.lua $(SPECS)

test: bootstrap
	@$(MAKE) --no-print-directory check

# The specs on an Intel host as libpfm4 sees one (icl), whatever this
# machine's CPU: names must resolve against the chosen model, never the host's.
test-intel: bootstrap
	@LIBPFM_FORCE_PMU=icl $(MAKE) --no-print-directory check

# The user-facing specs as an unprivileged user (scripts/test-user).
test-user: bootstrap
	@$(MAKE) --no-print-directory all
	@scripts/test-user

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
bench: bench-plan bench-profile bench-perturbation bench-numeric bench-aggregate bench-analysis bench-metrics

bench-plan: all
	./$(BIN) run scripts/bench-plan.lua

# metric-aware planning on every shared metric file (simulated models)
bench-metrics: all
	./$(BIN) run scripts/bench-metrics.lua

bench-profile: all
	./$(BIN) run scripts/bench-profile.lua

# perturbation: the workload's slowdown under each counting mode and perf
# stat, and the sampler's lateness (takes a few minutes: perf stat closes
# ~2300 tracepoints slowly).
bench-perturbation: all
	./$(BIN) run scripts/bench-perturbation.lua $(or $(BENCH_REPS),3) $(BENCH_ONLY)

bench-numeric: all
	scripts/bootstrap --bench
	./$(BIN) run scripts/bench-numeric.lua

# BENCH_ARGS="EVENTS INTERVALS CPUS RUNS [DIR] [--old]"; default 40M rows.
bench-aggregate: all
	./$(BIN) run scripts/bench-aggregate.lua $(BENCH_ARGS)

# aggregate and correlation against pandas on the same generated profile
# (scripts/bootstrap --bench installs python3-pandas).
bench-analysis: all
	scripts/bootstrap --bench
	./$(BIN) run scripts/bench-analysis.lua $(BENCH_ARGS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(DATADIR)/lua/autoperf $(DESTDIR)$(PREFIX)/lib/autoperf
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/autoperf
ifneq ($(STATIC),)
	cp -r $(BUILD)/lua/. $(DESTDIR)$(DATADIR)/lua/
else
	cp -r lua/autoperf $(DESTDIR)$(DATADIR)/lua/
	install -d $(DESTDIR)$(PREFIX)/lib/lua/5.4/autoperf
	install -m 755 $(BUILD)/lib/autoperf/core.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/autoperf/core.so
endif
	cp -r examples $(DESTDIR)$(DATADIR)/
	if [ -f $(PMU_EVENTS_STAMP) ]; then rm -rf $(DESTDIR)$(DATADIR)/pmu-events && \
	  cp -r $(PMU_EVENTS) $(DESTDIR)$(DATADIR)/pmu-events; fi
	install -d $(DESTDIR)$(PREFIX)/lib/autoperf/workloads
	install -m 755 $(WORKLOADS) $(DESTDIR)$(PREFIX)/lib/autoperf/workloads/

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/autoperf $(DESTDIR)$(DATADIR) \
	  $(DESTDIR)$(PREFIX)/lib/lua/5.4/autoperf $(DESTDIR)$(PREFIX)/lib/autoperf

clean:
	rm -rf build build-asan build-aarch64 autoperf
