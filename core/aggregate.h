/* aggregate: one run file turned into results.csv rows
 *   EVENT_NAME,INDEX,TIME,SOCKET,CORE,CPU,NODE,UNIT,SAMPLE_VALUE
 * (SAMPLE_VALUE the count of the interval: the delta of the cumulative
 * value per (tag, cpu)), streamed from the run file to a writer. */
#ifndef AP_AGGREGATE_H
#define AP_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

struct ap_writer;

/* Where a cpu sits; known = 0 (or a cpu beyond the map, or -1) prints -1s. */
struct ap_cpu_topo {
	int known;
	long long socket, core, node;
};

struct ap_agg_opts {
	const struct ap_cpu_topo *topo; /* topo[cpu], cpu < ntopo */
	size_t ntopo;
	/* Events with these names are neither written nor returned (an event
	 * superseded by its re-measurement in a later run). */
	const char *const *skip;
	size_t nskip;
	/* Added to INDEX and TIME: where the previous repetition ended. */
	int64_t index_offset, time_offset;
};

/* One #event declaration that was not skipped, in file order. */
struct ap_agg_event {
	int tag;
	char *name, *unit;
	int has_rows; /* then: */
	/* Sums over cpus of the last sample's value, enabled and running
	 * (modulo 2^64, as Lua integers add). */
	uint64_t total, enabled, running;
};

struct ap_agg_result {
	struct ap_agg_event *events;
	size_t nevents;
	int64_t max_index; /* of the rows written; -1 when none */
	int64_t max_time;  /* ns; 0 when none */
	long rows;         /* rows written */
};

/* Appends path's rows (no column header) to w, in file order. TIME is in
 * seconds with 6 decimals, rounded half up from the ns (exact integer
 * arithmetic); names and units are CSV-quoted when they hold , " or a
 * newline. Returns 0 with *res filled (free it with ap_agg_result_free),
 * or what ap_run_parse returns (message in err; also AP_RUN_FORMAT when an
 * event's total over cpus passes INT64_MAX), or -errno of a write
 * (message in err too, naming w's file). On failure what was written to w is incomplete:
 * abort it. */
int ap_aggregate_run(const char *path, struct ap_writer *w,
		     const struct ap_agg_opts *opts, struct ap_agg_result *res,
		     char *err, size_t errlen);
void ap_agg_result_free(struct ap_agg_result *res);

#endif
