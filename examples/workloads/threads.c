/* threads KB THREADS [WRITES]: THREADS threads each fault in KB kilobytes
 * of fresh memory and make WRITES (default 100) one-byte write(2) calls
 * to /dev/null. Ground truth for sweeps: page faults grow with KB x
 * THREADS, writes are exactly THREADS x WRITES. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static long kb, writes;
static int devnull;

static void *work(void *arg)
{
	(void)arg;
	size_t len = (size_t)kb << 10;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (void *)1;
	for (size_t off = 0; off < len; off += 4096)
		p[off] = 1;
	munmap(p, len);
	for (long i = 0; i < writes; i++)
		if (write(devnull, "x", 1) != 1)
			return (void *)1;
	return NULL;
}

int main(int argc, char **argv)
{
	kb = argc > 1 ? atol(argv[1]) : 1024;
	long n = argc > 2 ? atol(argv[2]) : 1;
	writes = argc > 3 ? atol(argv[3]) : 100;
	if (argc > 4 || kb <= 0 || n <= 0 || n > 256 || writes < 0) {
		fprintf(stderr, "usage: threads [KB>0] [THREADS 1-256] [WRITES>=0]\n");
		return 2;
	}
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull < 0) {
		perror("/dev/null");
		return 1;
	}
	pthread_t t[256];
	int failed = 0;
	for (long i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, work, NULL) != 0) {
			perror("pthread_create");
			return 1;
		}
	for (long i = 0; i < n; i++) {
		void *r;
		pthread_join(t[i], &r);
		failed |= r != NULL;
	}
	close(devnull);
	return failed;
}
