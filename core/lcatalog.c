#include "catalog.h"
#include "lcore.h"
#include "pfm.h"

#include <perfmon/pfmlib.h>
#include <string.h>

static int l_tracefs_root(lua_State *L)
{
	const char *root = ap_tracefs_root();
	if (!root)
		return 0;
	lua_pushstring(L, root);
	return 1;
}

static int add_tracepoint(const char *sys, const char *name, uint64_t id,
			  void *ctx)
{
	lua_State *L = ctx;
	lua_createtable(L, 0, 3);
	lua_pushstring(L, sys);
	lua_setfield(L, -2, "sys");
	lua_pushstring(L, name);
	lua_setfield(L, -2, "name");
	lua_pushinteger(L, (lua_Integer)id);
	lua_setfield(L, -2, "id");
	lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
	return 0;
}

/* core.tracepoints(root) -> {{sys=, name=, id=}, ...} | nil, msg, errno */
static int l_tracepoints(lua_State *L)
{
	const char *root = luaL_checkstring(L, 1);
	lua_newtable(L);
	int err = ap_tracepoints(root, add_tracepoint, L);
	if (err)
		return ap_lua_fail(L, -err, root);
	return 1;
}

static int add_entry(const char *name, int is_dir, void *ctx)
{
	lua_State *L = ctx;
	lua_createtable(L, 0, 2);
	lua_pushstring(L, name);
	lua_setfield(L, -2, "name");
	lua_pushboolean(L, is_dir);
	lua_setfield(L, -2, "dir");
	lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
	return 0;
}

/* core.listdir(path) -> {{name=, dir=bool}, ...} sorted | nil, msg, errno */
static int l_listdir(lua_State *L)
{
	const char *dir = luaL_checkstring(L, 1);
	lua_newtable(L);
	int err = ap_listdir(dir, add_entry, L);
	if (err)
		return ap_lua_fail(L, -err, dir);
	return 1;
}

static int add_pmu(const struct ap_pfm_pmu *p, void *ctx)
{
	lua_State *L = ctx;
	lua_createtable(L, 0, 6);
	lua_pushstring(L, p->name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, p->desc ? p->desc : "");
	lua_setfield(L, -2, "desc");
	lua_pushinteger(L, p->nevents);
	lua_setfield(L, -2, "nevents");
	lua_pushinteger(L, p->generic);
	lua_setfield(L, -2, "generic");
	lua_pushinteger(L, p->fixed);
	lua_setfield(L, -2, "fixed");
	lua_pushboolean(L, p->core);
	lua_setfield(L, -2, "core");
	lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
	return 0;
}

static int pfm_fail(lua_State *L, int err, const char *force)
{
	lua_pushnil(L);
	if (force && *force && err == PFM_ERR_NOTFOUND)
		lua_pushfstring(L, "libpfm4 knows no PMU model '%s'", force);
	else if (force && *force)
		lua_pushfstring(L, "libpfm4: model '%s': %s", force, ap_pfm_strerror(err));
	else
		lua_pushfstring(L, "libpfm4: %s", ap_pfm_strerror(err));
	return 2;
}

/* core.pfm_pmus([model]) -> {{name=, desc=, nevents=, generic=, fixed=,
 * core=bool}, ...}: the PMUs libpfm4 detects here, or model's when one
 * is named | nil, msg. */
static int l_pfm_pmus(lua_State *L)
{
	const char *force = luaL_optstring(L, 1, NULL);
	lua_newtable(L);
	int err = ap_pfm_pmus(force, add_pmu, L);
	if (err < 0)
		return pfm_fail(L, err, force);
	return 1;
}

static void set_u64(lua_State *L, const char *k, uint64_t v)
{
	lua_pushinteger(L, (lua_Integer)v); /* 64-bit configs wrap as in C */
	lua_setfield(L, -2, k);
}

static int add_event(const struct ap_pfm_event *e, void *ctx)
{
	lua_State *L = ctx;
	lua_createtable(L, 0, 9);
	lua_pushstring(L, e->pmu);
	lua_setfield(L, -2, "pmu");
	lua_pushstring(L, e->name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, e->event);
	lua_setfield(L, -2, "event");
	if (e->umask) {
		lua_pushstring(L, e->umask);
		lua_setfield(L, -2, "umask");
	}
	lua_pushstring(L, e->desc ? e->desc : "");
	lua_setfield(L, -2, "desc");
	lua_pushinteger(L, e->type);
	lua_setfield(L, -2, "type");
	set_u64(L, "config", e->config);
	set_u64(L, "config1", e->config1);
	set_u64(L, "config2", e->config2);
	lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
	return 0;
}

/* core.pfm_events([model]) -> {{pmu=, name="pmu::EVENT:UMASK", event=,
 * umask=, desc=, type=, config=, config1=, config2=}, ...}, skipped:
 * every configuration of libpfm4's hardware PMUs, encoded for
 * perf_event_open; skipped counts those it cannot encode alone
 * | nil, msg. */
static int l_pfm_events(lua_State *L)
{
	const char *force = luaL_optstring(L, 1, NULL);
	lua_newtable(L);
	int skipped = 0;
	int err = ap_pfm_events(force, add_event, L, &skipped);
	if (err < 0)
		return pfm_fail(L, err, force);
	lua_pushinteger(L, skipped);
	return 2;
}

static int add_name(const char *name, void *ctx)
{
	lua_State *L = ctx;
	lua_pushstring(L, name);
	lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
	return 0;
}

/* core.pfm_models() -> {"skl", "skx", ...}: every model libpfm4 supports
 * | nil, msg. */
static int l_pfm_models(lua_State *L)
{
	lua_newtable(L);
	int err = ap_pfm_models(add_name, L);
	if (err < 0)
		return pfm_fail(L, err, NULL);
	return 1;
}

/* core.pfm_model_counters(model) -> generic, fixed: the counters of
 * libpfm4's core PMU model (present here or not) | nil, msg. */
static int l_pfm_model_counters(lua_State *L)
{
	const char *model = luaL_checkstring(L, 1);
	int generic = 0, fixed = 0;
	int err = ap_pfm_model_counters(model, &generic, &fixed);
	if (err)
		return pfm_fail(L, err, model);
	lua_pushinteger(L, generic);
	lua_pushinteger(L, fixed);
	return 2;
}

static const luaL_Reg funcs[] = {
	{"tracefs_root", l_tracefs_root},
	{"tracepoints", l_tracepoints},
	{"listdir", l_listdir},
	{"pfm_pmus", l_pfm_pmus},
	{"pfm_events", l_pfm_events},
	{"pfm_models", l_pfm_models},
	{"pfm_model_counters", l_pfm_model_counters},
	{NULL, NULL},
};

void ap_lua_catalog(lua_State *L)
{
	luaL_setfuncs(L, funcs, 0);
	/* the type of an uncore event whose PMU this kernel lacks (pfm.h) */
	lua_pushinteger(L, (lua_Integer)AP_PFM_NO_TYPE);
	lua_setfield(L, -2, "PFM_NO_TYPE");
}
