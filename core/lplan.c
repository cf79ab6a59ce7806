#include "lcore.h"
#include "plan.h"

#include <stdlib.h>
#include <string.h>

static lua_Integer int_field(lua_State *L, int t, const char *k, lua_Integer dflt)
{
	lua_getfield(L, t, k);
	lua_Integer v = dflt;
	if (lua_isinteger(L, -1))
		v = lua_tointeger(L, -1);
	else if (lua_toboolean(L, -1) && lua_type(L, -1) == LUA_TBOOLEAN)
		v = 1;
	else if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TBOOLEAN)
		luaL_error(L, "field '%s' must be an integer", k);
	lua_pop(L, 1);
	return v;
}

/* Reads {{counters=, unlimited=, shared={n1, ...}}, ...} into a userdata
 * array left on the stack: shared[r] is how many values the PMU's shared
 * resource r holds at a time (which resources exist is the PMU models'
 * knowledge, lua/autoperf/pmu). */
static struct ap_plan_pmu *read_pmus(lua_State *L, int t, int *n)
{
	luaL_checktype(L, t, LUA_TTABLE);
	*n = (int)luaL_len(L, t);
	struct ap_plan_pmu *p = lua_newuserdatauv(L, (size_t)(*n ? *n : 1) * sizeof(*p), 0);
	for (int i = 0; i < *n; i++) {
		lua_rawgeti(L, t, i + 1);
		luaL_checktype(L, -1, LUA_TTABLE);
		int e = lua_gettop(L);
		p[i].counters = (uint64_t)int_field(L, e, "counters", 0);
		p[i].unlimited = (int)int_field(L, e, "unlimited", 0);
		p[i].nshared = 0;
		if (lua_getfield(L, e, "shared") != LUA_TNIL) {
			luaL_checktype(L, -1, LUA_TTABLE);
			lua_Integer ns = luaL_len(L, -1);
			if (ns > AP_PLAN_SHARED_MAX)
				luaL_error(L, "pmu %d: at most %d shared resources", i + 1, AP_PLAN_SHARED_MAX);
			for (lua_Integer r = 1; r <= ns; r++) {
				lua_rawgeti(L, -1, r);
				lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
				if (v < 1)
					luaL_error(L, "pmu %d: shared[%d] must be a positive integer", i + 1, (int)r);
				p[i].shared[r - 1] = (int)v;
				lua_pop(L, 1);
			}
			p[i].nshared = (int)ns;
		}
		lua_pop(L, 2);
	}
	return p;
}

/* Reads {{pmu=, allowed=, shared=r, shared_value=, isolated=, group=,
 * pair=, lead=, needs=}, ...} (shared: 1-based index into the PMU's
 * shared resources; pair: takes an even counter and the odd one beside
 * it; lead, needs: leader classes, see plan.h). */
static struct ap_plan_event *read_events(lua_State *L, int t, const struct ap_plan_pmu *pmus,
					 int npmus, int *n)
{
	luaL_checktype(L, t, LUA_TTABLE);
	*n = (int)luaL_len(L, t);
	struct ap_plan_event *ev = lua_newuserdatauv(L, (size_t)(*n ? *n : 1) * sizeof(*ev), 0);
	for (int i = 0; i < *n; i++) {
		lua_rawgeti(L, t, i + 1);
		luaL_checktype(L, -1, LUA_TTABLE);
		int e = lua_gettop(L);
		memset(&ev[i], 0, sizeof(ev[i]));
		lua_Integer pmu = int_field(L, e, "pmu", 0);
		if (pmu < 1 || pmu > npmus)
			luaL_error(L, "event %d: pmu must be 1..%d", i + 1, npmus);
		ev[i].pmu = (int)pmu - 1;
		ev[i].allowed = (uint64_t)int_field(L, e, "allowed", 0);
		lua_Integer shared = int_field(L, e, "shared", 0);
		if (shared < 0 || shared > pmus[pmu - 1].nshared)
			luaL_error(L, "event %d: shared must be 1..%d (its PMU's shared resources)", i + 1,
				   pmus[pmu - 1].nshared);
		ev[i].shared = (int)shared - 1;
		ev[i].shared_value = (uint64_t)int_field(L, e, "shared_value", 0);
		ev[i].isolated = (int)int_field(L, e, "isolated", 0);
		ev[i].group = (int)int_field(L, e, "group", 0);
		ev[i].pair = int_field(L, e, "pair", 0) != 0;
		ev[i].lead = (int)int_field(L, e, "lead", 0);
		ev[i].needs = (int)int_field(L, e, "needs", 0);
		ev[i].run = (int)int_field(L, e, "run", 1) - 1;
		ev[i].counter = (int)int_field(L, e, "counter", -1);
		lua_pop(L, 1);
	}
	return ev;
}

/* core.plan(pmus, events[, "first-fit"]) -> nruns, {{run=, counter=}...}
 * | nil, message, index of the event that can never be counted. Runs are
 * 1-based; counter is the bit index (generic i, fixed 32 + i) or -1. */
static int l_plan(lua_State *L)
{
	int np, ne;
	lua_settop(L, 3); /* the arrays below go above the arguments */
	struct ap_plan_pmu *pmus = read_pmus(L, 1, &np);
	struct ap_plan_event *evs = read_events(L, 2, pmus, np, &ne);
	static const char *const strategies[] = {"pack", "first-fit", NULL};
	int strategy = luaL_checkoption(L, 3, "pack", strategies);
	int bad;
	int runs = ap_plan(pmus, np, evs, ne, strategy ? AP_FIRST_FIT : AP_PACK, &bad);
	if (runs < 0) {
		lua_pushnil(L);
		if (bad >= 0)
			lua_pushfstring(L, "event %d fits no run (no allowed counter, its group is too big, "
					"or it needs a leader its group lacks)", bad + 1);
		else
			lua_pushliteral(L, "out of memory");
		lua_pushinteger(L, bad + 1);
		return 3;
	}
	lua_pushinteger(L, runs);
	lua_createtable(L, ne, 0);
	for (int i = 0; i < ne; i++) {
		lua_createtable(L, 0, 2);
		lua_pushinteger(L, evs[i].run + 1);
		lua_setfield(L, -2, "run");
		lua_pushinteger(L, evs[i].counter);
		lua_setfield(L, -2, "counter");
		lua_rawseti(L, -2, i + 1);
	}
	return 2;
}

/* core.plan_lower_bound(pmus, events) -> n */
static int l_lower_bound(lua_State *L)
{
	int np, ne;
	struct ap_plan_pmu *pmus = read_pmus(L, 1, &np);
	struct ap_plan_event *evs = read_events(L, 2, pmus, np, &ne);
	lua_pushinteger(L, ap_plan_lower_bound(pmus, np, evs, ne));
	return 1;
}

/* core.plan_check(pmus, events with run=) -> true | false, bad index */
static int l_check(lua_State *L)
{
	int np, ne, bad;
	struct ap_plan_pmu *pmus = read_pmus(L, 1, &np);
	struct ap_plan_event *evs = read_events(L, 2, pmus, np, &ne);
	int ok = ap_plan_check(pmus, np, evs, ne, &bad);
	lua_pushboolean(L, ok);
	if (ok)
		return 1;
	lua_pushinteger(L, bad + 1);
	return 2;
}

static const luaL_Reg funcs[] = {
	{"plan", l_plan},
	{"plan_lower_bound", l_lower_bound},
	{"plan_check", l_check},
	{NULL, NULL},
};

void ap_lua_plan(lua_State *L)
{
	luaL_setfuncs(L, funcs, 0);
	lua_pushinteger(L, AP_FIXED_SHIFT);
	lua_setfield(L, -2, "FIXED_SHIFT");
}
