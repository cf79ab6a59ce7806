/* spin N: a CPU-bound loop of N million iterations, no system calls in
 * the loop; prints the loop's own wall time in seconds on stdout, so that
 * the slowdown profiling costs the workload is measured without the
 * profiler's start-up and teardown. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	if (argc > 2 || n <= 0) {
		fprintf(stderr, "usage: spin [MILLIONS]\n");
		return 2;
	}
	double t0 = now();
	volatile unsigned long x = 0;
	for (long i = 0; i < n * 1000000L; i++)
		x += (unsigned long)i ^ (x >> 3);
	printf("%.6f\n", now() - t0);
	return (int)(x & 0);
}
