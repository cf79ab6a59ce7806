/* reader: a profile's run files read once, handed to sinks.
 *
 * The one place that turns run files (core/runfile.h) into counts: per
 * (event, cpu) deltas, per-file totals and flags, the re-measured rule
 * (an event superseded in a file is left out of it), the repetitions of a
 * run on one timeline, and per-event statistics over the whole profile.
 * What is made of the counts (results.csv, series, ap.read's tables) is a
 * sink: a small struct of callbacks. Which files make the profile and
 * what each supersedes is the caller's (store.lua reads the journal).
 */
#ifndef AP_READER_H
#define AP_READER_H

#include <stddef.h>
#include <stdint.h>

/* One run file of the profile, in the order the caller wants them read. */
struct ap_read_file {
	const char *path;
	int run, rep;
	/* Events re-measured later (superseded here): skip(name, ctx) != 0
	 * leaves one out of this file. NULL: keep all. */
	int (*skip)(const char *name, void *ctx);
	void *skip_ctx;
};

/* An event of the file being read (one not skipped). */
struct ap_read_event {
	size_t ev;              /* its number in the profile: 0, 1, ... by (name,
				 * unit), in order of first appearance */
	int tag;                /* in this file */
	const char *name, *unit; /* valid until the read ends */
	/* At the file's end (in on_file_end): sums over cpus of the last
	 * sample; flagged when a cpu's counter ran less than it was enabled. */
	int has_rows;
	uint64_t total, enabled, running;
	int flagged;
};

struct ap_read_row {
	const struct ap_read_event *e;
	int64_t index, time_ns; /* as in the file */
	/* on the run's timeline: repetitions of a run follow each other
	 * (index and time continue where the previous one ended) */
	int64_t run_index, run_time_ns;
	int cpu;
	uint64_t value, delta, enabled, running;
};

/* Per event over the profile, for a summary: over the files that had
 * rows of it, the number, sum, min and max of its totals and the sums of
 * its enabled and running times. */
struct ap_read_stat {
	const char *name, *unit;
	size_t reps;
	uint64_t sum, min, max, enabled, running;
};

/* A sink. Callbacks return 0 to go on, or an error (-errno, or
 * AP_RUN_FORMAT) that ends the read with it; a message written into the
 * caller's err stands (a sink keeps a pointer to it), otherwise the
 * reader says "path: strerror". on_event may return AP_SINK_SKIP: no rows
 * of that event for this sink. Any callback may be NULL. */
#define AP_SINK_SKIP 1
struct ap_sink {
	int (*on_file)(void *ctx, const struct ap_read_file *f, size_t i);
	int (*on_event)(void *ctx, const struct ap_read_event *e);
	int (*on_row)(void *ctx, const struct ap_read_row *r);
	/* the file's events (those not skipped), with their totals */
	int (*on_file_end)(void *ctx, const struct ap_read_event *events, size_t n);
	/* the profile's events, by number */
	int (*on_profile_end)(void *ctx, const struct ap_read_stat *stats, size_t n);
	void *ctx;
};

/* Reads files in order into the sinks. With 3 cpus or more the next
 * files are inflated and parsed ahead on worker threads (the caller's
 * thread and one worker per other cpu it may run on, at most 8 workers;
 * AUTOPERF_READ_THREADS=N reads with N threads, 1 in line as on 1-2 cpus),
 * a few MiB per file in flight; sinks and skip are only ever
 * called on the caller's thread, in the order and with the values and
 * messages of a read in line, and every worker is joined before this
 * returns. Returns 0, -errno, or
 * AP_RUN_FORMAT (a bad run file, as ap_run_parse says, or an event whose
 * counts add up to more than INT64_MAX, in a file or over the profile),
 * with the message in err; or what a sink returned. */
int ap_read_profile(const struct ap_read_file *files, size_t nfiles,
		    const struct ap_sink *sinks, size_t nsinks, char *err,
		    size_t errlen);

#endif
