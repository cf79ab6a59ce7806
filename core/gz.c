/* Reading: a file's bytes, inflated when it is gzip (RFC 1952, members
 * one after another as gzip -c a b > f makes them) and as they are when
 * it is not, as zlib's gzread gives them. Built with ISA-L (Debian's
 * libisal-dev) its inflate does the work: 4-5x zlib's on run files (make
 * bench-aggregate). Writing: deflated at level 1, by ISA-L too (5x
 * zlib's level 1 on run files, and a smaller file), or plain. A static
 * build (the arm64 lane: Debian ships no libisal.a) uses zlib for both. */
#include "gz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IN_SIZE (1 << 17)

#ifdef AP_ISAL
#include <isa-l/igzip_lib.h>

enum { UNKNOWN, GZIP, PLAIN, ENDED }; /* what the bytes at ipos are */

struct ap_gz {
	int fd;
	int mode;
	int eof;   /* read(2) said end of file */
	uint8_t *in;
	size_t ipos, ilen;
	struct inflate_state st;
	char err[96];
};

static int refill(struct ap_gz *g)
{
	if (g->ipos > 0) {
		memmove(g->in, g->in + g->ipos, g->ilen - g->ipos);
		g->ilen -= g->ipos;
		g->ipos = 0;
	}
	while (!g->eof && g->ilen < IN_SIZE) {
		ssize_t n = read(g->fd, g->in + g->ilen, IN_SIZE - g->ilen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(g->err, sizeof(g->err), "%s", strerror(errno));
			return -1;
		}
		if (n == 0)
			g->eof = 1;
		g->ilen += (size_t)n;
		if (n > 0)
			break;
	}
	return 0;
}

static void member_start(struct ap_gz *g)
{
	isal_inflate_init(&g->st);
	g->st.crc_flag = ISAL_GZIP;
}

/* At a member's start or after one ended: GZIP, or what follows is not
 * gzip; at the very start that is a PLAIN file, after a member trailing
 * bytes that are ignored (ENDED). */
static int classify(struct ap_gz *g, int first)
{
	while (g->ilen - g->ipos < 2 && !g->eof)
		if (refill(g))
			return -1;
	const uint8_t *p = g->in + g->ipos;
	if (g->ilen - g->ipos >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
		member_start(g);
		return g->mode = GZIP;
	}
	return g->mode = first ? PLAIN : ENDED;
}

static const char *why(int rc)
{
	switch (rc) {
	case ISAL_INVALID_BLOCK:
		return "invalid deflate block";
	case ISAL_INVALID_SYMBOL:
		return "invalid deflate symbol";
	case ISAL_INVALID_LOOKBACK:
		return "invalid distance too far back";
	case ISAL_INVALID_WRAPPER:
		return "invalid gzip header";
	case ISAL_UNSUPPORTED_METHOD:
		return "unknown compression method";
	case ISAL_INCORRECT_CHECKSUM:
		return "incorrect data check";
	default:
		return "corrupt gzip stream";
	}
}

struct ap_gz *ap_gz_open(int fd)
{
	struct ap_gz *g = calloc(1, sizeof(*g));
	if (!g || !(g->in = malloc(IN_SIZE))) {
		free(g);
		close(fd);
		return NULL;
	}
	g->fd = fd;
	return g;
}

long ap_gz_read(struct ap_gz *g, void *buf, size_t n)
{
	if (g->err[0])
		return -1;
	if (n > INT32_MAX)
		n = INT32_MAX;
	if (g->mode == UNKNOWN && classify(g, 1) < 0)
		return -1;
	for (;;) {
		if (g->mode == ENDED)
			return 0;
		if (g->mode == PLAIN) {
			if (g->ipos == g->ilen) {
				if (g->eof)
					return 0;
				if (refill(g))
					return -1;
				continue;
			}
			size_t k = g->ilen - g->ipos < n ? g->ilen - g->ipos : n;
			memcpy(buf, g->in + g->ipos, k);
			g->ipos += k;
			return (long)k;
		}
		if (g->ipos == g->ilen && !g->eof && refill(g))
			return -1;
		g->st.next_in = g->in + g->ipos;
		g->st.avail_in = (uint32_t)(g->ilen - g->ipos);
		g->st.next_out = buf;
		g->st.avail_out = (uint32_t)n;
		int rc = isal_inflate(&g->st);
		g->ipos = g->ilen - g->st.avail_in;
		size_t got = n - g->st.avail_out;
		if (rc < 0) {
			snprintf(g->err, sizeof(g->err), "%s", why(rc));
			return -1;
		}
		if (g->st.block_state == ISAL_BLOCK_FINISH) {
			if (classify(g, 0) < 0)
				return -1;
		} else if (got == 0 && g->ipos == g->ilen && g->eof) {
			snprintf(g->err, sizeof(g->err), "unexpected end of file");
			return -1;
		}
		if (got > 0)
			return (long)got;
	}
}

void ap_gz_close(struct ap_gz *g)
{
	if (!g)
		return;
	close(g->fd);
	free(g->in);
	free(g);
}

#else /* zlib */
#include <zlib.h>

struct ap_gz {
	gzFile gz;
	char err[96];
};

struct ap_gz *ap_gz_open(int fd)
{
	struct ap_gz *g = calloc(1, sizeof(*g));
	if (!g || !(g->gz = gzdopen(fd, "rb"))) {
		free(g);
		close(fd);
		return NULL;
	}
	gzbuffer(g->gz, 1 << 17);
	return g;
}

long ap_gz_read(struct ap_gz *g, void *buf, size_t n)
{
	if (n > INT32_MAX)
		n = INT32_MAX;
	int got = gzread(g->gz, buf, (unsigned)n);
	if (got < 0) {
		int zerr;
		snprintf(g->err, sizeof(g->err), "%s", gzerror(g->gz, &zerr));
		return -1;
	}
	return got;
}

void ap_gz_close(struct ap_gz *g)
{
	if (!g)
		return;
	gzclose(g->gz);
	free(g);
}

#endif

/* Both readers keep their last error's text in err. */
const char *ap_gz_error(struct ap_gz *g)
{
	return g->err;
}

/* Writing. A plain file (results.csv: gigabytes) goes to the disk with
 * O_DIRECT where the file system takes it: no copy into the page cache,
 * which costs more than all of aggregate's parsing here (a KVM guest
 * whose memory the host hands out on first touch: 8 s of system time to
 * write 2 GB through the cache, 0.25 s direct). Whole aligned blocks are
 * written; the last one padded, then the file cut to its length. Where
 * O_DIRECT is refused (tmpfs), plain writes. Compressed files (run files:
 * small, written while a workload runs) go through the cache. */
#define PLAIN_SIZE (1 << 20)
#define ALIGN 4096

#ifdef AP_ISAL
#define OUT_SIZE (1 << 17)
#endif

struct ap_gzw {
	int fd;
	int compress;
	int direct;      /* O_DIRECT is set on fd */
	int err;
	uint8_t *buf;    /* plain: PLAIN_SIZE, ALIGN-aligned; ISA-L: its input */
	size_t len;
	long long total; /* bytes given (the plain file's length) */
#ifdef AP_ISAL
	uint8_t *out;
	struct isal_zstream st;
	uint8_t *level_buf;
#else
	gzFile gz;
#endif
};

static int put(struct ap_gzw *g, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(g->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EINVAL && g->direct) {
			/* the file system will not write this directly after all */
			int fl = fcntl(g->fd, F_GETFL);
			if (fl < 0 || fcntl(g->fd, F_SETFL, fl & ~O_DIRECT) < 0)
				return g->err = -EINVAL;
			g->direct = 0;
			continue;
		}
		if (k < 0)
			return g->err = -errno;
		if (k == 0)
			return g->err = -EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The plain buffer out: whole when full; at the end padded to a block
 * under O_DIRECT and the file cut back to its length. */
static int plain_flush(struct ap_gzw *g, int last)
{
	size_t n = g->len;
	if (!n)
		return 0;
	if (last && g->direct && n % ALIGN) {
		size_t pad = (n + ALIGN - 1) / ALIGN * ALIGN;
		memset(g->buf + n, 0, pad - n);
		if (put(g, g->buf, pad))
			return g->err;
		g->len = 0;
		if (ftruncate(g->fd, (off_t)g->total) < 0)
			return g->err = -errno;
		return 0;
	}
	g->len = 0;
	return put(g, g->buf, n);
}

#ifdef AP_ISAL
/* Deflates the buffered input; the stream's end when last. */
static int deflate_buf(struct ap_gzw *g, int last)
{
	g->st.next_in = g->buf;
	g->st.avail_in = (uint32_t)g->len;
	g->st.end_of_stream = (uint16_t)last;
	do {
		g->st.next_out = g->out;
		g->st.avail_out = OUT_SIZE;
		if (isal_deflate(&g->st) != COMP_OK)
			return g->err = -EIO;
		size_t made = OUT_SIZE - g->st.avail_out;
		if (made && put(g, g->out, made))
			return g->err;
	} while (g->st.avail_in > 0 || (last && g->st.internal_state.state != ZSTATE_END));
	g->len = 0;
	return 0;
}

static int z_open(struct ap_gzw *g)
{
	if (!(g->out = malloc(OUT_SIZE)) || !(g->level_buf = malloc(ISAL_DEF_LVL1_DEFAULT)))
		return -1;
	isal_deflate_init(&g->st);
	g->st.level = 1;
	g->st.level_buf = g->level_buf;
	g->st.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
	g->st.gzip_flag = IGZIP_GZIP;
	return 0;
}

static int buffered(struct ap_gzw *g, const uint8_t *p, size_t n, size_t cap,
		    int (*out)(struct ap_gzw *, int));

static int z_write(struct ap_gzw *g, const uint8_t *p, size_t n)
{
	return buffered(g, p, n, IN_SIZE, deflate_buf);
}

/* Ends the stream: 0 or -errno. */
static int z_close(struct ap_gzw *g)
{
	int err = g->err ? g->err : deflate_buf(g, 1);
	free(g->out);
	free(g->level_buf);
	return err;
}
#else
static int z_open(struct ap_gzw *g)
{
	int fd = dup(g->fd); /* gzclose closes its own */
	if (fd < 0 || !(g->gz = gzdopen(fd, "wb1"))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	gzbuffer(g->gz, 1 << 16);
	return 0;
}

/* The errno of zlib's last failure (a write(2) refused: ENOSPC, EDQUOT,
 * EIO ...), or EIO when zlib itself failed. */
static int gz_errno(gzFile gz, int saved)
{
	int zerr;
	gzerror(gz, &zerr);
	return zerr == Z_ERRNO && saved ? saved : EIO;
}

static int z_write(struct ap_gzw *g, const uint8_t *p, size_t n)
{
	while (n && !g->err) {
		/* gzwrite takes an unsigned count: big buffers go in pieces */
		unsigned k = n > (1u << 30) ? (1u << 30) : (unsigned)n;
		errno = 0;
		if (gzwrite(g->gz, p, k) != (int)k)
			g->err = -gz_errno(g->gz, errno);
		p += k;
		n -= k;
	}
	return g->err;
}

static int z_close(struct ap_gzw *g)
{
	errno = 0;
	int zrc = g->gz ? gzclose(g->gz) : Z_OK;
	int err = g->err;
	if (!err && zrc != Z_OK)
		err = -(zrc == Z_ERRNO && errno ? errno : EIO);
	return err;
}
#endif

struct ap_gzw *ap_gzw_open(int fd, int compress)
{
	struct ap_gzw *g = calloc(1, sizeof(*g));
	if (!g) {
		close(fd);
		return NULL;
	}
	g->fd = fd;
	g->compress = compress;
	void *buf = NULL;
	if (posix_memalign(&buf, ALIGN, compress ? IN_SIZE : PLAIN_SIZE)) {
		free(g);
		close(fd);
		return NULL;
	}
	g->buf = buf;
	if (compress && z_open(g)) {
		g->err = -ENOMEM;
		ap_gzw_close(g);
		return NULL;
	}
	if (!compress) {
		int fl = fcntl(fd, F_GETFL);
		g->direct = fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;
	}
	return g;
}

/* n bytes into g's buffer of cap bytes, handed to out each time it fills. */
static int buffered(struct ap_gzw *g, const uint8_t *p, size_t n, size_t cap,
		    int (*out)(struct ap_gzw *, int))
{
	while (n && !g->err) {
		size_t k = cap - g->len < n ? cap - g->len : n;
		memcpy(g->buf + g->len, p, k);
		g->len += k;
		g->total += (long long)k;
		p += k;
		n -= k;
		if (g->len == cap)
			out(g, 0);
	}
	return g->err;
}

int ap_gzw_write(struct ap_gzw *g, const void *buf, size_t n)
{
	if (g->compress)
		return z_write(g, buf, n);
	return buffered(g, buf, n, PLAIN_SIZE, plain_flush);
}

int ap_gzw_close(struct ap_gzw *g)
{
	if (!g)
		return -EBADF;
	int err = g->compress ? z_close(g) : g->err ? g->err : plain_flush(g, 1);
	if (close(g->fd) < 0 && !err)
		err = -errno;
	free(g->buf);
	free(g);
	return err;
}
