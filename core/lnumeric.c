#include "lcore.h"
#include "numeric.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MATRIX AP_MATRIX

static struct ap_matrix *check_matrix(lua_State *L, int arg)
{
	struct ap_matrix *m = luaL_checkudata(L, arg, MATRIX);
	if (!m->data)
		luaL_argerror(L, arg, "matrix is closed");
	return m;
}

/* A 1-based index in 1..n as a 0-based one; anything else is misuse. */
static size_t check_index(lua_State *L, int arg, size_t n, const char *what)
{
	const lua_Integer i = luaL_checkinteger(L, arg);
	if (i < 1 || (lua_Unsigned)i > n)
		luaL_argerror(L, arg, lua_pushfstring(L, "%s %I out of range 1..%I", what, i,
						      (lua_Integer)n));
	return (size_t)(i - 1);
}

static size_t check_size(lua_State *L, int arg, const char *what)
{
	const lua_Integer n = luaL_checkinteger(L, arg);
	if (n < 0)
		luaL_argerror(L, arg, lua_pushfstring(L, "%s must not be negative", what));
	return (size_t)n;
}

/* The value on top of the stack, which must be a number (not a numeric
 * string: a string in counter data is a parsing bug upstream); popped. */
static double pop_number(lua_State *L, int arg, lua_Integer i)
{
	if (lua_type(L, -1) != LUA_TNUMBER)
		luaL_argerror(L, arg, lua_pushfstring(L, "number expected at index %I, got %s", i,
						      luaL_typename(L, -1)));
	const double v = lua_tonumber(L, -1);
	lua_pop(L, 1);
	return v;
}

/* Copies the array at arg into a scratch userdata left on the stack (it
 * is collected even if a later argument check raises). */
static double *check_array(lua_State *L, int arg, size_t *n)
{
	luaL_checktype(L, arg, LUA_TTABLE);
	*n = lua_rawlen(L, arg);
	double *x = lua_newuserdatauv(L, (*n ? *n : 1) * sizeof(double), 0);
	for (size_t i = 0; i < *n; i++) {
		lua_rawgeti(L, arg, (lua_Integer)i + 1);
		x[i] = pop_number(L, arg, (lua_Integer)i + 1);
	}
	return x;
}

/* A new rows x cols matrix userdata on the stack, or NULL (nothing
 * pushed) when it cannot be allocated. */
static struct ap_matrix *new_matrix(lua_State *L, size_t rows, size_t cols)
{
	struct ap_matrix *m = lua_newuserdatauv(L, sizeof(*m), 0);
	memset(m, 0, sizeof(*m));
	luaL_setmetatable(L, MATRIX);
	if (ap_matrix_init(m, rows, cols) < 0) {
		lua_pop(L, 1);
		return NULL;
	}
	return m;
}

/* core.matrix(rows, cols) -> zero-filled matrix | nil, message, errno */
static int l_matrix(lua_State *L)
{
	const size_t rows = check_size(L, 1, "rows");
	const size_t cols = check_size(L, 2, "cols");
	if (!new_matrix(L, rows, cols))
		return ap_lua_fail(L, ENOMEM, "matrix");
	return 1;
}

/* core.matrix_from({{...}, {...}}) -> matrix: rows of equal length. */
static int l_matrix_from(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	const size_t rows = lua_rawlen(L, 1);
	size_t cols = 0;
	if (rows) {
		if (lua_rawgeti(L, 1, 1) != LUA_TTABLE)
			luaL_argerror(L, 1, "array of arrays expected");
		cols = lua_rawlen(L, -1);
		lua_pop(L, 1);
	}
	struct ap_matrix *m = new_matrix(L, rows, cols);
	if (!m)
		return ap_lua_fail(L, ENOMEM, "matrix");
	for (size_t i = 0; i < rows; i++) {
		if (lua_rawgeti(L, 1, (lua_Integer)i + 1) != LUA_TTABLE)
			luaL_argerror(L, 1, lua_pushfstring(L, "row %I is not an array",
							      (lua_Integer)i + 1));
		if (lua_rawlen(L, -1) != cols)
			luaL_argerror(L, 1, lua_pushfstring(L, "row %I has %I values, row 1 has %I",
							      (lua_Integer)i + 1,
							      (lua_Integer)lua_rawlen(L, -1),
							      (lua_Integer)cols));
		double *row = ap_matrix_row(m, i);
		for (size_t j = 0; j < cols; j++) {
			lua_rawgeti(L, -1, (lua_Integer)j + 1);
			if (lua_type(L, -1) != LUA_TNUMBER)
				luaL_argerror(L, 1, lua_pushfstring(L, "number expected at [%I][%I], got %s",
								      (lua_Integer)i + 1, (lua_Integer)j + 1,
								      luaL_typename(L, -1)));
			row[j] = lua_tonumber(L, -1);
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	return 1;
}

static int l_rows(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)check_matrix(L, 1)->rows);
	return 1;
}

static int l_cols(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)check_matrix(L, 1)->cols);
	return 1;
}

static double *check_cell(lua_State *L, struct ap_matrix *m)
{
	const size_t i = check_index(L, 2, m->rows, "row");
	const size_t j = check_index(L, 3, m->cols, "column");
	return ap_matrix_row(m, i) + j;
}

static int l_get(lua_State *L)
{
	lua_pushnumber(L, *check_cell(L, check_matrix(L, 1)));
	return 1;
}

static int l_set(lua_State *L)
{
	double *cell = check_cell(L, check_matrix(L, 1));
	*cell = luaL_checknumber(L, 4);
	return 0;
}

static int l_add(lua_State *L)
{
	double *cell = check_cell(L, check_matrix(L, 1));
	*cell += luaL_checknumber(L, 4);
	return 0;
}

/* m:row(i) -> {values} */
static int l_row(lua_State *L)
{
	struct ap_matrix *m = check_matrix(L, 1);
	const double *row = ap_matrix_row(m, check_index(L, 2, m->rows, "row"));
	lua_createtable(L, (int)m->cols, 0);
	for (size_t j = 0; j < m->cols; j++) {
		lua_pushnumber(L, row[j]);
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
	return 1;
}

/* m:setrow(i, {values}): a shorter array leaves the rest of the row. The
 * values are checked before any is stored. */
static int l_setrow(lua_State *L)
{
	struct ap_matrix *m = check_matrix(L, 1);
	const size_t i = check_index(L, 2, m->rows, "row");
	size_t n;
	const double *x = check_array(L, 3, &n);
	if (n > m->cols)
		luaL_argerror(L, 3, lua_pushfstring(L, "%I values for a row of %I", (lua_Integer)n,
						      (lua_Integer)m->cols));
	if (n)
		memcpy(ap_matrix_row(m, i), x, n * sizeof(double));
	return 0;
}

static int l_close(lua_State *L)
{
	ap_matrix_free(luaL_checkudata(L, 1, MATRIX));
	return 0;
}

static int l_tostring(lua_State *L)
{
	struct ap_matrix *m = luaL_checkudata(L, 1, MATRIX);
	if (!m->data)
		lua_pushliteral(L, "matrix (closed)");
	else
		lua_pushfstring(L, "matrix %Ix%I", (lua_Integer)m->rows, (lua_Integer)m->cols);
	return 1;
}

/* core.correlation(m[, "pearson" | "spearman"]) -> rows x rows matrix */
static int l_correlation(lua_State *L)
{
	static const char *const methods[] = {"pearson", "spearman", NULL};
	const struct ap_matrix *x = check_matrix(L, 1);
	const int method = luaL_checkoption(L, 2, "pearson", methods);
	struct ap_matrix *r = new_matrix(L, x->rows, x->rows);
	if (!r)
		return ap_lua_fail(L, ENOMEM, "correlation");
	if (ap_correlation(x, r, method ? AP_SPEARMAN : AP_PEARSON) < 0)
		return ap_lua_fail(L, ENOMEM, "correlation");
	return 1;
}

/* core.correlation_kernel() -> "openblas" | "loop": what computes it */
static int l_correlation_kernel(lua_State *L)
{
	lua_pushstring(L, ap_correlation_uses_blas() ? "openblas" : "loop");
	return 1;
}

/* Argument i, matrix r, must be square (a correlation matrix). */
static void check_square(lua_State *L, int i, const struct ap_matrix *r)
{
	if (r->rows != r->cols)
		luaL_argerror(L, i, lua_pushfstring(L, "square matrix expected, got %Ix%I",
						      (lua_Integer)r->rows, (lua_Integer)r->cols));
}

/* Field k of the table on top. */
static void set_integer(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

static void set_number(lua_State *L, const char *k, double v)
{
	lua_pushnumber(L, v);
	lua_setfield(L, -2, k);
}

/* core.top_pairs(R, n[, names]) -> {{i=, j=, r=[, a=, b=]}, ...} */
static int l_top_pairs(lua_State *L)
{
	const struct ap_matrix *r = check_matrix(L, 1);
	size_t k = check_size(L, 2, "n");
	const int names = !lua_isnoneornil(L, 3);
	if (names)
		luaL_checktype(L, 3, LUA_TTABLE);
	check_square(L, 1, r);
	const size_t pairs = r->rows < 2 ? 0 : r->rows * (r->rows - 1) / 2;
	if (k > pairs)
		k = pairs;
	struct ap_pair *out = lua_newuserdatauv(L, (k ? k : 1) * sizeof(*out), 0);
	k = ap_top_pairs(r, k, out);
	lua_createtable(L, (int)k, 0);
	for (size_t n = 0; n < k; n++) {
		lua_createtable(L, 0, names ? 5 : 3);
		set_integer(L, "i", (lua_Integer)out[n].i + 1);
		set_integer(L, "j", (lua_Integer)out[n].j + 1);
		set_number(L, "r", out[n].r);
		if (names) {
			lua_geti(L, 3, (lua_Integer)out[n].i + 1);
			lua_setfield(L, -2, "a");
			lua_geti(L, 3, (lua_Integer)out[n].j + 1);
			lua_setfield(L, -2, "b");
		}
		lua_rawseti(L, -2, (lua_Integer)n + 1);
	}
	return 1;
}

/* core.cluster(R) -> {{a=, b=, height=, size=}, ...}: average-linkage
 * merges on 1 - |r|, lowest first; leaves are 1..n, merge k makes n + k. */
static int l_cluster(lua_State *L)
{
	const struct ap_matrix *r = check_matrix(L, 1);
	check_square(L, 1, r);
	const size_t n = r->rows;
	struct ap_merge *out = lua_newuserdatauv(L, (n > 1 ? n - 1 : 1) * sizeof(*out), 0);
	if (ap_cluster_average(r, out) < 0)
		return ap_lua_fail(L, ENOMEM, "cluster");
	lua_createtable(L, n > 1 ? (int)(n - 1) : 0, 0);
	for (size_t k = 0; n > 1 && k < n - 1; k++) {
		lua_createtable(L, 0, 4);
		set_integer(L, "a", (lua_Integer)out[k].a + 1);
		set_integer(L, "b", (lua_Integer)out[k].b + 1);
		set_number(L, "height", out[k].height);
		set_integer(L, "size", (lua_Integer)out[k].size);
		lua_rawseti(L, -2, (lua_Integer)k + 1);
	}
	return 1;
}

/* Fields of the table on top: each name set to its number. */
struct named {
	const char *name;
	double v;
};

static void set_numbers(lua_State *L, const struct named *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		set_number(L, f[i].name, f[i].v);
}

/* core.describe(array) or core.describe(m, i) ->
 * {n=, sum=, mean=, var=, std=, min=, max=, cv=} ({n=0} when empty) */
static int l_describe(lua_State *L)
{
	const double *x;
	size_t n;
	if (lua_type(L, 1) == LUA_TUSERDATA) {
		const struct ap_matrix *m = check_matrix(L, 1);
		x = ap_matrix_row(m, check_index(L, 2, m->rows, "row"));
		n = m->cols;
	} else {
		x = check_array(L, 1, &n);
	}
	struct ap_summary s;
	ap_describe(x, n, &s);
	lua_createtable(L, 0, 8);
	set_integer(L, "n", (lua_Integer)s.n);
	if (!s.n)
		return 1;
	const struct named f[] = {
		{"sum", s.sum}, {"mean", s.mean}, {"var", s.var}, {"std", s.std},
		{"min", s.min}, {"max", s.max},   {"cv", s.cv},
	};
	set_numbers(L, f, sizeof(f) / sizeof(f[0]));
	return 1;
}

static double check_p(lua_State *L, int arg, double p)
{
	if (!(p >= 0 && p <= 1))
		luaL_argerror(L, arg, lua_pushfstring(L, "probability %f outside [0, 1]", p));
	return p;
}

/* core.quantile(array, p) -> value; core.quantile(array, {p...}) ->
 * {value...}; nil for an empty array. */
static int l_quantile(lua_State *L)
{
	size_t n;
	double *x = check_array(L, 1, &n);
	const int many = lua_type(L, 2) == LUA_TTABLE;
	size_t np = 1;
	if (many) {
		np = lua_rawlen(L, 2);
		for (size_t i = 0; i < np; i++) {
			lua_rawgeti(L, 2, (lua_Integer)i + 1);
			check_p(L, 2, pop_number(L, 2, (lua_Integer)i + 1));
		}
	} else {
		check_p(L, 2, luaL_checknumber(L, 2));
	}
	if (!n) {
		lua_pushnil(L);
		return 1;
	}
	ap_sort(x, n);
	if (!many) {
		lua_pushnumber(L, ap_quantile_sorted(x, n, lua_tonumber(L, 2)));
		return 1;
	}
	lua_createtable(L, (int)np, 0);
	for (size_t i = 0; i < np; i++) {
		lua_rawgeti(L, 2, (lua_Integer)i + 1);
		const double p = lua_tonumber(L, -1);
		lua_pop(L, 1);
		lua_pushnumber(L, ap_quantile_sorted(x, n, p));
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* core.welch(a, b) -> {t=, df=, p=, mean_a=, mean_b=, diff=, rel=, d=,
 * n_a=, n_b=} | nil, message */
static int l_welch(lua_State *L)
{
	size_t na, nb;
	const double *a = check_array(L, 1, &na);
	const double *b = check_array(L, 2, &nb);
	struct ap_welch w;
	if (ap_welch(a, na, b, nb, &w) < 0) {
		lua_pushnil(L);
		lua_pushliteral(L, "need at least 2 repetitions per side");
		return 2;
	}
	lua_createtable(L, 0, 10);
	const struct named f[] = {
		{"t", w.t},	      {"df", w.df},	    {"p", w.p},	      {"mean_a", w.mean_a},
		{"mean_b", w.mean_b}, {"diff", w.diff}, {"rel", w.rel}, {"d", w.d},
	};
	set_numbers(L, f, sizeof(f) / sizeof(f[0]));
	set_integer(L, "n_a", (lua_Integer)w.n_a);
	set_integer(L, "n_b", (lua_Integer)w.n_b);
	return 1;
}

/* core.t_sf(t, df) -> two-sided p-value of Student's t */
static int l_t_sf(lua_State *L)
{
	const double t = luaL_checknumber(L, 1);
	const double df = luaL_checknumber(L, 2);
	if (!(df > 0))
		luaL_argerror(L, 2, "degrees of freedom must be positive");
	lua_pushnumber(L, ap_t_sf(t, df));
	return 1;
}

/* m:copy(row, col, src, srow, scol, n): n values of src's row srow from
 * column scol into m's row row from column col (1-based). */
static int l_copy(lua_State *L)
{
	struct ap_matrix *m = check_matrix(L, 1);
	const struct ap_matrix *src = check_matrix(L, 4);
	lua_Integer row = luaL_checkinteger(L, 2), col = luaL_checkinteger(L, 3);
	lua_Integer srow = luaL_checkinteger(L, 5), scol = luaL_checkinteger(L, 6);
	lua_Integer n = luaL_checkinteger(L, 7);
	luaL_argcheck(L, n >= 0, 7, "negative count");
	luaL_argcheck(L, row >= 1 && (size_t)row <= m->rows && col >= 1 &&
			 (size_t)(col - 1) + (size_t)n <= m->cols, 2, "destination out of range");
	luaL_argcheck(L, srow >= 1 && (size_t)srow <= src->rows && scol >= 1 &&
			 (size_t)(scol - 1) + (size_t)n <= src->cols, 5, "source out of range");
	memmove(ap_matrix_row(m, (size_t)row - 1) + col - 1,
		ap_matrix_row(src, (size_t)srow - 1) + scol - 1, (size_t)n * sizeof(double));
	return 0;
}

/* m:rowtext(i[, digits]) -> row i as CSV text: each value with digits
 * (default 6, at most 17) after the point, NaN as an empty field. */
static int l_rowtext(lua_State *L)
{
	const struct ap_matrix *m = check_matrix(L, 1);
	lua_Integer i = luaL_checkinteger(L, 2);
	lua_Integer digits = luaL_optinteger(L, 3, 6);
	luaL_argcheck(L, i >= 1 && (size_t)i <= m->rows, 2, "row out of range");
	luaL_argcheck(L, digits >= 0 && digits <= 17, 3, "digits out of range");
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	const double *row = ap_matrix_row(m, (size_t)i - 1);
	for (size_t j = 0; j < m->cols; j++) {
		if (j)
			luaL_addchar(&b, ',');
		if (isnan(row[j]))
			continue;
		/* %f of a huge value is long: ask first, then write */
		int need = snprintf(NULL, 0, "%.*f", (int)digits, row[j]);
		char *p = luaL_prepbuffsize(&b, (size_t)need + 1);
		snprintf(p, (size_t)need + 1, "%.*f", (int)digits, row[j]);
		luaL_addsize(&b, (size_t)need);
	}
	luaL_pushresult(&b);
	return 1;
}

static const luaL_Reg matrix_methods[] = {
	{"copy", l_copy},
	{"rowtext", l_rowtext},
	{"rows", l_rows},
	{"cols", l_cols},
	{"get", l_get},
	{"set", l_set},
	{"add", l_add},
	{"row", l_row},
	{"setrow", l_setrow},
	{"close", l_close},
	{NULL, NULL},
};

static const luaL_Reg funcs[] = {
	{"matrix", l_matrix},
	{"matrix_from", l_matrix_from},
	{"correlation", l_correlation},
	{"correlation_kernel", l_correlation_kernel},
	{"top_pairs", l_top_pairs},
	{"cluster", l_cluster},
	{"describe", l_describe},
	{"quantile", l_quantile},
	{"welch", l_welch},
	{"t_sf", l_t_sf},
	{NULL, NULL},
};

void ap_lua_numeric(lua_State *L)
{
	ap_lua_class(L, MATRIX, matrix_methods, l_close);
	luaL_getmetatable(L, MATRIX);
	lua_pushcfunction(L, l_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
	luaL_setfuncs(L, funcs, 0);
}
