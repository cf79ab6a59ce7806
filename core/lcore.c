/* lcore: assembles the autoperf.core module from the bindings (one
 * l*.c per concept, see lcore.h). */
#include "lcore.h"

#include <errno.h>

int luaopen_autoperf_core(lua_State *L)
{
	lua_newtable(L);
#define AP_LUA_SETFUNCS(part) luaL_setfuncs(L, ap_lua_##part##_funcs, 0);
	AP_LUA_FUNCS(AP_LUA_SETFUNCS)
#define AP_LUA_OPEN(part) ap_lua_##part(L);
	AP_LUA_PARTS(AP_LUA_OPEN)

	/* The errno values callers branch on. */
	static const struct {
		const char *name;
		int value;
	} errnos[] = {
		{"E2BIG", E2BIG},   {"EACCES", EACCES}, {"EINVAL", EINVAL},
		{"EMFILE", EMFILE}, {"ENFILE", ENFILE}, {"ENOENT", ENOENT},
		{"ENOEXEC", ENOEXEC}, {"ENODEV", ENODEV}, {"EOPNOTSUPP", EOPNOTSUPP},
		{"EPERM", EPERM},   {"ESRCH", ESRCH},
	};
	lua_createtable(L, 0, (int)(sizeof(errnos) / sizeof(errnos[0])));
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		lua_pushinteger(L, errnos[i].value);
		lua_setfield(L, -2, errnos[i].name);
	}
	lua_setfield(L, -2, "errno");
	return 1;
}
