-- make bench-plan: the planner on every Intel event file in
-- ../shared/pmu-data/intel (SMT on and off): runs, lower bound, runs of
-- the original autoperf's first-fit greedy, planning time (median of 5).
-- Run with: autoperf run scripts/bench-plan.lua [DIR]
local core = require "autoperf.core"
local perfmon = require "autoperf.perfmon"
local plan = require "autoperf.plan"

local dir = ... or "../shared/pmu-data/intel"
local files = {}
for _, e in ipairs(core.listdir(dir) or {}) do
  -- event files only: the metric files beside them (*_metrics*.json) hold formulas
  if e.name:match("%.json$") and not e.name:match("_metrics") then files[#files + 1] = e.name end
end
if #files == 0 then
  io.stderr:write("bench-plan: no event files in ", dir, "\n")
  return 1
end

local function load(names, smt)
  local evs = {}
  for _, name in ipairs(names) do
    local recs = assert(perfmon.load(dir .. "/" .. name, { smt = smt }))
    for _, r in ipairs(recs) do
      r.model = name:match("^(.-)_") or name
      evs[#evs + 1] = r
    end
  end
  return evs
end

local function median_ms(f)
  local t = {}
  for i = 1, 5 do
    local t0 = core.now_ns()
    f()
    t[i] = (core.now_ns() - t0) / 1e6
  end
  table.sort(t)
  return t[3]
end

-- Each core file with its uncore file, when both exist.
local sets = {}
for _, f in ipairs(files) do sets[#sets + 1] = { f } end
for _, f in ipairs(files) do
  local stem = f:match("^(.-)_core%.json$")
  if stem then
    for _, g in ipairs(files) do
      if g == stem .. "_uncore.json" then sets[#sets + 1] = { f, g } end
    end
  end
end

print(string.format("%-52s %-4s %6s %6s %6s %10s %9s", "events file", "SMT", "events", "runs", "bound", "first-fit", "plan ms"))
local worst_gap, worst_ms = 0, 0
for _, set in ipairs(sets) do
  for _, smt in ipairs({ true, false }) do
    local evs = load(set, smt)
    local p = assert(plan.make(evs))
    local ff = assert(plan.make(evs, { strategy = "first-fit" }))
    local ms = median_ms(function() plan.make(evs) end)
    worst_gap = math.max(worst_gap, #p.runs - p.lower_bound)
    worst_ms = math.max(worst_ms, ms)
    print(string.format("%-52s %-4s %6d %6d %6d %10d %9.1f", table.concat(set, "+"), smt and "on" or "off",
      #evs, #p.runs, p.lower_bound, #ff.runs, ms))
  end
end
print(string.format("largest gap to the lower bound: %d run(s); slowest plan: %.1f ms", worst_gap, worst_ms))
