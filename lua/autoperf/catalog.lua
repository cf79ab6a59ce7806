-- The kernel's event catalog: software events, tracepoints (tracefs) and
-- the events/ of every PMU in sysfs, one record per measurable event:
--   {name=, pmu=, source=, type=, config=, config1=, config2=, desc=}
local core = require "autoperf.core"
local evspec = require "autoperf.evspec"
local perfmon = require "autoperf.perfmon"
local pmu_mod = require "autoperf.pmu"
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

local function software()
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

-- Generic hardware events; available only where the kernel has a PMU.
local function hardware()
  local out = {}
  for _, hw in ipairs(M.HARDWARE) do
    out[#out + 1] = {
      name = hw[1], pmu = "cpu", source = "kernel", aliases = perf_aliases(hw[1]),
      type = 0, config = hw[2], desc = hw[3], hardware = true,
    }
  end
  return out
end

-- "EVENT:UMASK" (libpfm4) -> "EVENT.UMASK" (Intel's and perf's spelling)
local function dotted(event, umask)
  return umask and (event .. "." .. umask) or event
end

-- libpfm4's events: every umask a configuration. The generic "perf" and
-- "perf_raw" PMUs repeat the kernel's own events and are left out.
local function libpfm(force)
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
        pmu = f.core and "cpu" or ev.pmu, model = ev.pmu, source = "libpfm4",
        type = ev.type, config = ev.config, config1 = ev.config1, config2 = ev.config2,
        desc = ev.desc, hardware = true,
        counters = f.core and { generic_count = f.generic, fixed_count = f.fixed } or nil,
        shared = pmu_mod.pfm_shared(f, ev),
      }
    end
  end
  return out, skipped
end

-- The libpfm4 model a perfmon file describes (by Intel's file names), so
-- that the two sources merge only for the same processor.
M.PERFMON_MODELS = {
  skylake = "skl", skylakex = "skx", cascadelakex = "clx", icelake = "icl", icelakex = "icx",
  sapphirerapids = "spr", ivybridge = "ivb", ivytown = "ivb_ep", haswell = "hsw",
  haswellx = "hsw_ep", broadwell = "bdw", broadwellx = "bdw_ep", sandybridge = "snb",
  jaketown = "snb_ep", goldmont = "glm", silvermont = "slm", tremontx = "tmt",
  knightslanding = "knl", westmereep_sp = "wsm", nehalemep = "nhm",
}

local function perfmon_model(file)
  local stem = file:match("^(.-)_core%.json$") or file:match("^(.-)_uncore%.json$") or file:gsub("%.json$", "")
  return M.PERFMON_MODELS[stem:lower()] or stem:lower()
end

local function merge_key(ev)
  if not ev.model or not ev.type then return nil end
  return table.concat({ ev.model, ev.pmu, ev.type, ev.config, ev.config1 or 0, ev.config2 or 0 }, "|")
end

-- Folds rec (another source's view of the same configuration) into ev:
-- perfmon's facts win for constraints and names, the encoding is the
-- same by construction (it is the merge key).
local function merge(ev, rec)
  ev.sources[#ev.sources + 1] = rec.source .. ":" .. rec.name
  ev.aliases = ev.aliases or {}
  local function alias(n) if n ~= ev.name then ev.aliases[#ev.aliases + 1] = n end end
  if rec.source == "perfmon" and ev.source ~= "perfmon" then
    ev.aliases[#ev.aliases + 1] = ev.name -- the old name stays an alias
    ev.name, ev.source, ev.file = rec.name, rec.source, rec.file
    for _, k in ipairs({ "desc", "long_desc", "counters", "msr", "shared", "taken_alone", "errata",
                         "deprecated", "event_code", "umask", "cmask", "inv", "edge", "any" }) do
      if rec[k] ~= nil then ev[k] = rec[k] end
    end
    ev.facts = { constraints = "perfmon:" .. rec.file, encoding = ev.facts.encoding }
  else
    alias(rec.name)
  end
  for _, a in ipairs(rec.aliases or {}) do alias(a) end
  local seen, uniq = { [ev.name] = true }, {}
  for _, a in ipairs(ev.aliases) do
    if not seen[a] then seen[a] = true; uniq[#uniq + 1] = a end
  end
  ev.aliases = uniq
end

-- Is ev another model's than the one chosen (--pmu MODEL, sim:...)?
-- Such events are left out of globs and "all", and take a name only
-- where the chosen model and the kernel have none of that name.
function M.foreign(cat, ev)
  return cat.chosen ~= nil and ev.model ~= nil and ev.model ~= cat.chosen
end

-- Is there a hardware PMU in this kernel? (generic cycles open on us)
function M.hardware_present()
  return core.probe({ type = 0, config = 0 }) == true
end

-- Everything this machine offers, and what the options add:
--   opts.pmu: a libpfm4 model to use instead of the detected one (also
--     AUTOPERF_PMU); opts.events_json: perfmon files; opts.smt: HT state
--     for perfmon counter lists (default: the machine's); opts.no_cache:
--     skip ~/.cache/pmu-events; opts.tracefs, opts.sysfs: roots (tests).
-- Returns {events={...}, by_name={}, pmus={...}, pfm_pmus={...},
-- tracefs=, hardware=bool, skipped={msgs}, chosen= the model names
-- resolve against (--pmu MODEL, sim:...) or nil} or nil, message.
local function load(opts)
  local cat = { events = {}, by_name = {}, by_lname = {}, skipped = {}, sources = {} }
  local by_key = {}
  cat.hardware = opts.hardware
  if cat.hardware == nil then cat.hardware = M.hardware_present() end
  local force = opts.pmu or os.getenv("AUTOPERF_PMU")
  if force == "" then force = nil end
  local events_json = {}
  for _, f in ipairs(opts.events_json or {}) do events_json[#events_json + 1] = f end
  local smt = opts.smt
  -- sim:MODEL, a libpfm4 model or a perfmon file: its events are counted
  -- by the simulated PMU (sim.h), labelled simulated everywhere.
  if force and force:match("^sim:") then
    local model = force:sub(5)
    if model == "" then
      return nil, "--pmu sim:MODEL needs a model: a libpfm4 model (sim:skl) or an Intel perfmon file (sim:FILE.json)"
    end
    if model:match("%.json$") or model:find("/", 1, true) then
      if not util.exists(model) then return nil, "--pmu " .. force .. ": no such file" end
      events_json[#events_json + 1] = model
      cat.sim = { name = model, model = perfmon_model(model:match("([^/]+)$")) }
      force = nil
    else
      cat.sim = { name = model, model = model }
      force = model
    end
    -- a simulated server: hyper-threading on unless told otherwise
    if smt == nil then smt = true end
  end
  cat.model = force

  local function add(list)
    for _, ev in ipairs(list) do
      ev.sources = { ev.source .. ":" .. ev.name }
      ev.facts = { constraints = ev.source, encoding = ev.source }
      local key = merge_key(ev)
      local into = key and by_key[key]
      if into and into.file ~= nil and into.file == ev.file then into = nil end
      if into then
        merge(into, ev)
      else
        ev.encoding = ev.type and encoding(ev) or "(no PMU here)"
        cat.events[#cat.events + 1] = ev
        if key then by_key[key] = ev end
      end
    end
  end

  add(software())
  add(hardware())
  cat.tracefs = opts.tracefs or core.tracefs_root()
  if cat.tracefs then
    local tps, err = tracepoints(cat.tracefs)
    if tps then add(tps) else cat.skipped[#cat.skipped + 1] = "tracepoints: " .. err end
  else
    local state, where = require("autoperf.machine").tracefs_state()
    cat.skipped[#cat.skipped + 1] = state == "unreadable"
      and ("tracepoints: tracefs at " .. where .. " is not readable by this user (see 'autoperf doctor')")
      or "tracepoints: tracefs is not mounted (as root: mount -t tracefs nodev /sys/kernel/tracing)"
  end
  cat.pmus = M.sysfs_pmus(opts.sysfs)
  for _, pmu in ipairs(cat.pmus) do add(pmu.events) end

  -- Hardware sources. A simulated perfmon file is the machine's PMU:
  -- the host's libpfm4 model (another processor) stays out, as a forced
  -- model replaces it.
  cat.pfm_pmus = {}
  if not (cat.sim and not force) then
    local pfm_pmus, perr = core.pfm_pmus(force)
    if not pfm_pmus then
      local near = force and util.closest(force, core.pfm_models() or {}, 3) or {}
      if #near > 0 then perr = perr .. " (did you mean " .. table.concat(near, ", ") .. "?)" end
      return nil, perr
    end
    cat.pfm_pmus = pfm_pmus
    local pfm, skipped = libpfm(force)
    if not pfm then return nil, skipped end
    if skipped and skipped > 0 then
      cat.skipped[#cat.skipped + 1] = string.format("libpfm4: %d configurations it cannot encode", skipped)
    end
    add(pfm)
  end
  local files = events_json
  if not opts.no_cache then
    for _, f in ipairs(perfmon.cache_files()) do files[#files + 1] = f end
  end
  for _, f in ipairs(files) do
    local model = perfmon_model(f:match("([^/]+)$"))
    -- the core PMU's counters where libpfm4 knows the file's processor
    local generic, fixed = core.pfm_model_counters(model)
    local recs, err = perfmon.load(f, { smt = smt, sysfs = opts.sysfs,
      counters = generic and { generic = generic, fixed = fixed } or nil })
    if not recs then return nil, err end
    for _, r in ipairs(recs) do r.model = model end
    add(recs)
    cat.sources[#cat.sources + 1] = f
  end

  -- Which of these the running kernel can open.
  local sysfs_type = {}
  for _, p in ipairs(cat.pmus) do sysfs_type[p.name] = p.type end
  for _, ev in ipairs(cat.events) do
    local hw = pmu_mod.is_hardware(ev)
    if hw and cat.sim and ev.model == cat.sim.model then
      ev.available, ev.simulated, ev.why = true, true, nil
      ev.type = ev.type or 4 -- an uncore unit this kernel lacks: only the simulator sees it
      ev.encoding = encoding(ev) .. " (simulated)"
    elseif hw then
      if ev.unit then
        ev.type = sysfs_type[ev.pmu]
        ev.available = ev.type ~= nil
        if ev.available then ev.encoding = encoding(ev) end
        ev.why = not ev.available and ("this kernel has no " .. ev.pmu .. " PMU") or nil
      else
        ev.available = cat.hardware
        ev.why = not cat.hardware and "this kernel exposes no hardware PMU" or nil
      end
    else
      ev.available = true
    end
  end
  -- Names: with a chosen model (--pmu MODEL, sim:...), its events and
  -- the kernel's claim them before any other model's (a perfmon cache
  -- file of another processor), whatever the order of the sources.
  cat.chosen = cat.sim and cat.sim.model or force
  local function index(ev)
    local function name(n)
      if not cat.by_name[n] then cat.by_name[n] = ev end
      local l = n:lower()
      if not cat.by_lname[l] then cat.by_lname[l] = ev end
    end
    name(ev.name)
    for _, a in ipairs(ev.aliases or {}) do name(a) end
  end
  for _, ev in ipairs(cat.events) do
    if not M.foreign(cat, ev) then index(ev) end
  end
  for _, ev in ipairs(cat.events) do
    if M.foreign(cat, ev) then index(ev) end
  end
  return cat
end

-- (Its messages are one printable line of sane length, whatever the
-- options and the files hold.)
function M.load(opts)
  local cat, err = load(opts or {})
  if not cat then return nil, util.printable(err, 600) end
  return cat
end

local function lookup(cat, name)
  name = M.ALIASES[name] or name
  return cat.by_name[name] or cat.by_lname[name:lower()]
end

-- The formats of a PMU: sysfs, or for "cpu" without one (a forced model
-- on a machine without the PMU) the Intel core layout Linux publishes.

local function pmu_by_name(cat, name)
  for _, p in ipairs(cat.pmus or {}) do
    if p.name == name then return p end
  end
  if name == pmu_mod.intel.core_pmu then
    local formats = {}
    for k, v in pairs(pmu_mod.intel.CORE_FORMAT) do formats[k] = M.parse_format(v) end
    return { name = "cpu", type = 4, formats = formats, events = {}, assumed = true }
  end
end

local function with_mods(ev, mods, display)
  local suffix = evspec.suffix(mods)
  if suffix == "" and not display then return ev end
  local copy = {}
  for k, v in pairs(ev) do copy[k] = v end
  for k, v in pairs(evspec.exclude_bits(mods)) do copy[k] = v end
  copy.name = (display or ev.name) .. suffix
  copy.aliases = nil
  copy.base = ev.name
  return copy
end

-- A name the user gave, for a message: printable and of sane length.
local function shown(s)
  return util.printable(s, 120)
end

local function unknown(cat, name)
  local names = {}
  for _, e in ipairs(cat.events) do names[#names + 1] = e.name end
  local near = util.closest(name, names, 3)
  local msg = "unknown event '" .. shown(name) .. "'"
  for i, n in ipairs(near) do near[i] = shown(n) end
  if #near > 0 then msg = msg .. " (did you mean " .. table.concat(near, ", ") .. "?)" end
  if name:find(":", 1, true) and not cat.tracefs then
    local state, where = require("autoperf.machine").tracefs_state()
    msg = msg .. (state == "unreadable"
      and ("; tracefs at " .. where .. " is not readable by this user, so no tracepoint is known (see 'autoperf doctor')")
      or "; tracefs is not mounted, so no tracepoint is known")
  end
  return nil, msg
end

-- Resolves one parsed event into records.
local function resolve(cat, pe)
  if pe.kind == "raw" then
    local ev = { name = string.format("r%x", pe.config), pmu = "cpu", source = "spec", type = 4,
                 config = pe.config, config1 = 0, config2 = 0, desc = "raw core PMU config",
                 hardware = true, available = cat.hardware,
                 why = not cat.hardware and "this kernel exposes no hardware PMU" or nil }
    ev.encoding = encoding(ev)
    return { with_mods(ev, pe.mods) }
  end
  if pe.kind == "pmu" then
    local pmu = pmu_by_name(cat, pe.pmu)
    if not pmu then
      return nil, "'" .. shown(pe.text) .. "': no PMU named '" .. shown(pe.pmu) .. "' in " .. M.SYSFS_PMUS
    end
    if #pe.terms == 1 and pe.terms[1][2] == nil and not pmu.formats[pe.terms[1][1]] then
      local ev = cat.by_name[pe.pmu .. "/" .. pe.terms[1][1] .. "/"]
      if not ev then return unknown(cat, pe.pmu .. "/" .. pe.terms[1][1] .. "/") end
      return { with_mods(ev, pe.mods, pe.name) }
    end
    local attr, err = M.encode_terms(pe.terms, pmu.formats)
    if not attr then return nil, "'" .. shown(pe.text) .. "': " .. err end
    local ev = {
      name = pe.name or pe.text:gsub("/[ukh:]*$", "/"), pmu = pmu.name, source = "spec", type = pmu.type,
      config = attr.config, config1 = attr.config1, config2 = attr.config2,
      desc = "raw " .. pmu.name .. " event" .. (pmu.assumed and " (Intel core format assumed)" or ""),
      hardware = pmu.assumed or nil,
      available = not pmu.assumed or cat.hardware,
    }
    ev.why = not ev.available and "this kernel exposes no hardware PMU" or nil
    ev.encoding = encoding(ev)
    return { with_mods(ev, pe.mods) }
  end
  local name = pe.name
  if name == "all" then
    local out = {}
    for _, ev in ipairs(cat.events) do
      if ev.available and not M.foreign(cat, ev) then out[#out + 1] = with_mods(ev, pe.mods) end
    end
    return out
  end
  local ev = lookup(cat, name)
  if ev then return { with_mods(ev, pe.mods) } end
  if util.is_glob(name) then
    local match, out = util.glob(name), {}
    for _, e in ipairs(cat.events) do
      if match(e.name) and not M.foreign(cat, e) then out[#out + 1] = with_mods(e, pe.mods) end
    end
    if #out == 0 then return nil, "no event matches '" .. shown(name) .. "' (see 'autoperf list')" end
    return out
  end
  if pe.alt then
    local alt = lookup(cat, pe.alt.name)
    if alt then return { with_mods(alt, pe.alt.mods) } end
  end
  return unknown(cat, name)
end

-- Resolves event specs (see evspec.lua: names, aliases, globs, tracepoints,
-- pmu/terms/, rNNNN, modifiers, {groups}, "all") into event records
-- without duplicates. Members of a {group} carry the same .group number.
-- Returns events, or nil, message naming the first bad spec.
function M.select(cat, specs)
  if type(specs) == "string" then specs = { specs } end
  local out, seen, ngroups = {}, {}, 0
  for _, spec in ipairs(specs) do
    local items, perr = evspec.parse(spec)
    if not items then return nil, perr end
    for _, item in ipairs(items) do
      local gid
      if item.group then
        ngroups = ngroups + 1
        gid = ngroups
      end
      for _, pe in ipairs(item.events) do
        local evs, err = resolve(cat, pe)
        if not evs then return nil, util.printable(err) end
        for _, ev in ipairs(evs) do
          if gid then
            -- a copy: catalog records are shared
            local copy = {}
            for k, v in pairs(ev) do copy[k] = v end
            copy.group = gid
            ev = copy
          end
          if not seen[ev.name] then
            seen[ev.name] = true
            out[#out + 1] = ev
          end
        end
      end
    end
  end
  return out
end

-- Events matching every given filter: pattern (a glob, or else a
-- substring of the name or an alias), pmu, source, desc (a word of the
-- description). All case-insensitive.
function M.filter(events, pattern, f)
  f = f or {}
  local out = {}
  local glob = pattern and pattern ~= "" and util.is_glob(pattern) and util.glob(pattern:lower())
  local sub = pattern and pattern ~= "" and not glob and pattern:lower()
  local word = f.desc and f.desc:lower()
  for _, ev in ipairs(events) do
    local ok = true
    if glob or sub then
      local function m(n)
        n = n:lower()
        return (glob and glob(n)) or (sub and n:find(sub, 1, true))
      end
      ok = m(ev.name)
      for _, a in ipairs(ev.aliases or {}) do ok = ok or m(a) end
    end
    if ok and f.pmu then ok = ev.pmu:lower() == f.pmu:lower() or (ev.model or ""):lower() == f.pmu:lower() end
    if ok and f.source then
      ok = false
      for _, s in ipairs(ev.sources or { ev.source }) do
        if s:lower():find(f.source:lower(), 1, true) == 1 then ok = true end
      end
    end
    if ok and word then
      ok = ((ev.desc or "") .. " " .. (ev.long_desc or "")):lower():find(word, 1, true) ~= nil
    end
    if ok then out[#out + 1] = ev end
  end
  return out
end

return M
