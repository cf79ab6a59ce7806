-- The command line's grammar: one table of subcommands, each with its
-- options, arguments, help and its handler (the name of a function of
-- cli/commands.lua).
-- The argparse parser, and the split of a workload's (script's) arguments
-- from ours, are both made from this table.
local argparse = require "argparse"
local catalog = require "autoperf.catalog"
local defaults = require "autoperf.defaults"
local version = require "autoperf.version"

local M = {}

-- Options: {NAMES, HELP, default=, count=, choices=, flag=true}; a list
-- of them may stand for its options (shared groups). Arguments: {NAME,
-- HELP, args=}.

-- Options that choose where events come from (list, plan, stats, profile).
local CATALOG = {
  { "--pmu", "A PMU: filters by it, and when it names a libpfm4 model this machine " ..
    "lacks (e.g. skl, icx), uses that model (also AUTOPERF_PMU)." },
  { "--events-json", "An Intel perfmon event file (repeatable); ~/.cache/pmu-events/ " ..
    "is read too when present.", count = "*" },
  { "--smt", "Hyper-threading state for perfmon counter lists and the metrics' HYPERTHREADING_ON (default: this machine's; on for a simulated model).",
    choices = { "on", "off" } },
}

-- Options of the planner (plan, profile).
local PLAN = {
  { "--core-type", "On a hybrid Intel part: only the P-cores' (core: cpu_core) or the E-cores' (atom: " ..
    "cpu_atom) events, the command pinned to that PMU's CPUs (its sysfs cpus mask).", choices = { "core", "atom" } },
  { "--isolate", "Events measured alone: taken-alone, errata and/or event names, " ..
    "comma-separated; 'none' for none.", default = defaults.isolate },
  { "--strategy", "pack (fewest runs) or first-fit (the original autoperf's).", default = defaults.strategy,
    choices = { "pack", "first-fit" } },
  { "--anchor", "Anchor events, measured in every run beside the planned ones, comma-separated (default: " ..
    "task-clock, and on a hardware PMU what its fixed counters count: instructions, cycles, ref-cycles, slots; " ..
    "'none': the run's duration only, which is always there)." },
}

-- Metric planning (plan, profile): the events the metrics need.
local METRICS = {
  { "--metrics", "Plan the events of the metrics of this metric file (Intel's *_metrics.json, perf's " ..
    "MetricExpr JSON, or 'software', bundled); read them with 'autoperf metrics DIR'." },
  { "--metric", "With --metrics: only these metrics or metric groups, comma-separated (repeatable).", count = "*" },
}

local FORMAT = { "--format", "Image format.", choices = { "png", "svg" }, default = "png" }
local ANALYSIS_OUT = { "-o --output", "Directory for the files (default DIR/analysis; beside a results.csv)." }
local PROFILE_DIR = { "dir", "Output directory of 'autoperf profile', or a results.csv." }
-- Lining up runs by an anchor's progress (analyze/series.lua's align).
local ALIGN = {
  { "--align", "How intervals of different runs line up: auto (the default: one run's events by index, " ..
    "several runs' by the anchor whose totals agree best across them), index (wall-clock), or an anchor's name " ..
    "(e.g. task-clock: the n-th interval is the n-th slice of its progress)." },
  { "--per", "Counts per anchor unit (per second of task-clock, per instruction) instead of per interval.",
    flag = true },
}

M.COMMANDS = {
  { "list", "List the events this machine offers.", run = "list",
    arguments = { { "pattern", "Only names matching this glob (e.g. 'sched:*') or substring.", args = "?" } },
    options = {
      { "--json", "Print a JSON array instead of a table.", flag = true },
      { "--source", "Only events from this source: kernel, tracefs, sysfs, libpfm4, perfmon." },
      { "--desc", "Only events whose description contains this word." },
      { "--long", "Print each event's long description.", flag = true },
      CATALOG,
    },
    epilog = "Examples:\n  autoperf list 'sched:*'\n  autoperf list clock --json\n" ..
      "  autoperf list --pmu skl --desc miss\n  autoperf list --events-json skylakex_core.json --source perfmon" },

  { "doctor", "Check what this machine lets autoperf measure, and how to change it.", run = "doctor",
    epilog = "Example:\n  autoperf doctor" },

  { "plan", "Plan the runs that measure the events without multiplexing; runs nothing.", run = "plan",
    options = {
      { "-e --event", "Events (as for profile; default: all, or every event of --events-json/--pmu).", count = "*" },
      CATALOG, PLAN, METRICS,
      { "-a --all-cpus", "Plan for system-wide counting (descriptors per CPU).", flag = true },
      { "--csv", "Print one line per event: RUN,PMU,GROUP,COUNTER,EVENT.", flag = true },
      { "--json", "Print the plan as JSON.", flag = true },
    },
    epilog = "Examples:\n  autoperf plan -e 'sched:*,task-clock'\n" ..
      "  autoperf plan --events-json ../shared/pmu-data/intel/skylake_core.json\n" ..
      "  autoperf plan --pmu skl --strategy first-fit --csv" },

  { "stats", "Per PMU: events, counter constraints, shared registers, isolated events.", run = "stats",
    options = { CATALOG, { "--csv", "Also write the numbers as CSV to this file." } },
    epilog = "Example:\n  autoperf stats --events-json skylakex_core.json --csv stats.csv" },

  -- verbatim: the command line after our options is the workload's
  { "profile", "Measure a command with every event (or those given with -e).", run = "profile", verbatim = 0,
    usage = "Usage: autoperf profile [-o DIR] [-e SPEC,...] [-I MS] [-a] [-r N] [--dry-run] -- CMD [ARGS...]",
    options = {
      { "-o --output", "Output directory.", default = defaults.output },
      { "-e --event", "Events to measure, comma-separated: names, perf aliases, globs such as 'sched:*', " ..
        "pmu/term=value,.../ or 'all' (the default). May be repeated.", count = "*" },
      { "-I --interval", "Sampling interval in milliseconds (0: totals only).", default = tostring(defaults.interval_ms) },
      { "-a --all-cpus", "Count on every CPU, system-wide, while the command runs.", flag = true },
      { "--counting", "How the command's tasks are counted: cgroup (per CPU, only its own cgroup: no per-thread " ..
        "copies of the counters), task (per task, inherited by every thread) or auto: cgroup where the kernel " ..
        "and privileges allow it, else task.", default = defaults.counting, choices = { "auto", "cgroup", "task" } },
      { "-r --repeat", "Runs of the workload per planned run.", default = tostring(defaults.repetitions) },
      { "--dry-run", "Print the plan (runs and groups) and exit without running.", flag = true },
      { "--force", "Replace an output directory that holds a different profile.", flag = true },
      { "-q --quiet", "Errors only: no progress, counts or summary (as perf stat -q).", flag = true },
      { "--timeout", "Kill a run of the workload (its whole process group) after SEC seconds." },
      { "--fail-fast", "Stop at the first run whose workload fails (default: record it and go on).", flag = true },
      { "--delay", "Start counting MS milliseconds after the workload starts." },
      { "--roi", "Count only inside the workload's region of interest (examples/include/autoperf.h).", flag = true },
      { "--tolerance", "The guard: a run whose anchors deviate from the median of the runs before it by more than " ..
        "this fraction (and their spread) is measured again; 'off': no guard.", default = "0.25" },
      { "--remeasure", "The guard measures an outlying run again at most N more times.", default = "2" },
      CATALOG, PLAN, METRICS,
    },
    arguments = { { "cmd", "The command to profile and its arguments.", args = "*" } },
    epilog = "Examples:\n  autoperf profile -- ./app --size 10\n" ..
      "  autoperf profile -o sched -e 'sched:*,task-clock' -I 10 -- make -j2\n" ..
      "An interrupted profile resumes when rerun with the same arguments." },

  -- verbatim 1: the script goes to the parser, what follows it to the script
  { "run", "Run a Lua script with the autoperf API loaded (require \"autoperf\").", run = "run", verbatim = 1,
    arguments = {
      { "script", "Lua file; when not found from here, looked up in the bundled examples/." },
      { "args", "Arguments for the script (its 'arg' table and '...').", args = "*" },
    },
    epilog = "Examples:\n  autoperf run experiments/sweep.lua\n" ..
      "  autoperf run experiments/sweep.lua --shard 2/4   # one slice of the configurations\n" ..
      "Experiments (ap.experiment) take --shard K/N: configurations K, K+N, K+2N, ..." },

  { "slurm", "Write Slurm batch scripts that run an experiment's slices as a job array " ..
    "and merge them afterwards.", run = "slurm",
    arguments = {
      { "script", "The experiment script (as for 'autoperf run')." },
      { "args", "Arguments for the script.", args = "*" },
    },
    options = {
      { "--shards", "Number of slices (array tasks).", default = tostring(defaults.shards) },
      { "--prefix", "Prefix of the written files (default: the script's name)." },
      { "--sbatch", "An extra #SBATCH line for both jobs, e.g. --sbatch=--partition=debug (repeatable).",
        count = "*" },
    },
    epilog = "Example:\n  autoperf slurm experiments/sweep.lua --shards 8\n  sh sweep.submit.sh" },

  { "repl", "An interactive Lua prompt with the autoperf API loaded (also 'autoperf' " ..
    "alone on a terminal).", run = "repl",
    epilog = "Example:\n  autoperf repl\n  > ap.events('sched:*')" },

  { "aggregate", "Merge an output directory into results.csv and summary.csv.", run = "aggregate",
    arguments = { { "dir", "Output directory of 'autoperf profile'." } },
    options = { { "-o --output", "Results file (default DIR/results.csv; a .gz name compresses)." } },
    epilog = "Example:\n  autoperf aggregate out" },

  { "metrics", "Compute metrics (formulas over events: the bundled software metrics, Intel's metric " ..
    "files, perf's MetricExpr files) from a profile.", run = "metrics",
    arguments = { { "dir", "Output directory of 'autoperf profile'." } },
    options = {
      { "--metrics", "A metric file, or 'software' (bundled; the default unless the profile was planned for another)." },
      { "--metric", "Only these metrics or metric groups, comma-separated (repeatable).", count = "*" },
      { "--level", "TMA metrics down to this level only." },
      { "--csv", "Print CSV: a totals row and one row per interval for each metric.", flag = true },
      { "--json", "Print JSON.", flag = true },
      { "--tsc-hz", "SYSTEM_TSC_FREQ in Hz (default: from the CPU's model name or /proc/cpuinfo)." },
    },
    epilog = "Examples:\n  autoperf profile -o out -e 'task-clock,page-faults,context-switches,raw_syscalls:sys_enter' -- ./app\n" ..
      "  autoperf metrics out\n  autoperf metrics simout --metrics ../shared/pmu-data/intel/skylakex_metrics.json --level 2" },

  { "analyze", "Analyze a profile in-process: stats, correlation, detail plots, wide export.", target = "analysis",
    epilog = "Run 'autoperf analyze COMMAND --help' for a command's options. Files go to DIR/analysis " ..
      "unless -o says otherwise.",
    commands = {
      { "stats", "Per event: total, mean, std, min, max and coefficient of variation " ..
        "across repetitions; zero and constant events. A table and stats.csv.", run = "analyze_stats",
        arguments = { PROFILE_DIR },
        options = {
          ANALYSIS_OUT,
          { "--sort", "Order of the table: cv, total or name.", choices = { "cv", "total", "name" }, default = "cv" },
          { "-n --limit", "Rows in the table (0: all; the CSV has every event).", default = "20" },
        },
        epilog = "Example:\n  autoperf analyze stats out --sort total" },
      { "correlation", "Correlation matrix of the events' time series (those that vary): " ..
        "correlation.csv and a heatmap (correlation.png, its gnuplot script correlation.gp beside it).",
        run = "analyze_correlation",
        arguments = { PROFILE_DIR },
        options = {
          ANALYSIS_OUT,
          { "-e --events", "Only these events: names or globs, comma-separated. May be repeated.", count = "*" },
          { "--method", "pearson or spearman (ranks).", choices = { "pearson", "spearman" }, default = "pearson" },
          { "--top", "List the N most correlated pairs.", default = "10" },
          ALIGN,
          { "--html", "Also write the interactive report (report.html, as 'autoperf report DIR') beside.",
            flag = true },
          FORMAT,
        },
        epilog = "Example:\n  autoperf profile -o out -I 10 -- ./app\n  autoperf analyze correlation out --top 20" },
      { "detail", "A time-series plot per event: one line per repetition, or per CPU.", run = "analyze_detail",
        arguments = { { "dir", "Output directory of 'autoperf profile'." } },
        options = {
          ANALYSIS_OUT,
          { "-e --events", "Events to draw: names or globs, comma-separated. May be repeated.", count = "+" },
          { "--per-cpu", "One line per CPU (of repetition --rep, default 1) instead of one per repetition.",
            flag = true },
          { "--rep", "Only this repetition." },
          ALIGN,
          { "--all", "Draw flat events (the same value in every interval) that a glob matched too.", flag = true },
          FORMAT,
        },
        epilog = "Example:\n  autoperf analyze detail out -e page-faults,'syscalls:sys_enter_write'" },
      { "select", "The events that matter for the workload: non-constant, stable across repetitions, one " ..
        "per cluster of correlated events. An event list (selected.txt, for profile -e @FILE) and " ..
        "selection.csv (why each event was kept or dropped).", run = "analyze_select",
        arguments = { PROFILE_DIR },
        options = {
          ANALYSIS_OUT,
          { "--threshold", "Cluster events whose mean |r| is at least this (0..1).", default = "0.8" },
          { "--max-cv", "Drop events whose totals vary more than this across repetitions (cv).", default = "0.5" },
          { "--method", "pearson or spearman (ranks).", choices = { "pearson", "spearman" }, default = "pearson" },
          { "-n --limit", "Selected events listed on the terminal (0: all; the list has every one).", default = "20" },
          { "--target", "Rank the events of an experiment's tidy.csv (DIR: it or its directory) by how well " ..
            "they explain this parameter or event (mutual information above chance, stability over folds)." },
          { "--folds", "Folds (by configuration) for the stability of --target's ranking.", default = "5" },
          { "--top", "A fold counts an event as stable when it ranks it in its top N.", default = "10" },
        },
        epilog = "Example:\n  autoperf analyze select out\n  autoperf profile -o again -e @out/analysis/selected.txt -- ./app\n" ..
          "  autoperf analyze select sweep-out --target kb" },
      { "wide", "The original autoperf's timeseries layout: INDEX plus one column per event " ..
        "(summed over CPUs), for pandas or R.", run = "analyze_wide",
        arguments = { PROFILE_DIR },
        options = { { "-o --output", "The file (default DIR/analysis/wide.csv; a .gz name compresses)." } },
        epilog = "Example:\n  autoperf analyze wide out -o out.csv.gz" },
    } },

  { "report", "One self-contained HTML file of a profile (and of its diff against a second): summary, " ..
    "clustered correlation heatmap with zoom and hover, search, time series, diff table. No network.",
    run = "report",
    arguments = {
      PROFILE_DIR,
      { "b", "A second profile: the report adds the diff from DIR (A) to it (B).", args = "?" },
    },
    options = { { "-o --output", "The file (default DIR/analysis/report.html)." } },
    epilog = "Example:\n  autoperf report out\n  autoperf report old new -o old-vs-new.html" },

  { "diff", "Compare two profiles (A, the baseline, and B) event by event: the change, " ..
    "Welch's t-test across repetitions, effect size; a ranked table, diff.csv and a plot.", run = "diff",
    arguments = {
      { "a", "Output directory of the baseline profile (A)." },
      { "b", "Output directory of the profile to compare (B)." },
    },
    options = {
      { "-o --output", "Directory for the files (default B/analysis)." },
      { "--alpha", "False discovery rate under which a change is significant (Benjamini-Hochberg).", default = "0.05" },
      { "--html", "Also write the interactive report of A with the diff to B (report.html, as " ..
        "'autoperf report A B') beside diff.csv.", flag = true },
      { "-n --limit", "Rows in the table (0: all; the CSV has every event).", default = "20" },
      { "--align", "Compare totals per unit of this anchor (task-clock: per second of CPU time; an " ..
        "instruction anchor: per instruction) instead of raw totals per repetition." },
      FORMAT,
    },
    epilog = "Example:\n  autoperf profile -o old -r 5 -- ./app-old\n  autoperf profile -o new -r 5 -- ./app-new\n" ..
      "  autoperf diff old new" },
}

-- The options of a command, groups flattened, in order.
local function options_of(c)
  local out = {}
  local function add(list)
    for _, o in ipairs(list) do
      if type(o[1]) == "table" then add(o) else out[#out + 1] = o end
    end
  end
  add(c.options or {})
  return out
end

local function find(list, name)
  for _, c in ipairs(list or {}) do
    if c[1] == name then return c end
  end
end

local function define(cmd, c)
  if c.usage then cmd:usage(c.usage) end
  for _, arg in ipairs(c.arguments or {}) do
    local a = cmd:argument(arg[1], arg[2])
    if arg.args then a:args(arg.args) end
  end
  for _, o in ipairs(options_of(c)) do
    local opt = o.flag and cmd:flag(o[1], o[2]) or cmd:option(o[1], o[2])
    if o.choices then opt:choices(o.choices) end
    if o.default then opt:default(o.default) end
    if o.count then opt:count(o.count) end
  end
  if c.target then cmd:command_target(c.target) end
  for _, sub in ipairs(c.commands or {}) do define(cmd:command(sub[1], sub[2]), sub) end
  if c.epilog then cmd:epilog(c.epilog) end
end

-- The argparse parser of the whole command line.
function M.build()
  local p = argparse("autoperf",
    "Measures every performance event of this machine for a workload, without multiplexing:\n" ..
    "schedules events into as few runs as the PMU allows, runs the workload once per run,\n" ..
    "verifies every event was counted the whole time, and merges the results.")
    :command_target("command")
    :epilog("Run 'autoperf COMMAND --help' for a command's options.")
  p:flag("--version", "Print the version and exit.")
    :action(function()
      print("autoperf " .. version.VERSION)
      os.exit(0)
    end)
  for _, c in ipairs(M.COMMANDS) do define(p:command(c[1], c[2]), c) end
  return p
end

-- The table entry of the (sub)command the parsed arguments a chose.
function M.chosen(a)
  local c = find(M.COMMANDS, a.command)
  while c and c.target do c = find(c.commands, a[c.target]) end
  return c
end

-- The names of c's options that take a value (their value is never the
-- workload's first word).
local function value_options(c)
  local set = {}
  for _, o in ipairs(options_of(c)) do
    if not o.flag then
      for name in o[1]:gmatch("%S+") do set[name] = true end
    end
  end
  return set
end

-- Splits args from first on into ours (c's options) and the rest: the
-- rest starts after "--" or at the first argument that is not an option.
local function split_options(args, first, c)
  local takes_value = value_options(c)
  local ours, rest = {}, {}
  local i = first
  while i <= #args do
    local a = args[i]
    if a == "--" then
      i = i + 1
      break
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      ours[#ours + 1] = a
      if takes_value[a] and args[i + 1] then
        ours[#ours + 1] = args[i + 1]
        i = i + 1
      end
    else
      break
    end
    i = i + 1
  end
  for j = i, #args do rest[#rest + 1] = args[j] end
  return ours, rest
end

-- The arguments for the parser and those it never sees: what a verbatim
-- command (profile, run) takes as it is, the workload's command line or
-- the script's arguments. The first word that is not an option names
-- the command.
function M.split(argv)
  for i, v in ipairs(argv) do
    local c = find(M.COMMANDS, v)
    if c and c.verbatim then
      local ours, rest = split_options(argv, i + 1, c)
      local head = {}
      for j = 1, i do head[j] = argv[j] end
      for _, o in ipairs(ours) do head[#head + 1] = o end
      -- the command's own arguments before the verbatim part (run's script)
      for _ = 1, math.min(c.verbatim, #rest) do head[#head + 1] = table.remove(rest, 1) end
      return head, rest
    elseif v:sub(1, 1) ~= "-" then
      break
    end
  end
  return argv, {}
end

-- What parsed values mean.

-- value as an integer >= min, or nil, "NAME must be ...".
function M.integer(value, name, min)
  local n = math.tointeger(tonumber(value))
  if not n or n < min then return nil, string.format("%s must be an integer >= %d, not '%s'", name, min, value) end
  return n
end

-- Names of the kernel's PMUs (--pmu then filters and does not force).
local function kernel_pmu(name)
  if name == "software" or name == "tracepoint" or name == "cpu" then return true end
  for _, p in ipairs(catalog.sysfs_pmus()) do
    if p.name == name then return true end
  end
  return false
end

-- The catalog options of the parsed arguments (see catalog.load): the
-- model --pmu forces (none for a kernel PMU's name: it filters), the
-- perfmon files, the --smt state.
function M.catalog_options(a)
  local smt
  if a.smt then smt = a.smt == "on" end
  return { pmu = a.pmu and not kernel_pmu(a.pmu) and a.pmu or defaults.pmu(), events_json = a.events_json, smt = smt,
           core_type = a.core_type, anchor = a.anchor, metrics = a.metrics, isolate = a.metrics and a.isolate or nil,
           metric = a.metric and #a.metric > 0 and table.concat(a.metric, ",") or nil }
end

return M
