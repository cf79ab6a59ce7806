/* lsynth: core.synth_run and synth_event_name, synthetic run files
 * (core/synth.h). */
#include "lcore.h"
#include "runfile.h"
#include "synth.h"

/* core.synth_run(path, run, rep, events, intervals, cpus, seed) -> rows |
 * nil, message, errno: a synthetic run file (ap_synth_run). */
static int l_synth_run(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct ap_synth s = {
		.run = (int)luaL_checkinteger(L, 2),
		.rep = (int)luaL_checkinteger(L, 3),
		.events = (int)luaL_checkinteger(L, 4),
		.intervals = (int)luaL_checkinteger(L, 5),
		.cpus = (int)luaL_checkinteger(L, 6),
		.seed = (uint64_t)luaL_optinteger(L, 7, 1),
	};
	luaL_argcheck(L, s.events > 0 && s.events <= AP_RUN_TAG_MAX, 4, "1.. events");
	luaL_argcheck(L, s.intervals >= 0, 5, "intervals >= 0");
	luaL_argcheck(L, s.cpus > 0 && s.cpus <= AP_RUN_CPU_MAX, 6, "1.. cpus");
	long rows;
	int err = ap_synth_run(path, &s, &rows);
	if (err)
		return ap_lua_fail(L, -err, path);
	lua_pushinteger(L, rows);
	return 1;
}

/* core.synth_event_name(tag) -> the name core.synth_run gives tag. */
static int l_synth_event_name(lua_State *L)
{
	char name[64];
	ap_synth_event_name(name, sizeof(name), (int)luaL_checkinteger(L, 1));
	lua_pushstring(L, name);
	return 1;
}

const luaL_Reg ap_lua_synth_funcs[] = {
	{"synth_run", l_synth_run},
	{"synth_event_name", l_synth_event_name},
	{NULL, NULL},
};
