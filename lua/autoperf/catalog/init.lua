-- The event catalog: one record per measurable event of this machine
-- (and of a chosen model), from four kinds of sources, merged, marked
-- available or not, resolved from specs:
--   {name=, pmu=, source=, type=, config=, config1=, config2=, desc=}
-- sources.lua reads the sources, merge.lua folds and indexes them,
-- resolve.lua answers specs and filters; this module is the public API.
local merge = require "autoperf.catalog.merge"
local resolve = require "autoperf.catalog.resolve"
local sources = require "autoperf.catalog.sources"
local util = require "autoperf.util"

local M = {}

-- The public API, from the three rooms.
for _, k in ipairs({ "SYSFS_PMUS", "SOFTWARE", "HARDWARE", "ALIASES", "PERFMON_MODELS", "encoding",
                     "parse_format", "place", "encode_terms", "sysfs_pmus", "hardware_present" }) do
  M[k] = sources[k]
end
M.foreign, M.select, M.filter = merge.foreign, resolve.select, resolve.filter

-- Everything this machine offers, and what the options add:
--   opts.pmu: a libpfm4 model to use instead of the detected one (also
--     AUTOPERF_PMU); opts.events_json: perfmon files; opts.smt: HT state
--     for perfmon counter lists (default: the machine's); opts.no_cache:
--     skip ~/.cache/pmu-events; opts.tracefs, opts.sysfs: roots (tests).
-- Returns {events={...}, by_name={}, pmus={...}, pfm_pmus={...},
-- tracefs=, hardware=bool, skipped={msgs}, halves={lower-case name ->
-- the hybrid halves' events of that name}, chosen= the model names
-- resolve against (--pmu MODEL, sim:...) or nil} or nil, message.
local function load(opts)
  local cat = { events = {}, by_name = {}, by_lname = {}, skipped = {}, sources = {} }
  cat.hardware = opts.hardware
  if cat.hardware == nil then cat.hardware = M.hardware_present() end
  local force = opts.pmu or require("autoperf.defaults").pmu()
  if force == "" then force = nil end
  if force and not force:match("^sim:") then force = sources.model_name(force) end
  local events_json = {}
  for _, f in ipairs(opts.events_json or {}) do events_json[#events_json + 1] = f end
  local smt = opts.smt
  -- sim:MODEL, a libpfm4 model or a perfmon file: its events are counted
  -- by the simulated PMU (sim.h), labelled simulated everywhere.
  if force and force:match("^sim:") then
    local model = sources.model_name(force:sub(5))
    if model == "" then
      return nil, "--pmu sim:MODEL needs a model: a libpfm4 model (sim:skl) or an Intel perfmon file (sim:FILE.json)"
    end
    if model:match("%.json$") or model:find("/", 1, true) then
      -- sim:A.json,B.json: a machine of several PMUs (Alder Lake's two
      -- halves), each file its own
      local files = model:match("%.json,") and util.split(model, ",") or { model }
      cat.sim = { name = model, models = {} }
      for _, f in ipairs(files) do
        if not util.exists(f) then return nil, "--pmu sim:" .. f .. ": no such file" end
        events_json[#events_json + 1] = f
        local m = sources.perfmon_model(f:match("([^/]+)$"))
        cat.sim.model = cat.sim.model or m
        cat.sim.models[m] = true
      end
      force = nil
    else
      cat.sim = { name = model, model = model, models = { [model] = true } }
      force = model
    end
    -- a simulated server: hyper-threading on unless told otherwise
    if smt == nil then smt = true end
  end
  cat.model = force

  local add = merge.adder(cat)
  cat.pmus = M.sysfs_pmus(opts.sysfs)
  add(sources.software())
  add(sources.hardware(cat.pmus))
  cat.tracefs = opts.tracefs or sources.tracefs_root()
  local tps, skip = sources.tracefs(cat.tracefs)
  if tps then add(tps) else cat.skipped[#cat.skipped + 1] = skip end
  for _, pmu in ipairs(cat.pmus) do add(pmu.events) end
  -- arm64's core PMU events, named by the kernel's pmu-events JSON
  local arm, anote = sources.arm64(cat.pmus)
  add(arm)
  if anote then cat.skipped[#cat.skipped + 1] = anote end

  -- Hardware sources. A simulated perfmon file is the machine's PMU:
  -- the host's libpfm4 model (another processor) stays out, as a forced
  -- model replaces it.
  cat.pfm_pmus = {}
  if not (cat.sim and not force) then
    local pfm, pfm_pmus, note = sources.libpfm(force)
    if not pfm then return nil, pfm_pmus end
    cat.pfm_pmus = pfm_pmus
    if note then cat.skipped[#cat.skipped + 1] = note end
    add(pfm)
  end
  for _, f in ipairs(sources.perfmon_files(events_json, opts.no_cache)) do
    local recs, err = sources.perfmon(f, { smt = smt, sysfs = opts.sysfs })
    if not recs then return nil, err end
    add(recs)
    cat.sources[#cat.sources + 1] = f
  end

  merge.availability(cat)
  -- both hybrid halves' events of one name: cpu_core/NAME/, cpu_atom/NAME/
  local hybrid = require("autoperf.pmu").hybrid
  cat.halves = hybrid.qualify(cat.events)
  -- simulated halves count on a share of this machine's CPUs
  if cat.sim then cat.sim.cpus = hybrid.simulate_masks(cat.events, require("autoperf.machine").online_cpus()) end
  cat.chosen = cat.sim and cat.sim.model or force
  merge.index(cat)
  return cat
end

-- (Its messages are one printable line of sane length, whatever the
-- options and the files hold.)
function M.load(opts)
  local cat, err = load(opts or {})
  if not cat then return nil, util.printable(err, 600) end
  return cat
end

return M
