#include "aggregate.h"

#include "io.h"
#include "reader.h"
#include "runfile.h"
#include "table.h"

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

/* Per profile event: the bytes a row starts and ends with. */
struct quoted {
	char *name; /* "name," */
	char *unit; /* ",unit," */
	char *raw_unit; /* unit, to see a later file's differ */
	size_t nlen, ulen;
};

/* Per cpu: ",socket,core,cpu,node" (at most 4 x 20 + 4 bytes: PAD to
 * spare) */
struct cpustr {
	char s[128];
	size_t len;
};

struct ap_results_sink {
	struct ap_writer *w;
	const struct ap_cpu_topo *topo;
	size_t ntopo;
	int64_t index_offset, time_offset;
	char *err;
	size_t errlen;
	struct quoted *q; /* by profile event number */
	size_t nq;
	struct cpustr *cpus; /* [cpu + 1], len 0 until first used */
	size_t ncpus;
	struct bg bg;
	char *bufs[2]; /* one being filled (buf), one being written */
	size_t caps[2];
	int cur;
	char *buf;
	size_t used, cap;
	int64_t max_index, max_time;
	long rows;
};

/* ns as seconds with 6 decimals, the µs rounded half up. */
static char *put_seconds(char *p, int64_t ns)
{
	uint64_t mag = (uint64_t)ns;
	if (ns < 0) {
		*p++ = '-';
		mag = 0 - mag;
	}
	uint64_t us = mag / 1000 + (mag % 1000 >= 500);
	p = ap_put_u64(p, us / 1000000);
	*p++ = '.';
	uint64_t frac = us % 1000000;
	for (int i = 5; i >= 0; i--) {
		p[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	return p + 6;
}

/* A row's pieces (an event's name and unit, a cpu's topology) are short:
 * copied 32 bytes at a time without a call, from strings with PAD bytes
 * of room after them, into a buffer with PAD bytes to spare. */
#define PAD 32

static inline char *put_piece(char *p, const char *s, size_t n)
{
	if (n <= PAD) {
		memcpy(p, s, 16);
		memcpy(p + 16, s + 16, 16);
	} else {
		memcpy(p, s, n);
	}
	return p + n;
}

/* util.csv_field: quoted (inner quotes doubled) when it holds , " or \n;
 * pre and post are copied around it (PAD bytes of room after it). */
static char *quote(const char *pre, const char *s, const char *post, size_t *len)
{
	size_t n = strlen(s), extra = 0;
	int q = strpbrk(s, ",\"\n") != NULL;
	if (q)
		for (const char *c = s; *c; c++)
			extra += *c == '"';
	size_t lp = strlen(pre), lq = strlen(post);
	char *out = calloc(1, lp + n + extra + (q ? 2 : 0) + lq + 1 + PAD);
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

static const struct cpustr *cpu_str(struct ap_results_sink *a, int cpu)
{
	size_t i = (size_t)(cpu + 1);
	if (i >= a->ncpus) {
		struct cpustr *c = ap_zgrown(a->cpus, &a->ncpus, i, sizeof(*c));
		if (!c)
			return NULL;
		a->cpus = c;
	}
	struct cpustr *c = &a->cpus[i];
	if (!c->len) {
		const struct ap_cpu_topo *t = NULL;
		if (cpu >= 0 && (size_t)cpu < a->ntopo && a->topo[cpu].known)
			t = &a->topo[cpu];
		int n = snprintf(c->s, sizeof(c->s), ",%lld,%lld,%d,%lld",
				 t ? t->socket : -1, t ? t->core : -1, cpu,
				 t ? t->node : -1);
		c->len = (size_t)n;
	}
	return c;
}

static const char *wname(const struct ap_results_sink *a)
{
	return a->w->path ? a->w->path : "write";
}

static int write_failed(struct ap_results_sink *a, int err)
{
	snprintf(a->err, a->errlen, "%s: %s", wname(a), strerror(-err));
	return err;
}

static int flush(struct ap_results_sink *a)
{
	int err = bg_submit(&a->bg, a->buf, a->used);
	a->bufs[a->cur] = a->buf;
	a->caps[a->cur] = a->cap;
	a->cur ^= 1;
	a->buf = a->bufs[a->cur];
	a->cap = a->caps[a->cur];
	a->used = 0;
	return err ? write_failed(a, err) : 0;
}

static int on_event(void *ctx, const struct ap_read_event *e)
{
	struct ap_results_sink *a = ctx;
	struct quoted *q = ap_zgrown(a->q, &a->nq, e->ev, sizeof(*q));
	if (!q)
		return -ENOMEM;
	a->q = q;
	q += e->ev;
	if (!q->name && !(q->name = quote("", e->name, ",", &q->nlen)))
		return -ENOMEM;
	if (!q->raw_unit || strcmp(q->raw_unit, e->unit) != 0) {
		free(q->raw_unit);
		free(q->unit);
		q->unit = NULL;
		if (!(q->raw_unit = strdup(e->unit)) ||
		    !(q->unit = quote(",", e->unit, ",", &q->ulen)))
			return -ENOMEM;
	}
	return 0;
}

static int on_row(void *ctx, const struct ap_read_row *row)
{
	struct ap_results_sink *a = ctx;
	const struct cpustr *cs = cpu_str(a, row->cpu);
	if (!cs)
		return -ENOMEM;
	const struct quoted *q = &a->q[row->e->ev];
	size_t need = q->nlen + q->ulen + cs->len + 3 * 24 + PAD;
	if (a->cap - a->used < need) {
		int err;
		if (a->used && (err = flush(a)))
			return err;
		if (need > a->cap) {
			char *b = realloc(a->buf, need);
			if (!b)
				return -ENOMEM;
			a->buf = a->bufs[a->cur] = b;
			a->cap = a->caps[a->cur] = need;
		}
	}
	char *p = a->buf + a->used;
	p = put_piece(p, q->name, q->nlen);
	p = ap_put_i64(p, (int64_t)((uint64_t)a->index_offset + (uint64_t)row->run_index));
	*p++ = ',';
	p = put_seconds(p, (int64_t)((uint64_t)a->time_offset + (uint64_t)row->run_time_ns));
	p = put_piece(p, cs->s, cs->len);
	p = put_piece(p, q->unit, q->ulen);
	p = ap_put_u64(p, row->delta);
	*p++ = '\n';
	a->used = (size_t)(p - a->buf);

	a->rows++;
	if (row->index > a->max_index)
		a->max_index = row->index;
	if (row->time_ns > a->max_time)
		a->max_time = row->time_ns;
	return 0;
}

int ap_results_sink_new(struct ap_results_sink **out, const struct ap_results_opts *o,
			char *err, size_t errlen)
{
	struct ap_results_sink *a = calloc(1, sizeof(*a));
	if (!a)
		goto fail;
	a->w = o->w;
	a->topo = o->topo;
	a->ntopo = o->ntopo;
	a->index_offset = o->index_offset;
	a->time_offset = o->time_offset;
	a->err = err;
	a->errlen = errlen;
	a->max_index = -1;
	a->bufs[0] = malloc(OUTBUF);
	a->bufs[1] = malloc(OUTBUF);
	if (!a->bufs[0] || !a->bufs[1])
		goto fail;
	a->caps[0] = a->caps[1] = a->cap = OUTBUF;
	a->buf = a->bufs[0];
	bg_start(&a->bg, o->w);
	*out = a;
	return 0;
fail:
	if (a) {
		free(a->bufs[0]);
		free(a->bufs[1]);
		free(a);
	}
	snprintf(err, errlen, "%s", strerror(ENOMEM));
	return -ENOMEM;
}

struct ap_sink ap_results_sink(struct ap_results_sink *a)
{
	return (struct ap_sink){.on_event = on_event, .on_row = on_row, .ctx = a};
}

int ap_results_sink_finish(struct ap_results_sink *a)
{
	int ret = a->used ? flush(a) : 0;
	int werr = bg_finish(&a->bg);
	if (!ret && werr)
		ret = write_failed(a, werr);
	return ret;
}

void ap_results_sink_counts(const struct ap_results_sink *a, long *rows,
			    int64_t *max_index, int64_t *max_time)
{
	*rows = a->rows;
	*max_index = a->max_index;
	*max_time = a->max_time;
}

void ap_results_sink_free(struct ap_results_sink *a)
{
	if (!a)
		return;
	bg_finish(&a->bg);
	for (size_t i = 0; i < a->nq; i++) {
		free(a->q[i].name);
		free(a->q[i].unit);
		free(a->q[i].raw_unit);
	}
	free(a->q);
	free(a->cpus);
	free(a->bufs[0]);
	free(a->bufs[1]);
	free(a);
}
