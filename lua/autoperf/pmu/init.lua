-- pmu: the PMU families and their rules, as data (one module each:
-- intel, amd, hybrid, arm64, kernel). Catalog, planner, simulator and
-- 'autoperf stats' ask here; core/plan.c and core/sim.c get a generic
-- model from it (counters, masks, shared registers by index) and know no
-- vendor.
local M = {}

-- M.intel, M.amd, ...; M.FAMILIES in this order.
M.FAMILIES = {}
for _, name in ipairs({ "intel", "amd", "hybrid", "arm64", "kernel", "uncore" }) do
  M[name] = require("autoperf.pmu." .. name)
  M.FAMILIES[#M.FAMILIES + 1] = M[name]
end

-- Does ev compete for hardware counters? (libpfm4's and the kernel's
-- generic hardware events, perfmon's, anything with counter facts; not
-- software events, tracepoints, other sysfs PMUs.)
function M.is_hardware(ev)
  return (ev.hardware or ev.source == "perfmon" or ev.counters ~= nil) and true or false
end

-- Does ev take a counter pair (an even counter and the odd one beside
-- it, core/plan.h's pair)? Only AMD's rule today (pmu/amd.lua).
function M.is_pair(ev)
  for _, f in ipairs(M.FAMILIES) do
    if f.is_pair and f.is_pair(ev) then return true end
  end
  return false
end

-- The shared-register kinds, written once (by the families that have
-- them), in this order everywhere: {{kind=, regs=}, ...}. The C planner
-- and simulator know them only by index (M.SHARED_INDEX) with their regs.
M.SHARED, M.SHARED_KINDS, M.SHARED_INDEX = {}, {}, {}
for _, f in ipairs(M.FAMILIES) do
  for _, s in ipairs(f.shared) do
    M.SHARED[#M.SHARED + 1] = { kind = s.kind, regs = s.regs }
    M.SHARED_KINDS[#M.SHARED_KINDS + 1] = s.kind
    M.SHARED_INDEX[s.kind] = #M.SHARED
  end
end

-- The registers a PMU offers per kind (M.SHARED's order), with regs[kind]
-- overriding the families' counts: {n1, n2, ...} for core.plan and
-- core.sim_pmu.
function M.shared_regs(regs)
  local out = {}
  for i, s in ipairs(M.SHARED) do out[i] = (regs and regs[s.kind]) or s.regs end
  return out
end

-- Generic counters to assume where no source says how many.
M.GENERIC_GUESS = M.intel.generic_guess

-- The family libpfm4's PMU facts ({name=, desc=, core=...}) belong to, or nil.
function M.of_pfm(pfm_pmu)
  for _, f in ipairs(M.FAMILIES) do
    if f.claims_pfm and f.claims_pfm(pfm_pmu) then return f end
  end
end

-- The shared register a libpfm4 event claims (only core PMUs have them).
function M.pfm_shared(pfm_pmu, ev)
  local f = pfm_pmu.core and M.of_pfm(pfm_pmu)
  return f and f.shared_of_encoding and f.shared_of_encoding(ev) or nil
end

-- The counter facts of a libpfm4 core event (pfm_pmu: core.pfm_pmus'
-- record): the family's own (pmu/amd.lua: per-family counts, family
-- 15h's masks) or libpfm4's counts. forced: the model was chosen (--pmu,
-- LIBPFM_FORCE_PMU), not detected here, so no family reads this CPU.
function M.pfm_counters(pfm_pmu, ev, forced)
  local f = M.of_pfm(pfm_pmu)
  local host = not forced and (os.getenv("LIBPFM_FORCE_PMU") or "") == ""
  local c = f and f.pfm_counters and f.pfm_counters(pfm_pmu, ev, host)
  return c or { generic_count = pfm_pmu.generic, fixed_count = pfm_pmu.fixed }
end

-- The kernel's (and the event files') rules, every family's M.RULES in
-- M.FAMILIES' order: {{id=, cite=, what=, applies=function(ev)}, ...}
-- ('autoperf stats' counts per PMU the events each applies to).
function M.rules()
  local out = {}
  for _, f in ipairs(M.FAMILIES) do
    for _, r in ipairs(f.RULES or {}) do out[#out + 1] = r end
  end
  return out
end

-- The capacity probes for an architecture (core.ARCH).
function M.probes(arch)
  return arch == "aarch64" and M.arm64.probes or M.intel.probes
end

return M
