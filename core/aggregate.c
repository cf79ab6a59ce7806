#include "aggregate.h"

#include "io.h"
#include "runfile.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows go out in chunks this large: one gzwrite per megabyte. */
#define OUTBUF (1 << 20)

/*
 * Chunks are written by a second thread while the next one is formatted:
 * the kernel's copy into the page cache (or gzip) costs about as much as
 * parsing does, and the two overlap on two cores. One chunk is in flight
 * at a time; without the thread (it could not start) writes are inline.
 */
struct bg {
	struct ap_writer *w;
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *job;
	size_t len;
	int busy, stop, err;
};

static void *bg_main(void *arg)
{
	struct bg *b = arg;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->busy && !b->stop)
			pthread_cond_wait(&b->cv, &b->mu);
		if (!b->busy)
			break;
		const char *job = b->job;
		size_t len = b->len;
		pthread_mutex_unlock(&b->mu);
		int err = ap_writer_write(b->w, job, len);
		pthread_mutex_lock(&b->mu);
		if (err && !b->err)
			b->err = err;
		b->busy = 0;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

static void bg_start(struct bg *b, struct ap_writer *w)
{
	memset(b, 0, sizeof(*b));
	b->w = w;
	if (pthread_mutex_init(&b->mu, NULL))
		return;
	if (pthread_cond_init(&b->cv, NULL)) {
		pthread_mutex_destroy(&b->mu);
		return;
	}
	if (pthread_create(&b->th, NULL, bg_main, b)) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		return;
	}
	b->started = 1;
}

/* Hands buf over once the previous chunk is written (so the caller may
 * reuse that one). Returns 0 or the -errno of a failed write. */
static int bg_submit(struct bg *b, const char *buf, size_t len)
{
	if (!b->started)
		return ap_writer_write(b->w, buf, len);
	pthread_mutex_lock(&b->mu);
	while (b->busy)
		pthread_cond_wait(&b->cv, &b->mu);
	int err = b->err;
	if (!err) {
		b->job = buf;
		b->len = len;
		b->busy = 1;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	return err;
}

/* Waits for the last chunk and ends the thread; returns its error. */
static int bg_finish(struct bg *b)
{
	if (!b->started)
		return 0;
	pthread_mutex_lock(&b->mu);
	while (b->busy)
		pthread_cond_wait(&b->cv, &b->mu);
	b->stop = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->th, NULL);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	b->started = 0;
	return b->err;
}

struct acell {
	int seen;
	int tag;
	uint64_t value, enabled, running;
};

struct atag {
	long ev; /* index in res->events of its declaration, -1: not written */
};

/* Per declaration, the bytes a row starts and ends with. */
struct quoted {
	char *name; /* "name," */
	char *unit; /* ",unit," */
	size_t nlen, ulen;
};

/* Per cpu: ",socket,core,cpu,node" */
struct cpustr {
	char s[96];
	size_t len;
};

struct agg {
	const struct ap_agg_opts *o;
	struct ap_writer *w;
	struct ap_agg_result *res;
	size_t evcap;
	struct quoted *q;
	struct atag *tags;
	size_t ntags;
	struct acell *cells; /* by the parser's pair number */
	size_t ncells;
	struct cpustr *cpus; /* [cpu + 1], len 0 until first used */
	size_t ncpus;
	struct bg bg;
	char *bufs[2]; /* one being filled (buf), one being written */
	size_t caps[2];
	int cur;
	char *buf;
	size_t used, cap;
	int err; /* -errno of the failure that stopped the parse */
};

static const char digits2[] =
	"00010203040506070809101112131415161718192021222324252627282930313233"
	"34353637383940414243444546474849505152535455565758596061626364656667"
	"68697071727374757677787980818283848586878889909192939495969798"
	"99";

static char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	char *t = tmp + sizeof(tmp);
	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;
		v /= 100;
		*--t = digits2[d + 1];
		*--t = digits2[d];
	}
	if (v >= 10) {
		unsigned d = (unsigned)v * 2;
		*--t = digits2[d + 1];
		*--t = digits2[d];
	} else {
		*--t = (char)('0' + v);
	}
	size_t n = (size_t)(tmp + sizeof(tmp) - t);
	memcpy(p, t, n);
	return p + n;
}

static char *put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u64(p, 0 - (uint64_t)v);
	}
	return put_u64(p, (uint64_t)v);
}

/* ns as seconds with 6 decimals, the µs rounded half up. */
static char *put_seconds(char *p, int64_t ns)
{
	uint64_t mag = (uint64_t)ns;
	if (ns < 0) {
		*p++ = '-';
		mag = 0 - mag;
	}
	uint64_t us = mag / 1000 + (mag % 1000 >= 500);
	p = put_u64(p, us / 1000000);
	*p++ = '.';
	uint64_t frac = us % 1000000;
	for (int i = 5; i >= 0; i--) {
		p[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	return p + 6;
}

/* util.csv_field: quoted (inner quotes doubled) when it holds , " or \n;
 * pre and post are copied around it. */
static char *quote(const char *pre, const char *s, const char *post, size_t *len)
{
	size_t n = strlen(s), extra = 0;
	int q = strpbrk(s, ",\"\n") != NULL;
	if (q)
		for (const char *c = s; *c; c++)
			extra += *c == '"';
	size_t lp = strlen(pre), lq = strlen(post);
	char *out = malloc(lp + n + extra + (q ? 2 : 0) + lq + 1);
	if (!out)
		return NULL;
	char *p = out;
	memcpy(p, pre, lp);
	p += lp;
	if (q)
		*p++ = '"';
	for (const char *c = s; *c; c++) {
		*p++ = *c;
		if (q && *c == '"')
			*p++ = '"';
	}
	if (q)
		*p++ = '"';
	memcpy(p, post, lq);
	p += lq;
	*p = '\0';
	*len = (size_t)(p - out);
	return out;
}

static int skipped(const struct ap_agg_opts *o, const char *name)
{
	for (size_t i = 0; i < o->nskip; i++)
		if (strcmp(o->skip[i], name) == 0)
			return 1;
	return 0;
}

static struct atag *tag_at(struct agg *a, int tag)
{
	size_t t = (size_t)tag;
	if (t >= a->ntags) {
		size_t n = a->ntags ? a->ntags : 64;
		while (n <= t)
			n *= 2;
		struct atag *g = realloc(a->tags, n * sizeof(*g));
		if (!g)
			return NULL;
		for (size_t i = a->ntags; i < n; i++)
			g[i] = (struct atag){.ev = -1};
		a->tags = g;
		a->ntags = n;
	}
	return &a->tags[t];
}

static struct acell *cell_at(struct agg *a, size_t pair)
{
	if (pair >= a->ncells) {
		size_t n = a->ncells ? a->ncells : 64;
		while (n <= pair)
			n *= 2;
		struct acell *c = realloc(a->cells, n * sizeof(*c));
		if (!c)
			return NULL;
		memset(c + a->ncells, 0, (n - a->ncells) * sizeof(*c));
		a->cells = c;
		a->ncells = n;
	}
	return &a->cells[pair];
}

static const struct cpustr *cpu_str(struct agg *a, int cpu)
{
	size_t i = (size_t)(cpu + 1);
	if (i >= a->ncpus) {
		size_t n = a->ncpus ? a->ncpus : 8;
		while (n <= i)
			n *= 2;
		struct cpustr *c = realloc(a->cpus, n * sizeof(*c));
		if (!c)
			return NULL;
		memset(c + a->ncpus, 0, (n - a->ncpus) * sizeof(*c));
		a->cpus = c;
		a->ncpus = n;
	}
	struct cpustr *c = &a->cpus[i];
	if (!c->len) {
		const struct ap_cpu_topo *t = NULL;
		if (cpu >= 0 && (size_t)cpu < a->o->ntopo && a->o->topo[cpu].known)
			t = &a->o->topo[cpu];
		int n = snprintf(c->s, sizeof(c->s), ",%lld,%lld,%d,%lld",
				 t ? t->socket : -1, t ? t->core : -1, cpu,
				 t ? t->node : -1);
		c->len = (size_t)n;
	}
	return c;
}

static int oom(struct agg *a)
{
	a->err = -ENOMEM;
	return 1;
}

static int on_event(void *ctx, int tag, const char *unit, const char *name)
{
	struct agg *a = ctx;
	if (skipped(a->o, name))
		return 0;
	struct ap_agg_result *r = a->res;
	if (r->nevents == a->evcap) {
		size_t n = a->evcap ? 2 * a->evcap : 64;
		struct ap_agg_event *e = realloc(r->events, n * sizeof(*e));
		if (!e)
			return oom(a);
		r->events = e;
		struct quoted *q = realloc(a->q, n * sizeof(*q));
		if (!q)
			return oom(a);
		a->q = q;
		a->evcap = n;
	}
	struct atag *t = tag_at(a, tag);
	if (!t)
		return oom(a);
	struct ap_agg_event *e = &r->events[r->nevents];
	struct quoted *q = &a->q[r->nevents];
	memset(e, 0, sizeof(*e));
	memset(q, 0, sizeof(*q));
	r->nevents++;
	e->tag = tag;
	e->name = strdup(name);
	e->unit = strdup(unit);
	q->name = quote("", name, ",", &q->nlen);
	q->unit = quote(",", unit, ",", &q->ulen);
	if (!e->name || !e->unit || !q->name || !q->unit)
		return oom(a);
	t->ev = (long)(r->nevents - 1);
	return 0;
}

static int flush(struct agg *a)
{
	int err = bg_submit(&a->bg, a->buf, a->used);
	a->bufs[a->cur] = a->buf;
	a->caps[a->cur] = a->cap;
	a->cur ^= 1;
	a->buf = a->bufs[a->cur];
	a->cap = a->caps[a->cur];
	a->used = 0;
	if (err) {
		a->err = err;
		return 1;
	}
	return 0;
}

static int on_row(void *ctx, const struct ap_run_row *row)
{
	struct agg *a = ctx;
	if ((size_t)row->tag >= a->ntags || a->tags[row->tag].ev < 0)
		return 0; /* skipped */
	struct atag *t = &a->tags[row->tag];
	struct acell *c = cell_at(a, row->pair);
	const struct cpustr *cs = cpu_str(a, row->cpu);
	if (!c || !cs)
		return oom(a);
	uint64_t delta = row->value - (c->seen ? c->value : 0);
	*c = (struct acell){1, row->tag, row->value, row->enabled, row->running};

	const struct quoted *q = &a->q[t->ev];
	size_t need = q->nlen + q->ulen + cs->len + 3 * 24;
	if (a->cap - a->used < need) {
		if (a->used && flush(a))
			return 1;
		if (need > a->cap) {
			char *b = realloc(a->buf, need);
			if (!b)
				return oom(a);
			a->buf = a->bufs[a->cur] = b;
			a->cap = a->caps[a->cur] = need;
		}
	}
	char *p = a->buf + a->used;
	memcpy(p, q->name, q->nlen);
	p += q->nlen;
	p = put_i64(p, (int64_t)((uint64_t)a->o->index_offset + (uint64_t)row->index));
	*p++ = ',';
	p = put_seconds(p, (int64_t)((uint64_t)a->o->time_offset + (uint64_t)row->time_ns));
	memcpy(p, cs->s, cs->len);
	p += cs->len;
	memcpy(p, q->unit, q->ulen);
	p += q->ulen;
	p = put_u64(p, delta);
	*p++ = '\n';
	a->used = (size_t)(p - a->buf);

	a->res->rows++;
	if (row->index > a->res->max_index)
		a->res->max_index = row->index;
	if (row->time_ns > a->res->max_time)
		a->res->max_time = row->time_ns;
	return 0;
}

void ap_agg_result_free(struct ap_agg_result *res)
{
	for (size_t i = 0; i < res->nevents; i++) {
		free(res->events[i].name);
		free(res->events[i].unit);
	}
	free(res->events);
	memset(res, 0, sizeof(*res));
}

int ap_aggregate_run(const char *path, struct ap_writer *w,
		     const struct ap_agg_opts *opts, struct ap_agg_result *res,
		     char *err, size_t errlen)
{
	memset(res, 0, sizeof(*res));
	res->max_index = -1;
	struct agg a = {.o = opts, .w = w, .res = res};
	const struct ap_run_visitor v = {on_event, on_row, &a};
	int ret = -ENOMEM;
	bg_start(&a.bg, w);
	a.bufs[0] = malloc(OUTBUF);
	a.bufs[1] = malloc(OUTBUF);
	if (!a.bufs[0] || !a.bufs[1]) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		goto out;
	}
	a.caps[0] = a.caps[1] = a.cap = OUTBUF;
	a.buf = a.bufs[0];
	ret = ap_run_parse(path, &v, NULL, err, errlen);
	const char *wname = w->path ? w->path : "write";
	if (ret == AP_RUN_ABORTED) {
		ret = a.err;
		snprintf(err, errlen, "%s: %s", ret == -ENOMEM ? path : wname,
			 strerror(-ret));
	}
	if (!ret && a.used && flush(&a)) {
		ret = a.err;
		snprintf(err, errlen, "%s: %s", wname, strerror(-ret));
	}
	int werr = bg_finish(&a.bg);
	if (!ret && werr) {
		ret = werr;
		snprintf(err, errlen, "%s: %s", wname, strerror(-ret));
	}
	if (ret)
		goto out;
	for (size_t k = 0; k < a.ncells; k++) {
		const struct acell *c = &a.cells[k];
		if (!c->seen)
			continue;
		struct ap_agg_event *e = &res->events[a.tags[c->tag].ev];
		e->has_rows = 1;
		/* a total beyond int64 is no count (Lua could not hold it) */
		if (e->total + c->value < e->total || e->total + c->value > INT64_MAX ||
		    e->enabled + c->enabled < e->enabled || e->running + c->running < e->running) {
			snprintf(err, errlen, "%s: the counts of '%s' add up to more than 2^63",
				 path, e->name);
			ret = AP_RUN_FORMAT;
			goto out;
		}
		e->total += c->value;
		e->enabled += c->enabled;
		e->running += c->running;
	}
out:
	bg_finish(&a.bg);
	for (size_t i = 0; i < res->nevents; i++) {
		free(a.q[i].name);
		free(a.q[i].unit);
	}
	free(a.q);
	free(a.tags);
	free(a.cells);
	free(a.cpus);
	free(a.bufs[0]);
	free(a.bufs[1]);
	if (ret) {
		ap_agg_result_free(res);
		res->max_index = -1;
	}
	return ret;
}
