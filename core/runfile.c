#include "runfile.h"

#include "io.h"
#include "table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER AP_RUN_COLUMNS

/* The last sample of one (tag, cpu) pair; pairs are numbered in order of
 * their first row and found through an index of their keys (tag << 17 |
 * (cpu + 1)), so memory grows with the pairs a file has, not with its
 * largest tag times its largest cpu. */
struct cell {
	int64_t index;
	int64_t value;
	uint64_t enabled, running;
};

struct tagstate {
	int declared;
	int64_t rows; /* rows of this tag so far */
};

struct parser {
	const char *path;
	struct ap_reader r;
	struct tagstate *tags;
	size_t ntags;
	struct ap_keys pairs; /* numbers the pairs */
	struct cell *cells;   /* by pair number */
	size_t capcells;
	struct ap_names names; /* declared */
	int *name_tag;         /* by name number: its tag */
	size_t capnt;
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

/*
 * number() eight digits at a time, for rows (most of a run file): a
 * field's digits are found and converted without a branch per digit. It
 * reads 17 bytes at *s, so the caller says where its buffer ends (limit);
 * a line ends in a NUL (ap_reader_next), where the digits stop at the
 * latest. What it does not take (no digit, 16 digits or more, a buffer
 * too short, a big-endian machine) goes to number(), which decides the
 * same for everything.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline uint64_t load8(const char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* The high bit of every byte of v that is no digit. */
static inline uint64_t non_digits(uint64_t v)
{
	const uint64_t x = v ^ 0x3030303030303030ULL; /* a digit: 0 .. 9 */
	return (((x & 0x7f7f7f7f7f7f7f7fULL) + 0x7676767676767676ULL) | x) & 0x8080808080808080ULL;
}

/* The value of eight digits, the first in the lowest byte (bytes 0x00
 * before them count as leading zeros). */
static inline uint64_t eight_digits(uint64_t x)
{
	x = ((x & 0x0f0f0f0f0f0f0f0fULL) * 2561) >> 8;
	x = ((x & 0x00ff00ff00ff00ffULL) * 6553601) >> 16;
	return ((x & 0x0000ffff0000ffffULL) * 42949672960001ULL) >> 32;
}

static inline int fast_number(const char **s, const char *end, const char *limit, char stop,
			      int sign, int64_t *out, int *range)
{
	static const uint64_t pow10[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
	const char *p = *s;
	if (limit - p < 17)
		return number(s, end, stop, sign, out, range);
	const int neg = sign && *p == '-';
	p += neg;
	const uint64_t a = load8(p), ma = non_digits(a);
	unsigned n;
	uint64_t v;
	if (ma) {
		n = (unsigned)__builtin_ctzll(ma) >> 3;
		if (!n)
			return number(s, end, stop, sign, out, range);
		v = eight_digits(a << (64 - 8 * n));
	} else {
		const uint64_t b = load8(p + 8), mb = non_digits(b);
		if (!mb)
			return number(s, end, stop, sign, out, range);
		const unsigned n2 = (unsigned)__builtin_ctzll(mb) >> 3;
		v = eight_digits(a);
		if (n2)
			v = v * pow10[n2] + eight_digits(b << (64 - 8 * n2));
		n = 8 + n2;
	}
	p += n;
	if (stop ? (p >= end || *p != stop) : p != end)
		return 0;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	*s = stop ? p + 1 : p;
	return 1;
}
#else
static inline int fast_number(const char **s, const char *end, const char *limit, char stop,
			      int sign, int64_t *out, int *range)
{
	(void)limit;
	return number(s, end, stop, sign, out, range);
}
#endif

static struct tagstate *declare(struct parser *p, size_t tag)
{
	struct tagstate *t = ap_zgrown(p->tags, &p->ntags, tag, sizeof(*t));
	if (!t)
		return NULL;
	p->tags = t;
	p->tags[tag].declared = 1;
	return &p->tags[tag];
}

/* Adds name (of tag) to the names declared: 0, the tag that declared it
 * before + 1, or -1 out of memory. */
static int add_name(struct parser *p, const char *name, int tag)
{
	int added;
	long k = ap_names_get(&p->names, name, strlen(name), &added);
	if (k < 0)
		return -1;
	if (!added)
		return p->name_tag[k] + 1;
	int *nt = ap_grown(p->name_tag, (size_t)k, &p->capnt, sizeof(*nt));
	if (!nt)
		return -1;
	p->name_tag = nt;
	nt[k] = tag;
	return 0;
}

/* The pair (tag, cpu): its number in *pair, NULL when out of memory. */
static struct cell *cell(struct parser *p, int tag, int cpu, size_t *pair)
{
	int added;
	long k = ap_keys_get(&p->pairs, (uint64_t)tag << 17 | (uint64_t)(cpu + 1), &added);
	if (k < 0)
		return NULL;
	if (added) {
		struct cell *cells = ap_grown(p->cells, (size_t)k, &p->capcells, sizeof(*cells));
		if (!cells)
			return NULL;
		p->cells = cells;
		p->cells[k] = (struct cell){-1, 0, 0, 0};
	}
	*pair = (size_t)k;
	return &p->cells[k];
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
	/* An event is declared once per unit: "unit name" (the line's rest)
	 * is the key, so each box of an uncore unit (its own PMU) may count
	 * the same event in one file. */
	int before = add_name(p, unit, (int)tag);
	unit[s - unit] = '\0';
	if (before < 0) {
		snprintf(p->err, p->errlen, "%s: out of memory", p->path);
		*ret = -ENOMEM;
		return -1;
	}
	if (before > 0) {
		*ret = bad(p, "event '%.80s' declared twice for %.40s (tags %d and %lld)", name, unit,
			   before - 1, (long long)tag);
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
	const char *limit = p->r.line + p->r.room; /* line is in the reader's buffer */
	for (int i = 0; i < 7; i++)
		if (!fast_number(&s, end, limit, i < 6 ? ',' : 0, i == 2, &f[i], &range))
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
	const size_t n = p->pairs.n;
	struct ap_run_last *last = malloc((n ? n : 1) * sizeof(*last));
	if (!last) {
		snprintf(p->err, p->errlen, "%s: out of memory", p->path);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct cell *c = &p->cells[i];
		const uint64_t key = p->pairs.k[i];
		last[i] = (struct ap_run_last){
			.tag = (int)(key >> 17),
			.cpu = (int)(key & 0x1ffff) - 1,
			.value = (uint64_t)c->value,
			.enabled = c->enabled,
			.running = c->running,
		};
	}
	int stop = v->on_end(v->ctx, last, n);
	free(last);
	if (stop) {
		snprintf(p->err, p->errlen, "%s: stopped by the caller", p->path);
		return AP_RUN_ABORTED;
	}
	return 0;
}

/* zlib names a stream opened on a descriptor "<fd:N>" in its messages:
 * the message names the file already, and N (which descriptor the file
 * got) differs between a read in line and one on a reader's thread. */
static const char *stream_error(const char *msg)
{
	if (strncmp(msg, "<fd:", 4) != 0)
		return msg;
	const char *s = msg + 4;
	while (is_digit(*s))
		s++;
	return s > msg + 4 && s[0] == '>' && s[1] == ':' && s[2] == ' ' ? s + 3 : msg;
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
			ret = bad(&p, "%s", stream_error(ap_reader_error(&p.r)));
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
	ap_keys_free(&p.pairs);
	ap_names_free(&p.names);
	free(p.name_tag);
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
