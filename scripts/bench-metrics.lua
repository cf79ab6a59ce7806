-- make bench-metrics: metric-aware planning on every shared metric file
-- (../shared/pmu-data/intel/*_metrics*.json), all metrics, against the
-- simulated model of its part (core file, and uncore file where shared;
-- SMT on). Per file:
--   metrics      metrics in the file / those with an event known here
--   events       distinct events the metrics need (known here)
--   co-sched     metrics each counted in one run by the metric-aware plan
--   several      metrics whose events cannot share one run (or span PMUs)
--   runs         runs of the metric-aware plan
--   bound        no plan co-scheduling the same metrics takes fewer runs
--                (metrics/plan.lua's M.bound)
--   plain        runs of the plain event plan of the same events (no
--                co-scheduling: what 'autoperf profile -e' of them plans)
--   toplev       runs of one group per metric, as toplev --no-multiplex
--                runs them: each metric's own plan, summed
--   ms           planning time: grouping + planner (median of 5)
-- Run with: autoperf run scripts/bench-metrics.lua [DIR]
local core = require "autoperf.core"
local plan = require "autoperf.plan"
local profile = require "autoperf.profile"
local metrics = require "autoperf.metrics"

local dir = ... or "../shared/pmu-data/intel"
local PARTS = {
  { "skylake_metrics.json", { "skylake_core.json" } },
  { "skylakex_metrics.json", { "skylakex_core.json", "skylakex_uncore.json" } },
  { "skylakex_metrics_perf.json", { "skylakex_core.json", "skylakex_uncore.json" } },
  { "icelakex_metrics.json", { "icelakex_core.json" } },
  { "sapphirerapids_metrics.json", { "sapphirerapids_core.json", "sapphirerapids_uncore.json" } },
  { "alderlake_metrics_goldencove_core.json", { "alderlake_goldencove_core.json" } },
}

local median_ms = dofile((arg[0]:gsub("scripts/bench%-metrics%.lua$", "")) .. "scripts/bench_common.lua").median_ms

print(string.format("%-40s %8s %6s %8s %7s %5s %5s %5s %6s %7s", "metric file", "metrics", "events", "co-sched",
  "several", "runs", "bound", "plain", "toplev", "ms"))
local worst_ratio, worst_ms, at_bound = 0, 0, 0
for _, part in ipairs(PARTS) do
  local file, models = part[1], part[2]
  local paths = {}
  for i, m in ipairs(models) do paths[i] = dir .. "/" .. m end
  if not core.listdir(dir) then
    io.stderr:write("bench-metrics: no ", dir, "\n")
    return 1
  end
  local prep, err = profile.prepare(nil, { pmu = "sim:" .. table.concat(paths, ","), smt = true,
                                           metrics = dir .. "/" .. file })
  if not prep then
    io.stderr:write("bench-metrics: ", file, ": ", err, "\n")
    return 1
  end
  local mp = prep.metrics
  -- the planner's options as profile plans with them (the anchors in every run)
  local popts = profile.plan_options(prep, {})
  local p = assert(plan.make(prep.events, popts))
  -- the plain plan: the same events, once each, no groups
  local plain_evs = {}
  for _, ev in pairs(mp.rec) do plain_evs[#plain_evs + 1] = ev end
  table.sort(plain_evs, function(a, b) return a.name < b.name end)
  local plain = assert(plan.make(plain_evs, popts))
  -- toplev's way: each metric alone, its own runs
  local toplev, with_events = 0, 0
  for _, m in ipairs(mp.list) do
    local evs = {}
    for _, e in ipairs(m.events) do
      if mp.rec[e] then evs[#evs + 1] = mp.rec[e] end
    end
    if #evs > 0 then
      with_events = with_events + 1
      local mplan = assert(plan.make(evs, popts))
      toplev = toplev + #mplan.runs
    end
  end
  -- planning: the grouping (mp.planning_ms) and the planner, median of
  -- 5; prepare loads the catalog and the metric file too (ms)
  local planning = {}
  local ms = median_ms(function()
    local again = assert(profile.prepare(nil, { pmu = "sim:" .. table.concat(paths, ","), smt = true,
                                                metrics = dir .. "/" .. file }))
    local t0 = core.now_ns()
    assert(plan.make(again.events, popts))
    planning[#planning + 1] = again.metrics.planning_ms + (core.now_ns() - t0) / 1e6
  end)
  table.sort(planning)
  local planning_ms = planning[(#planning + 1) // 2]
  local ratio = #p.runs / math.max(1, #plain.runs)
  worst_ratio = math.max(worst_ratio, ratio)
  worst_ms = math.max(worst_ms, planning_ms)
  if #p.runs == mp.bound then at_bound = at_bound + 1 end
  print(string.format("%-40s %4d/%-3d %6d %8d %7d %5d %5d %5d %6d %7.1f", file, mp.metrics, with_events, #plain_evs,
    #mp.cosched, #mp.several, #p.runs, mp.bound, #plain.runs, toplev, planning_ms))
  print(string.format("%-40s (prepare with catalog and file load, median of 5: %.1f ms; %d events counted again)",
    "", ms, mp.duplicated))
end
print(string.format("runs of the metric-aware plan / runs of the plain plan: at most %.2f; planning at most %.1f ms",
  worst_ratio, worst_ms))
print(string.format("plans at their bound (no co-scheduling plan takes fewer runs): %d of %d", at_bound, #PARTS))
