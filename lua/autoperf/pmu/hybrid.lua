-- Hybrid Intel parts (Alder Lake and later): two core PMUs, cpu_core
-- (P-cores) and cpu_atom (E-cores), each with its own counters, events
-- and CPUs (sysfs cpu_*/cpus); an event counts only while its thread runs
-- on a CPU of its PMU, so the two halves are two PMUs everywhere (planned
-- apart, a run may hold one group of each; counts never added).
--
-- Kernel facts (Linux, arch/x86/events/):
--  * core.c init_hw_perf_events() registers one PMU per core type,
--    "cpu_core" with type PERF_TYPE_RAW (4), "cpu_atom" with a dynamic
--    type: raw core events go to cpu_core unless they carry cpu_atom's.
--  * intel/core.c intel_pmu_init() (case INTEL_ALDERLAKE, the hybrid_pmu
--    setup through intel_pmu_init_glc()/intel_pmu_init_grt()): Golden Cove
--    has 8 generic counters and 4 fixed (the 4th TOPDOWN.SLOTS), Gracemont
--    6 generic and 3 fixed; perfmon's Counter fields say the same.
--  * Generic hardware events (PERF_TYPE_HARDWARE/HW_CACHE) name the PMU
--    in config[63:32] (PERF_PMU_TYPE_SHIFT, the "extended type" that
--    kernel/events/core.c perf_init_event() reads for PMUs with
--    PERF_PMU_CAP_EXTENDED_HW_TYPE, which x86_pmu sets on hybrid parts);
--    0 there means PERF_TYPE_RAW, i.e. cpu_core alone.
local M = {}

M.name = "hybrid"

M.kernel_names = { "^cpu_core$", "^cpu_atom$" }
M.shared = {}

-- perf_event.h's PERF_PMU_TYPE_SHIFT.
M.PMU_TYPE_SHIFT = 32

-- The core types: the kernel's PMU name, the counters each core has, the
-- perfmon files (by Intel's names; mapfile.csv pairs them by its "Core
-- Role Name" Core/Atom, the files' Header does not say) and libpfm4's
-- models that describe it. Alder Lake only (Raptor Lake uses its files):
-- later parts have other counter counts, to be added with their files.
M.CORE_TYPES = {
  { pmu = "cpu_core", role = "Core", generic = 8, fixed = 4,
    files = { "alderlake_goldencove_core" }, pfm = { "adl_glc" } },
  { pmu = "cpu_atom", role = "Atom", generic = 6, fixed = 3,
    files = { "alderlake_gracemont_core" }, pfm = { "adl_grt" } },
}

local by_file, by_pmu, by_model = {}, {}, {}
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
    k = k:lower()
    local list = halves[k]
    if not list then
      list = {}
      halves[k] = list
      order[#order + 1] = k
    end
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
