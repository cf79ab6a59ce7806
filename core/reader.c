#include "reader.h"

#include "runfile.h"
#include "table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sinks a read may have: their wishes per event are one bit each. */
#define MAX_SINKS 32

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
	int ret = ap_run_parse(f->path, &v, NULL, perr, sizeof(perr));
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
	for (size_t i = 0; i < nfiles; i++)
		if ((ret = read_file(&r, &files[i], i)))
			goto out;
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
