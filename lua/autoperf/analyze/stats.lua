-- stats: per event, its totals across the repetitions of a profile.
local core = require "autoperf.core"
local csv = require "autoperf.csv"

local M = {}

M.HEADER = "EVENT_NAME,UNIT,STATUS,KIND,REPETITIONS,TOTAL,MEAN,STD,MIN,MAX,CV\n"

-- One row per event of result r (refused events too, without numbers):
-- {name=, unit=, status=, kind=, reps=, total=, mean=, std=, min=, max=,
-- cv=}. kind: "zero" (never counted anything), "constant" (the same total
-- in every one of several repetitions), "varies", "once" (counted in the
-- only repetition there is), or "refused".
function M.compute(r)
  local rows = {}
  for _, name in ipairs(r.events) do
    local totals = {}
    for k = 1, r.reps do totals[#totals + 1] = r:total(name, k) end
    local d = core.describe(totals)
    local kind = "varies"
    if d.n == 0 then
      kind = "missing"
    elseif d.min == 0 and d.max == 0 then
      kind = "zero"
    elseif d.n == 1 then
      kind = "once" -- one repetition: nothing to compare it with
    elseif d.min == d.max then
      kind = "constant"
    end
    local one = d.n == 1 -- no spread to speak of: std and cv stay empty
    rows[#rows + 1] = {
      name = name, unit = r.units[name], status = r:status(name), kind = kind, reps = d.n,
      total = d.sum, mean = d.mean, std = not one and d.std or nil, min = d.min, max = d.max,
      cv = not one and d.cv or nil,
    }
  end
  local refused = {}
  for name in pairs(r.refused) do refused[#refused + 1] = name end
  table.sort(refused)
  for _, name in ipairs(refused) do
    rows[#rows + 1] = { name = name, unit = "", status = r:status(name), kind = "refused", reps = 0 }
  end
  return rows
end

-- base: as for util.write_with.
function M.write_csv(rows, path, base)
  local f, num = csv.field, csv.number
  return csv.write_rows(path, M.HEADER, rows, function(x)
    return { f(x.name), f(x.unit or ""), f(x.status or ""), x.kind, x.reps, num(x.total), num(x.mean), num(x.std),
      num(x.min), num(x.max), num(x.cv) }
  end, base)
end

-- A compact number for the terminal.
function M.short(v)
  if v == nil or v ~= v then return "-" end
  local a = math.abs(v)
  if a == math.huge then return v > 0 and "inf" or "-inf" end
  if a >= 1e15 then return string.format("%.3g", v) end
  if math.tointeger(v) or a >= 1e5 then return string.format("%.0f", v) end
  if a >= 100 then return string.format("%.1f", v) end
  return string.format("%.4g", v)
end

local SORTS = {
  cv = function(a, b)
    local x, y = a.cv or -1, b.cv or -1
    if x ~= x then x = -1 end
    if y ~= y then y = -1 end
    if x ~= y then return x > y end
    return a.name < b.name
  end,
  total = function(a, b)
    if (a.total or -1) ~= (b.total or -1) then return (a.total or -1) > (b.total or -1) end
    return a.name < b.name
  end,
  name = function(a, b) return a.name < b.name end,
}
M.SORTS = SORTS

-- The terminal table: counts of each kind, then the events that counted
-- something, sorted by opts.sort ("cv", "total" or "name"), at most
-- opts.limit of them (0: all).
function M.format(rows, opts)
  opts = opts or {}
  local kinds, shown = { varies = 0, constant = 0, once = 0, zero = 0, refused = 0, missing = 0 }, {}
  for _, x in ipairs(rows) do
    kinds[x.kind] = kinds[x.kind] + 1
    if x.kind == "varies" or x.kind == "constant" or x.kind == "once" then shown[#shown + 1] = x end
  end
  table.sort(shown, SORTS[opts.sort or "cv"])
  local limit = opts.limit or 20
  local out = {}
  if kinds.once > 0 then
    out[#out + 1] = string.format("%d events: %d counted (one repetition: no variation to show), %d zero, " ..
      "%d refused", #rows, kinds.once, kinds.zero, kinds.refused)
  else
    out[#out + 1] = string.format("%d events: %d vary across repetitions, %d constant, %d zero, %d refused",
      #rows, kinds.varies, kinds.constant, kinds.zero, kinds.refused)
  end
  if #shown == 0 then return table.concat(out, "\n") .. "\n" end
  local width = 10
  for i, x in ipairs(shown) do
    if limit > 0 and i > limit then break end
    width = math.max(width, #x.name)
  end
  width = math.min(width, 48)
  out[#out + 1] = string.format("%-" .. width .. "s %4s %14s %14s %12s %14s %14s %8s",
    "event", "reps", "total", "mean", "std", "min", "max", "cv")
  for i, x in ipairs(shown) do
    if limit > 0 and i > limit then
      out[#out + 1] = string.format("... %d more (sorted by %s; all in the CSV)", #shown - limit, opts.sort or "cv")
      break
    end
    local name = #x.name > width and (x.name:sub(1, width - 3) .. "...") or x.name
    out[#out + 1] = string.format("%-" .. width .. "s %4d %14s %14s %12s %14s %14s %8s", name, x.reps,
      M.short(x.total), M.short(x.mean), M.short(x.std), M.short(x.min), M.short(x.max),
      (x.cv and x.cv == x.cv) and string.format("%.3f", x.cv) or "-")
  end
  return table.concat(out, "\n") .. "\n"
end

return M
