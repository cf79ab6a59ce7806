/* catalog: the kernel's own event sources (tracefs, sysfs). */
#ifndef AP_CATALOG_H
#define AP_CATALOG_H

#include <stddef.h>
#include <stdint.h>

/* The tracefs mount holding events/, or NULL when none is mounted. */
const char *ap_tracefs_root(void);

/* Calls fn for every tracepoint under root/events with its perf config
 * (the id file). Stops early when fn returns non-zero and returns that;
 * returns 0 when done, or -errno when events/ cannot be read. */
typedef int (*ap_tracepoint_fn)(const char *sys, const char *name,
				uint64_t id, void *ctx);
int ap_tracepoints(const char *root, ap_tracepoint_fn fn, void *ctx);

/* Calls fn for each entry of dir (no "." or ".."), sorted by name.
 * Returns 0, the non-zero value of fn, or -errno. */
typedef int (*ap_entry_fn)(const char *name, int is_dir, void *ctx);
int ap_listdir(const char *dir, ap_entry_fn fn, void *ctx);

#endif
