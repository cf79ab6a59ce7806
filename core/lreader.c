/* lreader: the profile reader (core/reader.h) for Lua: core.aggregate
 * (the results.csv sink and the summary's numbers), core.aggregate_run
 * (one file of it) and core.read_profile (ap.read's tables, a sink that
 * builds them as the rows arrive). */
#include "aggregate.h"
#include "io.h"
#include "lcore.h"
#include "reader.h"
#include "runfile.h"
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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


/* A run file's skip set as names (skip_of) for ap_read_file.skip. */
struct names {
	const char **s;
	size_t n;
};

static int skip_named(const char *name, void *ctx)
{
	const struct names *k = ctx;
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->s[i], name) == 0)
			return 1;
	return 0;
}

/* files {{path=, run=, rep=, skip={[name]=true}}, ...} at index t as an
 * array in a userdata (its names in more userdata, all kept on the stack
 * in a table pushed below it). */
static struct ap_read_file *files_of(lua_State *L, int t, size_t *n)
{
	luaL_checktype(L, t, LUA_TTABLE);
	*n = (size_t)luaL_len(L, t);
	lua_newtable(L); /* keeps the skip arrays */
	int keep = lua_gettop(L);
	struct ap_read_file *f = lua_newuserdatauv(L, *n * sizeof(*f) + 1, 0);
	struct names *k = lua_newuserdatauv(L, *n * sizeof(*k) + 1, 0);
	lua_rawseti(L, keep, 0);
	for (size_t i = 0; i < *n; i++) {
		lua_geti(L, t, (lua_Integer)i + 1);
		int e = lua_gettop(L);
		luaL_argcheck(L, lua_istable(L, e), t, "{path=, run=, rep=[, skip=]} expected");
		lua_getfield(L, e, "path");
		const char *path = lua_tostring(L, -1);
		if (!path)
			luaL_error(L, "files[%d].path: a string expected", (int)i + 1);
		lua_rawseti(L, keep, -(lua_Integer)i - 1); /* path stays alive */
		f[i] = (struct ap_read_file){
			.path = path,
			.run = (int)opt_int(L, e, "run"),
			.rep = (int)opt_int(L, e, "rep"),
			.skip = skip_named,
			.skip_ctx = &k[i],
		};
		k[i].s = skip_of(L, e, &k[i].n);
		lua_rawseti(L, keep, (lua_Integer)i + 1);
		lua_pop(L, 1);
	}
	return f;
}

static void push_stat(lua_State *L, const struct ap_read_stat *st)
{
	lua_createtable(L, 0, 8);
	lua_pushstring(L, st->name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, st->unit);
	lua_setfield(L, -2, "unit");
	set_int(L, "reps", (lua_Integer)st->reps);
	set_int(L, "enabled", (lua_Integer)st->enabled);
	set_int(L, "running", (lua_Integer)st->running);
	if (st->reps) {
		set_int(L, "total", (lua_Integer)st->sum);
		set_int(L, "min", (lua_Integer)st->min);
		set_int(L, "max", (lua_Integer)st->max);
	}
}

/* The summary's numbers: the profile's events, kept as a Lua array. */
struct lstats {
	lua_State *L;
};

static int stats_end(void *ctx, const struct ap_read_stat *st, size_t n)
{
	lua_State *L = ((struct lstats *)ctx)->L;
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		push_stat(L, &st[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 0;
}

/* One file's events as aggregate_run returned them. */
static int file_events_end(void *ctx, const struct ap_read_event *ev, size_t n)
{
	lua_State *L = ((struct lstats *)ctx)->L;
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		const struct ap_read_event *e = &ev[i];
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
	return 0;
}

/* The options table at i (an empty one when none), the stack's top. */
static void options(lua_State *L, int i)
{
	if (lua_isnoneornil(L, i)) {
		lua_settop(L, i - 1);
		lua_newtable(L);
	}
	luaL_checktype(L, i, LUA_TTABLE);
	lua_settop(L, i);
}

/* The results.csv sink over files (with extra sinks first); pushes the
 * results table or fails. */
static int aggregate(lua_State *L, const struct ap_read_file *files, size_t nfiles,
		     struct ap_writer *w, int opts, int per_file)
{
	struct ap_results_opts o = {.w = w};
	o.topo = topo_of(L, opts, &o.ntopo);
	o.index_offset = opt_int(L, opts, "index_offset");
	o.time_offset = opt_int(L, opts, "time_offset");
	char err[512];
	struct ap_results_sink *rs;
	int ret = ap_results_sink_new(&rs, &o, err, sizeof(err));
	if (ret)
		return ap_lua_fail_msg(L, ret, err);
	int top = lua_gettop(L);
	struct lstats ls = {L};
	struct ap_sink sinks[2] = {
		ap_results_sink(rs),
		{.on_profile_end = per_file ? NULL : stats_end,
		 .on_file_end = per_file ? file_events_end : NULL, .ctx = &ls},
	};
	ret = ap_read_profile(files, nfiles, sinks, 2, err, sizeof(err));
	int fret = ap_results_sink_finish(rs);
	if (!ret)
		ret = fret;
	long rows;
	int64_t max_index, max_time;
	ap_results_sink_counts(rs, &rows, &max_index, &max_time);
	ap_results_sink_free(rs);
	if (ret) {
		lua_settop(L, top);
		return ap_lua_fail_msg(L, ret, err);
	}
	lua_createtable(L, 0, 4);
	lua_insert(L, -2);
	lua_setfield(L, -2, "events");
	set_int(L, "rows", rows);
	set_int(L, "max_index", max_index);
	set_int(L, "max_time", max_time);
	return 1;
}

/* core.aggregate(files, writer[, {topo = {[cpu] = {socket=, core=,
 * node=}}}]) -> {events = {{name=, unit=, reps=, enabled=, running=[,
 * total=, min=, max=]}, ...}, rows=} | nil, message[, errno]
 * Reads files ({{path=, run=, rep=, skip = {[name] = true}}, ...}, in
 * that order) with the profile reader, appending their results.csv rows
 * to writer; events are the profile's, with their totals over the
 * repetitions (total the sum) for a summary. On failure abort the writer. */
static int l_aggregate(lua_State *L)
{
	struct ap_writer *w = luaL_checkudata(L, 2, "autoperf.writer");
	options(L, 3);
	size_t n;
	const struct ap_read_file *files = files_of(L, 1, &n);
	return aggregate(L, files, n, w, 3, 0);
}

/* core.aggregate_run(path, writer[, {skip = {[name] = true}, topo =
 * {[cpu] = {socket=, core=, node=}}, index_offset =, time_offset =}])
 * -> {events = {{tag=, name=, unit=[, total=, enabled=, running=]}, ...},
 *     max_index=, max_time=, rows=} | nil, message[, errno]
 * One run file as core.aggregate reads it, its rows shifted by the
 * offsets; events are the file's, without a total when they had no rows. */
static int l_aggregate_run(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct ap_writer *w = luaL_checkudata(L, 2, "autoperf.writer");
	options(L, 3);
	struct names k;
	k.s = skip_of(L, 3, &k.n);
	const struct ap_read_file f = {.path = path, .run = 1, .rep = 1, .skip = skip_named, .skip_ctx = &k};
	return aggregate(L, &f, 1, w, 3, 1);
}

/*
 * ap.read's sink: per file, its events as Lua tables, per-interval points
 * built as the rows arrive. Stack slots while reading (see l_read_profile):
 * WANT the predicate or nil, OUT the array of files; per file FILE its
 * table, EVS its events array, BYEV {[ev + 1] = event}, SER {[ev + 1] =
 * points}, CPUS {[ev + 1] = {[cpu] = points}}.
 */
enum { WANT = 5, OUT, FILE_, EVS, BYEV, SER, CPUS };

/* An event's last point: its index and value, and how many points it has
 * (0: none yet in this file). */
struct lpoint {
	int64_t index;
	lua_Integer n, value;
};

struct lread {
	lua_State *L;
	int per_cpu;
	int raised; /* the predicate raised: its error is on the stack top */
	/* per profile event, in the file being read */
	struct lpoint *at;
	size_t cap;
};

static int lr_file(void *ctx, const struct ap_read_file *f, size_t i)
{
	struct lread *r = ctx;
	lua_State *L = r->L;
	(void)f;
	lua_settop(L, OUT);
	lua_createtable(L, 0, 1);
	lua_pushvalue(L, -1);
	lua_rawseti(L, OUT, (lua_Integer)i + 1);
	lua_newtable(L);
	lua_pushvalue(L, -1);
	lua_setfield(L, FILE_, "events");
	lua_newtable(L);
	lua_newtable(L);
	lua_newtable(L);
	if (r->cap)
		memset(r->at, 0, r->cap * sizeof(*r->at));
	return 0;
}

static int lr_event(void *ctx, const struct ap_read_event *e)
{
	struct lread *r = ctx;
	lua_State *L = r->L;
	if (!lua_isnil(L, WANT)) {
		lua_pushvalue(L, WANT);
		lua_pushstring(L, e->name);
		if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
			r->raised = 1;
			return -EINVAL;
		}
		int want = lua_toboolean(L, -1);
		lua_pop(L, 1);
		if (!want)
			return AP_SINK_SKIP;
	}
	struct lpoint *at = ap_zgrown(r->at, &r->cap, e->ev, sizeof(*at));
	if (!at)
		return -ENOMEM;
	r->at = at;
	lua_createtable(L, 0, 6);
	lua_pushstring(L, e->name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, e->unit);
	lua_setfield(L, -2, "unit");
	lua_pushvalue(L, -1);
	lua_rawseti(L, BYEV, (lua_Integer)e->ev + 1);
	lua_rawseti(L, EVS, (lua_Integer)luaL_len(L, EVS) + 1);
	return 0;
}

static void push_point(lua_State *L, int64_t index, int64_t t, lua_Integer v)
{
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, index);
	lua_setfield(L, -2, "index");
	lua_pushnumber(L, (lua_Number)t / 1e9);
	lua_setfield(L, -2, "time");
	lua_pushinteger(L, v);
	lua_setfield(L, -2, "value");
}

static int lr_row(void *ctx, const struct ap_read_row *row)
{
	struct lread *r = ctx;
	lua_State *L = r->L;
	const size_t ev = row->e->ev;
	const lua_Integer d = (lua_Integer)row->delta;
	if (lua_rawgeti(L, SER, (lua_Integer)ev + 1) == LUA_TNIL) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_rawseti(L, SER, (lua_Integer)ev + 1);
	}
	struct lpoint *at = &r->at[ev];
	if (at->n && at->index == row->index) {
		/* the same interval on another cpu: Lua integers wrap as these do */
		at->value = (lua_Integer)((uint64_t)at->value + (uint64_t)d);
		lua_rawgeti(L, -1, at->n);
		lua_pushinteger(L, at->value);
		lua_setfield(L, -2, "value");
		lua_pop(L, 1);
	} else {
		*at = (struct lpoint){row->index, at->n + 1, d};
		push_point(L, row->index, row->time_ns, d);
		lua_rawseti(L, -2, at->n);
	}
	lua_pop(L, 1);
	if (r->per_cpu) {
		if (lua_rawgeti(L, CPUS, (lua_Integer)ev + 1) == LUA_TNIL) {
			lua_pop(L, 1);
			lua_newtable(L);
			lua_pushvalue(L, -1);
			lua_rawseti(L, CPUS, (lua_Integer)ev + 1);
		}
		if (lua_rawgeti(L, -1, row->cpu) == LUA_TNIL) {
			lua_pop(L, 1);
			lua_newtable(L);
			lua_pushvalue(L, -1);
			lua_rawseti(L, -3, row->cpu);
		}
		push_point(L, row->index, row->time_ns, d);
		lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
		lua_pop(L, 2);
	}
	return 0;
}

static int lr_file_end(void *ctx, const struct ap_read_event *ev, size_t n)
{
	struct lread *r = ctx;
	lua_State *L = r->L;
	for (size_t i = 0; i < n; i++) {
		const struct ap_read_event *e = &ev[i];
		if (!e->has_rows || lua_rawgeti(L, BYEV, (lua_Integer)e->ev + 1) != LUA_TTABLE) {
			if (e->has_rows)
				lua_pop(L, 1);
			continue;
		}
		set_int(L, "total", (lua_Integer)e->total);
		lua_pushboolean(L, e->flagged);
		lua_setfield(L, -2, "flagged");
		lua_rawgeti(L, SER, (lua_Integer)e->ev + 1);
		lua_setfield(L, -2, "series");
		if (r->per_cpu) {
			lua_rawgeti(L, CPUS, (lua_Integer)e->ev + 1);
			lua_setfield(L, -2, "cpu_series");
		}
		lua_pop(L, 1);
	}
	return 0;
}

/* core.read_profile(files[, {per_cpu = bool, want = function(name)}]) ->
 * {{events = {{name=, unit=[, total=, flagged=, series = {{index=,
 * time= (s), value=}, ...}, cpu_series = {[cpu] = points}]}, ...}}, ...}
 * | nil, message[, errno]
 * files as for core.aggregate; per file its events (those want takes) in
 * file order; those with rows have a total (summed over cpus), flagged
 * (a cpu ran less than enabled) and their per-interval counts summed over
 * cpus (per cpu too with per_cpu). */
static int l_read_profile(lua_State *L)
{
	options(L, 2);
	size_t n;
	const struct ap_read_file *files = files_of(L, 1, &n); /* slots 3, 4 */
	lua_getfield(L, 2, "want");
	if (!lua_isnil(L, WANT))
		luaL_checktype(L, WANT, LUA_TFUNCTION);
	lua_newtable(L); /* OUT */
	lua_getfield(L, 2, "per_cpu");
	struct lread r = {.L = L, .per_cpu = lua_toboolean(L, -1)};
	lua_pop(L, 1);
	const struct ap_sink sink = {
		.on_file = lr_file, .on_event = lr_event, .on_row = lr_row,
		.on_file_end = lr_file_end, .ctx = &r,
	};
	char err[512];
	int ret = ap_read_profile(files, n, &sink, 1, err, sizeof(err));
	free(r.at);
	if (r.raised)
		return lua_error(L);
	if (ret)
		return ap_lua_fail_msg(L, ret, err);
	lua_settop(L, OUT);
	return 1;
}

const luaL_Reg ap_lua_reader_funcs[] = {
	{"aggregate", l_aggregate},
	{"aggregate_run", l_aggregate_run},
	{"read_profile", l_read_profile},
	{NULL, NULL},
};
