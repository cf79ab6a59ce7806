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

-- Topdown on Ice Lake and later (the kernel's perf-metrics support,
-- PERF_CAPABILITIES.PERF_METRICS): TOPDOWN.SLOTS counts on fixed counter
-- 3 (FIXED_EVENT_CONSTRAINT(0x0400, 3)), and the PERF_METRICS MSR holds
-- each level-1 (and from Golden Cove on, level-2) category as an 8-bit
-- fraction of the slots, which the kernel offers as "metric events":
-- pseudo-encodings event 0x00, umask 0x80 + n (arch/x86/include/asm/
-- perf_event.h: INTEL_TD_METRIC_RETIRING ... INTEL_TD_METRIC_MEM_BOUND),
-- each on a pseudo fixed counter INTEL_PMC_IDX_METRIC_BASE + n
-- (METRIC_EVENT_CONSTRAINT(INTEL_TD_METRIC_*, n): fixed index 16 + n),
-- none on a general counter. Perfmon's event files do not list them;
-- its metric files name them PERF_METRICS.*, perf and sysfs topdown-*
-- (EVENT_ATTR_STR(topdown-retiring, ...) in arch/x86/events/intel/core.c).
-- share: the fraction of slots the simulator gives each, in the MSR's
-- 1/0xff units (icl_get_metrics_event_value(): slots * byte / 0xff); the
-- level-1 bytes sum to 0xff, a level-2 byte is part of its parent's.
M.TOPDOWN_SLOTS = { name = "TOPDOWN.SLOTS", perf = "slots", config = 0x0400 } -- INTEL_TD_SLOTS
M.METRIC_BASE = 16 -- INTEL_PMC_IDX_METRIC_BASE - INTEL_PMC_IDX_FIXED
M.TOPDOWN_METRICS = {
  { name = "PERF_METRICS.RETIRING", perf = "topdown-retiring", level = 1, share = 77 },
  { name = "PERF_METRICS.BAD_SPECULATION", perf = "topdown-bad-spec", level = 1, share = 25 },
  { name = "PERF_METRICS.FRONTEND_BOUND", perf = "topdown-fe-bound", level = 1, share = 64 },
  { name = "PERF_METRICS.BACKEND_BOUND", perf = "topdown-be-bound", level = 1, share = 89 },
  { name = "PERF_METRICS.HEAVY_OPERATIONS", perf = "topdown-heavy-ops", level = 2, share = 31 },
  { name = "PERF_METRICS.BRANCH_MISPREDICTS", perf = "topdown-br-mispredict", level = 2, share = 20 },
  { name = "PERF_METRICS.FETCH_LATENCY", perf = "topdown-fetch-lat", level = 2, share = 38 },
  { name = "PERF_METRICS.MEMORY_BOUND", perf = "topdown-mem-bound", level = 2, share = 53 },
}
M.METRIC_SHARE_DEN = 0xff
-- The simulator's rate of slots (events per 1000 ns; core/sim.c gives
-- other events 1..2000 from their encoding): above every other event's,
-- as on hardware, where slots are the issue width x cycles, so that a TMA
-- formula's corrections by other events (INT_MISC.UOP_DROPPING / slots,
-- 5 x INT_MISC.CLEARS_COUNT / slots) stay below the metric events' shares
-- and its nodes land in 0-100 %, not below 0 or at 0/0.
M.SIM_SLOTS_RATE = 2000 * 64

-- How many metric events each part's kernel offers (x86_pmu.
-- num_topdown_events), by perfmon file (the stem before _core.json):
-- intel_pmu_init()'s Ice Lake, Tiger Lake, Rocket Lake case sets 4;
-- intel_pmu_init_glc() (Sapphire Rapids, Emerald Rapids, Granite Rapids,
-- Alder Lake's and Raptor Lake's P-cores, Meteor Lake's) sets 8.
M.PERF_METRICS = {
  icelake = 4, icelakex = 4, tigerlake = 4, rocketlake = 4,
  sapphirerapids = 8, emeraldrapids = 8, graniterapids = 8,
  alderlake_goldencove = 8, meteorlake_redwoodcove = 8,
}

-- The metric events a perfmon file's part offers (nil: none), as perfmon
-- records beside the file's own: {name=, config=, metric=n (0-based),
-- aliases=, share=, desc=} for the core PMU pmu.
function M.metric_events(file, pmu)
  local stem = (file or ""):match("([^/]+)$") or ""
  stem = stem:lower():gsub("_core%.json$", ""):gsub("%.json$", "")
  local n = M.PERF_METRICS[stem]
  if not n then return nil end
  local out = {}
  for i = 1, n do
    local m = M.TOPDOWN_METRICS[i]
    out[i] = {
      name = m.name, metric = i - 1, config = 0x8000 + ((i - 1) << 8), share = m.share,
      aliases = { m.perf, pmu .. "/" .. m.perf .. "/" },
      desc = string.format("TMA level %d %s: its share of TOPDOWN.SLOTS from the PERF_METRICS MSR "
        .. "(the kernel's metric event %s; counted only in a group led by TOPDOWN.SLOTS)", m.level,
        m.perf:gsub("^topdown%-", ""), m.perf),
    }
  end
  return out
end

-- The topdown facts of a core PMU's sysfs event (the kernel publishes
-- cpu/events/slots and topdown-* only with perf metrics: intel_pmu_init()'s
-- td_attr), {topdown=, counters=} for the record, or nil: slots on fixed
-- counter 3, a metric event on its pseudo counter.
function M.sysfs_topdown(pmu, name, config)
  if pmu ~= M.core_pmu and pmu ~= "cpu_core" then return nil end
  if name == M.TOPDOWN_SLOTS.perf and config & 0xffff == M.TOPDOWN_SLOTS.config then
    return { topdown = { lead = "topdown" }, counters = { generic = {}, fixed = { 3 } } }
  end
  for i, m in ipairs(M.TOPDOWN_METRICS) do
    if name == m.perf and config == 0x8000 + ((i - 1) << 8) then
      local pseudo = { M.METRIC_BASE + i - 1 }
      return { topdown = { needs = "topdown", pseudo = pseudo, share = m.share },
               counters = { generic = {}, fixed = {}, pseudo = pseudo } }
    end
  end
  return nil
end

-- The topdown facts of a core event (nil: none): {lead="topdown"} for
-- the slots event, {needs="topdown" (which also means: never sampling,
-- nor its leader), pseudo={16 + n},
-- share_num=, share_den=} for a metric event (leader: the name of the
-- event that leads, for messages); refuse=why where the kernel refuses it
-- whatever its group. From intel_pmu_hw_config() (arch/x86/events/intel/
-- core.c), on a PMU with perf metrics: a topdown event (is_topdown_event:
-- is_metric_event() or is_slots_event()) with config1 or config2, or with
-- a filter (X86_ALL_EVENT_FLAGS: edge, inv, cmask, any), is -EINVAL; an
-- available metric event (is_available_metric_event(): up to
-- num_topdown_events) that samples, or whose group leader is not the
-- slots event or samples, is -EINVAL.
local ALL_EVENT_FLAGS = (1 << 18) | (1 << 21) | (1 << 23) | (0xff << 24) -- edge, any, inv, cmask
function M.topdown(ev)
  if not ev.topdown then return nil end
  local t = { lead = ev.topdown.lead, needs = ev.topdown.needs,
              sim_rate = ev.topdown.lead and M.SIM_SLOTS_RATE or nil,
              leader = M.TOPDOWN_SLOTS.name, rule = "arch/x86/events/intel/core.c: intel_pmu_hw_config()",
              pseudo = ev.topdown.pseudo,
              share_num = ev.topdown.share, share_den = ev.topdown.share and M.METRIC_SHARE_DEN or nil }
  if t.needs then
    -- the leader where a plan has none: this PMU's slots event, as perf
    -- and toplev add it to a group of metric events
    t.make_leader = function()
      local r = {}
      for k, v in pairs(ev) do r[k] = v end
      r.name, r.plain, r.base, r.aliases, r.group, r.tag = M.TOPDOWN_SLOTS.name, nil, nil, nil, nil, nil
      r.config = M.TOPDOWN_SLOTS.config
      r.event_code, r.umask = 0, M.TOPDOWN_SLOTS.config >> 8
      r.desc = "TOPDOWN.SLOTS, added as the leader its metric events need"
      r.counters = { generic = {}, fixed = { 3 }, generic_count = ev.counters and ev.counters.generic_count,
                     fixed_count = ev.counters and ev.counters.fixed_count }
      r.topdown = { lead = "topdown" }
      -- the metric event's encoding text with the slots config
      r.encoding = ev.encoding and (ev.encoding:gsub("config=0x%x+", string.format("config=0x%x", r.config)))
      return r
    end
  end
  if (ev.config1 or 0) ~= 0 or (ev.config2 or 0) ~= 0 then
    t.refuse = "a topdown event takes no config1/config2 (intel_pmu_hw_config())"
  elseif (ev.config or 0) & ALL_EVENT_FLAGS ~= 0 then
    t.refuse = "a topdown event takes no filter: edge, inv, cmask, any (intel_pmu_hw_config())"
  end
  return t
end

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
  { id = "intel.topdown-slots",
    cite = "arch/x86/events/intel/core.c: intel_pmu_hw_config() (is_slots_event()), FIXED_EVENT_CONSTRAINT(0x0400, 3)",
    what = "TOPDOWN.SLOTS (cpu/slots/): fixed counter 3 only; leads the group of any metric event",
    applies = function(ev) return ev.topdown ~= nil and ev.topdown.lead ~= nil end },
  { id = "intel.topdown-metric",
    cite = "arch/x86/events/intel/core.c: intel_pmu_hw_config() (is_available_metric_event()), METRIC_EVENT_CONSTRAINT()",
    what = "a PERF_METRICS metric event (cpu/topdown-*/): no general counter (a pseudo counter of the PERF_METRICS MSR), "
      .. "only in a group led by TOPDOWN.SLOTS, never sampling (4 on Ice Lake, 8 from Golden Cove on: num_topdown_events)",
    applies = function(ev) return ev.topdown ~= nil and ev.topdown.needs ~= nil end },
}

-- Capacity probes (capacity.lua): branch instructions count on
-- programmable counters only; cycles may also take a fixed counter.
M.probes = {
  generic = { type = 0, config = 4, name = "branch-instructions" },
  cycles = { type = 0, config = 0, name = "cpu-cycles" },
  fixed_events = { { type = 0, config = 0, fixed = 0 } },
}

return M
