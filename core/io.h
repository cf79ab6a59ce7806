/* io: line streams of gzip or plain files (gz.c); writes land atomically
 * (temp + rename). */
#ifndef AP_IO_H
#define AP_IO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ap_gzw;

struct ap_writer {
	struct ap_gzw *gz;
	char *path;  /* final name, as given (for messages) */
	char *name;  /* its last component, in dirfd */
	char *tmp;   /* where the bytes go until commit, in dirfd */
	int dirfd;   /* the directory it lands in */
	int fd;      /* the temp file (a dup kept to fsync it) */
	int err;     /* -errno of the first failed write: later ones fail too */
	size_t since;  /* bytes written since the last writeback was started */
	long long kicked; /* the file's bytes whose writeback has been started */
	char why[320]; /* after a failed open: the whole message */
};

/* Opens path.tmp for writing; gzip-compressed when compress != 0, plain
 * otherwise. The directory of path is the caller's (followed as named);
 * the temporary file is made anew (O_EXCL | O_NOFOLLOW: a link planted at
 * its name is removed, never written through) and commit renames it onto
 * path (replacing a link there, never following it). Returns 0 or -errno
 * (w->why then says what failed, naming the file). */
int ap_writer_open(struct ap_writer *w, const char *path, int compress);
/* The same for base/rel, where every directory of rel below base is
 * entered without following a symbolic link (-ELOOP: one is a link) and
 * '..' is refused (-EPERM): files autoperf writes inside a directory
 * someone else controls never land outside it. */
int ap_writer_open_below(struct ap_writer *w, const char *base, const char *rel,
			 int compress);
/* Returns 0 or the -errno of the write (ENOSPC on a full disk); after a
 * failure every later write and the commit fail with the same. */
int ap_writer_write(struct ap_writer *w, const void *buf, size_t len);
/* Flushes, fsyncs and renames onto path. Returns 0 or -errno; on error
 * the temp file is removed. */
int ap_writer_commit(struct ap_writer *w);
/* Commits two writers together: both are flushed and synced before
 * either is renamed, first then second, so the second never lands
 * without the first. On failure both temp files are removed, what was
 * renamed stays, and the failing one has its err set. */
int ap_writer_commit_pair(struct ap_writer *first, struct ap_writer *second);
/* Drops the temp file; safe to call after commit or twice. */
void ap_writer_abort(struct ap_writer *w);
/* mkdir -p of base/rel, entering every directory of rel without
 * following a symbolic link. Returns 0 or -errno with a message in why. */
int ap_mkdirs_below(const char *base, const char *rel, char *why, size_t whylen);

struct ap_prefetch;
struct ap_gz;

struct ap_reader {
	struct ap_gz *gz;
	/* The current line, NUL-terminated, without its newline: in the
	 * chunk it was inflated into when it lies in one (no copy), else
	 * built up in own; room bytes may be read from it (a parser's
	 * 8-byte loads past the NUL stay inside). */
	char *line;
	size_t room;
	char *own;
	size_t cap;   /* of own */
	long lineno;  /* 1-based number of the current line */
	int eof;
	char err[160];
	/* Lines are split out of chunks of inflated bytes. A big file is
	 * inflated ahead by a thread (pf) while the caller parses: inflating
	 * is most of the cost of reading a gzip run file. */
	struct ap_prefetch *pf;
	char *chunk;  /* the chunk being split (pf's, or own when pf is NULL) */
	size_t clen, cpos;
	int zdone;    /* no chunk will follow */
	int flags;    /* AP_READ_* */
};

/* Reads plain and gzip files alike; files of AP_PREFETCH_MIN bytes or
 * more are inflated ahead on a thread of their own. Returns 0 or -errno. */
#define AP_PREFETCH_MIN (1 << 20)
/* Longer lines are an error: memory stays bounded however well a file
 * compresses. */
#define AP_LINE_MAX (1 << 20)
int ap_reader_open(struct ap_reader *r, const char *path);
/* AP_READ_OWN: a file of autoperf's own inside a directory it reads (a
 * run file named by a journal): a symbolic link is refused (-ELOOP), and
 * anything but a regular file (a FIFO would block) too (-EINVAL, -EISDIR).
 * AP_READ_UNTERMINATED: a last line without a newline is a line (a file
 * written by other tools), not a file cut short. */
#define AP_READ_OWN 1
#define AP_READ_UNTERMINATED 2
int ap_reader_open_flags(struct ap_reader *r, const char *path, int flags);
/* Next line: 1 got one, 0 end of file, -1 error (see ap_reader_error).
 * A last line without a newline is reported as an error: the file was
 * cut short. */
/* Decompresses a whole zlib stream (RFC 1950, as in PNG's IDAT chunks)
 * into a new buffer *out of *outn bytes (the caller frees it). Returns 0,
 * -EINVAL for a corrupt or truncated stream, or -ENOMEM. */
int ap_inflate(const void *src, size_t n, char **out, size_t *outn);

int ap_reader_next(struct ap_reader *r, size_t *len);
const char *ap_reader_error(struct ap_reader *r);
void ap_reader_close(struct ap_reader *r);

/* Decimal integers for CSV lines, fast (no locale, no snprintf; inline:
 * a results.csv row takes three): write v at p (room for 20 digits and a
 * sign) and return the end. */
static const char ap_digits2[] =
	"00010203040506070809101112131415161718192021222324252627282930313233"
	"34353637383940414243444546474849505152535455565758596061626364656667"
	"68697071727374757677787980818283848586878889909192939495969798"
	"99";

static inline char *ap_put_u64(char *p, uint64_t v)
{
	static const uint64_t pow10[20] = {
		1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
		10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
		100000000000ULL, 1000000000000ULL, 10000000000000ULL,
		100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
		100000000000000000ULL, 1000000000000000000ULL,
		10000000000000000000ULL};
	if (v < 10) {
		*p = (char)('0' + v);
		return p + 1;
	}
	/* the digits counted first (log10 from the bit length), then
	 * written from the last: no copy of a variable length */
	const unsigned t = ((64u - (unsigned)__builtin_clzll(v)) * 1233u) >> 12;
	char *end = p + t + (v >= pow10[t]);
	char *q = end;
	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;
		v /= 100;
		*--q = ap_digits2[d + 1];
		*--q = ap_digits2[d];
	}
	if (v >= 10) {
		unsigned d = (unsigned)v * 2;
		*--q = ap_digits2[d + 1];
		*--q = ap_digits2[d];
	} else {
		*--q = (char)('0' + v);
	}
	return end;
}

static inline char *ap_put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return ap_put_u64(p, 0 - (uint64_t)v);
	}
	return ap_put_u64(p, (uint64_t)v);
}

#endif
