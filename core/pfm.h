/* pfm: what libpfm4 knows about the PMUs of this machine. */
#ifndef AP_PFM_H
#define AP_PFM_H

struct ap_pfm_pmu {
	const char *name;
	const char *desc;
	int nevents;
	int generic; /* generic counters */
	int fixed;   /* fixed counters */
};

/* Calls fn for every PMU libpfm4 detects here. Returns 0, fn's non-zero
 * value, or a negative libpfm4 error (see ap_pfm_strerror). */
typedef int (*ap_pfm_fn)(const struct ap_pfm_pmu *pmu, void *ctx);
int ap_pfm_pmus(ap_pfm_fn fn, void *ctx);
const char *ap_pfm_strerror(int err);

#endif
