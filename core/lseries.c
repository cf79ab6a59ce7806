/* The analysis series of run files and results files as Lua tables:
 * core.run_series, core.results_series (series.c reads them; the matrix
 * they carry is lnumeric.c's userdata). */
#include "lcore.h"
#include "numeric.h"
#include "series.h"

#include <stdlib.h>
#include <string.h>

static int push_series(lua_State *L, int ret, struct ap_series *sp, const char *path,
		       const char *err);

/* The skip set's names, copied out of Lua before parsing: nothing in the
 * parse may raise a Lua error (it would leave the file and the inflating
 * thread behind). */
struct nameset {
	const char **v;
	size_t n;
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int skip_in_set(const char *name, void *ctx)
{
	const struct nameset *s = ctx;
	return s->n && bsearch(&name, s->v, s->n, sizeof(*s->v), cmp_name) != NULL;
}

/* The string keys of the table at idx, in a userdata pushed on the stack
 * (the strings stay anchored in the table). */
static void nameset_of(lua_State *L, int idx, struct nameset *s)
{
	size_t n = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		n += lua_type(L, -2) == LUA_TSTRING;
		lua_pop(L, 1);
	}
	s->v = lua_newuserdatauv(L, (n ? n : 1) * sizeof(*s->v), 0);
	s->n = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) == LUA_TSTRING && s->n < n)
			s->v[s->n++] = lua_tostring(L, -2);
		lua_pop(L, 1);
	}
	qsort(s->v, s->n, sizeof(*s->v), cmp_name);
}

/* core.run_series(path[, skip]) -> {names=, units=, lengths=, totals=,
 * flagged=, m=} | nil, message[, errno]: a run file's per-interval counts
 * summed over CPUs, one matrix row per event, and each event's total and
 * whether it was counted all the time (see series.h); events named in the
 * set skip are left out. */
static int l_run_series(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct nameset skip = {NULL, 0};
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		nameset_of(L, 2, &skip);
	}
	struct ap_series s;
	char err[512];
	int ret = ap_series_read(path, skip_in_set, &skip, &s, err, sizeof(err));
	return push_series(L, ret, &s, path, err);
}

/* core.results_series(path) -> as core.run_series, from a results.csv
 * (autoperf's or the original autoperf's; plain or .gz). */
static int l_results_series(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct ap_series s;
	char err[512];
	int ret = ap_results_read(path, &s, err, sizeof(err));
	return push_series(L, ret, &s, path, err);
}

/* The table of run_series for s (freed), or the failure ret says. */
static int push_series(lua_State *L, int ret, struct ap_series *sp, const char *path, const char *err)
{
	if (ret < 0)
		return ap_lua_fail(L, -ret, path);
	if (ret) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	struct ap_series s = *sp;
	lua_createtable(L, 0, 4);
	struct ap_matrix *m = lua_newuserdatauv(L, sizeof(*m), 0);
	*m = s.m; /* the userdata owns the data from here */
	s.m.data = NULL;
	luaL_setmetatable(L, AP_MATRIX);
	lua_setfield(L, -2, "m");
	const char *keys[] = {"names", "units", "lengths", "totals", "flagged"};
	for (int k = 0; k < 5; k++) {
		lua_createtable(L, (int)s.n, 0);
		for (size_t i = 0; i < s.n; i++) {
			const struct ap_series_event *e = &s.events[i];
			if (k == 0)
				lua_pushstring(L, e->name);
			else if (k == 1)
				lua_pushstring(L, e->unit);
			else if (k == 2)
				lua_pushinteger(L, (lua_Integer)e->length);
			else if (k == 3 && e->sum != 0)
				lua_pushnumber(L, e->sum);
			else if (k == 3)
				lua_pushinteger(L, (lua_Integer)e->total);
			else
				lua_pushboolean(L, e->flagged);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		lua_setfield(L, -2, keys[k]);
	}
	ap_series_free(&s);
	return 1;
}

const luaL_Reg ap_lua_series_funcs[] = {
	{"run_series", l_run_series},
	{"results_series", l_results_series},
	{NULL, NULL},
};
