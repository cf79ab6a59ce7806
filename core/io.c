#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ap_writer_open(struct ap_writer *w, const char *path, int compress)
{
	memset(w, 0, sizeof(*w));
	int err = -ENOMEM;
	w->path = strdup(path);
	if (!w->path || asprintf(&w->tmp, "%s.tmp", path) < 0) {
		w->tmp = NULL;
		goto fail;
	}
	int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	/* "T": zlib writes plain bytes through the same interface. */
	w->gz = gzdopen(fd, compress ? "wb1" : "wbT");
	if (!w->gz) {
		close(fd);
		unlink(w->tmp);
		goto fail;
	}
	gzbuffer(w->gz, 1 << 16);
	return 0;
fail:
	free(w->path);
	free(w->tmp);
	memset(w, 0, sizeof(*w));
	return err;
}

int ap_writer_write(struct ap_writer *w, const void *buf, size_t len)
{
	if (!w->gz)
		return -EBADF;
	if (len && gzwrite(w->gz, buf, (unsigned)len) != (int)len)
		return -EIO;
	return 0;
}

static void release(struct ap_writer *w)
{
	free(w->path);
	free(w->tmp);
	w->path = w->tmp = NULL;
	w->gz = NULL;
}

int ap_writer_commit(struct ap_writer *w)
{
	if (!w->gz)
		return -EBADF;
	int err = 0;
	/* gzclose would close the descriptor before we can fsync it. */
	int fd = open(w->tmp, O_RDONLY | O_CLOEXEC);
	if (gzclose(w->gz) != Z_OK)
		err = -EIO;
	w->gz = NULL;
	if (!err && (fd < 0 || fsync(fd) < 0))
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (!err && rename(w->tmp, w->path) < 0)
		err = -errno;
	if (err)
		unlink(w->tmp);
	release(w);
	return err;
}

void ap_writer_abort(struct ap_writer *w)
{
	if (w->gz) {
		gzclose(w->gz);
		unlink(w->tmp);
	}
	release(w);
}

int ap_reader_open(struct ap_reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r->gz = gzdopen(fd, "rb");
	if (!r->gz) {
		close(fd);
		return -ENOMEM;
	}
	gzbuffer(r->gz, 1 << 16);
	r->cap = 256;
	r->line = malloc(r->cap);
	if (!r->line) {
		gzclose(r->gz);
		r->gz = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int fail(struct ap_reader *r, const char *what)
{
	snprintf(r->err, sizeof(r->err), "%s", what);
	return -1;
}

int ap_reader_next(struct ap_reader *r, size_t *len)
{
	if (!r->gz)
		return fail(r, "reader is closed");
	if (r->eof)
		return 0;
	size_t n = 0;
	for (;;) {
		if (!gzgets(r->gz, r->line + n, (int)(r->cap - n))) {
			int zerr;
			const char *msg = gzerror(r->gz, &zerr);
			if (zerr != Z_OK && zerr != Z_STREAM_END)
				return fail(r, msg);
			if (n == 0) {
				r->eof = 1;
				return 0;
			}
			break; /* a last line without newline */
		}
		n += strlen(r->line + n);
		if (n > 0 && r->line[n - 1] == '\n')
			break;
		if (n + 1 < r->cap) {
			if (gzeof(r->gz))
				break;
			continue;
		}
		size_t cap = 2 * r->cap;
		char *line = realloc(r->line, cap);
		if (!line)
			return fail(r, "out of memory");
		r->line = line;
		r->cap = cap;
	}
	r->lineno++;
	if (n == 0 || r->line[n - 1] != '\n') {
		/* Distinguish a cut gzip stream from a cut plain file. */
		int zerr;
		const char *msg = gzerror(r->gz, &zerr);
		return fail(r, zerr != Z_OK ? msg
				       : "line has no end (file cut short)");
	}
	r->line[--n] = '\0';
	*len = n;
	return 1;
}

const char *ap_reader_error(struct ap_reader *r)
{
	return r->err;
}

void ap_reader_close(struct ap_reader *r)
{
	if (r->gz)
		gzclose(r->gz);
	free(r->line);
	r->gz = NULL;
	r->line = NULL;
}

int ap_inflate(const void *src, size_t n, char **out, size_t *outn)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return -ENOMEM;
	size_t cap = n * 4 + 64, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		goto nomem;
	z.next_in = (Bytef *)src;
	z.avail_in = (uInt)n;
	for (;;) {
		if (len == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				goto nomem;
			buf = nb;
			cap *= 2;
		}
		z.next_out = (Bytef *)buf + len;
		z.avail_out = (uInt)(cap - len);
		int rc = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
		if (rc == Z_STREAM_END)
			break;
		if (rc == Z_OK)
			continue;
		if (rc == Z_BUF_ERROR && z.avail_out == 0)
			continue;
		free(buf);
		inflateEnd(&z);
		return -EINVAL; /* corrupt or cut short */
	}
	inflateEnd(&z);
	*out = buf;
	*outn = len;
	return 0;
nomem:
	free(buf);
	inflateEnd(&z);
	return -ENOMEM;
}
