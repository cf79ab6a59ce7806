-- Metrics as the user reads them: a table (the TMA tree indented, the
-- bottleneck path marked "<==" as toplev marks it), CSV, JSON.
local util = require "autoperf.util"
local metrics = require "autoperf.metrics"

local M = {}

local function fmt(v)
  if v == nil then return "-" end
  if not metrics.finite(v) then return v ~= v and "n/a" or (v > 0 and "inf" or "-inf") end
  if v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%d", v) end
  local a = math.abs(v)
  if a >= 1e6 or (a > 0 and a < 1e-3) then return string.format("%.4g", v) end
  return string.format("%.4f", v):gsub("0+$", ""):gsub("%.$", "")
end
M.fmt = fmt

-- The results shown at --level N: TMA nodes up to level N, others always.
function M.filter(out, level)
  if not level then return out.metrics end
  local list = {}
  for _, r in ipairs(out.metrics) do
    if not (r.metric.tma and r.metric.level > level) then list[#list + 1] = r end
  end
  return list
end

local function verdict(r)
  if r.threshold == nil then return "" end
  return r.threshold and "over threshold" or "below threshold"
end

function M.table(out, opts)
  opts = opts or {}
  local lines = {}
  local list = M.filter(out, opts.level)
  local sim = out.simulated and " (SIMULATED: values from synthetic counts, not measurements)" or ""
  lines[#lines + 1] = string.format("%d metrics from %s%s", #list, out.dir, sim)
  local w = 10
  for _, r in ipairs(list) do w = math.max(w, #r.name + 2 * (r.depth or 0) + 4) end
  w = math.min(w, 60)
  for _, r in ipairs(list) do
    local name = string.rep("  ", r.depth or 0) .. r.name .. (r.bottleneck and " <==" or "")
    local note = {}
    if r.status ~= "ok" then
      local st = r.status
      if r.missing and #r.missing > 3 then
        -- the table names three; --json and --csv say all
        st = "not computed: " .. table.concat(r.missing, ", ", 1, 3) .. " and " .. (#r.missing - 3) .. " more not in the profile"
      end
      note[#note + 1] = st
    end
    local v = verdict(r)
    if v ~= "" then note[#note + 1] = v end
    if out.simulated then note[#note + 1] = "simulated" end
    lines[#lines + 1] = string.format("  %-" .. w .. "s %14s %-14s %s", util.printable(name, 80), fmt(r.value),
      util.printable(r.unit or "", 20), table.concat(note, "; "))
  end
  if #list > 0 then
    local names = {}
    local used = {}
    for _, r in ipairs(list) do
      for c in pairs(r.metric.constants or {}) do used[c] = true end
    end
    for c in pairs(used) do
      if out.constants[c] then names[#names + 1] = c end
    end
    table.sort(names)
    if #names > 0 then lines[#lines + 1] = "  constants:" end
    for _, c in ipairs(names) do
      lines[#lines + 1] = string.format("    %s = %s (%s)", c, fmt(out.constants[c].value), out.constants[c].from)
    end
    if used.DURATIONTIMEINMILLISECONDS or used.DURATIONTIMEINSECONDS then
      lines[#lines + 1] = "    DURATIONTIMEIN* = the wall-clock time of the run that counted the metric's events"
    end
    local aligned, raw = false, false
    for _, r in ipairs(list) do
      if r.crossrun and not r.missing then
        if r.crossrun.anchor then aligned = true else raw = true end
      end
    end
    if aligned then
      lines[#lines + 1] = "  from N runs, aligned on ANCHOR: each run's counts (and time) scaled by the anchor's median over " ..
        "the repetition's runs / the run's own, intervals lined up by the anchor's progress (--json: each run's factor)"
    end
    if raw then
      lines[#lines + 1] = "  no anchor common to them: the runs' raw counts combined, intervals paired by index " ..
        "(the default anchors give one: profile without --anchor none)"
    end
  end
  return table.concat(lines, "\n")
end

local function csv_field(s)
  s = tostring(s)
  if s:find('[,"\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

-- METRIC,LEVEL,PARENT,INTERVAL,TIME,VALUE,UNIT,STATUS,THRESHOLD,SIMULATED:
-- one row of totals (INTERVAL "total") and one per interval.
function M.csv(out, opts)
  opts = opts or {}
  local rows = { "METRIC,LEVEL,PARENT,INTERVAL,TIME,VALUE,UNIT,STATUS,THRESHOLD,SIMULATED" }
  for _, r in ipairs(M.filter(out, opts.level)) do
    local th = r.threshold == nil and "" or (r.threshold and "over" or "below")
    local function row(idx, time, v)
      rows[#rows + 1] = table.concat({ csv_field(r.name), r.metric.level, csv_field(r.metric.parent or ""), idx, time,
        metrics.finite(v or 0 / 0) and string.format("%.17g", v) or "", csv_field(r.unit or ""), csv_field(r.status), th,
        out.simulated and 1 or 0 }, ",")
    end
    row("total", "", r.value)
    for i, p in ipairs(r.series) do row(i, string.format("%.9f", p.time), p.value) end
  end
  return table.concat(rows, "\n")
end

-- A metric's crossrun (metrics.compute) for JSON: {runs=, anchor=,
-- spread=, label=, alignment=, inconsistent = {{run=, rep=, why=}},
-- basis = {{rep=, run=, anchor=, ref=, factor=}}, raw= (the raw counts
-- combined, uncorrected)}, or nil.
function M.crossrun(cr)
  if not cr then return nil end
  local basis = {}
  for rep, vals in pairs(cr.values) do
    for run, v in pairs(vals) do
      basis[#basis + 1] = { rep = rep, run = run, anchor = v, ref = cr.ref[rep], factor = cr.ref[rep] / v }
    end
  end
  table.sort(basis, function(a, b) return a.rep < b.rep or (a.rep == b.rep and a.run < b.run) end)
  local raw = cr.raw and metrics.finite(cr.raw) and cr.raw or nil
  return { runs = cr.runs, anchor = cr.anchor, spread = cr.spread, label = metrics.crossrun_label(cr),
           alignment = cr.alignment, inconsistent = cr.inconsistent, basis = basis, raw = raw }
end

-- A plain table for JSON (and ap.metrics callers).
function M.plain(out, opts)
  opts = opts or {}
  local list = {}
  for _, r in ipairs(M.filter(out, opts.level)) do
    local series, reps = {}, {}
    for i, v in ipairs(r.reps) do reps[i] = metrics.finite(v) and v or require("dkjson").null end
    for i, p in ipairs(r.series) do series[i] = { time = p.time, value = metrics.finite(p.value) and p.value or nil } end
    list[#list + 1] = {
      name = r.name, value = metrics.finite(r.value or 0 / 0) and r.value or nil, unit = r.unit,
      reps = reps, level = r.metric.level, parent = r.metric.parent, depth = r.depth,
      status = r.status, threshold = r.threshold, bottleneck = r.bottleneck or nil,
      several_runs = r.several_runs, runs = r.runs, series = series, formula = r.metric.text,
      desc = r.metric.desc, simulated = out.simulated or nil, missing = r.missing, crossrun = M.crossrun(r.crossrun),
    }
  end
  local consts = {}
  for k, v in pairs(out.constants) do consts[k] = { value = v.value, from = v.from } end
  return { metrics = list, constants = consts, simulated = out.simulated, dir = out.dir }
end

function M.json(out, opts)
  return util.json_encode(M.plain(out, opts))
end

return M
