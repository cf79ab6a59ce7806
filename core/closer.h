/* closer: closes descriptors in a detached process, off our critical path.
 *
 * Closing the last perf event on a tracepoint costs the kernel ~35 ms
 * (serialized), ~80 s for all tracepoints of a machine. A detached
 * process that receives the descriptors (SCM_RIGHTS) pays it instead; our
 * own close is then cheap because the closer still holds a reference. */
#ifndef AP_CLOSER_H
#define AP_CLOSER_H

#include <stddef.h>
#include <sys/types.h>

struct ap_closer {
	int sock; /* -1 when not running */
};

/* Starts the closer. Start it before opening many descriptors: it sheds
 * every descriptor it inherits. Returns 0 or -errno. */
int ap_closer_start(struct ap_closer *c);

/* Closes fds[0..n) through the closer, or directly when it is gone.
 * Returns the number handed over (the rest was closed here). */
size_t ap_closer_give(struct ap_closer *c, const int *fds, size_t n);

/* Lets the closer finish on its own and exit; safe to call twice. */
void ap_closer_stop(struct ap_closer *c);

#endif
