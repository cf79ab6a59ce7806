/* roi OUTSIDE INSIDE: makes OUTSIDE write(2) calls, then INSIDE calls
 * inside a region of interest (autoperf.h), then OUTSIDE more: under
 * `autoperf profile --roi` syscalls:sys_enter_write counts INSIDE. */
#include "../include/autoperf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

static int writes(int fd, long n)
{
	for (long i = 0; i < n; i++)
		if (write(fd, "x", 1) != 1)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: roi OUTSIDE INSIDE\n");
		return 2;
	}
	long outside = atol(argv[1]), inside = atol(argv[2]);
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	if (writes(fd, outside) < 0)
		return 1;
	autoperf_roi_begin();
	int r = writes(fd, inside);
	autoperf_roi_end();
	if (r < 0 || writes(fd, outside) < 0)
		return 1;
	return 0;
}
