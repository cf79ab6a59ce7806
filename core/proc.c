#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

/* What the child reports on the error pipe before it gives up. */
struct failure {
	int stage; /* 'c' chdir, 'a' affinity, 'e' exec */
	int err;
};

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static _Noreturn void child(int go, int errfd, const struct ap_spawn_opts *o,
			    pid_t parent)
{
	struct failure f = {0, 0};
	sigset_t none;

	setpgid(0, 0);
	/* If autoperf dies (even by SIGKILL), so does the workload. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126);
	/* The workload starts with default signal handling whatever we
	 * ignore or block (ignored dispositions survive exec). */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	/* No descriptor of ours, inherited or not, reaches the workload,
	 * but those it is meant to have (the region-of-interest control). */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	for (int i = 0; i < o->nkeep; i++)
		fcntl(o->keep[i], F_SETFD, 0);

	if (o->cwd && chdir(o->cwd) < 0)
		f = (struct failure){'c', errno};
	else if (o->cpus && sched_setaffinity(0, sizeof(*o->cpus), o->cpus) < 0)
		f = (struct failure){'a', errno};

	char c;
	ssize_t n;
	do
		n = read(go, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(126); /* abandoned before release */

	if (!f.stage) {
		execvpe(o->argv[0], o->argv, o->envp ? o->envp : environ);
		f = (struct failure){'e', errno};
	}
	write_all(errfd, &f, sizeof(f));
	_exit(127);
}

int ap_spawn(struct ap_proc *p, const struct ap_spawn_opts *o)
{
	int go[2] = {-1, -1}, errp[2] = {-1, -1};
	int err;

	memset(p, 0, sizeof(*p));
	p->go_fd = p->err_fd = p->pidfd = -1;
	if (!o->argv || !o->argv[0])
		return -EINVAL;
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)
		goto fail_errno;

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		goto fail_errno;
	if (pid == 0)
		child(go[0], errp[1], o, parent);

	/* Also here, so the group exists before anyone signals it. */
	setpgid(pid, pid);
	/* Orphans of the workload become ours to kill and reap. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	close(go[0]);
	close(errp[1]);
	p->pid = pid;
	p->go_fd = go[1];
	p->err_fd = errp[0];
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	p->state = AP_HELD;
	return 0;

fail_errno:
	err = -errno;
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return err;
}

int ap_release(struct ap_proc *p)
{
	if (p->state != AP_HELD)
		return -EINVAL;

	/* A child that died while held would make the write raise SIGPIPE;
	 * take it as EPIPE instead. */
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	ssize_t n;
	do
		n = write(p->go_fd, "g", 1);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EPIPE) {
		struct timespec zero = {0, 0};
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p->go_fd);
	p->go_fd = -1;
	p->state = AP_RUNNING;

	/* EOF means exec closed the pipe: the workload runs. */
	struct failure f;
	ssize_t got;
	do
		got = read(p->err_fd, &f, sizeof(f));
	while (got < 0 && errno == EINTR);
	close(p->err_fd);
	p->err_fd = -1;
	if (got == (ssize_t)sizeof(f))
		return f.err ? f.err : EIO;
	return 0;
}

static int reap(struct ap_proc *p, int options)
{
	pid_t r;
	do
		r = wait4(p->pid, &p->status, options, &p->ru);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	p->state = AP_EXITED;
	return 1;
}

/* Kills what the workload left behind in its process group, while its
 * leader is still an unreaped zombie so that the group id cannot have
 * been reused, then reaps the leader and the orphans (we are their
 * subreaper), so that neither orphan nor zombie remains. */
static int finish(struct ap_proc *p)
{
	kill(-p->pid, SIGKILL);
	int r = reap(p, 0);
	/* Again until the group is empty: a fork bomb forks while it is
	 * being killed. Bounded (5 s), in case a member escaped our reach. */
	struct timespec step = {0, 1000000};
	for (int i = 0; i < 5000; i++) {
		pid_t o = waitpid(-p->pid, NULL, WNOHANG);
		if (o > 0)
			continue;
		if (kill(-p->pid, SIGKILL) < 0 && errno == ESRCH)
			break;
		nanosleep(&step, NULL);
	}
	return r;
}

/* 1: exited (not reaped yet), 2: extra_fd readable, 0: timeout. */
static int exited_unreaped(struct ap_proc *p, int timeout_ms, int extra_fd)
{
	struct pollfd pfd[2];
	int n = 0;
	if (p->pidfd >= 0)
		pfd[n++] = (struct pollfd){.fd = p->pidfd, .events = POLLIN};
	if (extra_fd >= 0)
		pfd[n++] = (struct pollfd){.fd = extra_fd, .events = POLLIN};
	for (int waited = 0;; waited++) {
		if (p->pidfd < 0) {
			/* Kernels before 5.3: look for the exit every ms. */
			siginfo_t si;
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)p->pid, &si,
				   WEXITED | WNOHANG | WNOWAIT) < 0)
				return -errno;
			if (si.si_pid)
				return 1;
			if (timeout_ms >= 0 && waited >= timeout_ms)
				return 0;
		}
		int r = poll(pfd, (nfds_t)n, p->pidfd >= 0 ? timeout_ms : 1);
		if (r < 0)
			return -errno;
		if (p->pidfd >= 0 && pfd[0].revents)
			return 1;
		if (extra_fd >= 0 && pfd[n - 1].revents)
			return 2;
		if (p->pidfd >= 0)
			return 0;
	}
}

int ap_wait(struct ap_proc *p, int timeout_ms, int extra_fd)
{
	if (p->state == AP_EXITED)
		return 1;
	if (p->state == AP_HELD)
		return -EINVAL;
	int r = exited_unreaped(p, timeout_ms, extra_fd);
	if (r <= 0 || r == 2)
		return r;
	r = finish(p);
	return r < 0 ? r : 1;
}

int ap_kill(struct ap_proc *p, int sig)
{
	if (p->state == AP_EXITED)
		return -ESRCH;
	if (kill(-p->pid, sig) < 0)
		return -errno;
	return 0;
}

void ap_proc_close(struct ap_proc *p)
{
	if (p->pid > 0 && p->state != AP_EXITED) {
		if (p->go_fd >= 0) {
			close(p->go_fd); /* a held child exits at EOF */
			p->go_fd = -1;
		}
		finish(p);
	}
	if (p->go_fd >= 0)
		close(p->go_fd);
	if (p->err_fd >= 0)
		close(p->err_fd);
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->go_fd = p->err_fd = p->pidfd = -1;
	p->pid = 0;
}
