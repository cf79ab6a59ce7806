#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

#define CHUNK (1 << 20)
#define NBUF 3

/* The inflating thread's side: NBUF chunks passed round a ring. */
struct ap_prefetch {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	gzFile gz;
	char *buf[NBUF];
	size_t len[NBUF];
	int full[NBUF];
	int head, tail; /* next chunk to take, next to fill */
	int done, stop; /* no more chunks; the reader is closing */
	char msg[128];  /* why it stopped early, or "" */
};

static void *prefetch_main(void *arg)
{
	struct ap_prefetch *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->full[p->tail] && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		int t = p->tail;
		pthread_mutex_unlock(&p->mu);
		int n = gzread(p->gz, p->buf[t], CHUNK);
		char msg[128] = "";
		if (n < 0) {
			int zerr;
			snprintf(msg, sizeof(msg), "%s", gzerror(p->gz, &zerr));
		}
		pthread_mutex_lock(&p->mu);
		if (n > 0) {
			p->len[t] = (size_t)n;
			p->full[t] = 1;
			p->tail = (t + 1) % NBUF;
		} else {
			snprintf(p->msg, sizeof(p->msg), "%s", msg);
			p->done = 1;
		}
		pthread_cond_broadcast(&p->cv);
		if (p->done)
			break;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void prefetch_free(struct ap_prefetch *p, int joined)
{
	if (joined) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
	}
	for (int i = 0; i < NBUF; i++)
		free(p->buf[i]);
	free(p);
}

static struct ap_prefetch *prefetch_start(gzFile gz)
{
	struct ap_prefetch *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->gz = gz;
	for (int i = 0; i < NBUF; i++)
		if (!(p->buf[i] = malloc(CHUNK)))
			goto fail;
	if (pthread_mutex_init(&p->mu, NULL))
		goto fail;
	if (pthread_cond_init(&p->cv, NULL)) {
		pthread_mutex_destroy(&p->mu);
		goto fail;
	}
	if (pthread_create(&p->th, NULL, prefetch_main, p)) {
		prefetch_free(p, 1);
		return NULL;
	}
	return p;
fail:
	prefetch_free(p, 0);
	return NULL;
}

static void prefetch_stop(struct ap_prefetch *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	prefetch_free(p, 1);
}

int ap_reader_open(struct ap_reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int big = fstat(fd, &st) == 0 && st.st_size >= AP_PREFETCH_MIN;
	r->gz = gzdopen(fd, "rb");
	if (!r->gz) {
		close(fd);
		return -ENOMEM;
	}
	gzbuffer(r->gz, 1 << 17);
	r->cap = 256;
	r->line = malloc(r->cap);
	/* Without a thread (small file, or none to be had) chunks are read
	 * here, into a buffer of our own. */
	if (r->line && big)
		r->pf = prefetch_start(r->gz);
	if (r->line && !r->pf)
		r->chunk = malloc(CHUNK);
	if (!r->line || (!r->pf && !r->chunk)) {
		free(r->line);
		r->line = NULL;
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

/* The next chunk into r->chunk: 1, or 0 at the end (r->err set when the
 * stream broke). */
static int next_chunk(struct ap_reader *r)
{
	r->cpos = r->clen = 0;
	if (r->zdone)
		return 0;
	struct ap_prefetch *p = r->pf;
	if (!p) {
		int n = gzread(r->gz, r->chunk, CHUNK);
		if (n > 0) {
			r->clen = (size_t)n;
			return 1;
		}
		r->zdone = 1;
		if (n < 0) {
			int zerr;
			fail(r, gzerror(r->gz, &zerr));
		}
		return 0;
	}
	pthread_mutex_lock(&p->mu);
	if (r->chunk) { /* hand the last one back */
		p->full[p->head] = 0;
		p->head = (p->head + 1) % NBUF;
		r->chunk = NULL;
		pthread_cond_broadcast(&p->cv);
	}
	while (!p->full[p->head] && !p->done)
		pthread_cond_wait(&p->cv, &p->mu);
	int got = p->full[p->head];
	if (got) {
		r->chunk = p->buf[p->head];
		r->clen = p->len[p->head];
	} else {
		r->zdone = 1;
		if (p->msg[0])
			fail(r, p->msg);
	}
	pthread_mutex_unlock(&p->mu);
	return got;
}

/* Appends n bytes to the line being built (of length *len). */
static int append(struct ap_reader *r, size_t *len, const char *s, size_t n)
{
	if (*len + n + 1 > r->cap) {
		size_t cap = r->cap;
		while (*len + n + 1 > cap)
			cap *= 2;
		char *line = realloc(r->line, cap);
		if (!line)
			return -1;
		r->line = line;
		r->cap = cap;
	}
	memcpy(r->line + *len, s, n);
	*len += n;
	return 0;
}

int ap_reader_next(struct ap_reader *r, size_t *len)
{
	if (!r->gz)
		return fail(r, "reader is closed");
	if (r->eof)
		return 0;
	size_t n = 0;
	for (;;) {
		if (r->cpos == r->clen && !next_chunk(r)) {
			if (r->err[0])
				break; /* the stream broke: a line cut short, or none */
			if (n == 0) {
				r->eof = 1;
				return 0;
			}
			r->lineno++;
			return fail(r, "line has no end (file cut short)");
		}
		const char *s = r->chunk + r->cpos;
		size_t avail = r->clen - r->cpos;
		const char *nl = memchr(s, '\n', avail);
		size_t take = nl ? (size_t)(nl - s) : avail;
		if (append(r, &n, s, take))
			return fail(r, "out of memory");
		r->cpos += take + (nl != NULL);
		if (nl) {
			r->line[n] = '\0';
			r->lineno++;
			*len = n;
			return 1;
		}
	}
	r->lineno++;
	r->eof = 1;
	return -1;
}

const char *ap_reader_error(struct ap_reader *r)
{
	return r->err;
}

void ap_reader_close(struct ap_reader *r)
{
	if (r->pf) {
		prefetch_stop(r->pf);
		r->pf = NULL;
	} else {
		free(r->chunk);
	}
	r->chunk = NULL;
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
