/* A loop of exactly three instructions per iteration, for checking that an
 * instruction counter is exact: insns N runs N iterations. Give N with a
 * fixed number of digits (0000000000, 0001000000) so that parsing it costs
 * the same for every N and only the loop differs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void loop(uint64_t n)
{
#if defined(__aarch64__)
	__asm__ volatile("cbz %0, 2f\n"
			 "1: add x9, x9, #1\n"
			 "subs %0, %0, #1\n"
			 "b.ne 1b\n"
			 "2:\n"
			 : "+r"(n)
			 :
			 : "x9", "cc");
#elif defined(__x86_64__)
	__asm__ volatile("test %0, %0\n"
			 "jz 2f\n"
			 "1: add $1, %%r9\n"
			 "sub $1, %0\n"
			 "jnz 1b\n"
			 "2:\n"
			 : "+r"(n)
			 :
			 : "r9", "cc");
#else
	volatile uint64_t i;
	for (i = 0; i < n; i++)
		;
#endif
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: insns N (iterations of a 3-instruction loop)\n");
		return 2;
	}
	loop(strtoull(argv[1], NULL, 10));
	return 0;
}
