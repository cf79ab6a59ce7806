#include "aggregate.h"
#include "io.h"
#include "lcore.h"
#include "runfile.h"
#include "synth.h"

#include <string.h>

/* Failure of ap_run_parse or ap_aggregate_run: nil, message[, errno]. */
static int run_fail(lua_State *L, int ret, const char *err)
{
	lua_pushnil(L);
	lua_pushstring(L, err);
	if (ret >= 0)
		return 2;
	lua_pushinteger(L, -ret);
	return 3;
}

/* core.read_run's visitor: calls the Lua functions at stack slots 2 and 3
 * under pcall, so that an error they raise unwinds through the parser only
 * after it has closed the file; the error is raised again afterwards. */
struct lvisit {
	lua_State *L;
	int raised;
};

static int call(struct lvisit *lv, int nargs)
{
	if (lua_pcall(lv->L, nargs, 0, 0) != LUA_OK) {
		lv->raised = 1; /* the error object stays on top */
		return 1;
	}
	return 0;
}

static int lon_event(void *ctx, int tag, const char *unit, const char *name)
{
	struct lvisit *lv = ctx;
	lua_State *L = lv->L;
	lua_pushvalue(L, 2);
	lua_pushinteger(L, tag);
	lua_pushstring(L, unit);
	lua_pushstring(L, name);
	return call(lv, 3);
}

static int lon_row(void *ctx, const struct ap_run_row *r)
{
	struct lvisit *lv = ctx;
	lua_State *L = lv->L;
	lua_pushvalue(L, 3);
	lua_pushinteger(L, r->index);
	lua_pushinteger(L, r->time_ns);
	lua_pushinteger(L, r->cpu);
	lua_pushinteger(L, r->tag);
	lua_pushinteger(L, (lua_Integer)r->value);
	lua_pushinteger(L, (lua_Integer)r->enabled);
	lua_pushinteger(L, (lua_Integer)r->running);
	return call(lv, 7);
}

/* core.read_run(path, on_event, on_row) -> rows | nil, "path:line: what"
 * [, errno]: on_event(tag, unit, name) per declaration, on_row(index,
 * time_ns, cpu, tag, value, enabled, running) per row, as ap_run_parse. */
static int l_read_run(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	luaL_checktype(L, 3, LUA_TFUNCTION);
	lua_settop(L, 3);
	struct lvisit lv = {L, 0};
	const struct ap_run_visitor v = {lon_event, lon_row, &lv};
	char err[512];
	long rows = 0;
	int ret = ap_run_parse(path, &v, &rows, err, sizeof(err));
	if (lv.raised)
		return lua_error(L);
	if (ret)
		return run_fail(L, ret, err);
	lua_pushinteger(L, rows);
	return 1;
}

static lua_Integer int_field(lua_State *L, int t, const char *k, lua_Integer cpu)
{
	lua_getfield(L, t, k);
	int ok;
	lua_Integer v = lua_tointegerx(L, -1, &ok);
	if (!ok)
		luaL_error(L, "topo[%d].%s: an integer expected", (int)cpu, k);
	lua_pop(L, 1);
	return v;
}

/* opts.topo {[cpu] = {socket=, core=, node=}} as an array in a userdata
 * (collected with it, even when a bad entry raises). */
static struct ap_cpu_topo *topo_of(lua_State *L, int opts, size_t *n)
{
	*n = 0;
	if (lua_getfield(L, opts, "topo") != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_pushnil(L); /* keeps the stack shape */
		return NULL;
	}
	int t = lua_gettop(L);
	lua_Integer max = -1;
	lua_pushnil(L);
	while (lua_next(L, t)) {
		int ok;
		lua_Integer cpu = lua_tointegerx(L, -2, &ok);
		if (ok && cpu >= 0 && cpu <= AP_RUN_CPU_MAX && cpu > max)
			max = cpu;
		lua_pop(L, 1);
	}
	*n = (size_t)(max + 1);
	struct ap_cpu_topo *topo = lua_newuserdatauv(L, *n * sizeof(*topo) + 1, 0);
	memset(topo, 0, *n * sizeof(*topo));
	lua_pushnil(L);
	while (lua_next(L, t)) {
		int ok;
		lua_Integer cpu = lua_tointegerx(L, -2, &ok);
		if (ok && cpu >= 0 && cpu <= AP_RUN_CPU_MAX && lua_istable(L, -1)) {
			int e = lua_gettop(L);
			topo[cpu] = (struct ap_cpu_topo){
				.known = 1,
				.socket = int_field(L, e, "socket", cpu),
				.core = int_field(L, e, "core", cpu),
				.node = int_field(L, e, "node", cpu),
			};
		}
		lua_pop(L, 1);
	}
	lua_remove(L, t);
	return topo;
}

/* opts.skip {[name] = true} as an array of names (the strings stay alive
 * in opts). */
static const char **skip_of(lua_State *L, int opts, size_t *n)
{
	*n = 0;
	if (lua_getfield(L, opts, "skip") != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_pushnil(L);
		return NULL;
	}
	int t = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, t)) {
		if (lua_type(L, -2) == LUA_TSTRING && lua_toboolean(L, -1))
			(*n)++;
		lua_pop(L, 1);
	}
	const char **names = lua_newuserdatauv(L, *n * sizeof(*names) + 1, 0);
	size_t i = 0;
	lua_pushnil(L);
	while (lua_next(L, t)) {
		if (lua_type(L, -2) == LUA_TSTRING && lua_toboolean(L, -1))
			names[i++] = lua_tostring(L, -2);
		lua_pop(L, 1);
	}
	lua_remove(L, t);
	return names;
}

static lua_Integer opt_int(lua_State *L, int opts, const char *k)
{
	lua_getfield(L, opts, k);
	int ok;
	lua_Integer v = lua_tointegerx(L, -1, &ok);
	if (!ok && !lua_isnil(L, -1))
		luaL_error(L, "%s: an integer expected", k);
	lua_pop(L, 1);
	return ok ? v : 0;
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

/* core.aggregate_run(path, writer[, {skip = {[name] = true}, topo =
 * {[cpu] = {socket=, core=, node=}}, index_offset =, time_offset =}])
 * -> {events = {{tag=, name=, unit=[, total=, enabled=, running=]}, ...},
 *     max_index=, max_time=, rows=} | nil, message[, errno]
 * Appends path's results.csv rows to writer (ap_aggregate_run); events
 * without rows have no total. On failure abort the writer. */
static int l_aggregate_run(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct ap_writer *w = luaL_checkudata(L, 2, "autoperf.writer");
	if (lua_isnoneornil(L, 3)) {
		lua_settop(L, 2);
		lua_newtable(L);
	}
	luaL_checktype(L, 3, LUA_TTABLE);
	lua_settop(L, 3);
	struct ap_agg_opts o = {0};
	o.topo = topo_of(L, 3, &o.ntopo);
	o.skip = skip_of(L, 3, &o.nskip);
	o.index_offset = opt_int(L, 3, "index_offset");
	o.time_offset = opt_int(L, 3, "time_offset");

	struct ap_agg_result res;
	char err[512];
	int ret = ap_aggregate_run(path, w, &o, &res, err, sizeof(err));
	if (ret)
		return run_fail(L, ret, err);
	lua_createtable(L, 0, 4);
	lua_createtable(L, (int)res.nevents, 0);
	for (size_t i = 0; i < res.nevents; i++) {
		const struct ap_agg_event *e = &res.events[i];
		lua_createtable(L, 0, 6);
		set_int(L, "tag", e->tag);
		lua_pushstring(L, e->name);
		lua_setfield(L, -2, "name");
		lua_pushstring(L, e->unit);
		lua_setfield(L, -2, "unit");
		if (e->has_rows) {
			set_int(L, "total", (lua_Integer)e->total);
			set_int(L, "enabled", (lua_Integer)e->enabled);
			set_int(L, "running", (lua_Integer)e->running);
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "events");
	set_int(L, "max_index", res.max_index);
	set_int(L, "max_time", res.max_time);
	set_int(L, "rows", res.rows);
	ap_agg_result_free(&res);
	return 1;
}

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

static const luaL_Reg funcs[] = {
	{"read_run", l_read_run},
	{"aggregate_run", l_aggregate_run},
	{"synth_run", l_synth_run},
	{NULL, NULL},
};

void ap_lua_runfile(lua_State *L)
{
	luaL_setfuncs(L, funcs, 0);
}
