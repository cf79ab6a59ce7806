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

-- Events this machine offers whose name matches pattern (a glob such as
-- "sched:*" or a substring; nil: all). Each is a table {name=, pmu=,
-- source=, encoding=, type=, config=, desc=}.
function M.events(pattern)
  return catalog.filter(catalog.load().events, pattern)
end

-- Resolves event specs (names, aliases, globs, pmu/term=v/, "all") into
-- events; nil, message for a spec that names nothing.
function M.select(specs)
  if type(specs) == "string" then specs = { specs } end
  return catalog.select(catalog.load(), specs)
end

-- The runs that measure events without multiplexing (see plan.lua).
-- events: specs or event tables.
function M.plan(events, opts)
  if type(events) == "string" or type(events[1]) == "string" then
    local err
    events, err = M.select(events)
    if not events then return nil, err end
  end
  return plan.make(events, opts)
end

-- Profiles argv (a list of strings). opts: events (specs or event tables,
-- default all), out (directory, default "out"), interval_ms (default 100),
-- repetitions (default 1), system_wide, force, progress (function(msg)).
-- Returns a summary {dir=, events=, plan=, refused=, flagged=, failed=,
-- elapsed_s=} or nil, message, exit code.
function M.profile(argv, opts)
  opts = opts or {}
  local events = opts.events or { "all" }
  if type(events) == "string" or type(events[1]) == "string" then
    local err
    events, err = M.select(events)
    if not events then return nil, err, 2 end
  end
  return profile.run({
    argv = argv, events = events, out = opts.out or "out",
    interval_ms = opts.interval_ms or 100, repetitions = opts.repetitions or 1,
    system_wide = opts.system_wide, force = opts.force, progress = opts.progress,
    env = opts.env, cwd = opts.cwd, cpus = opts.cpus,
  })
end

-- Merges an output directory into results.csv and summary.csv.
function M.aggregate(dir, opts)
  return aggregate.aggregate(dir, opts)
end

return M
