/* synth: synthetic run files, for benchmarks of what reads them. */
#ifndef AP_SYNTH_H
#define AP_SYNTH_H

#include <stddef.h>
#include <stdint.h>

struct ap_synth {
	int run, rep;
	int events;        /* tags 1..events */
	int intervals;     /* samples per (event, cpu), 10 ms apart */
	int cpus;          /* cpus 0..cpus-1 */
	uint64_t seed;     /* same seed, same bytes */
};

/* Writes an ordinary gzip run file (as the profiler writes it: #autoperf-run,
 * #event lines, the column header, rows by interval, cpu and tag of raw
 * cumulative counts, #end) atomically to path. Event names are
 * "synth_event_NNNN", and every tenth a perf-style raw name holding a comma
 * ("cpu/event=0x..,umask=0x../"), unit "cpu"; every 50th event runs 3/4 of
 * its enabled time (multiplexed). Returns 0 with the row count in *rows, or
 * -errno. */
int ap_synth_run(const char *path, const struct ap_synth *s, long *rows);
/* The name ap_synth_run gives tag (buf of len bytes; 64 are enough). */
void ap_synth_event_name(char *buf, size_t len, int tag);

#endif
