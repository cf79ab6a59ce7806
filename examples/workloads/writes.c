/* writes K: makes exactly K write(2) system calls (to /dev/null), nothing
 * else that writes: the ground truth for syscalls:sys_enter_write. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char *end;
	if (argc != 2) {
		fprintf(stderr, "usage: writes K\n");
		return 2;
	}
	errno = 0;
	long k = strtol(argv[1], &end, 10);
	if (errno || *end || k < 0) {
		fprintf(stderr, "writes: K must be a count, not '%s'\n", argv[1]);
		return 2;
	}
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("writes: /dev/null");
		return 1;
	}
	for (long i = 0; i < k; i++)
		if (write(fd, "x", 1) != 1)
			return 1;
	return close(fd) < 0;
}
