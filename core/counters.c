#include "counters.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu,
			   int group_fd, unsigned long flags)
{
	return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd,
			    PERF_FLAG_FD_CLOEXEC | flags);
}

void ap_group_init(struct ap_group *g, pid_t pid, int cpu)
{
	memset(g, 0, sizeof(*g));
	g->pid = pid;
	g->cpu = cpu;
}

static int grow(struct ap_group *g)
{
	size_t cap = g->n + 1;
	int *fds = realloc(g->fds, cap * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	g->fds = fds;
	uint64_t *ids = realloc(g->ids, cap * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	g->ids = ids;
	int *tags = realloc(g->tags, cap * sizeof(*tags));
	if (!tags)
		return -ENOMEM;
	g->tags = tags;
	uint64_t *buf = realloc(g->buf, (3 + 2 * cap) * sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	g->buf = buf;
	return 0;
}

int ap_group_add(struct ap_group *g, const struct perf_event_attr *attr,
		 int tag)
{
	if (g->n >= AP_GROUP_MAX)
		return -E2BIG;
	int err = grow(g);
	if (err)
		return err;

	struct perf_event_attr a = *attr;
	a.size = sizeof(a);
	a.read_format = AP_READ_FORMAT;
	/* Only the leader carries the start condition: siblings follow it. */
	a.disabled = g->n == 0;
	/* A task's events follow its children (inherit) and start at its
	 * exec; a cgroup's count whatever of it runs on the CPU, started by
	 * ap_group_enable. */
	const int task = g->pid > 0 && !g->cgroup;
	a.enable_on_exec = g->n == 0 && task && !g->manual;
	a.inherit = task;

	int fd = perf_event_open(&a, g->pid, g->cpu, g->n ? g->fds[0] : -1,
				 g->cgroup ? PERF_FLAG_PID_CGROUP : 0);
	if (fd < 0)
		return -errno;
	uint64_t id;
	if (ioctl(fd, PERF_EVENT_IOC_ID, &id) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	g->fds[g->n] = fd;
	g->ids[g->n] = id;
	g->tags[g->n] = tag;
	g->n++;
	return 0;
}

int ap_group_read(struct ap_group *g, struct ap_reading *r)
{
	if (g->n == 0)
		return -EBADF;
	size_t want = (3 + 2 * g->n) * sizeof(uint64_t);
	ssize_t got;
	/*
	 * While the workload forks, a child's copy of an inherited group is
	 * built member by member; a read that sees it half-built fails with
	 * ECHILD (kernel commit 32671e3799ca, "perf: Disallow mis-matched
	 * inherited group reads"). The window is short: try again.
	 */
	for (int tries = 0;; tries++) {
		got = read(g->fds[0], g->buf, want);
		if (got >= 0 || errno != ECHILD || tries == 10000)
			break;
		struct timespec pause = {0, 20000};
		nanosleep(&pause, NULL);
	}
	if (got < 0)
		return -errno;
	if ((size_t)got != want || g->buf[0] != g->n)
		return -EIO;
	r->enabled = g->buf[1];
	r->running = g->buf[2];
	for (size_t i = 0; i < g->n; i++) {
		const uint64_t *e = g->buf + 3 + 2 * i;
		size_t k = i;
		/* Siblings come back in attach order; check by id anyway. */
		if (e[1] != g->ids[k])
			for (k = 0; k < g->n && g->ids[k] != e[1]; k++)
				;
		if (k == g->n)
			return -EIO;
		r->values[k] = e[0];
	}
	return 0;
}

static int group_ioctl(struct ap_group *g, unsigned long req)
{
	if (g->n == 0)
		return -EBADF;
	if (ioctl(g->fds[0], req, PERF_IOC_FLAG_GROUP) < 0)
		return -errno;
	return 0;
}

int ap_group_enable(struct ap_group *g)
{
	return group_ioctl(g, PERF_EVENT_IOC_ENABLE);
}

int ap_group_disable(struct ap_group *g)
{
	return group_ioctl(g, PERF_EVENT_IOC_DISABLE);
}

static void release(struct ap_group *g)
{
	free(g->ids);
	free(g->tags);
	free(g->buf);
	g->ids = NULL;
	g->tags = NULL;
	g->buf = NULL;
	g->fds = NULL;
	g->n = 0;
}

int *ap_group_take_fds(struct ap_group *g, size_t *n)
{
	int *fds = g->fds;
	*n = g->n;
	release(g);
	return fds;
}

void ap_group_close(struct ap_group *g)
{
	/* Siblings first: closing the leader first would promote each
	 * sibling to a singleton group in turn. */
	for (size_t i = g->n; i-- > 0;)
		close(g->fds[i]);
	free(g->fds);
	release(g);
}

long ap_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	return rl.rlim_cur == RLIM_INFINITY ? (long)1 << 30 : (long)rl.rlim_cur;
}
