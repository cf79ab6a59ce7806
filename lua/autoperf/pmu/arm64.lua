-- arm64 PMUv3 (armv8_pmuv3_*, armv8_cortex_*): one dedicated cycle
-- counter and N generic counters (the implementation says how many; the
-- kernel's sysfs does not, so capacity.lua asks the kernel). No shared
-- registers, no events that must be alone. The events: those the kernel
-- lists in sysfs (armv8_pmuv3_*/events), named by the kernel's
-- pmu-events JSON (catalog/kernel_json.lua).
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

-- PMUv3 event numbers (drivers/perf/arm_pmuv3.c, include/linux/perf/
-- arm_pmuv3.h: ARMV8_PMUV3_PERFCTR_*).
M.CPU_CYCLES = 0x11
M.INST_RETIRED = 0x08

-- The PMUv3 event number of one of the armv8 PMU's catalog records
-- (catalog/kernel_json.lua marks them with armv8_pmu), else nil: the
-- rules below are this PMU's, never another family's.
local function raw_event(ev)
  if not ev.armv8_pmu or ev.type ~= 4 or not ev.config then return nil end
  return math.tointeger(ev.config) & 0xffff -- the "event" format: config:0-15
end

local function is_cycles(ev)
  return raw_event(ev) == M.CPU_CYCLES
end

-- config1's bits (ATTR_CFG_FLD_long_*, _threshold_* in arm_pmuv3.c).
local function long(ev) return (math.tointeger(ev.config1 or 0) or 0) & 1 == 1 end
local function threshold(ev) return ((math.tointeger(ev.config1 or 0) or 0) >> 5) & 0xfff ~= 0 end

-- The kernel's placement rules for 'autoperf stats', each with the
-- kernel function it comes from and which events it applies to.
M.RULES = {
  { id = "arm64.cycle", cite = "drivers/perf/arm_pmuv3.c: armv8pmu_get_event_idx()",
    what = "CPU_CYCLES (0x11) goes to the dedicated cycle counter first, so a run holds one beside the generic counters",
    applies = function(ev) return is_cycles(ev) and not threshold(ev) end },
  { id = "arm64.instr", cite = "drivers/perf/arm_pmuv3.c: armv8pmu_get_event_idx()",
    what = "INST_RETIRED (0x08) may take the instruction counter where the PMU has one (FEAT_PMUv3_ICNTR; not for user-space reads)",
    applies = function(ev) return raw_event(ev) == M.INST_RETIRED and not threshold(ev) end },
  { id = "arm64.chain", cite = "drivers/perf/arm_pmuv3.c: armv8pmu_get_chain_idx(), armv8pmu_event_is_chained()",
    what = "a 64-bit event (config1 bit 0, long) takes an odd/even pair of counters unless the PMU has 64-bit counters (PMUv3p5)",
    applies = function(ev) return raw_event(ev) ~= nil and long(ev) and not is_cycles(ev) end },
  { id = "arm64.visible", cite = "drivers/perf/arm_pmuv3.c: armv8pmu_event_attr_is_visible()",
    what = "sysfs lists only the common events the PMCEID registers say are implemented; the catalog offers those",
    applies = function(ev) return ev.armv8_pmu ~= nil and ev.sysfs_pmu ~= nil end },
}

return M
