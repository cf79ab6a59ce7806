-- counts: the table perf stat prints after a run, for a finished profile:
-- per event its mean over the repetitions, the relative standard error of
-- that mean for -r N (perf's "+- x%"), the busiest events first.
local series = require "autoperf.analyze.series"
local stats = require "autoperf.analyze.stats"

local M = {}

-- perf stat's default events, shown first when measured (and in this order).
local FIRST = { "task-clock", "cpu-clock", "context-switches", "cpu-migrations", "page-faults",
                "cycles", "cpu-cycles", "instructions", "branches", "branch-misses" }

local function base(name)
  return (name:gsub(":[ukh]+$", ""))
end

-- 1234567 -> "1,234,567"; decimals (default 0) after the point.
function M.grouped(v, decimals)
  local s = math.abs(v) >= 1e21 and string.format("%.3g", v) or string.format("%." .. (decimals or 0) .. "f", v)
  local sign, int, frac = s:match("^(%-?)(%d+)(.*)$")
  if not int or frac:match("^e") then return s end
  int = int:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. int .. frac
end

-- The rows to show: counted, nonzero events, perf's defaults first, then
-- by mean (largest first). Returns shown, hidden (how many counted events
-- were left out, limit 0: none), zero (events that counted nothing).
function M.pick(rows, limit)
  local rank = {}
  for i, n in ipairs(FIRST) do rank[n] = i end
  local live, zero = {}, 0
  for _, x in ipairs(rows) do
    if x.kind == "zero" then
      zero = zero + 1
    elseif x.mean and x.kind ~= "refused" and x.kind ~= "missing" then
      live[#live + 1] = x
    end
  end
  table.sort(live, function(a, b)
    local ra, rb = rank[base(a.name)] or math.huge, rank[base(b.name)] or math.huge
    if ra ~= rb then return ra < rb end
    if a.mean ~= b.mean then return a.mean > b.mean end
    return a.name < b.name
  end)
  local shown = {}
  for i, x in ipairs(live) do
    if limit > 0 and i > limit then break end
    shown[i] = x
  end
  return shown, #live - #shown, zero
end

local function is_time(name)
  local b = base(name)
  return b == "task-clock" or b == "cpu-clock" or b == "duration_time"
end

-- The text for rows (analyze.stats rows) of command (a string), reps
-- repetitions; opts.limit (default 12), opts.dir (named in the trailer).
function M.format(rows, command, reps, opts)
  opts = opts or {}
  local shown, hidden, zero = M.pick(rows, opts.limit or 12)
  local how = {}
  if reps > 1 then how[#how + 1] = string.format("%d repetitions", reps) end
  if opts.user_only then how[#how + 1] = "user space only" end
  local out = { "", string.format(" Performance counter stats for '%s'%s:", command,
    #how > 0 and (" (" .. table.concat(how, ", ") .. ")") or ""), "" }
  local width = 24
  for _, x in ipairs(shown) do width = math.max(width, math.min(#x.name, 60)) end
  for _, x in ipairs(shown) do
    local text, unit = M.grouped(x.mean), "     "
    if is_time(x.name) then text, unit = M.grouped(x.mean / 1e6, 2), "msec " end
    local line = string.format("%20s %s %-" .. width .. "s", text, unit, x.name)
    if reps > 1 and x.std and x.mean ~= 0 then
      local rse = x.std / math.sqrt(x.reps) / math.abs(x.mean) * 100
      line = line .. string.format("  ( +- %5.2f%% )", rse)
    end
    if (x.unit or ""):match(":simulated$") then line = line .. "  (simulated, not measured)" end
    out[#out + 1] = (line:gsub("%s+$", ""))
  end
  if #shown == 0 then out[#out + 1] = "   (no event counted anything)" end
  local more = {}
  if hidden > 0 then more[#more + 1] = string.format("%d more event%s", hidden, hidden == 1 and "" or "s") end
  if zero > 0 then more[#more + 1] = string.format("%d that counted 0", zero) end
  if #more > 0 then
    out[#out + 1] = string.format("%26s(%s; all of them: autoperf analyze stats %s)", "",
      table.concat(more, ", "), opts.dir or "DIR")
  end
  out[#out + 1] = ""
  return table.concat(out, "\n") .. "\n"
end

-- The text for the profile in dir, or nil, message.
function M.of_profile(dir, command, opts)
  local ds, err = series.load(dir)
  if not ds then return nil, err end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.dir = o.dir or dir
  o.user_only = ds.user_only
  return M.format(stats.compute(ds), command, ds.reps, o)
end

return M
