#include "io.h"
#include "gz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Opens each directory of rel (a relative path, its last component the
 * file) below dfd without following a symbolic link, creating them when
 * mkdirs. Returns the innermost directory's fd (dfd itself when rel has no
 * directory; the caller owns any other) or -errno, with the offending
 * prefix of rel in why. */
static int walk_below(int dfd, const char *rel, int mkdirs, char *why, size_t whylen)
{
	int cur = dfd;
	const char *p = rel;
	for (;;) {
		while (*p == '/')
			p++;
		const char *slash = strchr(p, '/');
		if (!slash)
			return cur;
		size_t n = (size_t)(slash - p);
		char comp[256];
		int err;
		if (n >= sizeof(comp)) {
			err = -ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (n == 0 || strcmp(comp, ".") == 0) {
			p = slash + 1;
			continue;
		}
		if (strcmp(comp, "..") == 0) {
			err = -EPERM; /* never out of the directory named */
			goto fail;
		}
		if (mkdirs && mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
			err = -errno;
			goto fail;
		}
		int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			err = -errno;
			struct stat st;
			if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				err = -ELOOP;
			goto fail;
		}
		if (cur != dfd)
			close(cur);
		cur = next;
		p = slash + 1;
		continue;
fail:
		snprintf(why, whylen, "%.*s", (int)(slash - rel), rel);
		if (cur != dfd)
			close(cur);
		return err;
	}
}

static void writer_fail_text(struct ap_writer *w, const char *base, const char *what,
			     int err)
{
	if (err == -ELOOP)
		snprintf(w->why, sizeof(w->why),
			 "%s%s%s is a symbolic link: refusing to write through it",
			 base ? base : "", base ? "/" : "", what);
	else if (err == -EPERM && strstr(what, ".."))
		snprintf(w->why, sizeof(w->why), "%s: '..' leaves the directory", what);
	else
		snprintf(w->why, sizeof(w->why), "%s%s%s: %s", base ? base : "",
			 base ? "/" : "", what, strerror(-err));
}

static void release(struct ap_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w->path);
	free(w->name);
	free(w->tmp);
	w->path = w->name = w->tmp = NULL;
	w->fd = w->dirfd = -1;
	w->gz = NULL;
}

int ap_writer_open_below(struct ap_writer *w, const char *base, const char *rel,
			 int compress)
{
	memset(w, 0, sizeof(*w));
	w->dirfd = w->fd = -1;
	char why[256] = "";
	int err = -ENOMEM, fd = -1;
	w->path = malloc(strlen(base) + strlen(rel) + 2);
	if (!w->path)
		goto fail;
	sprintf(w->path, "%s/%s", base, rel);
	int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0) {
		err = -errno;
		snprintf(why, sizeof(why), "%s", base);
		goto fail_text;
	}
	int dfd = walk_below(bfd, rel, 0, why, sizeof(why));
	if (dfd < 0) {
		close(bfd);
		err = dfd;
		goto fail_below;
	}
	if (dfd != bfd)
		close(bfd);
	w->dirfd = dfd;
	const char *name = strrchr(rel, '/');
	name = name ? name + 1 : rel;
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		err = -EISDIR;
		goto fail_path;
	}
	if (!(w->name = strdup(name)) || asprintf(&w->tmp, "%s.tmp", name) < 0) {
		w->tmp = NULL;
		goto fail;
	}
	/* The temporary name is ours: whatever stands there (a link planted
	 * to make us write elsewhere, a leftover) goes, and a new file is
	 * made, never opened through a link (O_EXCL fails on one). */
	if (unlinkat(dfd, w->tmp, 0) < 0 && errno != ENOENT) {
		err = -errno;
		goto fail_path;
	}
	fd = openat(dfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		goto fail_path;
	}
	w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0); /* kept to fsync: ap_gzw_close closes fd */
	if (w->fd < 0) {
		err = -errno;
		goto fail_unlink;
	}
	w->gz = ap_gzw_open(fd, compress);
	if (!w->gz) {
		err = -ENOMEM;
		unlinkat(dfd, w->tmp, 0);
		goto fail_path;
	}
	return 0;
fail_unlink:
	close(fd);
	unlinkat(dfd, w->tmp, 0);
fail_path:
	writer_fail_text(w, NULL, w->path, err);
	goto fail_keep;
fail_below:
	writer_fail_text(w, base, why, err);
	goto fail_keep;
fail_text:
	writer_fail_text(w, NULL, why, err);
	goto fail_keep;
fail:
	writer_fail_text(w, NULL, w->path ? w->path : rel, err);
fail_keep:;
	char keep[sizeof(w->why)];
	memcpy(keep, w->why, sizeof(keep));
	release(w);
	memset(w, 0, sizeof(*w));
	w->dirfd = w->fd = -1;
	memcpy(w->why, keep, sizeof(keep));
	return err;
}

int ap_writer_open(struct ap_writer *w, const char *path, int compress)
{
	const char *slash = strrchr(path, '/');
	char *base = NULL;
	int err;
	if (!slash) {
		err = ap_writer_open_below(w, ".", path, compress);
	} else if (slash == path) {
		err = ap_writer_open_below(w, "/", path + 1, compress);
	} else if (!(base = strndup(path, (size_t)(slash - path)))) {
		memset(w, 0, sizeof(*w));
		w->dirfd = w->fd = -1;
		snprintf(w->why, sizeof(w->why), "%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	} else {
		err = ap_writer_open_below(w, base, slash + 1, compress);
	}
	free(base);
	if (!err) {
		/* the path as the caller spelled it, for messages */
		char *p = strdup(path);
		if (p) {
			free(w->path);
			w->path = p;
		}
	}
	return err;
}

/* Every WRITEBACK bytes the disk is asked to start writing what the file
 * has so far (sync_file_range: it does not wait), so that the fsync of
 * commit waits for the last stretch only, not for a whole big file (a
 * results.csv of 2 GB took 1.3 s to fsync at the end). Advisory: a
 * failure here is fsync's to report. */
#define WRITEBACK (32u << 20)

static void start_writeback(struct ap_writer *w)
{
	w->since = 0;
	off_t end = lseek(w->fd, 0, SEEK_CUR); /* the dup shares the writer's offset */
	if (end > w->kicked) {
		sync_file_range(w->fd, w->kicked, end - w->kicked, SYNC_FILE_RANGE_WRITE);
		w->kicked = end;
	}
}

int ap_writer_write(struct ap_writer *w, const void *buf, size_t len)
{
	if (!w->gz)
		return -EBADF;
	if (w->err)
		return w->err;
	if ((w->err = ap_gzw_write(w->gz, buf, len)))
		return w->err;
	if ((w->since += len) >= WRITEBACK)
		start_writeback(w);
	return 0;
}

int ap_writer_commit(struct ap_writer *w)
{
	if (!w->gz)
		return -EBADF;
	int err = w->err;
	int cerr = ap_gzw_close(w->gz);
	w->gz = NULL;
	if (!err)
		err = cerr;
	if (!err && fsync(w->fd) < 0)
		err = -errno;
	if (!err && renameat(w->dirfd, w->tmp, w->dirfd, w->name) < 0)
		err = -errno;
	if (err)
		unlinkat(w->dirfd, w->tmp, 0);
	release(w);
	return err;
}

int ap_writer_commit_pair(struct ap_writer *first, struct ap_writer *second)
{
	if (!first->gz || !second->gz)
		return -EBADF;
	/* Both written out and synced before either lands: then the first
	 * name, then the second (a reader never sees the second new without
	 * the first). */
	int err = first->err ? first->err : second->err;
	struct ap_writer *w[2] = {first, second};
	for (int i = 0; i < 2; i++) {
		int cerr = ap_gzw_close(w[i]->gz);
		w[i]->gz = NULL;
		if (!err)
			err = cerr;
		if (!err && fsync(w[i]->fd) < 0)
			err = -errno;
		if (err && !w[0]->err && !w[1]->err)
			w[i]->err = err; /* whose it is, for the message */
	}
	for (int i = 0; i < 2 && !err; i++)
		if (renameat(w[i]->dirfd, w[i]->tmp, w[i]->dirfd, w[i]->name) < 0) {
			err = -errno;
			w[i]->err = err;
		}
	for (int i = 0; i < 2; i++) {
		if (err)
			unlinkat(w[i]->dirfd, w[i]->tmp, 0);
		release(w[i]);
	}
	return err;
}

void ap_writer_abort(struct ap_writer *w)
{
	if (w->gz) {
		ap_gzw_close(w->gz);
		unlinkat(w->dirfd, w->tmp, 0);
	}
	release(w);
}

int ap_mkdirs_below(const char *base, const char *rel, char *why, size_t whylen)
{
	int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0) {
		int err = -errno;
		snprintf(why, whylen, "%s: %s", base, strerror(-err));
		return err;
	}
	/* walk_below stops before the last component: give it one more */
	char *path;
	if (asprintf(&path, "%s/.", rel) < 0) {
		close(bfd);
		snprintf(why, whylen, "%s: %s", base, strerror(ENOMEM));
		return -ENOMEM;
	}
	char comp[256] = "";
	int dfd = walk_below(bfd, path, 1, comp, sizeof(comp));
	free(path);
	if (dfd < 0) {
		if (dfd == -ELOOP)
			snprintf(why, whylen, "%s/%s is a symbolic link: refusing to write through it",
				 base, comp);
		else
			snprintf(why, whylen, "%s/%s: %s", base, comp, strerror(-dfd));
		close(bfd);
		return dfd;
	}
	if (dfd != bfd)
		close(dfd);
	close(bfd);
	return 0;
}

#define CHUNK (1 << 20)
#define NBUF 3

/* The inflating thread's side: NBUF chunks passed round a ring. */
struct ap_prefetch {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ap_gz *gz;
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
		long n = ap_gz_read(p->gz, p->buf[t], CHUNK);
		char msg[128] = "";
		if (n < 0)
			snprintf(msg, sizeof(msg), "%s", ap_gz_error(p->gz));
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

static struct ap_prefetch *prefetch_start(struct ap_gz *gz)
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
	return ap_reader_open_flags(r, path, 0);
}

int ap_reader_open_flags(struct ap_reader *r, const char *path, int flags)
{
	memset(r, 0, sizeof(*r));
	r->flags = flags;
	int own = flags & AP_READ_OWN;
	/* O_NONBLOCK: a FIFO planted in its place must not hang the open */
	int fd = open(path, O_RDONLY | O_CLOEXEC | (own ? O_NOFOLLOW | O_NONBLOCK : 0));
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	if (own) {
		if (!S_ISREG(st.st_mode)) {
			close(fd);
			return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	}
	int big = st.st_size >= AP_PREFETCH_MIN;
	r->gz = ap_gz_open(fd);
	if (!r->gz)
		return -ENOMEM;
	r->cap = 256;
	r->own = malloc(r->cap);
	/* Without a thread (small file, or none to be had) chunks are read
	 * here, into a buffer of our own. */
	if (r->own && big)
		r->pf = prefetch_start(r->gz);
	if (r->own && !r->pf)
		r->chunk = malloc(CHUNK);
	if (!r->own || (!r->pf && !r->chunk)) {
		free(r->own);
		r->own = NULL;
		ap_gz_close(r->gz);
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
		long n = ap_gz_read(r->gz, r->chunk, CHUNK);
		if (n > 0) {
			r->clen = (size_t)n;
			return 1;
		}
		r->zdone = 1;
		if (n < 0)
			fail(r, ap_gz_error(r->gz));
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
		char *own = realloc(r->own, cap);
		if (!own)
			return -1;
		r->own = own;
		r->cap = cap;
	}
	memcpy(r->own + *len, s, n);
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
			if (!(r->flags & AP_READ_UNTERMINATED))
				return fail(r, "line has no end (file cut short)");
			r->eof = 1;
			r->own[n] = '\0';
			r->line = r->own;
			r->room = r->cap;
			*len = n;
			return 1;
		}
		char *s = r->chunk + r->cpos;
		size_t avail = r->clen - r->cpos;
		char *nl = memchr(s, '\n', avail);
		size_t take = nl ? (size_t)(nl - s) : avail;
		if (nl && n == 0 && take <= AP_LINE_MAX) {
			/* the whole line in this chunk: handed out where it is */
			*nl = '\0';
			r->cpos += take + 1;
			r->line = s;
			r->room = avail;
			r->lineno++;
			*len = take;
			return 1;
		}
		if (n + take > AP_LINE_MAX) {
			/* a gzip stream of one endless line inflates without end */
			r->lineno++;
			r->eof = 1;
			return fail(r, "line longer than 1 MiB (not a file of lines)");
		}
		if (append(r, &n, s, take))
			return fail(r, "out of memory");
		r->cpos += take + (nl != NULL);
		if (nl) {
			r->own[n] = '\0';
			r->line = r->own;
			r->room = r->cap;
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
	ap_gz_close(r->gz);
	free(r->own);
	r->gz = NULL;
	r->line = r->own = NULL;
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
