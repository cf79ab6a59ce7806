#include "lcore.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROC "autoperf.proc"

struct lproc {
	struct ap_proc p;
};

static struct lproc *check_proc(lua_State *L)
{
	return luaL_checkudata(L, 1, PROC);
}

/* A NULL-terminated copy of the strings of array t; lives in a userdata
 * left on the stack so that an error cannot leak it. */
static char **strings(lua_State *L, int t, const char *what)
{
	lua_Integer n = luaL_len(L, t);
	char **v = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof(*v), 0);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, t, i);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "%s[%d] must be a string", what, (int)i);
		v[i - 1] = (char *)lua_tostring(L, -1);
		/* The string stays referenced by t, which the caller holds. */
		lua_pop(L, 1);
	}
	v[n] = NULL;
	return v;
}

/* core.spawn(argv, {env={"K=V",...}, cwd=, cpus={0,1}, keep={fd,...},
 * cgroup=cg}) -> proc held at its start barrier | nil, message, errno.
 * keep: our descriptors the workload inherits (all others are closed at
 * exec). cgroup (core.cgroup()): the workload enters it before exec, and
 * from then on the keeper removes it (cg:close() then only lets go of
 * our descriptors); when the spawn fails it is removed here. */
static int l_spawn(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_argcheck(L, luaL_len(L, 1) > 0, 1, "argv is empty");
	struct ap_spawn_opts o = {0};
	struct ap_lcgroup *cg = NULL;
	cpu_set_t cpus;
	o.argv = strings(L, 1, "argv");
	if (lua_istable(L, 2)) {
		if (lua_getfield(L, 2, "env") == LUA_TTABLE)
			o.envp = strings(L, lua_gettop(L), "env");
		if (lua_getfield(L, 2, "cwd") == LUA_TSTRING)
			o.cwd = lua_tostring(L, -1);
		if (lua_getfield(L, 2, "keep") == LUA_TTABLE) {
			lua_Integer n = luaL_len(L, -1);
			int *keep = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(int), 0);
			for (lua_Integer i = 1; i <= n; i++) {
				lua_rawgeti(L, -2, i);
				keep[i - 1] = (int)luaL_checkinteger(L, -1);
				lua_pop(L, 1);
			}
			o.keep = keep;
			o.nkeep = (int)n;
		}
		if (lua_getfield(L, 2, "cpus") == LUA_TTABLE) {
			CPU_ZERO(&cpus);
			lua_Integer n = luaL_len(L, -1);
			for (lua_Integer i = 1; i <= n; i++) {
				lua_rawgeti(L, -1, i);
				lua_Integer c = lua_tointeger(L, -1);
				if (c < 0 || c >= CPU_SETSIZE)
					return luaL_error(L, "cpus[%d]: no such cpu", (int)i);
				CPU_SET((int)c, &cpus);
				lua_pop(L, 1);
			}
			o.cpus = &cpus;
		}
		if (lua_getfield(L, 2, "cgroup") != LUA_TNIL) {
			cg = luaL_checkudata(L, -1, AP_CGROUP);
			luaL_argcheck(L, !cg->handed && cg->cg.fd >= 0, 2, "cgroup already used or closed");
			o.cgroup = &cg->cg;
		}
	}
	struct lproc *lp = lua_newuserdatauv(L, sizeof(*lp), 0);
	memset(lp, 0, sizeof(*lp));
	lp->p.go_fd = lp->p.err_fd = lp->p.sock = -1;
	luaL_setmetatable(L, PROC);
	int err = ap_spawn(&lp->p, &o);
	if (err) {
		if (cg)
			ap_cgroup_remove(&cg->cg);
		return ap_lua_fail(L, -err, "fork");
	}
	if (cg)
		cg->handed = 1;
	return 1;
}

static int l_pid(lua_State *L)
{
	lua_pushinteger(L, check_proc(L)->p.pid);
	return 1;
}

/* proc:release() -> true | nil, message, errno (exec failed: the errno
 * of execvp, chdir or sched_setaffinity, the message says which). */
static int l_release(lua_State *L)
{
	struct lproc *lp = check_proc(L);
	int r = ap_release(&lp->p);
	if (r < 0)
		return ap_lua_fail(L, -r, "release");
	if (r > 0)
		return ap_lua_fail(L, r, lp->p.failed == 'a' ? "pinning it to its CPUs (sched_setaffinity)"
					 : lp->p.failed == 'c' ? "chdir" : NULL);
	lua_pushboolean(L, 1);
	return 1;
}

static void push_status(lua_State *L, const struct ap_proc *p)
{
	lua_createtable(L, 0, 6);
	if (WIFEXITED(p->status)) {
		lua_pushinteger(L, WEXITSTATUS(p->status));
		lua_setfield(L, -2, "code");
	} else if (WIFSIGNALED(p->status)) {
		int sig = WTERMSIG(p->status);
		lua_pushinteger(L, sig);
		lua_setfield(L, -2, "signal");
		lua_pushstring(L, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
		lua_setfield(L, -2, "signame");
		lua_pushboolean(L, WCOREDUMP(p->status));
		lua_setfield(L, -2, "core");
	}
	double ut = (double)p->ru.ru_utime.tv_sec + p->ru.ru_utime.tv_usec / 1e6;
	double st = (double)p->ru.ru_stime.tv_sec + p->ru.ru_stime.tv_usec / 1e6;
	lua_pushnumber(L, ut);
	lua_setfield(L, -2, "utime");
	lua_pushnumber(L, st);
	lua_setfield(L, -2, "stime");
	lua_pushinteger(L, p->ru.ru_maxrss);
	lua_setfield(L, -2, "maxrss_kb");
}

/* proc:wait([timeout_ms[, fd[, deadline_ns]]]) -> status table | false
 * (timeout) | "fd" (fd is readable) | nil, "interrupted", EINTR | nil,
 * message, errno. deadline_ns (core.now_ns's clock), when given, wins
 * over timeout_ms: the wait ends at it to the nanosecond. */
static int l_wait(lua_State *L)
{
	struct lproc *lp = check_proc(L);
	lua_Integer ms = luaL_optinteger(L, 2, -1);
	lua_Integer fd = luaL_optinteger(L, 3, -1);
	lua_Integer until = luaL_optinteger(L, 4, -1);
	int64_t deadline = -1;
	if (until >= 0) {
		deadline = (int64_t)until;
	} else if (ms >= 0) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		deadline = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec +
			   (ms > INT64_MAX / 2000000 ? INT64_MAX / 2 : (int64_t)ms * 1000000);
	}
	int r = ap_wait(&lp->p, deadline, (int)fd);
	if (r == 2) {
		lua_pushliteral(L, "fd");
		return 1;
	}
	if (r == -EINTR) {
		lua_pushnil(L);
		lua_pushliteral(L, "interrupted");
		lua_pushinteger(L, EINTR);
		return 3;
	}
	if (r < 0)
		return ap_lua_fail(L, -r, "wait");
	if (r == 0) {
		lua_pushboolean(L, 0);
		return 1;
	}
	push_status(L, &lp->p);
	return 1;
}

/* proc:kill([signal]) signals the workload's whole process group. */
static int l_kill(lua_State *L)
{
	struct lproc *lp = check_proc(L);
	int err = ap_kill(&lp->p, (int)luaL_optinteger(L, 2, SIGKILL));
	if (err)
		return ap_lua_fail(L, -err, "kill");
	lua_pushboolean(L, 1);
	return 1;
}

static int l_close(lua_State *L)
{
	ap_proc_close(&check_proc(L)->p);
	return 0;
}

/* The region-of-interest channel: a socket pair, one end for the
 * workload (AUTOPERF_CTL_FD), where it writes "enable\n" or "disable\n"
 * and reads a one-byte acknowledgement once counting changed. */
#define ROI "autoperf.roi"

struct lroi {
	int ours, theirs;
};

static int l_roi(lua_State *L)
{
	struct lroi *r = lua_newuserdatauv(L, sizeof(*r), 0);
	r->ours = r->theirs = -1;
	luaL_setmetatable(L, ROI);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return ap_lua_fail(L, errno, "socketpair");
	r->ours = sv[0];
	r->theirs = sv[1];
	return 1;
}

static struct lroi *check_roi(lua_State *L)
{
	return luaL_checkudata(L, 1, ROI);
}

/* roi:fds() -> ours (to wait on), theirs (for the workload) */
static int l_roi_fds(lua_State *L)
{
	struct lroi *r = check_roi(L);
	lua_pushinteger(L, r->ours);
	lua_pushinteger(L, r->theirs);
	return 2;
}

/* roi:spawned(): the workload has its end; drop ours of it, so that its
 * exit shows as end of file. */
static int l_roi_spawned(lua_State *L)
{
	struct lroi *r = check_roi(L);
	if (r->theirs >= 0)
		close(r->theirs);
	r->theirs = -1;
	return 0;
}

/* roi:read() -> what the workload wrote (may hold several commands) | nil
 * at end of file | nil, message, errno */
static int l_roi_read(lua_State *L)
{
	struct lroi *r = check_roi(L);
	char buf[256];
	ssize_t n;
	do
		n = read(r->ours, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ap_lua_fail(L, errno, "read");
	if (n == 0)
		return 0;
	lua_pushlstring(L, buf, (size_t)n);
	return 1;
}

/* roi:ack(): tells the workload its command took effect. */
static int l_roi_ack(lua_State *L)
{
	struct lroi *r = check_roi(L);
	ssize_t n;
	do
		n = send(r->ours, "a", 1, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ap_lua_fail(L, errno, "ack");
	lua_pushboolean(L, 1);
	return 1;
}

static int l_roi_close(lua_State *L)
{
	struct lroi *r = check_roi(L);
	if (r->ours >= 0)
		close(r->ours);
	if (r->theirs >= 0)
		close(r->theirs);
	r->ours = r->theirs = -1;
	return 0;
}

static const luaL_Reg roi_methods[] = {
	{"fds", l_roi_fds},   {"spawned", l_roi_spawned}, {"read", l_roi_read},
	{"ack", l_roi_ack},   {"close", l_roi_close},     {NULL, NULL},
};

/* core.cgroup() -> cg | nil, message, errno: a fresh cgroup of its own
 * (cgroup.h) for one execution; cg:path(), cg:close() (our descriptors;
 * also removes it unless a keeper has it), cg:remove(). */
static int l_cgroup(lua_State *L)
{
	struct ap_lcgroup *cg = lua_newuserdatauv(L, sizeof(*cg), 0);
	memset(cg, 0, sizeof(*cg));
	cg->cg.fd = cg->cg.parent_fd = -1;
	luaL_setmetatable(L, AP_CGROUP);
	int err = ap_cgroup_make(&cg->cg);
	if (err)
		return ap_lua_fail(L, -err, "cgroup");
	return 1;
}

/* core.cgroup_home() -> dir, version (2 or 1) | nil, message, errno */
static int l_cgroup_home(lua_State *L)
{
	char dir[4096];
	int v2 = 0;
	int err = ap_cgroup_home(dir, sizeof(dir), &v2);
	if (err)
		return ap_lua_fail(L, -err, "cgroup with perf_event");
	lua_pushstring(L, dir);
	lua_pushinteger(L, v2 ? 2 : 1);
	return 2;
}

static struct ap_lcgroup *check_cgroup(lua_State *L)
{
	return luaL_checkudata(L, 1, AP_CGROUP);
}

static int l_cgroup_path(lua_State *L)
{
	lua_pushstring(L, check_cgroup(L)->cg.path);
	return 1;
}

static int l_cgroup_close(lua_State *L)
{
	struct ap_lcgroup *cg = check_cgroup(L);
	if (cg->handed)
		ap_cgroup_close(&cg->cg);
	else
		ap_cgroup_remove(&cg->cg);
	return 0;
}

static int l_cgroup_remove(lua_State *L)
{
	struct ap_lcgroup *cg = check_cgroup(L);
	int err = ap_cgroup_remove(&cg->cg);
	if (err)
		return ap_lua_fail(L, -err, "rmdir");
	lua_pushboolean(L, 1);
	return 1;
}

static const luaL_Reg cgroup_methods[] = {
	{"path", l_cgroup_path}, {"close", l_cgroup_close}, {"remove", l_cgroup_remove}, {NULL, NULL},
};

static const luaL_Reg methods[] = {
	{"pid", l_pid},   {"release", l_release}, {"wait", l_wait},
	{"kill", l_kill}, {"close", l_close},     {NULL, NULL},
};

void ap_lua_proc(lua_State *L)
{
	ap_lua_class(L, PROC, methods, l_close);
	ap_lua_class(L, ROI, roi_methods, l_roi_close);
	ap_lua_class(L, AP_CGROUP, cgroup_methods, l_cgroup_close);
	static const luaL_Reg funcs[] = {
		{"cgroup", l_cgroup},
		{"cgroup_home", l_cgroup_home},
		{"spawn", l_spawn},
		{"roi", l_roi},
		{NULL, NULL},
	};
	luaL_setfuncs(L, funcs, 0);
}
