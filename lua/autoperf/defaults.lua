-- The defaults of autoperf, in one table: the CLI's option defaults (and
-- so its --help), the API's, experiments' and the planner's; and the
-- environment variables autoperf reads, read here only.
local M = {}

M.output = "out"                      -- profile: the output directory
M.interval_ms = 100                   -- profile: sampling interval (0: totals only)
M.measure_interval_ms = 0             -- ap.measure, experiments: totals only
M.repetitions = 1                     -- runs of the workload per planned run
M.counting = "auto"                   -- profile: cgroup where allowed, else per task
M.isolate = "taken-alone,errata"      -- events measured alone (as the original autoperf)
M.strategy = "pack"                   -- the planner's: fewest runs
M.shards = 4                          -- slurm: array tasks
M.nofile = 1024                       -- descriptors assumed when RLIMIT_NOFILE cannot be raised
M.reserved_fds = 64                   -- descriptors the planner leaves for everything else

-- The isolation policy as a list ({"taken-alone", "errata"}) from a
-- comma-separated string (or a list, returned as it is; nil: the default).
function M.isolate_list(v)
  if type(v) == "table" then return v end
  local out = {}
  for item in (v or M.isolate):gmatch("[^,]+") do out[#out + 1] = item end
  return out
end

-- The environment: AUTOPERF_PMU (a libpfm4 model or sim:MODEL to use
-- instead of this machine's), AUTOPERF_COUNTERS (the planner's counter
-- counts, a testing knob: see capacity.lua), AUTOPERF_WORKLOADS (where
-- the bundled workloads are), AUTOPERF_HISTORY (the REPL's history). An empty value is no value. getenv: a
-- function of a name (specs), default os.getenv.
function M.env(name, getenv)
  local v = (getenv or os.getenv)(name)
  if v == "" then return nil end
  return v
end

function M.pmu(getenv) return M.env("AUTOPERF_PMU", getenv) end
function M.counters(getenv) return M.env("AUTOPERF_COUNTERS", getenv) end
function M.workloads(getenv) return M.env("AUTOPERF_WORKLOADS", getenv) end
-- the REPL's history file: AUTOPERF_HISTORY, else ~/.autoperf_history
function M.history(getenv)
  return M.env("AUTOPERF_HISTORY", getenv) or ((M.env("HOME", getenv) or ".") .. "/.autoperf_history")
end

return M
