-- correlation: how events' time series move together.
local core = require "autoperf.core"
local csv = require "autoperf.csv"
local util = require "autoperf.util"
local plot = require "autoperf.plot"
local series = require "autoperf.analyze.series"
local clustering = require "autoperf.analyze.clustering"

local M = {}

M.METHODS = { pearson = true, spearman = true }

-- The smallest |r| that n intervals make significant at p (two-sided,
-- 0.05): below it a correlation is indistinguishable from chance even for
-- independent intervals (and successive intervals rarely are).
function M.critical_r(n, p)
  p = p or 0.05
  local df = n - 2
  if df < 1 then return 1 end
  local lo, hi = 0, 1e6
  for _ = 1, 200 do
    local mid = (lo + hi) / 2
    if core.t_sf(mid, df) > p then lo = mid else hi = mid end
  end
  return hi / math.sqrt(df + hi * hi)
end

-- Fewer intervals than this: said in one line, and the pairs it lists are
-- marked as weak evidence.
M.FEW_INTERVALS = 20

-- Correlation matrix of the events of result r (opts.events: a list of
-- names, default all) whose lined-up series are not constant.
-- opts.method: "pearson" (default) or "spearman". Returns {names=,
-- R= (matrix), constant= (names left out: constant, zeros among them),
-- zero= (how many of constant never counted), one_shot= {[name]=true}
-- (nonzero in at most max(2, repetitions) intervals: a correlation of such
-- an event says only that it happened in the same intervals), intervals=, method=,
-- critical_r=, warnings= (lines)} or nil, message.
function M.compute(ds, opts)
  opts = opts or {}
  local method = opts.method or "pearson"
  if not M.METHODS[method] then return nil, "unknown correlation method '" .. tostring(method) .. "'" end
  local names = {}
  for _, n in ipairs(opts.events or ds.names) do
    if ds.at[n] then names[#names + 1] = n end
  end
  local layout = series.layout(ds, names)
  if layout.length < 3 then
    return nil, string.format("%s: %d interval%s lined up across runs; a correlation needs at least 3 " ..
      "(profile with a shorter -I, or a longer workload)", ds.dir, layout.length, layout.length == 1 and "" or "s")
  end
  local keep, constant, zero, one_shot = {}, {}, 0, {}
  -- one-shot: nonzero in no more intervals than there are repetitions
  -- (once per run, at start-up say), or two
  local shot_max = math.max(2, #layout.reps)
  local m, merr = series.matrix(ds, names, layout)
  if not m then return nil, merr end
  for i, n in ipairs(names) do
    local d = core.describe(m, i)
    if d.var > 0 then
      keep[#keep + 1] = i
      local nonzero = 0
      for _, v in ipairs(m:row(i)) do
        if v ~= 0 then nonzero = nonzero + 1 end
      end
      if nonzero <= shot_max then one_shot[n] = true end
    else
      constant[#constant + 1] = n
      if d.min == 0 and d.max == 0 then zero = zero + 1 end
    end
  end
  if #keep < 2 then
    m:close()
    return nil, string.format("%s: %d of %d events vary over time; a correlation needs at least 2",
      ds.dir, #keep, #names)
  end
  local z, zerr = core.matrix(#keep, layout.length)
  if not z then return nil, zerr end
  local kept = {}
  for i, row in ipairs(keep) do
    z:copy(i, 1, m, row, 1, layout.length)
    kept[i] = names[row]
  end
  m:close()
  local R, rerr = core.correlation(z, method)
  z:close()
  if not R then return nil, rerr end
  local res = { names = kept, R = R, constant = constant, zero = zero, one_shot = one_shot,
    intervals = layout.length, method = method, critical_r = M.critical_r(layout.length), warnings = {} }
  local shots = 0
  for _ in pairs(one_shot) do shots = shots + 1 end
  res.one_shots = shots
  if layout.length < M.FEW_INTERVALS then
    res.warnings[#res.warnings + 1] = string.format("only %d intervals: |r| below %.3f is indistinguishable " ..
      "from chance (p 0.05, and more since successive intervals are not independent); profile with a " ..
      "shorter -I or a longer workload", layout.length, res.critical_r)
  end
  if shots > 0 then
    res.warnings[#res.warnings + 1] = string.format("%d event%s one-shot (nonzero in %d intervals or fewer, " ..
      "once a run say): their correlations say only that they happened in the same intervals; left out of " ..
      "the top pairs", shots, shots == 1 and " is" or "s are", shot_max)
  end
  local t0 = os.clock()
  res.tree = clustering.tree(R)
  res.cluster_of, res.clusters = clustering.cut(res.tree, opts.threshold)
  res.blocks = clustering.blocks(res.tree, R, res.cluster_of, res.clusters)
  res.threshold = opts.threshold or clustering.THRESHOLD
  res.cluster_seconds = os.clock() - t0
  return res
end

-- The n most correlated pairs (by |r|): {{a=, b=, r=}, ...}.
-- Pairs with a one-shot event are skipped (their r is an accident of
-- timing, not a relation).
function M.top(res, n)
  if n <= 0 then return {} end
  if (res.one_shots or 0) == 0 then return core.top_pairs(res.R, n, res.names) end
  local want = n
  while true do
    local pairs_ = core.top_pairs(res.R, want, res.names)
    local out = {}
    for _, p in ipairs(pairs_) do
      if not res.one_shot[p.a] and not res.one_shot[p.b] then
        out[#out + 1] = p
        if #out == n then return out end
      end
    end
    local all = #res.names * (#res.names - 1) // 2
    if #pairs_ >= all then return out end
    want = math.min(all, want * 4 + res.one_shots * #res.names)
  end
end

-- Writes the matrix as CSV: a header row EVENT,<names>, then one row per
-- event (base: as for util.write_with). Returns path or nil, message.
function M.write_csv(res, path, base)
  return util.write_with(path, function(write)
    local head = { "EVENT" }
    for i, n in ipairs(res.names) do head[i + 1] = csv.field(n) end
    write(table.concat(head, ","), "\n")
    for i, n in ipairs(res.names) do write(csv.field(n), ",", res.R:rowtext(i, 6), "\n") end
  end, base)
end

-- Up to this many events the heatmap labels every one; above it,
-- correlation.png is an overview of cluster blocks and
-- correlation-full.png the whole matrix at one pixel per pair.
M.LABELLED = 150
-- Blocks of the overview at most.
M.OVERVIEW_BLOCKS = 60

local function short_name(name, max)
  max = max or 40
  if #name <= max then return name end
  return name:sub(1, max - 3) .. "..."
end

-- gnuplot tic list of labels (one per position, 0-based)
local function tic_list(labels)
  local out = {}
  for i, l in ipairs(labels) do out[#out + 1] = string.format("%s %d", plot.str(l), i - 1) end
  return "(" .. table.concat(out, ", ") .. ")"
end

-- Writes a k x k float32 matrix (row after row), value(i, j).
local function write_bin(path, k, value, base)
  local fmt = "<" .. string.rep("f", k)
  return util.write_with(path, function(write)
    local row = {}
    for i = 1, k do
      for j = 1, k do row[j] = value(i, j) end
      write(string.pack(fmt, table.unpack(row)))
    end
  end, base)
end

-- Rectangle outlines (gnuplot objects) around blocks of two or more
-- places [first, last] (1-based).
local function outlines(blocks, min_size, lw)
  local out = {}
  for _, b in ipairs(blocks) do
    if b.last - b.first + 1 >= (min_size or 2) then
      out[#out + 1] = string.format("set object rect from %g,%g to %g,%g front fillstyle empty " ..
        "border lc rgb '#000000' lw %g", b.first - 1.5, b.first - 1.5, b.last - 0.5, b.last - 0.5, lw or 1)
    end
  end
  return table.concat(out, "\n")
end

local function common(title)
  return {
    string.format("set title %s noenhanced", plot.lines(title)),
    "set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')",
    "set cbrange [-1:1]",
    "set cblabel 'correlation coefficient'",
    "set tics scale 0",
  }
end

-- The whole matrix in clustered order into dir/image (labelled when
-- labels is given, else tics every hundred places of
-- correlation-order.csv).
local function full(res, dir, image, title, base, labels)
  local n, order, R = #res.names, res.tree.order, res.R
  local rows = {}
  local ok, berr = write_bin(dir .. "/correlation.bin", n, function(i, j)
    local r = rows[i]
    if not r then
      rows = { [i] = R:row(order[i]) }
      r = rows[i]
    end
    return r[order[j]]
  end, base)
  if not ok then return nil, berr end
  local size, w
  local lines = common(title)
  if labels then
    local longest = 0
    for _, l in ipairs(labels) do longest = math.max(longest, #l) end
    size = math.max(600, 12 * n)
    -- room for the names: about 6 pixels a character at 9 points
    local margin = 7 * longest + 50
    w = size + margin + 160
    size = size + margin + 80
    lines[#lines + 1] = string.format("set lmargin at screen %g", margin / w)
    lines[#lines + 1] = string.format("set rmargin at screen %g", 1 - 150 / w)
    lines[#lines + 1] = string.format("set bmargin at screen %g", margin / size)
    lines[#lines + 1] = string.format("set tmargin at screen %g", 1 - 70 / size)
    lines[#lines + 1] = "set xlabel 'event'"
    lines[#lines + 1] = "set ylabel 'event'"
    lines[#lines + 1] = "set xtics rotate by 90 right noenhanced " .. tic_list(labels)
    lines[#lines + 1] = "set ytics noenhanced " .. tic_list(labels)
  else
    size = math.max(800, n + 160)
    w = size + 140
    lines[#lines + 1] = "set xlabel 'place in correlation-order.csv (clustered order)'"
    lines[#lines + 1] = "set ylabel 'place in correlation-order.csv (clustered order)'"
    local step = n > 1500 and 200 or 100
    lines[#lines + 1] = string.format("set xtics 0,%d rotate by 90 right", step)
    lines[#lines + 1] = string.format("set ytics 0,%d", step)
  end
  lines[#lines + 1] = string.format("set xrange [-0.5:%d.5]", n - 1)
  lines[#lines + 1] = string.format("set yrange [%d.5:-0.5]", n - 1)
  lines[#lines + 1] = "set size ratio -1"
  lines[#lines + 1] = "# clusters (|r| >= " .. res.threshold .. " on average), outlined"
  local o = outlines(res.blocks, labels and 2 or 3, labels and 1.5 or 0.5)
  for l in (o .. "\n"):gmatch("([^\n]+)\n") do lines[#lines + 1] = l end
  lines[#lines + 1] = "# correlation.bin: the matrix in the order of correlation-order.csv as float32, row after row"
  lines[#lines + 1] = string.format("plot 'correlation.bin' binary array=(%d,%d) format='%%float32' " ..
    "with image notitle", n, n)
  local head, err = plot.header(image, w, size)
  if not head then return nil, err end
  local stem = image:match("^(.*)%.%w+$")
  return plot.draw(dir, stem, image, head .. table.concat(lines, "\n") .. "\n", base, { "correlation.bin" })
end

-- The overview: the dendrogram cut into at most M.OVERVIEW_BLOCKS blocks
-- (the clusters at the threshold when there are no more), each cell the
-- mean r between two blocks' events, each block labelled by its most
-- representative event and its size.
local function overview(res, dir, image, title, base)
  local tree, R = res.tree, res.R
  local of, count = res.cluster_of, res.clusters
  local how = string.format("clusters at mean |r| >= %g", res.threshold)
  if count > M.OVERVIEW_BLOCKS then
    of, count = clustering.cut_count(tree, M.OVERVIEW_BLOCKS)
    how = string.format("the clustering cut into %d groups", count)
  end
  local blocks = clustering.blocks(tree, R, of, count)
  res.overview = { blocks = blocks, how = how }
  -- mean r between blocks
  local sum, cnt = {}, {}
  for a = 1, count do
    sum[a], cnt[a] = {}, {}
    for b = 1, count do sum[a][b], cnt[a][b] = 0, 0 end
  end
  for i = 1, #res.names do
    local row, ci = R:row(i), of[i]
    local si, ni = sum[ci], cnt[ci]
    for j = 1, #res.names do
      if j ~= i then
        local v = row[j]
        if v == v then
          local cj = of[j]
          si[cj] = si[cj] + v
          ni[cj] = ni[cj] + 1
        end
      end
    end
  end
  local ok, berr = write_bin(dir .. "/correlation-overview.bin", count, function(a, b)
    if cnt[a][b] == 0 then return 1 end -- a block of one event: itself
    return sum[a][b] / cnt[a][b]
  end, base)
  if not ok then return nil, berr end
  local labels, longest = {}, 0
  for c, b in ipairs(blocks) do
    local l = short_name(res.names[b.rep], 44)
    if #b.members > 1 then l = string.format("%s (+%d)", l, #b.members - 1) end
    labels[c] = l
    longest = math.max(longest, #l)
  end
  local cell = math.max(18, math.floor(1000 / count))
  local margin = 7 * longest + 50
  local side = cell * count
  local w, h = side + margin + 150, side + margin + 100
  local lines = common(title:gsub("\n", string.format("\noverview: %d groups (%s), mean r between them; " ..
    "every pair in correlation-full.png\n", count, how), 1))
  lines[#lines + 1] = string.format("set lmargin at screen %g", margin / w)
  lines[#lines + 1] = string.format("set rmargin at screen %g", 1 - 140 / w)
  lines[#lines + 1] = string.format("set bmargin at screen %g", margin / h)
  lines[#lines + 1] = string.format("set tmargin at screen %g", 1 - 90 / h)
  lines[#lines + 1] = "set xlabel 'group of events, named by its most representative event (+ the others in it)'"
  lines[#lines + 1] = "set xtics rotate by 90 right noenhanced " .. tic_list(labels)
  lines[#lines + 1] = "set ytics noenhanced " .. tic_list(labels)
  lines[#lines + 1] = string.format("set xrange [-0.5:%d.5]", count - 1)
  lines[#lines + 1] = string.format("set yrange [%d.5:-0.5]", count - 1)
  lines[#lines + 1] = "set size ratio -1"
  lines[#lines + 1] = "# correlation-overview.bin: mean r between groups (correlation-order.csv has each event's group)"
  lines[#lines + 1] = string.format("plot 'correlation-overview.bin' binary array=(%d,%d) format='%%float32' " ..
    "with image notitle", count, count)
  local head, err = plot.header(image, w, h)
  if not head then return nil, err end
  return plot.draw(dir, "correlation", image, head .. table.concat(lines, "\n") .. "\n", base,
    { "correlation-overview.bin" })
end

-- Writes dir/correlation-order.csv: the clustered order, each event's
-- cluster (at the threshold) and that cluster's representative.
function M.write_order(res, path, base)
  local f = csv.field
  local head = "POSITION,EVENT,CLUSTER,CLUSTER_SIZE,REPRESENTATIVE,MEAN_ABS_R,ONE_SHOT\n"
  local rows = {}
  for p, i in ipairs(res.tree.order) do
    local c = res.cluster_of[i]
    local b = res.blocks[c]
    rows[p] = { p, f(res.names[i]), c, #b.members, f(res.names[b.rep]), string.format("%.4f", b.mean_r),
      res.one_shot[res.names[i]] and "yes" or "no" }
  end
  return csv.write_rows(path, head, rows, function(x) return x end, base)
end

-- Draws the heatmap in clustered order into dir/image (.png or .svg):
-- every event labelled up to M.LABELLED events; above, image is the
-- overview and correlation-full.<ext> the whole matrix. Writes
-- correlation-order.csv too. Returns the image path (res.full_image,
-- res.order_csv set) or nil, message.
function M.heatmap(res, dir, image, title, base)
  local n = #res.names
  local order_csv, oerr = M.write_order(res, dir .. "/correlation-order.csv", base)
  if not order_csv then return nil, oerr end
  res.order_csv = order_csv
  local left = {}
  if #res.constant > 0 then
    left[#left + 1] = string.format("%d constant left out (%d of them zero)", #res.constant, res.zero or 0)
  end
  local what = string.format("%s correlation of %d events' time series (%d intervals)\nclustered (average " ..
    "linkage on 1-|r|; outlined: mean |r| >= %g)%s", res.method == "spearman" and "Spearman" or "Pearson", n,
    res.intervals, res.threshold, #left > 0 and ("; " .. left[1]) or "")
  local sub = title and ("\n" .. title) or ""
  if res.intervals < M.FEW_INTERVALS then
    sub = sub .. string.format("\nonly %d intervals: |r| < %.2f is chance", res.intervals, res.critical_r)
  end
  local ext = image:match("%.(%w+)$") or "png"
  if n <= M.LABELLED then
    local labels = {}
    for p, i in ipairs(res.tree.order) do labels[p] = short_name(res.names[i]) end
    -- an earlier run with many events may have left these
    for _, f in ipairs({ "correlation-full.png", "correlation-full.svg", "correlation-full.gp",
      "correlation-overview.bin" }) do os.remove(dir .. "/" .. f) end
    return full(res, dir, image, what .. sub, base, labels)
  end
  local fimg, ferr = full(res, dir, "correlation-full." .. ext, what .. sub, base)
  if not fimg then return nil, ferr end
  res.full_image = fimg
  return overview(res, dir, image, what .. sub, base)
end

return M
