-- The public Lua API: require "autoperf".
--
--   local ap = require "autoperf"
--   for _, ev in ipairs(ap.events("sched:*")) do print(ev.name, ev.encoding) end
--   local r = assert(ap.profile({ "sleep", "1" }, { out = "out", events = { "sched:*", "task-clock" } }))
--   local a = assert(ap.aggregate("out"))   -- a.results: path of results.csv
local aggregate = require "autoperf.aggregate"
local catalog = require "autoperf.catalog"
local plan = require "autoperf.plan"
local profile = require "autoperf.profile"

local M = {}

M.version = profile.VERSION

-- The catalog for opts {pmu=, events_json={files}, smt=bool} (see
-- catalog.load; pmu "sim:MODEL" simulates that model's PMU).
local function load(opts)
  opts = opts or {}
  return catalog.load({ pmu = opts.pmu, events_json = opts.events_json, smt = opts.smt })
end

-- Events this machine offers whose name matches pattern (a glob such as
-- "sched:*" or a substring; nil: all). Each is a table {name=, pmu=,
-- source=, encoding=, type=, config=, desc=}. opts as for select.
function M.events(pattern, opts)
  local cat, err = load(opts)
  if not cat then return nil, err end
  return catalog.filter(cat.events, pattern)
end

-- Resolves event specs (names, aliases, globs, pmu/term=v/, "all") into
-- events; nil, message for a spec that names nothing. opts: pmu,
-- events_json, smt (where the events come from).
function M.select(specs, opts)
  if type(specs) == "string" then specs = { specs } end
  local cat, err = load(opts)
  if not cat then return nil, err end
  return catalog.select(cat, specs)
end

-- The runs that measure events without multiplexing (see plan.lua).
-- events: specs or event tables.
function M.plan(events, opts)
  if type(events) == "string" or type(events[1]) == "string" then
    local err
    events, err = M.select(events, opts)
    if not events then return nil, err end
  end
  return plan.make(events, opts)
end

-- Profiles argv (a list of strings). opts: events (specs or event tables,
-- default all), out (directory, default "out"), interval_ms (default 100),
-- repetitions (default 1), system_wide, force, progress (function(p)),
-- env, cwd, cpus, timeout_s, fail_fast, delay_ms, roi, isolate, strategy,
-- counters (planner override), and pmu, events_json, smt as for select.
-- Returns a summary {dir=, events=, plan=, refused=, flagged=, failed=,
-- elapsed_s=, simulated=} or nil, message, exit code.
function M.profile(argv, opts)
  opts = opts or {}
  local events = opts.events or { "all" }
  local cat
  if type(events) == "string" or type(events[1]) == "string" then
    local err
    cat, err = load(opts)
    if not cat then return nil, err, 1 end
    events, err = catalog.select(cat, type(events) == "string" and { events } or events)
    if not events then return nil, err, 2 end
  end
  return profile.run({
    argv = argv, events = events, out = opts.out or "out",
    interval_ms = opts.interval_ms or 100, repetitions = opts.repetitions or 1,
    system_wide = opts.system_wide, force = opts.force, progress = opts.progress,
    env = opts.env, cwd = opts.cwd, cpus = opts.cpus,
    timeout_s = opts.timeout_s, fail_fast = opts.fail_fast, delay_ms = opts.delay_ms, roi = opts.roi,
    isolate = opts.isolate, strategy = opts.strategy, counters = opts.counters,
    hardware = cat and cat.hardware, simulated = cat and cat.sim and cat.sim.name,
  })
end

-- Merges an output directory into results.csv and summary.csv.
function M.aggregate(dir, opts)
  return aggregate.aggregate(dir, opts)
end

return M
