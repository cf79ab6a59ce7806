-- Intel core and uncore PMUs: the facts Intel's perfmon files and
-- libpfm4's Intel tables rest on, as data.
local M = {}

M.name = "intel"

-- How the kernel names them: the core PMU "cpu" (hybrid parts: see
-- hybrid.lua), uncore boxes uncore_<unit>_<box>.
M.core_pmu = "cpu"

-- The libpfm4 model each perfmon file describes (by Intel's file names).
M.PERFMON_MODELS = {
  skylake = "skl", skylakex = "skx", cascadelakex = "clx", icelake = "icl", icelakex = "icx",
  sapphirerapids = "spr", ivybridge = "ivb", ivytown = "ivb_ep", haswell = "hsw",
  haswellx = "hsw_ep", broadwell = "bdw", broadwellx = "bdw_ep", sandybridge = "snb",
  jaketown = "snb_ep", goldmont = "glm", silvermont = "slm", tremontx = "tmt",
  knightslanding = "knl", westmereep_sp = "wsm", nehalemep = "nhm",
}

-- Linux names uncore PMUs uncore_<unit>_<box>: "iMC" -> "imc", "UPI LL" -> "upi".
function M.unit_pmu(unit)
  local u = unit:lower():gsub("%s+ll$", ""):gsub("[^%w]+", "_")
  return "uncore_" .. u
end

-- Shared registers: one per core holds an extra value that some events
-- carry in config1, so at most `regs` distinct values of a kind count at
-- the same time. Events claim one by the MSR their perfmon entry names
-- (MSRIndex) or, in libpfm4's tables (which have no MSRIndex), by their
-- event code when they carry a config1 value.
M.shared = {
  { kind = "offcore", regs = 2, msrs = { 0x1a6, 0x1a7 }, codes = { 0xb7, 0xbb } }, -- OFFCORE_RSP_0/1
  { kind = "ldlat", regs = 1, msrs = { 0x3f6 }, codes = { 0xcd } },                -- PEBS_LD_LAT_THRESHOLD
  { kind = "frontend", regs = 1, msrs = { 0x3f7 }, codes = { 0xc6 } },             -- PEBS_FRONTEND
}

local by_msr, by_code = {}, {}
for _, s in ipairs(M.shared) do
  for _, m in ipairs(s.msrs) do by_msr[m] = s.kind end
  for _, c in ipairs(s.codes) do by_code[c] = s.kind end
end

-- The shared register an MSRIndex names, or nil.
function M.shared_of_msr(msr)
  return by_msr[msr]
end

-- The shared register a libpfm4 core event of an Intel PMU claims, or nil.
function M.shared_of_encoding(ev)
  if (ev.config1 or 0) == 0 then return nil end
  return by_code[ev.config & 0xff]
end

-- libpfm4 describes its Intel PMUs as "Intel ...".
function M.claims_pfm(pfm_pmu)
  return (pfm_pmu.desc or ""):match("^Intel") ~= nil
end

-- The core PMU's config layout, as Linux publishes it in
-- /sys/bus/event_source/devices/cpu/format on Intel machines (used when a
-- forced model describes a PMU this machine lacks).
M.CORE_FORMAT = {
  event = "config:0-7", umask = "config:8-15", edge = "config:18", pc = "config:19",
  any = "config:21", inv = "config:23", cmask = "config:24-31",
  offcore_rsp = "config1:0-63", ldlat = "config1:0-15", frontend = "config1:0-23",
}

-- The core PMU's config from perfmon fields (CORE_FORMAT's bits).
function M.core_config(e)
  return (e.code & 0xff) | ((e.umask & 0xff) << 8) | ((e.edge and 1 or 0) << 18)
    | ((e.any and 1 or 0) << 21) | ((e.inv and 1 or 0) << 23) | ((e.cmask & 0xff) << 24)
end

-- Uncore boxes: code, umask, umask_ext above bit 32 (as Linux's uncore
-- formats place it), edge, inv, threshold.
function M.uncore_config(e)
  return (e.code & 0xff) | ((e.umask & 0xff) << 8) | ((e.edge and 1 or 0) << 18)
    | ((e.inv and 1 or 0) << 23) | ((e.cmask & 0xff) << 24) | ((e.umask_ext or 0) << 32)
end

-- Generic counters when no source gives a count: the architectural
-- minimum (also ARM's, see arm64.lua).
M.generic_guess = 4

-- Events that must be measured alone: perfmon's TakenAlone (and, by the
-- default isolation policy in plan.lua, events with Errata).

-- The rules 'autoperf stats' reports (pmu.rules()), for Intel core events
-- (uncore boxes, ev.unit, are not these rules'): shared registers by
-- kind, perfmon's isolation flags, fixed counters and counter masks.
local function core_event(ev)
  return ev.unit == nil
end

local function shared_rule(kind, what)
  return {
    id = "intel." .. kind, what = what,
    cite = "arch/x86/events/core.c: x86_pmu_extra_regs(); arch/x86/events/intel/core.c: intel_shared_regs_constraints()",
    applies = function(ev) return ev.shared == kind end,
  }
end

local function counters_of(ev)
  return core_event(ev) and ev.source == "perfmon" and ev.counters or nil
end

M.RULES = {
  shared_rule("offcore", "offcore response: one of 2 OFFCORE_RSP registers per core holds its config1 value"),
  shared_rule("ldlat", "load latency: the one PEBS_LD_LAT_THRESHOLD register holds its threshold"),
  shared_rule("frontend", "frontend: the one PEBS_FRONTEND register holds its config1 value"),
  { id = "intel.taken-alone", cite = "Intel perfmon event files: TakenAlone (not enforced by the kernel)",
    what = "perfmon says to measure it alone (isolated by the default --isolate)",
    applies = function(ev) return ev.taken_alone == true end },
  { id = "intel.errata", cite = "Intel perfmon event files: Errata (lua/autoperf/plan.lua's isolation policy)",
    what = "an erratum names it: isolated by the default --isolate",
    applies = function(ev) return ev.errata ~= nil end },
  { id = "intel.fixed", cite = "arch/x86/events/intel/core.c: x86_get_event_constraints() (the model's FIXED_EVENT_CONSTRAINTs)",
    what = "may take a fixed counter (perfmon's Counter names one)",
    applies = function(ev)
      local c = counters_of(ev)
      return c ~= nil and c.fixed ~= nil and #c.fixed > 0
    end },
  { id = "intel.mask", cite = "arch/x86/events/intel/core.c: __intel_get_event_constraints() (the model's INTEL_EVENT_CONSTRAINTs)",
    what = "limited to some generic counters (perfmon's Counter: fewer than 4, or not 0..n-1)",
    -- A list 0..n-1 of 4 or more is the PMU's width as the file gives it
    -- (4, or 8 with SMT off), not a constraint of the event's own; every
    -- Intel core PMU has at least 4 (M.generic_guess).
    applies = function(ev)
      local c = counters_of(ev)
      if not c or not c.generic or #c.generic == 0 then return false end
      if #c.generic < M.generic_guess then return true end
      local seen = {}
      for _, g in ipairs(c.generic) do seen[g] = true end
      for i = 0, #c.generic - 1 do
        if not seen[i] then return true end
      end
      return false
    end },
}

-- Capacity probes (capacity.lua): branch instructions count on
-- programmable counters only; cycles may also take a fixed counter.
M.probes = {
  generic = { type = 0, config = 4, name = "branch-instructions" },
  cycles = { type = 0, config = 0, name = "cpu-cycles" },
  fixed_events = { { type = 0, config = 0, fixed = 0 } },
}

return M
