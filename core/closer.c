#include "closer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Descriptors per message; the kernel caps SCM_RIGHTS at 253. */
#define BATCH 250

struct held {
	int *fds;
	size_t n, cap;
	size_t ready; /* fds[0..ready) may be closed: the sender let go */
	size_t next;  /* fds[0..next) are closed */
};

static void keep(struct held *h, int fd)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 1024;
		int *fds = realloc(h->fds, cap * sizeof(*fds));
		if (!fds) {
			close(fd); /* no memory: pay the close now */
			return;
		}
		h->fds = fds;
		h->cap = cap;
	}
	h->fds[h->n++] = fd;
}

/* Receives one message; 1: got one, 0: peer gone, -errno otherwise. */
static int receive(int sock, int flags, struct held *h)
{
	char data[1];
	union {
		char buf[CMSG_SPACE(BATCH * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf)};
	ssize_t r = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	if (data[0] == 'd')
		h->ready = h->n;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
	     c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			keep(h, fd);
		}
	}
	return 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Closing the last event of a tracepoint holds the kernel's event_mutex
 * through an RCU grace period (~35 ms), and opening any tracepoint event
 * needs that mutex. So the closer (1) holds everything until the sender is
 * done, or until it holds more than half of what it may (the sender's
 * next runs reopen the same tracepoints, which makes these closes cheap
 * and keeps its opens fast), and (2) after each slow close pauses as long
 * as the close took, so that a profile starting meanwhile gets the mutex.
 */
static _Noreturn void serve(int sock)
{
	struct held h = {0};
	int open_peer = 1;
	struct rlimit rl;
	size_t high_water = 512;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 2 > high_water)
		high_water = rl.rlim_cur / 2;

	prctl(PR_SET_NAME, "autoperf-close");
	/* Shed what we inherited; cheap, the parent still holds it all. */
	if (sock > 3)
		syscall(SYS_close_range, 3U, (unsigned)sock - 1, 0U);
	syscall(SYS_close_range, (unsigned)sock + 1, ~0U, 0U);

	for (;;) {
		/* Take in everything pending before each slow close, so that
		 * descriptors never pile up in flight (the kernel limits how
		 * many a sender may have in flight). */
		while (open_peer) {
			int busy = h.next < h.ready &&
				   h.ready - h.next > high_water;
			int r = receive(sock, busy ? MSG_DONTWAIT : 0, &h);
			if (r == 0 || (r < 0 && r != -EINTR && r != -EAGAIN)) {
				open_peer = 0;
				h.ready = h.n; /* the sender is gone */
			}
			if (r == -EAGAIN)
				break;
		}
		if (h.next < h.ready &&
		    (!open_peer || h.ready - h.next > high_water)) {
			uint64_t t = now_ns();
			close(h.fds[h.next++]);
			t = now_ns() - t;
			if (t > 1000000) {
				struct timespec pause = {(time_t)(t / 1000000000u),
							 (long)(t % 1000000000u)};
				nanosleep(&pause, NULL);
			}
			continue;
		}
		if (h.next == h.n)
			h.n = h.ready = h.next = 0;
		if (!open_peer)
			_exit(0);
	}
}

int ap_closer_start(struct ap_closer *c)
{
	int sv[2];
	c->sock = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int err = -errno;
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0) {
		/* Detach twice: the closer is nobody's child and has no
		 * terminal, so it never becomes our zombie nor gets Ctrl-C. */
		close(sv[0]);
		setsid();
		/* Nor does it hold our stdout: `autoperf ... | tee log`
		 * must end when autoperf does, not when the closes do. */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			for (int fd = 0; fd < 3; fd++)
				if (fd != sv[1])
					dup2(null, fd);
			if (null > 2)
				close(null);
		}
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		pid_t p2 = fork();
		if (p2 == 0)
			serve(sv[1]);
		_exit(p2 < 0);
	}
	close(sv[1]);
	int st;
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		close(sv[0]);
		return -ECHILD;
	}
	c->sock = sv[0];
	return 0;
}

/* Sends fds (n > 0) with data byte 'c', or with n == 0 the byte 'd':
 * "my copies are closed, yours may go now". Closing in the closer before
 * our own close would make ours the last, costly one. */
static int send_batch(int sock, const int *fds, size_t n)
{
	union {
		char buf[CMSG_SPACE(BATCH * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = {.iov_base = n ? "c" : "d", .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n) {
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	ssize_t r;
	do
		r = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

size_t ap_closer_give(struct ap_closer *c, const int *fds, size_t n)
{
	size_t given = 0;
	while (c->sock >= 0 && given < n) {
		size_t k = n - given < BATCH ? n - given : BATCH;
		if (send_batch(c->sock, fds + given, k) < 0) {
			ap_closer_stop(c);
			break;
		}
		given += k;
	}
	/* Handed over or not, our references go now (siblings first). */
	for (size_t i = n; i-- > 0;)
		close(fds[i]);
	if (given && c->sock >= 0 && send_batch(c->sock, NULL, 0) < 0)
		ap_closer_stop(c); /* at its end the closer closes all anyway */
	return given;
}

void ap_closer_stop(struct ap_closer *c)
{
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
}
