#include "pfm.h"

#include <perfmon/pfmlib.h>
#include <string.h>

int ap_pfm_pmus(ap_pfm_fn fn, void *ctx)
{
	/* libpfm4 keeps its tables in library state; initializing twice is
	 * a no-op, so every caller may simply ask. */
	int ret = pfm_initialize();
	if (ret != PFM_SUCCESS)
		return ret;
	pfm_pmu_t p;
	pfm_for_all_pmus(p)
	{
		pfm_pmu_info_t info;
		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		if (pfm_get_pmu_info(p, &info) != PFM_SUCCESS || !info.is_present)
			continue;
		struct ap_pfm_pmu pmu = {
			.name = info.name,
			.desc = info.desc,
			.nevents = info.nevents,
			.generic = info.num_cntrs,
			.fixed = info.num_fixed_cntrs,
		};
		ret = fn(&pmu, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

const char *ap_pfm_strerror(int err)
{
	return pfm_strerror(err);
}
