-- make bench-analysis: autoperf's aggregate and correlation against the
-- same computations in pandas (scripts/bench_pandas.py, Debian's
-- python3-pandas), on the same synthetic profile (lua/autoperf/synth.lua),
-- in one run. Each side runs as its own process under /usr/bin/time
-- (wall time and peak RSS).
-- Run with: autoperf run scripts/bench-analysis.lua [EVENTS INTERVALS CPUS RUNS]
--   defaults 2000 1000 2 10 (40M rows); profiles kept in /tmp between runs.
local core = require "autoperf.core"
local synth = require "autoperf.synth"
local util = require "autoperf.util"
local series = require "autoperf.analyze.series"

local args = { ... }
local events = math.tointeger(tonumber(args[1] or 2000))
local intervals = math.tointeger(tonumber(args[2] or 1000))
local cpus = math.tointeger(tonumber(args[3] or 2))
local runs = math.tointeger(tonumber(args[4] or 10))
local big = "/tmp/autoperf-bench-analysis"
local one = "/tmp/autoperf-bench-analysis-1"
local out = "/tmp/autoperf-bench-analysis-out"
local self = arg and arg[-1] or "./autoperf"
local python = "/usr/bin/python3"
if not util.exists(python) then
  io.stderr:write("bench-analysis: needs " .. python .. " with pandas (scripts/bootstrap --bench)\n")
  os.exit(1)
end
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "scripts"

local function q(s) return util.shell_join({ tostring(s) }) end

local function ensure(dir, r)
  io.write(string.format("profile %s: %d events x %d intervals x %d CPUs x %d run%s ... ", dir, events,
    intervals, cpus, r, r == 1 and "" or "s"))
  io.flush()
  local made, err = synth.ensure(dir, events, intervals, cpus, r, 1)
  if made == nil then error(err) end
  print(made and "generated" or "reused")
end

-- Runs cmd under /usr/bin/time: stdout, seconds, peak RSS in MB.
local function timed(cmd)
  os.execute("sync")
  local tf = os.tmpname()
  local p = io.popen(string.format("/usr/bin/time -f '%%e %%M' -o %s %s", q(tf), cmd))
  local stdout = p:read("a")
  local ok = p:close()
  local t = util.read_file(tf) or ""
  os.remove(tf)
  local s, kb = t:match("([%d.]+) (%d+)%s*$")
  if not ok or not s then error("failed: " .. cmd .. "\n" .. stdout .. t) end
  return stdout, tonumber(s), tonumber(kb) / 1024
end

-- Rows and the sum of SAMPLE_VALUE of a results.csv (awk: quoted names
-- hold commas, so count from the end of the line).
local function check(path)
  local p = io.popen("awk -F, 'NR > 1 { n++; s += $NF } END { printf \"%d %.0f\", n, s }' " .. q(path))
  local n, s = p:read("a"):match("(%d+) (%d+)")
  p:close()
  return tonumber(n), s
end

ensure(big, runs)
ensure(one, 1)
util.mkdirs(out)

print("\naggregate (results.csv with the original's columns)")
local _, at, am = timed(string.format("%s aggregate %s -o %s", q(self), q(big), q(out .. "/autoperf.csv")))
local pj, pt, pm = timed(string.format("%s %s/bench_pandas.py aggregate %s %s", python, q(here), q(big),
  q(out .. "/pandas.csv")))
local an, as = check(out .. "/autoperf.csv")
local pn, ps = check(out .. "/pandas.csv")
assert(an == pn and as == ps, string.format("results differ: autoperf %s rows (sum %s), pandas %s rows (sum %s)",
  an, as, pn, ps))
print(string.format("  %-10s %8.2f s %10.0f MB peak RSS   %s rows, %.1f M rows/s", "autoperf", at, am, an, an / at / 1e6))
print(string.format("  %-10s %8.2f s %10.0f MB peak RSS   %s rows, %.1f M rows/s", "pandas", pt, pm, pn, pn / pt / 1e6))
print(string.format("  autoperf is %.1fx faster, with %.1fx less memory; same rows and sum of SAMPLE_VALUE (%s)",
  pt / at, pm / am, as))
assert(pj)
os.remove(out .. "/autoperf.csv")
os.remove(out .. "/pandas.csv")

print(string.format("\ncorrelation of every event's series (%d samples, one run)", intervals))
local ao, ct, cm = timed(string.format("%s analyze correlation %s -o %s --top 3", q(self), q(one), q(out)))
local pjs, cpt, cpm = timed(string.format("%s %s/bench_pandas.py correlation %s", python, q(here), q(one)))
local pr = util.json_decode(pjs)
-- the kernel alone, on one core, in this process
local ds = assert(series.load(one))
local layout = series.layout(ds, ds.names)
local m = assert(series.matrix(ds, ds.names, layout))
local c0 = os.clock()
local R = assert(core.correlation(m, "pearson"))
local kernel = os.clock() - c0
local n = ao:match("correlation of (%d+) events")
print(string.format("  %-10s %8.2f s %10.0f MB peak RSS   end to end (read, correlate, CSV, heatmap): %s events",
  "autoperf", ct, cm, n))
print(string.format("  %-10s %8.2f s %10.0f MB peak RSS   end to end (read, correlate): %d events", "pandas",
  cpt, cpm, pr.events))
print(string.format("  kernel alone: autoperf %.3f s (one core, cpu time) for %dx%d from %d samples; " ..
  "pandas DataFrame.corr() %.3f s", kernel, R:rows(), R:cols(), layout.length, pr.corr_seconds))
print(string.format("  end to end autoperf is %.1fx faster; the kernel %.1fx", cpt / ct, pr.corr_seconds / kernel))
