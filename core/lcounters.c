#include "capacity.h"
#include "closer.h"
#include "counters.h"
#include "io.h"
#include "lcore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP "autoperf.group"
#define CLOSER "autoperf.closer"

struct lgroup {
	struct ap_group g;
	uint64_t *values; /* scratch for reads, g.n entries */
	struct ap_reading last; /* of group:snap(), for group:put() */
	int snapped;
};

static struct lgroup *check_group(lua_State *L)
{
	return luaL_checkudata(L, 1, GROUP);
}

/* core.group(pid, cpu[, manual]): an empty group counting pid (-1: all)
 * on cpu (-1: any). A per-task group starts when pid execs, or with
 * manual, only at group:enable(). core.group(cg, cpu[, manual]) counts
 * the tasks of cgroup cg (core.cgroup) on cpu, from group:enable(). */
static int l_group(lua_State *L)
{
	struct ap_lcgroup *cg = luaL_testudata(L, 1, AP_CGROUP);
	if (cg) {
		/* core.group(cg, cpu[, manual]): the tasks of cgroup cg on cpu */
		luaL_argcheck(L, cg->cg.fd >= 0, 1, "cgroup closed");
		lua_Integer cpu = luaL_checkinteger(L, 2);
		luaL_argcheck(L, cpu >= 0, 2, "a cgroup is counted on a cpu");
		int manual = lua_toboolean(L, 3);
		struct lgroup *lg = lua_newuserdatauv(L, sizeof(*lg), 0);
		memset(lg, 0, sizeof(*lg));
		ap_group_init(&lg->g, (pid_t)cg->cg.fd, (int)cpu);
		lg->g.cgroup = 1;
		lg->g.manual = manual;
		luaL_setmetatable(L, GROUP);
		return 1;
	}
	lua_Integer pid = luaL_checkinteger(L, 1);
	lua_Integer cpu = luaL_optinteger(L, 2, -1);
	luaL_argcheck(L, pid >= -1, 1, "pid must be >= -1");
	luaL_argcheck(L, cpu >= -1, 2, "cpu must be >= -1");
	luaL_argcheck(L, pid != -1 || cpu != -1, 2,
		      "counting every task needs a cpu");
	int manual = lua_toboolean(L, 3); /* before the userdata lands there */
	struct lgroup *lg = lua_newuserdatauv(L, sizeof(*lg), 0);
	memset(lg, 0, sizeof(*lg));
	ap_group_init(&lg->g, (pid_t)pid, (int)cpu);
	lg->g.manual = manual;
	luaL_setmetatable(L, GROUP);
	return 1;
}

static uint64_t field_u64(lua_State *L, int t, const char *k, int required)
{
	int type = lua_getfield(L, t, k);
	lua_Integer v = 0;
	if (type == LUA_TNUMBER && lua_isinteger(L, -1))
		v = lua_tointeger(L, -1);
	else if (type != LUA_TNIL || required)
		luaL_error(L, "attr.%s must be an integer", k);
	lua_pop(L, 1);
	return (uint64_t)v;
}

static int field_flag(lua_State *L, int t, const char *k)
{
	lua_getfield(L, t, k);
	int v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

void ap_lua_attr(lua_State *L, int t, struct perf_event_attr *a)
{
	luaL_checktype(L, t, LUA_TTABLE);
	memset(a, 0, sizeof(*a));
	a->type = (uint32_t)field_u64(L, t, "type", 1);
	a->config = field_u64(L, t, "config", 1);
	a->config1 = field_u64(L, t, "config1", 0);
	a->config2 = field_u64(L, t, "config2", 0);
	a->exclude_user = field_flag(L, t, "exclude_user");
	a->exclude_kernel = field_flag(L, t, "exclude_kernel");
	a->exclude_hv = field_flag(L, t, "exclude_hv");
	a->exclude_idle = field_flag(L, t, "exclude_idle");
}

/* group:add(attr, tag) -> true | nil, message, errno. attr: {type=,
 * config=, config1=, config2=, exclude_user=, exclude_kernel=,
 * exclude_hv=, exclude_idle=}. */
static int l_add(lua_State *L)
{
	struct lgroup *lg = check_group(L);
	struct perf_event_attr a;
	ap_lua_attr(L, 2, &a);
	lua_Integer tag = luaL_checkinteger(L, 3);
	int err = ap_group_add(&lg->g, &a, (int)tag);
	lg->snapped = 0; /* its values may move */
	if (!err) {
		uint64_t *v = realloc(lg->values, lg->g.n * sizeof(*v));
		if (!v)
			return luaL_error(L, "out of memory");
		lg->values = v;
	}
	if (err)
		return ap_lua_fail(L, -err, NULL);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_size(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)check_group(L)->g.n);
	return 1;
}

/* group:tags() -> array of the members' tags, leader first. */
static int l_tags(lua_State *L)
{
	struct lgroup *lg = check_group(L);
	lua_createtable(L, (int)lg->g.n, 0);
	for (size_t i = 0; i < lg->g.n; i++) {
		lua_pushinteger(L, lg->g.tags[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* group:read() -> enabled_ns, running_ns, {values...} */
static int l_read(lua_State *L)
{
	struct lgroup *lg = check_group(L);
	struct ap_reading r = {.values = lg->values};
	lg->snapped = 0; /* the same scratch */
	int err = ap_group_read(&lg->g, &r);
	if (err)
		return ap_lua_fail(L, -err, "read");
	lua_pushinteger(L, (lua_Integer)r.enabled);
	lua_pushinteger(L, (lua_Integer)r.running);
	lua_createtable(L, (int)lg->g.n, 0);
	for (size_t i = 0; i < lg->g.n; i++) {
		lua_pushinteger(L, (lua_Integer)r.values[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 3;
}

/* group:snap() -> true | nil, message, errno: reads the group once and
 * keeps the reading for group:put(). Reading every group before taking
 * the sample's time makes the time cover every count it stamps. */
static int l_snap(lua_State *L)
{
	struct lgroup *lg = check_group(L);
	lg->last = (struct ap_reading){.values = lg->values};
	lg->snapped = 0;
	int err = ap_group_read(&lg->g, &lg->last);
	if (err)
		return ap_lua_fail(L, -err, "read");
	lg->snapped = 1;
	lua_pushboolean(L, 1);
	return 1;
}

/* group:put(writer, index, time_ns, cpu) -> enabled, running: writes the
 * reading of the last group:snap() as one CSV row per member to writer:
 * index,time_ns,cpu,tag,value,enabled,running (raw cumulative values). */
static int l_put(lua_State *L)
{
	struct lgroup *lg = check_group(L);
	struct ap_rows rows = ap_lua_rows_args(L);
	if (!lg->snapped)
		return luaL_error(L, "group:put() without a group:snap() before it");
	rows.tags = lg->g.tags;
	rows.values = lg->last.values;
	rows.n = lg->g.n;
	rows.enabled = lg->last.enabled;
	rows.running = lg->last.running;
	lg->snapped = 0;
	return ap_lua_write_rows(L, &rows);
}

/* group:sample(writer, index, time_ns, cpu) -> enabled, running: snap and
 * put at once. */
static int l_sample(lua_State *L)
{
	lua_settop(L, 5);
	lua_pushcfunction(L, l_snap);
	lua_pushvalue(L, 1);
	lua_call(L, 1, 3);
	if (lua_isnil(L, -3))
		return 3;
	lua_settop(L, 5);
	return l_put(L);
}

static int toggle(lua_State *L, int (*fn)(struct ap_group *), const char *what)
{
	int err = fn(&check_group(L)->g);
	if (err)
		return ap_lua_fail(L, -err, what);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_enable(lua_State *L)
{
	return toggle(L, ap_group_enable, "enable");
}

static int l_disable(lua_State *L)
{
	return toggle(L, ap_group_disable, "disable");
}

/* group:close([closer]): with a closer, the descriptors are closed in the
 * closer's process (see closer.h); safe to call twice. */
static int l_group_close(lua_State *L)
{
	struct lgroup *lg = check_group(L);
	struct ap_closer *c = NULL;
	if (lua_gettop(L) >= 2 && !lua_isnil(L, 2) && lua_type(L, 2) == LUA_TUSERDATA)
		c = luaL_testudata(L, 2, CLOSER);
	if (c && lg->g.n) {
		size_t n;
		int *fds = ap_group_take_fds(&lg->g, &n);
		ap_closer_give(c, fds, n);
		free(fds);
	} else {
		ap_group_close(&lg->g);
	}
	free(lg->values);
	lg->values = NULL;
	lg->snapped = 0;
	return 0;
}

/* core.probe(attr) -> true | nil, message, errno: can this event be
 * opened here (on ourselves, disabled)? */
static int l_probe(lua_State *L)
{
	struct perf_event_attr a;
	ap_lua_attr(L, 1, &a);
	struct ap_group g;
	ap_group_init(&g, 0, -1);
	int err = ap_group_add(&g, &a, 0);
	ap_group_close(&g);
	if (err)
		return ap_lua_fail(L, -err, NULL);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.capacity(attr[, max]) -> n | nil, message, errno: the most copies
 * of attr one group holds here (see capacity.h); max defaults to 64. */
static int l_capacity(lua_State *L)
{
	struct perf_event_attr a;
	ap_lua_attr(L, 1, &a);
	lua_Integer max = luaL_optinteger(L, 2, 64);
	luaL_argcheck(L, max >= 1 && max <= AP_GROUP_MAX, 2, "max out of range");
	int n = ap_capacity(&a, (int)max);
	if (n < 0)
		return ap_lua_fail(L, -n, NULL);
	lua_pushinteger(L, n);
	return 1;
}

static int l_closer(lua_State *L)
{
	struct ap_closer *c = lua_newuserdatauv(L, sizeof(*c), 0);
	c->sock = -1;
	luaL_setmetatable(L, CLOSER);
	int err = ap_closer_start(c);
	if (err)
		return ap_lua_fail(L, -err, "closer");
	return 1;
}

static int l_closer_stop(lua_State *L)
{
	ap_closer_stop(luaL_checkudata(L, 1, CLOSER));
	return 0;
}

static const luaL_Reg group_methods[] = {
	{"add", l_add},       {"size", l_size},       {"tags", l_tags},
	{"read", l_read},     {"sample", l_sample},   {"snap", l_snap},
	{"put", l_put},       {"enable", l_enable},
	{"disable", l_disable}, {"close", l_group_close}, {NULL, NULL},
};

static const luaL_Reg closer_methods[] = {
	{"stop", l_closer_stop},
	{NULL, NULL},
};

void ap_lua_counters(lua_State *L)
{
	ap_lua_class(L, GROUP, group_methods, l_group_close);
	ap_lua_class(L, CLOSER, closer_methods, l_closer_stop);
	static const luaL_Reg funcs[] = {
		{"group", l_group},
		{"closer", l_closer},
		{"probe", l_probe},
		{"capacity", l_capacity},
		{NULL, NULL},
	};
	luaL_setfuncs(L, funcs, 0);
	lua_pushliteral(L, AP_ARCH);
	lua_setfield(L, -2, "ARCH");
	lua_pushinteger(L, AP_GROUP_MAX);
	lua_setfield(L, -2, "GROUP_MAX");
}
