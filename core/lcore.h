/* lcore: the autoperf.core Lua module; each l*.c adds its functions. */
#ifndef AP_LCORE_H
#define AP_LCORE_H

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

/* Each adds its functions (and metatables) to the table on top of L. */
void ap_lua_counters(lua_State *L);
void ap_lua_proc(lua_State *L);
void ap_lua_io(lua_State *L);
void ap_lua_runfile(lua_State *L);
void ap_lua_catalog(lua_State *L);
void ap_lua_plan(lua_State *L);
void ap_lua_numeric(lua_State *L);

void ap_lua_sim(lua_State *L);
void ap_lua_repl(lua_State *L);

/* One sample of a group as rows of a run file:
 * index,time_ns,cpu,tag,value,enabled,running. */
struct ap_writer;
struct ap_rows {
	long long index, t, cpu;
	const int *tags;
	const uint64_t *values;
	size_t n;
	uint64_t enabled, running;
};
/* Writes them; pushes enabled, running and returns 2 (or fails). */
int ap_lua_write_rows(lua_State *L, struct ap_writer *w, const struct ap_rows *rows);

/* Reads a perf_event_attr from the table at index t: {type=, config=
 * (both required), config1=, config2=, exclude_user=, exclude_kernel=,
 * exclude_hv=, exclude_idle=}. */
struct perf_event_attr;
void ap_lua_attr(lua_State *L, int t, struct perf_event_attr *a);

/* Pushes nil, message (with strerror of -err) and errno; returns 3. */
int ap_lua_fail(lua_State *L, int err, const char *what);

/* Resource userdata: a named metatable with __gc, __close and methods. */
void ap_lua_class(lua_State *L, const char *name, const luaL_Reg *methods,
		  lua_CFunction gc);

int luaopen_autoperf_core(lua_State *L);

#endif
