/* aggregate: the results.csv sink of the profile reader (core/reader.h):
 *   EVENT_NAME,INDEX,TIME,SOCKET,CORE,CPU,NODE,UNIT,SAMPLE_VALUE
 * one row per row of the run files (SAMPLE_VALUE the count of the
 * interval), streamed to a writer. INDEX and TIME are on the run's
 * timeline (repetitions follow each other); TIME is in seconds with 6
 * decimals, rounded half up from the ns (exact integer arithmetic); names
 * and units are CSV-quoted when they hold , " or a newline. */
#ifndef AP_AGGREGATE_H
#define AP_AGGREGATE_H

#include "reader.h"

#include <stddef.h>
#include <stdint.h>

struct ap_writer;

/* Where a cpu sits; known = 0 (or a cpu beyond the map, or -1) prints -1s. */
struct ap_cpu_topo {
	int known;
	long long socket, core, node;
};

struct ap_results_opts {
	struct ap_writer *w;            /* rows are appended (no column header) */
	const struct ap_cpu_topo *topo; /* topo[cpu], cpu < ntopo */
	size_t ntopo;
	/* Added to INDEX and TIME besides the run's own timeline. */
	int64_t index_offset, time_offset;
};

struct ap_results_sink;

/* A new sink (its messages go to err, which must outlive it). Returns 0
 * or -ENOMEM. */
int ap_results_sink_new(struct ap_results_sink **out, const struct ap_results_opts *o,
			char *err, size_t errlen);
struct ap_sink ap_results_sink(struct ap_results_sink *s);
/* After the read: the last rows written. Returns 0 or the -errno of a
 * write (message in err, naming w's file). What was written to w is
 * incomplete on any failure: abort it. */
int ap_results_sink_finish(struct ap_results_sink *s);
/* Rows written, their highest INDEX and TIME as in the files (-1 and 0
 * when none). */
void ap_results_sink_counts(const struct ap_results_sink *s, long *rows,
			    int64_t *max_index, int64_t *max_time);
void ap_results_sink_free(struct ap_results_sink *s);

#endif
