#include "series.h"
#include "io.h"
#include "reader.h"
#include "runfile.h"
#include "table.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Counts per interval, grown as indexes arrive (zero where none came). */
struct vec {
	double *v;
	size_t len, cap;
};

/* Adds x to interval i of s. Returns 0 or -ENOMEM. */
static int vec_add(struct vec *s, size_t i, double x)
{
	if (i >= s->cap) {
		size_t cap = i + 1 > s->cap * 2 ? i + 1 : s->cap * 2;
		double *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memset(v + s->cap, 0, (cap - s->cap) * sizeof(*v));
		s->v = v;
		s->cap = cap;
	}
	s->v[i] += x;
	if (i + 1 > s->len)
		s->len = i + 1;
	return 0;
}

/* Copies s into row row of m (as wide as the longest series). */
static void vec_to_row(const struct vec *s, struct ap_matrix *m, size_t row)
{
	if (s->len)
		memcpy(ap_matrix_row(m, row), s->v, s->len * sizeof(double));
}

/* The series sink: per profile event its row (-1: none yet) and series. */
struct build {
	size_t *row_of; /* by event number: its row + 1, 0 none yet */
	size_t nrow_of;
	struct vec *s; /* by row */
	struct ap_series_event *events; /* by row */
	size_t n, cap;
};

static int on_event(void *ctx, const struct ap_read_event *ev)
{
	struct build *b = ctx;
	size_t *r = ap_zgrown(b->row_of, &b->nrow_of, ev->ev, sizeof(*r));
	if (!r)
		return -ENOMEM;
	b->row_of = r;
	if (r[ev->ev])
		return 0;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct ap_series_event *e = realloc(b->events, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		b->events = e;
		struct vec *v = realloc(b->s, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		b->s = v;
		b->cap = cap;
	}
	struct ap_series_event *e = &b->events[b->n];
	memset(e, 0, sizeof(*e));
	memset(&b->s[b->n], 0, sizeof(b->s[b->n]));
	e->tag = ev->tag;
	e->name = strdup(ev->name);
	e->unit = strdup(ev->unit);
	if (!e->name || !e->unit) {
		free(e->name);
		free(e->unit);
		return -ENOMEM;
	}
	b->row_of[ev->ev] = ++b->n;
	return 0;
}

static int on_row(void *ctx, const struct ap_read_row *r)
{
	struct build *b = ctx;
	return vec_add(&b->s[b->row_of[r->e->ev] - 1], (size_t)r->index, (double)r->delta);
}

static int on_file_end(void *ctx, const struct ap_read_event *ev, size_t n)
{
	struct build *b = ctx;
	for (size_t i = 0; i < n; i++) {
		struct ap_series_event *e = &b->events[b->row_of[ev[i].ev] - 1];
		e->total = ev[i].total;
		e->enabled = ev[i].enabled;
		e->running = ev[i].running;
		e->flagged = ev[i].flagged;
	}
	return 0;
}

static void free_events(struct ap_series_event *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].unit);
	}
	free(e);
}

int ap_series_read(const char *path, int (*skip)(const char *name, void *ctx),
		   void *ctx, struct ap_series *s, char *err, size_t errlen)
{
	struct build b = {0};
	const struct ap_sink sink = {
		.on_event = on_event, .on_row = on_row, .on_file_end = on_file_end, .ctx = &b,
	};
	const struct ap_read_file f = {.path = path, .run = 1, .rep = 1, .skip = skip, .skip_ctx = ctx};
	memset(s, 0, sizeof(*s));
	int ret = ap_read_profile(&f, 1, &sink, 1, err, errlen);
	if (ret)
		goto out;
	size_t cols = 0;
	for (size_t i = 0; i < b.n; i++)
		if (b.s[i].len > cols)
			cols = b.s[i].len;
	ret = ap_matrix_init(&s->m, b.n, cols);
	if (ret)
		goto out;
	for (size_t i = 0; i < b.n; i++) {
		b.events[i].length = b.s[i].len;
		vec_to_row(&b.s[i], &s->m, i);
	}
	s->events = b.events;
	s->n = b.n;
	b.events = NULL;
out:
	for (size_t i = 0; i < b.n; i++)
		free(b.s[i].v);
	free(b.s);
	free(b.row_of);
	if (b.events)
		free_events(b.events, b.n);
	return ret;
}

void ap_series_free(struct ap_series *s)
{
	free_events(s->events, s->n);
	s->events = NULL;
	s->n = 0;
	ap_matrix_free(&s->m);
}

/* results.csv: per event (numbered by name) its unit, series and total
 * while reading. */
struct rseries {
	char *unit;
	struct vec s;
	double total;
};

struct rbuild {
	struct ap_names names;
	struct rseries *ev; /* by name number */
	size_t cap;
};

/* The event called name (n bytes), added when new. NULL: out of memory. */
static struct rseries *revent(struct rbuild *b, const char *name, size_t n, const char *unit)
{
	int added;
	long k = ap_names_get(&b->names, name, n, &added);
	if (k < 0)
		return NULL;
	if (!added)
		return &b->ev[k];
	struct rseries *ev = ap_grown(b->ev, (size_t)k, &b->cap, sizeof(*ev));
	if (!ev)
		return NULL;
	b->ev = ev;
	ev[k] = (struct rseries){.unit = strdup(unit)};
	return ev[k].unit ? &ev[k] : NULL;
}

/* Splits a CSV line in place into at most max fields (quotes as
 * util.csv_field writes them: "a,b" and "" inside). Returns the count, or
 * -1 for an unterminated quote. */
static int split_csv(char *line, char **f, size_t *flen, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		if (n == max)
			return max + 1;
		if (*p == '"') {
			char *out = ++p, *start = p;
			for (;;) {
				if (!*p)
					return -1;
				if (*p == '"' && p[1] == '"') {
					*out++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*out++ = *p++;
				}
			}
			f[n] = start;
			flen[n] = (size_t)(out - start);
		} else {
			f[n] = p;
			while (*p && *p != ',')
				p++;
			flen[n] = (size_t)(p - f[n]);
		}
		n++;
		if (*p != ',')
			return *p ? -1 : n;
		*p++ = '\0';
	}
}

static const char *const COLUMNS[] = {"EVENT_NAME", "INDEX", "UNIT", "SAMPLE_VALUE"};

int ap_results_read(const char *path, struct ap_series *s, char *err, size_t errlen)
{
	struct rbuild b = {0};
	struct ap_reader r;
	memset(s, 0, sizeof(*s));
	/* Other tools' files: a last line may lack its newline (the original
	 * autoperf's doc/results.csv does), lines may end in CRLF. */
	int ret = ap_reader_open_flags(&r, path, AP_READ_UNTERMINATED);
	if (ret)
		return ret;
	size_t cells = 0; /* intervals held, over all events */
	int col[4] = {-1, -1, -1, -1}, ncol = 0;
	enum { MAXCOL = 64 };
	char *f[MAXCOL + 1];
	size_t flen[MAXCOL + 1];
	size_t len;
	int got;
	ret = AP_RUN_FORMAT;
	while ((got = ap_reader_next(&r, &len)) > 0) {
		if (len && r.line[len - 1] == '\r')
			r.line[--len] = '\0';
		int n = split_csv(r.line, f, flen, MAXCOL);
		if (n < 0 || n > MAXCOL) {
			snprintf(err, errlen, n < 0 ? "%s:%ld: a quoted field has no end" :
				 "%s:%ld: more than 64 columns, not a results.csv", path, r.lineno);
			goto out;
		}
		if (r.lineno == 1) {
			for (int i = 0; i < n; i++)
				for (int c = 0; c < 4; c++)
					if (flen[i] == strlen(COLUMNS[c]) && !memcmp(f[i], COLUMNS[c], flen[i]))
						col[c] = i;
			for (int c = 0; c < 4; c++)
				if (col[c] < 0) {
					snprintf(err, errlen, "%s:1: not a results.csv (no %s column)", path, COLUMNS[c]);
					goto out;
				}
			ncol = n;
			continue;
		}
		if (n != ncol) {
			snprintf(err, errlen, "%s:%ld: expected %d fields, got %d", path, r.lineno, ncol, n);
			goto out;
		}
		char *iend, *vend;
		f[col[1]][flen[col[1]]] = '\0';
		f[col[3]][flen[col[3]]] = '\0';
		errno = 0;
		long long idx = strtoll(f[col[1]], &iend, 10);
		double v = strtod(f[col[3]], &vend);
		if (!isfinite(v))
			errno = ERANGE;
		/* INDEX bounds the series' length: 1e8 intervals is years of 1 ms */
		if (errno || idx < 0 || idx > 100000000 || *iend || !flen[col[1]] || *vend ||
		    !flen[col[3]]) {
			snprintf(err, errlen, "%s:%ld: bad INDEX or SAMPLE_VALUE", path, r.lineno);
			goto out;
		}
		f[col[2]][flen[col[2]]] = '\0';
		struct rseries *e = revent(&b, f[col[0]], flen[col[0]], f[col[2]]);
		if (!e) {
			ret = -ENOMEM;
			goto out;
		}
		/* Memory follows the file: an INDEX far beyond the rows read so
		 * far would make every event hold that many intervals. */
		if ((size_t)idx >= e->s.len) {
			cells += (size_t)idx + 1 - e->s.len;
			if (cells > 4 * (size_t)r.lineno + (1u << 20)) {
				snprintf(err, errlen, "%s:%ld: INDEX %lld is far beyond the %ld lines read so far",
					 path, r.lineno, idx, r.lineno);
				goto out;
			}
		}
		if (vec_add(&e->s, (size_t)idx, v)) {
			ret = -ENOMEM;
			goto out;
		}
		e->total += v;
	}
	if (got < 0) {
		snprintf(err, errlen, "%s:%ld: %s", path, r.lineno, ap_reader_error(&r));
		goto out;
	}
	if (r.lineno == 0) {
		snprintf(err, errlen, "%s: empty, not a results.csv", path);
		goto out;
	}
	const size_t nev = b.names.n;
	size_t cols = 0;
	for (size_t i = 0; i < nev; i++)
		if (b.ev[i].s.len > cols)
			cols = b.ev[i].s.len;
	ret = ap_matrix_init(&s->m, nev, cols);
	if (ret)
		goto out;
	s->events = calloc(nev ? nev : 1, sizeof(*s->events));
	if (!s->events) {
		ap_matrix_free(&s->m);
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nev; i++) {
		struct rseries *e = &b.ev[i];
		struct ap_series_event *o = &s->events[i];
		o->tag = (int)i + 1;
		o->name = b.names.s[i];
		o->unit = e->unit;
		b.names.s[i] = e->unit = NULL;
		o->length = e->s.len;
		o->sum = e->total;
		vec_to_row(&e->s, &s->m, i);
	}
	s->n = nev;
	ret = 0;
out:
	ap_reader_close(&r);
	/* an event whose unit could not be copied has no series yet */
	for (size_t i = 0; i < b.names.n && i < b.cap; i++) {
		free(b.ev[i].unit);
		free(b.ev[i].s.v);
	}
	free(b.ev);
	ap_names_free(&b.names);
	return ret;
}
