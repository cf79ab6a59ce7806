-- Metric-aware planning: the events of each metric that fits one run go
-- into one user group (core/plan.h's ap_plan_event.group: members share
-- a run), so that the metric is computed from counts of the same
-- execution. Metrics sharing events are merged into one group while the
-- union still fits one run; where it does not, the shared events are
-- counted again in the other group (an event counted in two runs, each
-- metric reading the run that holds all its events). A metric whose
-- events cannot fit one run (some TMA nodes need 40-84 events) is left to
-- the plain plan and labelled "computed from several runs".
local plan_mod = require "autoperf.plan"

local M = {}

-- The separator of a second count's name: INST_RETIRED.ANY#2
M.COPY = "#"

-- Does a list of records fit one run as one group? The planner's own
-- constraint model (plan.model: counters, fixed counters, shared
-- registers, taken-alone events), built once for all records; each test
-- is one core.plan of the subset as a group. Kernel events never
-- compete for counters: they always fit.
local function fits_fn(all, popts)
  local core = require "autoperf.core"
  local pmus, hw = plan_mod.model(all, popts)
  local cp = plan_mod.core_pmus(pmus)
  local by = {}
  for _, h in ipairs(hw) do by[h.ev.name] = h end
  local strategy = popts.strategy or require("autoperf.defaults").strategy
  local cache = {}
  return function(recs)
    local names = {}
    for i, r in ipairs(recs) do names[i] = r.name end
    table.sort(names)
    local key = table.concat(names, "\1")
    local hit = cache[key]
    if hit ~= nil then return hit end
    local sub = {}
    for _, r in ipairs(recs) do
      local h = by[r.name]
      if h then
        local c = {}
        for k, v in pairs(h) do c[k] = v end
        c.group = 1
        sub[#sub + 1] = c
      end
    end
    local ok = true
    if #sub > 0 then
      local nruns = core.plan(cp, sub, strategy)
      ok = nruns == 1
    end
    cache[key] = ok
    return ok
  end
end

-- list: metrics (metrics.select), rec: {[event name] = record}, popts:
-- the planner's options. Returns events (records; an event in several
-- groups appears once per group, same name), and info {groups=,
-- cosched={metric names}, several={metric names}, duplicated=n}.
-- opts.max_candidates bounds the groups tried per metric.
function M.plan(list, rec, popts, opts)
  opts = opts or {}
  local all = {}
  for _, r in pairs(rec) do all[#all + 1] = r end
  table.sort(all, function(a, b) return a.name < b.name end)
  local fits = fits_fn(all, popts or {})
  local maxc = opts.max_candidates or math.huge
  local order = {}
  for i, m in ipairs(list) do order[i] = m end
  -- big metrics first: they are the hardest to place
  table.sort(order, function(a, b)
    if #a.events ~= #b.events then return #a.events > #b.events end
    return a.index < b.index
  end)
  local clusters, holders = {}, {} -- holders[event] = {clusters}
  local info = { cosched = {}, several = {}, duplicated = 0 }
  local function recs_of(names)
    local out = {}
    for _, n in ipairs(names) do
      if rec[n] then out[#out + 1] = rec[n] end
    end
    return out
  end
  for _, m in ipairs(order) do
    local mine = {}
    for _, e in ipairs(m.events) do
      if rec[e] then mine[#mine + 1] = e end
    end
    if #mine == 0 then
      -- nothing to plan (constants only, or events unknown here)
    elseif not fits(recs_of(mine)) then
      info.several[#info.several + 1] = m.name
    else
      -- candidate groups: those holding most of the metric's events
      local overlap = {}
      for _, e in ipairs(mine) do
        for _, c in ipairs(holders[e] or {}) do overlap[c] = (overlap[c] or 0) + 1 end
      end
      -- every group is a candidate (a group grows to a whole run: the
      -- run's fixed counters then serve all its metrics), those holding
      -- most of the metric's events first
      local cands = {}
      for _, c in ipairs(clusters) do cands[#cands + 1] = { c = c, n = overlap[c] or 0 } end
      table.sort(cands, function(a, b)
        if a.n ~= b.n then return a.n > b.n end
        if #a.c.events ~= #b.c.events then return #a.c.events > #b.c.events end
        return a.c.id < b.c.id
      end)
      local placed
      for i = 1, math.min(#cands, maxc) do
        local c = cands[i].c
        if cands[i].n == #mine then
          placed = c -- all of it is there already
          break
        end
        local union = {}
        for _, e in ipairs(c.events) do union[#union + 1] = e end
        for _, e in ipairs(mine) do
          if not c.set[e] then union[#union + 1] = e end
        end
        if fits(recs_of(union)) then
          placed = c
          break
        end
      end
      if not placed then
        placed = { id = #clusters + 1, events = {}, set = {}, metrics = {} }
        clusters[#clusters + 1] = placed
      end
      for _, e in ipairs(mine) do
        if not placed.set[e] then
          placed.set[e] = true
          placed.events[#placed.events + 1] = e
          holders[e] = holders[e] or {}
          table.insert(holders[e], placed)
        end
      end
      placed.metrics[#placed.metrics + 1] = m.name
      -- the planner keeps a group's members together per PMU: a metric
      -- over several PMUs' events (core and uncore, an msr PMU's TSC)
      -- may be counted in several runs
      local pmus, npmu = {}, 0
      for _, e in ipairs(mine) do
        local p = rec[e].pmu or "?"
        if not pmus[p] then pmus[p], npmu = true, npmu + 1 end
      end
      if npmu == 1 then
        info.cosched[#info.cosched + 1] = m.name
      else
        info.several[#info.several + 1] = m.name
      end
    end
  end
  -- the records: one per event and group; events only the several-run
  -- metrics need, once, ungrouped
  local out, base_group = {}, opts.first_group or 1000
  for _, c in ipairs(clusters) do
    for _, e in ipairs(c.events) do
      local copy = {}
      for k, v in pairs(rec[e]) do copy[k] = v end
      copy.group = base_group + c.id
      -- a second count of an event is its own event (NAME#2): two may
      -- land in one run, where each name is declared once
      local k = 1
      for i, h in ipairs(holders[e]) do
        if h == c then k = i end
      end
      if k > 1 then
        copy.name = e .. M.COPY .. k
        copy.copy_of = e
        info.duplicated = info.duplicated + 1
      end
      out[#out + 1] = copy
    end
  end
  local seen = {}
  for _, ev in ipairs(out) do seen[ev.name] = true end
  for _, m in ipairs(list) do
    for _, e in ipairs(m.events) do
      if rec[e] and not seen[e] then
        seen[e] = true
        out[#out + 1] = rec[e]
      end
    end
  end
  info.groups = #clusters
  return out, info
end

return M
