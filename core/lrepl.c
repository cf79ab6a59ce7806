/* Lua binding of GNU readline for `autoperf repl`: line editing, history
 * and tab completion by a Lua function. */
#include "lcore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/history.h>
#include <readline/readline.h>

/* The interpreter and the registry reference of the completer while
 * core.readline runs (readline's callbacks carry no context). */
static lua_State *active;
static int completer = LUA_NOREF;

/* Candidates for text, from the Lua completer: fn(text, line) -> list. */
static char *generate(const char *text, int state)
{
	static int i, n;
	lua_State *L = active;
	if (!L || completer == LUA_NOREF)
		return NULL;
	if (state == 0) {
		/* keep the candidate list on the stack until the next word */
		lua_settop(L, 2);
		lua_rawgeti(L, LUA_REGISTRYINDEX, completer);
		lua_pushstring(L, text);
		lua_pushstring(L, rl_line_buffer);
		if (lua_pcall(L, 2, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
			lua_settop(L, 2);
			lua_newtable(L);
		}
		i = 0;
		n = (int)luaL_len(L, 3);
	}
	while (i < n) {
		lua_rawgeti(L, 3, ++i);
		const char *s = lua_tostring(L, -1);
		char *copy = s ? strdup(s) : NULL;
		lua_pop(L, 1);
		if (copy)
			return copy;
	}
	return NULL;
}

static char **attempt(const char *text, int start, int end)
{
	(void)start;
	(void)end;
	rl_attempted_completion_over = 1; /* no file names */
	rl_completion_append_character = '\0'; /* "ap.measure(" goes on typing */
	return rl_completion_matches(text, generate);
}

/* core.readline(prompt[, completer]) -> line | nil at end of input. */
static int l_readline(lua_State *L)
{
	const char *prompt = luaL_optstring(L, 1, "");
	lua_settop(L, 2);
	if (!lua_isnil(L, 2)) {
		luaL_checktype(L, 2, LUA_TFUNCTION);
		lua_pushvalue(L, 2);
		completer = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	rl_attempted_completion_function = attempt;
	rl_completer_word_break_characters = " \t\n\"'`@$><=;|&{(,+-*/%^~#[]";
	active = L;
	char *line = readline(prompt);
	active = NULL;
	if (completer != LUA_NOREF) {
		luaL_unref(L, LUA_REGISTRYINDEX, completer);
		completer = LUA_NOREF;
	}
	lua_settop(L, 0);
	if (!line)
		return 0;
	lua_pushstring(L, line);
	free(line);
	return 1;
}

/* core.add_history(line) */
static int l_add_history(lua_State *L)
{
	add_history(luaL_checkstring(L, 1));
	return 0;
}

/* core.read_history(path) -> true | nil, msg */
static int l_read_history(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int err = read_history(path);
	if (err)
		return ap_lua_fail(L, err, path);
	lua_pushboolean(L, 1);
	return 1;
}

/* core.write_history(path[, keep]) -> true | nil, msg: keeps the last
 * keep entries (default 1000). */
static int l_write_history(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int keep = (int)luaL_optinteger(L, 2, 1000);
	int err = write_history(path);
	if (!err)
		err = history_truncate_file(path, keep);
	if (err)
		return ap_lua_fail(L, err, path);
	lua_pushboolean(L, 1);
	return 1;
}

static const luaL_Reg funcs[] = {
	{"readline", l_readline},
	{"add_history", l_add_history},
	{"read_history", l_read_history},
	{"write_history", l_write_history},
	{NULL, NULL},
};

void ap_lua_repl(lua_State *L)
{
	luaL_setfuncs(L, funcs, 0);
}
