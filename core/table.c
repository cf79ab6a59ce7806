#include "table.h"

#include <stdlib.h>
#include <string.h>

void *ap_grown(void *v, size_t n, size_t *cap, size_t sz)
{
	if (n < *cap)
		return v;
	size_t c = *cap ? *cap * 2 : 64;
	void *nv = realloc(v, c * sz);
	if (nv)
		*cap = c;
	return nv;
}

void *ap_zgrown(void *v, size_t *cap, size_t i, size_t sz)
{
	if (i < *cap)
		return v;
	size_t n = *cap ? *cap : 16;
	while (n <= i)
		n *= 2;
	char *nv = realloc(v, n * sz);
	if (!nv)
		return NULL;
	memset(nv + *cap * sz, 0, (n - *cap) * sz);
	*cap = n;
	return nv;
}

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* as ap_keys_get hashes */
static uint64_t key_hash(uint64_t key)
{
	return (key * 0x9E3779B97F4A7C15ULL) >> 20;
}

/* Twice the room for count entries, each placed again by its hash
 * (tables are kept half empty). */
static int rehash(uint32_t **slots, size_t *nslots, size_t count,
		  uint64_t (*hash_of)(const void *t, size_t e), const void *t)
{
	size_t n = *nslots ? *nslots * 2 : 256;
	uint32_t *sl = calloc(n, sizeof(*sl));
	if (!sl)
		return -1;
	for (size_t e = 0; e < count; e++) {
		size_t k = hash_of(t, e) & (n - 1);
		while (sl[k])
			k = (k + 1) & (n - 1);
		sl[k] = (uint32_t)e + 1;
	}
	free(*slots);
	*slots = sl;
	*nslots = n;
	return 0;
}

static uint64_t name_at(const void *t, size_t e)
{
	const char *s = ((const struct ap_names *)t)->s[e];
	return hash(s, strlen(s));
}

static uint64_t key_at(const void *t, size_t e)
{
	return key_hash(((const struct ap_keys *)t)->k[e]);
}

long ap_names_get(struct ap_names *t, const char *name, size_t len, int *added)
{
	*added = 0;
	if ((t->n + 1) * 2 > t->nslots && rehash(&t->slots, &t->nslots, t->n, name_at, t))
		return -1;
	size_t k = hash(name, len) & (t->nslots - 1);
	while (t->slots[k]) {
		const char *s = t->s[t->slots[k] - 1];
		if (strlen(s) == len && memcmp(s, name, len) == 0)
			return (long)t->slots[k] - 1;
		k = (k + 1) & (t->nslots - 1);
	}
	char **s = ap_grown(t->s, t->n, &t->cap, sizeof(*s));
	if (!s)
		return -1;
	t->s = s;
	if (!(s[t->n] = strndup(name, len)))
		return -1;
	t->slots[k] = (uint32_t)++t->n;
	*added = 1;
	return (long)t->n - 1;
}

void ap_names_free(struct ap_names *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* key is not in t (ap_keys_get looked) */
long ap_keys_add(struct ap_keys *t, uint64_t key)
{
	if ((t->n + 1) * 2 > t->nslots && rehash(&t->slots, &t->nslots, t->n, key_at, t))
		return -1;
	size_t k = key_hash(key) & (t->nslots - 1);
	while (t->slots[k])
		k = (k + 1) & (t->nslots - 1);
	uint64_t *keys = ap_grown(t->k, t->n, &t->cap, sizeof(*keys));
	if (!keys)
		return -1;
	t->k = keys;
	keys[t->n] = key;
	t->slots[k] = (uint32_t)++t->n;
	return (long)t->n - 1;
}

void ap_keys_free(struct ap_keys *t)
{
	free(t->k);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
