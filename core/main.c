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
	char path[PATH_MAX + 32];
	int n = snprintf(path, sizeof(path), "%s/autoperf/cli.lua", dir);
	return n > 0 && (size_t)n < sizeof(path) && access(path, R_OK) == 0;
}

/* lua/ beside the binary (the source tree), one level up (build dirs),
 * under ../share (installed), or the configured data directory. Never
 * from the environment: autoperf runs as root in other people's
 * directories, and code named by a variable would run with it. */
static int find_lua_dir(char *out, size_t len)
{
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

/* package[field] without its entries relative to the current directory
 * ("./?.lua", "./?.so", ...): a cjson.lua in a user's directory must not
 * run as root with every command. prefix (may be empty) goes first. */
static void set_search_path(lua_State *L, const char *field,
			    const char *prefix)
{
	lua_getglobal(L, "package");
	lua_getfield(L, -1, field);
	const char *p = lua_tostring(L, -1);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	luaL_addstring(&b, prefix);
	while (p && *p) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 0 && p[0] == '/') { /* absolute entries only */
			luaL_addlstring(&b, p, n);
			luaL_addchar(&b, ';');
		}
		p += n + (end ? 1 : 0);
	}
	luaL_pushresult(&b);
	/* stack: package, old, new */
	lua_setfield(L, -3, field);
	lua_pop(L, 2);
}

int main(int argc, char **argv)
{
	char dir[PATH_MAX];
	if (!find_lua_dir(dir, sizeof(dir))) {
		fprintf(stderr,
			"autoperf: cannot find its Lua modules (looked beside the "
			"binary and in %s/lua)\n",
			AP_DATADIR);
		return 2;
	}
	lua_State *L = luaL_newstate();
	if (!L) {
		fprintf(stderr, "autoperf: out of memory\n");
		return 2;
	}
	/* As lua -E: LUA_PATH, LUA_CPATH and their _5_4 forms are ignored
	 * (the package library reads this registry field); LUA_INIT is read
	 * only by the standalone interpreter, never here. */
	lua_pushboolean(L, 1);
	lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
	luaL_openlibs(L);

	/* autoperf.core is linked in; lua/ goes first on package.path, then
	 * the system's directories; nothing relative to the current one. */
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushcfunction(L, luaopen_autoperf_core);
	lua_setfield(L, -2, "autoperf.core");
	lua_pop(L, 1);
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
	set_search_path(L, "path", lua_tostring(L, -1));
	lua_pop(L, 1);
	set_search_path(L, "cpath", "");

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
