/* pfm: what libpfm4 knows about the PMUs of this machine (or of a model
 * it is told to pretend is present), and every event configuration
 * encoded for perf_event_open. */
#ifndef AP_PFM_H
#define AP_PFM_H

#include <stdint.h>

struct ap_pfm_pmu {
	const char *name;
	const char *desc;
	int nevents;
	int generic; /* generic counters */
	int fixed;   /* fixed counters */
	int core;    /* a core PMU (not uncore, not the OS's generic one) */
};

/* One measurable configuration: an event with one of its umasks (or an
 * event that has none), encoded with PFM_OS_PERF_EVENT_EXT. */
struct ap_pfm_event {
	const char *pmu;   /* libpfm4's PMU name, e.g. "skl" */
	const char *name;  /* "pmu::EVENT:UMASK" (libpfm4's own spelling) */
	const char *event; /* "EVENT" */
	const char *umask; /* "UMASK" or NULL */
	const char *desc;  /* the umask's description, else the event's */
	uint32_t type;     /* AP_PFM_NO_TYPE: an uncore PMU this kernel lacks */
	uint64_t config, config1, config2;
};

#define AP_PFM_NO_TYPE 0xffffffffu

/* Initializes libpfm4 for model force ("skl", ...; NULL or "": the
 * machine's own). libpfm4 reads LIBPFM_FORCE_PMU only when it
 * initializes, so a change of model re-initializes it. Returns 0 or a
 * negative libpfm4 error; an unknown model is PFM_ERR_NOTFOUND. */
int ap_pfm_init(const char *force);

/* Calls fn for every present PMU. Returns 0, fn's non-zero value, or a
 * negative libpfm4 error (see ap_pfm_strerror). */
typedef int (*ap_pfm_pmu_fn)(const struct ap_pfm_pmu *pmu, void *ctx);
int ap_pfm_pmus(const char *force, ap_pfm_pmu_fn fn, void *ctx);

/* Calls fn for every configuration of every present hardware PMU (the
 * OS's generic PMUs repeat the kernel's own events and are left out).
 * *skipped counts the configurations libpfm4 cannot encode alone (for
 * instance an umask that needs a second one from another group). */
typedef int (*ap_pfm_event_fn)(const struct ap_pfm_event *ev, void *ctx);
int ap_pfm_events(const char *force, ap_pfm_event_fn fn, void *ctx, int *skipped);

/* Calls fn with the name of every model libpfm4 supports (present or
 * not); for "did you mean" when --pmu names none of them. */
typedef int (*ap_pfm_name_fn)(const char *name, void *ctx);
int ap_pfm_models(ap_pfm_name_fn fn, void *ctx);

/* The counters of libpfm4's core PMU model name, present here or not
 * (libpfm4 describes every model it supports without activating it, so
 * the current model stays): 0, or PFM_ERR_NOTFOUND for no such core
 * model, or another negative libpfm4 error. */
int ap_pfm_model_counters(const char *name, int *generic, int *fixed);

const char *ap_pfm_strerror(int err);

#endif
