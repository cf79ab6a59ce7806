-- make bench-aggregate: `autoperf aggregate` on a synthetic profile
-- (lua/autoperf/synth.lua): rows/s and peak RSS.
-- Run with: autoperf run scripts/bench-aggregate.lua [EVENTS INTERVALS CPUS RUNS [DIR]] [--old] [--vs BIN]
--   defaults 2000 1000 2 10 (40M rows), DIR /tmp/autoperf-bench-aggregate
--   (kept between runs: generated again only when the sizes change)
--   --old  also times the Lua aggregate this replaced (git c49aeef), which
--          needs git and is slow: use small sizes
--   --vs BIN  also times BIN aggregate (another build of autoperf, e.g.
--          one of an earlier commit: make bench-aggregate BENCH_ARGS="--vs
--          /path/to/old/autoperf") in the same rounds, results compared
-- Then `autoperf aggregate DIR` itself, its run files read in line
-- (AUTOPERF_READ_THREADS=1, the reader's knob: what one cpu does) against
-- read ahead on one worker per cpu (the default; forced to 2 on one cpu),
-- alternating, 3 of each: the medians, their ratio, and whether the
-- results.csv are identical.
local core = require "autoperf.core"
local aggregate = require "autoperf.aggregate"
local synth = require "autoperf.synth"
local util = require "autoperf.util"

local args, old, vs = {}, false, nil
do
  local argv = { ... }
  local i = 1
  while argv[i] do
    local a = argv[i]
    if a == "--old" then
      old = true
    elseif a == "--vs" then
      vs = argv[i + 1]
      if not vs then error("--vs needs the path of an autoperf binary", 0) end
      i = i + 1
    else
      args[#args + 1] = a
    end
    i = i + 1
  end
end
local events = math.tointeger(tonumber(args[1] or 2000))
local intervals = math.tointeger(tonumber(args[2] or 1000))
local cpus = math.tointeger(tonumber(args[3] or 2))
local runs = math.tointeger(tonumber(args[4] or 10))
local dir = args[5] or "/tmp/autoperf-bench-aggregate"

local function now() return core.now_ns() / 1e9 end

-- Peak resident set of this process; reset_peak() starts it again from
-- the current RSS (Linux: "5" into clear_refs).
local function peak_kb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s*(%d+) kB")
    if kb then return tonumber(kb) end
  end
end
local function reset_peak()
  local f = io.open("/proc/self/clear_refs", "w")
  if f then
    f:write("5")
    f:close()
  end
end

local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local n = f:seek("end")
  f:close()
  return n
end

io.write(string.format("%s: %d events x %d intervals x %d cpus x %d runs ... ", dir, events, intervals, cpus, runs))
io.flush()
local t0 = now()
local made, err = synth.ensure(dir, events, intervals, cpus, runs, 1)
if made == nil then error(err) end
io.write(made and string.format("generated in %.1f s\n", now() - t0) or "reused\n")
local input = 0
for _, e in ipairs(core.listdir(dir)) do
  if e.name:match("^run%-") then input = input + file_size(dir .. "/" .. e.name) end
end

local function bench(label, agg)
  -- A clean start: no old results.csv to unlink, no dirty pages of the
  -- last run still being written back.
  os.remove(dir .. "/results.csv")
  os.execute("sync")
  collectgarbage()
  reset_peak()
  local t0, c0 = now(), os.clock()
  local r = assert(agg(dir, {}))
  local dt, cpu = now() - t0, os.clock() - c0
  io.write(string.format("%-15s %d rows in %.2f s (cpu %.2f s): %.2f M rows/s; results.csv %.0f MB from %.0f MB of gzip; peak RSS %.1f MB\n",
    label, r.rows, dt, cpu, r.rows / dt / 1e6, file_size(r.results) / 1e6, input / 1e6, peak_kb() / 1024))
  return r
end

bench("aggregate (C)", aggregate.aggregate)

do
  local top = arg[0]:gsub("scripts/bench%-aggregate%.lua$", "")
  local B = dofile(top .. "scripts/bench_common.lua")
  local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
  local cmd = q(B.bin(top)) .. " aggregate " .. q(dir)
  local results, inline = dir .. "/results.csv", dir .. "/results.inline.csv"
  local function run(threads, bin)
    os.remove(results)
    os.execute("sync")
    return B.sh((threads and "AUTOPERF_READ_THREADS=" .. threads .. " " or "") ..
      (bin and q(bin) .. " aggregate " .. q(dir) or cmd))
  end
  local p = io.popen("nproc")
  local ncpus = p and tonumber(p:read("l")) or 0
  if p then p:close() end
  local t = { inline = {}, ahead = {}, vs = {} }
  local same = true
  local function agrees()
    same = same and os.execute("cmp -s " .. q(results) .. " " .. q(inline)) == true
  end
  for i = 1, 3 do
    t.inline[i] = run(1)
    os.rename(results, inline)
    t.ahead[i] = run(ncpus < 2 and 2 or nil)
    agrees()
    if vs then
      t.vs[i] = run(nil, vs)
      agrees()
    end
  end
  os.remove(inline)
  for _, v in pairs(t) do table.sort(v) end
  io.write(string.format("autoperf aggregate (%d cpus), median of 3: read in line %.2f s, read ahead %.2f s: %.2fx",
    ncpus, t.inline[2], t.ahead[2], t.inline[2] / t.ahead[2]))
  if vs then io.write(string.format("; %s: %.2f s, %.2fx the default's time", vs, t.vs[2], t.vs[2] / t.ahead[2])) end
  io.write("; results.csv ", same and "identical" or "DIFFERS", "\n")
end

if old then
  -- The Lua path as it was: its aggregate.lua and store.lua from git.
  local tmp = os.tmpname()
  local function old_module(file)
    assert(os.execute("git show c49aeef:lua/autoperf/" .. file .. " > " .. tmp))
    return assert(loadfile(tmp))()
  end
  local new_store = package.loaded["autoperf.store"]
  package.loaded["autoperf.store"] = old_module("store.lua")
  local old_aggregate = old_module("aggregate.lua")
  package.loaded["autoperf.store"] = new_store
  os.remove(tmp)
  local c = util.read_file(dir .. "/results.csv")
  bench("aggregate (Lua)", old_aggregate.aggregate)
  local l = util.read_file(dir .. "/results.csv")
  io.write(c == l and "results.csv identical\n" or "results.csv DIFFERS between C and Lua\n")
end
