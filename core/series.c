#include "series.h"
#include "runfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Per tag while parsing: where its row is, its per-interval sums (grown
 * as indexes arrive) and, per CPU, the last cumulative value. */
struct last {
	uint64_t value, enabled, running;
};

struct tagstate {
	int row;          /* -1: not kept */
	double *v;
	size_t len, cap;
	struct last *last; /* indexed by cpu + 1: the CPU's last sample */
	size_t ncpu;
};

struct build {
	struct tagstate *tags;
	size_t ntags;
	struct ap_series_event *events;
	size_t n, cap;
	int (*skip)(const char *, void *);
	void *ctx;
	int err;
};

static struct tagstate *tag_state(struct build *b, int tag)
{
	if ((size_t)tag >= b->ntags) {
		size_t n = (size_t)tag + 1 > b->ntags * 2 ? (size_t)tag + 1 : b->ntags * 2;
		struct tagstate *t = realloc(b->tags, n * sizeof(*t));
		if (!t)
			return NULL;
		memset(t + b->ntags, 0, (n - b->ntags) * sizeof(*t));
		for (size_t i = b->ntags; i < n; i++)
			t[i].row = -1;
		b->tags = t;
		b->ntags = n;
	}
	return &b->tags[tag];
}

static int on_event(void *ctx, int tag, const char *unit, const char *name)
{
	struct build *b = ctx;
	struct tagstate *t = tag_state(b, tag);
	if (!t)
		goto nomem;
	if (t->row >= 0 || (b->skip && b->skip(name, b->ctx)))
		return 0; /* declared again: the first declaration keeps its row */
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct ap_series_event *e = realloc(b->events, cap * sizeof(*e));
		if (!e)
			goto nomem;
		b->events = e;
		b->cap = cap;
	}
	struct ap_series_event *e = &b->events[b->n];
	memset(e, 0, sizeof(*e));
	e->tag = tag;
	e->name = strdup(name);
	e->unit = strdup(unit);
	if (!e->name || !e->unit) {
		free(e->name);
		free(e->unit);
		goto nomem;
	}
	t->row = (int)b->n++;
	return 0;
nomem:
	b->err = -ENOMEM;
	return 1;
}

static int on_row(void *ctx, const struct ap_run_row *r)
{
	struct build *b = ctx;
	struct tagstate *t = &b->tags[r->tag]; /* declared: the parser checked */
	if (t->row < 0)
		return 0;
	size_t c = (size_t)(r->cpu + 1);
	if (c >= t->ncpu) {
		size_t n = c + 1 > t->ncpu * 2 ? c + 1 : t->ncpu * 2;
		struct last *l = realloc(t->last, n * sizeof(*l));
		if (!l)
			goto nomem;
		memset(l + t->ncpu, 0, (n - t->ncpu) * sizeof(*l));
		t->last = l;
		t->ncpu = n;
	}
	size_t i = (size_t)r->index;
	if (i >= t->cap) {
		size_t n = i + 1 > t->cap * 2 ? i + 1 : t->cap * 2;
		double *v = realloc(t->v, n * sizeof(*v));
		if (!v)
			goto nomem;
		memset(v + t->cap, 0, (n - t->cap) * sizeof(*v));
		t->v = v;
		t->cap = n;
	}
	/* the parser checked that the value does not go backwards */
	t->v[i] += (double)(r->value - t->last[c].value);
	t->last[c] = (struct last){r->value, r->enabled, r->running};
	if (i + 1 > t->len)
		t->len = i + 1;
	return 0;
nomem:
	b->err = -ENOMEM;
	return 1;
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
	struct build b = {.skip = skip, .ctx = ctx};
	struct ap_run_visitor v = {on_event, on_row, &b};
	memset(s, 0, sizeof(*s));
	int ret = ap_run_parse(path, &v, NULL, err, errlen);
	if (ret == AP_RUN_ABORTED)
		ret = b.err;
	if (ret)
		goto out;
	size_t cols = 0;
	for (size_t i = 0; i < b.ntags; i++)
		if (b.tags[i].row >= 0 && b.tags[i].len > cols)
			cols = b.tags[i].len;
	ret = ap_matrix_init(&s->m, b.n, cols);
	if (ret)
		goto out;
	for (size_t i = 0; i < b.ntags; i++) {
		struct tagstate *t = &b.tags[i];
		if (t->row < 0)
			continue;
		struct ap_series_event *e = &b.events[t->row];
		e->length = t->len;
		for (size_t c = 0; c < t->ncpu; c++) {
			e->total += t->last[c].value;
			e->enabled += t->last[c].enabled;
			e->running += t->last[c].running;
			if (t->last[c].running < t->last[c].enabled)
				e->flagged = 1;
		}
		if (t->len)
			memcpy(ap_matrix_row(&s->m, (size_t)t->row), t->v, t->len * sizeof(double));
	}
	s->events = b.events;
	s->n = b.n;
	b.events = NULL;
	b.n = 0;
out:
	for (size_t i = 0; i < b.ntags; i++) {
		free(b.tags[i].v);
		free(b.tags[i].last);
	}
	free(b.tags);
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
