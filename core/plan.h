/* plan: packs events into the fewest runs in which every event has a
 * counter of its own the whole time (no multiplexing). */
#ifndef AP_PLAN_H
#define AP_PLAN_H

#include <stdint.h>

/* Counter bits: generic counter i is bit i, fixed counter i bit 32 + i. */
#define AP_FIXED_SHIFT 32

/* Shared registers: a PMU's resource r holds shared[r] values at a time
 * (events with equal values share one). Which resources a PMU has and
 * which events claim them is the PMU models' knowledge
 * (lua/autoperf/pmu); here they are indices. */
#define AP_PLAN_SHARED_MAX 4    /* resources per PMU */
#define AP_PLAN_SHARED_VALUES 4 /* values one resource may hold */

struct ap_plan_pmu {
	uint64_t counters; /* counters this PMU has (generic | fixed bits) */
	int unlimited;     /* kernel PMU (software, tracepoints): no counters */
	int nshared;       /* shared resources */
	int shared[AP_PLAN_SHARED_MAX]; /* values each holds (1..AP_PLAN_SHARED_VALUES) */
};

struct ap_plan_event {
	int pmu;              /* index into the PMU array */
	uint64_t allowed;     /* counters it may use (ignored if unlimited) */
	int shared;           /* index into pmu's shared[], -1: none */
	uint64_t shared_value;/* equal values share one register */
	int isolated;         /* no other programmable event beside it */
	int group;            /* user group (0: none): members share a run */
	int pair;             /* takes an even counter c whose c + 1 the PMU
			       * has, and holds c + 1 too (none may use it) */
	int lead;             /* leads class lead (0: none) as its group's leader */
	int needs;            /* counts only in a group whose leader leads
			       * class needs (0: none): its group must hold
			       * such a member, which the caller opens first */
	/* results */
	int run;     /* 0-based run */
	int counter; /* counter bit index, -1 on an unlimited PMU */
};

enum ap_strategy { AP_PACK, AP_FIRST_FIT };

/* Plans evs in place (run, counter). Events of unlimited PMUs all go to
 * run 0 here; the caller splits them by its own limits. Returns the
 * number of runs, or -1 when an event can never be counted (no allowed
 * counter on its PMU, a user group that cannot fit one run, or an event
 * that needs a leader outside a user group holding one); then *bad is
 * its index. */
int ap_plan(const struct ap_plan_pmu *pmus, int npmus,
	    struct ap_plan_event *evs, int nevs, enum ap_strategy strategy,
	    int *bad);

/* A lower bound on the runs any plan needs (per counter subset, fixed
 * counter, shared register, pair and isolated events, per PMU). */
int ap_plan_lower_bound(const struct ap_plan_pmu *pmus, int npmus,
			const struct ap_plan_event *evs, int nevs);

/* Checks a plan: every run's events have distinct allowed counters (a
 * matching exists, pairs holding two), shared registers and isolation
 * hold, and every event that needs a leader has one in its group (its
 * run, PMU and user group). Returns 1 when
 * feasible, 0 otherwise (*bad = an offending event). */
int ap_plan_check(const struct ap_plan_pmu *pmus, int npmus,
		  const struct ap_plan_event *evs, int nevs, int *bad);

#endif
