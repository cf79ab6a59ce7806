#include "runfile.h"

#include "io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER AP_RUN_COLUMNS

/* The last sample of one (tag, cpu) pair; pairs are numbered in order of
 * their first row and found through an open-addressing table, so memory
 * grows with the pairs a file has, not with its largest tag times its
 * largest cpu. */
struct cell {
	int64_t index;
	int64_t value;
	uint64_t key; /* tag << 17 | (cpu + 1) */
	uint64_t enabled, running;
};

struct tagstate {
	int declared;
	int64_t rows; /* rows of this tag so far */
};

/* An open-addressing index of entries numbered 0, 1, ...: slot k holds
 * an entry's number + 1, or 0. */
struct slots {
	uint32_t *s;
	size_t n;
};

/* One event declared: its name and tag. */
struct name {
	char *s;
	int tag;
};

struct parser {
	const char *path;
	struct ap_reader r;
	struct tagstate *tags;
	size_t ntags;
	struct cell *cells; /* by pair number */
	size_t ncells, capcells;
	struct slots pairs; /* of cells, by key */
	struct name *names; /* by declaration */
	size_t nnames, capnames;
	struct slots by_name; /* of names */
	long rows;
	char *err;
	size_t errlen;
};

static int bad(struct parser *p, const char *fmt, ...)
{
	int n = snprintf(p->err, p->errlen, "%s:%ld: ", p->path, p->r.lineno);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return AP_RUN_FORMAT;
}

static int is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * One decimal integer of at least one digit at *s, ending at stop (or at
 * end when stop is 0). Sets *range when it does not fit an int64_t (as Lua
 * turns such a literal into a float that math.tointeger refuses; -2^63
 * fits). Returns 0 when the syntax is wrong.
 */
static int number(const char **s, const char *end, char stop, int sign,
		  int64_t *out, int *range)
{
	const char *p = *s;
	int neg = 0;
	if (sign && p < end && *p == '-') {
		neg = 1;
		p++;
	}
	const char *digits = p;
	uint64_t v = 0;
	const uint64_t limit = (uint64_t)INT64_MAX + (uint64_t)neg;
	int over = 0;
	/* 18 digits cannot overflow: no check for them. */
	const char *safe = end - p > 18 ? p + 18 : end;
	while (p < safe && is_digit(*p))
		v = v * 10 + (unsigned)(*p++ - '0');
	while (p < end && is_digit(*p)) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (limit - d) / 10)
			over = 1;
		else
			v = v * 10 + d;
		p++;
	}
	if (p == digits)
		return 0;
	if (stop ? (p >= end || *p != stop) : p != end)
		return 0;
	if (over)
		*range = 1;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	*s = stop ? p + 1 : p;
	return 1;
}

static struct tagstate *declare(struct parser *p, size_t tag)
{
	if (tag >= p->ntags) {
		size_t n = p->ntags ? p->ntags : 64;
		while (n <= tag)
			n *= 2;
		struct tagstate *t = realloc(p->tags, n * sizeof(*t));
		if (!t)
			return NULL;
		memset(t + p->ntags, 0, (n - p->ntags) * sizeof(*t));
		p->tags = t;
		p->ntags = n;
	}
	p->tags[tag].declared = 1;
	return &p->tags[tag];
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static uint64_t key_hash(uint64_t key)
{
	return (key * 0x9E3779B97F4A7C15ULL) >> 20;
}

/* The slot of t for an entry of hash h: the one holding an entry e of
 * the count there are for which same(ctx, e), or else the empty one
 * where a new entry goes. When half full, t first grows (each entry's
 * hash from hash_of). NULL: out of memory. */
static uint32_t *slot_for(struct slots *t, size_t count, uint64_t h,
			  int (*same)(void *ctx, size_t e),
			  uint64_t (*hash_of)(void *ctx, size_t e), void *ctx)
{
	if ((count + 1) * 2 > t->n) {
		size_t n = t->n ? t->n * 2 : 256;
		uint32_t *sl = calloc(n, sizeof(*sl));
		if (!sl)
			return NULL;
		for (size_t e = 0; e < count; e++) {
			size_t k = hash_of(ctx, e) & (n - 1);
			while (sl[k])
				k = (k + 1) & (n - 1);
			sl[k] = (uint32_t)e + 1;
		}
		free(t->s);
		t->s = sl;
		t->n = n;
	}
	size_t k = h & (t->n - 1);
	while (t->s[k] && !same(ctx, t->s[k] - 1))
		k = (k + 1) & (t->n - 1);
	return &t->s[k];
}

/* v (n elements of size sz, room for *cap) with room for one more, or
 * NULL when out of memory (v is still valid then). */
static void *grown(void *v, size_t n, size_t *cap, size_t sz)
{
	if (n < *cap)
		return v;
	size_t c = *cap ? *cap * 2 : 64;
	void *nv = realloc(v, c * sz);
	if (nv)
		*cap = c;
	return nv;
}

struct name_probe {
	struct parser *p;
	const char *name;
};

static int same_name(void *ctx, size_t e)
{
	struct name_probe *q = ctx;
	return strcmp(q->p->names[e].s, q->name) == 0;
}

static uint64_t hash_of_name(void *ctx, size_t e)
{
	return name_hash(((struct name_probe *)ctx)->p->names[e].s);
}

/* Adds name (of tag) to the names declared: 0, the tag that declared it
 * before + 1, or -1 out of memory. */
static int add_name(struct parser *p, const char *name, int tag)
{
	struct name_probe q = {p, name};
	uint32_t *slot = slot_for(&p->by_name, p->nnames, name_hash(name), same_name,
				  hash_of_name, &q);
	if (!slot)
		return -1;
	if (*slot)
		return p->names[*slot - 1].tag + 1;
	struct name *names = grown(p->names, p->nnames, &p->capnames, sizeof(*names));
	if (!names)
		return -1;
	p->names = names;
	if (!(p->names[p->nnames].s = strdup(name)))
		return -1;
	p->names[p->nnames].tag = tag;
	*slot = (uint32_t)++p->nnames;
	return 0;
}

struct pair_probe {
	struct parser *p;
	uint64_t key;
};

static int same_pair(void *ctx, size_t e)
{
	struct pair_probe *q = ctx;
	return q->p->cells[e].key == q->key;
}

static uint64_t hash_of_pair(void *ctx, size_t e)
{
	return key_hash(((struct pair_probe *)ctx)->p->cells[e].key);
}

/* The pair (tag, cpu): its number in *pair, NULL when out of memory. */
static struct cell *cell(struct parser *p, int tag, int cpu, size_t *pair)
{
	struct pair_probe q = {p, (uint64_t)tag << 17 | (uint64_t)(cpu + 1)};
	uint32_t *slot = slot_for(&p->pairs, p->ncells, key_hash(q.key), same_pair,
				  hash_of_pair, &q);
	if (!slot)
		return NULL;
	if (!*slot) {
		struct cell *cells = grown(p->cells, p->ncells, &p->capcells, sizeof(*cells));
		if (!cells)
			return NULL;
		p->cells = cells;
		p->cells[p->ncells] = (struct cell){-1, 0, q.key, 0, 0};
		*slot = (uint32_t)++p->ncells;
	}
	*pair = *slot - 1;
	return &p->cells[*pair];
}

static int too_long(struct parser *p, const char *what, const char *line,
		    size_t len)
{
	return bad(p, "%s: %.*s", what, (int)(len < 60 ? len : 60), line);
}

/* "#event <tag> <unit> <name>": 1 declared, 0 not such a line, -1 failed
 * (what ap_run_parse returns in *ret). */
static int event_line(struct parser *p, const struct ap_run_visitor *v,
		      char *line, size_t len, int *ret)
{
	const char *end = line + len;
	if (len < 7 || memcmp(line, "#event ", 7) != 0)
		return 0;
	const char *s = line + 7;
	int64_t tag;
	int range = 0;
	if (!number(&s, end, ' ', 0, &tag, &range))
		return 0;
	char *unit = (char *)s;
	while (s < end && !is_space(*s))
		s++;
	if (s == unit || s >= end || *s != ' ' || s + 1 >= end)
		return 0;
	char *name = (char *)s + 1;
	if (range || tag > AP_RUN_TAG_MAX) {
		*ret = too_long(p, "number out of range", line, len);
		return -1;
	}
	if ((size_t)tag < p->ntags && p->tags[tag].declared) {
		*ret = bad(p, "event tag %lld declared twice", (long long)tag);
		return -1;
	}
	if (!declare(p, (size_t)tag)) {
		snprintf(p->err, p->errlen, "%s: out of memory", p->path);
		*ret = -ENOMEM;
		return -1;
	}
	unit[s - unit] = '\0';
	int before = add_name(p, name, (int)tag);
	if (before < 0) {
		snprintf(p->err, p->errlen, "%s: out of memory", p->path);
		*ret = -ENOMEM;
		return -1;
	}
	if (before > 0) {
		*ret = bad(p, "event '%.80s' declared twice (tags %d and %lld)", name, before - 1,
			   (long long)tag);
		return -1;
	}
	if (v->on_event && v->on_event(v->ctx, (int)tag, unit, name)) {
		bad(p, "stopped by the caller");
		*ret = AP_RUN_ABORTED;
		return -1;
	}
	return 1;
}

static int hash_line(struct parser *p, const struct ap_run_visitor *v,
		     char *line, size_t len, int *ended)
{
	int ret = 0;
	int got = event_line(p, v, line, len, &ret);
	if (got < 0)
		return ret;
	if (got > 0)
		return 0;
	static const char endm[] = "#end rows=";
	const size_t endlen = sizeof(endm) - 1;
	if (len > endlen && memcmp(line, endm, endlen) == 0) {
		const char *s = line + endlen;
		int64_t n;
		int range = 0;
		if (number(&s, line + len, 0, 0, &n, &range)) {
			if (range || n != p->rows)
				return bad(p, "end marker says %.*s rows, file has %ld",
					   (int)(len - endlen), line + endlen, p->rows);
			*ended = 1;
			return 0;
		}
	}
	static const char runm[] = "#autoperf-run ";
	if (p->r.lineno > 1 &&
	    (len < sizeof(runm) - 1 || memcmp(line, runm, sizeof(runm) - 1) != 0))
		return bad(p, "unknown header line");
	return 0;
}

static int row_line(struct parser *p, const struct ap_run_visitor *v,
		    const char *line, size_t len)
{
	const char *s = line, *end = line + len;
	int64_t f[7];
	int range = 0;
	for (int i = 0; i < 7; i++)
		if (!number(&s, end, i < 6 ? ',' : 0, i == 2, &f[i], &range))
			return too_long(p, "expected 7 integer fields, got", line, len);
	if (range || f[2] < -1 || f[2] > AP_RUN_CPU_MAX)
		return too_long(p, "number out of range", line, len);
	if (f[3] >= (int64_t)p->ntags || !p->tags[f[3]].declared)
		return bad(p, "row for undeclared event tag %lld", (long long)f[3]);
	struct tagstate *t = &p->tags[f[3]];
	size_t pair;
	struct cell *c = cell(p, (int)f[3], (int)f[2], &pair);
	if (!c) {
		snprintf(p->err, p->errlen, "%s: out of memory", p->path);
		return -ENOMEM;
	}
	if (f[0] <= c->index || f[4] < c->value)
		return bad(p, "samples out of order or counter went backwards");
	/* Sample k of an event is its (k+1)-th row on each cpu: an index
	 * beyond the event's rows so far skips samples that never were (and
	 * would make readers hold an interval per number). */
	if (f[0] > t->rows)
		return bad(p, "sample index %lld jumps past the %lld sample%s of event tag %lld so far",
			   (long long)f[0], (long long)t->rows, t->rows == 1 ? "" : "s",
			   (long long)f[3]);
	const uint64_t delta = (uint64_t)(f[4] - c->value);
	c->index = f[0];
	c->value = f[4];
	c->enabled = (uint64_t)f[5];
	c->running = (uint64_t)f[6];
	t->rows++;
	p->rows++;
	if (v->on_row) {
		const struct ap_run_row row = {
			.index = f[0],
			.time_ns = f[1],
			.cpu = (int)f[2],
			.tag = (int)f[3],
			.value = (uint64_t)f[4],
			.enabled = (uint64_t)f[5],
			.running = (uint64_t)f[6],
			.delta = delta,
			.pair = pair,
		};
		if (v->on_row(v->ctx, &row)) {
			bad(p, "stopped by the caller");
			return AP_RUN_ABORTED;
		}
	}
	return 0;
}

/* The last sample of every pair, for on_end. */
static int end_pairs(struct parser *p, const struct ap_run_visitor *v)
{
	struct ap_run_last *last = malloc((p->ncells ? p->ncells : 1) * sizeof(*last));
	if (!last) {
		snprintf(p->err, p->errlen, "%s: out of memory", p->path);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->ncells; i++) {
		const struct cell *c = &p->cells[i];
		last[i] = (struct ap_run_last){
			.tag = (int)(c->key >> 17),
			.cpu = (int)(c->key & 0x1ffff) - 1,
			.value = (uint64_t)c->value,
			.enabled = c->enabled,
			.running = c->running,
		};
	}
	int stop = v->on_end(v->ctx, last, p->ncells);
	free(last);
	if (stop) {
		snprintf(p->err, p->errlen, "%s: stopped by the caller", p->path);
		return AP_RUN_ABORTED;
	}
	return 0;
}

int ap_run_parse(const char *path, const struct ap_run_visitor *v,
		 long *nrows, char *err, size_t errlen)
{
	struct parser p = {.path = path, .err = err, .errlen = errlen};
	int ret = ap_reader_open_flags(&p.r, path, AP_READ_OWN);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path,
			 ret == -ELOOP	  ? "a symbolic link, not a run file (refused)"
			 : ret == -EINVAL ? "not a regular file (refused)"
					  : strerror(-ret));
		return ret;
	}
	int ended = 0;
	for (;;) {
		size_t len;
		int got = ap_reader_next(&p.r, &len);
		if (got < 0) {
			ret = bad(&p, "%s", ap_reader_error(&p.r));
			goto out;
		}
		if (got == 0)
			break;
		char *line = p.r.line;
		if (ended) {
			ret = bad(&p, "data after the end marker");
			goto out;
		}
		if (line[0] == '#')
			ret = hash_line(&p, v, line, len, &ended);
		else if (line[0] == 'i' && len == sizeof(HEADER) - 1 &&
			 memcmp(line, HEADER, len) == 0)
			ret = 0;
		else
			ret = row_line(&p, v, line, len);
		if (ret)
			goto out;
	}
	if (!ended) {
		ret = bad(&p, "file ends here without its end marker (cut short)");
		goto out;
	}
	if (v->on_end && (ret = end_pairs(&p, v)))
		goto out;
	if (nrows)
		*nrows = p.rows;
out:
	ap_reader_close(&p.r);
	free(p.tags);
	free(p.cells);
	free(p.pairs.s);
	for (size_t i = 0; i < p.nnames; i++)
		free(p.names[i].s);
	free(p.names);
	free(p.by_name.s);
	return ret;
}

static size_t fitted(int n, size_t len)
{
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

size_t ap_run_format_start(char *buf, size_t len, int run, int rep)
{
	return fitted(snprintf(buf, len, "#autoperf-run %d %d\n", run, rep), len);
}

size_t ap_run_format_event(char *buf, size_t len, int tag, const char *unit,
			   const char *name)
{
	return fitted(snprintf(buf, len, "#event %d %s %s\n", tag, unit, name), len);
}

size_t ap_run_format_columns(char *buf, size_t len)
{
	return fitted(snprintf(buf, len, "%s\n", HEADER), len);
}

size_t ap_run_format_row(char *buf, const struct ap_run_row *row)
{
	char *p = buf;
	p = ap_put_i64(p, row->index);
	*p++ = ',';
	p = ap_put_i64(p, row->time_ns);
	*p++ = ',';
	p = ap_put_i64(p, row->cpu);
	*p++ = ',';
	p = ap_put_i64(p, row->tag);
	*p++ = ',';
	p = ap_put_u64(p, row->value);
	*p++ = ',';
	p = ap_put_u64(p, row->enabled);
	*p++ = ',';
	p = ap_put_u64(p, row->running);
	*p++ = '\n';
	return (size_t)(p - buf);
}

size_t ap_run_format_end(char *buf, size_t len, long rows)
{
	return fitted(snprintf(buf, len, "#end rows=%ld\n", rows), len);
}
