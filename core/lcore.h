/* lcore: the autoperf.core Lua module; each l*.c adds its functions
 * (lcore.c only assembles them; their shared helpers are lhelp.h). */
#ifndef AP_LCORE_H
#define AP_LCORE_H

#include "lhelp.h"
#include "lrunfile.h"

/* The parts of the module (l<part>.c), in the order lcore.c adds them:
 * ap_lua_<part> adds its functions (and metatables) to the table on top
 * of L. */
#define AP_LUA_PARTS(X) \
	X(counters) X(sim) X(repl) X(proc) X(io) X(runfile) X(catalog) X(plan) \
	X(numeric)
#define AP_LUA_DECLARE(part) void ap_lua_##part(lua_State *L);
AP_LUA_PARTS(AP_LUA_DECLARE)
/* Parts that are functions only: ap_lua_<part>_funcs, added first. */
#define AP_LUA_FUNCS(X) X(sys) X(reader) X(synth) X(series)
#define AP_LUA_DECLARE_FUNCS(part) extern const luaL_Reg ap_lua_##part##_funcs[];
AP_LUA_FUNCS(AP_LUA_DECLARE_FUNCS)

/* Reads a perf_event_attr from the table at index t: {type=, config=
 * (both required), config1=, config2=, exclude_user=, exclude_kernel=,
 * exclude_hv=, exclude_idle=}. */
/* core.cgroup userdata (lproc.c): a cgroup made for one execution;
 * handed is set once a keeper owns its removal (core.spawn). */
#define AP_CGROUP "autoperf.cgroup"
#include "cgroup.h"
struct ap_lcgroup {
	struct ap_cgroup cg;
	int handed;
};

/* The metatable of core.matrix userdata (lnumeric.c). */
#define AP_MATRIX "autoperf.matrix"

struct perf_event_attr;
void ap_lua_attr(lua_State *L, int t, struct perf_event_attr *a);

int luaopen_autoperf_core(lua_State *L);

#endif
