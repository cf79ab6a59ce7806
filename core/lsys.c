/* lsys: the process's own odds and ends for Lua: signals, the clock,
 * directories, the environment, file-descriptor limits. */
#include "counters.h"
#include "lcore.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/*
 * The one piece of process-wide state: a signal handler can only reach a
 * static. The handler just records the signal; the Lua loop that waits on
 * the workload sees its wait interrupted and decides what to do.
 */
static volatile sig_atomic_t caught;

static void on_signal(int sig)
{
	caught = sig;
}

static const int trapped[] = {SIGINT, SIGTERM, SIGHUP};
#define NTRAPPED (sizeof(trapped) / sizeof(trapped[0]))
/* What the signals did before trap_signals, for release_signals. */
static struct sigaction before[NTRAPPED];
static int saved;

static int l_trap_signals(lua_State *L)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: waits must wake up */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NTRAPPED; i++)
		if (sigaction(trapped[i], &sa, saved ? NULL : &before[i]) < 0)
			return ap_lua_fail(L, errno, "sigaction");
	saved = 1;
	lua_pushboolean(L, 1);
	return 1;
}

/* core.release_signals(): gives the signals back to the handlers they had
 * before trap_signals (the REPL's, say). A signal caught meanwhile goes on
 * to a handler of the caller's (raised again, and no longer recorded as
 * caught); with the default action it stays recorded, so that later
 * profiles of the same process stop at once, as the first one did. */
static int l_release_signals(lua_State *L)
{
	(void)L;
	if (!saved)
		return 0;
	int again = 0;
	for (size_t i = 0; i < NTRAPPED; i++) {
		sigaction(trapped[i], &before[i], NULL);
		if (caught == trapped[i] && before[i].sa_handler != SIG_DFL &&
		    before[i].sa_handler != SIG_IGN)
			again = caught;
	}
	saved = 0;
	if (again) {
		caught = 0;
		raise(again);
	}
	return 0;
}

static int l_caught_signal(lua_State *L)
{
	if (!caught)
		return 0;
	lua_pushinteger(L, caught);
	return 1;
}

static int l_now_ns(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000000000 + ts.tv_nsec);
	return 1;
}

static int l_raise_nofile(lua_State *L)
{
	long n = ap_raise_nofile();
	if (n < 0)
		return ap_lua_fail(L, (int)-n, "setrlimit");
	lua_pushinteger(L, n);
	return 1;
}

static int l_sleep_ms(lua_State *L)
{
	lua_Integer ms = luaL_checkinteger(L, 1);
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
	return 0;
}

/* core.mkdir(path) -> true | nil, message, errno (an existing directory
 * is fine). */
static int l_mkdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	if (mkdir(path, 0755) < 0) {
		int err = errno;
		struct stat st;
		if (err != EEXIST || stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			return ap_lua_fail(L, err == EEXIST ? ENOTDIR : err, path);
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* core.mkdtemp(template) -> path | nil, message, errno: a new directory
 * (mode 0700) named by template, whose last six characters are XXXXXX. */
static int l_mkdtemp(lua_State *L)
{
	size_t len;
	const char *tmpl = luaL_checklstring(L, 1, &len);
	luaL_Buffer b;
	char *path = luaL_buffinitsize(L, &b, len + 1);
	memcpy(path, tmpl, len + 1);
	if (!mkdtemp(path))
		return ap_lua_fail(L, errno, tmpl);
	luaL_pushresultsize(&b, len);
	return 1;
}

extern char **environ;

/* core.environ() -> {"K=V", ...}: our environment, to extend for a
 * workload. */
static int l_environ(lua_State *L)
{
	lua_newtable(L);
	for (int i = 0; environ[i]; i++) {
		lua_pushstring(L, environ[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* core.isatty(fd) -> boolean */
static int l_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
	return 1;
}

/* core.nice([n]) -> the calling process's nice value before (and with n,
 * sets it: nil, message, errno when not permitted; lowering it needs
 * CAP_SYS_NICE). Threads, the keeper and the workload are not touched. */
static int l_nice(lua_State *L)
{
	errno = 0;
	int old = getpriority(PRIO_PROCESS, 0);
	if (old == -1 && errno)
		return ap_lua_fail(L, errno, "getpriority");
	if (!lua_isnoneornil(L, 1)) {
		lua_Integer n = luaL_checkinteger(L, 1);
		luaL_argcheck(L, n >= -20 && n <= 19, 1, "nice values are -20 to 19");
		if (setpriority(PRIO_PROCESS, 0, (int)n) < 0)
			return ap_lua_fail(L, errno, "setpriority");
	}
	lua_pushinteger(L, old);
	return 1;
}

/* core.realtime([prio]) -> the calling thread's policy before ("other",
 * "fifo", "rr", "batch", "idle" or "deadline"); with prio, sets it:
 * SCHED_FIFO at prio (1-99; needs CAP_SYS_NICE or an RLIMIT_RTPRIO) with
 * SCHED_RESET_ON_FORK (a child forked meanwhile starts at SCHED_OTHER,
 * never real-time), or with 0 back to plain SCHED_OTHER (its nice value
 * kept). nil, message, errno when not permitted. */
static int l_realtime(lua_State *L)
{
	int old = sched_getscheduler(0);
	if (old < 0)
		return ap_lua_fail(L, errno, "sched_getscheduler");
	if (!lua_isnoneornil(L, 1)) {
		lua_Integer prio = luaL_checkinteger(L, 1);
		luaL_argcheck(L, prio >= 0 && prio <= 99, 1,
			      "real-time priorities are 1 to 99 (0: not real-time)");
		struct sched_param sp = {.sched_priority = (int)prio};
		int policy = prio > 0 ? SCHED_FIFO | SCHED_RESET_ON_FORK : SCHED_OTHER;
		if (sched_setscheduler(0, policy, &sp) < 0)
			return ap_lua_fail(L, errno, "sched_setscheduler");
	}
	static const struct {
		int policy;
		const char *name;
	} names[] = {{SCHED_OTHER, "other"}, {SCHED_FIFO, "fifo"}, {SCHED_RR, "rr"},
		     {SCHED_BATCH, "batch"}, {SCHED_IDLE, "idle"}, {6, "deadline"}};
	const char *name = "other";
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if ((old & ~SCHED_RESET_ON_FORK) == names[i].policy)
			name = names[i].name;
	lua_pushstring(L, name);
	return 1;
}

/* core.cpuid(leaf [, subleaf]) -> eax, ebx, ecx, edx; or nil, msg when
 * the CPU is not x86 or the leaf is above the highest one it reports
 * (CPUID 0 for basic leaves, 0x80000000 for extended ones). */
static int l_cpuid(lua_State *L)
{
	lua_Integer leaf = luaL_checkinteger(L, 1);
	lua_Integer sub = luaL_optinteger(L, 2, 0);
	luaL_argcheck(L, leaf >= 0 && leaf <= 0xffffffffLL, 1, "not a 32-bit leaf");
	luaL_argcheck(L, sub >= 0 && sub <= 0xffffffffLL, 2, "not a 32-bit subleaf");
#if defined(__x86_64__) || defined(__i386__)
	unsigned int a, b, c, d;
	unsigned int max = __get_cpuid_max((unsigned int)leaf & 0x80000000u, NULL);
	if ((unsigned int)leaf > max) {
		char msg[80];
		snprintf(msg, sizeof msg, "CPUID leaf 0x%x is above this CPU's highest (0x%x)",
			 (unsigned int)leaf, max);
		lua_pushnil(L);
		lua_pushstring(L, msg);
		return 2;
	}
	__cpuid_count((unsigned int)leaf, (unsigned int)sub, a, b, c, d);
	lua_pushinteger(L, a);
	lua_pushinteger(L, b);
	lua_pushinteger(L, c);
	lua_pushinteger(L, d);
	return 4;
#else
	lua_pushnil(L);
	lua_pushliteral(L, "CPUID exists on x86 only");
	return 2;
#endif
}

const luaL_Reg ap_lua_sys_funcs[] = {
	{"cpuid", l_cpuid},
	{"nice", l_nice},
	{"realtime", l_realtime},
	{"mkdir", l_mkdir},
	{"mkdtemp", l_mkdtemp},
	{"isatty", l_isatty},
	{"environ", l_environ},
	{"trap_signals", l_trap_signals},
	{"caught_signal", l_caught_signal},
	{"release_signals", l_release_signals},
	{"now_ns", l_now_ns},
	{"raise_nofile", l_raise_nofile},
	{"sleep_ms", l_sleep_ms},
	{NULL, NULL},
};
