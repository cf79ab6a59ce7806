#ifndef AP_GZ_H
#define AP_GZ_H

#include <stddef.h>

/* A file read inflated (gzip, one member or several) or as it is (any
 * other file), as zlib's gzread reads it; bytes after the last member
 * that are not gzip are ignored. */
struct ap_gz;

/* Takes fd (closed by ap_gz_close, and here on failure); NULL: no memory. */
struct ap_gz *ap_gz_open(int fd);
/* Up to n bytes into buf: how many (> 0), 0 at the end, -1 when the file
 * is corrupt, cut short or unreadable (ap_gz_error says which). */
long ap_gz_read(struct ap_gz *g, void *buf, size_t n);
const char *ap_gz_error(struct ap_gz *g);
void ap_gz_close(struct ap_gz *g);

/* A file written gzip-compressed (level 1; ISA-L's deflate when built
 * with it: 5x zlib's speed on run files, and smaller) or plain. */
struct ap_gzw;

/* Takes fd (closed by ap_gzw_close, and here on failure); NULL: no memory. */
struct ap_gzw *ap_gzw_open(int fd, int compress);
/* 0, or the -errno of the write(2) that failed (ENOSPC ...; -EIO when the
 * compressor did); after a failure every later call fails the same. */
int ap_gzw_write(struct ap_gzw *g, const void *buf, size_t n);
/* Ends the stream, writes what is left and closes the file (and frees g,
 * whatever happens): 0 or -errno. */
int ap_gzw_close(struct ap_gzw *g);

#endif
