/* mix [MB] [ROUNDS]: a small workload that touches the kernel in several
 * ways per round: faults in MB fresh pages, makes syscalls, sleeps
 * briefly and spins up a thread. More MB, more page faults; more rounds,
 * more of everything. Used by the demo and the analysis examples. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void *spin(void *arg)
{
	volatile unsigned long *x = arg;
	for (int i = 0; i < 1000000; i++)
		*x += (unsigned long)i;
	return NULL;
}

int main(int argc, char **argv)
{
	long mb = argc > 1 ? atol(argv[1]) : 16;
	long rounds = argc > 2 ? atol(argv[2]) : 5;
	if (mb <= 0 || rounds <= 0) {
		fprintf(stderr, "usage: mix [MB>0] [ROUNDS>0]\n");
		return 2;
	}
	size_t len = (size_t)mb << 20;
	for (long r = 0; r < rounds; r++) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("mix: mmap");
			return 1;
		}
		memset(p, (int)r, len);
		munmap(p, len);
		for (int i = 0; i < 100; i++)
			getppid();
		unsigned long x = 0;
		pthread_t t;
		if (pthread_create(&t, NULL, spin, &x) == 0)
			pthread_join(t, NULL);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}
