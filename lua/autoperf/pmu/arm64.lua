-- arm64 PMUv3 (armv8_pmuv3_*, armv8_cortex_*): one dedicated cycle
-- counter and N generic counters (the implementation says how many; the
-- kernel's sysfs does not, so capacity.lua asks the kernel). No shared
-- registers, no events that must be alone.
local M = {}

M.name = "arm64"

-- How the kernel names it: armv8_pmuv3_0, armv8_cortex_a57, ...
M.kernel_names = { "^armv8_" }

M.shared = {}

-- ARMv8's architectural minimum of generic counters (also Intel's).
M.generic_guess = 4

-- Capacity probes: INST_RETIRED (0x08) counts on generic counters only;
-- only CPU_CYCLES (0x11, which PERF_COUNT_HW_CPU_CYCLES maps to) may use
-- the cycle counter, fixed counter 0 here.
M.probes = {
  generic = { type = 4, config = 0x08, name = "INST_RETIRED (r08)" },
  cycles = { type = 0, config = 0, name = "cpu-cycles" },
  fixed_events = {
    { type = 0, config = 0, fixed = 0 },
    { type = 4, config = 0x11, fixed = 0 },
  },
}

return M
