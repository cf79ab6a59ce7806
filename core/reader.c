#include "reader.h"

#include "runfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sinks a read may have: their wishes per event are one bit each. */
#define MAX_SINKS 32

/* An event of the profile: its name, first unit and statistics. */
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

	struct pevent *pev; /* the profile's events, by number */
	size_t npev, cappev;
	uint32_t *slots; /* open addressing over pev by name: number + 1 */
	size_t nslots;

	struct offset *offs;
	size_t noffs, capoffs;

	/* the file being read */
	const struct ap_read_file *f;
	const struct offset *off;
	long *by_tag; /* tag -> index in ev, -1: skipped or undeclared */
	size_t ntags;
	struct ap_read_event *ev; /* the file's events kept, in file order */
	char **units;             /* ev[k].unit, owned */
	uint32_t *want;           /* per kept event: the sinks that want its rows */
	size_t nev, capev;
	int64_t max_index, max_time;
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* v with room for one more of sz bytes (n held, *cap room), or NULL. */
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

static int grow_slots(struct rd *r)
{
	size_t n = r->nslots ? r->nslots * 2 : 256;
	uint32_t *s = calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < r->npev; i++) {
		size_t k = name_hash(r->pev[i].name) & (n - 1);
		while (s[k])
			k = (k + 1) & (n - 1);
		s[k] = (uint32_t)i + 1;
	}
	free(r->slots);
	r->slots = s;
	r->nslots = n;
	return 0;
}

/* The number of the profile's event called name, added when new; -1 when
 * out of memory. */
static long profile_event(struct rd *r, const char *name, const char *unit)
{
	if ((r->npev + 1) * 2 > r->nslots && grow_slots(r))
		return -1;
	size_t k = name_hash(name) & (r->nslots - 1);
	while (r->slots[k]) {
		if (strcmp(r->pev[r->slots[k] - 1].name, name) == 0)
			return (long)r->slots[k] - 1;
		k = (k + 1) & (r->nslots - 1);
	}
	struct pevent *pev = grown(r->pev, r->npev, &r->cappev, sizeof(*pev));
	if (!pev)
		return -1;
	r->pev = pev;
	struct pevent *e = &pev[r->npev];
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	e->unit = strdup(unit);
	if (!e->name || !e->unit) {
		free(e->name);
		free(e->unit);
		return -1;
	}
	e->st.name = e->name;
	e->st.unit = e->unit;
	r->slots[k] = (uint32_t)++r->npev;
	return (long)r->npev - 1;
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
	if (t >= r->ntags) {
		size_t n = r->ntags ? r->ntags : 64;
		while (n <= t)
			n *= 2;
		long *b = realloc(r->by_tag, n * sizeof(*b));
		if (!b)
			return stop(r, -ENOMEM);
		for (size_t i = r->ntags; i < n; i++)
			b[i] = -1;
		r->by_tag = b;
		r->ntags = n;
	}
	if (r->f->skip && r->f->skip(name, r->f->skip_ctx))
		return 0;
	long ev = profile_event(r, name, unit);
	if (ev < 0)
		return stop(r, -ENOMEM);
	size_t cap = r->capev;
	struct ap_read_event *e = grown(r->ev, r->nev, &cap, sizeof(*e));
	if (!e)
		return stop(r, -ENOMEM);
	r->ev = e;
	size_t cap2 = r->capev;
	char **units = grown(r->units, r->nev, &cap2, sizeof(*units));
	if (!units)
		return stop(r, -ENOMEM);
	r->units = units;
	size_t cap3 = r->capev;
	uint32_t *want = grown(r->want, r->nev, &cap3, sizeof(*want));
	if (!want)
		return stop(r, -ENOMEM);
	r->want = want;
	r->capev = cap;
	if (!(units[r->nev] = strdup(unit)))
		return stop(r, -ENOMEM);
	e = &r->ev[r->nev];
	*e = (struct ap_read_event){
		.ev = (size_t)ev,
		.tag = tag,
		.name = r->pev[ev].name,
		.unit = units[r->nev],
	};
	uint32_t mask = 0;
	for (size_t s = 0; s < r->nsinks; s++) {
		const struct ap_sink *k = &r->sinks[s];
		int got = k->on_event ? k->on_event(k->ctx, e) : 0;
		if (got < 0 || got > AP_SINK_SKIP)
			return stop(r, got);
		if (got == 0)
			mask |= (uint32_t)1 << s;
	}
	want[r->nev] = mask;
	r->by_tag[t] = (long)r->nev++;
	return 0;
}

static int on_row(void *ctx, const struct ap_run_row *row)
{
	struct rd *r = ctx;
	long k = r->by_tag[row->tag]; /* declared: the parser checked */
	if (k < 0)
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
		long k = r->by_tag[l->tag];
		if (k < 0)
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
	struct offset *o = grown(r->offs, r->noffs, &r->capoffs, sizeof(*o));
	if (!o)
		return NULL;
	r->offs = o;
	o[r->noffs] = (struct offset){.run = run};
	return &o[r->noffs++];
}

static void end_file(struct rd *r)
{
	for (size_t k = 0; k < r->nev; k++)
		free(r->units[k]);
	r->nev = 0;
	for (size_t t = 0; t < r->ntags; t++)
		r->by_tag[t] = -1;
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
	struct ap_read_stat *st = malloc((r.npev ? r.npev : 1) * sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		ret = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < r.npev; k++)
		st[k] = r.pev[k].st;
	for (size_t s = 0; s < nsinks && !ret; s++)
		if (sinks[s].on_profile_end)
			ret = sinks[s].on_profile_end(sinks[s].ctx, st, r.npev);
	free(st);
	if (ret && !err[0])
		snprintf(err, errlen, "%s", strerror(ret < 0 ? -ret : EINVAL));
out:
	for (size_t k = 0; k < r.npev; k++) {
		free(r.pev[k].name);
		free(r.pev[k].unit);
	}
	free(r.pev);
	free(r.slots);
	free(r.offs);
	free(r.by_tag);
	free(r.ev);
	free(r.units);
	free(r.want);
	return ret;
}
