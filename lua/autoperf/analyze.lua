-- analyze: in-process analysis of profile directories. Each function
-- reads a profile (an output directory of 'autoperf profile'), writes its
-- files into opts.output (default DIR/analysis) and returns what it found,
-- or nil, message.
--
--   analyze.stats(dir)                        per-event totals across repetitions
--   analyze.correlation(dir, {top=10})        correlation matrix, heatmap, top pairs
--   analyze.detail(dir, {"page-faults"})      a time-series plot per event
--   analyze.wide(dir)                         INDEX plus one column per event
--   analyze.diff(dir_a, dir_b)                what changed from A to B
--   analyze.select(dir)                       the events that matter, as an event list
local evspec = require "autoperf.evspec"
local result = require "autoperf.result"
local util = require "autoperf.util"

local M = {}

M.series = require "autoperf.analyze.series"
M.stats_mod = require "autoperf.analyze.stats"
M.correlation_mod = require "autoperf.analyze.correlation"
M.detail_mod = require "autoperf.analyze.detail"
M.diff_mod = require "autoperf.analyze.diff"
M.selection_mod = require "autoperf.analyze.selection"

-- Where an analysis writes, and the directory below which no symbolic
-- link is followed (a profile may sit in a directory someone else
-- controls: DIR/analysis planted as a link to /etc is refused): DIR for
-- the default DIR/analysis, the directory itself when the user named one.
local function outdir(dir, opts)
  if opts.output then
    local ok, err = util.mkdirs(opts.output)
    if not ok then return nil, err end
    return opts.output, opts.output
  end
  -- a results.csv given instead of a directory: analysis/ beside it
  if not util.is_dir(dir) then dir = dir:match("^(.*)/[^/]*$") or "." end
  local out = dir .. "/analysis"
  local ok, err = util.mkdirs(out, dir)
  if not ok then return nil, err end
  return out, dir
end

-- Totals, status and series, read by the C core: what stats, diff,
-- correlation and wide need, at a double per event and interval.
local function load(dir)
  if type(dir) == "table" then return dir end -- already loaded (or a result)
  return M.series.load(dir)
end

-- The names of the events of ds (a loaded profile) matching any of
-- patterns (names or globs), in ds's order; nil, message for a pattern
-- that matches nothing (or an event the kernel refused).
function M.match(ds, patterns)
  local names, has, dir = ds.names, ds.at, ds.dir
  local out, seen = {}, {}
  for _, p in ipairs(patterns) do
    local found = false
    if util.is_glob(p) then
      local match = util.glob(p)
      for _, n in ipairs(names) do
        if match(n) then
          found = true
          util.append_new(out, seen, n)
        end
      end
    elseif has[p] then
      found = true
      util.append_new(out, seen, p)
    end
    if not found and ds.refused[p] then
      return nil, string.format("%s: '%s' was refused by the kernel (%s): nothing was counted", dir, p,
        ds.refused[p])
    end
    if not found then
      local near = util.closest(p, names, 3)
      return nil, string.format("no event '%s' in %s%s", p, dir,
        #near > 0 and (" (did you mean " .. table.concat(near, ", ") .. "?)") or "")
    end
  end
  return out
end

-- {rows=, csv=, text=}; opts: output, sort, limit.
function M.stats(dir, opts)
  opts = opts or {}
  local r, err = load(dir)
  if not r then return nil, err end
  local out, base = outdir(r.dir, opts)
  if not out then return nil, base end
  local rows = M.stats_mod.compute(r)
  local csv, cerr = M.stats_mod.write_csv(rows, out .. "/stats.csv", base)
  if not csv then return nil, cerr end
  return { rows = rows, csv = csv, text = M.stats_mod.format(rows, opts), simulated = r.simulated }
end

-- {names=, R=, constant=, intervals=, method=, csv=, image=, top=,
-- alignment= (series.align's), alignment_text=}; opts: output, method,
-- events (patterns), top (pairs to list), format, align ("auto", the
-- default: series.choose's; "index"; an anchor's name), per (counts per
-- anchor unit), unit (anchor units per interval).
function M.correlation(dir, opts)
  opts = opts or {}
  local r, err = load(dir)
  if not r then return nil, err end
  local events
  if opts.events then
    events, err = M.match(r, opts.events)
    if not events then return nil, err end
  end
  local aligned, al = M.series.align(r, events or r.names, { by = opts.align, per = opts.per, unit = opts.unit })
  if not aligned then return nil, al end
  local res, cerr = M.correlation_mod.compute(aligned, { method = opts.method, events = events })
  if not res then return nil, cerr end
  res.alignment, res.alignment_text = al, M.series.describe_alignment(al)
  if r.from_results then
    -- results.csv continues INDEX over repetitions run by run: several
    -- runs of different lengths pair intervals of different repetitions
    local lo, hi = math.huge, 0
    for _, n in ipairs(res.names) do
      local len = r.at[n][1].len
      lo, hi = math.min(lo, len), math.max(hi, len)
    end
    if lo ~= hi then
      res.note = "events span different INDEX ranges (several runs): intervals are paired by INDEX; " ..
        "give the profile directory to line up each repetition"
    end
  end
  local out, base = outdir(r.dir, opts)
  if not out then return nil, base end
  local csv, werr = M.correlation_mod.write_csv(res, out .. "/correlation.csv", base)
  if not csv then return nil, werr end
  res.csv = csv
  local image, perr = M.correlation_mod.heatmap(res, out,
    "correlation." .. (opts.format or "png"), r.dir .. (r.simulated and " (simulated counts)" or ""), base)
  if not image then return nil, perr end
  res.image = image
  res.top = M.correlation_mod.top(res, opts.top or 10)
  res.simulated = r.simulated
  return res
end

-- The result r as detail draws it, with its series lined up as
-- opts.align says (an anchor: x is its progress), or r itself.
local function detail_view(r, names, opts)
  if not opts.align or opts.align == "index" and not opts.per then return r, nil end
  if opts.per_cpu then return nil, "--align draws the sum over CPUs (drop --per-cpu)" end
  local ds, err = M.series.load(r.dir)
  if not ds then return nil, err end
  local aligned, al = M.series.align(ds, names, { by = opts.align, per = opts.per, unit = opts.unit })
  if not aligned then return nil, al end
  local view = setmetatable({}, { __index = r })
  function view.series(_, name, k)
    local at = aligned.at[name] and aligned.at[name][k]
    if not at then return {} end
    local row, pts = at.m:row(at.row), {}
    local step = al.by == "index" and ((r.interval_ms or 100) / 1000) or al.unit
    local scale = require("autoperf.guard").TIME[al.by] and 1e-9 or 1
    for i = 1, at.len do pts[i] = { time = i * step * scale, value = row[i] } end
    return pts
  end
  view.xlabel = al.by == "index" and "interval" or
    (require("autoperf.guard").TIME[al.by] and ("progress of " .. al.by .. " (s)") or ("progress of " .. al.by))
  view.ylabel = al.per and ("count " .. al.per) or (al.by == "index" and "count per interval" or
    ("count per " .. al.unit_text))
  return view, al
end

-- {images=, events=, skipped= (flat events a glob matched: {name=,
-- value=}), alignment=, alignment_text=}; events: names or globs; opts:
-- output, per_cpu, rep, format, all (draw flat events too), align, per,
-- unit (as for correlation; the default: by wall-clock, one line per
-- repetition of one run).
function M.detail(dir, events, opts)
  opts = opts or {}
  if type(events) == "string" then
    local perr
    events, perr = evspec.split(events)
    if not events then return nil, perr end
  end
  if not events or #events == 0 then return nil, "no events to draw (give --events A,B)" end
  if type(dir) == "string" and ((not util.is_dir(dir) and util.exists(dir)) or M.series.results_in(dir)) then
    return nil, dir .. ": detail draws from a profile directory (its repetitions and CPUs), not a results file"
  end
  -- one pass over the run files: per-sample data only of what is drawn,
  -- every name seen (to say which pattern matched nothing)
  local pats = {}
  for i, p in ipairs(events) do pats[i] = util.is_glob(p) and util.glob(p) end
  local seen, all = {}, {}
  local function wanted(name)
    util.append_new(all, seen, name)
    for i, p in ipairs(events) do
      if name == p or (pats[i] and pats[i](name)) then return true end
    end
    return false
  end
  local r, rerr = result.read(dir, { events = wanted, per_cpu = opts.per_cpu })
  if not r then return nil, rerr end
  if r.reps == 0 then return nil, M.series.no_runs(r.dir) end
  local names, merr = M.match({ names = all, at = seen, dir = r.dir, refused = r.refused }, events)
  if not names then return nil, merr end
  if opts.rep and (opts.rep < 1 or opts.rep > r.reps) then
    return nil, string.format("%s has repetitions 1..%d, not %d", r.dir, r.reps, opts.rep)
  end
  local out, base = outdir(r.dir, opts)
  if not out then return nil, base end
  local view, al = detail_view(r, names, opts)
  if not view then return nil, al end
  -- a flat event is drawn when named, skipped when a glob found it
  local asked = {}
  for _, p in ipairs(events) do
    if not util.is_glob(p) then asked[p] = true end
  end
  local images, skipped = M.detail_mod.draw(view, names, out,
    { per_cpu = opts.per_cpu, rep = opts.rep, format = opts.format, all = opts.all, asked = asked }, base)
  if not images then return nil, skipped end
  return { images = images, events = names, skipped = skipped, alignment = al,
           alignment_text = M.series.describe_alignment(al) }
end

-- {path=, rows=, events=}; opts: output (a file; default DIR/analysis/wide.csv).
function M.wide(dir, opts)
  opts = opts or {}
  local r, err = load(dir)
  if not r then return nil, err end
  local path, base = opts.output, nil
  if not path then
    local out
    out, base = outdir(r.dir, {})
    if not out then return nil, base end
    path = out .. "/wide.csv"
  end
  return M.series.write_wide(r, path, nil, base)
end

-- {rows=, summary=, list=, csv=, text=}: the events that matter (see
-- analyze/selection.lua); opts: output, max_cv, threshold, method, limit.
function M.select(dir, opts)
  opts = opts or {}
  if opts.target then return M.rank(dir, opts) end
  local r, err = load(dir)
  if not r then return nil, err end
  local rows, s = M.selection_mod.compute(r, opts)
  if not rows then return nil, s end
  local out, base = outdir(r.dir, opts)
  if not out then return nil, base end
  local list, csvp = out .. "/selected.txt", out .. "/selection.csv"
  local ok, werr = M.selection_mod.write(rows, s, r.dir, list, csvp, base)
  if not ok then return nil, werr end
  return { rows = rows, summary = s, list = list, csv = csvp, text = M.selection_mod.format(rows, s, opts.limit),
    simulated = r.simulated }
end

-- Ranks the events of an experiment's tidy.csv (dir: the file or the
-- experiment's directory) by how well they explain opts.target:
-- {rows=, info=, csv=, text=}; opts: output, folds, top, limit.
function M.rank(dir, opts)
  local path = dir
  if util.is_dir(dir) then path = dir .. "/tidy.csv" end
  if not util.exists(path) then
    return nil, path .. ": no tidy.csv (--target ranks the events of an experiment's tidy.csv)"
  end
  local t, err = M.selection_mod.read_tidy(path)
  if not t then return nil, err end
  local rows, info = M.selection_mod.rank(t, opts.target, opts)
  if not rows then return nil, info end
  local root = path:match("^(.*)/[^/]*$") or "."
  local out, base = outdir(root, opts)
  if not out then return nil, base end
  local csvp, cerr = M.selection_mod.write_ranking(rows, out .. "/ranking.csv", base)
  if not csvp then return nil, cerr end
  return { rows = rows, info = info, csv = csvp, text = M.selection_mod.format_ranking(rows, info, opts.limit) }
end

-- {rows=, csv=, image=, text=}; opts: output (default DIR_B/analysis),
-- alpha, limit, format, plot (bars to draw, 30).
function M.diff(dir_a, dir_b, opts)
  opts = opts or {}
  local ra, err = load(dir_a)
  if not ra then return nil, err end
  local rb, berr = load(dir_b)
  if not rb then return nil, berr end
  for _, r in ipairs({ ra, rb }) do
    if r.from_results then
      return nil, r.dir .. ": diff compares profile directories (their repetitions), not results files"
    end
  end
  if ra.reps < 2 or rb.reps < 2 then
    return nil, string.format("%s has %d repetition%s: a test needs at least 2 per side " ..
      "(profile with -r 5)", ra.reps < 2 and ra.dir or rb.dir, math.min(ra.reps, rb.reps),
      math.min(ra.reps, rb.reps) == 1 and "" or "s")
  end
  -- per anchor unit (opts.align = an anchor): each repetition's totals
  -- divided by its anchor's total (per second of task-clock, per instruction)
  local alignment
  if opts.align and opts.align ~= "index" and opts.align ~= "auto" then
    local err2
    ra, err2 = M.series.per_anchor(ra, opts.align)
    if not ra then return nil, err2 end
    rb, err2 = M.series.per_anchor(rb, opts.align)
    if not rb then return nil, err2 end
    alignment = { by = opts.align, per = select(3, M.series.unit_text(opts.align, 1)),
      why = "totals per anchor unit" }
  else
    alignment = { by = "index", why = "raw totals per repetition (--align ANCHOR compares them per anchor unit)" }
  end
  local rows = M.diff_mod.compare(ra, rb, opts)
  local out, base = outdir(rb.dir, opts)
  if not out then return nil, base end
  local csv, cerr = M.diff_mod.write_csv(rows, out .. "/diff.csv", base)
  if not csv then return nil, cerr end
  local image, perr = M.diff_mod.plot(rows, out, "diff." .. (opts.format or "png"), opts.plot or 30,
    string.format("A: %s  B: %s%s", ra.dir, rb.dir, (ra.simulated or rb.simulated) and "  (simulated counts)" or ""),
    base)
  if image == nil then return nil, perr end
  if not image then
    -- nothing changed: no plot, and none left from an earlier diff
    for _, f in ipairs({ "diff.png", "diff.svg", "diff.dat", "diff.gp" }) do os.remove(out .. "/" .. f) end
  end
  local text = M.diff_mod.format(rows, { limit = opts.limit, alpha = opts.alpha, reps_a = ra.reps,
    reps_b = rb.reps })
  return { rows = rows, csv = csv, image = image or nil, text = text,
           simulated = ra.simulated or rb.simulated, alignment = alignment,
           alignment_text = alignment.by == "index" and ("compared " .. alignment.why)
             or ("compared totals " .. alignment.per) }
end

return M
