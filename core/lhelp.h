/* lhelp: the helpers every binding (l*.c) uses. */
#ifndef AP_LHELP_H
#define AP_LHELP_H

#include <lauxlib.h>
#include <lua.h>

/* Pushes nil, message (with strerror of -err) and errno; returns 3. */
int ap_lua_fail(lua_State *L, int err, const char *what);
/* Pushes nil, msg and, when ret is -errno, errno; returns 2 or 3 (a
 * failure of the core whose message it wrote itself). */
int ap_lua_fail_msg(lua_State *L, int ret, const char *msg);

/* Resource userdata: a named metatable with __gc, __close and methods. */
void ap_lua_class(lua_State *L, const char *name, const luaL_Reg *methods,
		  lua_CFunction gc);

#endif
