/* Lua binding of the simulated PMU (sim.h): core.sim_pmu{...} and its
 * groups, with the methods of core.group. */
#include "io.h"
#include "lcore.h"
#include "sim.h"

#include <errno.h>
#include <string.h>

#define SIMPMU "autoperf.simpmu"
#define SIMGROUP "autoperf.simgroup"

static uint64_t opt_u64(lua_State *L, int t, const char *k, uint64_t dflt)
{
	int type = lua_getfield(L, t, k);
	uint64_t v = dflt;
	if (type == LUA_TNUMBER && lua_isinteger(L, -1))
		v = (uint64_t)lua_tointeger(L, -1);
	else if (type != LUA_TNIL)
		luaL_error(L, "%s must be an integer", k);
	lua_pop(L, 1);
	return v;
}

/* core.sim_pmu{counters=MASK[, shared={n1, ...}][, uncore=true][, cpus={0,
 * 2, ...}]}: a simulated PMU with these counters (generic bits 0-31,
 * fixed bits 32-63) and shared resources (resource r holds n_r values at
 * a time; the PMU models in lua/autoperf/pmu say which exist); uncore: a
 * box of an uncore unit, which refuses per-task groups; cpus: counting
 * only on these CPUs (a hybrid half's mask; see sim.h). */
static int l_sim_pmu(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	struct ap_sim_model m = {.counters = opt_u64(L, 1, "counters", 0)};
	luaL_argcheck(L, m.counters != 0, 1, "counters must name at least one counter");
	if (lua_getfield(L, 1, "shared") != LUA_TNIL) {
		luaL_argcheck(L, lua_istable(L, -1), 1, "shared must be a list of register counts");
		lua_Integer n = luaL_len(L, -1);
		luaL_argcheck(L, n <= AP_SIM_SHARED_MAX, 1, "too many shared resources");
		for (lua_Integer r = 1; r <= n; r++) {
			lua_rawgeti(L, -1, r);
			lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
			luaL_argcheck(L, v >= 1 && v <= AP_SIM_SHARED_VALUES, 1,
				      "shared registers per resource must be 1..8");
			m.regs[r - 1] = (int)v;
			lua_pop(L, 1);
		}
		m.nshared = (int)n;
	}
	lua_pop(L, 1);
	lua_getfield(L, 1, "uncore");
	m.uncore = lua_toboolean(L, -1);
	lua_pop(L, 1);
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	int masked = lua_getfield(L, 1, "cpus") != LUA_TNIL;
	if (masked) {
		luaL_argcheck(L, lua_istable(L, -1), 1, "cpus must be a list of CPU numbers");
		lua_Integer n = luaL_len(L, -1);
		luaL_argcheck(L, n >= 1 && n <= CPU_SETSIZE, 1, "cpus must name 1 to CPU_SETSIZE CPUs");
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, -1, i);
			lua_Integer c = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
			luaL_argcheck(L, c >= 0 && c < CPU_SETSIZE, 1, "cpus: no such CPU");
			CPU_SET((int)c, &cpus);
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	struct ap_sim_pmu *p = lua_newuserdatauv(L, sizeof(*p), 0);
	memset(p, 0, sizeof(*p));
	p->model = m;
	p->masked = masked;
	p->cpus = cpus;
	luaL_setmetatable(L, SIMPMU);
	return 1;
}

static int l_sim_pmu_free(lua_State *L)
{
	ap_sim_pmu_free(luaL_checkudata(L, 1, SIMPMU));
	return 0;
}

/* pmu:group(pid, cpu[, manual]) -> group | nil, msg, errno: like
 * core.group, its hardware members simulated. */
static int l_sim_group(lua_State *L)
{
	struct ap_sim_pmu *p = luaL_checkudata(L, 1, SIMPMU);
	lua_Integer pid = luaL_checkinteger(L, 2);
	lua_Integer cpu = luaL_optinteger(L, 3, -1);
	luaL_argcheck(L, pid >= -1, 2, "pid must be >= -1");
	luaL_argcheck(L, cpu >= -1, 3, "cpu must be >= -1");
	luaL_argcheck(L, pid != -1 || cpu != -1, 3, "counting every task needs a cpu");
	int manual = lua_toboolean(L, 4); /* before the userdata lands there */
	struct ap_sim_group *g = lua_newuserdatauv(L, sizeof(*g), 1);
	memset(g, 0, sizeof(*g));
	g->clock.n = 0;
	luaL_setmetatable(L, SIMGROUP);
	int err = ap_sim_group_open(g, p, (pid_t)pid, (int)cpu, manual);
	if (err)
		return ap_lua_fail(L, -err, "simulated group");
	lua_pushvalue(L, 1); /* the PMU lives as long as its groups */
	lua_setiuservalue(L, -2, 1);
	return 1;
}

static struct ap_sim_group *check(lua_State *L)
{
	return luaL_checkudata(L, 1, SIMGROUP);
}

/* group:add(attr, tag, facts) -> true | nil, msg, errno. facts: {allowed=
 * counter mask, shared=r (1-based index of a shared resource of the PMU),
 * alone=bool, pair=bool: an even counter and the odd one beside it,
 * lead=k, needs=k: leader classes, refuse=reason: refused in any group,
 * share_num=, share_den=: its value a share of the first member's (see
 * sim.h), rate=: its synthetic rate instead of the encoding's}; the shared register's value is attr.config1; attr.sample_period
 * makes it a sampling event (which the needs rule refuses). */
static int l_add(lua_State *L)
{
	struct ap_sim_group *g = check(L);
	struct perf_event_attr a;
	ap_lua_attr(L, 2, &a);
	int tag = (int)luaL_checkinteger(L, 3);
	luaL_checktype(L, 4, LUA_TTABLE);
	struct ap_sim_event ev = {
		.allowed = opt_u64(L, 4, "allowed", 0),
		.value = a.config1,
		.rate = ap_sim_rate(&a),
	};
	uint64_t shared = opt_u64(L, 4, "shared", 0);
	/* (a closed group refuses any member with EBADF below) */
	luaL_argcheck(L, !g->pmu || shared <= (uint64_t)g->pmu->model.nshared, 4,
		      "shared is not a resource of this PMU");
	ev.shared = (int)shared - 1;
	lua_getfield(L, 4, "alone");
	ev.alone = lua_toboolean(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, 4, "pair");
	ev.pair = lua_toboolean(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, 4, "refuse");
	ev.refuse = lua_toboolean(L, -1);
	lua_pop(L, 1);
	ev.lead = (int)opt_u64(L, 4, "lead", 0);
	ev.needs = (int)opt_u64(L, 4, "needs", 0);
	ev.share_num = opt_u64(L, 4, "share_num", 0);
	ev.share_den = opt_u64(L, 4, "share_den", 0);
	/* the model's own rate for it, where it gives one */
	uint64_t rate = opt_u64(L, 4, "rate", 0);
	if (rate)
		ev.rate = rate;
	/* a sampling event: the attr's sample_period (core.group counts only) */
	ev.sampling = opt_u64(L, 2, "sample_period", 0) != 0;
	int err = ap_sim_group_add(g, &ev, tag);
	if (err)
		return ap_lua_fail(L, -err, NULL);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_size(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)check(L)->n);
	return 1;
}

static int l_tags(lua_State *L)
{
	struct ap_sim_group *g = check(L);
	lua_createtable(L, (int)g->n, 0);
	for (size_t i = 0; i < g->n; i++) {
		lua_pushinteger(L, g->tags[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static int l_read(lua_State *L)
{
	struct ap_sim_group *g = check(L);
	uint64_t values[AP_SIM_MAX_EVENTS];
	struct ap_reading r = {.values = values};
	int err = ap_sim_group_read(g, &r);
	if (err)
		return ap_lua_fail(L, -err, "read");
	lua_pushinteger(L, (lua_Integer)r.enabled);
	lua_pushinteger(L, (lua_Integer)r.running);
	lua_createtable(L, (int)g->n, 0);
	for (size_t i = 0; i < g->n; i++) {
		lua_pushinteger(L, (lua_Integer)values[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 3;
}

static int l_sample(lua_State *L)
{
	struct ap_sim_group *g = check(L);
	struct ap_rows rows = ap_lua_rows_args(L);
	uint64_t values[AP_SIM_MAX_EVENTS];
	struct ap_reading r = {.values = values};
	int err = ap_sim_group_read(g, &r);
	if (err)
		return ap_lua_fail(L, -err, "read");
	rows.tags = g->tags;
	rows.values = values;
	rows.n = g->n;
	rows.enabled = r.enabled;
	rows.running = r.running;
	return ap_lua_write_rows(L, &rows);
}

static int toggle(lua_State *L, int on)
{
	struct ap_sim_group *g = check(L);
	int err = ap_sim_group_enable(g, on);
	if (err)
		return ap_lua_fail(L, -err, on ? "enable" : "disable");
	lua_pushboolean(L, 1);
	return 1;
}

static int l_enable(lua_State *L)
{
	return toggle(L, 1);
}

static int l_disable(lua_State *L)
{
	return toggle(L, 0);
}

/* group:close([closer]): its one real descriptor is a software clock,
 * cheap to close here. */
static int l_close(lua_State *L)
{
	ap_sim_group_close(check(L));
	return 0;
}

static const luaL_Reg pmu_methods[] = {
	{"group", l_sim_group},
	{NULL, NULL},
};

static const luaL_Reg group_methods[] = {
	{"add", l_add},       {"size", l_size},       {"tags", l_tags},
	{"read", l_read},     {"sample", l_sample},   {"enable", l_enable},
	{"disable", l_disable}, {"close", l_close},   {NULL, NULL},
};

void ap_lua_sim(lua_State *L)
{
	ap_lua_class(L, SIMPMU, pmu_methods, l_sim_pmu_free);
	ap_lua_class(L, SIMGROUP, group_methods, l_close);
	lua_pushcfunction(L, l_sim_pmu);
	lua_setfield(L, -2, "sim_pmu");
}
