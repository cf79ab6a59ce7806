/* capacity: how many counters the kernel's PMU gives one group, found by
 * asking the kernel (arm64's armv8_pmuv3 does not say so in sysfs). */
#ifndef AP_CAPACITY_H
#define AP_CAPACITY_H

#include <linux/perf_event.h>

/* The architecture this binary runs on: which events probe which counters
 * differs (capacity.lua). */
#if defined(__aarch64__)
#define AP_ARCH "aarch64"
#elif defined(__x86_64__)
#define AP_ARCH "x86_64"
#else
#define AP_ARCH "other"
#endif

/* The most copies of *attr the kernel opens as one group on this task
 * (1..max): the size at which the next member is refused (EINVAL or
 * ENOSPC: the group no longer fits the PMU). Returns that count, or
 * -errno when the event does not open even alone (no hardware PMU:
 * ENOENT, EOPNOTSUPP, ...) or a member fails for another reason. */
int ap_capacity(const struct perf_event_attr *attr, int max);

#endif
