-- Uncore PMUs: the counters outside the cores (Intel's CHA, iMC, UPI ...
-- boxes; AMD's L3 per CCX and Data Fabric / NorthBridge per socket), as
-- data.
--
-- Every box is its own PMU. Linux registers one PMU per box index of an
-- Intel unit (uncore_cha_0 .. uncore_cha_N, each with its own sysfs
-- `type`, `cpumask` and counters; the cpumask names one CPU per socket,
-- and an event opened on that CPU counts that socket's box); AMD's amd_l3
-- and amd_df (amd_nb before family 17h) are one PMU each whose cpumask
-- names one CPU per CCX (L3) or per socket (DF). An event of a unit is
-- opened on every box, system-wide (pid -1) on each CPU of the box's
-- cpumask, never per task; counts stay per box (results.csv's UNIT is
-- the box's PMU) and are never summed. All boxes of a unit have the same
-- counters and count the same events, so the planner plans the unit once
-- (core/plan.c, one PMU among the others: runs = max over PMUs).
local machine = require "autoperf.machine"
local util = require "autoperf.util"

local M = {}

M.name = "uncore"

-- No shared registers (pmu/init.lua collects them from every family).
M.shared = {}

local SYSFS = "/sys/bus/event_source/devices"

-- The kernel's counter counts of AMD's uncore PMUs
-- (arch/x86/events/amd/uncore.c).
M.NUM_COUNTERS_NB = 4 -- NUM_COUNTERS_NB: amd_nb, and amd_df before PerfMonV2
M.NUM_COUNTERS_L3 = 6 -- NUM_COUNTERS_L3: amd_l3, family 17h and later
M.NUM_COUNTERS_L2 = 4 -- NUM_COUNTERS_L2: amd_l2, before family 17h

-- The kernel's sysfs `format` of AMD's uncore PMUs
-- (arch/x86/events/amd/uncore.c, DEFINE_UNCORE_FORMAT_ATTR and the
-- amd_*_format_attr lists amd_uncore_l3_ctx_init() and
-- amd_uncore_df_ctx_init() complete per family).
M.FORMAT = {
  amd_nb = { event = "config:0-7,32-35", umask = "config:8-15" },           -- event12
  amd_df = { event = "config:0-7,32-35,59-60", umask = "config:8-15" },     -- event14 (F17h+)
  amd_df_v2 = { event = "config:0-7,32-37", umask = "config:8-15,24-27" },  -- PerfMonV2: event14v2, umask12
  amd_l3_f17h = { event = "config:0-7", umask = "config:8-15", slicemask = "config:48-51",
                  threadmask = "config:56-63" },                             -- threadmask8
  amd_l3_f19h = { event = "config:0-7", umask = "config:8-15", coreid = "config:42-44",
                  enallslices = "config:46", enallcores = "config:47", sliceid = "config:48-50",
                  threadmask = "config:56-57" },                             -- threadmask2
}

-- The L3 thread and slice mask bits (arch/x86/include/asm/perf_event.h).
M.L3_SLICE_MASK = 0xf << 48        -- AMD64_L3_SLICE_MASK (F17h)
M.L3_THREAD_MASK = 0xff << 56      -- AMD64_L3_THREAD_MASK (F17h)
M.L3_F19H_THREAD_MASK = 0x3 << 56  -- AMD64_L3_F19H_THREAD_MASK
M.L3_EN_ALL_SLICES = 1 << 46       -- AMD64_L3_EN_ALL_SLICES
M.L3_EN_ALL_CORES = 1 << 47        -- AMD64_L3_EN_ALL_CORES

-- The bits of config set by the format's fields ("config:0-7,32-35").
function M.format_mask(fmt)
  local mask = 0
  for _, spec in pairs(fmt) do
    local ranges = spec:match("^config:(.*)$")
    for part in (ranges or ""):gmatch("[^,]+") do
      local a, b = part:match("^(%d+)%-(%d+)$")
      a = tonumber(a or part)
      b = tonumber(b or part)
      for bit = a, b do mask = mask | (1 << bit) end
    end
  end
  return mask
end

-- What amd_uncore_l3_event_init() (arch/x86/events/amd/uncore.c) adds to
-- an L3 event's config: on family 17h-18h the slice and thread masks,
-- all ones where the event leaves them 0; on 19h and later, where the
-- event names no thread, every thread of every core and slice
-- (AMD64_L3_F19H_THREAD_MASK | EN_ALL_SLICES | EN_ALL_CORES).
function M.l3_config(config, family)
  if family < 0x17 then return config end
  if family <= 0x18 then
    local slice = config & M.L3_SLICE_MASK
    local thread = config & M.L3_THREAD_MASK
    return (config & ~(M.L3_SLICE_MASK | M.L3_THREAD_MASK))
      | (slice ~= 0 and slice or M.L3_SLICE_MASK) | (thread ~= 0 and thread or M.L3_THREAD_MASK)
  end
  if config & M.L3_F19H_THREAD_MASK == 0 then
    return config | M.L3_F19H_THREAD_MASK | M.L3_EN_ALL_SLICES | M.L3_EN_ALL_CORES
  end
  return config
end

-- Data Fabric counters: 4 (NUM_COUNTERS_NB), or with PerfMonV2 (CPUID
-- 0x80000022 EAX bit 0) EBX[15:10], num_df_pmc, as
-- amd_uncore_df_ctx_scan() reads it. cpuid: core.cpuid (only when this
-- host is the CPU being modelled); nil, msg when it cannot say.
function M.df_counters(cpuid)
  local eax, ebx = cpuid(0x80000022, 0)
  if not eax then return M.NUM_COUNTERS_NB, ebx end
  if eax & 1 == 0 then return M.NUM_COUNTERS_NB end
  return (ebx >> 10) & 0x3f
end

-- Unified Memory Controller counters per UMC (Zen 4 and later, PerfMonV2
-- only): amd_uncore_umc_ctx_scan() reads CPUID 0x80000022 EBX[21:16]
-- (num_umc_pmc) for all active UMCs (ECX, a mask) and
-- amd_uncore_umc_ctx_init() shares them out equally. Without the host's
-- CPUID: 4 (an assumption, said as such), nil, msg otherwise unknown.
M.UMC_GUESS = 4
function M.umc_counters(cpuid)
  local eax, ebx, ecx = cpuid(0x80000022, 0)
  if not eax or eax & 1 == 0 then return M.UMC_GUESS, "assumed: no PerfMonV2 CPUID leaf here" end
  local active = 0
  for b = 0, 31 do active = active + ((ecx >> b) & 1) end
  if active == 0 then return M.UMC_GUESS, "assumed: CPUID names no active UMC" end
  return ((ebx >> 16) & 0x3f) // active
end

-- The counters of an AMD uncore PMU (amd_l3, amd_df, amd_umc) as the
-- kernel gives them, and where the number came from; host_cpuid: the
-- CPUID reader when this host is the modelled CPU, else nil (a chosen
-- model: the kernel's constants, or the UMC assumption).
function M.amd_counters(pmu, host_cpuid)
  if pmu == "amd_l3" then return M.NUM_COUNTERS_L3, "NUM_COUNTERS_L3 (amd_uncore_l3_ctx_scan)" end
  if pmu == "amd_df" or pmu == "amd_nb" then
    if host_cpuid then return M.df_counters(host_cpuid), "CPUID 0x80000022 (amd_uncore_df_ctx_scan)" end
    return M.NUM_COUNTERS_NB, "NUM_COUNTERS_NB (amd_uncore_df_ctx_scan without PerfMonV2)"
  end
  if pmu == "amd_umc" then
    if host_cpuid then
      local n, why = M.umc_counters(host_cpuid)
      return n, why or "CPUID 0x80000022 EBX[21:16] / active UMCs (amd_uncore_umc_ctx_scan)"
    end
    return M.UMC_GUESS, "assumed 4 per UMC (the kernel reads CPUID 0x80000022 on the host)"
  end
end

-- libpfm4's uncore models, with the kernel PMU that counts them, the
-- counters the kernel gives it (libpfm4 says 4 for the Zen 3 L3, the
-- kernel 6) and the config bits its sysfs format takes (libpfm4's raw
-- value also holds the core PMU's enable/interrupt/os/usr bits, which the
-- kernel masks off: AMD64_RAW_EVENT_MASK_NB).
M.PFM_MODELS = {
  amd64_fam19h_zen3_l3 = { pmu = "amd_l3", generic = M.NUM_COUNTERS_L3, family = 0x19,
                           mask = M.format_mask({ event = M.FORMAT.amd_l3_f19h.event,
                                                  umask = M.FORMAT.amd_l3_f19h.umask }),
                           scope = "CCX" },
  amd64_fam15h_nb = { pmu = "amd_nb", generic = M.NUM_COUNTERS_NB, family = 0x15,
                      mask = M.format_mask(M.FORMAT.amd_nb), scope = "socket" },
}

-- The uncore model a libpfm4 PMU name is, or nil.
function M.pfm_model(name)
  return M.PFM_MODELS[name]
end

-- Is ev an uncore event (an Intel perfmon Unit, or an AMD uncore PMU)?
function M.is_uncore(ev)
  return ev.uncore == true or ev.unit ~= nil
end

local function escape(s)
  return (s:gsub("%p", "%%%0"))
end

-- The boxes of unit PMU pmu ("uncore_cha", "amd_l3") this machine's
-- sysfs has, in box order: {{name=, type=, cpus={...}}, ...} (empty: none).
function M.boxes(pmu, sysfs)
  sysfs = sysfs or SYSFS
  local out = {}
  local pat = "^" .. escape(pmu) .. "_(%d+)$"
  for _, e in ipairs(require("autoperf.core").listdir(sysfs) or {}) do
    local idx = e.name == pmu and -1 or tonumber(e.name:match(pat) or "")
    if idx then
      local dir = sysfs .. "/" .. e.name
      local cpus = machine.parse_cpulist(util.read_line(dir .. "/cpumask") or "")
      out[#out + 1] = { name = e.name, index = idx, type = tonumber(util.read_line(dir .. "/type") or ""),
                        cpus = cpus or {} }
    end
  end
  table.sort(out, function(a, b) return a.index < b.index end)
  return out
end

-- Boxes a simulated unit has per its PMU: Intel units SIM_BOXES box PMUs
-- (pmu_0, pmu_1 ...), AMD's one PMU; each counts on the first CPU of
-- every socket of this machine (the simulated CCX or socket).
M.SIM_BOXES = 2

function M.sim_boxes(pmu, topo)
  topo = topo or machine.topology()
  local first = {}
  for cpu, t in pairs(topo) do
    if not first[t.socket] or cpu < first[t.socket] then first[t.socket] = cpu end
  end
  local cpus = {}
  for _, cpu in pairs(first) do cpus[#cpus + 1] = cpu end
  table.sort(cpus)
  if #cpus == 0 then cpus = { 0 } end
  if pmu:match("^amd_") then return { { name = pmu, index = -1, cpus = cpus } } end
  local out = {}
  for i = 0, M.SIM_BOXES - 1 do out[#out + 1] = { name = pmu .. "_" .. i, index = i, cpus = cpus } end
  return out
end

-- The rules 'autoperf stats' counts per model (pmustats.lua).
M.RULES = {
  { id = "uncore.box", cite = "arch/x86/events/intel/uncore.c: uncore_pmu_event_init()",
    what = "each box of a unit is its own PMU, counting on the CPU its cpumask names (event->cpu = box->cpu)",
    applies = function(ev) return M.is_uncore(ev) end },
  { id = "uncore.no_task", cite = "kernel/events/core.c: perf_event_open() (task_ctx_nr == perf_invalid_context)",
    what = "uncore events are refused per task (EINVAL): opened system-wide (pid -1) on every box",
    applies = function(ev) return M.is_uncore(ev) end },
  { id = "uncore.amd_l3", cite = "arch/x86/events/amd/uncore.c: amd_uncore_l3_ctx_init(), amd_uncore_l3_event_init()",
    what = "amd_l3: one PMU, 6 counters per CCX (NUM_COUNTERS_L3), thread/slice masks set by the kernel",
    applies = function(ev) return ev.pmu == "amd_l3" end },
  { id = "uncore.amd_df", cite = "arch/x86/events/amd/uncore.c: amd_uncore_df_ctx_init(), amd_uncore_df_ctx_scan()",
    what = "amd_df/amd_nb: one PMU, 4 counters per socket (NUM_COUNTERS_NB; PerfMonV2: CPUID 0x80000022 EBX[15:10])",
    applies = function(ev) return ev.pmu == "amd_df" or ev.pmu == "amd_nb" end },
}

return M
