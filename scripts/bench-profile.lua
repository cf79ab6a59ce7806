-- make bench-profile: autoperf against perf stat on the same events, in
-- the same run, and the slowdown profiling costs a CPU-bound workload.
--   autoperf run scripts/bench-profile.lua [EVENTS]
-- EVENTS: an event spec (default: every event measurable here). With all
-- ~2300 tracepoints perf stat takes minutes per run (closing tracepoint
-- events costs the kernel ~35 ms each): the whole benchmark takes ~15 min.
local core = require "autoperf.core"
local spec = ... or "all"
local top = arg[0]:gsub("scripts/bench%-profile%.lua$", "")
local B = dofile(top .. "scripts/bench_common.lua")
local bin = B.bin(top)
local spin = top .. "build/workloads/spin"
local tmp = os.getenv("TMPDIR") or "/tmp"
local sh, settle = B.sh, B.settle

if not B.need_perf("bench-profile") then return 1 end
local list = tmp .. "/autoperf-bench-events"
print(string.format("events: %d (%s)", B.event_list(spec, list), spec))

local out = tmp .. "/autoperf-bench-out"
local rows = {}
for _, reps in ipairs({ 1, 5 }) do
  settle()
  local perf_s = sh(string.format("perf stat -r %d -e \"$(cat %s)\" -o /dev/null -- true", reps, list))
  settle()
  local ap_s = sh(string.format("%s profile -q --force -o %s -r %d -e \"$(cat %s)\" -- true", bin, out, reps, list))
  rows[#rows + 1] = string.format("profile of 'true', %d repetition%s: perf stat %.2f s, autoperf %.2f s: %.0fx faster",
    reps, reps == 1 and "" or "s", perf_s, ap_s, perf_s / ap_s)
  print(rows[#rows])
end

-- Slowdown of a CPU-bound workload: the loop's own wall time (spin prints
-- it), so the profiler's start-up and deferred teardown are not counted.
-- Alone and profiled runs alternate; the fastest of 5 each (this guest's
-- scheduling noise only ever adds time).
local function loop_time(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local s = p:read("a")
  p:close()
  return assert(tonumber(s:match("^([%d.]+)\n")), "spin printed no time: " .. s)
end
local SPIN = spin .. " 2000"
for _, ms in ipairs({ 100, 10 }) do
  local alone, under = {}, {}
  for i = 1, 5 do
    settle()
    alone[i] = loop_time(SPIN)
    under[i] = loop_time(string.format("%s profile -q --force -o %s -I %d -e \"$(cat %s)\" -- %s",
      bin, out, ms, list, SPIN))
  end
  table.sort(alone)
  table.sort(under)
  local a, u = alone[1], under[1]
  rows[#rows + 1] = string.format("CPU-bound loop, every event sampled every %d ms: %.3f s vs %.3f s alone: %+.2f%%",
    ms, u, a, (u / a - 1) * 100)
  print(rows[#rows])
end
os.execute("rm -rf " .. out .. " " .. list)
