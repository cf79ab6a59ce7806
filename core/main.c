/* autoperf: embeds Lua 5.4, finds the Lua modules, runs the CLI. */
#include "lcore.h"

#include <lualib.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef AP_DATADIR
#define AP_DATADIR "/usr/local/share/autoperf"
#endif

static int has_cli(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/autoperf/cli.lua", dir);
	return access(path, R_OK) == 0;
}

/* lua/ beside the binary (the source tree), one level up (build dirs),
 * under ../share (installed), or the configured data directory. */
static int find_lua_dir(char *out, size_t len)
{
	const char *env = getenv("AUTOPERF_LUA_DIR");
	if (env && *env) {
		snprintf(out, len, "%s", env);
		return has_cli(out);
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		const char *dir = dirname(exe);
		static const char *const rel[] = {"lua", "../lua",
						  "../share/autoperf/lua"};
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(out, len, "%s/%s", dir, rel[i]);
			if (has_cli(out))
				return 1;
		}
	}
	snprintf(out, len, "%s/lua", AP_DATADIR);
	return has_cli(out);
}

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
	return 1;
}

int main(int argc, char **argv)
{
	char dir[PATH_MAX];
	if (!find_lua_dir(dir, sizeof(dir))) {
		fprintf(stderr,
			"autoperf: cannot find its Lua modules (looked beside the "
			"binary and in %s/lua); set AUTOPERF_LUA_DIR\n",
			AP_DATADIR);
		return 2;
	}
	lua_State *L = luaL_newstate();
	if (!L) {
		fprintf(stderr, "autoperf: out of memory\n");
		return 2;
	}
	luaL_openlibs(L);

	/* autoperf.core is linked in; lua/ goes first on package.path. */
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushcfunction(L, luaopen_autoperf_core);
	lua_setfield(L, -2, "autoperf.core");
	lua_pop(L, 1);
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "path");
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir,
			lua_tostring(L, -1));
	lua_setfield(L, -3, "path");
	lua_pop(L, 2);

	lua_pushcfunction(L, traceback);
	lua_getglobal(L, "require");
	lua_pushliteral(L, "autoperf.cli");
	int status = lua_pcall(L, 1, 1, 1);
	if (status == LUA_OK) {
		lua_getfield(L, -1, "main");
		lua_createtable(L, argc, 0);
		for (int i = 1; i < argc; i++) {
			lua_pushstring(L, argv[i]);
			lua_rawseti(L, -2, i);
		}
		lua_createtable(L, 0, 2);
		lua_pushstring(L, dir);
		lua_setfield(L, -2, "lua_dir");
		lua_pushstring(L, argv[0]);
		lua_setfield(L, -2, "argv0");
		status = lua_pcall(L, 2, 1, 1);
	}
	int code;
	if (status != LUA_OK) {
		/* The CLI reports expected errors itself: this is a bug. */
		fprintf(stderr, "autoperf: internal error: %s\n",
			lua_tostring(L, -1));
		code = 70;
	} else {
		code = (int)luaL_optinteger(L, -1, 0);
	}
	lua_close(L);
	return code;
}
