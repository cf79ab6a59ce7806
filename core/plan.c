#include "plan.h"

#include <stdlib.h>
#include <string.h>

/* One run of one PMU: which event owns each counter, what the shared
 * registers hold, whether an isolated event is there. */
struct run {
	int pmu;
	int owner[64];
	int programmable; /* events with a generic counter allowed */
	int isolated;     /* an isolated event is here */
	uint64_t values[AP_PLAN_SHARED_MAX][AP_PLAN_SHARED_VALUES];
	int nvalues[AP_PLAN_SHARED_MAX];
};

static const uint64_t GENERIC = (UINT64_C(1) << AP_FIXED_SHIFT) - 1;

static int popcount(uint64_t x)
{
	return __builtin_popcountll(x);
}

/* The counters a pair event may start at: even generic counters c it
 * allows whose neighbour c + 1 the PMU has. This is the kernel's rule for
 * AMD's "large increment per cycle" events, kept generic here: on family
 * 17h+ amd_core_pmu_init() builds pair_constraint from the even counters
 * below num_counters - 1, amd_get_event_constraints_f17h() returns it,
 * and __perf_sched_find_counter() (arch/x86/events/core.c) takes idx and
 * idx + 1 together for PERF_X86_EVENT_PAIR. */
static uint64_t pair_starts(const struct ap_plan_pmu *p, const struct ap_plan_event *ev)
{
	uint64_t g = p->counters & GENERIC;
	return ev->allowed & g & (g >> 1) & UINT64_C(0x5555555555555555);
}

/* The counters an event may use: a pair event its starts only. */
static uint64_t usable(const struct ap_plan_pmu *p, const struct ap_plan_event *ev)
{
	return ev->pair ? pair_starts(p, ev) : ev->allowed & p->counters;
}

static int capacity(const struct ap_plan_pmu *p, int r)
{
	return p->shared[r] < AP_PLAN_SHARED_VALUES ? p->shared[r]
						    : AP_PLAN_SHARED_VALUES;
}

static void run_init(struct run *r, int pmu)
{
	memset(r, 0, sizeof(*r));
	r->pmu = pmu;
	for (int c = 0; c < 64; c++)
		r->owner[c] = -1;
}

/* Kuhn's augmenting path: finds a counter for e, moving others along.
 * Pair events stay where they were placed (place_pair). */
static int augment(struct run *r, const struct ap_plan_pmu *p,
		   struct ap_plan_event *evs, int e, uint64_t *seen)
{
	uint64_t cand = evs[e].allowed & p->counters & ~*seen;
	while (cand) {
		int c = __builtin_ctzll(cand);
		cand &= cand - 1;
		*seen |= UINT64_C(1) << c;
		int o = r->owner[c];
		if (o >= 0 && evs[o].pair)
			continue;
		if (o < 0 || augment(r, p, evs, o, seen)) {
			r->owner[c] = e;
			evs[e].counter = c;
			return 1;
		}
	}
	return 0;
}

/* Every event's counter in r, to undo a failed placement. */
static void save_counters(const struct run *r, const struct ap_plan_event *evs, int *counters)
{
	for (int c = 0; c < 64; c++)
		counters[c] = r->owner[c] >= 0 ? evs[r->owner[c]].counter : -1;
}

static void restore_counters(const struct run *r, struct ap_plan_event *evs, const int *counters)
{
	for (int c = 0; c < 64; c++)
		if (r->owner[c] >= 0)
			evs[r->owner[c]].counter = counters[c];
}

/* Places pair event e on the first start c where c and c + 1 can be
 * emptied (their events moved elsewhere), holding both. */
static int place_pair(struct run *r, const struct ap_plan_pmu *p,
		      struct ap_plan_event *evs, int e)
{
	uint64_t starts = pair_starts(p, &evs[e]);
	while (starts) {
		int c = __builtin_ctzll(starts);
		starts &= starts - 1;
		int o1 = r->owner[c], o2 = r->owner[c + 1];
		if ((o1 >= 0 && evs[o1].pair) || (o2 >= 0 && evs[o2].pair))
			continue;
		int owner[64], counters[64];
		memcpy(owner, r->owner, sizeof(owner));
		save_counters(r, evs, counters);
		r->owner[c] = r->owner[c + 1] = e;
		evs[e].counter = c;
		uint64_t seen = 0;
		int ok = o1 < 0 || augment(r, p, evs, o1, &seen);
		seen = 0;
		if (ok && o2 >= 0)
			ok = augment(r, p, evs, o2, &seen);
		if (ok)
			return 1;
		memcpy(r->owner, owner, sizeof(owner));
		restore_counters(r, evs, counters);
		evs[e].counter = -1;
	}
	return 0;
}

static int has_value(const struct run *r, int kind, uint64_t v)
{
	for (int i = 0; i < r->nvalues[kind]; i++)
		if (r->values[kind][i] == v)
			return 1;
	return 0;
}

/* Adds e to r if everything still fits; leaves r unchanged otherwise. */
static int try_add(struct run *r, const struct ap_plan_pmu *p,
		   struct ap_plan_event *evs, int e)
{
	const struct ap_plan_event *ev = &evs[e];
	int prog = (ev->allowed & GENERIC) != 0;
	if (ev->isolated && (r->programmable || r->isolated))
		return 0;
	if (r->isolated && (prog || ev->isolated))
		return 0;
	int k = ev->shared;
	int new_value = k >= 0 && !has_value(r, k, ev->shared_value);
	if (new_value && r->nvalues[k] >= capacity(p, k))
		return 0;
	uint64_t seen = 0;
	if (ev->pair ? !place_pair(r, p, evs, e) : !augment(r, p, evs, e, &seen))
		return 0;
	if (new_value)
		r->values[k][r->nvalues[k]++] = ev->shared_value;
	r->programmable += prog;
	r->isolated |= ev->isolated;
	return 1;
}

/* A unit: one event, or the members of a user group on one PMU. */
struct unit {
	int first;  /* index into order[] */
	int n;
	int pmu;
	int key[4]; /* sort key */
};

static int cmp_unit(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;
	for (int i = 0; i < 4; i++)
		if (x->key[i] != y->key[i])
			return x->key[i] < y->key[i] ? -1 : 1;
	return 0;
}

/* Places the whole unit in r, or nothing. */
static int try_unit(struct run *r, const struct ap_plan_pmu *p,
		    struct ap_plan_event *evs, const int *members, int n)
{
	if (n == 1)
		return try_add(r, p, evs, members[0]);
	if (n > 64)
		return 0; /* more members than any PMU has counters */
	struct run saved = *r;
	int counters[64];
	/* members may move counters of others: remember all assignments */
	save_counters(r, evs, counters);
	for (int i = 0; i < n; i++) {
		if (!try_add(r, p, evs, members[i])) {
			*r = saved;
			restore_counters(r, evs, counters);
			return 0;
		}
	}
	return 1;
}

static int grow_runs(struct run **runs, int *cap, int need)
{
	if (need <= *cap)
		return 0;
	int ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	struct run *nr = realloc(*runs, (size_t)ncap * sizeof(**runs));
	if (!nr)
		return -1;
	*runs = nr;
	*cap = ncap;
	return 0;
}

/* Does event e's group hold a member leading the class e needs? As the
 * kernel's intel_pmu_hw_config() demands a slots leader for a topdown
 * metric event, kept generic. Planning (in_run 0): e must be in a user
 * group that holds one (ungrouped events land anywhere). Checking a plan
 * (in_run 1): its group in its run, where a run's ungrouped events of a
 * PMU are one group too. */
static int has_leader(const struct ap_plan_event *evs, int nevs, int e, int in_run)
{
	if (!evs[e].needs)
		return 1;
	if (!in_run && !evs[e].group)
		return 0;
	for (int j = 0; j < nevs; j++)
		if (evs[j].lead == evs[e].needs && evs[j].pmu == evs[e].pmu &&
		    evs[j].group == evs[e].group && (!in_run || evs[j].run == evs[e].run))
			return 1;
	return 0;
}

int ap_plan(const struct ap_plan_pmu *pmus, int npmus,
	    struct ap_plan_event *evs, int nevs, enum ap_strategy strategy,
	    int *bad)
{
	int *order = NULL, *members = NULL;
	struct unit *units = NULL;
	struct run *runs = NULL;
	int nruns = 0, cap = 0, nunits = 0, result = -1;

	*bad = -1;
	order = malloc((size_t)(nevs ? nevs : 1) * sizeof(*order));
	units = malloc((size_t)(nevs ? nevs : 1) * sizeof(*units));
	members = malloc((size_t)(nevs ? nevs : 1) * sizeof(*members));
	if (!order || !units || !members)
		goto out;

	/* Units: user groups (by group id, per PMU) and single events, in
	 * order of first appearance; unlimited PMUs need no planning.
	 * members[i] is event i's unit, then order[] lists units' events
	 * contiguously. */
	for (int i = 0; i < nevs; i++) {
		evs[i].run = 0;
		evs[i].counter = -1;
		members[i] = -1;
		if (evs[i].pmu < 0 || evs[i].pmu >= npmus) {
			*bad = i;
			goto out;
		}
		if (pmus[evs[i].pmu].unlimited)
			continue;
		if (usable(&pmus[evs[i].pmu], &evs[i]) == 0 ||
		    evs[i].shared >= pmus[evs[i].pmu].nshared || !has_leader(evs, nevs, i, 0)) {
			*bad = i;
			goto out;
		}
		int u = nunits;
		if (evs[i].group)
			for (int j = 0; j < i && u == nunits; j++)
				if (members[j] >= 0 && evs[j].group == evs[i].group &&
				    evs[j].pmu == evs[i].pmu)
					u = members[j];
		if (u == nunits) {
			units[nunits].n = 0;
			units[nunits].pmu = evs[i].pmu;
			nunits++;
		}
		members[i] = u;
		units[u].n++;
	}
	{
		int pos = 0;
		for (int u = 0; u < nunits; u++) {
			units[u].first = pos;
			pos += units[u].n;
			units[u].n = 0;
		}
		for (int i = 0; i < nevs; i++)
			if (members[i] >= 0) {
				struct unit *un = &units[members[i]];
				order[un->first + un->n++] = i;
			}
	}

	for (int u = 0; u < nunits; u++) {
		int shared = 0, width = 64, iso = 0;
		for (int j = 0; j < units[u].n; j++) {
			const struct ap_plan_event *m = &evs[order[units[u].first + j]];
			shared |= m->shared >= 0;
			iso |= m->isolated;
			int w = popcount(usable(&pmus[m->pmu], m));
			if (w < width)
				width = w;
		}
		/* Pack: isolated first (each opens its own run), then scarce
		 * resources (shared registers, few allowed counters), bigger
		 * groups before smaller; first-fit keeps the given order. */
		if (strategy == AP_PACK) {
			units[u].key[0] = iso ? 0 : 1;
			units[u].key[1] = shared ? 0 : 1;
			units[u].key[2] = width * 64 - units[u].n;
		} else {
			units[u].key[0] = units[u].key[1] = units[u].key[2] = 0;
		}
		units[u].key[3] = u;
	}
	qsort(units, (size_t)nunits, sizeof(*units), cmp_unit);

	for (int u = 0; u < nunits; u++) {
		const int *mem = order + units[u].first;
		int pmu = units[u].pmu;
		const struct ap_plan_pmu *p = &pmus[pmu];
		int placed = -1;
		for (int r = 0; r < nruns && placed < 0; r++)
			if (runs[r].pmu == pmu && try_unit(&runs[r], p, evs, mem, units[u].n))
				placed = r;
		if (placed < 0) {
			if (grow_runs(&runs, &cap, nruns + 1) < 0)
				goto out;
			run_init(&runs[nruns], pmu);
			if (!try_unit(&runs[nruns], p, evs, mem, units[u].n)) {
				*bad = mem[0];
				goto out;
			}
			placed = nruns++;
		}
		for (int j = 0; j < units[u].n; j++)
			evs[mem[j]].run = placed;
	}

	/* Runs so far are per PMU; number them per PMU so that PMUs share
	 * runs: the k-th run of every PMU becomes run k. */
	{
		int *seq = calloc((size_t)(npmus ? npmus : 1), sizeof(*seq));
		int *index = malloc((size_t)(nruns ? nruns : 1) * sizeof(*index));
		if (!seq || !index) {
			free(seq);
			free(index);
			goto out;
		}
		result = 0;
		for (int r = 0; r < nruns; r++) {
			index[r] = seq[runs[r].pmu]++;
			if (index[r] + 1 > result)
				result = index[r] + 1;
		}
		for (int i = 0; i < nevs; i++)
			if (!pmus[evs[i].pmu].unlimited)
				evs[i].run = index[evs[i].run];
		free(seq);
		free(index);
		if (result == 0)
			result = 1; /* only unlimited PMUs: one run */
	}
out:
	free(order);
	free(units);
	free(members);
	free(runs);
	return result;
}

static int ceil_div(int a, int b)
{
	return b ? (a + b - 1) / b : 0;
}

static int distinct(const struct ap_plan_event *evs, int nevs, int pmu, int kind)
{
	int n = 0;
	for (int i = 0; i < nevs; i++) {
		if (evs[i].pmu != pmu || evs[i].shared != kind || evs[i].isolated)
			continue;
		int seen = 0;
		for (int j = 0; j < i && !seen; j++)
			seen = evs[j].pmu == pmu && evs[j].shared == kind &&
			       !evs[j].isolated &&
			       evs[j].shared_value == evs[i].shared_value;
		n += !seen;
	}
	return n;
}

/* max over counter subsets S of ceil(counters needed only in S / |S|):
 * an event needs one counter of its allowed ones, a pair event two of
 * its starts and their neighbours. */
static int subset_bound(const struct ap_plan_pmu *p, const struct ap_plan_event *evs,
			int nevs, int pmu, int want_prog)
{
	uint64_t masks[64];
	int counts[64], nm = 0;
	uint64_t all = 0;
	for (int i = 0; i < nevs; i++) {
		if (evs[i].pmu != pmu || evs[i].isolated)
			continue;
		uint64_t m = usable(p, &evs[i]);
		if (evs[i].pair)
			m |= m << 1;
		if (((m & GENERIC) != 0) != want_prog)
			continue;
		int k;
		for (k = 0; k < nm && masks[k] != m; k++)
			;
		if (k == nm) {
			if (nm == 64)
				continue; /* bound stays valid, just weaker */
			masks[nm] = m;
			counts[nm++] = 0;
		}
		counts[k] += evs[i].pair ? 2 : 1;
		all |= m;
	}
	int best = 0;
	/* Unions of distinct masks are the subsets that matter. */
	if (popcount(all) <= 16) {
		for (uint64_t s = all;; s = (s - 1) & all) {
			if (s) {
				int n = 0;
				for (int k = 0; k < nm; k++)
					if ((masks[k] & ~s) == 0)
						n += counts[k];
				int b = ceil_div(n, popcount(s));
				if (b > best)
					best = b;
			}
			if (!s)
				break;
		}
	} else {
		for (int k = 0; k < nm; k++) {
			int n = 0;
			for (int j = 0; j < nm; j++)
				if ((masks[j] & ~masks[k]) == 0)
					n += counts[j];
			int b = ceil_div(n, popcount(masks[k]));
			if (b > best)
				best = b;
		}
		int n = 0;
		for (int k = 0; k < nm; k++)
			n += counts[k];
		int b = ceil_div(n, popcount(all));
		if (b > best)
			best = b;
	}
	return best;
}

/* ceil(pair events / the starts they may use): one pair per start a run. */
static int pair_bound(const struct ap_plan_pmu *p, const struct ap_plan_event *evs,
		      int nevs, int pmu)
{
	uint64_t starts = 0;
	int n = 0;
	for (int i = 0; i < nevs; i++)
		if (evs[i].pmu == pmu && evs[i].pair && !evs[i].isolated) {
			starts |= pair_starts(p, &evs[i]);
			n++;
		}
	return ceil_div(n, popcount(starts));
}

int ap_plan_lower_bound(const struct ap_plan_pmu *pmus, int npmus,
			const struct ap_plan_event *evs, int nevs)
{
	int lb = 1;
	for (int p = 0; p < npmus; p++) {
		if (pmus[p].unlimited)
			continue;
		int iso = 0;
		for (int i = 0; i < nevs; i++)
			iso += evs[i].pmu == p && evs[i].isolated;
		int prog = subset_bound(&pmus[p], evs, nevs, p, 1);
		int pb = pair_bound(&pmus[p], evs, nevs, p);
		if (pb > prog)
			prog = pb;
		for (int k = 0; k < pmus[p].nshared; k++) {
			int b = ceil_div(distinct(evs, nevs, p, k), capacity(&pmus[p], k));
			if (b > prog)
				prog = b;
		}
		/* fixed-only events may also sit beside isolated ones */
		int fixed = subset_bound(&pmus[p], evs, nevs, p, 0);
		int b = iso + prog > fixed ? iso + prog : fixed;
		if (b > lb)
			lb = b;
	}
	return lb;
}

int ap_plan_check(const struct ap_plan_pmu *pmus, int npmus,
		  const struct ap_plan_event *evs, int nevs, int *bad)
{
	int nruns = 0;
	*bad = -1;
	for (int i = 0; i < nevs; i++) {
		if (evs[i].pmu < 0 || evs[i].pmu >= npmus || evs[i].run < 0 ||
		    evs[i].shared >= pmus[evs[i].pmu].nshared) {
			*bad = i;
			return 0;
		}
		if (evs[i].run + 1 > nruns)
			nruns = evs[i].run + 1;
	}
	for (int i = 0; i < nevs; i++)
		if (!pmus[evs[i].pmu].unlimited && !has_leader(evs, nevs, i, 1)) {
			*bad = i;
			return 0;
		}
	struct ap_plan_event *copy = malloc((size_t)(nevs ? nevs : 1) * sizeof(*copy));
	if (!copy)
		return 0;
	memcpy(copy, evs, (size_t)nevs * sizeof(*copy));
	int ok = 1;
	/* Rebuild each (run, PMU) from scratch with the same rules. */
	for (int r = 0; r < nruns && ok; r++) {
		for (int p = 0; p < npmus && ok; p++) {
			if (pmus[p].unlimited)
				continue;
			struct run run;
			run_init(&run, p);
			for (int i = 0; i < nevs && ok; i++) {
				if (copy[i].run != r || copy[i].pmu != p)
					continue;
				if (!try_add(&run, &pmus[p], copy, i)) {
					ok = 0;
					*bad = i;
				}
			}
		}
	}
	free(copy);
	return ok;
}
