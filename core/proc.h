/* proc: a workload held at a start barrier, released, waited for, reaped.
 *
 * The workload runs under a keeper: a small process of ours that is the
 * workload's parent and the child subreaper of its whole tree (what
 * double-forks or leaves its session and process group is still its
 * descendant). The keeper waits for the workload, kills what it leaves
 * behind, and reports its status; when we go away by any means (exit,
 * SIGKILL) or let go of it, it kills the whole tree and exits. With a
 * cgroup (cgroup.h) the workload enters it before exec and the keeper
 * removes it after the tree, with whatever else entered it. */
#ifndef AP_PROC_H
#define AP_PROC_H

#include "cgroup.h"

#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

enum ap_proc_state { AP_HELD, AP_RUNNING, AP_EXITED };

struct ap_proc {
	pid_t pid;       /* the workload; also its process group id */
	pid_t keeper;    /* our child, the workload's parent (0 once reaped) */
	int sock;        /* to the keeper: signals out, status in (-1: gone) */
	int go_fd;       /* write end of the start barrier (-1 once used) */
	int err_fd;      /* read end of the exec-error pipe (-1 once used) */
	enum ap_proc_state state;
	int status;      /* wait status once exited */
	struct rusage ru;
	int failed;      /* what a failed release failed at: 'c' chdir, 'a' affinity, 'e' exec */
};

struct ap_spawn_opts {
	char *const *argv;     /* argv[0] is looked up in PATH */
	char *const *envp;     /* NULL: inherit ours */
	const char *cwd;       /* NULL: ours */
	const cpu_set_t *cpus; /* NULL: no pinning */
	/* NULL, or a cgroup the workload enters before exec; the keeper
	 * removes it once the tree is gone (also when we were killed) */
	const struct ap_cgroup *cgroup;
	const int *keep;       /* descriptors the workload inherits */
	int nkeep;             /* at most AP_KEEP_MAX */
};

#define AP_KEEP_MAX 64

/* Starts the keeper, which forks the workload into its own process group
 * and holds it before exec. Returns 0 or -errno. */
int ap_spawn(struct ap_proc *p, const struct ap_spawn_opts *o);

/* Lets the workload exec. Returns 0 once exec succeeded, the errno of
 * what failed before or at exec (positive, p->failed says what; the child
 * then exits 127), or -errno. */
int ap_release(struct ap_proc *p);

/* Waits until deadline_ns (CLOCK_MONOTONIC, absolute; -1: forever) for
 * the workload to exit; by then every other process of its tree has been
 * killed and reaped. Also wakes when extra_fd (>= 0) is readable. Returns
 * 1 when exited, 2 when extra_fd is readable, 0 at the deadline, -EINTR
 * when a signal arrived, or -errno (-ECHILD: the keeper died without a
 * report). The deadline is kept to the nanosecond (ppoll), not rounded to
 * milliseconds: the sampler's ticks are such deadlines. */
int ap_wait(struct ap_proc *p, int64_t deadline_ns, int extra_fd);

/* Signals the workload's whole process group (through the keeper, which
 * knows it is not reaped yet). Returns 0 or -errno. */
int ap_kill(struct ap_proc *p, int sig);

/* Kills the workload's whole tree, reaps the keeper and frees everything;
 * safe to call twice. */
void ap_proc_close(struct ap_proc *p);

#endif
