/* Lua binding of GNU readline for `autoperf repl`: line editing, history
 * and tab completion by a Lua function. */
#include "lcore.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

/*
 * Signals at the prompt, as lua.c does them: Ctrl-C (SIGINT) while Lua
 * code runs sets a debug hook that raises an error at the next
 * instruction (lua_sethook is safe in a signal handler), so that
 * `while true do end` stops; at the prompt it drops the line being typed.
 * SIGTERM (and SIGHUP) end the prompt, with the terminal restored and the
 * history written. Process-wide, like the signals themselves.
 */
static volatile sig_atomic_t pending;  /* the signal not yet handled */
static lua_State *volatile running;    /* set while core.repl_call runs */

static void stop(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lua_sethook(L, NULL, 0, 0);
	/* no position: where the hook caught the code says nothing */
	lua_pushstring(L, pending == SIGINT ? "interrupted" : "terminated");
	lua_error(L);
}

static void on_signal(int sig)
{
	lua_State *L = running;
	/* A Ctrl-C does not undo a termination on its way. */
	if (!(sig == SIGINT && pending && pending != SIGINT))
		pending = sig;
	if (L)
		lua_sethook(L, stop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

/* (Re)takes the signals: a profile run meanwhile traps them for itself. */
static void take_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: the prompt's poll wakes */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* core.repl_signal() -> "interrupt" | "terminate" | nil: what arrived
 * since the last call (which clears an interrupt; a termination stays). */
static int l_repl_signal(lua_State *L)
{
	int sig = pending;
	if (!sig)
		return 0;
	if (sig == SIGINT)
		pending = 0;
	lua_pushstring(L, sig == SIGINT ? "interrupt" : "terminate");
	return 1;
}

/* core.repl_call(msgh, f) -> true, results... | false, error: f called as
 * by xpcall, interruptible by Ctrl-C (and SIGTERM). */
static int l_repl_call(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_settop(L, 2);
	if (pending == SIGINT)
		pending = 0; /* a Ctrl-C before the call is not for it */
	take_signals();
	running = L;
	int status = lua_pcall(L, 0, LUA_MULTRET, 1);
	running = NULL;
	if (lua_gethook(L) == stop) /* set, but the call ended first */
		lua_sethook(L, NULL, 0, 0);
	if (pending == SIGINT)
		pending = 0; /* it interrupted this call (or came too late to) */
	lua_pushboolean(L, status == LUA_OK);
	lua_replace(L, 1);
	return lua_gettop(L);
}

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

static char *got;
static int done;

static void on_line(char *line)
{
	got = line;
	done = 1;
	rl_callback_handler_remove();
}

/* core.readline(prompt[, completer]) -> line | nil at end of input |
 * false, "interrupt" or "terminate" when a signal came (the half-typed
 * line is dropped, the terminal restored). Readline's alternate interface,
 * so that a signal wakes our poll rather than readline's own handlers. */
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
	rl_catch_signals = 0;
	rl_catch_sigwinch = 1;
	take_signals();
	active = L;
	got = NULL;
	done = 0;
	if (pending == SIGINT)
		pending = 0; /* typed while nothing ran: not for this line */
	const char *why = NULL;
	rl_callback_handler_install(prompt, on_line);
	int in = rl_instream ? fileno(rl_instream) : 0;
	/* The signals wait blocked between the check and the poll, which
	 * unblocks them: none can slip in unseen. */
	sigset_t block, open_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &open_mask);
	while (!done) {
		if (pending) {
			why = pending == SIGINT ? "interrupt" : "terminate";
			if (pending == SIGINT)
				pending = 0;
			rl_callback_sigcleanup();
			rl_free_line_state();
			rl_callback_handler_remove();
			fputs("\n", rl_outstream ? rl_outstream : stdout);
			break;
		}
		struct pollfd pfd = {.fd = in, .events = POLLIN};
		int r = ppoll(&pfd, 1, NULL, &open_mask);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rl_callback_handler_remove();
			break; /* as end of input */
		}
		rl_callback_read_char();
	}
	sigprocmask(SIG_SETMASK, &open_mask, NULL);
	active = NULL;
	if (completer != LUA_NOREF) {
		luaL_unref(L, LUA_REGISTRYINDEX, completer);
		completer = LUA_NOREF;
	}
	lua_settop(L, 0);
	if (why) {
		lua_pushboolean(L, 0);
		lua_pushstring(L, why);
		return 2;
	}
	if (!got)
		return 0;
	lua_pushstring(L, got);
	free(got);
	got = NULL;
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
	{"repl_call", l_repl_call},
	{"repl_signal", l_repl_signal},
	{"add_history", l_add_history},
	{"read_history", l_read_history},
	{"write_history", l_write_history},
	{NULL, NULL},
};

void ap_lua_repl(lua_State *L)
{
	luaL_setfuncs(L, funcs, 0);
}
