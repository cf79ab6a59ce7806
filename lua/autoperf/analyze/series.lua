-- series: events' per-interval values, read from the run files by the C
-- core (core.run_series) and lined up across runs.
--
-- Events measured in different runs have series of slightly different
-- lengths (each run is its own execution of the workload). Interval i of
-- repetition k lines up across runs; each repetition is cut to its
-- shortest series, and repetitions follow each other, as INDEX does in
-- results.csv.
local core = require "autoperf.core"
local store = require "autoperf.store"
local csv = require "autoperf.csv"
local util = require "autoperf.util"

local M = {}

-- A loaded profile answers as a result object does (result.lua) for
-- totals and status: ds:total(name, rep), ds:status(name).
local DS = {}
DS.__index = DS

function DS:total(name, rep)
  local at = self.at[name]
  local x = at and at[rep or 1]
  return x and x.total
end

-- "ok", "flagged: not counted all the time", "refused: <error>", or nil.
function DS:status(name)
  if self.refused[name] then return "refused: " .. self.refused[name] end
  local at = self.at[name]
  if not at then return nil end
  for _, x in pairs(at) do
    if x.flagged then
      local partial = self.partial and self.partial[name]
      if partial then return require("autoperf.pmu.hybrid").partial_status(partial) end
      return "flagged: not counted all the time"
    end
  end
  return "ok"
end

-- What to say of a profile without a completed run.
function M.no_runs(dir)
  return dir .. " has no completed run yet (rerun the same 'autoperf profile' to resume it)"
end

-- Reads a profile directory: {dir=, names= (in order; also events),
-- units=, reps=, simulated=, user_only= (the kernel was excluded, see
-- profile.measurable), refused = {[name] = error}, at (also data) =
-- {[name] = {[rep] = {m=, row=, len=, total=, flagged=}}}}, or nil,
-- message. Memory: one double per event and interval (not per CPU or row
-- of the run files). An event re-measured in an extra run (the
-- verification loop) is taken from that run.
function M.load(dir)
  if not util.is_dir(dir) and util.exists(dir) then return M.load_results(dir) end
  local results = M.results_in(dir)
  if results then return M.load_results(results) end
  local s, err = store.load(dir)
  if not s then return nil, err end
  if #s.journal == 0 then
    return nil, M.no_runs(dir)
  end
  -- the anchors kept: each run's are read beside its events (alignment)
  local files = store.run_files(s, { anchors = true })
  local askip = store.anchor_skip(s)
  local anchor_names = {}
  for i, n in ipairs(require("autoperf.anchors").names(s.manifest)) do
    if i > 1 then anchor_names[n] = true end
  end
  local ds = setmetatable({ dir = dir, names = {}, units = {}, reps = 0, at = {}, refused = {}, anchor_at = {},
    anchors = {},
    simulated = s.manifest.simulated ~= nil, partial = require("autoperf.pmu.hybrid").partial(s.manifest),
    user_only = type(s.manifest.access) == "table" and s.manifest.access.user_only == true }, DS)
  ds.events, ds.data = ds.names, ds.at
  for _, r in ipairs(s.manifest.refused or {}) do ds.refused[r.name] = tostring(r.error) end
  -- an uncore event counts once per box (its own PMU): "NAME [box]" each
  local boxed = {}
  for _, ev in ipairs(s.manifest.events or {}) do
    if ev.boxes then boxed[ev.name] = true end
  end
  for i, e in ipairs(s.journal) do
    local rs, rerr = core.run_series(files[i].path, files[i].skip)
    if not rs then return nil, rerr end
    local key = e.run .. "/" .. e.rep
    for i, name in ipairs(rs.names) do
      if anchor_names[name] then
        ds.anchor_at[key] = ds.anchor_at[key] or {}
        ds.anchor_at[key][name] = { m = rs.m, row = i, len = rs.lengths[i], total = rs.totals[i] }
        if not ds.anchors[name] then
          ds.anchors[name] = rs.units[i]
          ds.anchors[#ds.anchors + 1] = name
        end
      end
    end
    for i, name in ipairs(rs.names) do
      if boxed[name] then name = name .. " [" .. rs.units[i]:gsub(":simulated$", "") .. "]" end
      local at = ds.at[name]
      if askip[e.run] and askip[e.run][name] then
        at = false -- an anchor's: the runs' data takes it from elsewhere
      elseif not at then
        at = {}
        ds.at[name] = at
        ds.names[#ds.names + 1] = name
        ds.units[name] = rs.units[i]
      end
      if at then
        at[e.rep] = { m = rs.m, row = i, len = rs.lengths[i], total = rs.totals[i], flagged = rs.flagged[i],
                      run = e.run }
      end
    end
    if e.rep > ds.reps then ds.reps = e.rep end
  end
  return ds
end

-- The results.csv of dir when dir holds one and no profile (the original
-- autoperf's scripts took ./out), or nil.
function M.results_in(dir)
  if not util.is_dir(dir) or core.file_kind(dir .. "/" .. store.MANIFEST) then return nil end
  for _, name in ipairs({ "results.csv", "results.csv.gz" }) do
    if util.exists(dir .. "/" .. name) then return dir .. "/" .. name end
  end
  return nil
end

-- A results.csv (autoperf's, or the original autoperf's; .gz too) read
-- as a profile of one repetition: its INDEX runs across repetitions.
function M.load_results(path)
  local rs, err = core.results_series(path)
  if not rs then return nil, err end
  local ds = setmetatable({ dir = path, names = rs.names, units = {}, reps = 1, at = {}, refused = {},
    from_results = true }, DS)
  ds.events, ds.data = ds.names, ds.at
  for i, name in ipairs(rs.names) do
    ds.units[name] = rs.units[i]
    if rs.units[i]:match(":simulated$") then ds.simulated = true end
    ds.at[name] = { { m = rs.m, row = i, len = rs.lengths[i], total = rs.totals[i], flagged = false } }
  end
  return ds
end

-- The layout of names in ds: {reps = {{rep=, length=}, ...}, length =
-- total}. A repetition missing for one of names is left out.
function M.layout(ds, names)
  local reps, total = {}, 0
  for k = 1, ds.reps do
    local len = math.huge
    for _, n in ipairs(names) do
      local at = ds.at[n] and ds.at[n][k]
      if not at then
        len = nil
        break
      end
      if at.len < len then len = at.len end
    end
    if len and len > 0 and len < math.huge then
      reps[#reps + 1] = { rep = k, length = len }
      total = total + len
    end
  end
  return { reps = reps, length = total }
end

-- A matrix with one row per name (in order) on layout.
function M.matrix(ds, names, layout)
  local m, err = core.matrix(#names, layout.length)
  if not m then return nil, err end
  for i, name in ipairs(names) do
    local col = 1
    for _, rp in ipairs(layout.reps) do
      local at = ds.at[name][rp.rep]
      m:copy(i, col, at.m, at.row, 1, rp.length)
      col = col + rp.length
    end
  end
  return m
end

-- Writes the original autoperf's timeseries layout to path (.gz
-- compresses): INDEX, then one column per event (sum over CPUs).
-- base: as for util.write_with. Returns {path=, rows=, events=} or nil,
-- message.
function M.write_wide(ds, path, names, base)
  names = names or ds.names
  local layout = M.layout(ds, names)
  local m, merr = M.matrix(ds, names, layout)
  if not m then return nil, merr end
  local cols = {}
  for i = 1, #names do cols[i] = m:row(i) end
  m:close()
  local num = csv.number -- counts: integers as the run files had them
  local ok, err = util.write_with(path, function(write)
    local head = { "INDEX" }
    for i, n in ipairs(names) do head[i + 1] = csv.field(n) end
    write(table.concat(head, ","), "\n")
    local buf, line = {}, {}
    for row = 1, layout.length do
      line[1] = row - 1
      for i = 1, #names do line[i + 1] = num(cols[i][row]) end
      buf[#buf + 1] = table.concat(line, ",")
      if #buf >= 256 then
        write(table.concat(buf, "\n"), "\n")
        buf = {}
      end
    end
    if #buf > 0 then write(table.concat(buf, "\n"), "\n") end
  end, base)
  if not ok then return nil, err end
  return { path = path, rows = layout.length, events = #names }
end

-- Alignment: events measured in different runs (each its own execution
-- of the workload) line up by interval index only if the workload's
-- behaviour falls at the same wall-clock times in every run. A sleep, a
-- wait or a disturbance that differs between runs shifts it; an anchor's
-- progress (the n-th ms of task-clock, the n-th million instructions)
-- does not move with them. M.align resamples each event's series onto a
-- grid of equal anchor progress: its cumulative count as a function of
-- the anchor's cumulative count in the same run file, linearly
-- interpolated between samples, differenced at every unit.

-- Anchors that count work, best first: an instruction count follows the
-- program itself; task-clock its CPU time.
M.WORK_ANCHORS = { "INST_RETIRED.ANY", "instructions", "inst_retired", "task-clock" }

-- The runs the series of names come from, per repetition: the number of
-- distinct runs (1: one execution each, nothing to line up).
local function runs_of(ds, names)
  local most = 0
  for k = 1, ds.reps do
    local seen, n = {}, 0
    for _, name in ipairs(names) do
      local at = ds.at[name] and ds.at[name][k]
      if at and at.run and not seen[at.run] then
        seen[at.run] = true
        n = n + 1
      end
    end
    most = math.max(most, n)
  end
  return most
end

-- Is anchor a in the run file of every series of names?
local function everywhere(ds, names, a)
  for _, name in ipairs(names) do
    for k, at in pairs(ds.at[name] or {}) do
      local sa = ds.anchor_at and ds.anchor_at[tostring(at.run) .. "/" .. k]
      if not (sa and sa[a]) then return false end
    end
  end
  return true
end

-- The spread (cv) of anchor a's totals over the run files of names.
local function anchor_cv(ds, names, a)
  local xs, seen = {}, {}
  for _, name in ipairs(names) do
    for k, at in pairs(ds.at[name] or {}) do
      local key = tostring(at.run) .. "/" .. k
      if not seen[key] then
        seen[key] = true
        xs[#xs + 1] = ds.anchor_at[key][a].total
      end
    end
  end
  return require("autoperf.guard").stats(xs).cv or 0
end

-- Of candidate anchors {{name=, cv=}} (each counted in every run that
-- matters, cv its variation across them), the one most alike across the
-- runs (the same work counts the same in each), on a tie (within 0.1%)
-- a work anchor (M.WORK_ANCHORS' order) first: its name and cv, or nil.
-- An anchor that counted exactly the same in every run (cv 0) ties only
-- with another such: a time anchor that agrees within 0.1% across a few
-- runs by chance does not outrank an exact work count.
function M.pick_anchor(cands)
  local rank = {}
  for i, a in ipairs(M.WORK_ANCHORS) do rank[a] = i end
  local best, best_cv
  local function tie(a, b) return math.abs(a - b) <= 1e-3 and (a == 0) == (b == 0) end
  for _, c in ipairs(cands) do
    local a, cv = c.name, c.cv
    if not best or (cv < best_cv and not tie(cv, best_cv))
      or (tie(cv, best_cv) and (rank[a] or 99) < (rank[best] or 99)) then
      best, best_cv = a, cv
    end
  end
  return best, best_cv
end

-- The truest alignment of names in ds: {by = "index" | anchor name,
-- why = "..."}. Events of one run line up by index (the same execution:
-- wall-clock is exact); events of several runs by the anchor that is the
-- most alike across their runs (the smallest cv of its totals): the
-- same work counts the same in every run, where its time varies with
-- what else the machine does; on a tie a work anchor (instructions,
-- then task-clock) first.
function M.choose(ds, names)
  if ds.from_results then
    return { by = "index", why = "a results file has no anchors: intervals paired by INDEX" }
  end
  local n = runs_of(ds, names)
  if n <= 1 then return { by = "index", why = "all from one run: its intervals are the same wall-clock times" } end
  local cands = {}
  for _, a in ipairs(ds.anchors or {}) do
    if everywhere(ds, names, a) then cands[#cands + 1] = { name = a, cv = anchor_cv(ds, names, a) } end
  end
  local best, best_cv = M.pick_anchor(cands)
  if best then
    return { by = best, cv = best_cv, why = string.format("events from %d runs: lined up by %s's progress, the " ..
      "anchor most alike across their runs (cv %.1f%%), which no sleep or disturbance between runs shifts",
      n, best, best_cv * 100) }
  end
  return { by = "index", why = string.format("events from %d runs but no anchor in all of them: paired by " ..
    "interval index (wall-clock)", n) }
end

-- Per unit of anchor a, in words, and the scale of a count per anchor unit.
function M.unit_text(a, unit)
  if require("autoperf.guard").TIME[a] then
    return string.format("%g ms of %s", unit / 1e6, a), 1e9, "per second of " .. a
  end
  return string.format("%.4g %s", unit, a), 1, "per " .. a
end

local function first(row, n)
  local out = {}
  for i = 1, n do out[i] = row[i] or 0 end
  return out
end

-- x (deltas) resampled on a grid of unit of the cumulative anchor a
-- (deltas of the same samples): a list of J deltas.
function M.resample(x, a, unit)
  local n = math.min(#x, #a)
  local A, X = { [0] = 0 }, { [0] = 0 }
  for i = 1, n do
    A[i] = A[i - 1] + a[i]
    X[i] = X[i - 1] + x[i]
  end
  local J = unit > 0 and math.floor(A[n] / unit + 1e-9) or 0
  local out, k, prev = {}, 1, 0
  for j = 1, J do
    local g = j * unit
    while k < n and A[k] < g do k = k + 1 end
    local span = A[k] - A[k - 1]
    local v = span > 0 and (X[k - 1] + (X[k] - X[k - 1]) * (g - A[k - 1]) / span) or X[k]
    out[j] = v - prev
    prev = v
  end
  return out
end

-- ds with the series of names lined up as how says: how = {by = "index"
-- | "auto" | an anchor's name, unit = anchor units per interval (default:
-- the median progress per interval of the anchor over the series),
-- per = true: counts per anchor unit (per second of a time anchor,
-- per count of another)}. Returns a view of ds (the same names,
-- totals and status; series replaced) and the alignment used {by=,
-- unit=, unit_text=, per=, why=}, or nil, message.
function M.align(ds, names, how)
  how = how or {}
  local by = how.by or "auto"
  local chosen
  if by == "auto" then
    chosen = M.choose(ds, names)
    by = chosen.by
  elseif by ~= "index" then
    if ds.from_results then return nil, ds.dir .. ": a results file has no anchors (give the profile directory)" end
    if not (ds.anchors and ds.anchors[by]) then
      local have = {}
      for i, a in ipairs(ds.anchors or {}) do have[i] = a end
      return nil, string.format("%s: no anchor '%s' (its anchors: %s)", ds.dir, by,
        #have > 0 and table.concat(have, ", ") or "none, a profile from before anchors")
    end
    if not everywhere(ds, names, by) then
      return nil, string.format("%s: anchor %s is not in every run of these events", ds.dir, by)
    end
    chosen = { by = by, why = "asked for" }
  else
    chosen = { by = "index", why = how.by == "index" and "asked for" or nil }
  end
  local view = setmetatable({}, { __index = ds })
  view.at = {}
  for k, v in pairs(ds.at) do view.at[k] = v end
  view.data = view.at
  if by == "index" and not how.per then
    return view, { by = "index", why = chosen.why }
  end
  local function anchor_of(name, k, at)
    local sa = ds.anchor_at[tostring(at.run) .. "/" .. k]
    return sa and sa[by]
  end
  local unit = how.unit
  -- stretch (the default without a unit): each run's progress scaled to
  -- the median total, so that the same work in every run lines up even
  -- where a run's anchor ran uniformly faster or slower (CPU time stolen
  -- by a hypervisor counts as task-clock; another CPU's frequency)
  local stretch = not how.unit and how.stretch ~= false
  local median_total, stretched = nil, 0
  if by ~= "index" then
    local per, totals = {}, {}
    for _, name in ipairs(names) do
      for k, at in pairs(ds.at[name] or {}) do
        local an = anchor_of(name, k, at)
        if an and an.len > 0 then
          per[#per + 1] = an.total / an.len
          totals[#totals + 1] = an.total
        end
      end
    end
    local median = require("autoperf.guard").median
    unit = unit or median(per)
    median_total = median(totals)
    if not unit or unit <= 0 or not median_total or median_total <= 0 then
      return nil, ds.dir .. ": anchor " .. by .. " did not progress"
    end
  end
  local scale = 1
  local text, per_text
  if by ~= "index" then text, scale, per_text = M.unit_text(by, unit) end
  for _, name in ipairs(names) do
    local reps = {}
    for k, at in pairs(ds.at[name] or {}) do
      local an = by ~= "index" and anchor_of(name, k, at) or nil
      local x = first(at.m:row(at.row), at.len)
      local out
      if by == "index" then
        -- per: each interval's count per unit of its own anchor progress
        local a = (ds.anchor_at or {})[tostring(at.run) .. "/" .. k]
        local ta = a and (a["task-clock"] or a[next(a)])
        if not ta then return nil, ds.dir .. ": no anchor to normalise by" end
        local av = first(ta.m:row(ta.row), ta.len)
        out = {}
        for i = 1, math.min(#x, #av) do out[i] = av[i] > 0 and x[i] / av[i] * 1e9 or 0 end
      else
        local av = first(an.m:row(an.row), an.len)
        local u = unit
        if stretch and an.total > 0 then
          u = unit * an.total / median_total
          stretched = math.max(stretched, math.abs(an.total / median_total - 1))
        end
        out = M.resample(x, av, u)
        if how.per then
          for i = 1, #out do out[i] = out[i] / unit * scale end
        end
      end
      local m, merr = core.matrix_from({ #out > 0 and out or { 0 } })
      if not m then return nil, merr end
      reps[k] = { m = m, row = 1, len = #out, total = at.total, flagged = at.flagged, run = at.run }
    end
    view.at[name] = reps
  end
  return view, { by = by, unit = unit, unit_text = text, per = how.per and (per_text or "per second of task-clock"),
                 why = chosen.why, stretch = by ~= "index" and stretch and stretched or nil }
end

-- ds with each repetition's totals per unit of anchor a (of the same run
-- file): per second of a time anchor, per count of another. Returns the
-- view or nil, message.
function M.per_anchor(ds, a)
  if ds.from_results or not (ds.anchors and ds.anchors[a]) then
    return nil, string.format("%s: no anchor '%s' to compare per unit of", ds.dir, a)
  end
  local _, scale = M.unit_text(a, 1)
  local view = setmetatable({}, { __index = ds })
  view.at = {}
  view.data = view.at
  for name, reps in pairs(ds.at) do
    local out = {}
    for k, at in pairs(reps) do
      local an = ds.anchor_at[tostring(at.run) .. "/" .. k]
      an = an and an[a]
      if not an or an.total <= 0 then return nil, string.format("%s: anchor %s missing in run %s", ds.dir, a, at.run) end
      local copy = {}
      for f, v in pairs(at) do copy[f] = v end
      copy.total = at.total / an.total * scale
      out[k] = copy
    end
    view.at[name] = out
  end
  return view
end

-- One line for an output: how intervals were lined up.
function M.describe_alignment(al)
  if not al then return nil end
  if al.by == "index" then
    return "intervals lined up by index (wall-clock)" .. (al.why and (": " .. al.why) or "") ..
      (al.per and (", counts " .. al.per) or "")
  end
  return string.format("intervals lined up by %s (one interval = %s%s)%s%s", al.by, al.unit_text or "",
    al.stretch and string.format(", each run's progress scaled to the median total: by %.1f%% at most",
      al.stretch * 100) or "",
    al.why and ("; " .. al.why) or "", al.per and (", counts " .. al.per) or "")
end

return M
