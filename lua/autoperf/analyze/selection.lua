-- selection: the events that matter for a workload, from one profile.
--
-- Method (named in every output):
--  1. drop events that never counted (zero) or are the same in every
--     interval (constant over time: nothing to tell about the workload's
--     phases);
--  2. drop events unstable across repetitions: coefficient of variation of
--     their totals above max_cv (0.5 by default; with one repetition
--     stability cannot be judged, and the output says so);
--  3. cluster the rest by their time series (average linkage on 1 - |r|,
--     as the heatmap) and cut at mean |r| >= threshold (0.8): events in a
--     cluster move together, so one of them measures what all of them do;
--     keep the member with the largest mean |r| to the others of its
--     cluster (ties: the earlier in the profile), drop the others as
--     represented by it.
-- The result is an event list (one name a line, '#' comments) that
-- 'autoperf profile -e @FILE' reads back, and a table of why each event
-- was kept or dropped.
local csv = require "autoperf.csv"
local util = require "autoperf.util"
local stats = require "autoperf.analyze.stats"
local correlation = require "autoperf.analyze.correlation"
local clustering = require "autoperf.analyze.clustering"

local M = {}

M.MAX_CV = 0.5

-- Rows {name=, keep=, reason=, cluster=, rep=, r=, cv=} for every event
-- of ds, and a summary {kept=, zero=, constant=, unstable=, represented=,
-- clusters=, threshold=, max_cv=, reps=, note=}; or nil, message.
function M.compute(ds, opts)
  opts = opts or {}
  local max_cv = opts.max_cv or M.MAX_CV
  local threshold = opts.threshold or clustering.THRESHOLD
  local srows = stats.compute(ds)
  local by = {}
  for _, x in ipairs(srows) do by[x.name] = x end
  local res, err = correlation.compute(ds, { method = opts.method, threshold = threshold })
  if not res then return nil, err end
  local varies, place = {}, {}
  for i, n in ipairs(res.names) do
    varies[n] = true
    place[n] = i
  end
  local rows, out = {}, { kept = 0, zero = 0, constant = 0, unstable = 0, represented = 0, reps = ds.reps,
    threshold = threshold, max_cv = max_cv, method = res.method, intervals = res.intervals }
  local candidate = {}
  for _, x in ipairs(srows) do
    local row = { name = x.name, keep = false, cv = x.cv }
    if x.kind == "refused" or x.kind == "missing" then
      row.reason = x.kind == "refused" and "refused by the kernel" or "no data"
    elseif x.kind == "zero" then
      row.reason = "zero: never counted"
      out.zero = out.zero + 1
    elseif not varies[x.name] then
      row.reason = "constant: the same value in every interval"
      out.constant = out.constant + 1
    elseif ds.reps >= 2 and x.cv and x.cv == x.cv and x.cv > max_cv then
      row.reason = string.format("unstable: cv %.2f across %d repetitions (> %g)", x.cv, ds.reps, max_cv)
      out.unstable = out.unstable + 1
    else
      candidate[place[x.name]] = row
    end
    rows[#rows + 1] = row
  end
  -- one representative per cluster, among the candidates
  local R = res.R
  local members = {}
  for i = 1, #res.names do
    if candidate[i] then
      local c = res.cluster_of[i]
      members[c] = members[c] or {}
      table.insert(members[c], i)
    end
  end
  local clusters = 0
  for c, list in pairs(members) do
    clusters = clusters + 1
    local best, bestv = nil, -1
    for _, i in ipairs(list) do
      local row, s = R:row(i), 0
      for _, j in ipairs(list) do
        if j ~= i and row[j] == row[j] then s = s + math.abs(row[j]) end
      end
      local v = #list > 1 and s / (#list - 1) or 1
      if v > bestv + 1e-12 or (math.abs(v - bestv) <= 1e-12 and i < best) then best, bestv = i, v end
    end
    local rep = res.names[best]
    local rrow = R:row(best)
    for _, i in ipairs(list) do
      local row = candidate[i]
      row.cluster, row.rep = c, rep
      if i == best then
        row.keep = true
        row.r = 1
        row.reason = #list == 1 and "kept: moves with no other event" or
          string.format("kept: represents %d event%s (mean |r| %.3f to %s)", #list - 1, #list == 2 and "" or "s",
            bestv, #list == 2 and "it" or "them")
        out.kept = out.kept + 1
      else
        row.r = rrow[i]
        row.reason = string.format("represented by %s (r %+.3f)", rep, rrow[i])
        out.represented = out.represented + 1
      end
    end
  end
  R:close()
  out.clusters = clusters
  if ds.reps < 2 then
    out.note = "one repetition: stability across repetitions not judged (profile with -r 3 or more)"
  end
  out.warnings = res.warnings
  return rows, out
end

-- The method in one line (written into the event list and the CSV).
function M.method(s)
  return string.format("non-constant over time; stable across repetitions (cv <= %g%s); one per cluster of " ..
    "%s correlation, average linkage on 1-|r| cut at mean |r| >= %g, the member with the largest mean |r| to " ..
    "the others", s.max_cv, s.reps < 2 and ", not judged: one repetition" or "", s.method, s.threshold)
end

-- Writes the event list (path) and the table (csv_path). base: as for
-- util.write_with.
function M.write(rows, s, source, path, csv_path, base)
  local lines = { "# autoperf analyze select " .. source, "# " .. M.method(s),
    "# read back with: autoperf profile -e @" .. path }
  for _, x in ipairs(rows) do
    if x.keep then lines[#lines + 1] = x.name end
  end
  local ok, err = util.write_atomic(path, table.concat(lines, "\n") .. "\n", base)
  if not ok then return nil, err end
  local f, num = csv.field, csv.number
  return csv.write_rows(csv_path, "EVENT,KEPT,REASON,CLUSTER,REPRESENTATIVE,R_WITH_REPRESENTATIVE,CV\n", rows,
    function(x)
      return { f(x.name), x.keep and "yes" or "no", f(x.reason), x.cluster or "", f(x.rep or ""),
        x.r and string.format("%.4f", x.r) or "", num(x.cv) }
    end, base)
end

-- The terminal text.
function M.format(rows, s, limit)
  limit = limit or 20
  local out = { string.format("%d events: %d selected, one per cluster (%d clusters) of the %d that vary over " ..
    "time and are stable; left out: %d zero, %d constant, %d unstable, %d represented by another",
    #rows, s.kept, s.clusters, s.kept + s.represented, s.zero, s.constant, s.unstable, s.represented),
    "  method: " .. M.method(s) }
  if s.note then out[#out + 1] = "  note: " .. s.note end
  for _, w in ipairs(s.warnings or {}) do out[#out + 1] = "  warning: " .. w end
  local shown = 0
  for _, x in ipairs(rows) do
    if x.keep then
      shown = shown + 1
      if limit > 0 and shown > limit then
        out[#out + 1] = string.format("  ... %d more (all in the list and the CSV)", s.kept - limit)
        break
      end
      out[#out + 1] = string.format("  %-48s %s", x.name, x.reason)
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- Reads an event list written by M.write (or by hand): names, one a line;
-- blank lines and '#' comments skipped. Returns the names or nil, message.
function M.read_list(path)
  local f, err = io.open(path, "r")
  if not f then return nil, "event list " .. tostring(err) end
  local names = {}
  for line in f:lines() do
    line = util.trim(line:gsub("#.*$", ""))
    if line ~= "" then names[#names + 1] = line end
  end
  f:close()
  if #names == 0 then return nil, "event list " .. path .. " names no event" end
  return names
end

-- specs (-e values) with every "@FILE" replaced by the names it lists;
-- nil, message when a list cannot be read.
function M.expand(specs)
  local out = {}
  for _, s in ipairs(specs) do
    if type(s) == "string" and s:sub(1, 1) == "@" then
      local names, err = M.read_list(s:sub(2))
      if not names then return nil, err end
      for _, n in ipairs(names) do out[#out + 1] = n end
    else
      out[#out + 1] = s
    end
  end
  return out
end

return M
