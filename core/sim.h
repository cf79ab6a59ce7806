/* sim: a simulated PMU for machines without one (--pmu sim:MODEL).
 *
 * It enforces a constraint model the way the kernel enforces a real
 * PMU's: a group is validated when a member is added (counter masks,
 * counter count, shared registers by value, events taken alone, pair
 * events holding an even counter and the odd one beside it) and refused with -EINVAL when it cannot be scheduled
 * alone; groups that are valid alone but do not fit beside the groups
 * opened before them on the same PMU and CPU are "multiplexed": they
 * report time_running = time_enabled / 2, as the kernel's rotation would.
 *
 * Leader classes (generic, as plan.h's): an event that needs class k is
 * refused (-EINVAL) unless the group's first member leads k, and when it
 * or that leader samples; the kernel's rule for Intel's topdown metric
 * events (intel_pmu_hw_config() in arch/x86/events/intel/core.c: a
 * metric event needs a non-sampling slots leader and cannot sample).
 *
 * Counts are synthetic and deterministic: each group has a hidden real
 * leader counting the workload's task-clock (cpu-clock per CPU), and an
 * event's value is task-clock ns x its rate / 1000, or for a share event
 * the first member's value x share_num / share_den (the metric events:
 * slots x byte / 0xff, icl_get_metrics_event_value()). They are never
 * measurements; callers label them simulated.
 *
 * A PMU may count on some CPUs only (a hybrid half, ap_sim_pmu.cpus):
 * as the kernel does, a group on another CPU is refused with -ENOENT,
 * and a per-task group counts only while the task runs on a CPU of the
 * mask: time_running and the values are the task's time there (one real
 * task-clock per CPU of the mask), time_enabled all of its time.
 */
#ifndef AP_SIM_H
#define AP_SIM_H

#include "counters.h"

#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#define AP_SIM_FIXED 32 /* counter bits: generic 0-31, fixed 32-63 */
#define AP_SIM_MAX_EVENTS 64
/* Shared registers: resource r holds regs[r] values at a time; which
 * resources a PMU has is the PMU models' knowledge (lua/autoperf/pmu). */
#define AP_SIM_SHARED_MAX 4 /* resources per PMU */
#define AP_SIM_SHARED_VALUES 8 /* values one resource may hold */

/* A PMU's constraint model. */
struct ap_sim_model {
	uint64_t counters; /* the counters this PMU has */
	int nshared;
	int regs[AP_SIM_SHARED_MAX];
	int uncore; /* a box of an uncore unit: system-wide opens only */
};

struct ap_sim_event {
	uint64_t allowed; /* the counters it may use */
	int shared;       /* index of its shared resource, -1: none */
	uint64_t value;   /* the shared register's value (config1) */
	int alone;        /* no other event on a generic counter beside it */
	int pair;         /* takes an even counter c and holds c + 1 too */
	int lead;         /* leads class lead (0: none) */
	int needs;        /* only in a group whose first member leads class
			   * needs; neither it nor that leader may sample */
	int sampling;     /* attr.sample_period != 0 */
	int refuse;       /* refused in any group (-EINVAL) */
	uint64_t rate;    /* synthetic events per 1000 ns of task-clock */
	uint64_t share_num, share_den; /* den != 0: its value is the first
			   * member's x num / den, not from rate */
};

struct ap_sim_group;

struct ap_sim_pmu {
	struct ap_sim_model model;
	int masked;       /* counts on the CPUs in cpus only */
	cpu_set_t cpus;
	struct ap_sim_group **open; /* open groups, in open order */
	size_t nopen, cap;
};

struct ap_sim_group {
	struct ap_sim_pmu *pmu;
	struct ap_group clock; /* the real leader: task-clock or cpu-clock */
	struct ap_group *on;   /* masked PMU, per task: task-clock on each CPU of the mask */
	int non;
	size_t n;
	struct ap_sim_event ev[AP_SIM_MAX_EVENTS];
	int tags[AP_SIM_MAX_EVENTS];
};

/* Can these events be counted at the same time on a PMU of this model?
 * (a maximum matching of events to counters, plus the shared register
 * and taken-alone rules) */
int ap_sim_fits(const struct ap_sim_event *ev, size_t n, const struct ap_sim_model *m);

/* The rate of an event: a deterministic function of its encoding. */
uint64_t ap_sim_rate(const struct perf_event_attr *attr);

void ap_sim_pmu_free(struct ap_sim_pmu *pmu);

/* Opens the group's real clock leader on pid/cpu (see ap_group_init);
 * 0 or -errno. The group is registered with pmu until closed. An uncore
 * PMU refuses a per-task open (pid != -1) or one without a cpu with
 * -EINVAL, and a masked PMU (a hybrid half) one bound to a CPU outside
 * its CPUs with -ENOENT, as the kernel does. */
int ap_sim_group_open(struct ap_sim_group *g, struct ap_sim_pmu *pmu, pid_t pid, int cpu, int manual);

/* Starts or stops the group's real clocks (manual groups); 0 or -errno. */
int ap_sim_group_enable(struct ap_sim_group *g, int on);

/* Adds a member; -EINVAL when the group could not be scheduled with it,
 * or the event is refused (refuse; a needs rule not met) (the group is
 * unchanged), -E2BIG when full. */
int ap_sim_group_add(struct ap_sim_group *g, const struct ap_sim_event *ev, int tag);

/* Reads the group: values (g->n of them) and times. 0 or -errno. */
int ap_sim_group_read(struct ap_sim_group *g, struct ap_reading *r);

/* Unregisters the group and closes its clock; safe to call twice. */
void ap_sim_group_close(struct ap_sim_group *g);

#endif
