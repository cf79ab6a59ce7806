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

#endif
