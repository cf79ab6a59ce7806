-- diff: what changed between two profiles (say, two builds), event by
-- event, judged across repetitions with Welch's t-test.
local core = require "autoperf.core"
local csv = require "autoperf.csv"
local util = require "autoperf.util"
local plot = require "autoperf.plot"
local stats = require "autoperf.analyze.stats"

local M = {}

M.HEADER = "RANK,EVENT_NAME,UNIT,MEAN_A,MEAN_B,CHANGE,REL_CHANGE,T,DF,P,Q,EFFECT_SIZE,SIGNIFICANT,NOTE\n"

local function totals(r, name)
  local out = {}
  for k = 1, r.reps do out[#out + 1] = r:total(name, k) end
  return out
end

local function mean(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return #t > 0 and s / #t or 0
end

-- Benjamini-Hochberg q-values of rows' p (in place, rows with p only):
-- the false discovery rate at which each would be called significant.
function M.qvalues(rows)
  local tested = {}
  for _, x in ipairs(rows) do
    if x.p then tested[#tested + 1] = x end
  end
  table.sort(tested, function(a, b) return a.p > b.p end)
  local m, q = #tested, 1
  for i, x in ipairs(tested) do
    local rank = m - i + 1
    q = math.min(q, x.p * m / rank)
    x.q = q
  end
end

local function abs_or(v, default)
  if v == nil or v ~= v then return default end
  return math.abs(v)
end

local function rank_order(a, b)
  if a.significant ~= b.significant then return a.significant end
  if a.significant then
    local da, db = abs_or(a.d, -1), abs_or(b.d, -1)
    if da ~= db then return da > db end
    local ra, rb = abs_or(a.rel, math.huge), abs_or(b.rel, math.huge)
    if ra ~= rb then return ra > rb end
  else
    local pa, pb = a.p or 2, b.p or 2
    if pa ~= pb then return pa < pb end
  end
  return a.name < b.name
end

-- A count is an integer: known to +-0.5, so no side's variance is taken
-- as smaller than that of a rounding error (1/12). This keeps Welch's t
-- finite where a side never varies (an event that goes 0 -> 1 in every
-- repetition has effect size 3.5, not infinity; 300 -> 600 has 1000) and
-- ranks such changes by how large they are against the resolution of a
-- count.
M.VAR_FLOOR = 1 / 12

local function var_of(t, m)
  local s = 0
  for _, v in ipairs(t) do s = s + (v - m) ^ 2 end
  return #t > 1 and s / (#t - 1) or 0
end

-- Welch's t-test of b against a with the variance floor: {t=, df=, p=, d=}.
function M.welch(a, b)
  local ma, mb = mean(a), mean(b)
  local va, vb = math.max(var_of(a, ma), M.VAR_FLOOR), math.max(var_of(b, mb), M.VAR_FLOOR)
  local na, nb = #a, #b
  local sa, sb = va / na, vb / nb
  local t = (mb - ma) / math.sqrt(sa + sb)
  local df = (sa + sb) ^ 2 / (sa * sa / (na - 1) + sb * sb / (nb - 1))
  return { t = t, df = df, p = core.t_sf(t, df), d = (mb - ma) / math.sqrt((va + vb) / 2) }
end

-- Compares results ra (A, the baseline) and rb (B), event by event. Rows,
-- ranked (changed significantly first, by effect size):
-- {name=, unit=, mean_a=, mean_b=, diff=, rel=, t=, df=, p=, q=, d=,
-- significant=, note=}. opts.alpha: the false discovery rate (0.05);
-- q: Benjamini-Hochberg over every event tested.
function M.compare(ra, rb, opts)
  opts = opts or {}
  local alpha = opts.alpha or 0.05
  local rows = {}
  for _, name in ipairs(ra.events) do
    if rb.data[name] then
      local a, b = totals(ra, name), totals(rb, name)
      local x = { name = name, unit = ra.units[name], mean_a = mean(a), mean_b = mean(b), significant = false }
      x.diff = x.mean_b - x.mean_a
      x.rel = x.mean_a ~= 0 and x.diff / math.abs(x.mean_a) or (x.diff == 0 and 0 or 0 / 0)
      local sa, sb = ra:status(name), rb:status(name)
      if sa ~= "ok" or sb ~= "ok" then x.note = "not counted all the time in " .. (sa ~= "ok" and "A" or "B") end
      if x.mean_a == 0 and x.mean_b == 0 then
        x.note = x.note or "zero in both"
      elseif #a < 2 or #b < 2 then
        x.note = x.note or "fewer than 2 repetitions"
      else
        local w = M.welch(a, b)
        x.t, x.df, x.p, x.d = w.t, w.df, w.p, w.d
        if x.mean_a == 0 then
          x.new = "new in B"
        elseif x.mean_b == 0 then
          x.new = "gone in B"
        end
      end
      rows[#rows + 1] = x
    end
  end
  M.qvalues(rows)
  for _, x in ipairs(rows) do
    x.significant = x.q ~= nil and x.q < alpha and x.diff ~= 0 and x.note == nil
    if x.new and not x.note then x.note = x.new end
  end
  table.sort(rows, rank_order)
  for i, x in ipairs(rows) do x.rank = i end
  return rows
end

-- What a diff could and could not test, in lines for the user: tests,
-- left out, repetitions.
function M.summary(rows, reps_a, reps_b, alpha)
  local tested, sig, zero, partial = 0, 0, 0, 0
  for _, x in ipairs(rows) do
    if x.p then tested = tested + 1 end
    if x.significant then sig = sig + 1 end
    if x.note == "zero in both" then zero = zero + 1 end
    if x.note and x.note:match("^not counted") then partial = partial + 1 end
  end
  local lines = { string.format("%d events compared: %d changed significantly (Welch's t-test on %d+%d " ..
    "repetitions, Benjamini-Hochberg false discovery rate %g over the %d tested)", #rows, sig, reps_a, reps_b,
    alpha or 0.05, tested) }
  local left = {}
  if zero > 0 then left[#left + 1] = zero .. " zero in both" end
  if partial > 0 then left[#left + 1] = partial .. " not counted all the time (not judged)" end
  if #left > 0 then lines[#lines + 1] = "  not tested: " .. table.concat(left, ", ") end
  if math.min(reps_a, reps_b) < 5 then
    lines[#lines + 1] = string.format("  warning: %d repetitions on the smaller side: only large, steady " ..
      "changes can show; profile with -r 5 or more", math.min(reps_a, reps_b))
  end
  return lines, sig
end

-- base: as for util.write_with.
function M.write_csv(rows, path, base)
  local f, num = csv.field, csv.number
  return csv.write_rows(path, M.HEADER, rows, function(x)
    return { x.rank, f(x.name), f(x.unit or ""), num(x.mean_a), num(x.mean_b), num(x.diff), num(x.rel), num(x.t),
      num(x.df), num(x.p), num(x.q), num(x.d), x.significant and "yes" or "no", f(x.note or "") }
  end, base)
end

local function pct(rel)
  if rel == nil or rel ~= rel then return "new" end
  return string.format("%+.1f%%", rel * 100)
end

-- The terminal table: the events that changed significantly (at most
-- opts.limit; 0: all). opts.reps_a, opts.reps_b: repetitions per side.
function M.format(rows, opts)
  opts = opts or {}
  local limit = opts.limit or 20
  local out, sig = M.summary(rows, opts.reps_a or 0, opts.reps_b or 0, opts.alpha)
  if sig == 0 then return table.concat(out, "\n") .. "\n" end
  local width = 10
  for i = 1, math.min(sig, limit > 0 and limit or sig) do width = math.max(width, #rows[i].name) end
  width = math.min(width, 48)
  out[#out + 1] = string.format("%4s  %-" .. width .. "s %14s %14s %9s %10s %10s %8s", "rank", "event", "A (mean)",
    "B (mean)", "change", "p", "q", "effect")
  for i = 1, sig do
    if limit > 0 and i > limit then
      out[#out + 1] = string.format("... %d more (all in the CSV)", sig - limit)
      break
    end
    local x = rows[i]
    local name = #x.name > width and (x.name:sub(1, width - 3) .. "...") or x.name
    out[#out + 1] = string.format("%4d  %-" .. width .. "s %14s %14s %9s %10s %10s %8s", i, name,
      stats.short(x.mean_a), stats.short(x.mean_b), x.new and x.new:gsub(" in B", "") or pct(x.rel),
      string.format("%.2g", x.p), string.format("%.2g", x.q), stats.short(x.d))
  end
  return table.concat(out, "\n") .. "\n"
end

-- Bars of the relative change of the significant events, the first n
-- in the table's order, into dir/image: log2((B + 1) / (A + 1)), so
-- new and vanished events are drawn too. Returns the path or nil,
-- message (or false when nothing changed).
function M.plot(rows, dir, image, n, title, base)
  local shown, sig = {}, 0
  for _, x in ipairs(rows) do
    if x.significant then
      sig = sig + 1
      if #shown < n then shown[#shown + 1] = x end
    end
  end
  if #shown == 0 then return false end
  local buf = {}
  for i, x in ipairs(shown) do
    -- gnuplot data strings know no escapes: a double quote becomes a single one
    local label = x.name:gsub('"', "'"):gsub("\n", " ")
    if x.new then label = label .. " (" .. x.new .. ")" end
    buf[#buf + 1] = string.format('%d %.9g "%s"', i - 1, math.log((x.mean_b + 1) / (x.mean_a + 1), 2), label)
  end
  local ok, err = util.write_atomic(dir .. "/diff.dat", table.concat(buf, "\n") .. "\n", base)
  if not ok then return nil, err end
  local head, herr = plot.header(image, 1000, math.max(300, 140 + 18 * #shown))
  if not head then return nil, herr end
  local what = #shown < sig and string.format("the first %d of %d significant changes, in the table's order " ..
    "(all in diff.csv)", #shown, sig) or string.format("all %d significant changes, in the table's order", sig)
  local script = head .. table.concat({
    string.format("set title %s noenhanced", plot.lines(title .. "\n" .. what)),
    "set xlabel 'change of the mean, log2((B + 1) / (A + 1)): +1 is twice as many'",
    "set ytics noenhanced",
    "set yrange [] reverse",
    "set grid x",
    "set style fill solid 0.8",
    "set xzeroaxis",
    "set offsets graph 0.05, graph 0.05, 0, 0",
    "unset key",
    "plot 'diff.dat' using ($2 / 2):1:($2 < 0 ? $2 : 0):($2 < 0 ? 0 : $2):($1 - 0.4):($1 + 0.4):" ..
      "($2 < 0 ? 7 : 6):yticlabels(3) with boxxyerror lc variable",
  }, "\n") .. "\n"
  return plot.draw(dir, "diff", image, script, base, { "diff.dat" })
end

return M
