-- make bench-perturbation: how much measuring disturbs the workload, and
-- whether the sampler keeps its schedule, with every event this machine
-- counts (here: software events and tracepoints), in one run:
--   a thread-heavy workload (threads 2048 64 1000, 5 times: 320 threads)
--   and a CPU-bound loop (spin 2000), alone, under autoperf (per task, in
--   a cgroup per CPU, and -a) and under perf stat on the same events; the
--   workload's own time (it prints it: the profilers' set-up and teardown
--   are left out: perf stat takes minutes to close 2300 tracepoints);
--   per autoperf run, the sampler's lateness: each interval's timestamp
--   against its deadline (k x interval): median, p99, max, and how many
--   intervals were recorded.
-- Each cell: the median of REPS (default 3).
-- Run with: autoperf run scripts/bench-perturbation.lua [REPS [threads|spin]]
--   (make bench-perturbation BENCH_REPS=3 BENCH_ONLY=spin): one workload's
--   rows only; the whole table takes over 40 minutes here, most of it
--   perf stat and the kernel closing 2300 tracepoints per CPU
local core = require "autoperf.core"
local store = require "autoperf.store"

local reps_arg, only = ...
local reps = math.max(1, math.tointeger(tonumber(reps_arg) or 3) or 3)
if only and only ~= "" and only ~= "threads" and only ~= "spin" then
  io.stderr:write("bench-perturbation: the workload is threads or spin, not '", only, "'\n")
  return 2
end
local top = arg[0]:gsub("scripts/bench%-perturbation%.lua$", "")
local B = dofile(top .. "scripts/bench_common.lua")
local bin = B.bin(top)
local wl = top .. "build/workloads"
if not B.need_perf("bench-perturbation") then return 1 end

local tmp = assert(core.mkdtemp((os.getenv("TMPDIR") or "/tmp") .. "/autoperf-perturb.XXXXXX"))
local list = tmp .. "/events"
local nevents = B.event_list("all", list)

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function median(t)
  local s = { table.unpack(t) }
  table.sort(s)
  return s[(#s + 1) // 2]
end

-- cmd prints its own elapsed ns last; returns seconds
local function own_time(cmd)
  B.settle()
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = p:read("a")
  p:close()
  local ns = out:match("(%d+)%s*$")
  return assert(tonumber(ns), "no time printed by: " .. cmd) / 1e9
end

-- A workload wrapped so that it prints its elapsed ns.
local function wrapped(body)
  return "sh -c " .. q("t0=$(date +%s%N); " .. body .. "; t1=$(date +%s%N); echo $((t1 - t0))")
end

-- The sampler's timeliness in a profile, from its journal (the runner
-- records each run's: samples, ticks skipped, lateness median/p99/max):
-- the worst run's figures (and over the repetitions, the worst).
local function lateness(dir)
  local s = store.load(dir)
  local w
  for _, e in ipairs(s and s.journal or {}) do
    local sp = e.sampler
    if sp and (not w or sp.late_ms.p99 > w.late_ms.p99) then w = sp end
  end
  return w
end

local workloads = {
  { name = "threads 2048 64 1000, 5x (320 threads)",
    body = string.format("for i in 1 2 3 4 5; do %s/threads 2048 64 1000; done", wl), intervals = { 100, 10 } },
  { name = "spin 2000 (CPU-bound loop)", body = wl .. "/spin 2000 >/dev/null", intervals = { 100 } },
}
local modes = { { "autoperf --counting task (inherited)", "--counting task" },
  { "autoperf --counting cgroup (per CPU)", "--counting cgroup" }, { "autoperf -a (every task, per CPU)", "-a" } }

print(string.format("bench-perturbation: %d events (software events and tracepoints%s), median of %d", nevents,
  " when there is no hardware PMU", reps))
local fmt = "%-40s %-38s %5s %9s %8s %34s"
print(string.format(fmt, "workload", "measured by", "-I", "own s", "x alone", "late ms: med/p99/max (samples)"))
local out = tmp .. "/profile"
for _, w in ipairs(workloads) do
  if only and only ~= "" and not w.name:find("^" .. only) then goto next end
  local cmd = wrapped(w.body)
  local alone = {}
  for i = 1, reps do alone[i] = own_time(cmd) end
  local base = median(alone)
  print(string.format(fmt, w.name, "nothing (alone)", "-", string.format("%.3f", base), "1.00", "-"))
  for _, iv in ipairs(w.intervals) do
    for _, m in ipairs(modes) do
      local t, late = {}, nil
      for i = 1, reps do
        t[i] = own_time(string.format("%s profile -q --force %s -I %d -o %s -e \"$(cat %s)\" -- %s", bin, m[2], iv,
          q(out), q(list), cmd))
        local l = lateness(out)
        if l and (not late or l.late_ms.p99 > late.late_ms.p99) then late = l end
      end
      local s = median(t)
      print(string.format(fmt, w.name, m[1], iv, string.format("%.3f", s), string.format("%.2f", s / base),
        late and string.format("%.1f/%.1f/%.1f (%d, %d skipped)", late.late_ms.median, late.late_ms.p99,
          late.late_ms.max, late.samples, late.skipped) or "-"))
    end
    local t = {}
    for i = 1, reps do
      t[i] = own_time(string.format("perf stat -x, -o /dev/null -I %d -e \"$(cat %s)\" -- %s", iv, q(list), cmd))
    end
    local s = median(t)
    print(string.format(fmt, w.name, "perf stat (same events)", iv, string.format("%.3f", s),
      string.format("%.2f", s / base), "-"))
  end
  ::next::
end
os.execute("rm -rf " .. q(tmp))
