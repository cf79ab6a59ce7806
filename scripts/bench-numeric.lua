-- make bench-numeric: core.correlation on a 2000 x 1000 matrix (2000
-- events, 1000 intervals) of random data, Pearson and Spearman, and
-- core.top_pairs(R, 100) on the result; CPU seconds by os.clock, best of 3.
-- Run with: autoperf run scripts/bench-numeric.lua [ROWS [COLS]]
local core = require "autoperf.core"

local rows = tonumber((...)) or 2000
local cols = tonumber((select(2, ...))) or 1000

math.randomseed(42)
local m <close> = core.matrix(rows, cols)
for i = 1, rows do
  -- Correlated pairs of rows, so the data is not pure noise.
  local row = {}
  for j = 1, cols do row[j] = math.random() end
  if i % 2 == 0 then
    local prev = m:row(i - 1)
    for j = 1, cols do row[j] = prev[j] + 0.5 * row[j] end
  end
  m:setrow(i, row)
end

local function best_of_3(f)
  local best = math.huge
  for _ = 1, 3 do
    local t0 = os.clock()
    f()
    best = math.min(best, os.clock() - t0)
  end
  return best
end

local R
for _, method in ipairs({ "pearson", "spearman" }) do
  local t = best_of_3(function()
    if R then R:close() end
    R = assert(core.correlation(m, method))
  end)
  print(string.format("correlation %-8s %dx%d: %.3f s", method, rows, cols, t))
end
local t = best_of_3(function() core.top_pairs(R, 100) end)
print(string.format("top_pairs(R, 100) on %dx%d: %.3f s", rows, rows, t))
R:close()
