/*
 * autoperf.h: mark the region of interest of a workload, so that
 * `autoperf profile --roi -- ./app` counts only inside it.
 *
 *   #include <autoperf.h>
 *   ...
 *   autoperf_roi_begin();   // counting starts
 *   work();
 *   autoperf_roi_end();     // counting stops
 *
 * Header-only, no library. Under autoperf --roi the environment variable
 * AUTOPERF_CTL_FD names a socket: each call sends a command and waits
 * for autoperf's one-byte acknowledgement, so counting has changed when
 * the call returns. Outside autoperf (no AUTOPERF_CTL_FD) the calls do
 * nothing and return -1. Regions may repeat; counts add up.
 */
#ifndef AUTOPERF_H
#define AUTOPERF_H

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int autoperf__ctl_fd(void)
{
	static int fd = -2;
	if (fd == -2) {
		const char *s = getenv("AUTOPERF_CTL_FD");
		fd = s && *s ? atoi(s) : -1;
	}
	return fd;
}

static inline int autoperf__command(const char *cmd)
{
	int fd = autoperf__ctl_fd();
	size_t len = strlen(cmd);
	char ack;
	/* send/recv, not write/read: the workload's own write and read
	 * counts stay exact; MSG_NOSIGNAL: no SIGPIPE if autoperf is gone. */
	if (fd < 0 || send(fd, cmd, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	return recv(fd, &ack, 1, 0) == 1 ? 0 : -1;
}

/* Starts counting. Returns 0, or -1 when not under autoperf --roi. */
static inline int autoperf_roi_begin(void)
{
	return autoperf__command("enable\n");
}

/* Stops counting. Returns 0, or -1 when not under autoperf --roi. */
static inline int autoperf_roi_end(void)
{
	return autoperf__command("disable\n");
}

#endif
