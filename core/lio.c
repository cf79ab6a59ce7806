#include "io.h"
#include "lcore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WRITER "autoperf.writer"
#define READER "autoperf.reader"

/* core.writer(path[, compress]) -> writer | nil, message, errno. Bytes go
 * to path.tmp until :commit() renames it onto path. */
static int l_writer(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int compress = lua_toboolean(L, 2);
	struct ap_writer *w = lua_newuserdatauv(L, sizeof(*w), 0);
	memset(w, 0, sizeof(*w));
	luaL_setmetatable(L, WRITER);
	int err = ap_writer_open(w, path, compress);
	if (err)
		return ap_lua_fail(L, -err, path);
	return 1;
}

/* writer:write(s, ...) -> writer | nil, message, errno */
static int l_write(lua_State *L)
{
	struct ap_writer *w = luaL_checkudata(L, 1, WRITER);
	int n = lua_gettop(L);
	for (int i = 2; i <= n; i++) {
		size_t len;
		const char *s = luaL_checklstring(L, i, &len);
		int err = ap_writer_write(w, s, len);
		if (err)
			return ap_lua_fail(L, -err, w->path ? w->path : "write");
	}
	lua_settop(L, 1);
	return 1;
}

static int l_commit(lua_State *L)
{
	struct ap_writer *w = luaL_checkudata(L, 1, WRITER);
	/* the message names the file, which commit releases */
	lua_pushstring(L, w->path ? w->path : "commit");
	int err = ap_writer_commit(w);
	if (err)
		return ap_lua_fail(L, -err, lua_tostring(L, -1));
	lua_pushboolean(L, 1);
	return 1;
}

static int l_abort(lua_State *L)
{
	ap_writer_abort(luaL_checkudata(L, 1, WRITER));
	return 0;
}

/* core.reader(path) -> reader | nil, message, errno (plain or gzip). */
static int l_reader(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct ap_reader *r = lua_newuserdatauv(L, sizeof(*r), 0);
	memset(r, 0, sizeof(*r));
	luaL_setmetatable(L, READER);
	int err = ap_reader_open(r, path);
	if (err)
		return ap_lua_fail(L, -err, path);
	return 1;
}

/* reader:read() -> line | nil at end | nil, message, lineno on error */
static int l_read(lua_State *L)
{
	struct ap_reader *r = luaL_checkudata(L, 1, READER);
	size_t len;
	int got = ap_reader_next(r, &len);
	if (got > 0) {
		lua_pushlstring(L, r->line, len);
		return 1;
	}
	lua_pushnil(L);
	if (got == 0)
		return 1;
	lua_pushstring(L, ap_reader_error(r));
	lua_pushinteger(L, r->lineno);
	return 3;
}

static int l_lineno(lua_State *L)
{
	lua_pushinteger(L, ((struct ap_reader *)luaL_checkudata(L, 1, READER))->lineno);
	return 1;
}

static int l_reader_close(lua_State *L)
{
	ap_reader_close(luaL_checkudata(L, 1, READER));
	return 0;
}

/* core.inflate(s) -> the decompressed zlib stream s | nil, message */
static int l_inflate(lua_State *L)
{
	size_t n, outn;
	const char *s = luaL_checklstring(L, 1, &n);
	char *out;
	int err = ap_inflate(s, n, &out, &outn);
	if (err == -EINVAL) {
		lua_pushnil(L);
		lua_pushliteral(L, "not a complete zlib stream");
		return 2;
	}
	if (err)
		return ap_lua_fail(L, -err, "inflate");
	lua_pushlstring(L, out, outn);
	free(out);
	return 1;
}

static const luaL_Reg writer_methods[] = {
	{"write", l_write},
	{"commit", l_commit},
	{"abort", l_abort},
	{"close", l_abort},
	{NULL, NULL},
};

static const luaL_Reg reader_methods[] = {
	{"read", l_read},
	{"lineno", l_lineno},
	{"close", l_reader_close},
	{NULL, NULL},
};

void ap_lua_io(lua_State *L)
{
	ap_lua_class(L, WRITER, writer_methods, l_abort);
	ap_lua_class(L, READER, reader_methods, l_reader_close);
	lua_pushcfunction(L, l_writer);
	lua_setfield(L, -2, "writer");
	lua_pushcfunction(L, l_reader);
	lua_setfield(L, -2, "reader");
	lua_pushcfunction(L, l_inflate);
	lua_setfield(L, -2, "inflate");
}
