/* lrunfile: the run-file format (core/runfile.h) for Lua: core.read_run
 * (the parser, a Lua callback per line: for tests and tools; profiles are
 * read through lreader.c), core.run_start / core.run_end (the lines the
 * runner writes around the rows) and ap_lua_write_rows (the rows, for the
 * counting bindings). */
#include "io.h"
#include "lcore.h"
#include "runfile.h"

#include <string.h>

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
	const struct ap_run_visitor v = {lon_event, lon_row, NULL, &lv};
	char err[512];
	long rows = 0;
	int ret = ap_run_parse(path, &v, &rows, err, sizeof(err));
	if (lv.raised)
		return lua_error(L);
	if (ret)
		return ap_lua_fail_msg(L, ret, err);
	lua_pushinteger(L, rows);
	return 1;
}


/* core.run_start(writer, run, rep, {{tag, unit, name}, ...}) -> true |
 * nil, message, errno: a run file's first lines (the #autoperf-run line,
 * one #event line per event, the column header). */
static int l_run_start(lua_State *L)
{
	struct ap_writer *w = luaL_checkudata(L, 1, "autoperf.writer");
	int run = (int)luaL_checkinteger(L, 2), rep = (int)luaL_checkinteger(L, 3);
	luaL_checktype(L, 4, LUA_TTABLE);
	char line[AP_RUN_LINE_MAX];
	int err = ap_writer_write(w, line, ap_run_format_start(line, sizeof(line), run, rep));
	lua_Integer n = luaL_len(L, 4);
	for (lua_Integer i = 1; i <= n && !err; i++) {
		lua_geti(L, 4, i);
		int e = lua_gettop(L);
		luaL_argcheck(L, lua_istable(L, e), 4, "{tag, unit, name} expected");
		lua_geti(L, e, 1);
		lua_geti(L, e, 2);
		lua_geti(L, e, 3);
		int tag = (int)luaL_checkinteger(L, e + 1);
		const char *unit = luaL_checkstring(L, e + 2), *name = luaL_checkstring(L, e + 3);
		size_t len = strlen(unit) + strlen(name) + 32;
		char *buf = lua_newuserdatauv(L, len, 0);
		err = ap_writer_write(w, buf, ap_run_format_event(buf, len, tag, unit, name));
		lua_settop(L, e - 1);
	}
	if (!err)
		err = ap_writer_write(w, line, ap_run_format_columns(line, sizeof(line)));
	if (err)
		return ap_lua_fail(L, -err, w->path ? w->path : "write");
	lua_pushboolean(L, 1);
	return 1;
}

/* core.run_end(writer, rows) -> true | nil, message, errno: the end
 * marker. */
static int l_run_end(lua_State *L)
{
	struct ap_writer *w = luaL_checkudata(L, 1, "autoperf.writer");
	char line[AP_RUN_LINE_MAX];
	size_t len = ap_run_format_end(line, sizeof(line), (long)luaL_checkinteger(L, 2));
	int err = ap_writer_write(w, line, len);
	if (err)
		return ap_lua_fail(L, -err, w->path ? w->path : "write");
	lua_pushboolean(L, 1);
	return 1;
}

struct ap_rows ap_lua_rows_args(lua_State *L)
{
	return (struct ap_rows){
		.w = luaL_checkudata(L, 2, "autoperf.writer"),
		.index = luaL_checkinteger(L, 3),
		.t = luaL_checkinteger(L, 4),
		.cpu = luaL_checkinteger(L, 5),
	};
}

int ap_lua_write_rows(lua_State *L, const struct ap_rows *rows)
{
	struct ap_writer *w = rows->w;
	char row[AP_RUN_LINE_MAX];
	for (size_t i = 0; i < rows->n; i++) {
		const struct ap_run_row r = {
			.index = rows->index, .time_ns = rows->t, .cpu = (int)rows->cpu,
			.tag = rows->tags[i], .value = rows->values[i],
			.enabled = rows->enabled, .running = rows->running,
		};
		int err = ap_writer_write(w, row, ap_run_format_row(row, &r));
		if (err)
			return ap_lua_fail(L, -err, w->path ? w->path : "write");
	}
	lua_pushinteger(L, (lua_Integer)rows->enabled);
	lua_pushinteger(L, (lua_Integer)rows->running);
	return 2;
}

static const luaL_Reg funcs[] = {
	{"read_run", l_read_run},
	{"run_start", l_run_start},
	{"run_end", l_run_end},
	{NULL, NULL},
};

void ap_lua_runfile(lua_State *L)
{
	luaL_setfuncs(L, funcs, 0);
	lua_pushliteral(L, AP_RUN_COLUMNS);
	lua_setfield(L, -2, "RUN_COLUMNS");
	lua_pushinteger(L, AP_RUN_CPU_MAX);
	lua_setfield(L, -2, "RUN_CPU_MAX");
}
