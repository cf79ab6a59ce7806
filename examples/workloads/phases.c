/* phases [N [MAX_SLEEP_MS [MB]]]: N rounds of the same work, each a
 * fault phase (maps MB MiB, default 64, and touches every page: one page
 * fault per page), then a compute phase (a fixed number of loop turns, no
 * faults), then a sleep of a random 0..MAX_SLEEP_MS ms (default 120),
 * different in every execution. The work is the same in every run; where
 * it falls in wall-clock time is not: the workload for lining runs up by
 * an anchor's progress (task-clock does not move while it sleeps).
 * It marks its progress with a getppid() call per 64 pages touched and
 * per 100000 loop turns: syscalls:sys_enter_getppid counts work done, as
 * an instruction counter would on a machine that has one (task-clock,
 * CPU time, also grows with what else the machine does). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long arg(int argc, char **argv, int i, long def, const char *what)
{
	if (argc <= i)
		return def;
	char *end;
	errno = 0;
	long v = strtol(argv[i], &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "phases: %s must be a count, not '%s'\n", what, argv[i]);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc > 4) {
		fprintf(stderr, "usage: phases [N [MAX_SLEEP_MS [MB]]]\n");
		return 2;
	}
	long n = arg(argc, argv, 1, 8, "N");
	long max_sleep = arg(argc, argv, 2, 120, "MAX_SLEEP_MS");
	long mb = arg(argc, argv, 3, 64, "MB");
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* a different sequence of sleeps in every execution */
	uint64_t seed = (uint64_t)now.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)now.tv_sec;
	long page = sysconf(_SC_PAGESIZE);
	size_t len = (size_t)mb << 20;
	volatile uint64_t sink = 0;
	for (long r = 0; r < n; r++) {
		if (len > 0) {
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED) {
				perror("phases: mmap");
				return 1;
			}
			for (size_t off = 0, k = 0; off < len; off += (size_t)page, k++) {
				p[off] = (char)off;
				if (k % 64 == 63)
					getppid();
			}
			if (munmap(p, len) != 0) {
				perror("phases: munmap");
				return 1;
			}
		}
		uint64_t x = (uint64_t)r + 1;
		for (long i = 0; i < 30000000L; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			if (i % 100000 == 99999)
				getppid();
		}
		sink += x;
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		long ms = max_sleep > 0 ? (long)((seed >> 33) % (uint64_t)(max_sleep + 1)) : 0;
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return sink == 42; /* keeps the loop; never true in practice */
}
