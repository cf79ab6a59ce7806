-- Intel perfmon event files (JSON, as published by Intel and cached by
-- pmu-tools in ~/.cache/pmu-events/): one configuration per event, with
-- the constraint facts the planner needs.
local cjson = require "cjson"
local core = require "autoperf.core"
local fields = require "autoperf.catalog.fields"
local hybrid = require "autoperf.pmu.hybrid"
local intel = require "autoperf.pmu.intel"
local uncore = require "autoperf.pmu.uncore"
local util = require "autoperf.util"

local M = {}

local PERF_TYPE_RAW = 4

-- Counter indices beyond what the planner and the simulator represent
-- (generic counters in bits 0-31 of a mask, fixed ones above) are no PMU.
M.MAX_COUNTERS = core.FIXED_SHIFT

-- A field that is not what Intel's files hold: raised inside convert()
-- as a table, turned into one line naming file, event and field.
local bad, absent, jtype, int, no_value = fields.bad, fields.absent, fields.jtype, fields.int, fields.no_value

-- "0xB7, 0xBB": one or more integers 0..max; {} when absent.
local function ints(e, field, max)
  local v = e[field]
  if type(v) ~= "string" then return { int(e, field, max) } end
  local out = {}
  for part in v:gmatch("[^,%s]+") do
    out[#out + 1] = int({ [field] = part }, field, max)
  end
  return out
end

local function flag(e, field)
  return int(e, field, 1) == 1
end

local text = fields.text

-- "0,1,2,3" -> {generic={0,1,2,3}}; "Fixed counter 1" -> {fixed={1}}.
-- limits: {generic=n, fixed=n}, the PMU's counters (by default, and at
-- most, M.MAX_COUNTERS of each); nil, message for a bad list.
function M.parse_counters(s, limits)
  if absent(s) then return nil end
  if type(s) ~= "string" then return nil, "expected a string, not " .. jtype(s) end
  limits = limits or {}
  local gmax = math.min(limits.generic or M.MAX_COUNTERS, M.MAX_COUNTERS)
  local fmax = math.min(limits.fixed or M.MAX_COUNTERS, M.MAX_COUNTERS)
  s = util.trim(s)
  local function beyond(kind, c, n)
    return string.format("%s counter %s in '%s' is beyond the PMU's %d", kind, util.printable(c, 20),
      util.printable(s, 40), n)
  end
  local fixed = s:match("^[Ff]ixed [Cc]ounter (%d+)$")
  if fixed then
    if #fixed > 3 or tonumber(fixed) >= fmax then return nil, beyond("fixed", fixed, fmax) end
    return { fixed = { math.tointeger(tonumber(fixed)) }, generic = {} }
  end
  local generic, seen = {}, {}
  for part in s:gmatch("[^,%s]+") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    if not a then a = part:match("^%d+$"); b = a end
    if not a then return nil, "bad counter list '" .. util.printable(s, 40) .. "'" end
    -- the bound first: "0-20000000" names no PMU and must not cost memory
    if #b > 3 or tonumber(b) >= gmax then return nil, beyond("generic", b, gmax) end
    a, b = math.tointeger(tonumber(a)), math.tointeger(tonumber(b))
    if a > b then return nil, "bad counter range '" .. part .. "'" end
    for c = a, b do util.append_new(generic, seen, c) end
  end
  return { generic = generic, fixed = {} }
end

-- The Intel layouts of config and the kernel's uncore PMU names (pmu/intel.lua).
M.core_config = intel.core_config
M.uncore_config = intel.uncore_config
M.unit_pmu = intel.unit_pmu

-- How many boxes of an uncore unit this machine has (sysfs), or 0: each
-- its own PMU, counted system-wide on its cpumask (pmu/uncore.lua).
local function boxes(sysfs, pmu)
  return #uncore.boxes(pmu, sysfs)
end

-- The core PMU a file's events belong to: "cpu", or on hybrid parts the
-- half the file describes (pmu/hybrid.lua), with its sysfs type and CPU
-- mask where this machine has that PMU: {name=, type=, cpus=, counters=}.
function M.core_pmu(file, sysfs)
  local ct = hybrid.of_file(file)
  if not ct then return { name = intel.core_pmu, type = PERF_TYPE_RAW } end
  local dir = (sysfs or "/sys/bus/event_source/devices") .. "/" .. ct.pmu
  return {
    name = ct.pmu, hybrid = true,
    -- cpu_core is registered as PERF_TYPE_RAW, cpu_atom with its own type
    type = tonumber(util.read_line(dir .. "/type") or "") or PERF_TYPE_RAW,
    cpus = util.read_line(dir .. "/cpus"),
    counters = { generic = ct.generic, fixed = ct.fixed },
  }
end

-- Converts one JSON event into a configuration record. smt: whether
-- hyper-threading is on (Counter) or off (CounterHTOff); limits: the
-- core PMU's counters; cpmu: M.core_pmu's. Raises bad() for a field it
-- cannot take.
local function convert(e, source, smt, sysfs, limits, cpmu)
  local name = text(e, "EventName")
  if not name or name == "" then bad("EventName", "missing") end
  local codes = ints(e, "EventCode", 0xff)
  if #codes == 0 then bad("EventCode", "missing") end
  -- Offcore events list one code (or umask) per response MSR, e.g.
  -- "0xB7, 0xBB" or "0x01,0x02": the first programs MSR 0x1a6.
  local umasks = ints(e, "UMask", 0xff)
  if #umasks == 0 then umasks = { 0 } end
  local f = {
    code = codes[1], umask = umasks[1], cmask = int(e, "CounterMask", 0xff) or int(e, "Threshold", 0xff) or 0,
    inv = flag(e, "Invert"), edge = flag(e, "EdgeDetect"), any = flag(e, "AnyThread"),
    umask_ext = int(e, "UMaskExt", 0xffffffff),
  }
  local unit = text(e, "Unit")
  local field = (not smt and not absent(e.CounterHTOff)) and "CounterHTOff" or "Counter"
  local counters, cerr = M.parse_counters(e[field], not unit and limits or nil)
  if cerr then bad(field, cerr) end
  if counters and cpmu.hybrid then
    -- the half's own counters, whatever the other half has
    counters.generic_count, counters.fixed_count = cpmu.counters.generic, cpmu.counters.fixed
  end
  local msrs = {}
  for _, v in ipairs(ints(e, "MSRIndex", 0xffffffff)) do
    if v ~= 0 then msrs[#msrs + 1] = v end
  end
  local shared = msrs[1] and intel.shared_of_msr(msrs[1])
  local msr_value = int(e, "MSRValue")
  local errata = text(e, "Errata")
  errata = errata and util.trim(errata)
  if errata and (no_value(errata) or errata == "0" or errata == "None") then errata = nil end
  local rec = {
    name = name,
    source = "perfmon",
    file = source,
    desc = text(e, "BriefDescription"),
    long_desc = text(e, "PublicDescription"),
    event_code = f.code, umask = f.umask, cmask = f.cmask, inv = f.inv, edge = f.edge, any = f.any,
    alt_codes = #codes > 1 and codes or nil,
    alt_umasks = #umasks > 1 and umasks or nil,
    counters = counters,
    msr = #msrs > 0 and { index = msrs, value = msr_value or 0 } or nil,
    shared = shared,
    taken_alone = flag(e, "TakenAlone"),
    errata = errata,
    deprecated = flag(e, "Deprecated"),
  }
  if unit then
    rec.unit = unit
    rec.uncore = true
    rec.pmu = M.unit_pmu(unit)
    rec.boxes = boxes(sysfs, rec.pmu)
    rec.config = M.uncore_config(f)
    rec.config1 = int(e, "FILTER_VALUE") or 0
    rec.port_mask = int(e, "PortMask")
    rec.fc_mask = int(e, "FCMask")
  else
    rec.pmu = cpmu.name
    rec.type = cpmu.type
    rec.hybrid = cpmu.hybrid
    rec.cpus = cpmu.cpus
    rec.config = M.core_config(f)
    -- offcore_rsp, ldlat and frontend values travel in config1.
    rec.config1 = shared and (msr_value or 0) or 0
  end
  rec.config2 = 0
  return rec
end

-- Is hyper-threading on here? (sysfs; absent means off)
function M.smt_active()
  return util.read_line("/sys/devices/system/cpu/smt/active") == "1"
end

-- Loads one perfmon JSON file. opts.smt overrides the machine's HT
-- state; opts.counters ({generic=n, fixed=n}: the core PMU's, from
-- libpfm4, else a hybrid half's own, pmu/hybrid.lua) bounds the core
-- events' counter lists. Returns records, or
-- nil, one printable line naming the file (and the event and field).
function M.load(path, opts)
  opts = opts or {}
  local data, rerr = util.read_file(path)
  if not data then return nil, util.printable(rerr) end
  local doc, derr = util.json_decode(data, path)
  if not doc then return nil, util.printable(derr, 300) end
  local events = type(doc) == "table" and (doc.Events or (doc[1] and doc)) or nil
  if type(events) ~= "table" then
    return nil, util.printable(path) .. ": no Events array (not a perfmon event file?)"
  end
  local smt = opts.smt
  if smt == nil then smt = M.smt_active() end
  local base = path:match("([^/]+)$")
  local sysfs = opts.sysfs or "/sys/bus/event_source/devices"
  local cpmu = M.core_pmu(base, sysfs)
  local limits = opts.counters or cpmu.counters
  local out = {}
  for i, e in ipairs(events) do
    if type(e) ~= "table" then
      return nil, string.format("%s: event %d is not an object", util.printable(path), i)
    end
    local ok, rec = pcall(convert, e, base, smt, sysfs, limits, cpmu)
    if not ok then
      if type(rec) ~= "table" then error(rec, 0) end -- a bug, not the file
      local name = type(e.EventName) == "string" and (" (" .. util.printable(e.EventName, 80) .. ")") or ""
      return nil, string.format("%s: event %d%s: %s: %s", util.printable(path), i, name, rec.field, rec.why)
    end
    out[#out + 1] = rec
  end
  M.add_topdown(out, base, cpmu)
  return out
end

-- Ice Lake and later (pmu/intel.lua's PERF_METRICS): the file's
-- TOPDOWN.SLOTS leads topdown groups, and the kernel's metric events,
-- which perfmon's event files leave out (its metric files name them
-- PERF_METRICS.*), join the records as the kernel offers them: event
-- 0x00, umask 0x80 + n, on pseudo counter METRIC_BASE + n, no general
-- counter. recs: the file's core records, in place.
function M.add_topdown(recs, file, cpmu)
  local metrics = intel.metric_events(file, cpmu.name)
  if not metrics then return end
  local have, slots = {}, nil
  for _, r in ipairs(recs) do
    have[r.name] = true
    if not r.unit and r.pmu == cpmu.name and r.config & 0xffff == intel.TOPDOWN_SLOTS.config then
      slots = slots or r
    end
  end
  if not slots then return end -- no slots event: no leader, no metric events
  slots.topdown = { lead = "topdown" }
  slots.aliases = { intel.TOPDOWN_SLOTS.perf, cpmu.name .. "/" .. intel.TOPDOWN_SLOTS.perf .. "/" }
  for _, m in ipairs(metrics) do
    if not have[m.name] then
      local pseudo = intel.METRIC_BASE + m.metric
      recs[#recs + 1] = {
        -- the kernel's events (named as perfmon's metric files name them)
        name = m.name, source = "kernel", desc = m.desc, aliases = m.aliases,
        event_code = 0, umask = m.config >> 8, cmask = 0, inv = false, edge = false, any = false,
        counters = { generic = {}, fixed = {}, pseudo = { pseudo },
                     generic_count = slots.counters and slots.counters.generic_count,
                     fixed_count = slots.counters and slots.counters.fixed_count },
        taken_alone = false, deprecated = false,
        pmu = cpmu.name, type = cpmu.type, hybrid = cpmu.hybrid, cpus = cpmu.cpus,
        config = m.config, config1 = 0, config2 = 0,
        topdown = { needs = "topdown", pseudo = { pseudo }, share = m.share },
      }
    end
  end
end

-- pmu-tools' cache: ~/.cache/pmu-events/*.json (event files only).
function M.cache_files(home)
  home = home or os.getenv("HOME")
  if not home then return {} end
  local dir = home .. "/.cache/pmu-events"
  local out = {}
  for _, e in ipairs(core.listdir(dir) or {}) do
    if not e.dir and e.name:match("%.json$") then out[#out + 1] = dir .. "/" .. e.name end
  end
  return out
end

return M
