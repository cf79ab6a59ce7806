#include "catalog.h"
#include "lcore.h"
#include "pfm.h"

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
	lua_createtable(L, 0, 5);
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
	lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
	return 0;
}

/* core.pfm_pmus() -> {{name=, desc=, nevents=, generic=, fixed=}, ...}:
 * the PMUs libpfm4 detects on this machine. */
static int l_pfm_pmus(lua_State *L)
{
	lua_newtable(L);
	int err = ap_pfm_pmus(add_pmu, L);
	if (err < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "libpfm4: %s", ap_pfm_strerror(err));
		return 2;
	}
	return 1;
}

static const luaL_Reg funcs[] = {
	{"tracefs_root", l_tracefs_root},
	{"tracepoints", l_tracepoints},
	{"listdir", l_listdir},
	{"pfm_pmus", l_pfm_pmus},
	{NULL, NULL},
};

void ap_lua_catalog(lua_State *L)
{
	luaL_setfuncs(L, funcs, 0);
}
