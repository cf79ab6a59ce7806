-- Catalog sources: the kernel's software and generic hardware events,
-- tracepoints (tracefs), the events/ of every PMU in sysfs, libpfm4's
-- tables and Intel's perfmon files. Each gives records
--   {name=, pmu=, source=, type=, config=, config1=, config2=, desc=, ...}
-- (merge.lua folds them, resolve.lua answers names and specs).
local core = require "autoperf.core"
local kernel_json = require "autoperf.catalog.kernel_json"
local perfmon = require "autoperf.perfmon"
local pmu_mod = require "autoperf.pmu"
local util = require "autoperf.util"

local M = {}

local PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT = pmu_mod.kernel.types.software, pmu_mod.kernel.types.tracepoint

M.SYSFS_PMUS = "/sys/bus/event_source/devices"

-- perf_event.h's PERF_COUNT_SW_*; dummy and bpf-output count nothing.
M.SOFTWARE = {
  { "cpu-clock", 0, "CPU clock: ns the workload's tasks were on a CPU (timer based)" },
  { "task-clock", 1, "Task clock: ns the workload's tasks ran" },
  { "page-faults", 2, "Page faults (minor and major)" },
  { "context-switches", 3, "Context switches" },
  { "cpu-migrations", 4, "Moves of a task to another CPU" },
  { "minor-faults", 5, "Page faults served without I/O" },
  { "major-faults", 6, "Page faults that needed I/O" },
  { "alignment-faults", 7, "Alignment faults fixed up by the kernel" },
  { "emulation-faults", 8, "Instructions emulated by the kernel" },
  { "cgroup-switches", 11, "Context switches to a task in another cgroup" },
}

-- perf_event.h's PERF_COUNT_HW_*: generic hardware events the kernel maps
-- onto the core PMU (only where the kernel has one).
M.HARDWARE = {
  { "cpu-cycles", 0, "CPU cycles" },
  { "instructions", 1, "Instructions retired" },
  { "cache-references", 2, "Cache accesses (usually last-level cache)" },
  { "cache-misses", 3, "Cache misses (usually last-level cache)" },
  { "branch-instructions", 4, "Branch instructions retired" },
  { "branch-misses", 5, "Mispredicted branches" },
  { "bus-cycles", 6, "Bus cycles" },
  { "stalled-cycles-frontend", 7, "Cycles the front end stalled" },
  { "stalled-cycles-backend", 8, "Cycles the back end stalled" },
  { "ref-cycles", 9, "Reference cycles (not scaled by frequency)" },
}

-- perf's short names.
M.ALIASES = {
  cs = "context-switches",
  faults = "page-faults",
  migrations = "cpu-migrations",
  cycles = "cpu-cycles",
  branches = "branch-instructions",
  ["idle-cycles-frontend"] = "stalled-cycles-frontend",
  ["idle-cycles-backend"] = "stalled-cycles-backend",
}

local function encoding(ev)
  local s = string.format("type=%d,config=0x%x", ev.type, ev.config)
  if (ev.config1 or 0) ~= 0 then s = s .. string.format(",config1=0x%x", ev.config1) end
  if (ev.config2 or 0) ~= 0 then s = s .. string.format(",config2=0x%x", ev.config2) end
  return s
end
M.encoding = encoding

-- perf's short names for name, sorted (nil when it has none): they are
-- the record's aliases, so that list matches and --json shows them.
local function perf_aliases(name)
  local out = {}
  for short, long in pairs(M.ALIASES) do
    if long == name then out[#out + 1] = short end
  end
  table.sort(out)
  return #out > 0 and out or nil
end

function M.software()
  local out = {}
  for _, sw in ipairs(M.SOFTWARE) do
    out[#out + 1] = {
      name = sw[1], pmu = "software", source = "kernel", aliases = perf_aliases(sw[1]),
      type = PERF_TYPE_SOFTWARE, config = sw[2], desc = sw[3],
    }
  end
  return out
end

local function tracepoints(root)
  local tps, err = core.tracepoints(root)
  if not tps then return nil, err end
  local out = {}
  for _, tp in ipairs(tps) do
    out[#out + 1] = {
      name = tp.sys .. ":" .. tp.name, pmu = "tracepoint", source = "tracefs",
      type = PERF_TYPE_TRACEPOINT, config = tp.id,
      desc = "tracepoint " .. tp.sys .. ":" .. tp.name,
    }
  end
  return out
end

-- "config1:0-15,32-47" -> {field="config1", bits={{0,15},{32,47}}}
function M.parse_format(s)
  local field, ranges = util.trim(s or ""):match("^(config%d?):([%d,%-]+)$")
  if not field then return nil, "bad format '" .. tostring(s) .. "'" end
  local bits = {}
  for part in ranges:gmatch("[^,]+") do
    local lo, hi = part:match("^(%d+)%-(%d+)$")
    lo = tonumber(lo or part)
    hi = tonumber(hi or part)
    if not lo or not hi or hi < lo or hi > 63 then
      return nil, "bad bit range '" .. part .. "' in format '" .. s .. "'"
    end
    bits[#bits + 1] = { lo, hi }
  end
  return { field = field, bits = bits }
end

-- Places value into the format's bits (low bits first, as the kernel's
-- perf tool does). Returns field, mask-shifted bits; nil, msg on overflow.
function M.place(fmt, value)
  local out, v, width = 0, value, 0
  for _, r in ipairs(fmt.bits) do
    local n = r[2] - r[1] + 1
    width = width + n
    local chunk = n == 64 and v or (v & ((1 << n) - 1))
    out = out | (chunk << r[1])
    v = n == 64 and 0 or (v >> n)
  end
  if v ~= 0 then
    return nil, string.format("value 0x%x does not fit in %d bits", value, width)
  end
  return out
end

-- Encodes "event=0x3c,umask=0x1,edge" with a PMU's formats into
-- {config=, config1=, config2=}; nil, message for an unknown term.
function M.encode_terms(terms, formats)
  local attr = { config = 0, config1 = 0, config2 = 0 }
  local list = terms
  if type(terms) ~= "table" then
    list = {}
    for term in (terms or ""):gmatch("[^,]+") do
      term = util.trim(term)
      local k, v = term:match("^([%w_]+)=(.+)$")
      local value = v and math.tointeger(tonumber(v))
      if v and not value then return nil, "bad value in term '" .. term .. "'" end
      list[#list + 1] = { k or term, value }
    end
  end
  for _, t in ipairs(list) do
    local k, value = t[1], t[2] or 1
    if k == "config" or k == "config1" or k == "config2" then
      attr[k] = attr[k] | value
    else
      local fmt = formats[k]
      if not fmt then return nil, "unknown term '" .. k .. "'" end
      local bits, err = M.place(fmt, value)
      if not bits then return nil, k .. ": " .. err end
      attr[fmt.field] = attr[fmt.field] | bits
    end
  end
  return attr
end

local function pmu_formats(dir)
  local formats = {}
  for _, e in ipairs(core.listdir(dir .. "/format") or {}) do
    local f = M.parse_format(util.read_line(dir .. "/format/" .. e.name))
    if f then formats[e.name] = f end
  end
  return formats
end

-- The PMUs in sysfs: {name=, type=, formats=, events={...}}
function M.sysfs_pmus(root)
  root = root or M.SYSFS_PMUS
  local pmus = {}
  for _, e in ipairs(core.listdir(root) or {}) do
    local dir = root .. "/" .. e.name
    local t = tonumber(util.read_line(dir .. "/type") or "")
    if t then
      -- cpus: the CPUs a core PMU counts on (hybrid halves), else nil
      local pmu = { name = e.name, type = t, formats = pmu_formats(dir), events = {},
                    cpus = util.read_line(dir .. "/cpus") }
      local evdir = dir .. "/events"
      for _, f in ipairs(core.listdir(evdir) or {}) do
        -- name.unit / name.scale / name.per-pkg describe name; "?" terms
        -- need a value from the user.
        local terms = not f.name:find(".", 1, true) and util.read_line(evdir .. "/" .. f.name)
        if terms and not terms:find("?", 1, true) then
          local attr = M.encode_terms(terms, pmu.formats)
          if attr then
            local unit = util.read_line(evdir .. "/" .. f.name .. ".unit")
            local rec = {
              name = e.name .. "/" .. f.name .. "/", pmu = e.name, source = "sysfs",
              type = t, config = attr.config, config1 = attr.config1, config2 = attr.config2,
              desc = e.name .. " event " .. f.name .. " (" .. terms .. ")"
                .. (unit and (", unit " .. unit) or ""),
            }
            -- Intel's topdown events: slots and the metric events, with
            -- the counters and group rules the kernel gives them
            local td = pmu_mod.intel.sysfs_topdown(e.name, f.name, attr.config)
            if td then rec.topdown, rec.counters = td.topdown, td.counters end
            pmu.events[#pmu.events + 1] = rec
          end
        end
      end
      pmus[#pmus + 1] = pmu
    end
  end
  return pmus
end

M.tracefs_root = core.tracefs_root

-- Is there a hardware PMU in this kernel? (generic cycles open on us)
function M.hardware_present()
  return core.probe({ type = 0, config = 0 }) == true
end

-- A PMU the kernel here lacks but a forced model describes: for the
-- core PMU, the Intel core layout Linux publishes (pmu/intel.lua).
function M.assumed_pmu(name)
  if name ~= pmu_mod.intel.core_pmu then return nil end
  local formats = {}
  for k, v in pairs(pmu_mod.intel.CORE_FORMAT) do formats[k] = M.parse_format(v) end
  return { name = name, type = 4, formats = formats, events = {}, assumed = true }
end

-- Generic hardware events; available only where the kernel has a PMU.
-- pmus (sysfs_pmus') on a hybrid machine: each core PMU gets its own,
-- its sysfs type in config[63:32] (without one the kernel opens them on
-- cpu_core alone, pmu/hybrid.lua), as perf stat -e cycles opens
-- cpu_core/cycles/ and cpu_atom/cycles/; the catalog gives them those
-- names (hybrid.qualify).
function M.hardware(pmus)
  local halves = {}
  for _, t in ipairs(pmu_mod.hybrid.CORE_TYPES) do -- cpu_core first
    for _, p in ipairs(pmus or {}) do
      if p.name == t.pmu then halves[#halves + 1] = p end
    end
  end
  if #halves == 0 then halves = { false } end
  local out = {}
  for _, hw in ipairs(M.HARDWARE) do
    for _, h in ipairs(halves) do
      out[#out + 1] = {
        name = hw[1], pmu = h and h.name or "cpu", source = "kernel", aliases = perf_aliases(hw[1]),
        type = 0, config = h and pmu_mod.hybrid.hw_config(hw[2], h.type) or hw[2],
        desc = hw[3] .. (h and (" (" .. h.name .. ")") or ""),
        hardware = true, cpus = h and h.cpus or nil,
      }
    end
  end
  return out
end

-- "EVENT:UMASK" (libpfm4) -> "EVENT.UMASK" (Intel's and perf's spelling)
local function dotted(event, umask)
  return umask and (event .. "." .. umask) or event
end

-- The kernel's name of a libpfm4 core model's PMU: cpu, or a hybrid half.
local function core_pmu(model)
  local ct = pmu_mod.hybrid.of_model(model)
  return ct and ct.pmu or pmu_mod.intel.core_pmu
end

-- libpfm4's events: every umask a configuration. The generic "perf" and
-- "perf_raw" PMUs repeat the kernel's own events and are left out.
local function libpfm_events(force)
  local evs, skipped = core.pfm_events(force)
  if not evs then return nil, skipped end
  local facts = {}
  for _, p in ipairs(core.pfm_pmus(force) or {}) do facts[p.name] = p end
  local out = {}
  for _, ev in ipairs(evs) do
    local f = facts[ev.pmu] or {}
    if ev.pmu ~= "perf" and ev.pmu ~= "perf_raw" then
      out[#out + 1] = {
        name = ev.name, aliases = { dotted(ev.event, ev.umask) },
        pmu = f.core and core_pmu(ev.pmu) or ev.pmu, model = ev.pmu, source = "libpfm4",
        type = ev.type, config = ev.config, config1 = ev.config1, config2 = ev.config2,
        desc = ev.desc, hardware = true,
        counters = f.core and pmu_mod.pfm_counters(f, ev, force ~= nil) or nil,
        shared = pmu_mod.pfm_shared(f, ev),
      }
      -- an uncore model (AMD L3, NB): the kernel's PMU, its counters
      -- and config bits (pmu/uncore.lua)
      local um = pmu_mod.uncore.pfm_model(ev.pmu)
      if um then
        local rec = out[#out]
        rec.pmu, rec.unit, rec.uncore = um.pmu, um.pmu, true
        if ev.type == core.PFM_NO_TYPE then rec.type = nil end
        rec.config = ev.config & um.mask
        rec.counters = { generic_count = um.generic, fixed_count = 0 }
      end
    end
  end
  return out, skipped
end

-- The libpfm4 model a perfmon file describes (pmu/intel.lua), so that
-- the two sources merge only for the same processor.
M.PERFMON_MODELS = pmu_mod.intel.PERFMON_MODELS

function M.perfmon_model(file)
  local stem = file:match("^(.-)_core%.json$") or file:match("^(.-)_uncore%.json$") or file:gsub("%.json$", "")
  return M.PERFMON_MODELS[stem:lower()] or stem:lower()
end

-- The tracepoints under tracefs root (nil: not mounted or unreadable), or
-- nil, the line for the catalog's skipped list.
function M.tracefs(root)
  if root then
    local tps, err = tracepoints(root)
    if not tps then return nil, "tracepoints: " .. err end
    return tps
  end
  local state, where = require("autoperf.machine").tracefs_state()
  return nil, state == "unreadable"
    and ("tracepoints: tracefs at " .. where .. " is not readable by this user (see 'autoperf doctor')")
    or "tracepoints: tracefs is not mounted (as root: mount -t tracefs nodev /sys/kernel/tracing)"
end

-- The model a --pmu name means: a part libpfm4 lacks that the kernel's
-- pmu-events JSON describes (catalog/kernel_json.lua: "amdzen5" and
-- "amd64_fam1ah_zen5" are amd64_fam1ah_zen5), else the name itself.
function M.model_name(name)
  local m = kernel_json.amd_model(name)
  return m and m.model or name
end

-- The kernel JSON's records for a forced model libpfm4 lacks, with PMU
-- facts as libpfm4 gives them: events, pmus; nil when force is not one;
-- or nil, message.
local function kernel_model(force, on_host)
  local m = kernel_json.amd_model(force)
  if not m then return nil end
  local recs, err = kernel_json.amd(m, nil, on_host)
  if not recs then return nil, "--pmu " .. m.model .. ": " .. err end
  return recs, { { name = m.model, desc = "AMD64 " .. m.dir .. " (the kernel's pmu-events JSON)",
                   core = true, generic = m.generic, fixed = 0, nevents = #recs } }
end

-- The arm64 core PMU's events (catalog/kernel_json.lua): records, note.
M.arm64 = kernel_json.arm64

-- libpfm4's PMUs and events for the detected model or a forced one (or
-- the kernel JSON's, for a forced model libpfm4 lacks): events, pmus,
-- skipped (a note or nil); or nil, message.
function M.libpfm(force)
  if force and kernel_json.amd_model(force) then return kernel_model(force) end
  local pfm_pmus, perr = core.pfm_pmus(force)
  if not pfm_pmus then
    local near = force and util.closest(force, core.pfm_models() or {}, 3) or {}
    if #near > 0 then perr = perr .. " (did you mean " .. table.concat(near, ", ") .. "?)" end
    return nil, perr
  end
  local pfm, skipped = libpfm_events(force)
  if not pfm then return nil, skipped end
  local note = skipped and skipped > 0
    and string.format("libpfm4: %d configurations it cannot encode", skipped) or nil
  -- Zen 1-4: libpfm4 has their core events (and Zen 3's three L3 ones),
  -- the kernel's JSON their L3, Data Fabric and UMC events
  for _, p in ipairs(pfm_pmus) do
    local m = kernel_json.amd_model(p.name, true)
    if m and not m.cli then
      local recs = kernel_json.amd(m, nil, not force)
      local have = {}
      for _, r in ipairs(pfm) do have[r.name] = true end
      for _, r in ipairs(recs or {}) do
        if r.unit and not have[r.name] then pfm[#pfm + 1] = r end
      end
    end
  end
  -- a Zen 5 host: libpfm4 4.13 has no model of it, the kernel's JSON has
  -- (the same model name, so a libpfm4 that knows it merges with it)
  local host = not force and kernel_json.host_amd_model()
  if host then
    local recs, kpmus = kernel_model(host.model, true)
    if recs then
      for _, r in ipairs(recs) do pfm[#pfm + 1] = r end
      pfm_pmus[#pfm_pmus + 1] = kpmus[1]
    else
      note = (note and (note .. "; ") or "") .. kpmus
    end
  end
  return pfm, pfm_pmus, note
end

-- The perfmon files to read: files, then pmu-tools' cache unless no_cache.
function M.perfmon_files(files, no_cache)
  local out = {}
  for _, f in ipairs(files or {}) do out[#out + 1] = f end
  if not no_cache then
    for _, f in ipairs(perfmon.cache_files()) do out[#out + 1] = f end
  end
  return out
end

-- One perfmon file's records, each with its model: records or nil, message.
-- opts: smt, sysfs (see perfmon.load).
function M.perfmon(file, opts)
  local model = M.perfmon_model(file:match("([^/]+)$"))
  -- the core PMU's counters where libpfm4 knows the file's processor
  local generic, fixed = core.pfm_model_counters(model)
  local recs, err = perfmon.load(file, { smt = opts.smt, sysfs = opts.sysfs,
    counters = generic and { generic = generic, fixed = fixed } or nil })
  if not recs then return nil, err end
  for _, r in ipairs(recs) do r.model = model end
  return recs
end

return M
