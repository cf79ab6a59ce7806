/* lhelp: what every binding uses (lhelp.h). */
#include "lhelp.h"

#include <string.h>

int ap_lua_fail(lua_State *L, int err, const char *what)
{
	lua_pushnil(L);
	if (what)
		lua_pushfstring(L, "%s: %s", what, strerror(err));
	else
		lua_pushstring(L, strerror(err));
	lua_pushinteger(L, err);
	return 3;
}

int ap_lua_fail_msg(lua_State *L, int ret, const char *msg)
{
	lua_pushnil(L);
	lua_pushstring(L, msg);
	if (ret >= 0)
		return 2;
	lua_pushinteger(L, -ret);
	return 3;
}

void ap_lua_class(lua_State *L, const char *name, const luaL_Reg *methods,
		  lua_CFunction gc)
{
	luaL_newmetatable(L, name);
	lua_newtable(L);
	luaL_setfuncs(L, methods, 0);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, gc);
	lua_setfield(L, -2, "__close");
	lua_pop(L, 1);
}
