/* lcore: the autoperf.core Lua module; each l*.c adds its functions
 * (lcore.c only assembles them; their shared helpers are lhelp.h). */
#ifndef AP_LCORE_H
#define AP_LCORE_H

#include "lhelp.h"
#include "lrunfile.h"

/* Each adds its functions (and metatables) to the table on top of L. */
void ap_lua_counters(lua_State *L);
void ap_lua_proc(lua_State *L);
void ap_lua_io(lua_State *L);
void ap_lua_runfile(lua_State *L);
void ap_lua_reader(lua_State *L);
void ap_lua_synth(lua_State *L);
void ap_lua_sys(lua_State *L);
void ap_lua_catalog(lua_State *L);
void ap_lua_plan(lua_State *L);
void ap_lua_numeric(lua_State *L);

void ap_lua_sim(lua_State *L);
void ap_lua_repl(lua_State *L);

/* Reads a perf_event_attr from the table at index t: {type=, config=
 * (both required), config1=, config2=, exclude_user=, exclude_kernel=,
 * exclude_hv=, exclude_idle=}. */
struct perf_event_attr;
void ap_lua_attr(lua_State *L, int t, struct perf_event_attr *a);

int luaopen_autoperf_core(lua_State *L);

#endif
