-- series: events' per-interval values lined up across runs.
--
-- Events measured in different runs have series of slightly different
-- lengths (each run is its own execution of the workload). Interval i of
-- repetition k lines up across runs; each repetition is cut to its
-- shortest series, and repetitions follow each other, as INDEX does in
-- results.csv.
local core = require "autoperf.core"

local M = {}

-- The layout of names in result r: {reps = {{rep=, length=}, ...},
-- length = total}. A repetition missing for one of names is left out.
function M.layout(r, names)
  local reps, total = {}, 0
  for k = 1, r.reps do
    local len = math.huge
    for _, n in ipairs(names) do
      local d = r.data[n]
      local s = d and d.series[k]
      if not s then
        len = nil
        break
      end
      if #s < len then len = #s end
    end
    if len and len > 0 and len < math.huge then
      reps[#reps + 1] = { rep = k, length = len }
      total = total + len
    end
  end
  return { reps = reps, length = total }
end

-- name's values on layout, as an array.
function M.values(r, name, layout)
  local out = {}
  for _, rp in ipairs(layout.reps) do
    local s = r.data[name].series[rp.rep]
    for i = 1, rp.length do out[#out + 1] = s[i].value end
  end
  return out
end

-- A matrix with one row per name (in order) on layout.
function M.matrix(r, names, layout)
  local m = core.matrix(math.max(#names, 1), math.max(layout.length, 1))
  for i, name in ipairs(names) do m:setrow(i, M.values(r, name, layout)) end
  return m
end

-- Writes the original autoperf's timeseries layout to path (.gz
-- compresses): INDEX, then one column per event (sum over CPUs).
-- Returns {path=, rows=, events=} or nil, message.
function M.write_wide(r, path, names)
  names = names or r.events
  local layout = M.layout(r, names)
  local w, err = core.writer(path, path:match("%.gz$") ~= nil)
  if not w then return nil, err end
  local csv_field = require("autoperf.util").csv_field
  local head = { "INDEX" }
  for i, n in ipairs(names) do head[i + 1] = csv_field(n) end
  w:write(table.concat(head, ","), "\n")
  local cols = {}
  for i, n in ipairs(names) do cols[i] = M.values(r, n, layout) end
  local buf = {}
  for row = 1, layout.length do
    local line = { row - 1 }
    for i = 1, #names do line[i + 1] = cols[i][row] end
    buf[#buf + 1] = table.concat(line, ",")
    if #buf >= 256 then
      w:write(table.concat(buf, "\n"), "\n")
      buf = {}
    end
  end
  if #buf > 0 then w:write(table.concat(buf, "\n"), "\n") end
  local ok, cerr = w:commit()
  if not ok then return nil, cerr end
  return { path = path, rows = layout.length, events = #names }
end

return M
