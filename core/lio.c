#include "io.h"
#include "lcore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRITER "autoperf.writer"
#define READER "autoperf.reader"

/* core.writer(path[, compress[, base]]) -> writer | nil, message, errno.
 * Bytes go to path.tmp until :commit() renames it onto path. With base (a
 * prefix of path, a directory), the directories of path below base are
 * entered without following a symbolic link (ap_writer_open_below). */
static int l_writer(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int compress = lua_toboolean(L, 2);
	const char *base = luaL_optstring(L, 3, NULL);
	struct ap_writer *w = lua_newuserdatauv(L, sizeof(*w), 0);
	memset(w, 0, sizeof(*w));
	w->fd = w->dirfd = -1;
	luaL_setmetatable(L, WRITER);
	int err;
	if (base) {
		size_t n = strlen(base);
		while (n > 1 && base[n - 1] == '/')
			n--;
		if (strncmp(path, base, n) != 0 || path[n] != '/' || !path[n + 1])
			return luaL_error(L, "core.writer: %s is not below %s", path, base);
		lua_pushlstring(L, base, n);
		err = ap_writer_open_below(w, lua_tostring(L, -1), path + n + 1, compress);
		lua_pop(L, 1);
		if (!err) {
			/* the path as the caller spelled it, for messages */
			char *p = strdup(path);
			if (p) {
				free(w->path);
				w->path = p;
			}
		}
	} else {
		err = ap_writer_open(w, path, compress);
	}
	if (err) {
		lua_pushnil(L);
		lua_pushstring(L, w->why[0] ? w->why : strerror(-err));
		lua_pushinteger(L, -err);
		return 3;
	}
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

/* writer:commit_with(other) -> true | nil, message, errno: both land
 * together (ap_writer_commit_pair): other's file never without this one's. */
static int l_commit_with(lua_State *L)
{
	struct ap_writer *w = luaL_checkudata(L, 1, WRITER);
	struct ap_writer *o = luaL_checkudata(L, 2, WRITER);
	luaL_argcheck(L, w != o, 2, "another writer expected");
	lua_pushstring(L, w->path ? w->path : "commit");
	lua_pushstring(L, o->path ? o->path : "commit");
	int err = ap_writer_commit_pair(w, o);
	if (err)
		return ap_lua_fail(L, -err, lua_tostring(L, o->err ? -1 : -2));
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

/* core.mkdirs_below(base, rel) -> true | nil, message, errno: mkdir -p
 * base/rel, no symbolic link followed below base. */
static int l_mkdirs_below(lua_State *L)
{
	const char *base = luaL_checkstring(L, 1);
	const char *rel = luaL_checkstring(L, 2);
	char why[512];
	int err = ap_mkdirs_below(base, rel, why, sizeof(why));
	if (err) {
		lua_pushnil(L);
		lua_pushstring(L, why);
		lua_pushinteger(L, -err);
		return 3;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* core.slurp(path, max) -> the bytes of path | nil, message, errno: a file
 * of autoperf's own (a manifest, a journal) read whole, refused when it is
 * a symbolic link, not a regular file, or larger than max bytes. */
static int l_slurp(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	lua_Integer max = luaL_checkinteger(L, 2);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		if (err == ELOOP) {
			lua_pushnil(L);
			lua_pushfstring(L, "%s: a symbolic link (refused: read only as a regular file)", path);
			lua_pushinteger(L, err);
			return 3;
		}
		return ap_lua_fail(L, err, path);
	}
	struct stat st;
	const char *why = NULL;
	if (fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file (refused)";
	else if (st.st_size > max)
		why = "too large to be autoperf's";
	if (why) {
		close(fd);
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s", path, why);
		lua_pushinteger(L, EINVAL);
		return 3;
	}
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	lua_Integer total = 0;
	for (;;) {
		char *p = luaL_prepbuffer(&b);
		ssize_t n = read(fd, p, LUAL_BUFFERSIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			close(fd);
			return ap_lua_fail(L, err, path);
		}
		if (n == 0)
			break;
		total += n;
		if (total > max) { /* grew while read */
			close(fd);
			lua_pushnil(L);
			lua_pushfstring(L, "%s: too large to be autoperf's", path);
			lua_pushinteger(L, EINVAL);
			return 3;
		}
		luaL_addsize(&b, (size_t)n);
	}
	close(fd);
	luaL_pushresult(&b);
	return 1;
}

/* core.mkdtemp() -> a new private directory (0700) in $TMPDIR or /tmp |
 * nil, message, errno: somewhere a helper (gnuplot) can write that no one
 * else can plant a link in. */
static int l_mkdtemp(lua_State *L)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/autoperf.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(path))
		return ap_lua_fail(L, errno, path);
	lua_pushstring(L, path);
	return 1;
}

/* core.file_kind(path) -> "file" | "dir" | "link" | "other", mtime (ns
 * since the epoch) | nil, message, errno (lstat: a link is not followed). */
static int l_file_kind(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct stat st;
	if (lstat(path, &st) < 0)
		return ap_lua_fail(L, errno, path);
	lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir"
					     : S_ISLNK(st.st_mode)   ? "link"
								     : "other");
	lua_pushinteger(L, (lua_Integer)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
	return 2;
}

static const luaL_Reg writer_methods[] = {
	{"write", l_write},
	{"commit", l_commit},
	{"commit_with", l_commit_with},
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

static const luaL_Reg funcs[] = {
	{"writer", l_writer},
	{"reader", l_reader},
	{"inflate", l_inflate},
	{"mkdirs_below", l_mkdirs_below},
	{"slurp", l_slurp},
	{"mkdtemp", l_mkdtemp},
	{"file_kind", l_file_kind},
	{NULL, NULL},
};

void ap_lua_io(lua_State *L)
{
	ap_lua_class(L, WRITER, writer_methods, l_abort);
	ap_lua_class(L, READER, reader_methods, l_reader_close);
	luaL_setfuncs(L, funcs, 0);
}
