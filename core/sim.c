#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Tries to give event i a counter (augmenting path, Kuhn); owner[c] is
 * the event on counter c or -1. */
static int place(const uint64_t *allowed, size_t i, int *owner, uint64_t *seen)
{
	for (int c = 0; c < 64; c++) {
		uint64_t bit = (uint64_t)1 << c;
		if (!(allowed[i] & bit) || (*seen & bit))
			continue;
		*seen |= bit;
		if (owner[c] < 0 || place(allowed, (size_t)owner[c], owner, seen)) {
			owner[c] = (int)i;
			return 1;
		}
	}
	return 0;
}

int ap_sim_fits(const struct ap_sim_event *ev, size_t n, const struct ap_sim_model *m)
{
	if (n > AP_SIM_MAX_EVENTS * 4)
		return 0;
	/* Each shared resource holds m->regs[r] distinct values at a time. */
	uint64_t values[AP_SIM_SHARED_MAX][AP_SIM_SHARED_VALUES];
	int nvalues[AP_SIM_SHARED_MAX] = {0};
	int alone = 0;
	for (size_t i = 0; i < n; i++) {
		alone += ev[i].alone;
		int r = ev[i].shared;
		if (r < 0)
			continue;
		if (r >= m->nshared)
			return 0;
		int k = 0;
		while (k < nvalues[r] && values[r][k] != ev[i].value)
			k++;
		if (k == nvalues[r]) {
			if (nvalues[r] >= m->regs[r] || nvalues[r] >= AP_SIM_SHARED_VALUES)
				return 0;
			values[r][nvalues[r]++] = ev[i].value;
		}
	}
	if (alone > 1)
		return 0;
	uint64_t *allowed = malloc((n ? n : 1) * sizeof(*allowed));
	if (!allowed)
		return 0;
	const uint64_t fixed = ~(uint64_t)0 << AP_SIM_FIXED;
	for (size_t i = 0; i < n; i++) {
		allowed[i] = ev[i].allowed & m->counters;
		/* Beside an event taken alone, others may use fixed counters only. */
		if (alone && !ev[i].alone)
			allowed[i] &= fixed;
	}
	int owner[64];
	for (int c = 0; c < 64; c++)
		owner[c] = -1;
	/* Pair events first, each on the lowest even counter whose odd
	 * neighbour exists and is free, holding both, as the kernel does
	 * for AMD's large increment per cycle events: amd_core_pmu_init()
	 * builds pair_constraint (even counters below num_counters - 1,
	 * weight num_counters / 2, so x86_schedule_events() places them
	 * before unconstrained events) that amd_get_event_constraints_f17h()
	 * hands out, and __perf_sched_find_counter() (arch/x86/events/core.c)
	 * takes idx and idx + 1 for PERF_X86_EVENT_PAIR. */
	const uint64_t generic = m->counters & ~fixed;
	const uint64_t starts = generic & (generic >> 1) & UINT64_C(0x5555555555555555);
	uint64_t held = 0;
	int ok = 1;
	for (size_t i = 0; i < n && ok; i++) {
		if (!ev[i].pair)
			continue;
		uint64_t cand = allowed[i] & starts & ~held & ~(held >> 1);
		if (!cand) {
			ok = 0;
			break;
		}
		int c = __builtin_ctzll(cand);
		held |= UINT64_C(3) << c;
		owner[c] = owner[c + 1] = (int)i;
	}
	for (size_t i = 0; i < n && ok; i++) {
		if (ev[i].pair)
			continue;
		allowed[i] &= ~held;
		uint64_t seen = 0;
		ok = place(allowed, i, owner, &seen);
	}
	free(allowed);
	return ok;
}

uint64_t ap_sim_rate(const struct perf_event_attr *a)
{
	/* FNV-1a over the encoding: 1..2000 events per 1000 ns */
	uint64_t h = 1469598103934665603ULL;
	uint64_t parts[5] = {a->type, a->config, a->config1, a->config2,
			     (uint64_t)(a->exclude_user | a->exclude_kernel << 1 | a->exclude_hv << 2)};
	for (size_t i = 0; i < 5; i++)
		for (int b = 0; b < 64; b += 8) {
			h ^= (parts[i] >> b) & 0xff;
			h *= 1099511628211ULL;
		}
	return 1 + h % 2000;
}

static int attach(struct ap_sim_pmu *pmu, struct ap_sim_group *g)
{
	if (pmu->nopen == pmu->cap) {
		size_t cap = pmu->cap ? 2 * pmu->cap : 16;
		struct ap_sim_group **p = realloc(pmu->open, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		pmu->open = p;
		pmu->cap = cap;
	}
	pmu->open[pmu->nopen++] = g;
	return 0;
}

static void detach(struct ap_sim_pmu *pmu, struct ap_sim_group *g)
{
	for (size_t i = 0; i < pmu->nopen; i++)
		if (pmu->open[i] == g) {
			memmove(&pmu->open[i], &pmu->open[i + 1],
				(pmu->nopen - i - 1) * sizeof(*pmu->open));
			pmu->nopen--;
			return;
		}
}

void ap_sim_pmu_free(struct ap_sim_pmu *pmu)
{
	for (size_t i = 0; i < pmu->nopen; i++)
		pmu->open[i]->pmu = NULL;
	free(pmu->open);
	pmu->open = NULL;
	pmu->nopen = pmu->cap = 0;
}

/* A task-clock (per task) or cpu-clock (per CPU) leader; perf_event_paranoid
 * >= 2 for this user: the same time with the kernel excluded (as perf
 * stat's :u). 0 or -errno. */
static int open_clock(struct ap_group *c, pid_t pid, int cpu, int manual)
{
	ap_group_init(c, pid, cpu);
	c->manual = manual;
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_SOFTWARE;
	a.config = pid == -1 ? PERF_COUNT_SW_CPU_CLOCK : PERF_COUNT_SW_TASK_CLOCK;
	int err = ap_group_add(c, &a, -1);
	if (err == -EACCES) {
		a.exclude_kernel = a.exclude_hv = 1;
		err = ap_group_add(c, &a, -1);
	}
	return err;
}

static void close_on(struct ap_sim_group *g)
{
	for (int i = 0; i < g->non; i++)
		ap_group_close(&g->on[i]);
	free(g->on);
	g->on = NULL;
	g->non = 0;
}

int ap_sim_group_open(struct ap_sim_group *g, struct ap_sim_pmu *pmu, pid_t pid, int cpu, int manual)
{
	memset(g, 0, sizeof(*g));
	/* Uncore PMUs count per box, never per task: perf_event_open()
	 * (kernel/events/core.c) refuses a task for a PMU whose task_ctx_nr
	 * is perf_invalid_context with -EINVAL ("Disallow uncore-task
	 * events"), and uncore_pmu_event_init() (arch/x86/events/intel/
	 * uncore.c) and amd_uncore_event_init() (amd/uncore.c) refuse
	 * event->cpu < 0 with -EINVAL. */
	if (pmu->model.uncore && (pid != -1 || cpu < 0))
		return -EINVAL;
	/* x86_pmu_event_init() (arch/x86/events/core.c): on a hybrid part
	 * an event bound to a CPU outside its PMU's supported_cpus is
	 * -ENOENT. */
	if (pmu->masked && cpu >= 0 && (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &pmu->cpus)))
		return -ENOENT;
	int err = open_clock(&g->clock, pid, cpu, manual);
	if (err)
		goto fail;
	if (pmu->masked && cpu < 0) {
		/* A per-task group counts only while the task runs on a CPU
		 * of the mask: the task's clock on each of them. */
		int n = CPU_COUNT(&pmu->cpus);
		g->on = calloc((size_t)(n ? n : 1), sizeof(*g->on));
		if (!g->on) {
			err = -ENOMEM;
			goto fail;
		}
		for (int c = 0; c < CPU_SETSIZE && g->non < n; c++) {
			if (!CPU_ISSET(c, &pmu->cpus))
				continue;
			err = open_clock(&g->on[g->non], pid, c, manual);
			if (err) {
				ap_group_close(&g->on[g->non]);
				goto fail;
			}
			g->non++;
		}
	}
	err = attach(pmu, g);
	if (err)
		goto fail;
	g->pmu = pmu;
	return 0;
fail:
	close_on(g);
	ap_group_close(&g->clock);
	return err;
}

int ap_sim_group_enable(struct ap_sim_group *g, int on)
{
	if (!g->pmu)
		return -EBADF;
	int err = on ? ap_group_enable(&g->clock) : ap_group_disable(&g->clock);
	for (int i = 0; i < g->non && !err; i++)
		err = on ? ap_group_enable(&g->on[i]) : ap_group_disable(&g->on[i]);
	return err;
}

int ap_sim_group_add(struct ap_sim_group *g, const struct ap_sim_event *ev, int tag)
{
	if (!g->pmu)
		return -EBADF;
	if (g->n == AP_SIM_MAX_EVENTS)
		return -E2BIG;
	if (ev->refuse)
		return -EINVAL;
	/* intel_pmu_hw_config() (arch/x86/events/intel/core.c): a metric
	 * event cannot sample, needs the slots event as its group leader,
	 * and that leader must not sample ("hardware requires it starts at
	 * 0 when used in conjunction with MSR_PERF_METRICS"); kept generic
	 * as leader classes. */
	if (ev->needs && (ev->sampling || g->n == 0 || g->ev[0].lead != ev->needs || g->ev[0].sampling))
		return -EINVAL;
	g->ev[g->n] = *ev;
	if (!ap_sim_fits(g->ev, g->n + 1, &g->pmu->model))
		return -EINVAL;
	g->tags[g->n++] = tag;
	return 0;
}

/* Is g scheduled beside the groups opened before it on its CPU? Groups
 * are placed in open order; one that does not fit is skipped, as the
 * kernel skips a flexible group that does not fit and rotates later. */
static int scheduled(const struct ap_sim_group *g)
{
	struct ap_sim_pmu *pmu = g->pmu;
	struct ap_sim_event all[AP_SIM_MAX_EVENTS * 4];
	size_t n = 0;
	for (size_t i = 0; i < pmu->nopen; i++) {
		const struct ap_sim_group *o = pmu->open[i];
		if (o->clock.cpu != g->clock.cpu)
			continue;
		if (n + o->n > sizeof(all) / sizeof(all[0]))
			return 0;
		memcpy(&all[n], o->ev, o->n * sizeof(*o->ev));
		int fits = ap_sim_fits(all, n + o->n, &pmu->model);
		if (o == g)
			return fits;
		if (fits)
			n += o->n;
	}
	return 0;
}

int ap_sim_group_read(struct ap_sim_group *g, struct ap_reading *r)
{
	if (!g->pmu)
		return -EBADF;
	uint64_t clock;
	struct ap_reading cr = {.values = &clock};
	int err = ap_group_read(&g->clock, &cr);
	if (err)
		return err;
	r->enabled = cr.enabled;
	r->running = cr.running;
	if (g->pmu->masked && g->clock.cpu < 0) {
		/* The kernel schedules a hybrid PMU's groups only on its CPUs
		 * (visit_groups_merge() in kernel/events/core.c skips a PMU
		 * whose filter, intel_pmu_filter(), says the CPU is not in its
		 * supported_cpus); elsewhere they stay inactive, so
		 * __perf_update_times() adds to time_enabled only. */
		uint64_t there = 0;
		for (int i = 0; i < g->non; i++) {
			uint64_t v;
			struct ap_reading vr = {.values = &v};
			err = ap_group_read(&g->on[i], &vr);
			if (err)
				return err;
			/* the task's clock bound to this CPU: enabled all the
			 * time (the same context time as the leader's), running
			 * while the task ran here */
			there += vr.running;
		}
		if (there > cr.enabled)
			there = cr.enabled;
		r->running = there;
		clock = cr.enabled ? (uint64_t)((unsigned __int128)clock * there / cr.enabled) : 0;
	}
	if (!scheduled(g)) {
		r->running /= 2;
		clock /= 2;
	}
	for (size_t i = 0; i < g->n; i++)
		r->values[i] = clock / 1000 * g->ev[i].rate + clock % 1000 * g->ev[i].rate / 1000;
	for (size_t i = 1; i < g->n; i++)
		if (g->ev[i].share_den)
			r->values[i] = (uint64_t)((unsigned __int128)r->values[0] * g->ev[i].share_num /
						  g->ev[i].share_den);
	return 0;
}

void ap_sim_group_close(struct ap_sim_group *g)
{
	if (g->pmu)
		detach(g->pmu, g);
	g->pmu = NULL;
	close_on(g);
	ap_group_close(&g->clock);
}
