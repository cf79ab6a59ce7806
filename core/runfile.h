/* runfile: the run-file format, written and read here only: a streaming,
 * validating parser of one run file (plain or gzip) and the formatters
 * the runner (lcounters, lsim), synth and tests write it with.
 *
 * A run file:
 *   #autoperf-run <run> <rep>
 *   #event <tag> <unit> <name>            one per event measured
 *   index,time_ns,cpu,tag,value,enabled,running
 *   ... one row per event, cpu and sample (raw cumulative values) ...
 *   #end rows=<n>
 *
 * The parser holds one line in memory and, per (tag, cpu), the last index
 * and value, in dense arrays: memory does not grow with the file.
 */
#ifndef AP_RUNFILE_H
#define AP_RUNFILE_H

#include <stddef.h>
#include <stdint.h>

/* Bounds of what a run file may hold. Tags are the profiler's small event
 * numbers and cpus run from -1 (any cpu, per-task profiles) up; larger ones
 * are "number out of range" (the per-(tag, cpu) state is indexed by them). */
#define AP_RUN_TAG_MAX 1048575
#define AP_RUN_CPU_MAX 65534

/* One row, fields as in the file. value, enabled and running are the
 * counter's raw cumulative values; all fit in an int64_t (larger ones are
 * refused, as Lua integers could not hold them). */
struct ap_run_row {
	int64_t index, time_ns;
	int cpu; /* -1 .. AP_RUN_CPU_MAX */
	int tag; /* 0 .. AP_RUN_TAG_MAX, declared by an #event line */
	uint64_t value, enabled, running;
	/* value minus the pair's previous value (value for its first row):
	 * the count of the interval */
	uint64_t delta;
	/* the (tag, cpu) pair's number: 0, 1, ... in order of first row (an
	 * index for a visitor's per-pair state; pairs <= rows) */
	size_t pair;
};

/* The last sample of one (tag, cpu) pair, at the end of the file. */
struct ap_run_last {
	int tag, cpu;
	uint64_t value, enabled, running;
};

/* Called in file order. A callback returning nonzero stops the parse
 * (ap_run_parse returns AP_RUN_ABORTED; keep your own reason in ctx).
 * unit and name point into the line buffer: copy them to keep them. Each
 * tag and each name is declared once. on_end gets, once the whole file is
 * read and valid, the last sample of every pair (by pair number). Any
 * callback may be NULL. */
struct ap_run_visitor {
	int (*on_event)(void *ctx, int tag, const char *unit, const char *name);
	int (*on_row)(void *ctx, const struct ap_run_row *row);
	int (*on_end)(void *ctx, const struct ap_run_last *last, size_t npairs);
	void *ctx;
};

enum {
	AP_RUN_OK = 0,
	AP_RUN_FORMAT = 1,  /* err holds "path:line: what is wrong" */
	AP_RUN_ABORTED = 2, /* a callback returned nonzero */
};

/* Parses path (plain or gzip) calling v for each declaration and row.
 * Returns AP_RUN_OK (the file's row count in *nrows, which may be NULL),
 * -errno when path cannot be opened or memory runs out, AP_RUN_FORMAT
 * (also for a cut or corrupt gzip stream) or AP_RUN_ABORTED.
 *
 * path is opened as a file of autoperf's own (AP_READ_OWN): a symbolic
 * link or anything but a regular file is refused.
 *
 * A file is refused, naming its line, when it has: a tag declared twice
 * ("event tag <t> declared twice") or a name under two tags of one unit
 * ("event '<name>' declared twice for <unit>"; the boxes of an uncore
 * unit, each its own unit, count the same event); a '#' line other than
 * the first that is no #event, #end rows=<n> or #autoperf-run line
 * ("unknown header line"); a row that is not 7 comma-separated decimal
 * integers, only cpu signed ("expected 7 integer fields, got: <line>");
 * a number beyond int64 or the bounds above ("number out of range: ...");
 * a row whose tag no #event declared before it ("row for undeclared event
 * tag <t>"); per (tag, cpu), an index not above the previous one or a
 * value below it ("samples out of order or counter went backwards"); a
 * sample index beyond the number of rows its tag had before ("sample
 * index <i> jumps past ..."), which bounds a reader's memory by the file's
 * size; an
 * end marker whose count is not the number of rows ("end marker says <n>
 * rows, file has <m>"); any line after it ("data after the end marker");
 * no end marker ("file ends here without its end marker (cut short)").
 * These are exactly store.read_run's checks (the Lua parser it replaces).
 * Lines equal to the column header are skipped wherever they are. */
int ap_run_parse(const char *path, const struct ap_run_visitor *v,
		 long *nrows, char *err, size_t errlen);

/* Writing. The column header line (without its newline). */
#define AP_RUN_COLUMNS "index,time_ns,cpu,tag,value,enabled,running"
/* Room enough for any line the formatters below make, but an #event
 * line (whose name is as long as it is). */
#define AP_RUN_LINE_MAX 160

/* Each formats one line (with its newline) into buf of len bytes and
 * returns its length, or 0 when it does not fit. The #event line's unit
 * is one word and its name has no newline (the parser reads it so). */
size_t ap_run_format_start(char *buf, size_t len, int run, int rep);
size_t ap_run_format_event(char *buf, size_t len, int tag, const char *unit,
			   const char *name);
size_t ap_run_format_columns(char *buf, size_t len);
/* A row: index,time_ns,cpu,tag,value,enabled,running (delta and pair
 * are not written); buf holds AP_RUN_LINE_MAX bytes. */
size_t ap_run_format_row(char *buf, const struct ap_run_row *row);
size_t ap_run_format_end(char *buf, size_t len, long rows);

#endif
