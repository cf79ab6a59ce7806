-- guard: are a profile's runs comparable? After each run its anchors
-- (anchors.lua: duration, task-clock, free fixed counters) are compared
-- with those of the runs so far: a run whose anchor lies further from
-- their median than the tolerance (and than the runs' own spread) saw a
-- different program behaviour (a disturbance beside it, a different
-- input, a cold cache) and is measured again, up to a limit; the manifest
-- records why (profile.lua). Pure functions over numbers: specs test them
-- without a kernel.
local anchors = require "autoperf.anchors"

local M = {}

M.TOLERANCE = 0.25   -- a run deviating more than 25% from the median is measured again
M.REMEASURE = 2      -- at most this many more executions of one run
M.MIN_HISTORY = 2    -- runs to compare with before a run is judged
-- Process start and exit alone move a run's time by milliseconds: a
-- deviation smaller than this is never an outlier (and a count anchor's
-- deviation is allowed what this much of the run's time amounts to).
M.FLOOR_NS = 20000000
-- Deviations within this many robust spreads (1.4826 x the median
-- absolute deviation: a standard deviation for normal noise) of the runs
-- so far are their normal noise, whatever the tolerance.
M.SPREADS = 3

-- Anchors whose values are times in ns.
M.TIME = { [anchors.DURATION] = true, ["task-clock"] = true, ["cpu-clock"] = true }

local function median(xs)
  local s = {}
  for i, v in ipairs(xs) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end
M.median = median

-- {n=, median=, mad= (scaled: 1.4826 x median absolute deviation), mean=,
-- sd=, cv= (sd / mean), min=, max=} of a list of numbers.
function M.stats(xs)
  local n = #xs
  if n == 0 then return { n = 0 } end
  local med = median(xs)
  local dev, sum, lo, hi = {}, 0, math.huge, -math.huge
  for i, v in ipairs(xs) do
    dev[i] = math.abs(v - med)
    sum = sum + v
    lo, hi = math.min(lo, v), math.max(hi, v)
  end
  local mean = sum / n
  local ss = 0
  for _, v in ipairs(xs) do ss = ss + (v - mean) ^ 2 end
  local sd = n > 1 and math.sqrt(ss / (n - 1)) or 0
  return { n = n, median = med, mad = 1.4826 * median(dev), mean = mean, sd = sd,
           cv = mean ~= 0 and sd / mean or 0, min = lo, max = hi }
end

-- The options of a profile's guard: {on=, tolerance=, remeasure=} from
-- opts.tolerance (a fraction; false or "off": the guard is off) and
-- opts.remeasure; nil, message for a bad value.
function M.options(opts)
  local tol = opts.tolerance
  if tol == false or tol == "off" then return { on = false, remeasure = 0 } end
  tol = tol == nil and M.TOLERANCE or tonumber(tol)
  if not tol or tol <= 0 then
    return nil, string.format("--tolerance must be a fraction > 0 (0.25: 25%%) or 'off', not '%s'",
      tostring(opts.tolerance))
  end
  local n = opts.remeasure == nil and M.REMEASURE or math.tointeger(tonumber(opts.remeasure))
  if not n or n < 0 then
    return nil, string.format("--remeasure must be an integer >= 0, not '%s'", tostring(opts.remeasure))
  end
  return { on = true, tolerance = tol, remeasure = n }
end

-- The limit of a deviation of anchor name from st (M.stats of the runs so
-- far), with the runs' time scale (median ns of task-clock or duration).
local function limit(name, st, tol, time_ns)
  local l = math.max(tol * math.abs(st.median), M.SPREADS * st.mad)
  if M.TIME[name] then return math.max(l, M.FLOOR_NS) end
  if time_ns and time_ns > 0 then return math.max(l, math.abs(st.median) * M.FLOOR_NS / time_ns) end
  return l
end

-- The time scale of runs: median task-clock, else duration (ns).
local function time_scale(history)
  for _, name in ipairs({ "task-clock", anchors.DURATION }) do
    local xs = {}
    for _, h in ipairs(history) do xs[#xs + 1] = h[name] end
    if #xs > 0 then return median(xs) end
  end
  return nil
end

-- Is a run (values: anchors.values of its entry) an outlier among
-- history (a list of such values)? Returns {outlier=bool, judged=bool
-- (enough runs to compare with), anchor=, value=, median=, deviation=
-- (relative to the median), limit= (relative)} naming the anchor that
-- deviates most relative to its limit.
function M.judge(history, values, g)
  local tol = g.tolerance or M.TOLERANCE
  local names = {}
  for name in pairs(values) do names[#names + 1] = name end
  table.sort(names, function(a, b)
    if a == b then return false end
    if a == anchors.DURATION or b == anchors.DURATION then return a == anchors.DURATION end
    return a < b
  end)
  local scale = time_scale(history)
  local worst = { outlier = false, judged = false }
  local worst_ratio = -1
  for _, name in ipairs(names) do
    local xs = {}
    for _, h in ipairs(history) do xs[#xs + 1] = h[name] end
    if #xs >= M.MIN_HISTORY then
      worst.judged = true
      local st = M.stats(xs)
      local v = values[name]
      local dev = math.abs(v - st.median)
      local lim = limit(name, st, tol, scale)
      local ratio = lim > 0 and dev / lim or (dev > 0 and math.huge or 0)
      if ratio > worst_ratio then
        worst_ratio = ratio
        worst.anchor, worst.value, worst.median = name, v, st.median
        worst.deviation = st.median ~= 0 and dev / math.abs(st.median) or nil
        worst.limit = st.median ~= 0 and lim / math.abs(st.median) or nil
        worst.outlier = dev > lim
      end
    end
  end
  return worst
end

-- One line saying why a run was (or would be) measured again.
function M.why(v)
  if v.median == 0 then
    -- (no relative deviation from nothing)
    return string.format("%s %s where the runs so far counted 0 (median)", v.anchor, M.format_value(v.anchor, v.value))
  end
  return string.format("%s %s is %.0f%% off the median %s of the runs so far (limit %.0f%%)", v.anchor,
    M.format_value(v.anchor, v.value), (v.deviation or 0) * 100, M.format_value(v.anchor, v.median),
    (v.limit or 0) * 100)
end

function M.format_value(name, v)
  if v == nil then return "-" end
  if M.TIME[name] then
    if math.abs(v) >= 1e9 then return string.format("%.3f s", v / 1e9) end
    return string.format("%.1f ms", v / 1e6)
  end
  return string.format("%.6g", v)
end

-- The spread of each anchor across a profile's runs: entries (journal
-- entries: {run=, rep=, elapsed_ns=, anchors=}) and the anchor names (in
-- order). Returns a list of {name=, n=, median=, mean=, cv=, min=, max=,
-- outliers = {{run=, rep=, value=, deviation=}}}: outliers are the runs
-- that deviate from the median of all beyond g's tolerance (and spread).
function M.spread(entries, names, g)
  local tol = g and g.tolerance or M.TOLERANCE
  local values = {}
  for i, e in ipairs(entries) do values[i] = anchors.values(e) end
  local scale = time_scale(values)
  local out = {}
  for _, name in ipairs(names) do
    local xs, who = {}, {}
    for i, v in ipairs(values) do
      if v[name] then
        xs[#xs + 1] = v[name]
        who[#xs] = entries[i]
      end
    end
    if #xs > 0 then
      local st = M.stats(xs)
      st.name = name
      st.outliers = {}
      if #xs > M.MIN_HISTORY then
        local lim = limit(name, st, tol, scale)
        for i, x in ipairs(xs) do
          local dev = math.abs(x - st.median)
          if dev > lim then
            st.outliers[#st.outliers + 1] = { run = who[i].run, rep = who[i].rep, value = x,
              deviation = st.median ~= 0 and dev / math.abs(st.median) or nil }
          end
        end
      end
      out[#out + 1] = st
    end
  end
  return out
end

-- "run 3 rep 1" (rep only when there are several).
function M.run_name(o, reps)
  if reps and reps > 1 then return string.format("run %d rep %d", o.run, o.rep) end
  return "run " .. o.run
end

return M
