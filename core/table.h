/* table: the growable arrays and the index of names the readers share
 * (runfile, reader, series). */
#ifndef AP_TABLE_H
#define AP_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* v (n elements of sz bytes, room for *cap) with room for one more, or
 * NULL when out of memory (v is still valid then). */
void *ap_grown(void *v, size_t n, size_t *cap, size_t sz);

/* v (room for *cap elements of sz bytes) with room for element i, what
 * is new zeroed; NULL when out of memory (v is still valid then). */
void *ap_zgrown(void *v, size_t *cap, size_t i, size_t sz);

/* Strings numbered 0, 1, ... in order of first insertion, found through
 * an open-addressing table: zero-initialize, free with ap_names_free. */
struct ap_names {
	char **s; /* by number, NUL-terminated copies (a caller may take one
		   * and leave NULL) */
	size_t n, cap;
	uint32_t *slots; /* number + 1, or 0 */
	size_t nslots;
};

/* The number of name (len bytes), copied in when new (then *added = 1,
 * else 0); -1 when out of memory. */
long ap_names_get(struct ap_names *t, const char *name, size_t len, int *added);
void ap_names_free(struct ap_names *t);

/* The same for 64-bit keys. */
struct ap_keys {
	uint64_t *k; /* by number */
	size_t n, cap;
	uint32_t *slots;
	size_t nslots;
};

/* The number of key, added when new (*added = 1); -1 when out of memory.
 * Inline: the run-file parser asks once per row. */
long ap_keys_add(struct ap_keys *t, uint64_t key);
static inline long ap_keys_get(struct ap_keys *t, uint64_t key, int *added)
{
	*added = 0;
	if (t->nslots) {
		size_t k = ((key * 0x9E3779B97F4A7C15ULL) >> 20) & (t->nslots - 1);
		while (t->slots[k]) {
			if (t->k[t->slots[k] - 1] == key)
				return (long)t->slots[k] - 1;
			k = (k + 1) & (t->nslots - 1);
		}
	}
	*added = 1;
	return ap_keys_add(t, key);
}
void ap_keys_free(struct ap_keys *t);

#endif
