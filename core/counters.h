/* counters: perf_event_open groups, read with one read(2) per group. */
#ifndef AP_COUNTERS_H
#define AP_COUNTERS_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AP_READ_FORMAT                                                     \
	(PERF_FORMAT_GROUP | PERF_FORMAT_ID | PERF_FORMAT_TOTAL_TIME_ENABLED | \
	 PERF_FORMAT_TOTAL_TIME_RUNNING)

/*
 * The kernel refuses a sibling when the group's read size plus a sample
 * header would exceed 16 KiB (perf_event_validate_size). With our read
 * format a group read is 3 + 2 * n u64s, so this is the largest group the
 * kernel accepts (measured: member 1023 fails with E2BIG).
 */
#define AP_GROUP_MAX ((16384 - 8 - 24) / 16)

struct ap_group {
	pid_t pid;     /* task to count (-1: every task on cpu), or with
			* cgroup the cgroup's directory descriptor */
	int cpu;       /* cpu to count on (-1: wherever pid runs) */
	int cgroup;    /* count the tasks of cgroup pid on cpu (no inheritance) */
	int manual;    /* per-task but started by ap_group_enable, not exec */
	size_t n;      /* members opened, leader first */
	int *fds;      /* n descriptors */
	uint64_t *ids; /* kernel event ids (PERF_FORMAT_ID) */
	int *tags;     /* caller's tag of each member */
	uint64_t *buf; /* read buffer: nr, enabled, running, {value, id} */
};

struct ap_reading {
	uint64_t enabled; /* ns the group was enabled */
	uint64_t running; /* ns the group was on the PMU */
	uint64_t *values; /* n values, in member order */
};

/* Per-task groups start at exec of pid (enable_on_exec) and are inherited
 * by its children; per-cpu groups (pid == -1) start with ap_group_enable. */
void ap_group_init(struct ap_group *g, pid_t pid, int cpu);

/* Opens one more member; the first becomes the leader. Returns 0, or
 * -errno with the group unchanged (-E2BIG when the group is full). */
int ap_group_add(struct ap_group *g, const struct perf_event_attr *attr,
		 int tag);

/* One read(2) for the whole group; values land in r->values, which must
 * hold g->n entries. Returns 0 or -errno. */
int ap_group_read(struct ap_group *g, struct ap_reading *r);

int ap_group_enable(struct ap_group *g);
int ap_group_disable(struct ap_group *g);

/* Hands the descriptors to the caller (who must close them) and empties
 * the group; used to defer the costly close of tracepoint events. */
int *ap_group_take_fds(struct ap_group *g, size_t *n);

/* Closes every descriptor and frees memory; safe to call twice. */
void ap_group_close(struct ap_group *g);

/* Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new
 * soft limit, or -errno. */
long ap_raise_nofile(void);

#endif
