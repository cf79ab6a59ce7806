-- The public Lua API: require "autoperf".
--
--   local ap = require "autoperf"
--   for _, ev in ipairs(ap.events("sched:*")) do print(ev.name, ev.encoding) end
--   local r = assert(ap.profile({ "sleep", "1" }, { out = "out", events = { "sched:*", "task-clock" } }))
--   local a = assert(ap.aggregate("out"))   -- a.results: path of results.csv
local aggregate = require "autoperf.aggregate"
local catalog = require "autoperf.catalog"
local core = require "autoperf.core"
local defaults = require "autoperf.defaults"
local plan = require "autoperf.plan"
local experiment = require "autoperf.experiment"
local profile = require "autoperf.profile"
local result = require "autoperf.result"
local util = require "autoperf.util"

local M = {}

M.version = require("autoperf.version").VERSION

-- The options each function takes: a key not listed is a mistake (a
-- typo such as repetition=3 would otherwise be silently ignored).
local with = util.concat
local LOAD = { "pmu", "events_json", "smt" }
local PLAN = with(LOAD, { "isolate", "strategy", "counters", "nmi_watchdog", "group_max", "ncpus", "fd_budget",
  "anchors" })
local PROFILE = with(LOAD, { "events", "out", "interval_ms", "repetitions", "system_wide", "counting", "force",
  "progress", "core_type", "anchor", "tolerance", "remeasure", "metrics", "metric",
  "env", "cwd", "cpus", "timeout_s", "fail_fast", "delay_ms", "roi", "isolate", "strategy", "counters" })
local MEASURE = with(PROFILE, { "keep" })
local PROCESS = { "argv", "env", "cwd", "cpus" }

-- Raises (at the caller's caller: the line that passed the options) for
-- an unknown key of opts.
local function check(what, opts, valid)
  local ok, err = util.check_options(what, opts, valid)
  if not ok then error(err, 3) end
end

-- Removes a directory tree of ours (a temporary profile directory).
local function remove_tree(path)
  for _, e in ipairs(core.listdir(path) or {}) do
    local p = path .. "/" .. e.name
    if e.dir then remove_tree(p) else os.remove(p) end
  end
  os.remove(path)
end

-- The catalog for opts {pmu=, events_json={files}, smt=bool} (see
-- catalog.load; pmu "sim:MODEL" simulates that model's PMU).
local function load(opts)
  opts = opts or {}
  return catalog.load({ pmu = opts.pmu or defaults.pmu(), events_json = opts.events_json, smt = opts.smt })
end

-- Events this machine offers whose name matches pattern (a glob such as
-- "sched:*" or a substring; nil: all). Each is a table {name=, pmu=,
-- source=, encoding=, type=, config=, desc=}. opts as for select.
function M.events(pattern, opts)
  check("ap.events", opts, LOAD)
  local cat, err = load(opts)
  if not cat then return nil, err end
  return catalog.filter(cat.events, pattern)
end

-- Resolves event specs (names, aliases, globs, pmu/term=v/, "all") into
-- events; nil, message for a spec that names nothing. opts: pmu,
-- events_json, smt (where the events come from).
function M.select(specs, opts)
  check("ap.select", opts, LOAD)
  if type(specs) == "string" then specs = { specs } end
  local cat, err = load(opts)
  if not cat then return nil, err end
  return catalog.select(cat, specs)
end

-- The runs that measure events without multiplexing (see plan.lua).
-- events: specs or event tables.
function M.plan(events, opts)
  check("ap.plan", opts, PLAN)
  if type(events) == "string" or type(events[1]) == "string" then
    local err
    events, err = M.select(events, opts)
    if not events then return nil, err end
  end
  return plan.make(events, opts)
end

-- Profiles argv (a list of strings). opts: events (specs or event tables;
-- default: every event here, or of events_json / a chosen pmu model, as
-- the CLI's), out (directory, default "out"), interval_ms (default 100),
-- repetitions (default 1), system_wide, force, progress (function(p)),
-- env, cwd, cpus, timeout_s, fail_fast, delay_ms, roi, isolate, strategy,
-- counters (planner override), and pmu, events_json, smt as for select
-- (see profile.from_specs, the one runner the CLI and experiments use too).
-- Returns a summary {dir=, events=, plan=, refused=, flagged=, failed=,
-- elapsed_s=, simulated=} or nil, message, exit code.
local function run_profile(argv, opts)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.argv, o.events = argv, nil
  return profile.from_specs(opts.events, o)
end

function M.profile(argv, opts)
  check("ap.profile", opts, PROFILE)
  return run_profile(argv, opts or {})
end

-- Reads a profile's output directory back: a result object (see
-- result.lua): r["task-clock"], r:total(name, rep), r:series(name),
-- r:status(name), r.events.
function M.read(dir, opts)
  check("ap.read", opts, { "events", "per_cpu" })
  return result.read(dir, opts)
end

-- Profiles argv (a list, or a process described in Lua: {argv=,
-- env={K=V}, cwd=, cpus={...}}) with opts as for profile (default: no
-- interval samples) and returns its result object, or nil, message, exit
-- code. Without opts.out the profile goes to a temporary directory that
-- is removed once read (r.dir is then nil), unless opts.keep (r.dir
-- names it; removing it is the caller's).
function M.measure(argv, opts)
  check("ap.measure", opts, MEASURE)
  opts = opts or {}
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.keep = nil
  -- a process described in Lua: {argv=, env={K=V}, cwd=, cpus={...}}
  if type(argv) == "table" and argv.argv then
    check("ap.measure: the process", argv, PROCESS)
    local p = argv
    argv = p.argv
    o.cwd, o.cpus = p.cwd or o.cwd, p.cpus or o.cpus
    if p.env then o.env = util.env_with(p.env) end
  end
  o.interval_ms = opts.interval_ms or defaults.measure_interval_ms
  local tmp
  if not o.out then
    local base = os.getenv("TMPDIR")
    local dir, err = core.mkdtemp((base and base ~= "" and base or "/tmp") .. "/autoperf-measure.XXXXXX")
    if not dir then return nil, "cannot create a temporary directory: " .. err, 1 end
    o.out, o.force = dir, true
    if not opts.keep then tmp = dir end
  end
  -- the result holds the data: the directory goes at the end of this
  -- function, whichever way it ends (an error, a Ctrl-C in the REPL)
  local _ <close> = tmp and setmetatable({}, { __close = function() remove_tree(tmp) end })
  local s, err, code = run_profile(argv, o)
  local r, rerr
  if s then r, rerr = result.read(o.out) end
  if not s then return nil, err, code end
  if not r then return nil, rerr, 1 end
  if tmp then r.dir = nil end
  r.failed = #s.failed > 0 and s.failed or nil
  return r
end

-- The runs of a profile directory as the guard saw them (anchors.lua,
-- guard.lua): {runs = {{run=, rep=, attempts=, guard= ("ok",
-- "remeasured", "outlier", "unjudged"; nil: the guard was off), why=,
-- anchors = {duration = ns, ["task-clock"] = ns, ...}}, ...}, anchors =
-- {{name=, n=, median=, mean=, cv=, min=, max=, outliers={{run=, rep=}}}},
-- remeasured = {{run=, rep=, attempt=, anchor=, value=, median=, why=}},
-- guard = {on=, tolerance=, remeasure=}} or nil, message. Experiment
-- scripts reject or weight runs by it.
function M.runs(dir)
  local store = require "autoperf.store"
  local anchors = require "autoperf.anchors"
  local guard = require "autoperf.guard"
  local loaded, err = store.load(dir)
  if not loaded then return nil, err end
  local runs = {}
  for i, e in ipairs(loaded.journal) do
    runs[i] = { run = e.run, rep = e.rep, attempts = math.tointeger(e.attempts) or 1, guard = e.guard,
                why = e.guard_why, anchors = anchors.values(e), file = e.file }
  end
  table.sort(runs, function(a, b) return a.run < b.run or (a.run == b.run and a.rep < b.rep) end)
  local g = type(loaded.manifest.guard) == "table" and loaded.manifest.guard or nil
  return { runs = runs, anchors = guard.spread(runs, anchors.names(loaded.manifest), g),
           remeasured = loaded.manifest.remeasured or {}, guard = g }
end

-- The series of events (names) of a profile directory lined up as how
-- says ({by = "auto" | "index" | an anchor, per =, unit =}: see
-- analyze/series.lua's align): {series = {[name] = {[rep] = {values}}},
-- alignment = {by=, unit=, unit_text=, per=, why=}} or nil, message.
function M.align(dir, names, how)
  local series = require "autoperf.analyze.series"
  local ds, err = series.load(dir)
  if not ds then return nil, err end
  if type(names) == "string" then names = { names } end
  for _, n in ipairs(names) do
    if not ds.at[n] then return nil, string.format("no event '%s' in %s", n, dir) end
  end
  local view, al = series.align(ds, names, how)
  if not view then return nil, al end
  local out = {}
  for _, n in ipairs(names) do
    out[n] = {}
    for k, at in pairs(view.at[n]) do
      local row, vals = at.m:row(at.row), {}
      for i = 1, at.len do vals[i] = row[i] end
      out[n][k] = vals
    end
  end
  return { series = out, alignment = al, text = series.describe_alignment(al) }
end

-- A parameter sweep (see experiment.lua): ap.experiment{...}:run().
function M.experiment(spec)
  local e, err = experiment.new(spec)
  if not e then error(err, 2) end
  return e
end

-- The path of a bundled workload (examples/workloads/NAME.c, built by
-- make): AUTOPERF_WORKLOADS, the tree's build/workloads, or the installed
-- lib/autoperf/workloads. nil, message when it is not built.
function M.workload(name)
  local here = package.searchpath("autoperf.init", package.path) or ""
  local lua_dir = here:match("^(.*)/autoperf/init%.lua$") or "lua"
  local dirs = { defaults.workloads() or "", lua_dir .. "/../build/workloads",
                 lua_dir .. "/../../../lib/autoperf/workloads" }
  for _, d in ipairs(dirs) do
    if d and d ~= "" and util.exists(d .. "/" .. name) then return d .. "/" .. name end
  end
  return nil, "workload '" .. name .. "' is not built (run make in the autoperf tree)"
end

-- Merges an output directory into results.csv and summary.csv.
function M.aggregate(dir, opts)
  check("ap.aggregate", opts, { "output", "summary" })
  return aggregate.aggregate(dir, opts)
end

-- Analysis in-process (see analyze.lua): ap.analyze.stats(dir),
-- .correlation(dir, opts), .detail(dir, events, opts), .wide(dir, opts),
-- .diff(dir_a, dir_b, opts).
-- Metrics computed from profile dir (see metrics/init.lua of_profile):
-- opts.file (a metric file or "software"), opts.metrics (names, groups),
-- opts.level, opts.tsc_hz. Returns {metrics = {{name=, value=, unit=,
-- series=, level=, parent=, status=, threshold=, bottleneck=}, ...},
-- constants = {[NAME] = {value=, from=}}, simulated=}, or nil, message.
function M.metrics(dir, opts)
  opts = opts or {}
  check("ap.metrics", opts, { "file", "metrics", "level", "tsc_hz", "smt" })
  local res, err = require("autoperf.metrics").of_profile(dir, opts)
  if not res then return nil, err end
  return require("autoperf.metrics.report").plain(res, opts)
end

M.analyze = require "autoperf.analyze"

return M
