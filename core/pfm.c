#include "pfm.h"

#include <perfmon/pfmlib_perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The model libpfm4 is initialized for ("" = detected), the result of
 * that initialization, and the user's own LIBPFM_FORCE_PMU, which stands
 * when no model is asked for. */
static char current[64];
static int initialized, init_err;
static char *user_force;
static int user_force_read;

/* libpfm4 never deactivates a PMU once it was forced, not even across
 * pfm_terminate(): remember the models forced in this process so that a
 * later "this machine" view leaves them out, and show a forced model
 * alone (as a fresh process would). */
static char forced[16][64];
static int nforced;

static void remember_forced(const char *model)
{
	for (int i = 0; i < nforced; i++)
		if (!strcmp(forced[i], model))
			return;
	if (nforced < (int)(sizeof(forced) / sizeof(forced[0])))
		snprintf(forced[nforced++], sizeof(forced[0]), "%s", model);
}

/* Is the present PMU name part of the current view? */
static int visible(const char *name)
{
	if (*current)
		return !strcmp(name, current);
	for (int i = 0; i < nforced; i++)
		if (!strcmp(forced[i], name))
			return 0;
	return 1;
}

/* Which PMUs next_pmu yields: with neither, every one libpfm4 knows. */
enum {
	PMU_IN_VIEW = 1,  /* only the present ones of the current view */
	PMU_HARDWARE = 2, /* not the OS's generic ones */
};

/* The next PMU from *p on that libpfm4 describes and that which (PMU_*
 * flags) takes: 1 with info filled in and *p past it, 0 when there is
 * none left. Start with *p = PFM_PMU_NONE. */
static int next_pmu(pfm_pmu_t *p, pfm_pmu_info_t *info, int which)
{
	for (; *p < PFM_PMU_MAX; (*p)++) {
		*info = (pfm_pmu_info_t){.size = sizeof(*info)};
		if (pfm_get_pmu_info(*p, info) != PFM_SUCCESS ||
		    ((which & PMU_IN_VIEW) && (!info->is_present || !visible(info->name))) ||
		    ((which & PMU_HARDWARE) && info->type == PFM_PMU_TYPE_OS_GENERIC))
			continue;
		(*p)++;
		return 1;
	}
	return 0;
}

int ap_pfm_init(const char *force)
{
	if (!user_force_read) {
		const char *u = getenv("LIBPFM_FORCE_PMU");
		user_force = u ? strdup(u) : NULL;
		user_force_read = 1;
	}
	if (!force || !*force)
		force = user_force ? user_force : "";
	if (strlen(force) >= sizeof(current))
		return PFM_ERR_NOTFOUND;
	if (initialized && !strcmp(current, force))
		return init_err;
	if (initialized)
		pfm_terminate();
	initialized = 0;
	if (*force)
		setenv("LIBPFM_FORCE_PMU", force, 1);
	else
		unsetenv("LIBPFM_FORCE_PMU");
	int ret = pfm_initialize();
	/* libpfm4 has read it: the environment the workload inherits is
	 * the user's again. */
	if (user_force)
		setenv("LIBPFM_FORCE_PMU", user_force, 1);
	else
		unsetenv("LIBPFM_FORCE_PMU");
	if (ret != PFM_SUCCESS)
		return ret;
	initialized = 1;
	init_err = 0;
	snprintf(current, sizeof(current), "%s", force);
	if (*force) {
		/* libpfm4 ignores a model it does not know and detects the
		 * machine's instead: refuse that rather than mislead. */
		init_err = PFM_ERR_NOTFOUND;
		pfm_pmu_info_t info;
		for (pfm_pmu_t p = PFM_PMU_NONE; next_pmu(&p, &info, 0);) {
			if (info.is_present && !strcmp(info.name, force)) {
				init_err = 0;
				remember_forced(force);
			}
		}
	}
	return init_err;
}

int ap_pfm_pmus(const char *force, ap_pfm_pmu_fn fn, void *ctx)
{
	int ret = ap_pfm_init(force);
	if (ret)
		return ret;
	pfm_pmu_info_t info;
	for (pfm_pmu_t p = PFM_PMU_NONE; next_pmu(&p, &info, PMU_IN_VIEW);) {
		struct ap_pfm_pmu pmu = {
			.name = info.name,
			.desc = info.desc,
			.nevents = info.nevents,
			.generic = info.num_cntrs,
			.fixed = info.num_fixed_cntrs,
			.core = info.type == PFM_PMU_TYPE_CORE,
		};
		ret = fn(&pmu, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

/* Encodes "pmu::event[:umask]" and hands it to fn; 1 when libpfm4
 * cannot encode it alone, else fn's value. */
static int emit(const char *pmu, int uncore, const pfm_event_info_t *ei, const pfm_event_attr_info_t *ai,
		ap_pfm_event_fn fn, void *ctx)
{
	char name[512];
	int n = ai ? snprintf(name, sizeof(name), "%s::%s:%s", pmu, ei->name, ai->name)
		   : snprintf(name, sizeof(name), "%s::%s", pmu, ei->name);
	if (n < 0 || (size_t)n >= sizeof(name))
		return 1;
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof(attr));
	pfm_perf_encode_arg_t arg;
	memset(&arg, 0, sizeof(arg));
	arg.attr = &attr;
	arg.size = sizeof(arg);
	if (pfm_get_os_event_encoding(name, PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg) !=
	    PFM_SUCCESS) {
		/* libpfm4 encodes an uncore PMU's event for perf only where the
		 * kernel has that PMU (it reads the sysfs type): elsewhere (a
		 * forced model, the simulator) the raw register value stands
		 * in, with no type; lua/autoperf/pmu/uncore.lua keeps the bits
		 * the kernel's format takes. */
		if (!uncore)
			return 1;
		pfm_pmu_encode_arg_t raw;
		memset(&raw, 0, sizeof(raw));
		raw.size = sizeof(raw);
		if (pfm_get_os_event_encoding(name, PFM_PLM0 | PFM_PLM3, PFM_OS_NONE, &raw) !=
		    PFM_SUCCESS)
			return 1;
		int ok = raw.count >= 1;
		if (ok) {
			attr.type = AP_PFM_NO_TYPE;
			attr.config = raw.codes[0];
		}
		free(raw.codes);
		if (!ok)
			return 1;
	}
	struct ap_pfm_event ev = {
		.pmu = pmu,
		.name = name,
		.event = ei->name,
		.umask = ai ? ai->name : NULL,
		.desc = ai && ai->desc && *ai->desc ? ai->desc : ei->desc,
		.type = attr.type,
		.config = attr.config,
		.config1 = attr.config1,
		.config2 = attr.config2,
	};
	return fn(&ev, ctx) ? -1 : 0;
}

int ap_pfm_events(const char *force, ap_pfm_event_fn fn, void *ctx, int *skipped)
{
	*skipped = 0;
	int ret = ap_pfm_init(force);
	if (ret)
		return ret;
	pfm_pmu_info_t pi;
	for (pfm_pmu_t p = PFM_PMU_NONE; next_pmu(&p, &pi, PMU_IN_VIEW | PMU_HARDWARE);) {
		for (int i = pi.first_event; i != -1; i = pfm_get_event_next(i)) {
			pfm_event_info_t ei = {.size = sizeof(ei)};
			if (pfm_get_event_info(i, PFM_OS_PERF_EVENT_EXT, &ei) != PFM_SUCCESS)
				continue;
			int umasks = 0;
			for (int a = 0; a < ei.nattrs; a++) {
				pfm_event_attr_info_t ai = {.size = sizeof(ai)};
				if (pfm_get_event_attr_info(i, a, PFM_OS_PERF_EVENT_EXT, &ai) !=
					PFM_SUCCESS ||
				    ai.type != PFM_ATTR_UMASK)
					continue;
				umasks++;
				int r = emit(pi.name, pi.type == PFM_PMU_TYPE_UNCORE, &ei, &ai, fn, ctx);
				if (r < 0)
					return 1;
				*skipped += r;
			}
			if (!umasks) {
				int r = emit(pi.name, pi.type == PFM_PMU_TYPE_UNCORE, &ei, NULL, fn, ctx);
				if (r < 0)
					return 1;
				*skipped += r;
			}
		}
	}
	return 0;
}

int ap_pfm_models(ap_pfm_name_fn fn, void *ctx)
{
	int ret = ap_pfm_init(NULL);
	if (ret)
		return ret;
	pfm_pmu_info_t info;
	for (pfm_pmu_t p = PFM_PMU_NONE; next_pmu(&p, &info, PMU_HARDWARE);) {
		ret = fn(info.name, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int ap_pfm_model_counters(const char *name, int *generic, int *fixed)
{
	if (!initialized) {
		int ret = ap_pfm_init(NULL);
		if (ret && !initialized)
			return ret;
	}
	pfm_pmu_info_t info;
	for (pfm_pmu_t p = PFM_PMU_NONE; next_pmu(&p, &info, 0);) {
		if (info.type == PFM_PMU_TYPE_CORE && !strcmp(info.name, name)) {
			*generic = info.num_cntrs;
			*fixed = info.num_fixed_cntrs;
			return 0;
		}
	}
	return PFM_ERR_NOTFOUND;
}

const char *ap_pfm_strerror(int err)
{
	return pfm_strerror(err);
}
