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

-- ---- ranking events by how well they explain a target (tidy.csv) ----
--
-- Samples are an experiment's (configuration, repetition) pairs; each
-- event's VALUE is a feature; the target is a parameter column (a label
-- such as kb or threads) or an event (runtime: task-clock). Method:
-- mutual information between the event and the target, each discretised
-- into equal-frequency bins (ranks, ties kept together; a target with few
-- distinct values keeps them as classes), in bits, minus its mean under
-- random permutations of the target (the bias a finite sample gives any
-- feature), with the G-test's p-value and Benjamini-Hochberg's q. Stability: the same on k folds
-- that each leave out a share of the configurations (repetitions of one
-- configuration never straddle a fold), as the mean rank and how many
-- folds put the event in the top N.

local function csv_split(line)
  local out, pos, n = {}, 1, #line
  while pos <= n + 1 do
    if line:sub(pos, pos) == '"' then
      local buf, i = {}, pos + 1
      while i <= n do
        local c = line:sub(i, i)
        if c == '"' then
          if line:sub(i + 1, i + 1) == '"' then
            buf[#buf + 1] = '"'
            i = i + 2
          else
            i = i + 1
            break
          end
        else
          buf[#buf + 1] = c
          i = i + 1
        end
      end
      out[#out + 1] = table.concat(buf)
      pos = i + 1
    else
      local j = line:find(",", pos, true) or (n + 1)
      out[#out + 1] = line:sub(pos, j - 1)
      pos = j + 1
    end
  end
  return out
end
M.csv_split = csv_split

-- Reads tidy.csv: {params= (names), samples= {{config=, rep=, params={},
-- values={[event]=v}}}, events= (names in order)} or nil, message.
function M.read_tidy(path)
  local f, err = io.open(path, "r")
  if not f then return nil, tostring(err) end
  local head = f:read("l")
  if not head then
    f:close()
    return nil, path .. ": empty"
  end
  local cols = csv_split(head)
  local at = {}
  for i, c in ipairs(cols) do at[c] = i end
  for _, c in ipairs({ "CONFIG", "REPETITION", "EVENT", "VALUE" }) do
    if not at[c] then
      f:close()
      return nil, path .. ": not a tidy.csv of 'autoperf run' (no " .. c .. " column)"
    end
  end
  local params = {}
  for i = at.CONFIG + 1, at.REPETITION - 1 do params[#params + 1] = cols[i] end
  local samples, key, events, seen = {}, {}, {}, {}
  for line in f:lines() do
    local x = csv_split(line)
    local k = x[at.CONFIG] .. "/" .. x[at.REPETITION]
    local s = key[k]
    if not s then
      s = { config = x[at.CONFIG], rep = x[at.REPETITION], params = {}, values = {} }
      for i, p in ipairs(params) do s.params[p] = x[at.CONFIG + i] end
      key[k] = s
      samples[#samples + 1] = s
    end
    local ev = x[at.EVENT]
    s.values[ev] = tonumber(x[at.VALUE])
    util.append_new(events, seen, ev)
  end
  f:close()
  return { params = params, samples = samples, events = events }
end

-- Equal-frequency bins 1..b of values (ties share a bin); b at most the
-- number of distinct values.
local function bins(vals, b)
  local n = #vals
  local idx = {}
  for i = 1, n do idx[i] = i end
  table.sort(idx, function(x, y) return vals[x] < vals[y] end)
  local out, i = {}, 1
  while i <= n do
    local j = i
    while j < n and vals[idx[j + 1]] == vals[idx[i]] do j = j + 1 end
    local rank = (i + j) / 2 -- mid-rank of the tie
    local bin = math.min(b, math.floor((rank - 1) * b / n) + 1)
    for k = i, j do out[idx[k]] = bin end
    i = j + 1
  end
  return out
end

local function mi(xb, yb, n)
  local joint, px, py = {}, {}, {}
  for i = 1, n do
    local x, y = xb[i], yb[i]
    local k = x * 4096 + y
    joint[k] = (joint[k] or 0) + 1
    px[x] = (px[x] or 0) + 1
    py[y] = (py[y] or 0) + 1
  end
  local s = 0
  for k, c in pairs(joint) do
    local x, y = k // 4096, k % 4096
    s = s + c / n * math.log(c * n / (px[x] * py[y]), 2)
  end
  return s
end

-- A small deterministic generator (the same ranking on every run).
local function lcg(seed)
  local x = seed
  return function(n)
    x = (x * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    return (x >> 20) % n + 1
  end
end

local function shuffle(t, rnd)
  for i = #t, 2, -1 do
    local j = rnd(i)
    t[i], t[j] = t[j], t[i]
  end
end

-- Upper regularised incomplete gamma Q(a, x) (series below a + 1,
-- continued fraction above: Numerical Recipes' gammq).
local function lgamma(z)
  -- Lanczos (g = 7, n = 9)
  local c = { 0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7 }
  if z < 0.5 then return math.log(math.pi / math.abs(math.sin(math.pi * z))) - lgamma(1 - z) end
  z = z - 1
  local x = c[1]
  for i = 1, 8 do x = x + c[i + 1] / (z + i) end
  local t = z + 7.5
  return 0.5 * math.log(2 * math.pi) + (z + 0.5) * math.log(t) - t + math.log(x)
end

local function gammq(a, x)
  if x <= 0 then return 1 end
  local gln = lgamma(a)
  if x < a + 1 then
    local ap, sum = a, 1 / a
    local del = sum
    for _ = 1, 500 do
      ap = ap + 1
      del = del * x / ap
      sum = sum + del
      if math.abs(del) < math.abs(sum) * 1e-14 then break end
    end
    return 1 - sum * math.exp(-x + a * math.log(x) - gln)
  end
  local b = x + 1 - a
  local c, d = 1 / 1e-300, 1 / b
  local h = d
  for i = 1, 500 do
    local an = -i * (i - a)
    b = b + 2
    d = an * d + b
    if math.abs(d) < 1e-300 then d = 1e-300 end
    c = b + an / c
    if math.abs(c) < 1e-300 then c = 1e-300 end
    d = 1 / d
    local del = d * c
    h = h * del
    if math.abs(del - 1) < 1e-14 then break end
  end
  return math.exp(-x + a * math.log(x) - gln) * h
end
M.gammq = gammq

local function nbins(b)
  local seen, k = {}, 0
  for _, v in ipairs(b) do
    if not seen[v] then
      seen[v] = true
      k = k + 1
    end
  end
  return k
end

-- MI above chance of every event over the samples at indices idx; p of
-- the G-test of independence (G = 2 n MI in nats, chi-square with
-- (bins_x - 1)(bins_y - 1) degrees of freedom), which unlike a
-- permutation p-value is not floored at 1/(permutations + 1) and so
-- survives a correction over thousands of events.
local function score(t, target, idx, perms, b)
  local n = #idx
  local yv = {}
  for i, k in ipairs(idx) do yv[i] = target[k] end
  local distinct = {}
  for _, v in ipairs(yv) do distinct[v] = true end
  local nd = 0
  for _ in pairs(distinct) do nd = nd + 1 end
  local yb = bins(yv, math.min(b, nd))
  local rnd = lcg(12345)
  local shuffled = {}
  for p = 1, perms do
    local c = { table.unpack(yb) }
    shuffle(c, rnd)
    shuffled[p] = c
  end
  local out = {}
  for _, ev in ipairs(t.events) do
    local xv, ok = {}, true
    for i, k in ipairs(idx) do
      local v = t.samples[k].values[ev]
      if v == nil then
        ok = false
        break
      end
      xv[i] = v
    end
    if ok then
      local xb = bins(xv, b)
      local m = mi(xb, yb, n)
      local base = 0
      for p = 1, perms do base = base + mi(xb, shuffled[p], n) end
      local df = (nbins(xb) - 1) * (nbins(yb) - 1)
      local p = df > 0 and gammq(df / 2, n * m * math.log(2)) or 1
      out[ev] = { mi = m, chance = base / perms, score = m - base / perms, p = p }
    end
  end
  return out
end

-- Ranks the events of tidy table t by how well they explain target (a
-- parameter or an event). opts: folds (5), top (10), perms (50), bins.
-- Returns rows {event=, mi=, chance=, score=, p=, q=, rank=, fold_rank=
-- (mean), in_top= (folds)}, info {n=, bins=, folds=, top=, perms=} or
-- nil, message.
function M.rank(t, target, opts)
  opts = opts or {}
  local is_param = false
  for _, p in ipairs(t.params) do
    if p == target then is_param = true end
  end
  local y, idx = {}, {}
  for k, s in ipairs(t.samples) do
    local v
    if is_param then
      v = tonumber(s.params[target]) or s.params[target]
    else
      v = s.values[target]
    end
    if v ~= nil then
      y[k] = v
      idx[#idx + 1] = k
    end
  end
  if #idx == 0 then
    return nil, string.format("no column or event '%s' in the tidy table (parameters: %s)", target,
      table.concat(t.params, ", "))
  end
  -- a label (strings): classes by their sorted names
  if type(y[idx[1]]) == "string" then
    local names, code = {}, {}
    for _, k in ipairs(idx) do
      if not code[y[k]] then
        code[y[k]] = true
        names[#names + 1] = y[k]
      end
    end
    table.sort(names)
    for i, nm in ipairs(names) do code[nm] = i end
    for _, k in ipairs(idx) do y[k] = code[y[k]] end
  end
  local n = #idx
  if n < 6 then
    return nil, string.format("%d samples (configuration x repetition): ranking needs at least 6", n)
  end
  local b = opts.bins or math.max(2, math.min(8, math.floor(math.sqrt(n / 2))))
  local perms, top = opts.perms or 50, opts.top or 10
  local feats = {}
  for _, ev in ipairs(t.events) do
    if ev ~= target then feats[#feats + 1] = ev end
  end
  local tt = { events = feats, samples = t.samples }
  local all = score(tt, y, idx, perms, b)
  local rows = {}
  for _, ev in ipairs(feats) do
    if all[ev] then
      local x = all[ev]
      x.event = ev
      rows[#rows + 1] = x
    end
  end
  local function order(a, c)
    if a.score ~= c.score then return a.score > c.score end
    return a.event < c.event
  end
  table.sort(rows, order)
  for i, x in ipairs(rows) do x.rank, x.fold_rank, x.in_top = i, 0, 0 end
  -- Benjamini-Hochberg over the permutation p-values
  require("autoperf.analyze.diff").qvalues(rows)
  -- folds by configuration
  local configs, cseen = {}, {}
  for _, k in ipairs(idx) do
    local c = t.samples[k].config
    if not cseen[c] then
      cseen[c] = true
      configs[#configs + 1] = c
    end
  end
  local folds = math.min(opts.folds or 5, #configs)
  local by = {}
  for _, x in ipairs(rows) do by[x.event] = x end
  local done = 0
  if folds >= 2 then
    for f = 1, folds do
      local out_of = {}
      for i, c in ipairs(configs) do
        if (i - 1) % folds == f - 1 then out_of[c] = true end
      end
      local train = {}
      for _, k in ipairs(idx) do
        if not out_of[t.samples[k].config] then train[#train + 1] = k end
      end
      if #train >= 4 then
        done = done + 1
        local sc = score(tt, y, train, perms, math.min(b, math.max(2, math.floor(math.sqrt(#train / 2)))))
        local list = {}
        for ev, x in pairs(sc) do list[#list + 1] = { event = ev, score = x.score } end
        table.sort(list, order)
        for i, x in ipairs(list) do
          local r = by[x.event]
          if r then
            r.fold_rank = r.fold_rank + i
            if i <= top then r.in_top = r.in_top + 1 end
          end
        end
      end
    end
    for _, x in ipairs(rows) do x.fold_rank = done > 0 and x.fold_rank / done or nil end
  end
  return rows, { n = n, bins = b, folds = done, top = top, perms = perms, target = target,
    configs = #configs }
end

-- Writes the ranking as CSV; returns the path or nil, message.
function M.write_ranking(rows, path, base)
  local num = csv.number
  return csv.write_rows(path, "RANK,EVENT,MI_BITS,CHANCE_BITS,SCORE_BITS,P,Q,MEAN_FOLD_RANK,FOLDS_IN_TOP\n", rows,
    function(x)
      return { x.rank, csv.field(x.event), string.format("%.4f", x.mi), string.format("%.4f", x.chance),
        string.format("%.4f", x.score), num(x.p), num(x.q), x.fold_rank and string.format("%.1f", x.fold_rank) or "",
        x.in_top }
    end, base)
end

function M.format_ranking(rows, info, limit)
  limit = limit or 20
  local out = { string.format("%d events ranked by how well they explain %s over %d samples (%d configurations)",
    #rows, info.target, info.n, info.configs),
    string.format("  method: mutual information, %d equal-frequency bins, minus its mean over %d permutations " ..
      "of the target (p: G-test, q: Benjamini-Hochberg); stability: %d folds by configuration",
      info.bins, info.perms, info.folds) }
  if info.n < 30 then
    out[#out + 1] = string.format("  warning: %d samples: mutual information is coarse; only strong, " ..
      "monotone relations show (more configurations or repetitions sharpen it)", info.n)
  end
  out[#out + 1] = string.format("%4s  %-44s %8s %8s %8s %10s %s", "rank", "event", "MI", "chance", "score", "q",
    "folds in top " .. info.top)
  for i, x in ipairs(rows) do
    if limit > 0 and i > limit then
      out[#out + 1] = string.format("... %d more (all in the CSV)", #rows - limit)
      break
    end
    out[#out + 1] = string.format("%4d  %-44s %8.3f %8.3f %8.3f %10.2g %d of %d", i, #x.event > 44 and
      (x.event:sub(1, 41) .. "...") or x.event, x.mi, x.chance, x.score, x.q or 1, x.in_top, info.folds)
  end
  return table.concat(out, "\n") .. "\n"
end

return M
