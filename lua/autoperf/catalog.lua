-- The kernel's event catalog: software events, tracepoints (tracefs) and
-- the events/ of every PMU in sysfs, one record per measurable event:
--   {name=, pmu=, source=, type=, config=, config1=, config2=, desc=}
local core = require "autoperf.core"
local util = require "autoperf.util"

local M = {}

M.SYSFS_PMUS = "/sys/bus/event_source/devices"

local PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT = 1, 2

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

-- perf's short names for software events.
M.ALIASES = {
  cs = "context-switches",
  faults = "page-faults",
  migrations = "cpu-migrations",
}

local function encoding(ev)
  local s = string.format("type=%d,config=0x%x", ev.type, ev.config)
  if (ev.config1 or 0) ~= 0 then s = s .. string.format(",config1=0x%x", ev.config1) end
  if (ev.config2 or 0) ~= 0 then s = s .. string.format(",config2=0x%x", ev.config2) end
  return s
end
M.encoding = encoding

local function software()
  local out = {}
  for _, sw in ipairs(M.SOFTWARE) do
    out[#out + 1] = {
      name = sw[1], pmu = "software", source = "kernel",
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
  for term in (terms or ""):gmatch("[^,]+") do
    term = util.trim(term)
    local k, v = term:match("^([%w_]+)=(.+)$")
    k = k or term
    local value = v and math.tointeger(tonumber(v)) or (not v and 1) or nil
    if value == nil then
      return nil, "bad value in term '" .. term .. "'"
    end
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
      local pmu = { name = e.name, type = t, formats = pmu_formats(dir), events = {} }
      local evdir = dir .. "/events"
      for _, f in ipairs(core.listdir(evdir) or {}) do
        -- name.unit / name.scale / name.per-pkg describe name; "?" terms
        -- need a value from the user.
        local terms = not f.name:find(".", 1, true) and util.read_line(evdir .. "/" .. f.name)
        if terms and not terms:find("?", 1, true) then
          local attr = M.encode_terms(terms, pmu.formats)
          if attr then
            local unit = util.read_line(evdir .. "/" .. f.name .. ".unit")
            pmu.events[#pmu.events + 1] = {
              name = e.name .. "/" .. f.name .. "/", pmu = e.name, source = "sysfs",
              type = t, config = attr.config, config1 = attr.config1, config2 = attr.config2,
              desc = e.name .. " event " .. f.name .. " (" .. terms .. ")"
                .. (unit and (", unit " .. unit) or ""),
            }
          end
        end
      end
      pmus[#pmus + 1] = pmu
    end
  end
  return pmus
end

-- Everything this machine offers:
-- {events={...}, by_name={}, pmus={...}, tracefs=root|nil, skipped={msgs}}
function M.load(opts)
  opts = opts or {}
  local cat = { events = {}, by_name = {}, skipped = {} }
  local function add(list)
    for _, ev in ipairs(list) do
      if not cat.by_name[ev.name] then
        ev.encoding = encoding(ev)
        cat.events[#cat.events + 1] = ev
        cat.by_name[ev.name] = ev
      end
    end
  end
  add(software())
  cat.tracefs = opts.tracefs or core.tracefs_root()
  if cat.tracefs then
    local tps, err = tracepoints(cat.tracefs)
    if tps then add(tps) else cat.skipped[#cat.skipped + 1] = "tracepoints: " .. err end
  else
    cat.skipped[#cat.skipped + 1] =
      "tracepoints: tracefs is not mounted (as root: mount -t tracefs nodev /sys/kernel/tracing)"
  end
  cat.pmus = M.sysfs_pmus(opts.sysfs)
  for _, pmu in ipairs(cat.pmus) do add(pmu.events) end
  return cat
end

local function lookup(cat, name)
  return cat.by_name[name] or cat.by_name[M.ALIASES[name] or ""]
end

-- "pmu/term=v,.../" with the PMU's own format/.
local function raw_pmu_event(cat, spec)
  local pmuname, terms = spec:match("^([%w_%.%-]+)/(.*)/$")
  if not pmuname or not terms:find("=", 1, true) then return nil end
  for _, pmu in ipairs(cat.pmus or {}) do
    if pmu.name == pmuname then
      local attr, err = M.encode_terms(terms, pmu.formats)
      if not attr then return nil, "'" .. spec .. "': " .. err end
      local ev = {
        name = spec, pmu = pmu.name, source = "spec", type = pmu.type,
        config = attr.config, config1 = attr.config1, config2 = attr.config2,
        desc = "raw " .. pmu.name .. " event",
      }
      ev.encoding = encoding(ev)
      return ev
    end
  end
  return nil, "'" .. spec .. "': no PMU named '" .. pmuname .. "' in " .. M.SYSFS_PMUS
end

-- Resolves event specs (names, perf aliases, globs such as 'sched:*',
-- pmu/term=.../, or "all") into event records, without duplicates.
-- Returns events, or nil, message naming the first bad spec.
function M.select(cat, specs)
  local out, seen = {}, {}
  local function take(ev)
    if not seen[ev.name] then
      seen[ev.name] = true
      out[#out + 1] = ev
    end
  end
  for _, spec in ipairs(specs) do
    spec = util.trim(spec)
    if spec == "" then return nil, "empty event name in the event list" end
    if spec == "all" then
      for _, ev in ipairs(cat.events) do take(ev) end
    elseif lookup(cat, spec) then
      take(lookup(cat, spec))
    elseif util.is_glob(spec) then
      local pat, n = util.glob_pattern(spec), 0
      for _, ev in ipairs(cat.events) do
        if ev.name:match(pat) then
          take(ev)
          n = n + 1
        end
      end
      if n == 0 then return nil, "no event matches '" .. spec .. "' (see 'autoperf list')" end
    else
      local ev, err = raw_pmu_event(cat, spec)
      if err then return nil, err end
      if not ev then
        local names = {}
        for _, e in ipairs(cat.events) do names[#names + 1] = e.name end
        local near = util.closest(spec, names, 3)
        local msg = "unknown event '" .. spec .. "'"
        if #near > 0 then msg = msg .. " (did you mean " .. table.concat(near, ", ") .. "?)" end
        if spec:find(":", 1, true) and not cat.tracefs then
          msg = msg .. "; tracefs is not mounted, so no tracepoint is known"
        end
        return nil, msg
      end
      take(ev)
    end
  end
  return out
end

-- Events whose name matches a filter: a glob, or else a substring.
function M.filter(events, pattern)
  if not pattern or pattern == "" then return events end
  local out = {}
  local pat = util.is_glob(pattern) and util.glob_pattern(pattern:lower())
  for _, ev in ipairs(events) do
    local name = ev.name:lower()
    if (pat and name:match(pat)) or (not pat and name:find(pattern:lower(), 1, true)) then
      out[#out + 1] = ev
    end
  end
  return out
end

return M
