#include "capacity.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Every member, the leader too, is created enabled: the kernel validates
 * a group at open by scheduling it on a fake PMU, and arm64's validation
 * skips a leader that is created disabled (without enable_on_exec). Such
 * a group then opens one member too many and is never scheduled
 * (time_running stays 0), so a disabled leader would overstate the
 * capacity by one. Counting on ourselves for the instant the probe lasts
 * costs nothing.
 */
int ap_capacity(const struct perf_event_attr *attr, int max)
{
	if (max < 1)
		return -EINVAL;
	int *fds = calloc((size_t)max, sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	struct perf_event_attr a = *attr;
	a.size = sizeof(a);
	a.disabled = 0;
	a.enable_on_exec = 0;
	a.inherit = 0;
	a.read_format = PERF_FORMAT_GROUP;
	int n = 0, ret = 0;
	while (n < max) {
		int fd = (int)syscall(SYS_perf_event_open, &a, 0, -1,
				      n ? fds[0] : -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			int err = errno;
			if (n == 0 || (err != EINVAL && err != ENOSPC))
				ret = -err;
			break;
		}
		fds[n++] = fd;
	}
	if (ret == 0)
		ret = n;
	/* Siblings first (see ap_group_close). */
	while (n > 0)
		close(fds[--n]);
	free(fds);
	return ret;
}
