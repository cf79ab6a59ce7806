#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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

/* What the keeper tells us: the workload's pid once forked ('p'; pid is
 * -errno when the fork failed), then its end ('x'). */
struct report {
	int kind;
	pid_t pid;
	int status;
	struct rusage ru;
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
	/* If the keeper dies (even by SIGKILL), so does the workload. */
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

/* Closes every descriptor from 3 up but those in keep[0..n) (sorted in
 * place): the keeper holds nothing of ours, so that our pipes and
 * sockets see their end when we close them. */
static void close_all_but(int *keep, int n)
{
	for (int i = 1; i < n; i++) /* a few: insertion sort, no allocation */
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	unsigned from = 3;
	for (int i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < from)
			continue;
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0U);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0U);
}

/* The keeper's children (from /proc: it is their subreaper, so every
 * process of the tree it has not killed yet is one, or a descendant of
 * one); returns how many landed in out (at most max), -1 when /proc does
 * not tell. */
static int children(pid_t self, pid_t *out, int max)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)self, (int)self);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t len;
	do
		len = read(fd, buf, sizeof(buf) - 1);
	while (len < 0 && errno == EINTR);
	close(fd);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	int n = 0;
	char *s = buf, *end;
	/* The kernel ends every pid with a space: one without is cut off by
	 * our buffer (never a pid to kill). The rest comes next round. */
	while (n < max) {
		long v = strtol(s, &end, 10);
		if (end == s || *end != ' ' || v <= 0)
			break;
		out[n++] = (pid_t)v;
		s = end;
	}
	return n;
}

/* Kills the workload's tree: w, its process group while w is an unreaped
 * zombie (so that the group id cannot have been reused), and every other
 * child of ours (unreaped, so their pids are still theirs), reaping them
 * once dead; their orphans come to us in turn, until w is all that is
 * left. Bounded (5 s): a fork bomb forks while it is being killed. */
static void sweep(pid_t w)
{
	pid_t self = getpid(), kids[512];
	struct timespec step = {0, 1000000};
	/* First w itself (it may have left its group): only once it is dead
	 * have its children come to us. */
	kill(-w, SIGKILL);
	kill(w, SIGKILL);
	siginfo_t si;
	while (waitid(P_PID, (id_t)w, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	for (int round = 0; round < 5000; round++) {
		kill(-w, SIGKILL);
		int n = children(self, kids, 512), others = 0;
		if (n < 0)
			return; /* no /proc: the process group is what we reach */
		for (int i = 0; i < n; i++) {
			if (kids[i] == w)
				continue;
			others++;
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, WNOHANG);
		}
		if (!others)
			return;
		nanosleep(&step, NULL);
	}
}

static volatile sig_atomic_t keeper_told_to_go;

static void keeper_signal(int sig)
{
	if (sig != SIGCHLD)
		keeper_told_to_go = 1;
}

static int send_report(int sock, const struct report *r)
{
	ssize_t n;
	do
		n = send(sock, r, sizeof(*r), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*r) ? 0 : -1;
}

/* The keeper: the workload's parent and its tree's subreaper. It runs
 * the workload's signals (an int each on sock) until the workload exits,
 * or until we are gone (sock at its end, our death signal, or a new
 * parent). Either way the whole tree dies before it reports and exits. */
static _Noreturn void keeper(int go, int errfd, int sock,
			     const struct ap_spawn_opts *o, pid_t parent)
{
	struct report r;
	memset(&r, 0, sizeof(r));
	r.kind = 'p';

	prctl(PR_SET_NAME, "autoperf-keep");
	/* Our own process group: a kill of autoperf's group (the shell's
	 * job control) leaves us to clean up after it. */
	setpgid(0, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = keeper_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGINT, SIG_IGN); /* Ctrl-C is autoperf's to handle */
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);

	/* No allocation after fork (another thread may hold malloc's lock):
	 * ap_spawn bounds nkeep. */
	int keep[5 + AP_KEEP_MAX], nkeep = 0;
	keep[nkeep++] = go;
	keep[nkeep++] = errfd;
	keep[nkeep++] = sock;
	if (o->cgroup) {
		keep[nkeep++] = o->cgroup->fd;
		keep[nkeep++] = o->cgroup->parent_fd;
	}
	for (int i = 0; i < o->nkeep; i++)
		keep[nkeep++] = o->keep[i];
	close_all_but(keep, nkeep);

	pid_t self = getpid();
	pid_t w = fork();
	if (w == 0)
		child(go, errfd, o, self);
	r.pid = w < 0 ? -errno : w;
	/* Into its cgroup while it is held: done before we report it, so
	 * that nothing of the move happens while its counters count. */
	if (w > 0 && o->cgroup) {
		int err = ap_cgroup_move(o->cgroup, w);
		if (err) {
			kill(w, SIGKILL);
			waitpid(w, NULL, 0);
			r.pid = err;
			w = -1;
		}
	}
	send_report(sock, &r);
	if (w < 0) {
		if (o->cgroup) {
			struct ap_cgroup cg = *o->cgroup;
			ap_cgroup_remove(&cg);
		}
		_exit(0);
	}
	setpgid(w, w); /* also here, so the group exists before we signal it */
	/* The workload has its ends of the barrier and of what it keeps. */
	close(go);
	close(errfd);
	for (int i = 0; i < o->nkeep; i++)
		if (o->keep[i] != sock)
			close(o->keep[i]);

	sigset_t waiting = old;
	sigdelset(&waiting, SIGCHLD);
	sigdelset(&waiting, SIGTERM);
	sigdelset(&waiting, SIGHUP);
	int abandoned = 0;
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)w, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid)
			break;
		if (keeper_told_to_go || getppid() != parent) {
			abandoned = 1;
			break;
		}
		struct pollfd pfd = {.fd = sock, .events = POLLIN};
		int pr = ppoll(&pfd, 1, NULL, &waiting);
		if (pr < 0 && errno != EINTR) {
			abandoned = 1;
			break;
		}
		if (pr > 0) {
			int sig;
			ssize_t got = recv(sock, &sig, sizeof(sig), MSG_DONTWAIT);
			if (got == (ssize_t)sizeof(sig))
				kill(-w, sig);
			else if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
				abandoned = 1;
				break;
			}
		}
	}
	sweep(w);
	r.kind = 'x';
	pid_t got;
	do
		got = wait4(w, &r.status, 0, &r.ru);
	while (got < 0 && errno == EINTR);
	if (o->cgroup) {
		/* our copy (fork's): what entered it dies with it */
		struct ap_cgroup cg = *o->cgroup;
		ap_cgroup_remove(&cg);
	}
	if (!abandoned && got == w)
		send_report(sock, &r);
	_exit(0);
}

static int recv_report(int sock, struct report *r)
{
	ssize_t n;
	do
		n = recv(sock, r, sizeof(*r), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(*r) ? 0 : -ECHILD;
}

static void reap_keeper(struct ap_proc *p)
{
	if (p->keeper <= 0)
		return;
	pid_t r;
	do
		r = waitpid(p->keeper, NULL, 0);
	while (r < 0 && errno == EINTR);
	p->keeper = 0;
}

int ap_spawn(struct ap_proc *p, const struct ap_spawn_opts *o)
{
	int go[2] = {-1, -1}, errp[2] = {-1, -1}, sv[2] = {-1, -1};
	int err;

	memset(p, 0, sizeof(*p));
	p->go_fd = p->err_fd = p->sock = -1;
	if (!o->argv || !o->argv[0] || o->nkeep < 0 || o->nkeep > AP_KEEP_MAX)
		return -EINVAL;
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail_errno;

	pid_t parent = getpid();
	pid_t k = fork();
	if (k < 0)
		goto fail_errno;
	if (k == 0)
		keeper(go[0], errp[1], sv[1], o, parent);

	close(go[0]);
	close(errp[1]);
	close(sv[1]);
	p->keeper = k;
	p->sock = sv[0];
	p->go_fd = go[1];
	p->err_fd = errp[0];
	struct report r;
	err = recv_report(p->sock, &r);
	if (!err && (r.kind != 'p' || r.pid <= 0))
		err = r.pid < 0 ? r.pid : -ECHILD;
	if (err) {
		ap_proc_close(p);
		return err;
	}
	p->pid = r.pid;
	p->state = AP_HELD;
	return 0;

fail_errno:
	err = -errno;
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (sv[i] >= 0)
			close(sv[i]);
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
	if (got == (ssize_t)sizeof(f)) {
		p->failed = f.stage;
		return f.err ? f.err : EIO;
	}
	return 0;
}

int ap_wait(struct ap_proc *p, int64_t deadline_ns, int extra_fd)
{
	if (p->state == AP_EXITED)
		return 1;
	if (p->state == AP_HELD)
		return -EINVAL;
	if (p->sock < 0)
		return -ECHILD;
	struct pollfd pfd[2] = {{.fd = p->sock, .events = POLLIN},
				{.fd = extra_fd, .events = POLLIN}};
	struct timespec rel, *timeout = NULL;
	if (deadline_ns >= 0) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t left = deadline_ns - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
		if (left < 0)
			left = 0;
		rel.tv_sec = (time_t)(left / 1000000000);
		rel.tv_nsec = (long)(left % 1000000000);
		timeout = &rel;
	}
	int r = ppoll(pfd, extra_fd >= 0 ? 2 : 1, timeout, NULL);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	if (!pfd[0].revents)
		return 2;
	/* The keeper sends the status once the tree is gone, then exits. */
	struct report rep;
	int err = recv_report(p->sock, &rep);
	close(p->sock);
	p->sock = -1;
	reap_keeper(p);
	if (err || rep.kind != 'x')
		return err ? err : -ECHILD;
	p->status = rep.status;
	p->ru = rep.ru;
	p->state = AP_EXITED;
	return 1;
}

int ap_kill(struct ap_proc *p, int sig)
{
	if (p->state == AP_EXITED || p->sock < 0)
		return -ESRCH;
	ssize_t n;
	do
		n = send(p->sock, &sig, sizeof(sig), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EPIPE || errno == ECONNRESET ? -ESRCH : -errno;
	return 0;
}

void ap_proc_close(struct ap_proc *p)
{
	/* A held child exits at the barrier's end; the keeper, at the end
	 * of its socket, kills whatever of the tree remains. */
	if (p->go_fd >= 0)
		close(p->go_fd);
	if (p->sock >= 0)
		close(p->sock);
	p->go_fd = p->sock = -1;
	reap_keeper(p);
	if (p->err_fd >= 0)
		close(p->err_fd);
	p->err_fd = -1;
	p->pid = 0;
}
