-- The command line: parses arguments, calls the API, prints results.
-- Expected failures end as one line "autoperf: ..." and a non-zero code.
local argparse = require "argparse"
local core = require "autoperf.core"
local aggregate = require "autoperf.aggregate"
local catalog = require "autoperf.catalog"
local defaults = require "autoperf.defaults"
local doctor = require "autoperf.doctor"
local evspec = require "autoperf.evspec"
local experiment = require "autoperf.experiment"
local slurm = require "autoperf.slurm"
local plan_mod = require "autoperf.plan"
local profile = require "autoperf.profile"
local stats = require "autoperf.stats"
local util = require "autoperf.util"

local M = {}

local function errorf(fmt, ...)
  io.stdout:flush() -- what came before on stdout stays before
  io.stderr:write("autoperf: ", string.format(fmt, ...), "\n")
end

-- Options that choose where events come from (list, profile, stats).
local function catalog_options(cmd)
  cmd:option("--pmu", "A PMU: filters by it, and when it names a libpfm4 model this machine " ..
    "lacks (e.g. skl, icx), uses that model (also AUTOPERF_PMU).")
  cmd:option("--events-json", "An Intel perfmon event file (repeatable); ~/.cache/pmu-events/ " ..
    "is read too when present."):count("*")
  cmd:option("--smt", "Hyper-threading state for perfmon counter lists (default: this machine's).")
    :choices({ "on", "off" })
end

-- Options of the planner (plan, profile).
local function plan_options(cmd)
  cmd:option("--isolate", "Events measured alone: taken-alone, errata and/or event names, " ..
    "comma-separated; 'none' for none.", "taken-alone,errata")
  cmd:option("--strategy", "pack (fewest runs) or first-fit (the original autoperf's).", "pack")
    :choices({ "pack", "first-fit" })
end

-- Names of the kernel's PMUs (--pmu then filters and does not force).
local function kernel_pmu(name)
  if name == "software" or name == "tracepoint" or name == "cpu" then return true end
  for _, p in ipairs(catalog.sysfs_pmus()) do
    if p.name == name then return true end
  end
  return false
end

-- The catalog options of the parsed arguments: the model --pmu forces
-- (nil for a kernel PMU: it filters) and the --smt state.
local function pmu_options(a)
  local force = a.pmu and not kernel_pmu(a.pmu) and a.pmu or nil
  local smt
  if a.smt then smt = a.smt == "on" end
  return force, smt
end

local function load_catalog(a)
  local force, smt = pmu_options(a)
  return catalog.load({ pmu = force or defaults.pmu(), events_json = a.events_json, smt = smt })
end

local function build_parser()
  local p = argparse("autoperf",
    "Measures every performance event of this machine for a workload, without multiplexing:\n" ..
    "schedules events into as few runs as the PMU allows, runs the workload once per run,\n" ..
    "verifies every event was counted the whole time, and merges the results.")
    :command_target("command")
    :epilog("Run 'autoperf COMMAND --help' for a command's options.")
  p:flag("--version", "Print the version and exit.")
    :action(function()
      print("autoperf " .. require("autoperf.version").VERSION)
      os.exit(0)
    end)

  local list = p:command("list", "List the events this machine offers.")
  list:argument("pattern", "Only names matching this glob (e.g. 'sched:*') or substring.")
    :args("?")
  list:flag("--json", "Print a JSON array instead of a table.")
  list:option("--source", "Only events from this source: kernel, tracefs, sysfs, libpfm4, perfmon.")
  list:option("--desc", "Only events whose description contains this word.")
  list:flag("--long", "Print each event's long description.")
  catalog_options(list)
  list:epilog("Examples:\n  autoperf list 'sched:*'\n  autoperf list clock --json\n" ..
    "  autoperf list --pmu skl --desc miss\n  autoperf list --events-json skylakex_core.json --source perfmon")

  local doc = p:command("doctor", "Check what this machine lets autoperf measure, and how to change it.")
  doc:epilog("Example:\n  autoperf doctor")

  local pl = p:command("plan", "Plan the runs that measure the events without multiplexing; runs nothing.")
  pl:option("-e --event", "Events (as for profile; default: all, or every event of --events-json/--pmu).")
    :count("*")
  catalog_options(pl)
  plan_options(pl)
  pl:flag("-a --all-cpus", "Plan for system-wide counting (descriptors per CPU).")
  pl:flag("--csv", "Print one line per event: RUN,PMU,GROUP,COUNTER,EVENT.")
  pl:flag("--json", "Print the plan as JSON.")
  pl:epilog("Examples:\n  autoperf plan -e 'sched:*,task-clock'\n" ..
    "  autoperf plan --events-json ../shared/pmu-data/intel/skylake_core.json\n" ..
    "  autoperf plan --pmu skl --strategy first-fit --csv")

  local st = p:command("stats", "Per PMU: events, counter constraints, shared registers, isolated events.")
  catalog_options(st)
  st:option("--csv", "Also write the numbers as CSV to this file.")
  st:epilog("Example:\n  autoperf stats --events-json skylakex_core.json --csv stats.csv")

  local prof = p:command("profile", "Measure a command with every event (or those given with -e).")
  prof:usage("Usage: autoperf profile [-o DIR] [-e SPEC,...] [-I MS] [-a] [-r N] [--dry-run] -- CMD [ARGS...]")
  prof:option("-o --output", "Output directory.", "out")
  prof:option("-e --event",
    "Events to measure, comma-separated: names, perf aliases, globs such as 'sched:*', " ..
    "pmu/term=value,.../ or 'all' (the default). May be repeated.")
    :count("*")
  prof:option("-I --interval", "Sampling interval in milliseconds (0: totals only).", "100")
  prof:flag("-a --all-cpus", "Count on every CPU, system-wide, while the command runs.")
  prof:option("-r --repeat", "Runs of the workload per planned run.", "1")
  prof:flag("--dry-run", "Print the plan (runs and groups) and exit without running.")
  prof:flag("--force", "Replace an output directory that holds a different profile.")
  prof:flag("-q --quiet", "Errors only: no progress, counts or summary (as perf stat -q).")
  prof:option("--timeout", "Kill a run of the workload (its whole process group) after SEC seconds.")
  prof:flag("--fail-fast", "Stop at the first run whose workload fails (default: record it and go on).")
  prof:option("--delay", "Start counting MS milliseconds after the workload starts.")
  prof:flag("--roi", "Count only inside the workload's region of interest (examples/include/autoperf.h).")
  catalog_options(prof)
  plan_options(prof)
  prof:argument("cmd", "The command to profile and its arguments."):args("*")
  prof:epilog("Examples:\n  autoperf profile -- ./app --size 10\n" ..
    "  autoperf profile -o sched -e 'sched:*,task-clock' -I 10 -- make -j2\n" ..
    "An interrupted profile resumes when rerun with the same arguments.")

  local run = p:command("run", "Run a Lua script with the autoperf API loaded (require \"autoperf\").")
  run:argument("script", "Lua file; when not found from here, looked up in the bundled examples/.")
  run:argument("args", "Arguments for the script (its 'arg' table and '...').")
    :args("*")
  run:epilog("Examples:\n  autoperf run experiments/sweep.lua\n" ..
    "  autoperf run experiments/sweep.lua --shard 2/4   # one slice of the configurations\n" ..
    "Experiments (ap.experiment) take --shard K/N: configurations K, K+N, K+2N, ...")

  local sl = p:command("slurm", "Write Slurm batch scripts that run an experiment's slices as a job array " ..
    "and merge them afterwards.")
  sl:argument("script", "The experiment script (as for 'autoperf run').")
  sl:argument("args", "Arguments for the script."):args("*")
  sl:option("--shards", "Number of slices (array tasks).", "4")
  sl:option("--prefix", "Prefix of the written files (default: the script's name).")
  sl:option("--sbatch", "An extra #SBATCH line for both jobs, e.g. --sbatch=--partition=debug (repeatable).")
    :count("*")
  sl:epilog("Example:\n  autoperf slurm experiments/sweep.lua --shards 8\n  sh sweep.submit.sh")

  local repl = p:command("repl", "An interactive Lua prompt with the autoperf API loaded (also 'autoperf' " ..
    "alone on a terminal).")
  repl:epilog("Example:\n  autoperf repl\n  > ap.events('sched:*')")

  local agg = p:command("aggregate", "Merge an output directory into results.csv and summary.csv.")
  agg:argument("dir", "Output directory of 'autoperf profile'.")
  agg:option("-o --output", "Results file (default DIR/results.csv; a .gz name compresses).")
  agg:epilog("Example:\n  autoperf aggregate out")

  local an = p:command("analyze", "Analyze a profile in-process: stats, correlation, detail plots, wide export.")
  an:command_target("analysis")
  an:epilog("Run 'autoperf analyze COMMAND --help' for a command's options. Files go to DIR/analysis " ..
    "unless -o says otherwise.")
  local function outopt(c)
    c:option("-o --output", "Directory for the files (default DIR/analysis; beside a results.csv).")
  end
  local ast = an:command("stats", "Per event: total, mean, std, min, max and coefficient of variation " ..
    "across repetitions; zero and constant events. A table and stats.csv.")
  ast:argument("dir", "Output directory of 'autoperf profile', or a results.csv.")
  outopt(ast)
  ast:option("--sort", "Order of the table: cv, total or name."):choices({ "cv", "total", "name" }):default("cv")
  ast:option("-n --limit", "Rows in the table (0: all; the CSV has every event).", "20")
  ast:epilog("Example:\n  autoperf analyze stats out --sort total")
  local aco = an:command("correlation", "Correlation matrix of the events' time series (those that vary): " ..
    "correlation.csv and a heatmap (correlation.png, its gnuplot script correlation.gp beside it).")
  aco:argument("dir", "Output directory of 'autoperf profile', or a results.csv.")
  outopt(aco)
  aco:option("-e --events", "Only these events: names or globs, comma-separated. May be repeated."):count("*")
  aco:option("--method", "pearson or spearman (ranks)."):choices({ "pearson", "spearman" }):default("pearson")
  aco:option("--top", "List the N most correlated pairs.", "10")
  aco:option("--format", "Image format."):choices({ "png", "svg" }):default("png")
  aco:epilog("Example:\n  autoperf profile -o out -I 10 -- ./app\n  autoperf analyze correlation out --top 20")
  local ade = an:command("detail", "A time-series plot per event: one line per repetition, or per CPU.")
  ade:argument("dir", "Output directory of 'autoperf profile'.")
  outopt(ade)
  ade:option("-e --events", "Events to draw: names or globs, comma-separated. May be repeated."):count("+")
  ade:flag("--per-cpu", "One line per CPU (of repetition --rep, default 1) instead of one per repetition.")
  ade:option("--rep", "Only this repetition.")
  ade:option("--format", "Image format."):choices({ "png", "svg" }):default("png")
  ade:epilog("Example:\n  autoperf analyze detail out -e page-faults,'syscalls:sys_enter_write'")
  local awi = an:command("wide", "The original autoperf's timeseries layout: INDEX plus one column per event " ..
    "(summed over CPUs), for pandas or R.")
  awi:argument("dir", "Output directory of 'autoperf profile', or a results.csv.")
  awi:option("-o --output", "The file (default DIR/analysis/wide.csv; a .gz name compresses).")
  awi:epilog("Example:\n  autoperf analyze wide out -o out.csv.gz")

  local df = p:command("diff", "Compare two profiles (A, the baseline, and B) event by event: the change, " ..
    "Welch's t-test across repetitions, effect size; a ranked table, diff.csv and a plot.")
  df:argument("a", "Output directory of the baseline profile (A).")
  df:argument("b", "Output directory of the profile to compare (B).")
  df:option("-o --output", "Directory for the files (default B/analysis).")
  df:option("--alpha", "False discovery rate under which a change is significant (Benjamini-Hochberg).", "0.05")
  df:option("-n --limit", "Rows in the table (0: all; the CSV has every event).", "20")
  df:option("--format", "Image format."):choices({ "png", "svg" }):default("png")
  df:epilog("Example:\n  autoperf profile -o old -r 5 -- ./app-old\n  autoperf profile -o new -r 5 -- ./app-new\n" ..
    "  autoperf diff old new")
  return p
end

-- The script path as given, or else under the bundled examples/ (beside
-- lua/ in the tree and under PREFIX/share/autoperf when installed).
function M.resolve_script(path, lua_dir)
  if util.exists(path) or path:sub(1, 1) == "/" or not lua_dir then return path end
  local bundled = lua_dir .. "/../examples/" .. path:gsub("^examples/", "")
  if util.exists(bundled) then return bundled end
  return path
end

local function cmd_run(script, args, env)
  -- --shard K/N is ours (experiments measure one slice); the rest is the
  -- script's, and everything after "--" is the script's verbatim.
  local rest, i = {}, 1
  while i <= #args do
    local a = args[i]
    local v = a:match("^%-%-shard=(.*)$")
    if a == "--" then
      for j = i + 1, #args do rest[#rest + 1] = args[j] end
      break
    elseif a == "--shard" or v then
      if not v then
        i = i + 1
        v = args[i]
      end
      local k, n = experiment.parse_shard(v or "")
      if not k then errorf("%s", n) return 2 end
      experiment.defaults.shard = k .. "/" .. n
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  args = rest
  local path = M.resolve_script(script, env.lua_dir)
  local chunk, err = loadfile(path)
  if not chunk then
    errorf("%s", (err:gsub("^cannot open (%S+)", "cannot open script %1")))
    return 1
  end
  -- Scripts see their arguments as Lua's standalone interpreter passes
  -- them: the global 'arg' and '...'.
  local argt = { [0] = path }
  for i, a in ipairs(args) do argt[i] = a end
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

-- Options of 'profile' that take a value: their value is not the command.
local VALUE_OPTS = { ["-o"] = true, ["--output"] = true, ["-e"] = true, ["--event"] = true,
                     ["-I"] = true, ["--interval"] = true, ["-r"] = true, ["--repeat"] = true,
                     ["--pmu"] = true, ["--events-json"] = true, ["--smt"] = true,
                     ["--isolate"] = true, ["--strategy"] = true, ["--timeout"] = true,
                     ["--delay"] = true }

-- Splits 'profile' arguments into ours and the workload's: the workload
-- starts after "--" or at the first argument that is not an option.
function M.split_command(args, first)
  local ours, cmd = {}, {}
  local i = first
  while i <= #args do
    local a = args[i]
    if a == "--" then
      i = i + 1
      break
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      ours[#ours + 1] = a
      if VALUE_OPTS[a] and args[i + 1] then
        ours[#ours + 1] = args[i + 1]
        i = i + 1
      end
    else
      break
    end
    i = i + 1
  end
  for j = i, #args do cmd[#cmd + 1] = args[j] end
  return ours, cmd
end

local function integer_opt(value, name, min)
  local n = math.tointeger(tonumber(value))
  if not n or n < min then return nil, string.format("%s must be an integer >= %d, not '%s'", name, min, value) end
  return n
end

local function event_json(ev)
  return {
    name = ev.name, aliases = ev.aliases, pmu = ev.pmu, model = ev.model, source = ev.source,
    sources = ev.sources, encoding = ev.encoding, type = ev.type, config = ev.config,
    config1 = ev.config1 or 0, config2 = ev.config2 or 0, desc = ev.desc, long_desc = ev.long_desc,
    available = ev.available, why = ev.why, counters = ev.counters, msr = ev.msr, shared = ev.shared,
    taken_alone = ev.taken_alone, errata = ev.errata, deprecated = ev.deprecated,
    unit = ev.unit, boxes = ev.boxes, facts = ev.facts, simulated = ev.simulated,
  }
end

local function cmd_list(a)
  local cat, err = load_catalog(a)
  if not cat then errorf("%s", err) return 1 end
  local events = catalog.filter(cat.events, a.pattern, { pmu = a.pmu and not a.pmu:match("^sim:") and a.pmu or nil,
    source = a.source, desc = a.desc })
  if a.json then
    local out = {}
    for i, ev in ipairs(events) do out[i] = event_json(ev) end
    io.write(util.json_encode(out), "\n")
    return 0
  end
  if #events == 0 then
    errorf("no event matches%s", a.pattern and (" '" .. util.printable(a.pattern, 120) .. "'") or " these filters")
    for _, s in ipairs(cat.skipped) do errorf("skipped %s", s) end
    return 1
  end
  local w1, w2, w3 = #"NAME", #"PMU", #"ENCODING"
  local marks = false -- a marker column only when something is not measurable
  for _, ev in ipairs(events) do
    marks = marks or not ev.available
    w1 = math.max(w1, #ev.name)
    w2 = math.max(w2, #ev.pmu)
    w3 = math.max(w3, #ev.encoding)
  end
  local fmt = "%s%-" .. w1 .. "s  %-" .. w2 .. "s  %-" .. w3 .. "s  %s\n"
  local blank = marks and "  " or ""
  local out = { string.format(fmt, blank, "NAME", "PMU", "ENCODING", "DESCRIPTION") }
  local why = {}
  for _, ev in ipairs(events) do
    out[#out + 1] = string.format(fmt, ev.available and blank or "* ", ev.name, ev.pmu, ev.encoding, ev.desc or "")
    if a.long and ev.long_desc and ev.long_desc ~= ev.desc then
      out[#out + 1] = "      " .. ev.long_desc .. "\n"
    end
    if not ev.available then why[ev.why or "not measurable here"] = true end
  end
  io.write(table.concat(out))
  for w in pairs(why) do errorf("* not measurable on this machine: %s", w) end
  for _, s in ipairs(cat.skipped) do errorf("skipped %s", s) end
  return 0
end

-- The selection of -e (repeatable; default: every event here, or of
-- --events-json / a chosen --pmu model) with the counters it is planned
-- with (see profile.prepare), or nil, message, exit code.
local function prepare(a)
  local force, smt = pmu_options(a)
  return profile.prepare(a.event, { pmu = force, events_json = a.events_json, smt = smt })
end

local function print_plan(plan, nevents, ms)
  print(string.format("plan: %d events in %d run%s (lower bound %d)%s",
    nevents, #plan.runs, #plan.runs == 1 and "" or "s", plan.lower_bound,
    ms and string.format(", planned in %.1f ms", ms) or ""))
  for r, run in ipairs(plan.runs) do
    local parts = {}
    for _, grp in ipairs(run.groups) do
      if grp.counters then
        local names = plan_mod.counter_names(grp.counters)
        local evs = {}
        for i, ev in ipairs(grp.events) do evs[i] = names[i] .. "=" .. ev.name end
        parts[#parts + 1] = grp.pmu .. " {" .. table.concat(evs, " ") .. "}"
      else
        parts[#parts + 1] = string.format("%s: %d event%s", grp.pmu, #grp.events, #grp.events == 1 and "" or "s")
      end
    end
    print(string.format("  run %d: %s", r, table.concat(parts, "; ")))
  end
end

local function cmd_plan(a)
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
    io.write(util.json_encode(d), "\n")
    return 0
  end
  if a.csv then
    local out = { "RUN,PMU,GROUP,COUNTER,EVENT" }
    for r, run in ipairs(plan.runs) do
      for g, grp in ipairs(run.groups) do
        local names = grp.counters and plan_mod.counter_names(grp.counters) or {}
        for i, ev in ipairs(grp.events) do
          out[#out + 1] = string.format("%d,%s,%d,%s,%s", r, grp.pmu, g, names[i] or "-", ev.name)
        end
      end
    end
    io.write(table.concat(out, "\n"), "\n")
    return 0
  end
  print_plan(plan, #events, ms)
  for pmu, c in pairs(popts.counters or {}) do
    print(string.format("  counters: %s %d generic + %d fixed (%s)", pmu, c.generic, c.fixed or 0, prep.counters_from))
  end
  return 0
end

-- Colors only on a terminal, and never with NO_COLOR set.
local function color_ok(fd)
  local nc = os.getenv("NO_COLOR")
  return core.isatty(fd) and (nc == nil or nc == "")
end

local function cmd_doctor()
  local checks = doctor.checks()
  io.write(doctor.format(checks, color_ok(1)))
  local cat, err = catalog.load({ no_cache = false })
  if not cat then errorf("%s", err) return 1 end
  local count = { software = 0, tracepoint = 0, hardware = 0, other = 0, unavailable = 0 }
  for _, ev in ipairs(cat.events) do
    if not ev.available then
      count.unavailable = count.unavailable + 1
    elseif ev.pmu == "software" or ev.pmu == "tracepoint" then
      count[ev.pmu] = count[ev.pmu] + 1
    elseif ev.hardware or ev.source == "perfmon" then
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

local function cmd_stats(a)
  local cat, err = load_catalog(a)
  if not cat then errorf("%s", err) return 1 end
  local events = catalog.filter(cat.events, nil, { pmu = a.pmu and not a.pmu:match("^sim:") and a.pmu or nil })
  -- Kernel software events and tracepoints need no counters: leave them
  -- out unless asked for by --pmu (a simulated PMU asks for its own).
  if not a.pmu or cat.sim then
    local hw = {}
    for _, ev in ipairs(events) do
      if ev.hardware or ev.source == "perfmon" then hw[#hw + 1] = ev end
    end
    events = hw
  end
  if #events == 0 then
    errorf("no hardware events here; give --events-json FILE or --pmu MODEL (see 'autoperf list')")
    return 1
  end
  local st = stats.compute(events)
  io.write(stats.format(st))
  if a.csv then
    local ok, werr = util.write_atomic(a.csv, stats.csv(st))
    if not ok then errorf("%s", werr) return 1 end
    print("wrote " .. a.csv)
  end
  return 0
end

local function list_names(items, max)
  local out = {}
  for i = 1, math.min(#items, max) do out[i] = items[i] end
  local s = table.concat(out, ", ")
  if #items > max then s = s .. string.format(", ... and %d more", #items - max) end
  return s
end

local function clock(s)
  if not s then return "--:--" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format("%d:%02d:%02d", s // 3600, s % 3600 // 60, s % 60) end
  return string.format("%d:%02d", s // 60, s % 60)
end

-- One line, redrawn in place on a terminal.
local function progress_line(p, color)
  local rep = p.reps > 1 and string.format(" rep %d/%d", p.rep, p.reps) or ""
  local run = string.format("run %d/%d%s", p.run, p.runs, rep)
  if color then run = "\27[1m" .. run .. "\27[0m" end
  io.stderr:write(string.format("\r\27[Kautoperf: %s | events done %d/%d | %s elapsed | ETA %s",
    run, p.events_done, p.events_total, clock(p.elapsed), clock(p.eta)))
  io.stderr:flush()
end

local function cmd_profile(a, cmd, opts)
  if #cmd == 0 then
    errorf("no command to profile (usage: autoperf profile [OPTIONS] -- CMD [ARGS...])")
    return 2
  end
  local interval, ierr = integer_opt(a.interval, "-I", 0)
  if not interval then errorf("%s", ierr) return 2 end
  local reps, rerr = integer_opt(a["repeat"], "-r", 1)
  if not reps then errorf("%s", rerr) return 2 end
  local delay, derr = integer_opt(a.delay or "0", "--delay", 0)
  if not delay then errorf("%s", derr) return 2 end
  local timeout = a.timeout and tonumber(a.timeout)
  if a.timeout and (not timeout or timeout <= 0) then
    errorf("--timeout must be a number of seconds > 0, not '%s'", a.timeout)
    return 2
  end

  -- the same selection as plan's: -e as perf takes it, else every event
  -- here, or of --events-json / a forced --pmu model
  local prep, perr, pcode = prepare(a)
  if not prep then errorf("%s", perr) return pcode end
  local cat, events = prep.catalog, prep.events
  if not util.which(cmd[1]) then
    errorf("command not found: %s", cmd[1])
    return 127
  end

  local tty = core.isatty(2) and not a.quiet
  -- Preflight: say what limits this profile, once, but never refuse. The
  -- profile says itself what it does about perf_event_paranoid; a tracefs
  -- warning says why the tracepoints were skipped.
  if not a.quiet then
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
  local result, err, code = profile.from_specs(nil, {
    prepared = prep, argv = cmd, out = a.output, interval_ms = interval,
    isolate = a.isolate, strategy = a.strategy,
    repetitions = reps, system_wide = a.all_cpus, force = a.force, dry_run = a.dry_run,
    delay_ms = delay, roi = a.roi, timeout_s = timeout, fail_fast = a.fail_fast,
    progress = tty and function(p) progress_line(p, color_ok(2)) end or nil,
  })
  if tty then io.stderr:write("\r\27[K") end
  if not result then
    errorf("%s", err)
    return code or 1
  end
  -- The workload owns stdout: everything of ours goes to stderr, as
  -- perf stat's does (a dry run runs nothing: its plan is the output).
  if not a.quiet then
    for _, n in ipairs(result.notes or {}) do errorf("note: %s", n) end
  end
  if result.dry_run then
    print_plan(result.plan, #events)
    return 0
  end
  local function say(fmt, ...)
    if not a.quiet then io.stderr:write(string.format(fmt, ...), "\n") end
  end
  if result.runs == 0 and result.resumed > 0 then
    say("autoperf: %s already holds this complete profile (%d run%s); " ..
      "use --force to measure again, or aggregate it", result.dir, result.resumed, result.resumed == 1 and "" or "s")
    return 0
  end
  if not a.quiet then
    local text = require("autoperf.counts").of_profile(result.dir, util.shell_join(cmd))
    if text then io.stderr:write(text) end
  end
  say("autoperf: profiled '%s': %d events in %d run%s x %d repetition%s (%s)%s",
    util.shell_join(cmd), result.events, #result.plan.runs, #result.plan.runs == 1 and "" or "s",
    result.repetitions, result.repetitions == 1 and "" or "s", util.human_duration(result.elapsed_s),
    result.resumed > 0 and string.format(", %d resumed from an earlier attempt", result.resumed) or "")
  if #result.refused > 0 then
    local names = {}
    for i, r in ipairs(result.refused) do names[i] = r.name .. " (" .. r.error .. ")" end
    say("  refused by the kernel, skipped (%d): %s", #names, list_names(names, 8))
  end
  if #result.flagged > 0 then
    say("  FLAGGED, not counted all the time (%d): %s", #result.flagged, list_names(result.flagged, 8))
  else
    say("  every event was counted the whole time (time_enabled == time_running)")
  end
  say("  output: %s/  (merge with: autoperf aggregate %s)", result.dir, result.dir)
  if result.simulated then
    say("  SIMULATED: hardware events were counted by a simulated %s PMU; their values are " ..
      "synthetic (derived from task-clock), not measurements (UNIT ends in ':simulated')", result.simulated.model)
  end
  if #result.failed > 0 then
    errorf("the workload failed in %d run%s: %s", #result.failed, #result.failed == 1 and "" or "s",
      list_names(result.failed, 3))
    -- as perf stat: the workload's own exit status
    return result.exit_status or 1
  end
  return 0
end

local function cmd_slurm(a, env)
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

local function cmd_aggregate(a)
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
  if r.flagged > 0 then print(string.format("  FLAGGED (not counted all the time): %d events", r.flagged)) end
  if r.refused > 0 then print(string.format("  refused by the kernel: %d events (listed in the summary)", r.refused)) end
  return 0
end

-- The names given to -e (repeatable, comma-separated as for profile:
-- pmu/term=a,term=b/ stays whole), or nil, message.
local function flatten(lists)
  local out = {}
  for _, l in ipairs(lists or {}) do
    local parts, err = evspec.split(l)
    if not parts then return nil, err end
    for _, v in ipairs(parts) do
      if v ~= "" then out[#out + 1] = v end
    end
  end
  return out
end

local function simulated_note(yes)
  if yes then print("  (simulated PMU: these counts are synthetic, not measurements)") end
end

-- Integer options of analyze and diff: nil (after saying why) when bad.
local function int_arg(value, name, min)
  local n, err = integer_opt(value, name, min)
  if not n then errorf("%s", err) end
  return n
end

local function cmd_analyze(a)
  local analyze = require "autoperf.analyze"
  local which = a.analysis
  if which == "stats" then
    local limit = int_arg(a.limit, "--limit", 0)
    if not limit then return 2 end
    local r, err = analyze.stats(a.dir, { output = a.output, sort = a.sort, limit = limit })
    if not r then errorf("%s", err) return 1 end
    io.write(r.text)
    simulated_note(r.simulated)
    print("autoperf: wrote " .. r.csv)
    return 0
  elseif which == "correlation" then
    local top = int_arg(a.top, "--top", 0)
    if not top then return 2 end
    local events, ferr
    if #a.events > 0 then
      events, ferr = flatten(a.events)
      if not events then errorf("%s", ferr) return 2 end
    end
    local r, err = analyze.correlation(a.dir, { output = a.output, method = a.method, top = top,
      events = events, format = a.format })
    if not r then errorf("%s", err) return 1 end
    print(string.format("%s correlation of %d events over %d intervals (%d left out as constant)",
      r.method, #r.names, r.intervals, #r.constant))
    if r.note then print("  note: " .. r.note) end
    simulated_note(r.simulated)
    if #r.top > 0 then
      print("most correlated pairs:")
      for i, t in ipairs(r.top) do print(string.format("%4d  %+.4f  %s  ~  %s", i, t.r, t.a, t.b)) end
    end
    print(string.format("autoperf: wrote %s and %s", r.csv, r.image))
    return 0
  elseif which == "detail" then
    local rep = a.rep and int_arg(a.rep, "--rep", 1)
    if a.rep and not rep then return 2 end
    local events, ferr = flatten(a.events)
    if not events then errorf("%s", ferr) return 2 end
    local r, err = analyze.detail(a.dir, events, { output = a.output, per_cpu = a.per_cpu,
      rep = rep, format = a.format })
    if not r then errorf("%s", err) return 1 end
    for _, img in ipairs(r.images) do print("autoperf: wrote " .. img) end
    return 0
  elseif which == "wide" then
    local r, err = analyze.wide(a.dir, { output = a.output })
    if not r then errorf("%s", err) return 1 end
    print(string.format("autoperf: wrote %s (%d rows x %d events)", r.path, r.rows, r.events))
    return 0
  end
  errorf("unknown analysis '%s'", tostring(which))
  return 2
end

local function cmd_diff(a)
  local alpha = tonumber(a.alpha)
  if not alpha or alpha <= 0 or alpha >= 1 then
    errorf("--alpha must be a number between 0 and 1, not '%s'", a.alpha)
    return 2
  end
  local limit = int_arg(a.limit, "--limit", 0)
  if not limit then return 2 end
  local r, err = require("autoperf.analyze").diff(a.a, a.b, { output = a.output, alpha = alpha, limit = limit,
    format = a.format })
  if not r then errorf("%s", err) return 1 end
  io.write(r.text)
  simulated_note(r.simulated)
  print("autoperf: wrote " .. r.csv .. (r.image and (" and " .. r.image) or ""))
  return 0
end

-- argv: the arguments (without the program name); env: {lua_dir=, argv0=}.
function M.main(argv, env)
  local args = {}
  for i, v in ipairs(argv) do args[i] = v end
  local cmd = {}
  -- 'profile' and 'run' take the workload's (script's) arguments verbatim.
  for i, v in ipairs(args) do
    if v == "run" and args[i + 1] and args[i + 1]:sub(1, 1) ~= "-" then
      local rest = {}
      for j = i + 2, #args do rest[#rest + 1] = args[j] end
      return cmd_run(args[i + 1], rest, env or {})
    elseif v == "profile" then
      local ours
      ours, cmd = M.split_command(args, i + 1)
      local head = {}
      for j = 1, i do head[j] = args[j] end
      for _, o in ipairs(ours) do head[#head + 1] = o end
      args = head
      break
    elseif v:sub(1, 1) ~= "-" then
      break
    end
  end
  local parser = build_parser()
  if #args == 0 then
    -- on a terminal: the prompt; otherwise what there is to do
    if core.isatty(0) and core.isatty(1) then return require("autoperf.repl").run() end
    io.stdout:write(parser:get_help(), "\n")
    return 0
  end
  local ok, a = parser:pparse(args)
  if not ok then
    errorf("%s", a)
    io.stderr:write("Try 'autoperf --help'.\n")
    return 2
  end
  if a.command == "list" then return cmd_list(a) end
  if a.command == "stats" then return cmd_stats(a) end
  if a.command == "plan" then return cmd_plan(a) end
  if a.command == "doctor" then return cmd_doctor() end
  if a.command == "profile" then return cmd_profile(a, cmd, env or {}) end
  if a.command == "aggregate" then return cmd_aggregate(a) end
  if a.command == "analyze" then return cmd_analyze(a) end
  if a.command == "diff" then return cmd_diff(a) end
  if a.command == "slurm" then return cmd_slurm(a, env or {}) end
  if a.command == "repl" then return require("autoperf.repl").run() end
  errorf("unknown command '%s'", tostring(a.command))
  return 2
end

return M
