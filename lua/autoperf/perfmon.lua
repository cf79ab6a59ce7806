-- Intel perfmon event files (JSON, as published by Intel and cached by
-- pmu-tools in ~/.cache/pmu-events/): one configuration per event, with
-- the constraint facts the planner needs.
local cjson = require "cjson"
local core = require "autoperf.core"
local util = require "autoperf.util"

local M = {}

local PERF_TYPE_RAW = 4

-- Which shared register an MSRIndex names (one value per core at a time).
M.SHARED = {
  [0x1a6] = "offcore", [0x1a7] = "offcore", -- OFFCORE_RSP_0/1
  [0x3f6] = "ldlat",                        -- PEBS_LD_LAT_THRESHOLD
  [0x3f7] = "frontend",                     -- PEBS_FRONTEND
}

local function num(v)
  if v == nil or v == cjson.null then return nil end
  if type(v) == "number" then return math.tointeger(v) end
  v = util.trim(tostring(v))
  if v == "" or v == "null" or v == "NA" or v == "N/A" then return nil end
  return math.tointeger(tonumber(v))
end

local function flag(v)
  return num(v) == 1
end

-- "0,1,2,3" -> {generic={0,1,2,3}}; "Fixed counter 1" -> {fixed={1}}
function M.parse_counters(s)
  if s == nil or s == cjson.null then return nil end
  s = util.trim(tostring(s))
  local fixed = s:match("^[Ff]ixed [Cc]ounter (%d+)$")
  if fixed then return { fixed = { tonumber(fixed) }, generic = {} } end
  local generic = {}
  for part in s:gmatch("[^,%s]+") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    if a then
      for c = tonumber(a), tonumber(b) do generic[#generic + 1] = c end
    elseif part:match("^%d+$") then
      generic[#generic + 1] = tonumber(part)
    else
      return nil, "bad counter list '" .. s .. "'"
    end
  end
  return { generic = generic, fixed = {} }
end

-- "0x1a6,0x1a7" -> {0x1a6, 0x1a7}
local function msr_list(s)
  local out = {}
  if s == nil or s == cjson.null then return out end
  for part in tostring(s):gmatch("[^,%s]+") do
    local v = math.tointeger(tonumber(part))
    if v and v ~= 0 then out[#out + 1] = v end
  end
  return out
end

local function errata(v)
  if v == nil or v == cjson.null then return nil end
  v = util.trim(tostring(v))
  if v == "" or v == "null" or v == "0" or v == "NA" or v == "N/A" or v == "None" then return nil end
  return v
end

-- The Intel core PMU's config layout (what Linux publishes in
-- /sys/bus/event_source/devices/cpu/format on Intel machines).
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

-- Linux names uncore PMUs uncore_<unit>_<box>: "iMC" -> "imc", "UPI LL" -> "upi".
function M.unit_pmu(unit)
  local u = unit:lower():gsub("%s+ll$", ""):gsub("[^%w]+", "_")
  return "uncore_" .. u
end

-- How many boxes of an uncore unit this machine has (sysfs), or 0.
local function boxes(sysfs, pmu)
  local n = 0
  for _, e in ipairs(core.listdir(sysfs) or {}) do
    if e.name == pmu or e.name:match("^" .. pmu:gsub("%p", "%%%0") .. "_%d+$") then n = n + 1 end
  end
  return n
end

-- Converts one JSON event into a configuration record. smt: whether
-- hyper-threading is on (Counter) or off (CounterHTOff).
local function convert(e, source, smt, sysfs)
  local name = e.EventName
  if type(name) ~= "string" or name == "" then return nil, "event without EventName" end
  local codes = {}
  for c in tostring(e.EventCode or ""):gmatch("[^,%s]+") do codes[#codes + 1] = math.tointeger(tonumber(c)) end
  if #codes == 0 or not codes[1] then return nil, name .. ": bad EventCode '" .. tostring(e.EventCode) .. "'" end
  -- Offcore events list one code (or umask) per response MSR, e.g.
  -- "0xB7, 0xBB" or "0x01,0x02": the first programs MSR 0x1a6.
  local umasks = {}
  for u in tostring(e.UMask or "0"):gmatch("[^,%s]+") do umasks[#umasks + 1] = math.tointeger(tonumber(u)) end
  if not umasks[1] then return nil, name .. ": bad UMask '" .. tostring(e.UMask) .. "'" end
  local f = {
    code = codes[1], umask = umasks[1], cmask = num(e.CounterMask) or num(e.Threshold) or 0,
    inv = flag(e.Invert), edge = flag(e.EdgeDetect), any = flag(e.AnyThread),
    umask_ext = num(e.UMaskExt),
  }
  local counter_field = (not smt and e.CounterHTOff and e.CounterHTOff ~= cjson.null) and e.CounterHTOff or e.Counter
  local counters, cerr = M.parse_counters(counter_field)
  if cerr then return nil, name .. ": " .. cerr end
  local msrs = msr_list(e.MSRIndex)
  local shared = msrs[1] and M.SHARED[msrs[1]]
  local unit = e.Unit ~= cjson.null and e.Unit or nil
  local rec = {
    name = name,
    source = "perfmon",
    file = source,
    desc = e.BriefDescription ~= cjson.null and e.BriefDescription or nil,
    long_desc = e.PublicDescription ~= cjson.null and e.PublicDescription or nil,
    event_code = f.code, umask = f.umask, cmask = f.cmask, inv = f.inv, edge = f.edge, any = f.any,
    alt_codes = #codes > 1 and codes or nil,
    alt_umasks = #umasks > 1 and umasks or nil,
    counters = counters,
    msr = #msrs > 0 and { index = msrs, value = num(e.MSRValue) or 0 } or nil,
    shared = shared,
    taken_alone = flag(e.TakenAlone),
    errata = errata(e.Errata),
    deprecated = flag(e.Deprecated),
  }
  if unit then
    rec.unit = unit
    rec.pmu = M.unit_pmu(unit)
    rec.boxes = boxes(sysfs, rec.pmu)
    rec.config = M.uncore_config(f)
    rec.config1 = num(e.FILTER_VALUE) or 0
    rec.port_mask = num(e.PortMask)
    rec.fc_mask = num(e.FCMask)
  else
    rec.pmu = "cpu"
    rec.type = PERF_TYPE_RAW
    rec.config = M.core_config(f)
    -- offcore_rsp, ldlat and frontend values travel in config1.
    rec.config1 = shared and (num(e.MSRValue) or 0) or 0
  end
  rec.config2 = 0
  return rec
end

-- Is hyper-threading on here? (sysfs; absent means off)
function M.smt_active()
  return util.read_line("/sys/devices/system/cpu/smt/active") == "1"
end

-- Loads one perfmon JSON file. opts.smt overrides the machine's HT state.
-- Returns records, or nil, message naming the file.
function M.load(path, opts)
  opts = opts or {}
  local text, rerr = util.read_file(path)
  if not text then return nil, rerr end
  local doc, derr = util.json_decode(text, path)
  if not doc then return nil, derr end
  local events = type(doc) == "table" and (doc.Events or (doc[1] and doc)) or nil
  if type(events) ~= "table" then return nil, path .. ": no Events array (not a perfmon event file?)" end
  local smt = opts.smt
  if smt == nil then smt = M.smt_active() end
  local base = path:match("([^/]+)$")
  local out = {}
  for i, e in ipairs(events) do
    if type(e) ~= "table" then return nil, string.format("%s: event %d is not an object", path, i) end
    local rec, err = convert(e, base, smt, opts.sysfs or "/sys/bus/event_source/devices")
    if not rec then return nil, string.format("%s: event %d: %s", path, i, err) end
    out[#out + 1] = rec
  end
  return out
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
