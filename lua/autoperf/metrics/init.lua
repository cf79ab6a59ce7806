-- Metrics: formulas over events, from Intel's metric files (the TMA tree
-- and the rest) and Linux perf's MetricExpr files, compiled by our own
-- parser (metrics/parse.lua) and computed from a profile's counts.
--
--   local metrics = require "autoperf.metrics"
--   local set = assert(metrics.load("skylakex_metrics.json"))
--   set.metrics[1].name, .events, .formula, .unit, .level, .parent
--   metrics.select(set, {"IPC", "TopdownL1"})     -- names or groups
--   metrics.compute(set, dir)                     -- values from a profile
local util = require "autoperf.util"
local parse = require "autoperf.metrics.parse"
local anchors = require "autoperf.anchors"

local M = {}

-- How deep perf metrics may refer to other metrics (perf's own files: 4).
M.MAX_REF_DEPTH = 32

-- The largest metric file read (Intel's largest is under 2 MB).
M.MAX_FILE = 64 << 20

-- The bundled metric files (examples/metrics/), by short name.
M.BUNDLED = { software = "software.json", arm64 = "arm64.json" }

-- Constants the formulas name, and what each means. Intel's spelling
-- first; perf's #name spellings map onto them.
local PERF_CONSTANTS = {
  ["#system_tsc_freq"] = "SYSTEM_TSC_FREQ", ["#smt_on"] = "HYPERTHREADING_ON",
  ["#num_cores"] = "CORE_COUNT", ["#num_packages"] = "SOCKET_COUNT", ["#num_cpus"] = "CPU_COUNT",
  ["#num_cpus_online"] = "CPU_COUNT", ["#num_dies"] = "SOCKET_COUNT", ["#core_wide"] = "HYPERTHREADING_ON",
  ["#slots"] = "SLOTS", ["#has_pmem"] = "HAS_PMEM",
}
M.CONSTANTS = {
  SYSTEM_TSC_FREQ = true, HYPERTHREADING_ON = true, THREADS_PER_CORE = true, SOCKET_COUNT = true,
  CORES_PER_SOCKET = true, CHAS_PER_SOCKET = true, CPU_COUNT = true, CORE_COUNT = true,
  DURATIONTIMEINMILLISECONDS = true, DURATIONTIMEINSECONDS = true, SLOTS = true, HAS_PMEM = true,
}
-- Intel's expression constants, as written in the files
local EXPR_CONSTANTS = { ["system.sockets[0].cpus.count * system.socket_count"] = "CPU_COUNT" }

local function where(path, metric, field, e)
  return string.format("%s: metric '%s': %s at %d: %s", path, util.printable(metric, 80), field, e.pos, e.msg)
end

local function groups_of(s)
  local out = {}
  for g in (s or ""):gmatch("[^;,%s]+") do out[#out + 1] = g end
  return out
end

local function add_event(m, name)
  if not m.event_set[name] then
    m.event_set[name] = true
    m.events[#m.events + 1] = name
  end
end

-- Intel's metric: Formula over aliases of Events and Constants;
-- BaseFormula (over other metrics and events, informational) parsed too;
-- Threshold.Formula over ThresholdMetrics' aliases (other metrics by
-- their LegacyName).
local function intel_metric(path, r)
  local name = r.MetricName
  local m = {
    name = name, legacy = r.LegacyName, desc = r.BriefDescription, unit = r.UnitOfMeasure or "",
    level = math.tointeger(tonumber(r.Level)) or tonumber(r.Level) or 1, parent = r.ParentCategory, category = r.Category,
    groups = groups_of(r.MetricGroup), events = {}, event_set = {}, constants = {}, text = r.Formula, names = {},
  }
  if m.parent == "" then m.parent = nil end
  m.tma = r.Category == "TMA"
  local alias = {}
  for _, e in ipairs(r.Events or {}) do
    alias[e.Alias] = { kind = "event", name = e.Name }
    add_event(m, e.Name)
  end
  for _, c in ipairs(r.Constants or {}) do
    local cname = EXPR_CONSTANTS[c.Name] or c.Name
    if cname:match("^%d+%.?%d*$") then
      alias[c.Alias] = { kind = "num", value = tonumber(cname) }
    else
      if not M.CONSTANTS[cname] then
        return nil, where(path, name, "Constants", { pos = 1, msg = "unknown constant '" .. util.printable(c.Name, 80) .. "'" })
      end
      alias[c.Alias] = { kind = "const", name = cname }
      m.constants[cname] = true
    end
  end
  local ast, perr = parse.parse(r.Formula, "intel")
  if not ast then return nil, where(path, name, "Formula", perr) end
  local slots = {}
  local f, cerr = parse.compile(ast, function(n)
    local a = alias[n]
    if not a and M.CONSTANTS[n:upper()] then
      -- an unaliased constant (DURATIONTIMEINSECONDS)
      a = { kind = "const", name = n:upper() }
      m.constants[a.name] = true
    end
    if not a then return nil, "unknown alias '" .. n .. "'" end
    slots[#slots + 1] = a
    m.names[n] = a
    return #slots
  end)
  if not f then return nil, where(path, name, "Formula", cerr) end
  m.fn, m.slots, m.ast = f, slots, ast
  if r.BaseFormula and r.BaseFormula:find("%S") then
    local bast, berr = parse.parse(r.BaseFormula, "intel")
    if not bast then return nil, where(path, name, "BaseFormula", berr) end
    m.base = r.BaseFormula
  end
  local th = r.Threshold
  if type(th) == "table" and type(th.Formula) == "string" and th.Formula:find("%S") then
    local tast, terr = parse.parse(th.Formula, "intel")
    if not tast then return nil, where(path, name, "Threshold", terr) end
    local talias = {}
    for _, a in ipairs(th.ThresholdMetrics or {}) do talias[a.Alias] = a.Value end
    m.threshold = { ast = tast, alias = talias, text = th.BaseFormula or th.Formula }
  end
  return m
end

-- perf's names: events (with modifiers), #constants, duration_time, and
-- other metrics by MetricName.
local function perf_metric(path, r)
  local name = r.MetricName
  local m = {
    name = name, desc = r.BriefDescription, level = 1, groups = groups_of(r.MetricGroup),
    events = {}, event_set = {}, constants = {}, text = r.MetricExpr, refs = {}, names = {},
  }
  local scale, unit = tostring(r.ScaleUnit or ""):match("^([%d%.eE%+%-]*)(.*)$")
  m.scale, m.unit = tonumber(scale) or 1, unit or ""
  local ast, perr = parse.parse(r.MetricExpr, "perf")
  if not ast then return nil, where(path, name, "MetricExpr", perr) end
  m.ast = ast
  if r.MetricThreshold and r.MetricThreshold:find("%S") then
    local tast, terr = parse.parse(r.MetricThreshold, "perf")
    if not tast then return nil, where(path, name, "MetricThreshold", terr) end
    m.threshold = { ast = tast, text = r.MetricThreshold, perf = true }
  end
  return m
end

-- Second pass over perf metrics: names become events, constants or
-- references to metrics of the same file.
local function perf_bind(path, m, by_name)
  local slots = {}
  local f, cerr = parse.compile(m.ast, function(n, fname)
    local a
    if fname == "strcmp_cpuid_str" then
      a = { kind = fname, name = n }
    elseif fname then
      a = { kind = fname, name = n }
      add_event(m, n)
    elseif PERF_CONSTANTS[n:lower()] then
      -- (perf's literals ignore case: #SMT_on is #smt_on)
      a = { kind = "const", name = PERF_CONSTANTS[n:lower()] }
      m.constants[a.name] = true
    elseif n:sub(1, 1) == "#" then
      return nil, "unknown constant '" .. n .. "'"
    elseif n == "duration_time" then
      a = { kind = "duration" }
    elseif by_name[n] and by_name[n] ~= m then
      a = { kind = "metric", name = n }
      if not m.ref_set then m.ref_set = {} end
      if not m.ref_set[n] then
        m.ref_set[n] = true
        m.refs[#m.refs + 1] = n
      end
    else
      a = { kind = "event", name = n }
      add_event(m, n)
    end
    slots[#slots + 1] = a
    m.names[n] = a
    return #slots
  end)
  if not f then return nil, where(path, m.name, "MetricExpr", cerr) end
  m.fn, m.slots = f, slots
  return true
end

-- Loads a metric file (either dialect). Returns a set {path=, dialect=,
-- metrics={...}, by_name={}, groups={[group]={names}}}, or nil, one line
-- naming the file, the metric, the field and the position.
function M.load(path)
  if M.BUNDLED[path] then path = M.bundled_path(path) end
  local data, rerr = util.read_file(path)
  if not data then return nil, path .. ": " .. tostring(rerr or "cannot read") end
  if #data > M.MAX_FILE then
    return nil, string.format("%s: %d bytes, more than a metric file's %d", path, #data, M.MAX_FILE)
  end
  local doc, jerr = util.json_decode(data, path)
  if not doc then return nil, jerr end
  local set = { path = path, metrics = {}, by_name = {}, by_legacy = {}, groups = {} }
  local records
  if type(doc) == "table" and type(doc.Metrics) == "table" then
    set.dialect, records = "intel", doc.Metrics
    set.header = doc.Header
  elseif type(doc) == "table" and #doc > 0 then
    set.dialect, records = "perf", doc
  else
    return nil, path .. ": not a metric file (neither Intel's {Header, Metrics} nor perf's [{MetricName, MetricExpr}])"
  end
  local std -- arm64's standard metrics (sbsa.json), for ArchStdEvent references
  for i, r in ipairs(records) do
    -- perf's files mix events with metrics (AMD's recommended.json):
    -- an entry with an EventName and no MetricName is an event, as
    -- perf's jevents.py takes it
    if set.dialect == "perf" and type(r) == "table" and r.MetricName == nil and r.EventName ~= nil then
      goto next
    end
    if set.dialect == "perf" and type(r) == "table" and r.MetricName == nil and type(r.ArchStdEvent) == "string" then
      -- perf's arm64 files name a standard metric (sbsa.json two levels
      -- up, as perf's jevents.py reads it), possibly with their own MetricExpr
      if not r.MetricExpr then
        if std == nil then
          std = false
          local d = path:match("^(.*)/[^/]*$") or "."
          for _, up in ipairs({ "/../../sbsa.json", "/../sbsa.json", "/sbsa.json" }) do
            local doc2 = util.read_file(d .. up) and util.json_decode(util.read_file(d .. up))
            if type(doc2) == "table" then
              std = {}
              for _, x in ipairs(doc2) do
                if type(x) == "table" and x.MetricName then std[x.MetricName:lower()] = x end
              end
              break
            end
          end
        end
        local base = std and std[r.ArchStdEvent:lower()]
        if not base then
          return nil, string.format("%s: metric %d: ArchStdEvent '%s' is not in the architecture's sbsa.json", path, i,
            util.printable(r.ArchStdEvent, 80))
        end
        local merged = {}
        for k, v in pairs(base) do merged[k] = v end
        for k, v in pairs(r) do merged[k] = v end
        r = merged
      else
        local merged = { MetricName = r.ArchStdEvent:lower() }
        for k, v in pairs(r) do merged[k] = v end
        r = merged
      end
    end
    if type(r) ~= "table" or type(r.MetricName) ~= "string" then
      return nil, string.format("%s: metric %d has no MetricName", path, i)
    end
    local text = set.dialect == "intel" and r.Formula or r.MetricExpr
    if type(text) ~= "string" then
      return nil, where(path, r.MetricName, set.dialect == "intel" and "Formula" or "MetricExpr",
        { pos = 1, msg = "missing" })
    end
    local m, err
    if set.dialect == "intel" then m, err = intel_metric(path, r) else m, err = perf_metric(path, r) end
    if not m then return nil, err end
    m.index = #set.metrics + 1
    set.metrics[m.index] = m
    set.by_name[m.name] = m
    if m.legacy then set.by_legacy[m.legacy] = m end
    for _, g in ipairs(m.groups) do
      set.groups[g] = set.groups[g] or {}
      table.insert(set.groups[g], m.name)
    end
    ::next::
  end
  if #set.metrics == 0 then return nil, path .. ": no metric in it (a file of events only?)" end
  if set.dialect == "perf" then
    for _, m in ipairs(set.metrics) do
      local ok, err = perf_bind(path, m, set.by_name)
      if not ok then return nil, err end
    end
    -- a metric's events include those of the metrics it refers to
    local closed = {}
    local function close(m, seen, depth)
      if closed[m] then return true end
      if depth > M.MAX_REF_DEPTH then
        return nil, where(path, m.name, "MetricExpr", { pos = 1, msg = "metrics refer to metrics more than " ..
          M.MAX_REF_DEPTH .. " deep" })
      end
      for _, r in ipairs(m.refs) do
        local o = set.by_name[r]
        if seen[o] then return nil, where(path, m.name, "MetricExpr", { pos = 1, msg = "refers to itself through '" .. r .. "'" }) end
        seen[o] = true
        local ok, err = close(o, seen, depth + 1)
        if not ok then return nil, err end
        for _, e in ipairs(o.events) do add_event(m, e) end
        seen[o] = nil
      end
      -- (each metric's events are closed once: a diamond of references
      -- is not walked once per path)
      closed[m] = true
      return true
    end
    for _, m in ipairs(set.metrics) do
      local ok, err = close(m, { [m] = true }, 1)
      if not ok then return nil, err end
    end
  end
  -- thresholds: aliases to metrics by legacy name (Intel) or names (perf)
  for _, m in ipairs(set.metrics) do
    local th = m.threshold
    if th then
      local slots = {}
      local f, cerr = parse.compile(th.ast, function(n)
        local o = th.alias and set.by_legacy[th.alias[n] or ""] or set.by_name[n]
        if not o then return nil, "unknown metric '" .. n .. "'" end
        slots[#slots + 1] = o.name
        return #slots
      end)
      if not f then
        -- a threshold is advice: one that names what the file lacks is dropped, said so
        m.threshold = nil
        m.threshold_error = where(path, m.name, "Threshold", cerr)
      else
        th.fn, th.slots, th.ast = f, slots, nil
      end
    end
  end
  return set
end

-- The bundled metric files live in examples/metrics/ beside lua/.
function M.bundled_path(short)
  local here = debug.getinfo(1, "S").source:match("^@(.*)/lua/autoperf/metrics/init%.lua$")
  local roots = { here and (here .. "/examples/metrics"), os.getenv("AUTOPERF_SHARE") and (os.getenv("AUTOPERF_SHARE") .. "/metrics") }
  for _, r in ipairs(roots) do
    local p = r .. "/" .. M.BUNDLED[short]
    if util.exists(p) then return p end
  end
  return (roots[1] or "examples/metrics") .. "/" .. M.BUNDLED[short]
end

-- The metrics chosen by names (a list or "a,b"): metric names, group
-- names (MetricGroup), or "all" (nil: all). Returns a list of metrics, or
-- nil, message naming the unknown one.
function M.select(set, names)
  if type(names) == "string" then names = groups_of(names) end
  if not names or #names == 0 then names = { "all" } end
  local out, seen = {}, {}
  local function add(m) util.append_new(out, seen, m) end
  for _, n in ipairs(names) do
    if n == "all" then
      for _, m in ipairs(set.metrics) do add(m) end
    elseif set.by_name[n] then
      add(set.by_name[n])
    elseif set.groups[n] then
      for _, mn in ipairs(set.groups[n]) do add(set.by_name[mn]) end
    else
      local lower = n:lower()
      local hit
      for _, m in ipairs(set.metrics) do
        if m.name:lower() == lower then hit = m end
      end
      if not hit then
        local all = {}
        for _, m in ipairs(set.metrics) do all[#all + 1] = m.name end
        for g in pairs(set.groups) do all[#all + 1] = g end
        local near = util.closest(n, all, 3)
        return nil, "no metric or metric group '" .. util.printable(n, 80) .. "' in " .. set.path ..
          (#near > 0 and (" (did you mean " .. table.concat(near, ", ") .. "?)") or "")
      end
      add(hit)
    end
  end
  -- perf metrics that refer to others need them computed too
  local i = 1
  while i <= #out do
    for _, r in ipairs(out[i].refs or {}) do add(set.by_name[r]) end
    i = i + 1
  end
  return out
end

-- The distinct event names the metrics need, in order.
function M.events_of(list)
  local out, seen = {}, {}
  for _, m in ipairs(list) do
    for _, e in ipairs(m.events) do util.append_new(out, seen, e) end
  end
  return out
end

-- The constants of M.constants known before anything is counted (the
-- machine's topology and hyper-threading state): M.live_events folds
-- them.
M.FIXED = { HYPERTHREADING_ON = true, THREADS_PER_CORE = true, SOCKET_COUNT = true, CPU_COUNT = true,
            CORE_COUNT = true, CORES_PER_SOCKET = true }

-- The events m's formula reads under consts (M.constants), in order: a
-- branch the machine's constants (M.FIXED) rule out reads nothing, so
-- its events need no count (Skylake's Frontend_Bound reads
-- CPU_CLK_UNHALTED.THREAD_ANY with hyper-threading on,
-- CPU_CLK_UNHALTED.THREAD without; both need fixed counter 1, so only
-- the one read lets the metric fit one run). A metric m refers to
-- (perf's) adds the events it reads. by_name: the set's metrics; memo:
-- {[metric] = events}, shared by the calls under the same consts.
function M.live_events(m, consts, by_name, memo)
  memo = memo or {}
  if memo[m] then return memo[m] end
  if not (m.ast and m.names and consts) then return m.events end
  -- (load refuses a metric that refers to itself: this only stops a
  -- walk through a set that was not loaded)
  memo[m] = m.events
  local function fixed(n)
    local a = m.names[n]
    if a and a.kind == "num" then return a.value end
    local c = a and a.kind == "const" and M.FIXED[a.name] and consts[a.name]
    return c and c.value + 0.0 or nil
  end
  local out, seen = {}, {}
  for _, n in ipairs(parse.reads(m.ast, fixed)) do
    local a = m.names[n] or {}
    if a.kind == "metric" then
      local o = by_name and by_name[a.name]
      for _, e in ipairs(o and M.live_events(o, consts, by_name, memo) or {}) do util.append_new(out, seen, e) end
    elseif a.kind == "event" or a.kind == "source_count" or a.kind == "has_event" then
      util.append_new(out, seen, a.name)
    end
  end
  memo[m] = out
  return out
end

-- Event names with Intel's modifiers (perfmon's metric files) and perf's
-- pmu@terms@ spellings, to records of the catalog with the right encoding:
--   :cN cmask (config 24-31)  :e1 edge (18)  :i1 inv (23)  :uXX umask (8-15)
--   :SUP kernel only  :USER user only  :ocr_msr_val=V, :filter1=V, config1=V: config1
--   :perf_metrics :percore :one_unit  how perf aggregates, same encoding
-- (intel.core_config's bits, /sys/bus/event_source/devices/cpu/format).
local MOD_SAME = { perf_metrics = "TOPDOWN slots with the perf-metrics fixed counter",
                   percore = "summed over the core's threads", one_unit = "one uncore unit" }

local function parse_mods(text)
  local mods = {}
  for mod in text:gmatch("[^:,]+") do
    local k, v = mod:match("^([%a_][%w_]*)=(.+)$")
    local num = v and math.tointeger(tonumber(v)) or (v and v:match("^0[xX]%x+$") and math.tointeger(tonumber(v:sub(3), 16)))
    if k and num then
      if k == "ocr_msr_val" or k == "filter1" or k == "config1" then
        mods.config1 = num
      else
        return nil, "unknown modifier '" .. mod .. "'"
      end
    elseif mod:match("^c%d+$") then
      mods.cmask = tonumber(mod:sub(2))
    elseif mod:match("^e[01]$") then
      mods.edge = mod == "e1"
    elseif mod:match("^i[01]$") then
      mods.inv = mod == "i1"
    elseif mod:match("^u0[xX]%x+$") then
      mods.umask = tonumber(mod:sub(4), 16)
    elseif mod == "SUP" or mod == "k" then
      mods.kernel_only = true
    elseif mod == "USER" or mod == "u" then
      mods.user_only = true
    elseif MOD_SAME[mod] then
      mods.note = MOD_SAME[mod]
    else
      return nil, "unknown modifier '" .. mod .. "'"
    end
  end
  return mods
end

-- Intel's PERF_METRICS.* pseudo-events, as the kernel's sysfs names them
local TOPDOWN = {
  ["PERF_METRICS.RETIRING"] = "topdown-retiring", ["PERF_METRICS.BAD_SPECULATION"] = "topdown-bad-spec",
  ["PERF_METRICS.FRONTEND_BOUND"] = "topdown-fe-bound", ["PERF_METRICS.BACKEND_BOUND"] = "topdown-be-bound",
  ["PERF_METRICS.HEAVY_OPERATIONS"] = "topdown-heavy-ops", ["PERF_METRICS.BRANCH_MISPREDICTS"] = "topdown-br-mispredict",
  ["PERF_METRICS.FETCH_LATENCY"] = "topdown-fetch-lat", ["PERF_METRICS.MEMORY_BOUND"] = "topdown-mem-bound",
}

-- base name and modifier text of an event name as metric files spell it
local function split_name(name)
  local pmu, inner = name:match("^([%w_]+)@(.-)@$")
  if pmu then
    local base, rest = inner:match("^([^,]+),?(.*)$")
    return base, rest
  end
  local base, rest = name:match("^([^:]+):(.*)$")
  if base then return base, rest end
  return name, ""
end

-- The record of the catalog an event name of a metric file stands for,
-- named as the metric file names it; nil, message when the catalog has
-- no such event or a modifier is unknown.
function M.encode(cat, name, half)
  local catalog = require "autoperf.catalog"
  local base, rest = split_name(name)
  local function known(n) return cat.by_name[n] or cat.by_lname[n:lower()] end
  if half then
    -- a hybrid part's file describes one half (half: its core PMU): a
    -- name both halves have is in the catalog as cpu_core/NAME/
    local q = require("autoperf.pmu.hybrid").qualified(half, base)
    if known(q) and rest == "" then
      local ev, err = M.encode(cat, q)
      if not ev then return nil, err end
      ev.name = name
      return ev
    elseif known(q) then
      base = q -- its modifiers applied below
    end
  end
  local sources = require "autoperf.catalog.sources"
  if known(name) or sources.ALIASES[name] or name:find("/", 1, true) then
    -- a name the catalog resolves as it is (a tracepoint sys:name, cs)
    local evs, serr = catalog.select(cat, { name })
    if evs and #evs == 1 then return evs[1] end
    return nil, serr
  end
  local td = TOPDOWN[base]
  if td then
    -- Ice Lake and later: the PERF_METRICS MSR's fractions, which the
    -- kernel offers as cpu/topdown-*/ (counted in slots, read beside a
    -- slots leader: arch/x86/events/intel/core.c, EVENT_ATTR_STR(topdown-*)
    -- and intel_pmu_hw_config's is_metric_event check)
    local evs = catalog.select(cat, { (half or "cpu") .. "/" .. td .. "/" })
    if evs and #evs == 1 then
      local copy = {}
      for k, v in pairs(evs[1]) do copy[k] = v end
      copy.name, copy.base = name, evs[1].name
      return copy
    end
    return nil, "event '" .. base .. "': the PERF_METRICS fraction the kernel names cpu/" .. td ..
      "/; this PMU (or its model) has no such event"
  end
  if not known(base) and name ~= "TSC" then
    -- (no closest-name search: a metric file names many events of other PMUs)
    return nil, "unknown event '" .. util.printable(base, 120) .. "'"
  end
  if name == "TSC" or name == "msr@tsc@" then
    -- the time-stamp counter: the msr PMU's tsc (arch/x86/events/msr.c)
    local tsc, terr = catalog.select(cat, { "msr/tsc/" })
    if not tsc then return nil, "event 'TSC': " .. terr end
    local copy = {}
    for k, v in pairs(tsc[1]) do copy[k] = v end
    copy.name, copy.base = name, tsc[1].name
    return copy
  end
  local mods, merr = parse_mods(rest)
  if not mods then return nil, "event '" .. util.printable(name, 120) .. "': " .. merr end
  local bevs, berr = catalog.select(cat, { base })
  if not bevs then return nil, berr end
  local ev = bevs[1]
  local copy = {}
  for k, v in pairs(ev) do copy[k] = v end
  copy.name, copy.base, copy.aliases, copy.group = name, ev.name, nil, nil
  if mods.cmask or mods.edge ~= nil or mods.inv ~= nil or mods.umask then
    if not ev.event_code then
      return nil, "event '" .. util.printable(name, 120) .. "': " .. ev.name .. " has no perfmon fields to modify (cmask, edge, inv, umask)"
    end
    local f = { code = ev.event_code, umask = mods.umask or ev.umask or 0, cmask = mods.cmask or ev.cmask or 0,
                edge = mods.edge == nil and ev.edge or mods.edge, inv = mods.inv == nil and ev.inv or mods.inv,
                any = ev.any, umask_ext = ev.umask_ext }
    local intel = require "autoperf.pmu.intel"
    copy.cmask, copy.edge, copy.inv, copy.umask = f.cmask, f.edge, f.inv, f.umask
    copy.config = ev.uncore and intel.uncore_config(f) or intel.core_config(f)
  end
  if mods.config1 then copy.config1 = mods.config1 end
  if mods.kernel_only then copy.exclude_user, copy.exclude_kernel, copy.exclude_hv = true, false, true end
  if mods.user_only then copy.exclude_user, copy.exclude_kernel, copy.exclude_hv = false, true, true end
  copy.metric_note = mods.note
  copy.encoding = require("autoperf.catalog.sources").encoding(copy)
  return copy
end

-- Constants from the profile's machine (manifest.machine) or the
-- simulated model: {[NAME] = {value=, from=}}. opts.tsc_hz overrides
-- SYSTEM_TSC_FREQ; opts.smt ("on"/"off") the hyper-threading state.
function M.constants(manifest, opts)
  opts = opts or {}
  manifest = manifest or {}
  local mach = manifest.machine or {}
  local cpus = mach.cpus or {}
  local sockets, cores = {}, {}
  local nsock, ncore = 0, 0
  for _, c in ipairs(cpus) do
    local s = c.socket or 0
    if not sockets[s] then sockets[s], nsock = true, nsock + 1 end
    local key = s .. "/" .. (c.core or c.cpu)
    if not cores[key] then cores[key], ncore = true, ncore + 1 end
  end
  local ncpu = #cpus
  if ncpu == 0 then
    ncpu = #require("autoperf.machine").online_cpus()
    nsock, ncore = 1, ncpu
  end
  local topo_from = mach.cpus and "the profile's machine topology (manifest)" or "this machine's online CPUs"
  local tpc = math.max(1, ncpu // math.max(1, ncore))
  local out = {
    SOCKET_COUNT = { value = nsock, from = topo_from },
    CPU_COUNT = { value = ncpu, from = topo_from },
    CORE_COUNT = { value = ncore, from = topo_from },
    CORES_PER_SOCKET = { value = ncore / math.max(1, nsock), from = topo_from },
    THREADS_PER_CORE = { value = tpc, from = topo_from },
    HYPERTHREADING_ON = { value = tpc > 1 and 1 or 0, from = topo_from },
  }
  -- the state the profile was planned with, then opts.smt's
  local planned = (manifest.settings or {}).smt
  local smt, smt_from = planned, planned and ("smt " .. planned)
  if manifest.simulated and smt == nil then
    -- a simulated perfmon model counts with HT on unless --smt off
    smt, smt_from = "on", "the simulated model's default (on unless profiled with --smt off; ap.metrics smt= overrides)"
  end
  local was = smt and (smt == "on" and 1 or 0) or out.HYPERTHREADING_ON.value
  if opts.smt then
    smt, smt_from = opts.smt, "smt " .. opts.smt
    if (smt == "on" and 1 or 0) ~= was then
      -- (the plan read the formulas with the other state: M.live_events)
      smt_from = smt_from .. " (given; the profile was planned with hyper-threading " .. (was == 1 and "on" or "off") ..
        ": the events only the other state's formulas read were not counted)"
    end
  end
  if smt then
    out.HYPERTHREADING_ON = { value = smt == "on" and 1 or 0, from = smt_from }
    out.THREADS_PER_CORE = { value = smt == "on" and 2 or 1, from = out.HYPERTHREADING_ON.from }
  end
  -- CHAs: one per core on Skylake-SP and later; the simulator gives each
  -- unit SIM_BOXES boxes
  local boxes = 0
  for _, p in ipairs(manifest.pmus or {}) do
    if tostring(p.name):match("^uncore_cha_%d+$") then boxes = boxes + 1 end
  end
  out.CHAS_PER_SOCKET = boxes > 0 and { value = boxes / math.max(1, nsock), from = "the profile's uncore_cha PMUs" }
    or { value = out.CORES_PER_SOCKET.value, from = "assumed one CHA per core (no uncore_cha PMU recorded)" }
  -- arm64's #slots: the PMU's caps/slots (PMMIR_EL1.SLOTS, read by
  -- armv8pmu's slots_show in drivers/perf/arm_pmuv3.c)
  local slots
  for _, e in ipairs(require("autoperf.core").listdir("/sys/bus/event_source/devices") or {}) do
    slots = slots or tonumber(util.read_line("/sys/bus/event_source/devices/" .. e.name .. "/caps/slots") or "")
  end
  -- perf's #has_pmem: persistent memory regions (libnvdimm's /sys/bus/nd)
  local nd = require("autoperf.core").listdir("/sys/bus/nd/devices") or {}
  local pmem = 0
  for _, e in ipairs(nd) do
    if e.name:match("^region%d+$") then pmem = 1 end
  end
  out.HAS_PMEM = { value = pmem, from = "this machine's /sys/bus/nd/devices regions" }
  out.SLOTS = slots and slots > 0 and { value = slots, from = "this machine's PMU caps/slots" }
    or { value = 0 / 0, from = "unknown (no PMU here has caps/slots)" }
  if opts.tsc_hz then
    out.SYSTEM_TSC_FREQ = { value = opts.tsc_hz, from = "given (tsc_hz)" }
  else
    local model = mach.cpu_model or ""
    local ghz = tonumber(model:match("@%s*([%d%.]+)%s*GHz") or "")
    if ghz then
      out.SYSTEM_TSC_FREQ = { value = ghz * 1e9, from = "the CPU's nominal frequency in its model name (" .. model .. ")" }
    else
      local info = util.read_file("/proc/cpuinfo") or ""
      local mhz = tonumber(info:match("\ncpu MHz%s*:%s*([%d%.]+)") or "")
      if mhz then
        out.SYSTEM_TSC_FREQ = { value = mhz * 1e6, from = "this machine's /proc/cpuinfo cpu MHz (approximate)" }
      else
        out.SYSTEM_TSC_FREQ = { value = 1e9, from = "assumed 1 GHz (no frequency known)" }
      end
    end
  end
  return out
end

-- A profile's counts, per event: which run and repetition counted it,
-- total, series; and each run's elapsed time.
local function read_counts(dir)
  local store = require "autoperf.store"
  local core = require "autoperf.core"
  local s, err = store.load(dir)
  if not s then return nil, err end
  if #s.journal == 0 then return nil, dir .. " has no completed run yet" end
  -- (read with the anchors every run counts: their series line runs up,
  -- anchors.lua; the counts take an anchor from where the data does)
  local files, rerr = core.read_profile(store.run_files(s, { anchors = true }), {})
  if not files then return nil, rerr end
  local askip = store.anchor_skip(s)
  local anchor_names = {}
  for i, n in ipairs(anchors.names(s.manifest)) do
    if i > 1 then anchor_names[n] = true end
  end
  -- the anchors the metrics read from their own runs (metrics/plan.lua):
  -- every run's count is that run's, the first one's the data's
  local anchored = {}
  local mm = type(s.manifest.metrics) == "table" and s.manifest.metrics or {}
  for _, n in ipairs(type(mm.anchored) == "table" and mm.anchored or {}) do
    if type(n) == "string" then anchored[n] = true end
  end
  local at, reps, by_run = {}, 0, {}
  -- per repetition and run: the journal entry, and the anchors' series
  local entry, anchor_at = {}, {}
  for i, e in ipairs(s.journal) do
    reps = math.max(reps, e.rep)
    entry[e.rep] = entry[e.rep] or {}
    entry[e.rep][e.run] = e
    local here, full = {}, {}
    by_run[e.rep] = by_run[e.rep] or {}
    -- (an extra run of the verification loop replaces what it re-measured)
    local prev = by_run[e.rep][e.run] or {}
    by_run[e.rep][e.run] = here
    for k, v in pairs(prev) do here[k] = here[k] or v end
    local skip = askip[e.run] or {}
    for _, ev in ipairs(files[i].events) do
      if ev.total and anchor_names[ev.name] then
        local key = e.run .. "/" .. e.rep
        anchor_at[key] = anchor_at[key] or {}
        anchor_at[key][ev.name] = { total = ev.total, series = ev.series or {}, unit = ev.unit }
      end
      local run_only = ev.total and skip[ev.name] and anchored[ev.name]
      if ev.total and (not skip[ev.name] or run_only) then
        -- NAME#2: a second count of NAME for another metric's run (metrics/plan.lua)
        local name = ev.name:match("^(.-)#%d+$") or ev.name
        local per = run_only and {} or at[name] or {}
        if not run_only then at[name] = per end
        local x = full[ev.name]
        if x then
          -- an uncore event's next box: metrics take the sum over boxes,
          -- as perf's do (:one_unit: the first box only)
          if not name:find(":one_unit", 1, true) then
            x.total, x.boxes = x.total + ev.total, x.boxes + 1
            for k, p in ipairs(x.series) do
              local q = (ev.series or {})[k]
              x.series[k] = { time = p.time, index = p.index, value = p.value + (q and q.value or 0) }
            end
          end
        else
          local series = {}
          for k, p in ipairs(ev.series or {}) do series[k] = p end
          -- the later run wins (an extra run of the verification loop)
          x = { total = ev.total, series = series, run = e.run, elapsed_ns = e.elapsed_ns,
                flagged = ev.flagged, unit = ev.unit, boxes = 1, file = i }
          full[ev.name] = x
          if not (here[name] and here[name].file == i) then
            here[name] = x
            per[e.rep] = x
          end
        end
      end
    end
  end
  return { manifest = s.manifest, at = at, reps = reps, journal = s.journal, by_run = by_run, entry = entry,
           anchor_at = anchor_at }
end

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

-- Metrics from several runs. Each run is its own execution of the
-- workload: a count of one run and a count of another are combined only
-- on one basis, that of an anchor every one of those runs counted
-- (anchors.lua): a run's counts (and its wall-clock time) are scaled by
-- ref / anchor_run, ref being the anchor's median over the runs of the
-- repetition, so that each is the count of the same amount of anchor
-- progress; per interval the runs' series are lined up by the anchor's
-- progress (analyze/series.lua's align), not by interval index. Duration
-- is no anchor here: the wall-clock time is what sleeps and disturbances
-- move, the thing an anchor corrects for.

-- The anchors (counted ones, not the duration) with a value > 0 in the
-- journal entry of every {run=, rep=} of used.
local function common_anchors(counts, used)
  local names, out = anchors.names(counts.manifest), {}
  for i = 2, #names do
    local ok = true
    for _, u in ipairs(used) do
      local e = counts.entry[u.rep] and counts.entry[u.rep][u.run]
      local v = e and anchors.values(e)[names[i]]
      if not (type(v) == "number" and v > 0) then
        ok = false
        break
      end
    end
    if ok then out[#out + 1] = names[i] end
  end
  return out
end

-- The anchor to bring used's runs to one basis by, as analysis lines
-- series up (series.pick_anchor): the one most alike across them (smallest
-- cv: the same work counts the same in every run), on a tie a work
-- anchor (instructions, then task-clock) first; nil when none is common.
local function choose_anchor(counts, used)
  local guard = require "autoperf.guard"
  local cands = {}
  for _, a in ipairs(common_anchors(counts, used)) do
    local xs = {}
    for _, u in ipairs(used) do xs[#xs + 1] = anchors.values(counts.entry[u.rep][u.run])[a] end
    cands[#cands + 1] = { name = a, cv = guard.stats(xs).cv or 0 }
  end
  return (require("autoperf.analyze.series").pick_anchor(cands))
end

-- Lines up the series of names (rep 1 of counts) by anchor's progress
-- through series.align: {[name] = {values}, ["\1duration/RUN"] = the
-- run's wall-clock ns per interval, lined up alike}, the alignment; or
-- nil, why not. A name whose run has no series of anchor is left out.
local function align_series(counts, names, anchor)
  local core = require "autoperf.core"
  local series = require "autoperf.analyze.series"
  local ds = { dir = counts.dir, reps = 1, at = {}, anchor_at = {}, anchors = { anchor, [anchor] = true } }
  local keys, runs = {}, {}
  local function mat(vals)
    return core.matrix_from({ #vals > 0 and vals or { 0 } })
  end
  local function add(key, vals, total, run)
    local m, merr = mat(vals)
    if not m then return nil, merr end
    ds.at[key] = { { m = m, row = 1, len = #vals, total = total, run = run } }
    keys[#keys + 1] = key
    return true
  end
  for _, name in ipairs(names) do
    local x = (counts.at[name] or {})[1]
    local an = x and (counts.anchor_at[x.run .. "/1"] or {})[anchor]
    if an and #an.series > 0 then
      if not ds.at[name] then
        local vals = {}
        for i, p in ipairs(x.series) do vals[i] = p.value + 0.0 end
        local ok, err = add(name, vals, x.total, x.run)
        if not ok then return nil, err end
      end
      if not runs[x.run] then
        runs[x.run] = true
        local avals, dt, prev = {}, {}, 0
        for i, p in ipairs(an.series) do avals[i] = p.value + 0.0 end
        local am, aerr = mat(avals)
        if not am then return nil, aerr end
        ds.anchor_at[x.run .. "/1"] = { [anchor] = { m = am, row = 1, len = #avals, total = an.total } }
        for i, p in ipairs(x.series) do
          dt[i] = (p.time - prev) * 1e9
          prev = p.time
        end
        local ok, err = add("\1duration/" .. x.run, dt, x.elapsed_ns, x.run)
        if not ok then return nil, err end
      end
    end
  end
  if #keys == 0 then return nil, "no run has a series of " .. anchor end
  local view, al = series.align(ds, keys, { by = anchor })
  if not view then return nil, al end
  local out = {}
  for _, k in ipairs(keys) do
    local at = view.at[k][1]
    local row, vals = at.m:row(at.row), {}
    for i = 1, at.len do vals[i] = row[i] end
    out[k] = vals
  end
  return out, al
end

-- Computes metrics (a set, or a list of its metrics with opts.set) from
-- profile dir. Returns {metrics = {{metric=, value=, reps={...}, series=
-- {{time=, value=}}, runs={...}, several_runs=bool, crossrun=, missing=
-- {names}, status=, threshold=bool|nil}}, constants=, simulated=}, or
-- nil, message. crossrun (a metric whose events come from several runs):
-- {runs=, anchor= (nil: none common to them, raw counts combined), ref=
-- {[rep] = ref}, values = {[rep] = {[run] = anchor value}}, spread= (the
-- largest max/min - 1 of the anchor over the runs of a repetition),
-- inconsistent = {{run=, rep=, why=}} (the guard's), alignment= (of the
-- intervals, a line), raw= (the mean of raw_reps: the runs' raw counts
-- combined, what the anchor corrected)}.
function M.compute(set, dir, opts)
  opts = opts or {}
  local list = set.metrics and set.metrics or set
  if opts.metrics then
    local sel, serr = M.select(set, opts.metrics)
    if not sel then return nil, serr end
    list = sel
  end
  local counts, err = read_counts(dir)
  if not counts then return nil, err end
  counts.dir = dir
  local consts = M.constants(counts.manifest, opts)
  -- each metric's events: those its formula reads under consts
  local live_memo = {}
  local function events_of(m) return M.live_events(m, consts, set.by_name, live_memo) end
  local by_name = {}
  local out = { metrics = {}, constants = consts, simulated = counts.manifest.simulated ~= nil,
                reps = counts.reps, dir = dir }
  local computed = {}
  -- one run that counted every event of m in rep (metric-aware plans
  -- make one), else nil: each event from the run that counted it last
  local chosen = {}
  local function one_run(m, rep)
    local key = m.name .. "\0" .. rep
    if chosen[key] ~= nil then return chosen[key] or nil end
    local rr = counts.by_run[rep] or {}
    local keys = {}
    for k in pairs(rr) do keys[#keys + 1] = k end
    table.sort(keys)
    local one, evs = false, events_of(m)
    for _, k in ipairs(keys) do
      local ev_names = rr[k]
      local all = #evs > 0
      for _, e in ipairs(evs) do
        if not ev_names[e] then all = false break end
      end
      if all then one = ev_names break end
    end
    chosen[key] = one
    return one or nil
  end
  -- the basis of anchor in rep: {anchor=, rep=, ref=, factor = {[run] =
  -- ref / value}, values = {[run] = value}}, one per anchor and rep
  local bases = {}
  local function basis(anchor, rep)
    local key = anchor .. "\0" .. rep
    if bases[key] then return bases[key] end
    local xs, values = {}, {}
    for run, e in pairs(counts.entry[rep] or {}) do
      local v = anchors.values(e)[anchor]
      if type(v) == "number" and v > 0 then
        xs[#xs + 1] = v
        values[run] = v
      end
    end
    local ref = require("autoperf.guard").median(xs)
    local b = { anchor = anchor, rep = rep, ref = ref, values = values, factor = {} }
    for run, v in pairs(values) do b.factor[run] = ref / v end
    b.pick = function(name) return (counts.at[name] or {})[rep] end
    bases[key] = b
    return b
  end
  -- a metric of no event (DURATIONTIMEINSECONDS alone): the lowest run's
  -- time, the same one every time
  local any = {}
  local function any_count(rep)
    if any[rep] == nil then
      local best, best_name = false, nil
      for name, per in pairs(counts.at) do
        local x = per[rep]
        if x and (not best or x.run < best.run or (x.run == best.run and name < best_name)) then
          best, best_name = x, name
        end
      end
      any[rep] = best
    end
    return any[rep] or nil
  end
  local memo = {}
  local eval
  local function eval_memo(m, rep, idx, ctx)
    -- (a metric other metrics refer to is computed once per repetition
    -- and interval: m1 = m2 + m2, m2 = m3 + m3 ... stays linear)
    local key = m.name .. "\0" .. rep .. "\0" .. tostring(idx) .. "\0" .. tostring(ctx)
    local hit = memo[key]
    if hit then return hit[1], hit[2], hit[3] end
    local v, missing, runs = eval(m, rep, idx, ctx)
    memo[key] = { v, missing, runs }
    return v, missing, runs
  end
  function eval(m, rep, idx, ctx)
    -- value of m in repetition rep (interval idx, or the total when nil);
    -- ctx: the basis of a metric from several runs (every count read
    -- through it, the metrics m refers to too), nil: raw counts
    local missing = nil
    local runs = {}
    -- one run that counted every event of m (metric-aware plans make
    -- one), else each event from the run that counted it last
    local one = not ctx and one_run(m, rep)
    local function pick(name)
      if ctx then return ctx.pick(name) end
      return one and one[name] or (counts.at[name] or {})[rep]
    end
    local function event(name)
      local x = pick(name)
      if not x then
        missing = missing or {}
        if not missing[name] then
          missing[name] = true
          missing[#missing + 1] = name
        end
        return 0 / 0
      end
      runs[x.run] = true
      if x.flagged then runs.flagged = true end
      local f = ctx and ctx.factor[x.run] or 1
      if idx == nil then return x.total * f end
      if ctx and ctx.aligned then
        local v = (ctx.aligned[name] or {})[idx]
        return v and v * f or 0 / 0
      end
      local p = x.series[idx]
      return p and (p.value * f) or 0 / 0
    end
    local function duration()
      -- of the run the metric's events were counted in (the first one)
      local first = events_of(m)[1]
      local x = first and pick(first)
      if not x then x = any_count(rep) end
      if not x then return 0 / 0 end
      local f = ctx and ctx.factor[x.run] or 1
      if idx == nil then return x.elapsed_ns * f end
      if ctx and ctx.aligned then
        local v = (ctx.aligned["\1duration/" .. x.run] or {})[idx]
        return v and v * f or 0 / 0
      end
      local p, prev = x.series[idx], x.series[idx - 1]
      if not p then return 0 / 0 end
      return (p.time - (prev and prev.time or 0)) * 1e9 * f
    end
    local get = function(slot)
      local a = m.slots[slot]
      local k = a.kind
      if k == "event" then return event(a.name)
      elseif k == "num" then return a.value
      elseif k == "const" then
        if a.name == "DURATIONTIMEINMILLISECONDS" then return duration() / 1e6 end
        if a.name == "DURATIONTIMEINSECONDS" then return duration() / 1e9 end
        return consts[a.name].value + 0.0
      elseif k == "duration" then return duration() / 1e9 -- perf's duration_time in formulas: seconds
      elseif k == "source_count" then
        local x = (counts.at[a.name] or {})[rep]
        return x and x.boxes + 0.0 or 0 / 0
      elseif k == "has_event" then return counts.at[a.name] and 1.0 or 0.0
      elseif k == "strcmp_cpuid_str" then return M.cpuid_matches(a.name) and 1.0 or 0.0
      elseif k == "metric" then
        local o = set.by_name and set.by_name[a.name]
        if not o then return 0 / 0 end
        local v, omissing, oruns = eval_memo(o, rep, idx, ctx)
        for _, n in ipairs(omissing or {}) do
          missing = missing or {}
          if not missing[n] then
            missing[n] = true
            missing[#missing + 1] = n
          end
        end
        for k in pairs(oruns or {}) do runs[k] = true end
        return v
      end
      return 0 / 0
    end
    local v = m.fn(get)
    if m.scale then v = v * m.scale end
    return v, missing, runs
  end
  -- m's raw value in rep (the runs' counts as they are), once: {v,
  -- missing, runs}
  local raw = {}
  local function raw_of(m, rep)
    local key = m.name .. "\0" .. rep
    local hit = raw[key]
    if not hit then
      hit = { eval(m, rep, nil, nil) }
      raw[key] = hit
    end
    return hit
  end
  -- the runs (sorted) whose counts m's formula read in rep, when more
  -- than one (events of a branch not taken do not count)
  local function runs_of(m, rep)
    local runs = {}
    for k in pairs(raw_of(m, rep)[3]) do
      if k ~= "flagged" then runs[#runs + 1] = k end
    end
    table.sort(runs)
    return #runs > 1 and runs or nil
  end
  -- the guard's verdicts: per "run/rep", why it judged that run
  -- inconsistent (an outlier still after its re-measurements, or one
  -- outside the tolerance of all runs' spread)
  local inconsistent
  local function verdict(run, rep)
    if not inconsistent then
      local guard = require "autoperf.guard"
      inconsistent = {}
      for _, e in ipairs(counts.journal) do
        if e.guard == "outlier" then
          inconsistent[e.run .. "/" .. e.rep] = "an outlier after its re-measurements: " .. tostring(e.guard_why or "")
        end
      end
      local g = type(counts.manifest.guard) == "table" and counts.manifest.guard or nil
      -- (a profile with the guard off: no run was judged)
      local judged = not (g and g.on == false) and counts.journal or {}
      for _, st in ipairs(guard.spread(judged, anchors.names(counts.manifest), g)) do
        for _, o in ipairs(st.outliers) do
          local key = o.run .. "/" .. o.rep
          inconsistent[key] = inconsistent[key] or string.format("its %s %s lies %.0f%% off the median %s of all runs",
            st.name, guard.format_value(st.name, o.value), (o.deviation or 0) * 100, guard.format_value(st.name, st.median))
        end
      end
    end
    return inconsistent[run .. "/" .. rep]
  end
  local aligned = {} -- per anchor: the series of every event lined up, or false, why
  local function aligned_of(anchor, m)
    local hit = aligned[anchor]
    if hit == nil then
      -- the events of every metric from several runs, lined up once
      local names, seen = {}, {}
      local function add_counted(events)
        for _, e in ipairs(events) do
          if (counts.at[e] or {})[1] then util.append_new(names, seen, e) end
        end
      end
      for _, o in ipairs(list) do
        if runs_of(o, 1) then add_counted(events_of(o)) end
      end
      add_counted(events_of(m))
      local ser, al = align_series(counts, names, anchor)
      hit = ser and { series = ser, al = al } or { why = al }
      aligned[anchor] = hit
    end
    return hit
  end
  for _, m in ipairs(list) do
    local r = { metric = m, name = m.name, unit = m.unit, reps = {}, series = {} }
    local run_set = {}
    -- from several runs? Then through which anchor (one for all repetitions)
    local used, union, cr = {}, {}, nil
    for rep = 1, math.max(1, counts.reps) do
      for _, run in ipairs(runs_of(m, rep) or {}) do
        used[#used + 1] = { run = run, rep = rep }
        union[run] = true
      end
    end
    if #used > 0 then
      cr = { runs = {}, anchor = choose_anchor(counts, used), ref = {}, values = {}, inconsistent = {} }
      for run in pairs(union) do cr.runs[#cr.runs + 1] = run end
      table.sort(cr.runs)
      r.crossrun = cr
    end
    for rep = 1, math.max(1, counts.reps) do
      local ctx
      local several = cr and runs_of(m, rep)
      if several and cr.anchor then
        ctx = basis(cr.anchor, rep)
        cr.ref[rep] = ctx.ref
        local vals, lo, hi = {}, math.huge, -math.huge
        for _, run in ipairs(several) do
          local v = ctx.values[run]
          vals[run] = v
          lo, hi = math.min(lo, v), math.max(hi, v)
        end
        cr.values[rep] = vals
        cr.spread = math.max(cr.spread or 0, hi / lo - 1)
      end
      for _, run in ipairs(several or {}) do
        local why = verdict(run, rep)
        if why then cr.inconsistent[#cr.inconsistent + 1] = { run = run, rep = rep, why = why } end
      end
      local v, missing, runs = table.unpack(raw_of(m, rep), 1, 3)
      if ctx then
        -- beside it, the raw combination (what the anchor corrected)
        cr.raw_reps = cr.raw_reps or {}
        cr.raw_reps[rep] = v
        v, missing, runs = eval(m, rep, nil, ctx)
      end
      r.reps[rep] = v
      if missing and not r.missing then
        r.missing = {}
        for i, n in ipairs(missing) do r.missing[i] = n end
      end
      if runs.flagged then r.flagged = true end
      for k in pairs(runs) do
        if k ~= "flagged" then run_set[k] = true end
      end
    end
    local sum, n = 0, 0
    for _, v in ipairs(r.reps) do
      if finite(v) then sum, n = sum + v, n + 1 end
    end
    r.value = n > 0 and sum / n or r.reps[1]
    if cr and cr.raw_reps then
      local rs, rn = 0, 0
      for _, v in pairs(cr.raw_reps) do
        if finite(v) then rs, rn = rs + v, rn + 1 end
      end
      cr.raw = rn > 0 and rs / rn or 0 / 0
    end
    if r.missing then
      -- (min/max/if of a missing count can look like a number: it is none)
      r.value = 0 / 0
      for i in ipairs(r.reps) do r.reps[i] = 0 / 0 end
    end
    r.runs = {}
    for k in pairs(run_set) do r.runs[#r.runs + 1] = k end
    table.sort(r.runs)
    r.several_runs = #r.runs > 1
    -- per interval (repetition 1), as long as its events' shortest series
    local len, clock
    local one, evs = one_run(m, 1), events_of(m)
    for _, e in ipairs(evs) do
      local x = one and one[e] or (counts.at[e] or {})[1]
      if x and (not len or #x.series < len) then len, clock = #x.series, x end
    end
    local ctx1 = cr and cr.anchor and runs_of(m, 1) and basis(cr.anchor, 1)
    if not r.missing and clock and ctx1 then
      -- lined up by the anchor's progress: interval j is the j-th equal
      -- part of every run's progress, its time the first event's run's
      local al = aligned_of(cr.anchor, m)
      for _, e in ipairs(evs) do
        local x = ctx1.pick(e)
        if al.series and x and not al.series[e] then
          al = { why = string.format("run %d has no series of %s", x.run, cr.anchor) }
        end
      end
      if al.series then
        local lctx = setmetatable({ aligned = al.series }, { __index = ctx1 })
        local first
        for _, e in ipairs(evs) do first = first or ctx1.pick(e) end
        local dur = al.series["\1duration/" .. first.run] or {}
        len = #dur
        for _, e in ipairs(evs) do
          if al.series[e] then len = math.min(len, #al.series[e]) end
        end
        local t = 0
        for i = 1, len do
          t = t + dur[i] / 1e9
          r.series[i] = { time = t, value = (eval(m, 1, i, lctx)) }
        end
        cr.alignment = string.format("intervals lined up by %s's progress: interval j is the j-th of %d equal " ..
          "parts of each run's %s (about %s), its counts on the runs' basis", cr.anchor, len, cr.anchor,
          al.al.unit_text or cr.anchor)
      else
        cr.alignment = "intervals paired by index: " .. tostring(al.why)
        for i = 1, len do
          r.series[i] = { time = clock.series[i].time, value = (eval(m, 1, i, ctx1)) }
        end
      end
    elseif not r.missing and clock then
      if cr then cr.alignment = "intervals paired by index (no anchor common to the runs)" end
      for i = 1, len do
        r.series[i] = { time = clock.series[i].time, value = (eval(m, 1, i)) }
      end
    end
    r.status = r.missing and ("not computed: " .. table.concat(r.missing, ", ") .. " not in the profile") or "ok"
    if cr and not r.missing then r.status = M.crossrun_label(cr) end
    if r.flagged and not r.missing then
      -- never silently scaled: an event that was not counted all the time
      r.status = "flagged: an event not counted all the time; " .. r.status
    end
    computed[m.name] = r
    by_name[m.name] = r
    out.metrics[#out.metrics + 1] = r
  end
  -- thresholds over the computed metrics
  for _, r in ipairs(out.metrics) do
    local th = r.metric.threshold
    if th and th.fn and not r.missing then
      local ok = true
      local v = th.fn(function(slot)
        local o = computed[th.slots[slot]]
        if not o or o.missing then ok = false return 0 / 0 end
        return o.value
      end)
      if ok and finite(v) then r.threshold = v ~= 0 end
    end
  end
  M.tree(out)
  return out
end

-- The label of a metric from several runs (crossrun of compute): "from
-- 2 runs, aligned on task-clock (spread 3.1% across runs 1, 2)", what
-- the guard judged of them; without a common anchor, so said.
function M.crossrun_label(cr)
  -- (three or more in a row as a range: "15, 16, 19-25")
  local runs, list, i = {}, cr.runs, 1
  while i <= #list do
    local j = i
    while list[j + 1] == list[j] + 1 do j = j + 1 end
    if j - i >= 2 then
      runs[#runs + 1] = list[i] .. "-" .. list[j]
    else
      for k = i, j do runs[#runs + 1] = tostring(list[k]) end
    end
    i = j + 1
  end
  local s
  if cr.anchor then
    s = string.format("from %d runs, aligned on %s (its spread across runs %s: %.1f%%)", #cr.runs, cr.anchor,
      table.concat(runs, ", "), (cr.spread or 0) * 100)
  else
    s = string.format("from %d runs (%s), no anchor common to them: raw counts combined", #cr.runs,
      table.concat(runs, ", "))
  end
  for _, o in ipairs(cr.inconsistent or {}) do
    s = s .. string.format("; the guard judged run %d rep %d inconsistent (%s)", o.run, o.rep, o.why)
  end
  return s
end

-- The TMA tree: each result's depth and parent, in tree order (parents
-- before children), and toplev's bottleneck path: from level 1 down,
-- the child over its threshold with the largest value ("<==" in toplev).
function M.tree(out)
  local by, kids, roots = {}, {}, {}
  for _, r in ipairs(out.metrics) do by[r.name] = r end
  for _, r in ipairs(out.metrics) do
    local p = r.metric.parent
    if p and by[p] then
      kids[p] = kids[p] or {}
      table.insert(kids[p], r)
    else
      roots[#roots + 1] = r
    end
  end
  local order = {}
  local function walk(r, depth)
    r.depth = depth
    order[#order + 1] = r
    for _, c in ipairs(kids[r.name] or {}) do walk(c, depth + 1) end
  end
  for _, r in ipairs(roots) do walk(r, 0) end
  out.metrics = order
  -- the bottleneck: among the TMA level-1 nodes over threshold the
  -- largest, then down its children over threshold
  local function best(list)
    local b
    for _, r in ipairs(list or {}) do
      if r.metric.tma and r.threshold and finite(r.value or 0 / 0) and (not b or r.value > b.value) then b = r end
    end
    return b
  end
  local tops = {}
  for _, r in ipairs(roots) do
    if r.metric.tma and r.metric.level == 1 and r.metric.parent == nil and kids[r.name] then tops[#tops + 1] = r end
  end
  local node = best(tops)
  while node do
    node.bottleneck = true
    node = best(kids[node.name])
  end
  return out
end

-- perf's strcmp_cpuid_str(ID): is this CPU's id ID? On arm64 the MIDR
-- (sysfs regs/identification/midr_el1, as perf's get_cpuid_str reads it),
-- compared without its revision bits as perf's arm64 strcmp_cpuid_str
-- does; elsewhere no id matches.
function M.cpuid_matches(id)
  local midr = util.read_line("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1")
  local want = math.tointeger(tonumber(id))
  local have = midr and math.tointeger(tonumber(midr))
  if not (want and have) then return false end
  -- MIDR_EL1: revision in bits 0-3, variant 20-23 (perf compares part, arch, implementer)
  local mask = ~(0xf | (0xf << 20))
  return (want & mask) == (have & mask)
end

-- ap.metrics: loads the metric file (opts.file: a path or "software";
-- default the one the profile was planned for, else "software") and
-- computes opts.metrics (names, groups) from dir. Returns compute's
-- result with .set, or nil, message.
function M.of_profile(dir, opts)
  opts = opts or {}
  local file = opts.file
  local store = require "autoperf.store"
  local s = store.load(dir)
  local planned = s and s.manifest.metrics
  if not file then file = planned and planned.file or "software" end
  local copts = {}
  for k, v in pairs(opts) do copts[k] = v end
  if not copts.metrics and planned and planned.names and planned.file == file then
    -- the metrics the profile was planned for (--metric NAMES)
    copts.metrics = planned.names
  end
  local set, err = M.load(file)
  if not set then return nil, err end
  local out, cerr = M.compute(set, dir, copts)
  if not out then return nil, cerr end
  out.set = set
  return out
end

-- The events the chosen metrics need, as records of cat (metric
-- planning: profile --metrics FILE [--metric NAMES]). Events the catalog
-- lacks (another PMU's, perf's duration_time is no event) are left out
-- and listed in skipped {{name=, error=}}; their metrics say so when
-- computed. consts (M.constants, those the profile will be computed
-- with): a metric needs the events its formula reads under them
-- (M.live_events); nil: every event it names. Returns events, {file=,
-- names=, metrics=N, skipped=}, or nil, message.
function M.plan_events(cat, file, names, consts)
  local set, err = M.load(file)
  if not set then return nil, err end
  local chosen, serr = M.select(set, names)
  if not chosen then return nil, serr end
  -- each metric with the events it reads on this machine (consts: the
  -- constants it will be computed with)
  local list, memo = {}, {}
  for i, m in ipairs(chosen) do
    list[i] = { name = m.name, events = M.live_events(m, consts, set.by_name, memo) }
  end
  local events, skipped, seen = {}, {}, {}
  -- the half of a hybrid part the file is for (alderlake_metrics_goldencove_core.json: the P-cores')
  local t = require("autoperf.pmu.hybrid").of_file((file:match("([^/]+)$") or file):gsub("_metrics", "", 1))
  local half = t and t.pmu
  for _, name in ipairs(M.events_of(list)) do
    local ev, eerr = M.encode(cat, name, half)
    if ev then
      if not seen[ev.name] then
        seen[ev.name] = ev
        events[#events + 1] = ev
      end
    else
      skipped[#skipped + 1] = { name = name, error = eerr }
    end
  end
  if #events == 0 then
    return nil, "none of the events of the chosen metrics is known here (" ..
      (skipped[1] and skipped[1].error or "no events") .. ")"
  end
  return events, { file = set.path, names = names, metrics = #list, skipped = skipped, list = list, rec = seen }
end

-- The events of plan_events' meta grouped per metric (metrics/plan.lua)
-- under the planner's options popts, beside anchors (records counted in
-- every run); meta gains cosched, several, groups, duplicated, anchored
-- (the anchors a group reads from its run), bound, planning_ms. Returns
-- events, meta.
function M.group_events(meta, popts, anchors)
  local t0 = os.clock()
  local events, info = require("autoperf.metrics.plan").plan(meta.list, meta.rec, popts, { anchors = anchors })
  meta.cosched, meta.several, meta.groups, meta.duplicated = info.cosched, info.several, info.groups, info.duplicated
  meta.anchored = info.anchored
  meta.bound = info.bound
  meta.planning_ms = (os.clock() - t0) * 1000
  return events, meta
end

M.finite = finite

return M
