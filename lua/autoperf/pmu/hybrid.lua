-- Hybrid Intel parts (Alder Lake and later): two core PMUs, cpu_core
-- (P-cores) and cpu_atom (E-cores), each with its own counters, events
-- and CPUs (sysfs cpu_*/cpus); an event counts only while its thread runs
-- on a CPU of its PMU, so the two halves are two PMUs everywhere (planned
-- apart, a run may hold one group of each; counts never added; the same
-- name on both halves is two events, cpu_core/NAME/ and cpu_atom/NAME/).
--
-- Kernel facts (Linux 6.12, re-read in arch/x86/events/ and
-- kernel/events/core.c):
--  * intel/core.c intel_pmu_init(), case INTEL_ALDERLAKE (also _L and
--    Raptor Lake): intel_pmu_init_hybrid(hybrid_big_small) allocates the
--    two x86_hybrid_pmus, named from intel_hybrid_pmu_type_map
--    ("cpu_atom", "cpu_core"), each starting from the counters CPUID 0xA
--    enumerates (6 generic, 3 fixed), and sets x86_pmu.filter =
--    intel_pmu_filter; then the big core's masks grow (cntr_mask64 <<= 2
--    | 0x3, fixed_cntr_mask64 <<= 1 | 0x1: 8 generic, 4 fixed, capped at
--    8/4 by the E-cores-disabled quirk) with intel_pmu_init_glc() (Golden
--    Cove constraints), and the atom keeps 6 + 3 with
--    intel_pmu_init_grt(); adl_get_event_constraints() hands each PMU its
--    own (glc_/tnt_get_event_constraints()). perfmon's Counter fields say
--    the same counts.
--  * intel/core.c init_hybrid_pmu(), from intel_pmu_cpu_starting(): each
--    CPU joins its type's PMU (supported_cpus), which the PMU's `cpus`
--    attribute prints (intel_hybrid_get_attr_cpus()); intel_pmu_filter()
--    rejects the other CPUs, so kernel/events/core.c visit_groups_merge()
--    never schedules a half's groups there: a per-task event stays
--    enabled but not running while its task is on the other type
--    (__perf_update_times()), and core.c x86_pmu_event_init() refuses an
--    event bound to a CPU outside supported_cpus with -ENOENT.
--  * core.c init_hw_perf_events(): perf_pmu_register() of each half, the
--    big one (cpu_core) as PERF_TYPE_RAW (4), cpu_atom with a dynamic
--    type (-1), both with PERF_PMU_CAP_EXTENDED_HW_TYPE.
--  * kernel/events/core.c perf_init_event(): a PERF_TYPE_HARDWARE or
--    HW_CACHE event takes its PMU from config >> PERF_PMU_TYPE_SHIFT (32,
--    include/uapi/linux/perf_event.h, with PERF_HW_EVENT_MASK for the
--    rest); 0 there means PERF_TYPE_RAW, i.e. cpu_core alone.
--
-- libpfm4 4.13 (this machine's) has no Alder Lake models (no adl_glc or
-- adl_grt: `strings libpfm.so.4 | grep adl` finds none); M.CORE_TYPES
-- names them for a libpfm4 that does. The perfmon files are the source.
local util = require "autoperf.util"

local M = {}

M.name = "hybrid"

M.kernel_names = { "^cpu_core$", "^cpu_atom$" }
M.shared = {}

local is_half -- (below: by_pmu)

-- The kernel rules this family models, for 'autoperf stats' (per model:
-- how many events each applies to).
M.RULES = {
  { id = "hybrid.pmu",
    cite = "arch/x86/events/intel/core.c: intel_pmu_init_hybrid(), adl_get_event_constraints()",
    what = "each core type is its own PMU: a half's events are planned on its counters, one group per half in a run",
    applies = function(ev) return is_half(ev) end },
  { id = "hybrid.core_counters",
    cite = "arch/x86/events/intel/core.c: intel_pmu_init() (INTEL_ALDERLAKE), intel_pmu_init_glc()",
    what = "cpu_core (Golden Cove) has 8 generic and 4 fixed counters (CPUID 0xA's 6 + 3, widened)",
    applies = function(ev) return ev.pmu == "cpu_core" end },
  { id = "hybrid.atom_counters",
    cite = "arch/x86/events/intel/core.c: intel_pmu_init_hybrid(), intel_pmu_init_grt()",
    what = "cpu_atom (Gracemont) has 6 generic and 3 fixed counters",
    applies = function(ev) return ev.pmu == "cpu_atom" end },
  { id = "hybrid.mask",
    cite = "arch/x86/events/intel/core.c: init_hybrid_pmu(), intel_pmu_filter()",
    what = "a half counts only on its CPUs (sysfs cpus): enabled, not running, while its task is on the other type; "
      .. "bound to another CPU it is ENOENT (x86_pmu_event_init())",
    applies = function(ev) return is_half(ev) end },
  { id = "hybrid.extended_type",
    cite = "kernel/events/core.c: perf_init_event()",
    what = "a generic hardware event names its half by the PMU type in config[63:32] (PERF_PMU_TYPE_SHIFT)",
    applies = function(ev) return is_half(ev) and (ev.type == 0 or ev.type == 3) end },
}

-- include/uapi/linux/perf_event.h's PERF_PMU_TYPE_SHIFT.
M.PMU_TYPE_SHIFT = 32

-- The core types: the kernel's PMU name, the counters each core has, the
-- perfmon files (by Intel's names; mapfile.csv pairs them by its "Core
-- Role Name" Core/Atom, the files' Header does not say) and libpfm4's
-- models that describe it (none in libpfm4 4.13: see above). Alder Lake only (Raptor Lake uses its files):
-- later parts have other counter counts, to be added with their files.
M.CORE_TYPES = {
  { pmu = "cpu_core", role = "Core", generic = 8, fixed = 4,
    files = { "alderlake_goldencove_core" }, pfm = { "adl_glc" } },
  { pmu = "cpu_atom", role = "Atom", generic = 6, fixed = 3,
    files = { "alderlake_gracemont_core" }, pfm = { "adl_grt" } },
}

local by_file, by_pmu, by_model = {}, {}, {}
is_half = function(ev) return by_pmu[ev.pmu or ""] ~= nil end
for _, t in ipairs(M.CORE_TYPES) do
  by_pmu[t.pmu] = t
  for _, f in ipairs(t.files) do by_file[f] = t end
  for _, m in ipairs(t.pfm) do by_model[m] = t end
end

-- The core type a perfmon file describes ("alderlake_gracemont_core.json",
-- any case, with or without a directory), or nil for a non-hybrid file.
function M.of_file(file)
  local base = (file or ""):match("([^/]+)$") or ""
  return by_file[base:lower():gsub("%.json$", "")]
end

-- The core type of a PMU name (cpu_core, cpu_atom), or nil.
function M.of_pmu(name)
  return by_pmu[name]
end

-- The core type of a libpfm4 model (adl_glc, adl_grt), or nil.
function M.of_model(model)
  return by_model[model]
end

-- A generic hardware event's config aimed at one PMU (its sysfs type):
-- the extended type in config[63:32].
function M.hw_config(config, pmu_type)
  return (config & 0xffffffff) | (pmu_type << M.PMU_TYPE_SHIFT)
end

-- perf's name for an event of one core PMU: cpu_atom/INST_RETIRED.ANY/.
function M.qualified(pmu, name)
  return pmu .. "/" .. name .. "/"
end

-- Both halves' events of one name (INST_RETIRED.ANY is in both perfmon
-- files; cycles is generic) are two events: each takes perf's
-- PMU-qualified name (cpu_core/cycles/, cpu_atom/cycles/), keeping the
-- plain one as .plain, so that selections, run files, results.csv and
-- tables keep them apart and nothing adds them. Names (and aliases) on a
-- single half stay as they are. Returns {lower-case plain name or alias
-- -> {ev, ...}} in catalog order: what an unqualified name selects.
function M.qualify(events)
  local halves, order = {}, {}
  local function key(k, ev)
    local list = util.list_for(halves, order, k:lower())
    for _, e in ipairs(list) do
      if e == ev then return end
    end
    list[#list + 1] = ev
  end
  for _, ev in ipairs(events) do
    if by_pmu[ev.pmu] then
      key(ev.name, ev)
      for _, a in ipairs(ev.aliases or {}) do key(a, ev) end
    end
  end
  local out = {}
  for _, k in ipairs(order) do
    local list, pmus, n = halves[k], {}, 0
    for _, ev in ipairs(list) do
      if not pmus[ev.pmu] then n = n + 1 end
      pmus[ev.pmu] = true
    end
    if n > 1 then out[k] = list end
  end
  for _, list in pairs(out) do
    for _, ev in ipairs(list) do
      if not ev.plain then
        local pmus = {}
        for _, e in ipairs(out[ev.name:lower()] or {}) do pmus[e.pmu] = true end
        local n = 0
        for _ in pairs(pmus) do n = n + 1 end
        if n > 1 then
          ev.plain = ev.name
          ev.name = M.qualified(ev.pmu, ev.name)
        end
      end
    end
  end
  return out
end

-- "0-3,8" from {0, 1, 2, 3, 8} (sysfs's cpulist form).
local function cpulist(cpus)
  local parts, i = {}, 1
  while i <= #cpus do
    local j = i
    while j < #cpus and cpus[j + 1] == cpus[j] + 1 do j = j + 1 end
    parts[#parts + 1] = i == j and tostring(cpus[i]) or (cpus[i] .. "-" .. cpus[j])
    i = j + 1
  end
  return table.concat(parts, ",")
end
M.cpulist = cpulist

-- The CPU masks of simulated halves (--pmu sim:A.json,B.json, where the
-- kernel has no cpu_core/cpu_atom to read sysfs cpus from): this
-- machine's online CPUs in order, one contiguous block per simulated
-- half in CORE_TYPES order (cpu_core first: Alder Lake numbers its
-- P-cores first), earlier blocks one larger where they do not divide
-- evenly: 2 CPUs: cpu_core 0, cpu_atom 1; 8: 0-3, 4-7; 5: 0-2, 3-4. A
-- lone simulated half, or fewer CPUs than halves, gets every CPU (there
-- is nothing to split). halves: {[pmu name] = true}; online: a list of
-- CPU numbers. Returns {[pmu name] = "cpulist"}.
function M.sim_masks(halves, online)
  local names = {}
  for _, t in ipairs(M.CORE_TYPES) do
    if halves[t.pmu] then names[#names + 1] = t.pmu end
  end
  local out, n, k = {}, #online, #names
  if k == 0 then return out end
  if n < k then
    for _, name in ipairs(names) do out[name] = cpulist(online) end
    return out
  end
  local at = 1
  for i, name in ipairs(names) do
    local size = n // k + (i <= n % k and 1 or 0)
    out[name] = cpulist(table.move(online, at, at + size - 1, 1, {}))
    at = at + size
  end
  return out
end

-- Gives the simulated halves among events (ev.simulated, a hybrid PMU,
-- no sysfs mask) their sim_masks() mask as ev.cpus; returns the masks.
function M.simulate_masks(events, online)
  local halves = {}
  for _, ev in ipairs(events) do
    if ev.simulated and by_pmu[ev.pmu] and not ev.cpus then halves[ev.pmu] = true end
  end
  local masks = M.sim_masks(halves, online)
  for _, ev in ipairs(events) do
    if ev.simulated and masks[ev.pmu] and not ev.cpus then ev.cpus = masks[ev.pmu] end
  end
  return masks
end

-- The events of a profile (its manifest) that are hybrid halves counted
-- per task without the task held inside their CPUs, so that time_running
-- < time_enabled is the time it ran on the other type, not multiplexing
-- (the runner marks them, manifest.events[i].hybrid_cpus): {[name] =
-- "cpulist"}.
function M.partial(manifest)
  local out = {}
  for _, e in ipairs(type(manifest) == "table" and type(manifest.events) == "table" and manifest.events or {}) do
    if type(e) == "table" and type(e.name) == "string" and type(e.hybrid_cpus) == "string" then
      out[e.name] = e.hybrid_cpus
    end
  end
  return out
end

-- The status of such an event that did not run all the time.
function M.partial_status(cpus)
  return "ok: a hybrid half, counted while the command ran on its CPUs (" .. cpus .. "), never scaled"
end

-- --core-type: the word for each half (perf stat's --cputype says the
-- same words).
M.CORE_TYPE_WORDS = { core = "cpu_core", atom = "cpu_atom" }

-- The half a --core-type word names and the CPUs it counts on: sysfs's
-- cpus of that PMU (pmus: catalog.sysfs_pmus'), else the simulated mask
-- (sim: simulate_masks'), as {word=, pmu=, cpus="cpulist"}; nil, message
-- for a word that is not one, or where this machine (real or simulated)
-- is not hybrid.
function M.pin(word, pmus, sim)
  local pmu = M.CORE_TYPE_WORDS[word]
  if not pmu then
    return nil, "--core-type must be core or atom (a hybrid Intel part's P-cores or E-cores), not '"
      .. tostring(word):sub(1, 40):gsub("[^%w_%-]", "?") .. "'"
  end
  local cpus
  for _, p in ipairs(pmus or {}) do
    if p.name == pmu then cpus = p.cpus end
  end
  cpus = cpus or (sim and sim[pmu])
  if not cpus or cpus == "" then
    return nil, "--core-type " .. word .. ": this machine is not a hybrid Intel part (no " .. pmu ..
      " PMU with a CPU mask in /sys/bus/event_source/devices); simulate one with " ..
      "--pmu sim:alderlake_goldencove_core.json,alderlake_gracemont_core.json"
  end
  return { word = word, pmu = pmu, cpus = cpus }
end

return M
