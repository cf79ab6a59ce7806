-- Catalog source: the kernel's own perf event tables, the JSON files of
-- tools/perf/pmu-events/arch/ (Debian's linux-source-6.12, extracted by
-- make into build/pmu-events/, installed under share/autoperf/pmu-events/),
-- for the parts libpfm4 4.13 lacks:
--   * AMD Zen 5 (x86/amdzen5): the model amd64_fam1ah_zen5 (libpfm4's
--     naming; --pmu amdzen5 too), core events in the kernel's AMD layout,
--     uncore units (L3PMC, DFPMC, UMCPMC) as plain records of amd_l3,
--     amd_df, amd_umc;
--   * arm64 PMUv3: the events the kernel lists in sysfs, named from
--     common-and-microarch.json / recommended.json and the part's own
--     directory when the MIDR matches mapfile.csv.
-- perf's format: a file is an array of objects with EventName, EventCode
-- (or ConfigCode), UMask, BriefDescription, PublicDescription, Unit and
-- ArchStdEvent (arm64: a reference to a common event, whose fields fill
-- the ones the entry leaves out); metric entries (MetricName, no
-- EventName) are not events. Hostile input is bounded: file sizes, files
-- per directory, events per file and in all, text lengths.
local core = require "autoperf.core"
local fields = require "autoperf.catalog.fields"
local uncore = require "autoperf.pmu.uncore"
local util = require "autoperf.util"

local M = {}

M.SOURCE = "kernel-json"

-- Bounds (the real files: at most 37 KB, 50 directories, 1.5k events).
M.MAX_FILE_BYTES = 1 << 20
M.MAX_FILES = 64          -- JSON files read from one directory
M.MAX_EVENTS = 4096       -- entries of one file, and events of one model
M.MAX_NAME = 128
M.MAX_TEXT = 4096         -- descriptions are cut there

-- Where the data is: beside the Lua modules the binary runs (the tree's
-- build/pmu-events, or share/autoperf/pmu-events when installed), found
-- from this module's own absolute path; never the current directory or
-- the environment (autoperf runs as root in other people's directories).
-- here: a module path (specs); nil when it is not absolute.
function M.default_dir(here)
  here = here or package.searchpath("autoperf.catalog.kernel_json", package.path) or ""
  local lua_dir = here:match("^(/.*)/autoperf/catalog/kernel_json%.lua$")
  if not lua_dir then return nil end
  for _, d in ipairs({ lua_dir .. "/../build/pmu-events", lua_dir .. "/../pmu-events" }) do
    if util.exists(d .. "/x86") or util.exists(d .. "/arm64") then return d end
  end
  return nil
end

-- Why there is no data (for catalog.skipped and error messages).
M.MISSING = "the kernel's pmu-events JSON is not there (build/pmu-events/, from Debian's "
  .. "linux-source-6.12: run scripts/bootstrap and make)"

local bad, absent, int = fields.bad, fields.absent, fields.int

local function text(e, field, max)
  local v = fields.text(e, field)
  if v and max and #v > max then
    if max == M.MAX_NAME then bad(field, string.format("longer than %d characters", max)) end
    v = v:sub(1, max)
  end
  return v
end

-- One entry of perf's format as plain fields: {name=, code=, umask=,
-- config_code=, desc=, long_desc=, unit=, std=, extra={...}}. Raises bad().
local function entry(e)
  local name = text(e, "EventName", M.MAX_NAME)
  local std = text(e, "ArchStdEvent", M.MAX_NAME)
  return {
    name = name ~= "" and name or nil, std = std,
    code = int(e, "EventCode", 0xffff), umask = int(e, "UMask", 0xfff),
    config_code = int(e, "ConfigCode", 0x7fffffffffffffff),
    desc = text(e, "BriefDescription", M.MAX_TEXT),
    long_desc = text(e, "PublicDescription", M.MAX_TEXT),
    unit = text(e, "Unit", M.MAX_NAME),
    deprecated = int(e, "Deprecated", 1) == 1,
    -- AMD L3 and UMC fields (amd/uncore.c's formats)
    enallcores = int(e, "EnAllCores", 1), enallslices = int(e, "EnAllSlices", 1),
    sliceid = int(e, "SliceId", 0xf), threadmask = int(e, "ThreadMask", 0xff),
    rdwrmask = int(e, "RdWrMask", 0x3),
  }
end

-- The entries of one JSON document (text) and the names of its metrics,
-- or nil, one line naming where. Metric entries are left out.
function M.parse(data, where)
  where = util.printable(where or "JSON", 200)
  if #data > M.MAX_FILE_BYTES then
    return nil, string.format("%s: larger than %d bytes (not a pmu-events file?)", where, M.MAX_FILE_BYTES)
  end
  local doc, err = util.json_decode(data, where)
  if not doc then return nil, util.printable(err, 300) end
  if type(doc) ~= "table" or (next(doc) ~= nil and doc[1] == nil) then
    return nil, where .. ": not an array of events (not a pmu-events file?)"
  end
  if #doc > M.MAX_EVENTS then
    return nil, string.format("%s: more than %d entries", where, M.MAX_EVENTS)
  end
  local out, metrics = {}, {}
  for i, e in ipairs(doc) do
    if type(e) ~= "table" then return nil, string.format("%s: entry %d is not an object", where, i) end
    if type(e.MetricName) == "string" and #e.MetricName <= M.MAX_NAME then metrics[#metrics + 1] = e.MetricName end
    local ok, r = pcall(entry, e)
    if not ok then
      if type(r) ~= "table" then error(r, 0) end -- a bug, not the file
      local n = type(e.EventName) == "string" and (" (" .. util.printable(e.EventName, 80) .. ")") or ""
      return nil, string.format("%s: entry %d%s: %s: %s", where, i, n, r.field, r.why)
    end
    -- metrics (MetricName, MetricExpr) name events, they are none
    if (r.name or r.std) and absent(e.MetricName) and absent(e.MetricExpr) then out[#out + 1] = r end
  end
  return out, metrics
end

-- A file of at most M.MAX_FILE_BYTES (the size checked before reading),
-- or nil, message.
local function read_bounded(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, util.printable(err, 300) end
  local size = f:seek("end")
  if not size or size > M.MAX_FILE_BYTES then
    f:close()
    return nil, string.format("%s: larger than %d bytes (not a pmu-events file?)", util.printable(path, 200), M.MAX_FILE_BYTES)
  end
  f:seek("set")
  local data = f:read("a")
  f:close()
  return data or ""
end

-- One file's entries, or nil, message.
function M.read(path)
  local data, err = read_bounded(path)
  if not data then return nil, err end
  return M.parse(data, path)
end

-- Every *.json of a directory (sorted; not recursive), each entry with
-- its file (relative to base when given): entries, or nil, message.
function M.read_dir(dir, base)
  local list, err = core.listdir(dir)
  if not list then return nil, util.printable(dir, 200) .. ": " .. tostring(err) end
  local out, files = {}, 0
  for _, e in ipairs(list) do
    if not e.dir and e.name:match("%.json$") then
      files = files + 1
      if files > M.MAX_FILES then
        return nil, string.format("%s: more than %d JSON files", util.printable(dir, 200), M.MAX_FILES)
      end
      local entries, rerr = M.read(dir .. "/" .. e.name)
      if not entries then return nil, rerr end
      local file = base and (base .. "/" .. e.name) or e.name
      for _, r in ipairs(entries) do
        if #out >= M.MAX_EVENTS then
          return nil, string.format("%s: more than %d events", util.printable(dir, 200), M.MAX_EVENTS)
        end
        r.file = file
        out[#out + 1] = r
      end
    end
  end
  return out
end

---------------------------------------------------------------------------
-- AMD (x86/amdzen*).

-- The kernel's AMD core layout (arch/x86/events/amd/core.c, the format
-- attributes of amd_format_attr): event = config:0-7,32-35,
-- umask = config:8-15 (edge 18, inv 23, cmask 24-31: unused by the files).
function M.amd_core_config(code, umask)
  return (code & 0xff) | (((code >> 8) & 0xf) << 32) | ((umask or 0) & 0xff) << 8
end

-- Uncore units as the kernel names their PMUs (arch/x86/events/amd/
-- uncore.c: amd_uncore_df_ctx_init "amd_df", amd_uncore_l3_ctx_init
-- "amd_l3", amd_uncore_umc_ctx_init "amd_umc_<n>").
M.AMD_UNITS = { L3PMC = "amd_l3", DFPMC = "amd_df", UMCPMC = "amd_umc" }

-- Uncore encodings (amd/uncore.c's DEFINE_UNCORE_FORMAT_ATTRs), by family:
--   DF: event14 config:0-7,32-35,59-60 (family 17h+), event14v2
--     config:0-7,32-37 and umask12 config:8-15,24-27 with PerfMonV2
--     (Zen 4 and later; amd_uncore_df_ctx_init);
--   L3: event8 config:0-7, umask8 config:8-15; family 19h+ enallslices
--     46, enallcores 47, sliceid 48-50, threadmask2 56-57 (17h: slicemask
--     48-51, threadmask8 56-63); amd_uncore_l3_ctx_init;
--   UMC: event8 config:0-7, rdwrmask config:8-9.
local function bits(v, lo, n) return ((v or 0) & ((1 << n) - 1)) << lo end

function M.amd_uncore_config(pmu, r, family, perfmon_v2)
  local code, umask = r.code or 0, r.umask or 0
  if pmu == "amd_df" then
    if perfmon_v2 then
      return bits(code, 0, 8) | bits(code >> 8, 32, 6) | bits(umask, 8, 8) | bits(umask >> 8, 24, 4)
    end
    return bits(code, 0, 8) | bits(code >> 8, 32, 4) | bits(code >> 12, 59, 2) | bits(umask, 8, 8)
  elseif pmu == "amd_l3" then
    local c = bits(code, 0, 8) | bits(umask, 8, 8)
    if family >= 0x19 then
      return c | bits(r.enallslices, 46, 1) | bits(r.enallcores, 47, 1) | bits(r.sliceid, 48, 3)
        | bits(r.threadmask, 56, 2)
    end
    return c | bits(r.threadmask, 56, 8)
  end
  return bits(code, 0, 8) | bits(r.rdwrmask, 8, 2)
end

-- The AMD parts read from the kernel's tables (libpfm4 names for the
-- model; generic counters per amd_core_pmu_init: 6 on every Zen, from
-- PerfMonV2's CPUID 0x80000022 on Zen 4 and later, which reports 6).
M.AMD_MODELS = {
  { model = "amd64_fam1ah_zen5", dir = "amdzen5", family = 0x1a, generic = 6, perfmon_v2 = true, cli = true },
  -- libpfm4 has these; read only to check our reading of the format
  -- against libpfm4's encodings (spec/kernel_json_spec.lua)
  { model = "amd64_fam19h_zen4", dir = "amdzen4", family = 0x19, generic = 6, perfmon_v2 = true },
  { model = "amd64_fam19h_zen3", dir = "amdzen3", family = 0x19, generic = 6 },
  { model = "amd64_fam17h_zen2", dir = "amdzen2", family = 0x17, generic = 6 },
  { model = "amd64_fam17h_zen1", dir = "amdzen1", family = 0x17, generic = 6 },
}

-- The model --pmu NAME chooses from the kernel's tables (its libpfm4-style
-- name or the kernel's directory name, any case), or nil. all: also the
-- ones libpfm4 has (specs).
function M.amd_model(name, all)
  if type(name) ~= "string" then return nil end
  local l = name:lower()
  for _, m in ipairs(M.AMD_MODELS) do
    if (m.cli or all) and (l == m.model or l == m.dir) then return m end
  end
  return nil
end

-- The kernel-JSON model of this machine's processor (a Zen 5 host, which
-- libpfm4 4.13 does not detect), as the kernel's x86/mapfile.csv picks
-- it ("AuthenticAMD-26-..."): the vendor from CPUID leaf 0, the family
-- from leaf 1 (base family, plus the extended family when the base is
-- 0xf). nil elsewhere (other processors, not x86). cpuid: core.cpuid's
-- shape (specs give their own).
function M.host_amd_model(cpuid)
  cpuid = cpuid or core.cpuid
  local max, b, c, d = cpuid(0)
  if not max or string.pack("<I4I4I4", b, d, c) ~= "AuthenticAMD" then return nil end
  local a = cpuid(1)
  if not a then return nil end
  local family = (a >> 8) & 0xf
  if family == 0xf then family = family + ((a >> 20) & 0xff) end
  for _, m in ipairs(M.AMD_MODELS) do
    if m.cli and m.family == family then return m end
  end
  return nil
end

-- A model's records: core events of PMU "cpu" (PERF_TYPE_RAW, the AMD
-- layout, m.generic generic counters, no fixed ones), uncore ones of
-- amd_l3 / amd_df / amd_umc with their unit and nothing else (their rules
-- are pmu/uncore.lua's, their counter counts too: on_host, this machine
-- is the modelled CPU and its CPUID says). root: the pmu-events
-- directory. Returns records, or nil, message.
function M.amd(m, root, on_host)
  root = root or M.default_dir()
  if not root then return nil, M.MISSING end
  local rel = "x86/" .. m.dir
  local entries, err = M.read_dir(root .. "/" .. rel, rel)
  if not entries then return nil, err end
  local out, seen = {}, {}
  for _, r in ipairs(entries) do
    if r.name and r.code and not seen[r.name] then
      seen[r.name] = true
      local rec = {
        name = r.name, model = m.model, source = M.SOURCE, file = r.file,
        desc = r.desc or r.long_desc, long_desc = r.long_desc,
        event_code = r.code, umask = r.umask or 0, deprecated = r.deprecated or nil,
        hardware = true, config1 = 0, config2 = 0,
      }
      local pmu = r.unit and M.AMD_UNITS[r.unit]
      if r.unit then
        rec.unit = r.unit
        rec.pmu = pmu or ("amd_" .. r.unit:lower():gsub("[^%w]+", "_"))
        rec.config = M.amd_uncore_config(rec.pmu, r, m.family, m.perfmon_v2)
        local n, from = uncore.amd_counters(rec.pmu, on_host and core.cpuid or nil)
        if n then
          rec.counters = { generic_count = n, fixed_count = 0 }
          rec.counters_from = from
        end
      else
        if r.code > 0xfff then
          return nil, string.format("%s: %s: EventCode 0x%x is beyond the core's 12 bits", r.file, r.name, r.code)
        end
        rec.pmu, rec.type = "cpu", 4
        rec.config = M.amd_core_config(r.code, r.umask)
        rec.counters = { generic_count = m.generic, fixed_count = 0 }
      end
      out[#out + 1] = rec
    end
  end
  return out
end

---------------------------------------------------------------------------
-- arm64 (PMUv3).

M.ARM64_COMMON = { "arm64/common-and-microarch.json", "arm64/recommended.json" }
-- The architecture's standard metrics: a part's metrics.json refers to
-- them by ArchStdEvent as well (perf's jevents resolves both kinds).
M.ARM64_METRICS = "arm64/sbsa.json"
M.MIDR_PATH = "/sys/devices/system/cpu/cpu0/regs/identification/midr_el1"

-- The architectural and micro-architectural events by name and by number
-- (common-and-microarch.json, then recommended.json) and the standard
-- metrics' names: {by_name=, by_code=, metrics=}.
function M.arm64_common(root)
  local by_name, by_code, metrics = {}, {}, {}
  if util.exists(root .. "/" .. M.ARM64_METRICS) then
    local _, names = M.read(root .. "/" .. M.ARM64_METRICS)
    for _, n in ipairs(names or {}) do metrics[n] = true end
  end
  for _, f in ipairs(M.ARM64_COMMON) do
    local entries, err = M.read(root .. "/" .. f)
    if not entries then return nil, err end
    for _, r in ipairs(entries) do
      if r.name and r.code then
        by_name[r.name] = by_name[r.name] or r
        by_code[r.code] = by_code[r.code] or r
      end
    end
  end
  return { by_name = by_name, by_code = by_code, metrics = metrics }
end

-- An entry with its ArchStdEvent reference resolved: the common event's
-- fields where the entry has none (perf's jevents does the same); false
-- for a reference to a standard metric (no event); nil, message for a
-- reference to neither.
function M.resolve_std(r, common)
  if not r.std then return r end
  local s = common.by_name[r.std]
  if not s and common.metrics and common.metrics[r.std] then return false end
  if not s then return nil, string.format("%s: ArchStdEvent %s names no common event", r.file or "?", r.std) end
  local out = {}
  for k, v in pairs(s) do out[k] = v end
  for k, v in pairs(r) do out[k] = v end
  out.name = r.name or s.name
  return out
end

-- The part directory mapfile.csv gives a MIDR ("0x00000000410fd0c0"),
-- or nil. The implementer, architecture and part number fields count;
-- the variant and revision do not (mapfile lists them as 0, and perf
-- matches a part whatever its revision). A directory that climbs out of
-- the tree ("..") is never followed.
function M.arm64_part(root, midr)
  local v = type(midr) == "string" and tonumber((util.trim(midr):match("^0[xX](%x+)$")) or "", 16)
  if not v then return nil end
  local mask = ~0xf0000f -- MIDR_EL1.Variant [23:20] and Revision [3:0]
  local text = read_bounded(root .. "/arm64/mapfile.csv")
  if not text then return nil end
  for line in text:gmatch("[^\n]+") do
    local id, dir = line:match("^0[xX](%x+),[^,]*,([%w_%-%./]+),core")
    local n = id and #id <= 16 and tonumber(id, 16)
    if n and n & mask == v & mask and not dir:find("..", 1, true) then return dir end
  end
  return nil
end

-- The core PMUv3 events of this machine: the events/ the kernel lists
-- for its armv8 PMU (pmus: catalog.sysfs_pmus'; only the events the
-- PMCEID registers say are implemented appear there:
-- armv8pmu_event_attr_is_visible()), named by the common tables, and
-- the part's own events when its MIDR matches mapfile.csv. Records of
-- PMU "cpu" (PERF_TYPE_RAW: the kernel hands raw events to the CPU's
-- PMU), so that the counters the kernel reports (capacity.lua) apply.
-- opts: root, midr (the MIDR text; default the sysfs file). Returns
-- records (possibly none), note (nil or a line for catalog.skipped).
function M.arm64(pmus, opts)
  opts = opts or {}
  local arm = {}
  for _, p in ipairs(pmus or {}) do
    if p.name:match("^armv8_") then arm[#arm + 1] = p end
  end
  if #arm == 0 then return {} end
  local root = opts.root or M.default_dir()
  if not root then return {}, "arm64 event names: " .. M.MISSING end
  local common, err = M.arm64_common(root)
  if not common then return {}, "arm64 event names: " .. err end
  local note
  if #arm > 1 then
    -- big.LITTLE: raw events would open on one of them only
    note = string.format("arm64: %d core PMUs (%s ...): only %s's events are named", #arm, arm[2].name, arm[1].name)
  end
  local p = arm[1]
  local out, by_code = {}, {}
  -- listed: sysfs lists it (else the part's JSON alone says it is there)
  local function add(code, r, file, listed)
    if by_code[code] then return end
    local rec = {
      name = r and r.name or string.format("r%x", code), pmu = "cpu", source = M.SOURCE,
      file = file, type = 4, config = code, config1 = 0, config2 = 0,
      desc = r and (r.desc or r.long_desc) or nil, long_desc = r and r.long_desc or nil,
      event_code = code, hardware = true, armv8_pmu = p.name, sysfs_pmu = listed and p.name or nil,
    }
    by_code[code] = rec
    out[#out + 1] = rec
  end
  local part = M.arm64_part(root, opts.midr or util.read_line(M.MIDR_PATH))
  local part_entries = {}
  if part then
    local entries, perr = M.read_dir(root .. "/arm64/" .. part, "arm64/" .. part)
    if entries then
      for _, r in ipairs(entries) do
        local res = not r.unit and M.resolve_std(r, common)
        if res and res.code and res.name then part_entries[res.code] = res end
      end
    else
      note = "arm64 part events: " .. perr
    end
  end
  for _, ev in ipairs(p.events) do
    local code = math.tointeger(ev.config) or 0
    local sysname = ev.name:match("/([^/]+)/$")
    local r = part_entries[code] or common.by_code[code]
    local rec_r = r or (sysname and { name = sysname:upper() }) or nil
    add(code, rec_r, r and r.file or ("sysfs:" .. p.name), true)
    local rec = by_code[code]
    if sysname and sysname:upper() ~= rec.name then rec.aliases = { sysname } end
  end
  -- the part's other events (recommended ones from 0x40 and its
  -- IMPLEMENTATION DEFINED ones, which sysfs does not list): the part's
  -- JSON says it has them
  local codes = {}
  for code in pairs(part_entries) do codes[#codes + 1] = code end
  table.sort(codes)
  for _, code in ipairs(codes) do add(code, part_entries[code], part_entries[code].file) end
  return out, note
end

return M
