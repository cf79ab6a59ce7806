-- Turns a list of events into runs of counter groups.
--
-- Kernel events (software, tracepoints, uncounted-by-hardware PMUs) never
-- compete for counters, so a run is bounded only by what the kernel lets
-- one process hold: the group read size (core.GROUP_MAX members) and the
-- descriptor budget (RLIMIT_NOFILE). Events are grouped per PMU, so one
-- read(2) per group collects them all.
local core = require "autoperf.core"

local M = {}

-- Descriptors kept free for everything else the process opens.
M.RESERVED_FDS = 64

-- opts: group_max (default core.GROUP_MAX), fd_budget (descriptors a run
-- may use), ncpus (groups are opened once per cpu in system-wide mode).
-- Returns {runs={{groups={{pmu=, events={...}}}}}, lower_bound=n} or nil, msg.
function M.make(events, opts)
  opts = opts or {}
  local group_max = opts.group_max or core.GROUP_MAX
  local ncpus = opts.ncpus or 1
  local budget = opts.fd_budget or (1 << 20)
  local per_run = budget // ncpus
  if per_run < 1 then
    return nil, string.format("no descriptor budget left for counters (%d descriptors, %d cpus); raise 'ulimit -n'", budget, ncpus)
  end
  local chunk_max = math.min(group_max, per_run)

  -- A user's {group} stays one group; everything else: one list per PMU,
  -- in order of first appearance.
  local order, by_pmu, user = {}, {}, {}
  for _, ev in ipairs(events) do
    local key = ev.group and ("{" .. ev.group .. "}") or ev.pmu
    if ev.group and not by_pmu[key] then user[#user + 1] = key end
    local list = by_pmu[key]
    if not list then
      list = {}
      by_pmu[key] = list
      order[#order + 1] = key
    end
    list[#list + 1] = ev
  end
  for _, key in ipairs(user) do
    local n = #by_pmu[key]
    if n > chunk_max then
      return nil, string.format("the group %s has %d events; at most %d fit in one group here",
        key, n, chunk_max)
    end
  end

  local runs, run, used = {}, nil, 0
  local function place(pmu, chunk)
    if not run or used + #chunk > per_run then
      run = { groups = {} }
      runs[#runs + 1] = run
      used = 0
    end
    run.groups[#run.groups + 1] = { pmu = pmu, events = chunk }
    used = used + #chunk
  end
  for _, key in ipairs(order) do
    local list, chunk = by_pmu[key], {}
    local pmu = list[1].pmu
    if list[1].group then
      -- placed whole; a fresh run when it does not fit the current one
      if run and used + #list > per_run then run = nil end
      place(pmu, list)
      list = {}
    end
    for _, ev in ipairs(list) do
      chunk[#chunk + 1] = ev
      -- A chunk may not overflow the current run: cut it where it fills.
      local room = run and (per_run - used) or per_run
      if #chunk == chunk_max or (#chunk == room and room < chunk_max) then
        place(pmu, chunk)
        chunk = {}
      end
    end
    if #chunk > 0 then place(pmu, chunk) end
  end
  return { runs = runs, lower_bound = math.ceil(#events / per_run) }
end

-- {runs={{groups={{pmu=, events={names}}}}}, lower_bound=} for the
-- manifest.
function M.describe(plan)
  local out = {}
  for i, run in ipairs(plan.runs) do
    local groups = {}
    for j, g in ipairs(run.groups) do
      local names = {}
      for k, ev in ipairs(g.events) do names[k] = ev.name end
      groups[j] = { pmu = g.pmu, events = names }
    end
    out[i] = { groups = groups }
  end
  return { runs = out, lower_bound = plan.lower_bound }
end

return M
