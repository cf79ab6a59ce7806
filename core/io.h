/* io: zlib-backed line streams; writes land atomically (temp + rename). */
#ifndef AP_IO_H
#define AP_IO_H

#include <stddef.h>
#include <zlib.h>

struct ap_writer {
	gzFile gz;
	char *path; /* final name */
	char *tmp;  /* where the bytes go until commit */
};

/* Opens path.tmp for writing; gzip-compressed when compress != 0, plain
 * otherwise. Returns 0 or -errno. */
int ap_writer_open(struct ap_writer *w, const char *path, int compress);
int ap_writer_write(struct ap_writer *w, const void *buf, size_t len);
/* Flushes, fsyncs and renames onto path. Returns 0 or -errno; on error
 * the temp file is removed. */
int ap_writer_commit(struct ap_writer *w);
/* Drops the temp file; safe to call after commit or twice. */
void ap_writer_abort(struct ap_writer *w);

struct ap_prefetch;

struct ap_reader {
	gzFile gz;
	char *line;   /* current line, NUL-terminated, without newline */
	size_t cap;
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
};

/* Reads plain and gzip files alike; files of AP_PREFETCH_MIN bytes or
 * more are inflated ahead on a thread of their own. Returns 0 or -errno. */
#define AP_PREFETCH_MIN (1 << 20)
int ap_reader_open(struct ap_reader *r, const char *path);
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

#endif
