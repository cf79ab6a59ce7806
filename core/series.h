/* series: one run file's per-event time series, summed over CPUs, for
 * analysis (correlation, wide export): a sink of the profile reader
 * (core/reader.h); and the same read from a results.csv. */
#ifndef AP_SERIES_H
#define AP_SERIES_H

#include "numeric.h"

#include <stddef.h>
#include <stdint.h>

struct ap_series_event {
	int tag;
	char *name, *unit;
	size_t length; /* intervals sampled: highest index + 1 */
	/* the last sample summed over CPUs: the run's count and times;
	 * flagged when a CPU's counter ran less than it was enabled */
	uint64_t total, enabled, running;
	int flagged;
	double sum; /* from a results.csv: the sum of its SAMPLE_VALUEs (total is 0) */
};

struct ap_series {
	size_t n;                       /* events, in declaration order */
	struct ap_series_event *events;
	struct ap_matrix m;             /* n x (longest length): deltas per interval */
};

/* Reads path (a run file) into s: row k of s->m holds event k's count in
 * each interval (the difference of its cumulative value to the previous
 * sample, summed over CPUs; 0 past its length). skip(name, ctx) != 0 leaves
 * an event out (NULL: keep all). Returns 0, -errno, or AP_RUN_FORMAT with
 * the message in err. s is freed on failure. */
int ap_series_read(const char *path, int (*skip)(const char *name, void *ctx),
		   void *ctx, struct ap_series *s, char *err, size_t errlen);
void ap_series_free(struct ap_series *s);

/* Reads a results.csv (plain or .gz; autoperf's or the original
 * autoperf's: columns found by name, EVENT_NAME, INDEX, UNIT and
 * SAMPLE_VALUE) into s: one row per event in order of appearance, its
 * SAMPLE_VALUEs summed over CPUs per INDEX; sum is their sum. A value
 * that is not a finite number is refused. Returns 0,
 * -errno, or AP_RUN_FORMAT with "path:line: ..." in err. */
int ap_results_read(const char *path, struct ap_series *s, char *err, size_t errlen);

#endif
