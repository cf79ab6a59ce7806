-- The commands: one handler per subcommand of cli/parser.lua's table,
-- called with the parsed arguments a, env {lua_dir=, argv0=} and the
-- verbatim arguments (the workload's command line for profile, the
-- script's arguments for run). Each returns the exit code.
local aggregate = require "autoperf.aggregate"
local catalog = require "autoperf.catalog"
local core = require "autoperf.core"
local doctor = require "autoperf.doctor"
local evspec = require "autoperf.evspec"
local experiment = require "autoperf.experiment"
local out = require "autoperf.cli.output"
local parser = require "autoperf.cli.parser"
local plan_mod = require "autoperf.plan"
local pmu_mod = require "autoperf.pmu"
local profile = require "autoperf.profile"
local slurm = require "autoperf.slurm"
local pmustats = require "autoperf.pmustats"
local util = require "autoperf.util"

local M = {}
local errorf = out.errorf

-- This machine's events: list, stats, doctor.

-- --pmu as a filter (a simulated model's name filters nothing)
local function pmu_filter(a)
  return a.pmu and not a.pmu:match("^sim:") and require("autoperf.catalog.sources").model_name(a.pmu) or nil
end

function M.list(a)
  local cat, err = catalog.load(parser.catalog_options(a))
  if not cat then errorf("%s", err) return 1 end
  local events = catalog.filter(cat.events, a.pattern, { pmu = pmu_filter(a), source = a.source, desc = a.desc })
  if a.json then
    local list = {}
    for i, ev in ipairs(events) do list[i] = out.event_json(ev) end
    io.write(util.json_encode(list), "\n")
    return 0
  end
  if #events == 0 then
    errorf("no event matches%s", a.pattern and (" '" .. util.printable(a.pattern, 120) .. "'") or " these filters")
    for _, s in ipairs(cat.skipped) do errorf("skipped %s", s) end
    return 1
  end
  local text, why = out.event_table(events, a.long)
  io.write(text)
  for w in pairs(why) do errorf("* not measurable on this machine: %s", w) end
  for _, s in ipairs(cat.skipped) do errorf("skipped %s", s) end
  return 0
end

function M.stats(a)
  local cat, err = catalog.load(parser.catalog_options(a))
  if not cat then errorf("%s", err) return 1 end
  local events = catalog.filter(cat.events, nil, { pmu = pmu_filter(a) })
  -- Kernel software events and tracepoints need no counters: leave them
  -- out unless asked for by --pmu (a simulated PMU asks for its own).
  if not a.pmu or cat.sim then
    local hw = {}
    for _, ev in ipairs(events) do
      if pmu_mod.is_hardware(ev) then hw[#hw + 1] = ev end
    end
    events = hw
  end
  if #events == 0 then
    errorf("no hardware events here; give --events-json FILE or --pmu MODEL (see 'autoperf list')")
    return 1
  end
  local st = pmustats.compute(events)
  io.write(pmustats.format(st))
  if a.csv then
    local ok, werr = util.write_atomic(a.csv, pmustats.csv(st))
    if not ok then errorf("%s", werr) return 1 end
    print("wrote " .. a.csv)
  end
  return 0
end

function M.doctor()
  io.write(doctor.format(doctor.checks(), out.color_ok(1)))
  local cat, err = catalog.load({ no_cache = false })
  if not cat then errorf("%s", err) return 1 end
  local count = { software = 0, tracepoint = 0, hardware = 0, other = 0, unavailable = 0 }
  for _, ev in ipairs(cat.events) do
    if not ev.available then
      count.unavailable = count.unavailable + 1
    elseif ev.pmu == "software" or ev.pmu == "tracepoint" then
      count[ev.pmu] = count[ev.pmu] + 1
    elseif pmu_mod.is_hardware(ev) then
      count.hardware = count.hardware + 1
    else
      count.other = count.other + 1
    end
  end
  print(string.format("\nmeasurable here: %d software events, %d tracepoints, %d hardware events, %d other PMU events",
    count.software, count.tracepoint, count.hardware, count.other))
  if count.unavailable > 0 then
    print(string.format("described but not measurable here: %d (plan them with 'autoperf plan')", count.unavailable))
  end
  return (count.software + count.tracepoint + count.hardware + count.other) > 0 and 0 or 1
end

-- Planning and measuring: plan, profile; both through the one runner
-- entry (profile.prepare, profile.from_specs).

-- The selection of -e (repeatable; default: every event here, or of
-- --events-json / a chosen --pmu model) and the counters it is planned
-- with, or nil, message, exit code.
local function prepare(a)
  return profile.prepare(a.event, parser.catalog_options(a))
end

function M.plan(a)
  local prep, err, code = prepare(a)
  if not prep then errorf("%s", err) return code end
  local events = prep.events
  local t0 = core.now_ns()
  local popts = profile.plan_options(prep, { system_wide = a.all_cpus, isolate = a.isolate, strategy = a.strategy })
  local plan, perr = plan_mod.make(events, popts)
  if not plan then errorf("%s", perr) return 1 end
  local ms = (core.now_ns() - t0) / 1e6
  if a.json then
    local d = plan_mod.describe(plan)
    d.events, d.planning_ms, d.counters_from = #events, ms, prep.counters_from
    local mp = prep.metrics
    if mp then
      d.metrics = { file = mp.file, metrics = mp.metrics, cosched = mp.cosched, several_runs = mp.several,
                    skipped = mp.skipped, counted_again = mp.duplicated, grouping_ms = mp.planning_ms,
                    lower_bound = mp.bound }
    end
    io.write(util.json_encode(d), "\n")
    return 0
  end
  if a.csv then
    io.write(out.plan_csv(plan))
    return 0
  end
  out.print_plan(plan, #events, ms)
  local mp = prep.metrics
  if mp then
    print(string.format("  metrics: %d of %s: %d each in one run (co-scheduled), %d computed from several runs; " ..
      "%d events unknown here, %d counted again for another metric's run (%.1f ms)", mp.metrics, mp.file,
      #mp.cosched, #mp.several, #mp.skipped, mp.duplicated, mp.planning_ms))
    print(string.format("  no plan that counts each co-scheduled metric in one run takes fewer than %d runs", mp.bound))
    -- what co-scheduling costs: the plain plan of the same events
    local plain_evs = {}
    for _, ev in pairs(mp.rec) do plain_evs[#plain_evs + 1] = ev end
    table.sort(plain_evs, function(x, y) return x.name < y.name end)
    local plain = plan_mod.make(plain_evs, popts)
    if plain then
      print(string.format("  the same %d events without co-scheduling: %d runs (lower bound %d)", #plain_evs,
        #plain.runs, plain.lower_bound))
    end
  end
  for pmu, c in pairs(popts.counters or {}) do
    print(string.format("  counters: %s %d generic + %d fixed (%s)", pmu, c.generic, c.fixed or 0, prep.counters_from))
  end
  return 0
end

-- Before a profile: what limits it, said once, never refused. The
-- profile says itself what it does about perf_event_paranoid; a tracefs
-- warning says why the tracepoints were skipped.
local function preflight(a, cat)
  local checks, traced = {}, false
  for _, c in ipairs(a.dry_run and {} or doctor.checks()) do
    if c.name ~= "perf_event_paranoid" then checks[#checks + 1] = c end
    traced = traced or (c.name == "tracefs" and c.level == "warn")
  end
  for _, s in ipairs(cat.skipped) do
    if not (traced and s:match("^tracepoints:")) then errorf("skipped %s", s) end
  end
  for _, w in ipairs(doctor.warnings(checks)) do errorf("warning: %s", w) end
end

-- cmd: the workload's command line (verbatim, see parser.split).
function M.profile(a, _, cmd)
  if #cmd == 0 then
    errorf("no command to profile (usage: autoperf profile [OPTIONS] -- CMD [ARGS...])")
    return 2
  end
  local interval, ierr = parser.integer(a.interval, "-I", 0)
  if not interval then errorf("%s", ierr) return 2 end
  local reps, rerr = parser.integer(a["repeat"], "-r", 1)
  if not reps then errorf("%s", rerr) return 2 end
  local delay, derr = parser.integer(a.delay or "0", "--delay", 0)
  if not delay then errorf("%s", derr) return 2 end
  local timeout = a.timeout and tonumber(a.timeout)
  if a.timeout and (not timeout or timeout <= 0) then
    errorf("--timeout must be a number of seconds > 0, not '%s'", a.timeout)
    return 2
  end
  -- the same selection as plan's
  local prep, perr, pcode = prepare(a)
  if not prep then errorf("%s", perr) return pcode end
  local tty = core.isatty(2) and not a.quiet
  local result, err, code = profile.from_specs(nil, {
    prepared = prep, argv = cmd, out = a.output, interval_ms = interval,
    isolate = a.isolate, strategy = a.strategy,
    repetitions = reps, system_wide = a.all_cpus, counting = a.counting, force = a.force, dry_run = a.dry_run,
    delay_ms = delay, roi = a.roi, timeout_s = timeout, fail_fast = a.fail_fast,
    tolerance = a.tolerance, remeasure = a.remeasure,
    progress = tty and function(p) out.progress_line(p, out.color_ok(2)) end or nil,
    preflight = not a.quiet and function(notes)
      preflight(a, prep.catalog)
      for _, n in ipairs(notes) do errorf("note: %s", n) end
    end or nil,
  })
  if tty then io.stderr:write("\r\27[K") end
  if not result then
    errorf("%s", err)
    return code or 1
  end
  -- The workload owns stdout: everything of ours goes to stderr, as
  -- perf stat's does (a dry run runs nothing: its plan is the output).
  if result.dry_run then
    out.print_plan(result.plan, #prep.events)
    return 0
  end
  return out.profile_report(result, cmd, a.quiet)
end

-- Lua: run (a script), slurm (an experiment as a Slurm job array), repl.

-- The script path as given, or else under the bundled examples/ (beside
-- lua/ in the tree and under PREFIX/share/autoperf when installed).
function M.resolve_script(path, lua_dir)
  if util.exists(path) or path:sub(1, 1) == "/" or not lua_dir then return path end
  local bundled = lua_dir .. "/../examples/" .. path:gsub("^examples/", "")
  if util.exists(bundled) then return bundled end
  return path
end

-- args: the script's arguments (verbatim, see parser.split).
function M.run(a, env, args)
  -- --shard K/N is ours (experiments measure one slice); the rest is the
  -- script's, and everything after "--" is the script's verbatim.
  local rest, i = {}, 1
  while i <= #args do
    local arg = args[i]
    local v = arg:match("^%-%-shard=(.*)$")
    if arg == "--" then
      for j = i + 1, #args do rest[#rest + 1] = args[j] end
      break
    elseif arg == "--shard" or v then
      if not v then
        i = i + 1
        v = args[i]
      end
      local k, n = experiment.parse_shard(v or "")
      if not k then errorf("%s", n) return 2 end
      experiment.defaults.shard = k .. "/" .. n
    else
      rest[#rest + 1] = arg
    end
    i = i + 1
  end
  args = rest
  local path = M.resolve_script(a.script, env.lua_dir)
  local chunk, err = loadfile(path)
  if not chunk then
    errorf("%s", (err:gsub("^cannot open (%S+)", "cannot open script %1")))
    return 1
  end
  -- Scripts see their arguments as Lua's standalone interpreter passes
  -- them: the global 'arg' and '...'.
  local argt = { [0] = path }
  for j, v in ipairs(args) do argt[j] = v end
  _G.arg = argt
  -- The script's error with file:line, and the traceback down to the
  -- script (autoperf's own frames below it say nothing to its author).
  local function handler(e)
    local tb = debug.traceback(tostring(e), 2)
    return (tb:gsub("\n[^\n]*%[C%]: in function 'xpcall'.*$", ""))
  end
  local ok, res = xpcall(chunk, handler, table.unpack(args))
  if not ok then
    errorf("%s", res)
    return 1
  end
  return math.tointeger(res) or 0
end

function M.slurm(a, env)
  local shards = tonumber(a.shards)
  if not shards or shards < 1 or shards ~= math.floor(shards) then
    errorf("--shards must be a whole number >= 1, not '%s'", a.shards)
    return 2
  end
  local script = M.resolve_script(a.script, env.lua_dir)
  if not util.exists(script) then
    errorf("cannot open script %s", a.script)
    return 2
  end
  local cwd, cerr = slurm.cwd(os.getenv("PWD"))
  if not cwd then
    errorf("%s", cerr)
    return 2
  end
  local bin = env.argv0 or "autoperf"
  if not bin:find("/", 1, true) then bin = util.which(bin) or bin end
  local path, err = slurm.write({
    bin = bin, script = script, args = a.args, shards = shards, prefix = a.prefix, cwd = cwd,
    sbatch = a.sbatch,
  })
  if not path then errorf("%s", err) return 1 end
  print(string.format("autoperf: wrote %s (submit with: sh %s)", path, path))
  return 0
end

function M.repl()
  return require("autoperf.repl").run()
end

-- Measured profiles: aggregate, analyze (stats, correlation, detail,
-- wide), diff.

local function analyze() return require "autoperf.analyze" end

function M.aggregate(a)
  local r, err = aggregate.aggregate(a.dir, { output = a.output })
  if not r then
    errorf("%s", err)
    return 1
  end
  if r.up_to_date then
    print(string.format("autoperf: %s and %s are up to date (newer than the profile's files)", r.results, r.summary))
    return 0
  end
  print(string.format("autoperf: wrote %s (%d rows: %d events from %d run file%s) and %s",
    r.results, r.rows, r.events, r.runs, r.runs == 1 and "" or "s", r.summary))
  print(string.format("  anchors per run: %s; their spread across runs: %s", r.runs_csv, r.anchors_csv))
  if r.flagged > 0 then print(string.format("  FLAGGED (not counted all the time): %d events", r.flagged)) end
  if r.refused > 0 then print(string.format("  refused by the kernel: %d events (listed in the summary)", r.refused)) end
  return 0
end

-- autoperf metrics DIR: metrics/ computes, metrics/report shows.
function M.metrics(a)
  local metrics = require "autoperf.metrics"
  local report = require "autoperf.metrics.report"
  local level = a.level and tonumber(a.level)
  if a.level and not level then
    errorf("--level %s: not a number", util.printable(a.level, 40))
    return 2
  end
  local names
  if a.metric and #a.metric > 0 then names = table.concat(a.metric, ",") end
  local res, err = metrics.of_profile(a.dir, { file = a.metrics, metrics = names,
    tsc_hz = a.tsc_hz and tonumber(a.tsc_hz) })
  if not res then
    errorf("%s", err)
    return 1
  end
  if a.json then
    print(report.json(res, { level = level }))
  elseif a.csv then
    print(report.csv(res, { level = level }))
  else
    print(report.table(res, { level = level }))
  end
  return 0
end

-- The names given to -e (repeatable, comma-separated as for profile:
-- pmu/term=a,term=b/ stays whole), or nil, message.
local function flatten(lists)
  local names = {}
  for _, l in ipairs(lists or {}) do
    local parts, err = evspec.split(l)
    if not parts then return nil, err end
    for _, v in ipairs(parts) do
      if v ~= "" then names[#names + 1] = v end
    end
  end
  return names
end

-- Integer options of analyze and diff: nil (after saying why) when bad.
local function int_arg(value, name, min)
  local n, err = parser.integer(value, name, min)
  if not n then errorf("%s", err) end
  return n
end

function M.analyze_stats(a)
  local limit = int_arg(a.limit, "--limit", 0)
  if not limit then return 2 end
  local r, err = analyze().stats(a.dir, { output = a.output, sort = a.sort, limit = limit })
  if not r then errorf("%s", err) return 1 end
  io.write(r.text)
  out.simulated_note(r.simulated)
  print("autoperf: wrote " .. r.csv)
  return 0
end

function M.analyze_correlation(a)
  local top = int_arg(a.top, "--top", 0)
  if not top then return 2 end
  local events, ferr
  if #a.events > 0 then
    events, ferr = flatten(a.events)
    if not events then errorf("%s", ferr) return 2 end
  end
  local r, err = analyze().correlation(a.dir, { output = a.output, method = a.method, top = top,
    events = events, format = a.format, align = a.align, per = a.per })
  if not r then errorf("%s", err) return 1 end
  print(string.format("%s correlation of %d events over %d intervals (%d left out as constant)",
    r.method, #r.names, r.intervals, #r.constant))
  if r.alignment_text then print("  " .. r.alignment_text) end
  print(string.format("  %d clusters at mean |r| >= %g (average linkage on 1-|r|); order in %s",
    r.clusters, r.threshold, r.order_csv))
  if r.note then print("  note: " .. r.note) end
  for _, w in ipairs(r.warnings or {}) do print("  warning: " .. w) end
  out.simulated_note(r.simulated)
  if #r.top > 0 then
    print("most correlated pairs:")
    for i, t in ipairs(r.top) do
      -- below what the number of intervals can tell from chance: said
      print(string.format("%4d  %+.4f  %s  ~  %s%s", i, t.r, t.a, t.b,
        math.abs(t.r) < (r.critical_r or 0) and "  (within chance)" or ""))
    end
  end
  print(string.format("autoperf: wrote %s and %s%s", r.csv, r.image,
    r.full_image and (" (an overview; every pair in " .. r.full_image .. ")") or ""))
  if a.html then
    local page, perr = require("autoperf.report").write(a.dir, nil,
      { output = r.csv:gsub("correlation%.csv$", "report.html"), method = a.method })
    if not page then errorf("%s", perr) return 1 end
    print(string.format("autoperf: wrote %s (%.1f MB)", page.path, page.bytes / 1e6))
  end
  return 0
end

function M.analyze_detail(a)
  local rep = a.rep and int_arg(a.rep, "--rep", 1)
  if a.rep and not rep then return 2 end
  local events, ferr = flatten(a.events)
  if not events then errorf("%s", ferr) return 2 end
  local r, err = analyze().detail(a.dir, events, { output = a.output, per_cpu = a.per_cpu,
    rep = rep, format = a.format, all = a.all, align = a.align, per = a.per })
  if not r then errorf("%s", err) return 1 end
  if r.alignment_text then print("  " .. r.alignment_text) end
  if #r.skipped > 0 then
    local zero, names = 0, {}
    for _, x in ipairs(r.skipped) do
      if x.value == 0 then zero = zero + 1 end
      if #names < 5 then names[#names + 1] = x.name end
    end
    print(string.format("skipped %d flat event%s (the same value in every interval; %d of them zero): %s%s; " ..
      "--all draws them", #r.skipped, #r.skipped == 1 and "" or "s", zero, table.concat(names, ", "),
      #r.skipped > #names and ", ..." or ""))
  end
  for _, img in ipairs(r.images) do print("autoperf: wrote " .. img) end
  return 0
end

function M.analyze_select(a)
  local threshold, max_cv = tonumber(a.threshold), tonumber(a.max_cv)
  if not threshold or threshold <= 0 or threshold > 1 then
    errorf("--threshold must be a number in (0, 1], not '%s'", a.threshold)
    return 2
  end
  if not max_cv or max_cv < 0 then
    errorf("--max-cv must be a number of 0 or more, not '%s'", a.max_cv)
    return 2
  end
  local limit = int_arg(a.limit, "--limit", 0)
  if not limit then return 2 end
  local folds = int_arg(a.folds, "--folds", 1)
  if not folds then return 2 end
  local top = int_arg(a.top, "--top", 1)
  if not top then return 2 end
  local r, err = analyze().select(a.dir, { output = a.output, threshold = threshold, max_cv = max_cv,
    method = a.method, limit = limit, target = a.target, folds = folds, top = top })
  if not r then errorf("%s", err) return 1 end
  io.write(r.text)
  if a.target then
    print("autoperf: wrote " .. r.csv)
    return 0
  end
  out.simulated_note(r.simulated)
  print(string.format("autoperf: wrote %s (profile -e @%s) and %s", r.list, r.list, r.csv))
  return 0
end

function M.analyze_wide(a)
  local r, err = analyze().wide(a.dir, { output = a.output })
  if not r then errorf("%s", err) return 1 end
  print(string.format("autoperf: wrote %s (%d rows x %d events)", r.path, r.rows, r.events))
  return 0
end

function M.report(a)
  local r, err = require("autoperf.report").write(a.dir, a.b, { output = a.output })
  if not r then errorf("%s", err) return 1 end
  print(string.format("autoperf: wrote %s (%.1f MB, %d events, %d in the heatmap, %.1f s)", r.path,
    r.bytes / 1e6, r.events, r.correlated, r.seconds))
  return 0
end

function M.diff(a)
  local alpha = tonumber(a.alpha)
  if not alpha or alpha <= 0 or alpha >= 1 then
    errorf("--alpha must be a number between 0 and 1, not '%s'", a.alpha)
    return 2
  end
  local limit = int_arg(a.limit, "--limit", 0)
  if not limit then return 2 end
  local r, err = analyze().diff(a.a, a.b, { output = a.output, alpha = alpha, limit = limit, format = a.format,
    align = a.align })
  if not r then errorf("%s", err) return 1 end
  io.write(r.text)
  if r.alignment_text then print("  " .. r.alignment_text) end
  out.simulated_note(r.simulated)
  print("autoperf: wrote " .. r.csv .. (r.image and (" and " .. r.image) or ""))
  if a.html then
    local page, perr = require("autoperf.report").write(a.a, a.b,
      { output = r.csv:gsub("diff%.csv$", "report.html"), alpha = alpha })
    if not page then errorf("%s", perr) return 1 end
    print(string.format("autoperf: wrote %s (%.1f MB)", page.path, page.bytes / 1e6))
  end
  return 0
end

return M
