/* cgroup: a fresh cgroup of its own for one execution of the workload,
 * so that its tasks can be counted per CPU through cgroup events
 * (perf_event_open with PERF_FLAG_PID_CGROUP: no per-task inheritance).
 *
 * It is made in the hierarchy that carries the perf_event controller
 * (cgroup v2, or v1 where perf_event is mounted there), under the cgroup
 * autoperf itself runs in. The keeper (proc.c) moves the workload into it
 * while it is held before exec (so that nothing of the move is counted) and removes it when the tree is gone, also after autoperf
 * was killed: ap_cgroup_remove uses no allocation, so a forked child may
 * call it. */
#ifndef AP_CGROUP_H
#define AP_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

struct ap_cgroup {
	int fd;        /* the cgroup's directory (O_RDONLY: perf_event_open's pid) */
	int parent_fd; /* its parent directory (for the removal) */
	int v2;        /* cgroup v2 (cgroup.kill exists on 5.14+) */
	char name[64]; /* its name in the parent */
	char path[4096 + 72];
};

/* Where cgroups with the perf_event controller live for this process:
 * the directory of its own cgroup in that hierarchy, into dir (n bytes);
 * *v2 says which version. Returns 0, -ENOENT (no such hierarchy mounted)
 * or -errno. Bounded reads of /proc/self/mountinfo and /proc/self/cgroup. */
int ap_cgroup_home(char *dir, size_t n, int *v2);

/* Makes a fresh cgroup "autoperf-PID-SEQ" in the home. Returns 0 or
 * -errno (-EACCES / -EPERM: not ours to make). */
int ap_cgroup_make(struct ap_cgroup *cg);

/* Moves process pid into cg (no allocation). Returns 0 or -errno. */
int ap_cgroup_move(const struct ap_cgroup *cg, pid_t pid);

/* Kills what is left in cg (cgroup.kill, v2) and removes it, retrying
 * while the kernel still releases its last tasks (bounded: 5 s). Closes
 * both descriptors. No allocation. Returns 0 or -errno. */
int ap_cgroup_remove(struct ap_cgroup *cg);

/* Closes the descriptors without removing (the keeper removes it). */
void ap_cgroup_close(struct ap_cgroup *cg);

#endif
