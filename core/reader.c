#include "reader.h"

#include "runfile.h"
#include "table.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sinks a read may have: their wishes per event are one bit each. */
#define MAX_SINKS 32

struct pipe;

/* An event of the profile: its name, unit and statistics. Events are
 * told apart by (name, unit): an uncore event counts once per box, each
 * box its own PMU (its own unit), and boxes are never summed. */
struct pevent {
	char *name, *unit;
	struct ap_read_stat st;
};

/* Where the next repetition of a run starts on its timeline. */
struct offset {
	int run;
	int64_t index, time_ns;
};

struct rd {
	const struct ap_sink *sinks;
	size_t nsinks;
	char *err;
	size_t errlen;
	int code; /* a sink's error that stopped the parse */

	struct ap_names names; /* the profile's events, by number */
	struct pevent *pev;    /* by the same number */
	size_t npev, cappev;

	struct offset *offs;
	size_t noffs, capoffs;

	/* the file being read */
	const struct ap_read_file *f;
	const struct offset *off;
	size_t *by_tag; /* tag -> index in ev + 1, 0: skipped or undeclared */
	size_t ntags;
	struct ap_read_event *ev; /* the file's events kept, in file order (their
				   * units are copies of ours) */
	uint32_t *want;           /* per kept event: the sinks that want its rows */
	size_t nev, capev;
	int64_t max_index, max_time;

	struct pipe *pipe; /* files parsed ahead on threads, or NULL */
};

/* The key of (name, unit) in the profile's index: "name\x1funit". */
static char *event_key(const char *name, const char *unit)
{
	size_t n = strlen(name), u = strlen(unit);
	char *k = malloc(n + u + 2);
	if (!k)
		return NULL;
	memcpy(k, name, n);
	k[n] = '\x1f';
	memcpy(k + n + 1, unit, u + 1);
	return k;
}

/* The number of the profile's event (name, unit), added when new; -1
 * when out of memory. */
static long profile_event(struct rd *r, const char *name, const char *unit)
{
	int added;
	char *key = event_key(name, unit);
	if (!key)
		return -1;
	long k = ap_names_get(&r->names, key, strlen(key), &added);
	free(key);
	if (k < 0 || !added)
		return k;
	struct pevent *pev = ap_grown(r->pev, (size_t)k, &r->cappev, sizeof(*pev));
	if (!pev)
		return -1;
	r->pev = pev;
	pev[k] = (struct pevent){.name = strdup(name), .unit = strdup(unit)};
	r->npev++;
	if (!pev[k].unit || !pev[k].name)
		return -1;
	pev[k].st.name = pev[k].name;
	pev[k].st.unit = pev[k].unit;
	return k;
}

static int stop(struct rd *r, int code)
{
	r->code = code;
	return 1;
}

static int on_event(void *ctx, int tag, const char *unit, const char *name)
{
	struct rd *r = ctx;
	size_t t = (size_t)tag;
	size_t *b = ap_zgrown(r->by_tag, &r->ntags, t, sizeof(*b));
	if (!b)
		return stop(r, -ENOMEM);
	r->by_tag = b;
	if (r->f->skip && r->f->skip(name, r->f->skip_ctx))
		return 0;
	long ev = profile_event(r, name, unit);
	if (ev < 0)
		return stop(r, -ENOMEM);
	size_t cap = r->capev;
	struct ap_read_event *e = ap_grown(r->ev, r->nev, &cap, sizeof(*e));
	if (!e)
		return stop(r, -ENOMEM);
	r->ev = e;
	size_t cap2 = r->capev;
	uint32_t *want = ap_grown(r->want, r->nev, &cap2, sizeof(*want));
	if (!want)
		return stop(r, -ENOMEM);
	r->want = want;
	r->capev = cap;
	char *u = strdup(unit);
	if (!u)
		return stop(r, -ENOMEM);
	const size_t k = r->nev++;
	want[k] = 0;
	e = &r->ev[k];
	*e = (struct ap_read_event){
		.ev = (size_t)ev,
		.tag = tag,
		.name = r->pev[ev].name,
		.unit = u,
	};
	for (size_t s = 0; s < r->nsinks; s++) {
		const struct ap_sink *sk = &r->sinks[s];
		int got = sk->on_event ? sk->on_event(sk->ctx, e) : 0;
		if (got < 0 || got > AP_SINK_SKIP)
			return stop(r, got);
		if (got == 0)
			want[k] |= (uint32_t)1 << s;
	}
	r->by_tag[t] = k + 1;
	return 0;
}

static int on_row(void *ctx, const struct ap_run_row *row)
{
	struct rd *r = ctx;
	size_t k = r->by_tag[row->tag]; /* declared: the parser checked */
	if (!k--)
		return 0;
	if (row->index > r->max_index)
		r->max_index = row->index;
	if (row->time_ns > r->max_time)
		r->max_time = row->time_ns;
	uint32_t mask = r->want[k];
	if (!mask)
		return 0;
	const struct ap_read_row out = {
		.e = &r->ev[k],
		.index = row->index,
		.time_ns = row->time_ns,
		.run_index = (int64_t)((uint64_t)r->off->index + (uint64_t)row->index),
		.run_time_ns = (int64_t)((uint64_t)r->off->time_ns + (uint64_t)row->time_ns),
		.cpu = row->cpu,
		.value = row->value,
		.delta = row->delta,
		.enabled = row->enabled,
		.running = row->running,
	};
	for (size_t s = 0; mask; s++, mask >>= 1) {
		if (!(mask & 1) || !r->sinks[s].on_row)
			continue;
		int got = r->sinks[s].on_row(r->sinks[s].ctx, &out);
		if (got)
			return stop(r, got);
	}
	return 0;
}

static int too_much(struct rd *r, const char *name)
{
	snprintf(r->err, r->errlen, "%s: the counts of '%s' add up to more than 2^63",
		 r->f->path, name);
	return stop(r, AP_RUN_FORMAT);
}

/* The file's totals from the last sample of every pair. */
static int on_end(void *ctx, const struct ap_run_last *last, size_t n)
{
	struct rd *r = ctx;
	for (size_t i = 0; i < n; i++) {
		const struct ap_run_last *l = &last[i];
		size_t k = r->by_tag[l->tag];
		if (!k--)
			continue;
		struct ap_read_event *e = &r->ev[k];
		e->has_rows = 1;
		/* a total beyond int64 is no count (Lua could not hold it) */
		if (e->total + l->value < e->total || e->total + l->value > INT64_MAX ||
		    e->enabled + l->enabled < e->enabled || e->running + l->running < e->running)
			return too_much(r, e->name);
		e->total += l->value;
		e->enabled += l->enabled;
		e->running += l->running;
		if (l->running < l->enabled)
			e->flagged = 1;
	}
	for (size_t k = 0; k < r->nev; k++) {
		const struct ap_read_event *e = &r->ev[k];
		struct ap_read_stat *st = &r->pev[e->ev].st;
		if (!e->has_rows)
			continue;
		if (st->sum + e->total > INT64_MAX)
			return too_much(r, e->name);
		st->min = st->reps == 0 || e->total < st->min ? e->total : st->min;
		st->max = st->reps == 0 || e->total > st->max ? e->total : st->max;
		st->sum += e->total;
		st->enabled += e->enabled; /* modulo 2^64, as Lua integers add */
		st->running += e->running;
		st->reps++;
	}
	for (size_t s = 0; s < r->nsinks; s++) {
		const struct ap_sink *k = &r->sinks[s];
		int got = k->on_file_end ? k->on_file_end(k->ctx, r->ev, r->nev) : 0;
		if (got)
			return stop(r, got);
	}
	return 0;
}

/* The timeline offset of f's run (created at 0 when first seen). */
static struct offset *offset_of(struct rd *r, int run)
{
	for (size_t i = 0; i < r->noffs; i++)
		if (r->offs[i].run == run)
			return &r->offs[i];
	struct offset *o = ap_grown(r->offs, r->noffs, &r->capoffs, sizeof(*o));
	if (!o)
		return NULL;
	r->offs = o;
	o[r->noffs] = (struct offset){.run = run};
	return &o[r->noffs++];
}

static void end_file(struct rd *r)
{
	for (size_t k = 0; k < r->nev; k++)
		free((char *)r->ev[k].unit);
	r->nev = 0;
	if (r->ntags)
		memset(r->by_tag, 0, r->ntags * sizeof(*r->by_tag));
}

/*
 * Reading ahead. Inflating and parsing a run file (ap_run_parse) is most
 * of a read's cost and each file is a stream of its own, so with more
 * than one cpu, worker threads parse the next files while this thread
 * hands the current one's rows to the sinks. A worker takes the files in
 * order and turns what its parser reports into records in blocks queued
 * on the file's slot; the reader's thread replays them, in file order,
 * into the same callbacks (on_event, on_row, on_end) the parser calls
 * when reading in line, and the parser's result and message (a cut or
 * corrupt file) come last. So sinks see the same calls in the same order,
 * messages are the same, and the first failure in file order is the one
 * reported: what workers read past it is dropped. Memory is bounded: at
 * most one file per worker is in flight, with at most SLOT_BLOCKS blocks
 * of BLOCK bytes queued (a record larger than a block, an #event line or
 * a file's last samples, gets a block of its size). Sinks and the skip
 * callback only ever run on the caller's thread.
 */
#define MAX_THREADS 8
#define BLOCK (256 << 10)
#define SLOT_BLOCKS 8

enum { REC_EVENT, REC_ROW, REC_END };

/* A record: this header, then its payload, padded to 8 bytes. A file's
 * last samples (REC_END) may be more than 4 GiB: their payload is their
 * count (uint64_t), then them, and len says 0. */
struct rec {
	uint32_t type;
	uint32_t len; /* of the payload */
};

static size_t rec_len(const struct rec *h)
{
	if (h->type != REC_END)
		return h->len;
	uint64_t n;
	memcpy(&n, h + 1, sizeof(n));
	return sizeof(n) + (size_t)n * sizeof(struct ap_run_last);
}

struct rrow {
	int64_t index, time_ns;
	uint64_t value, enabled, running, delta;
	int32_t cpu, tag;
};

struct block {
	struct block *next;
	size_t len, cap;
	_Alignas(8) char data[];
};

/* One file in flight: its queued blocks, then its parser's result. */
struct slot {
	struct block *head, *tail;
	size_t nblocks;
	int done, ret;
	char perr[512];
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a worker waits: for room, or a file */
	pthread_cond_t data; /* the reader waits: for a block or the end */
	const struct ap_read_file *files;
	size_t nfiles;
	size_t next; /* the next file a worker takes */
	size_t cur;  /* the file being replayed: files next - cur < nth fly */
	int stop;
	struct slot slots[MAX_THREADS]; /* file i's is slots[i % nth] */
	struct block *spare;             /* blocks to reuse */
	size_t nspare;
	pthread_t th[MAX_THREADS];
	size_t nth;
};

/* A worker's file: the block being filled. */
struct wfile {
	struct pipe *p;
	struct slot *s;
	struct block *b;
	int nomem;
};

/* Queues w's block on its slot once there is room; 0, or -1 when the read
 * is stopping (the block is dropped). */
static int push(struct wfile *w)
{
	struct pipe *p = w->p;
	struct block *b = w->b;
	w->b = NULL;
	pthread_mutex_lock(&p->mu);
	while (w->s->nblocks >= SLOT_BLOCKS && !p->stop)
		pthread_cond_wait(&p->work, &p->mu);
	int stop = p->stop;
	if (!stop) {
		b->next = NULL;
		if (w->s->tail)
			w->s->tail->next = b;
		else
			w->s->head = b;
		w->s->tail = b;
		w->s->nblocks++;
		pthread_cond_signal(&p->data);
	}
	pthread_mutex_unlock(&p->mu);
	if (stop)
		free(b);
	return stop ? -1 : 0;
}

/* Room for a record of type and payload len at the end of w's block (the
 * full one queued first); its payload, or NULL to stop the parse (the
 * read is stopping, or out of memory: w->nomem). */
static void *record(struct wfile *w, uint32_t type, size_t len)
{
	const size_t need = sizeof(struct rec) + ((len + 7) & ~(size_t)7);
	if (w->b && w->b->cap - w->b->len < need && push(w))
		return NULL;
	if (!w->b) {
		struct pipe *p = w->p;
		struct block *b = NULL;
		if (need <= BLOCK) {
			pthread_mutex_lock(&p->mu);
			if ((b = p->spare)) {
				p->spare = b->next;
				p->nspare--;
			}
			pthread_mutex_unlock(&p->mu);
		}
		if (!b) {
			const size_t cap = need > BLOCK ? need : BLOCK;
			if (!(b = malloc(sizeof(*b) + cap))) {
				w->nomem = 1;
				return NULL;
			}
			b->cap = cap;
		}
		b->len = 0;
		w->b = b;
	}
	struct rec *h = (struct rec *)(w->b->data + w->b->len);
	h->type = type;
	h->len = type == REC_END ? 0 : (uint32_t)len;
	w->b->len += need;
	return h + 1;
}

static int w_event(void *ctx, int tag, const char *unit, const char *name)
{
	/* a line is at most AP_LINE_MAX bytes: len fits */
	const size_t u = strlen(unit) + 1, n = strlen(name) + 1;
	char *d = record(ctx, REC_EVENT, sizeof(int32_t) + u + n);
	if (!d)
		return 1;
	const int32_t t = tag;
	memcpy(d, &t, sizeof(t));
	memcpy(d + sizeof(t), unit, u);
	memcpy(d + sizeof(t) + u, name, n);
	return 0;
}

static int w_row(void *ctx, const struct ap_run_row *row)
{
	struct rrow *d = record(ctx, REC_ROW, sizeof(*d));
	if (!d)
		return 1;
	*d = (struct rrow){
		.index = row->index,
		.time_ns = row->time_ns,
		.value = row->value,
		.enabled = row->enabled,
		.running = row->running,
		.delta = row->delta,
		.cpu = row->cpu,
		.tag = row->tag,
	};
	return 0;
}

static int w_end(void *ctx, const struct ap_run_last *last, size_t n)
{
	const uint64_t count = n;
	char *d = record(ctx, REC_END, sizeof(count) + n * sizeof(*last));
	if (!d)
		return 1;
	memcpy(d, &count, sizeof(count));
	if (n)
		memcpy(d + sizeof(count), last, n * sizeof(*last));
	return 0;
}

/* Parses file i into its slot, then sets its result. */
static void parse_ahead(struct pipe *p, size_t i)
{
	const struct ap_read_file *f = &p->files[i];
	struct wfile w = {.p = p, .s = &p->slots[i % p->nth]};
	char perr[sizeof(w.s->perr)] = "";
	const struct ap_run_visitor v = {w_event, w_row, w_end, &w};
	int ret = ap_run_parse(f->path, &v, NULL, perr, sizeof(perr));
	if (w.nomem) {
		ret = -ENOMEM;
		snprintf(perr, sizeof(perr), "%s: %s", f->path, strerror(ENOMEM));
	}
	/* the rows before a failure reach the sinks before its message */
	if (w.b && push(&w) && !ret)
		ret = AP_RUN_ABORTED;
	pthread_mutex_lock(&p->mu);
	w.s->done = 1;
	w.s->ret = ret;
	memcpy(w.s->perr, perr, sizeof(perr));
	pthread_cond_signal(&p->data);
	pthread_mutex_unlock(&p->mu);
}

static void *worker(void *arg)
{
	struct pipe *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next < p->nfiles && p->next - p->cur >= p->nth)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop || p->next >= p->nfiles)
			break;
		size_t i = p->next++;
		pthread_mutex_unlock(&p->mu);
		parse_ahead(p, i);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void free_blocks(struct block *b)
{
	while (b) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
}

/* Stops the workers (a file half read is dropped), joins them, frees. */
static void pipe_end(struct pipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (size_t t = 0; t < p->nth; t++)
		pthread_join(p->th[t], NULL);
	for (size_t t = 0; t < MAX_THREADS; t++)
		free_blocks(p->slots[t].head);
	free_blocks(p->spare);
	pthread_cond_destroy(&p->data);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* Workers to read with: the caller's thread and one worker per other
 * online cpu it may run on (its affinity: a Slurm job's or taskset's
 * cpus, not the machine's), up to MAX_THREADS workers; none (read in
 * line) on one cpu. On 2 cpus one worker pays since inflating is ISA-L's
 * and results.csv skips the page cache (bench-aggregate, 40M rows, quiet:
 * 5.37 s ahead, 5.55 s in line; with zlib and the cache the stages had
 * cost more than one core has either way). AUTOPERF_READ_THREADS=N reads
 * with N threads likewise (1: in line), the benchmark's knob for its
 * in-line comparison. */
static size_t threads_for(size_t nfiles)
{
	cpu_set_t set;
	long n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
							    : sysconf(_SC_NPROCESSORS_ONLN);
	const char *e = getenv("AUTOPERF_READ_THREADS");
	if (e && *e) {
		char *end;
		long v = strtol(e, &end, 10);
		if (!*end && v >= 1)
			n = v;
	}
	if (n < 2 || nfiles == 0)
		return 0;
	return n - 1 > MAX_THREADS ? MAX_THREADS : (size_t)(n - 1);
}

/* Starts the workers for files; NULL (read in line) when there is one
 * cpu or no thread to be had. */
static struct pipe *pipe_start(const struct ap_read_file *files, size_t nfiles)
{
	size_t n = threads_for(nfiles);
	if (!n)
		return NULL;
	struct pipe *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->files = files;
	p->nfiles = nfiles;
	if (pthread_mutex_init(&p->mu, NULL))
		goto fail;
	if (pthread_cond_init(&p->work, NULL))
		goto fail_mu;
	if (pthread_cond_init(&p->data, NULL))
		goto fail_work;
	/* the workers wait for the lock until nth is final */
	pthread_mutex_lock(&p->mu);
	for (size_t t = 0; t < n; t++) {
		if (pthread_create(&p->th[p->nth], NULL, worker, p))
			break;
		p->nth++;
	}
	pthread_mutex_unlock(&p->mu);
	if (p->nth)
		return p;
	pthread_cond_destroy(&p->data);
fail_work:
	pthread_cond_destroy(&p->work);
fail_mu:
	pthread_mutex_destroy(&p->mu);
fail:
	free(p);
	return NULL;
}

/* Hands file i's records to v as ap_run_parse would, in order; returns
 * what ap_run_parse returned for it (its message in perr), or
 * AP_RUN_ABORTED when a callback stopped it. */
static int pipe_replay(struct pipe *p, size_t i, const struct ap_run_visitor *v,
		       char *perr, size_t perrlen)
{
	struct slot *s = &p->slots[i % p->nth];
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!s->head && !s->done)
			pthread_cond_wait(&p->data, &p->mu);
		struct block *b = s->head;
		if (b) {
			if (!(s->head = b->next))
				s->tail = NULL;
			s->nblocks--;
			pthread_cond_broadcast(&p->work);
		}
		pthread_mutex_unlock(&p->mu);
		if (!b)
			break;
		int stop = 0;
		for (size_t o = 0; o < b->len && !stop;) {
			const struct rec *h = (const struct rec *)(b->data + o);
			const char *d = (const char *)(h + 1);
			const size_t len = rec_len(h);
			o += sizeof(*h) + ((len + 7) & ~(size_t)7);
			if (h->type == REC_ROW) {
				struct rrow rr;
				memcpy(&rr, d, sizeof(rr));
				const struct ap_run_row row = {
					.index = rr.index,
					.time_ns = rr.time_ns,
					.cpu = rr.cpu,
					.tag = rr.tag,
					.value = rr.value,
					.enabled = rr.enabled,
					.running = rr.running,
					.delta = rr.delta,
				};
				stop = v->on_row(v->ctx, &row);
			} else if (h->type == REC_EVENT) {
				int32_t tag;
				memcpy(&tag, d, sizeof(tag));
				const char *unit = d + sizeof(tag);
				stop = v->on_event(v->ctx, tag, unit, unit + strlen(unit) + 1);
			} else {
				stop = v->on_end(v->ctx, (const struct ap_run_last *)(d + sizeof(uint64_t)),
						 (len - sizeof(uint64_t)) / sizeof(struct ap_run_last));
			}
		}
		pthread_mutex_lock(&p->mu);
		if (b->cap == BLOCK && p->nspare < 2 * p->nth * SLOT_BLOCKS) {
			b->next = p->spare;
			p->spare = b;
			p->nspare++;
			b = NULL;
		}
		pthread_mutex_unlock(&p->mu);
		free(b);
		if (stop)
			return AP_RUN_ABORTED;
	}
	pthread_mutex_lock(&p->mu);
	int ret = s->ret;
	snprintf(perr, perrlen, "%s", s->perr);
	*s = (struct slot){0};
	p->cur++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	return ret;
}

/* Reads one file; 0 or the error (message in r->err). */
static int read_file(struct rd *r, const struct ap_read_file *f, size_t i)
{
	r->f = f;
	r->code = 0;
	r->max_index = -1;
	r->max_time = 0;
	struct offset *off = offset_of(r, f->run);
	if (!off) {
		snprintf(r->err, r->errlen, "%s: %s", f->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	r->off = off;
	for (size_t s = 0; s < r->nsinks; s++) {
		const struct ap_sink *k = &r->sinks[s];
		int got = k->on_file ? k->on_file(k->ctx, f, i) : 0;
		if (got) {
			if (!r->err[0])
				snprintf(r->err, r->errlen, "%s: %s", f->path, strerror(got < 0 ? -got : EINVAL));
			return got;
		}
	}
	/* The parser's own messages; a sink's stay in r->err. */
	char perr[512];
	const struct ap_run_visitor v = {on_event, on_row, on_end, r};
	int ret = r->pipe ? pipe_replay(r->pipe, i, &v, perr, sizeof(perr))
			  : ap_run_parse(f->path, &v, NULL, perr, sizeof(perr));
	if (ret == AP_RUN_ABORTED) {
		ret = r->code;
		if (!r->err[0])
			snprintf(r->err, r->errlen, "%s: %s", f->path,
				 strerror(ret < 0 ? -ret : EINVAL));
	} else if (ret) {
		snprintf(r->err, r->errlen, "%s", perr);
	}
	end_file(r);
	if (ret)
		return ret;
	/* the next repetition of this run starts where this one ended */
	off = offset_of(r, f->run);
	off->index += r->max_index + 1;
	off->time_ns += r->max_time;
	return 0;
}

int ap_read_profile(const struct ap_read_file *files, size_t nfiles,
		    const struct ap_sink *sinks, size_t nsinks, char *err,
		    size_t errlen)
{
	struct rd r = {.sinks = sinks, .nsinks = nsinks, .err = err, .errlen = errlen};
	int ret = 0;
	if (errlen)
		err[0] = '\0';
	if (nsinks > MAX_SINKS) {
		snprintf(err, errlen, "more than %d sinks", MAX_SINKS);
		return -EINVAL;
	}
	r.pipe = pipe_start(files, nfiles);
	for (size_t i = 0; i < nfiles; i++)
		if ((ret = read_file(&r, &files[i], i)))
			goto out;
	if (r.pipe) {
		pipe_end(r.pipe);
		r.pipe = NULL;
	}
	struct ap_read_stat *st = malloc((r.names.n ? r.names.n : 1) * sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		ret = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < r.names.n; k++)
		st[k] = r.pev[k].st;
	for (size_t s = 0; s < nsinks && !ret; s++)
		if (sinks[s].on_profile_end)
			ret = sinks[s].on_profile_end(sinks[s].ctx, st, r.names.n);
	free(st);
	if (ret && !err[0])
		snprintf(err, errlen, "%s", strerror(ret < 0 ? -ret : EINVAL));
out:
	if (r.pipe)
		pipe_end(r.pipe);
	for (size_t k = 0; k < r.npev; k++) {
		free(r.pev[k].name);
		free(r.pev[k].unit);
	}
	ap_names_free(&r.names);
	free(r.pev);
	free(r.offs);
	free(r.by_tag);
	free(r.ev);
	free(r.want);
	return ret;
}
