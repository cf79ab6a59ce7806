-- make bench-numeric: core.correlation on a 2000 x 1000 matrix (2000
-- events, 1000 intervals) of correlated random data, Pearson and
-- Spearman, and core.top_pairs(R, 100) on the result: wall and CPU
-- seconds, best of 3. The same matrix goes to numpy's corrcoef (Debian's
-- python3-numpy on OpenBLAS, installed by scripts/bootstrap --bench), on
-- one thread and on every core, in the same run; the ratios are printed.
-- Run with: autoperf run scripts/bench-numeric.lua [ROWS [COLS]]
local core = require "autoperf.core"

local rows = tonumber((...)) or 2000
local cols = tonumber((select(2, ...))) or 1000

math.randomseed(42)
local m <close> = core.matrix(rows, cols)
local raw = {}
for i = 1, rows do
  -- Correlated pairs of rows, so the data is not pure noise.
  local row = {}
  for j = 1, cols do row[j] = math.random() end
  if i % 2 == 0 then
    local prev = m:row(i - 1)
    for j = 1, cols do row[j] = prev[j] + 0.5 * row[j] end
  end
  m:setrow(i, row)
  raw[i] = string.pack("<" .. string.rep("d", cols), table.unpack(row))
end

-- best wall and CPU seconds of 3
local function best_of_3(f)
  local wall, cpu = math.huge, math.huge
  for _ = 1, 3 do
    local t0, c0 = core.now_ns(), os.clock()
    f()
    wall = math.min(wall, (core.now_ns() - t0) / 1e9)
    cpu = math.min(cpu, os.clock() - c0)
  end
  return wall, cpu
end

print(string.format("kernel: %s", core.correlation_kernel()))
local R
local ours = {}
for _, method in ipairs({ "pearson", "spearman" }) do
  local wall, cpu = best_of_3(function()
    if R then R:close() end
    R = assert(core.correlation(m, method))
  end)
  ours[method] = wall
  print(string.format("correlation %-8s %dx%d: %.3f s wall, %.3f s CPU", method, rows, cols, wall, cpu))
end
local wall = best_of_3(function() core.top_pairs(R, 100) end)
print(string.format("top_pairs(R, 100) on %dx%d: %.3f s", rows, rows, wall))
R:close()

-- numpy on the same matrix, when this machine has it
local py = "/usr/bin/python3"
if os.execute(py .. " -c 'import numpy' 2>/dev/null") then
  local dir = assert(core.mkdtemp("/tmp/autoperf-bench.XXXXXX"))
  local f = assert(io.open(dir .. "/m.f64", "wb"))
  f:write(table.concat(raw))
  f:close()
  local script = string.format([[
import numpy, time
x = numpy.fromfile("%s/m.f64", dtype="<f8").reshape(%d, %d)
best = min((lambda t: (numpy.corrcoef(x), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3))
print("%%.4f" %% best)
]], dir, rows, cols)
  local sf = assert(io.open(dir .. "/bench.py", "w"))
  sf:write(script)
  sf:close()
  for _, threads in ipairs({ "1", tostring(#(core.listdir("/sys/bus/cpu/devices") or {})) }) do
    local p = assert(io.popen(string.format("OPENBLAS_NUM_THREADS=%s %s %s/bench.py", threads, py, dir)))
    local t = tonumber(p:read("a"))
    p:close()
    if t then
      print(string.format("numpy corrcoef, %s thread(s): %.3f s; autoperf pearson is %.2fx its time", threads, t,
        ours.pearson / t))
    end
  end
  os.remove(dir .. "/m.f64")
  os.remove(dir .. "/bench.py")
  os.remove(dir)
else
  print("numpy: not installed (scripts/bootstrap --bench installs it): no comparison")
end
