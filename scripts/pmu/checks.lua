-- The real-PMU lane's checks, run by autoperf itself inside the arm64
-- guest (scripts/test-pmu): autoperf run checks.lua. The guest's kernel
-- drives QEMU's PMUv3 through armv8_pmuv3 (6 programmable counters and
-- the cycle counter) under -icount shift=0, so instruction counts are
-- exact. Prints "ok - ..." / "not ok - ..." per check and ends with
-- "N passed, N failed".
local ap = require "autoperf"
local capacity = require "autoperf.capacity"
local catalog = require "autoperf.catalog"
local core = require "autoperf.core"
local store = require "autoperf.store"
local util = require "autoperf.util"

local passed, failed = 0, 0

-- Did every run of profile dir count exactly one anchor besides
-- task-clock (the cycle counter's) and count it?
local function cycles_in_every_run(dir)
  local journal = (store.load(dir) or {}).journal or {}
  local ok = #journal > 0
  for _, e in ipairs(journal) do
    local n = 0
    for k, v in pairs(e.anchors or {}) do
      if k ~= "task-clock" and v > 0 then n = n + 1 end
    end
    ok = ok and n == 1
  end
  return ok
end

local function check(name, ok, detail)
  if ok then
    passed = passed + 1
    print("ok - " .. name)
  else
    failed = failed + 1
    print("not ok - " .. name .. (detail and (": " .. tostring(detail)) or ""))
  end
  io.stdout:flush()
end

-- Runs a check body; an error in it is a failed check, not a crash.
local function section(name, fn)
  local ok, err = pcall(fn)
  if not ok then check(name, false, err) end
end

local BIN = "autoperf"
local INSNS = ap.workload("insns") or "/usr/lib/autoperf/workloads/insns"

-- Runs a shell command; returns its output and whether it exited 0.
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok == true
end

-- A section (see section) and the time it took.
local function timed(name, section_name, fn)
  local t0 = core.now_ns()
  section(section_name, fn)
  print(string.format("# %s: %.1f s", name, (core.now_ns() - t0) / 1e9))
end

-- 15 distinct hardware configurations: 5 raw events x {u, k, both}; 3 of
-- them cycles (r11), which may take the cycle counter.
local RAW = { "r8", "r11", "r3", "r4", "r10" }
local EVENTS = {}
for _, e in ipairs(RAW) do
  for _, m in ipairs({ "", ":u", ":k" }) do EVENTS[#EVENTS + 1] = e .. m end
end
local SPEC = table.concat(EVENTS, ",")

local function manifest(dir)
  local m, err = store.load(dir)
  if not m then error(err) end
  return m.manifest or m
end

-- The events the profile in dir re-planned, one line each, and the check
-- (named what) that there is at least one.
local function replanned(dir, what)
  local rp = manifest(dir).replanned or {}
  for _, r in ipairs(rp) do
    print(string.format("# replanned %s from run %s to run %s: %s", r.name, r.from_run, tostring(r.to_run), r.why))
  end
  check(what, #rp > 0, #rp .. " replanned")
  return rp
end

-- autoperf profile (env and flags are prefixes, empty or ending in a
-- space) of the spec's events over n iterations of INSNS into dir; its
-- output echoed and its success checked (named what).
local function profile(env, flags, dir, spec, n, what)
  local out, ok = sh(env .. BIN .. " profile -q -I 0 " .. flags .. "--force -o " .. dir ..
    " -e " .. spec .. " -- " .. INSNS .. " " .. n)
  io.write(out)
  check(what, ok, out)
end

local function aggregate(dir)
  local out, ok = sh(BIN .. " aggregate " .. dir)
  check("autoperf aggregate succeeds", ok, out)
end

-- summary.csv: {name = status}
local function summary(dir)
  local out = {}
  local text = assert(util.read_file(dir .. "/summary.csv"))
  local first = true
  for line in text:gmatch("[^\n]+") do
    if not first then
      local name, _, status = line:match("^([^,]*),([^,]*),([^,]*)")
      out[name] = status
    end
    first = false
  end
  return out
end

-- Aggregates dir and checks (named what) that each of events has the
-- summary STATUS ok.
local function aggregate_all_ok(dir, events, what)
  aggregate(dir)
  local st = summary(dir)
  local bad = {}
  for _, ev in ipairs(events) do
    if st[ev] ~= "ok" then bad[#bad + 1] = ev .. "=" .. tostring(st[ev]) end
  end
  check(what, #bad == 0, table.concat(bad, " "))
end

print(string.format("# autoperf %s on %s, insns at %s", ap.version, core.ARCH, INSNS))

-- 1. Counter capacity, from the kernel.
timed("capacity", "capacity", function()
  local d, err = capacity.discover()
  check("the kernel has a hardware PMU (cycles open)", catalog.hardware_present())
  check("capacity probed: 6 generic counters", d and d.generic == 6, d and d.generic or err)
  check("capacity probed: 1 cycle counter", d and d.fixed == 1, d and d.fixed or err)
  local cat = assert(catalog.load({}))
  local evs = assert(catalog.select(cat, EVENTS))
  local counters, note = capacity.plan_counters(cat, evs, { env = {} })
  check("the planner takes the probed counters (no source has counter facts here)",
    counters and counters.cpu and counters.cpu.generic == 6 and counters.cpu.fixed == 1, note)
end)

-- 2. The plan: 15 events, 6 generic + 1 cycle counter -> 3 runs, at the
-- lower bound, and only cycles on the cycle counter.
timed("plan", "plan", function()
  -- without anchors: only cycles on the cycle counter
  local out, ok = sh(BIN .. " plan --json --anchor none -e " .. SPEC)
  local plan = ok and util.json_decode(out)
  check("autoperf plan runs", plan ~= nil, out)
  if not plan then return end
  check("15 events in 3 runs", #plan.runs == 3 and plan.events == 15, #plan.runs .. " runs")
  check("the plan reaches its lower bound", #plan.runs == plan.lower_bound,
    #plan.runs .. " runs, bound " .. tostring(plan.lower_bound))
  local function on_f0(p)
    local fixed_ok, n = true, 0
    for _, run in ipairs(p.runs) do
      for _, g in ipairs(run.groups) do
        for i, name in ipairs(g.events) do
          if (g.counters or {})[i] == "f0" then
            n = n + 1
            if not name:match("^r11") then fixed_ok = false end
          end
        end
      end
    end
    return fixed_ok, n
  end
  local fixed_ok, on_fixed = on_f0(plan)
  check("only cycles (r11) use the cycle counter", fixed_ok and on_fixed > 0, on_fixed .. " on f0")
  -- with the default anchors: the cycle counter is the cycles anchor's
  -- in every run, no planned event takes it, still 3 runs
  local aout, aok = sh(BIN .. " plan --json -e " .. SPEC)
  local ap_ = aok and util.json_decode(aout)
  local anchor_f0
  for _, g in ipairs(ap_ and ap_.anchors or {}) do
    for i, c in ipairs(g.counters or {}) do
      if c == "f0" then anchor_f0 = g.events[i] end
    end
  end
  local _, planned_f0 = on_f0(ap_ or { runs = {} })
  check("the cycle counter is an anchor's (cycles, in every run), no planned event's; 3 runs",
    anchor_f0 ~= nil and planned_f0 == 0 and ap_ and #ap_.runs == 3, tostring(anchor_f0) .. ", " ..
    planned_f0 .. " planned on f0")
  local csv = sh(BIN .. " plan --csv -e " .. SPEC)
  io.write(csv)
end)

-- 3. Profile them: 3 runs, everything counted the whole time.
timed("profile 15 events", "profile", function()
  local dir = "/tmp/p15"
  profile("", "", dir, SPEC, "0000200000", "autoperf profile of 15 hardware events succeeds")
  local m = manifest(dir)
  check("it took the minimal 3 runs", #m.plan.runs == 3 and m.plan.lower_bound == 3,
    #m.plan.runs .. " runs, bound " .. tostring(m.plan.lower_bound))
  check("nothing was re-planned", m.replanned == nil or #m.replanned == 0)
  check("every run counted the cycle counter's anchor", cycles_in_every_run(dir))
  aggregate_all_ok(dir, EVENTS, "every event counted the whole time (summary STATUS ok)")
end)

-- 4. Exact instruction counts under icount: r8:u of a 3-instruction loop.
timed("icount", "icount", function()
  local function count(n)
    local r, err = ap.measure({ INSNS, string.format("%010d", n) }, { events = { "r8:u" } })
    if not r then error(err) end
    return math.tointeger(r["r8:u"])
  end
  local base, c1, c2 = count(0), count(100000), count(1000000)
  print(string.format("# r8:u: N=0 %d, N=100000 %d, N=1000000 %d", base, c1, c2))
  check("the baseline (startup, N=0) is small and non-zero", base > 0 and base < 200000, base)
  check("N=100000 retires exactly 3 instructions per iteration over the baseline",
    c1 - base == 3 * 100000, c1 - base)
  check("N=1000000 retires exactly 3 instructions per iteration over the baseline",
    c2 - base == 3 * 1000000, c2 - base)
end)

-- 5. An over-full plan (AUTOPERF_COUNTERS claims 8 generic counters) is
-- caught (refused at open, or not counted the whole time) and re-measured.
timed("over-full plan", "over-full", function()
  local dir = "/tmp/p8"
  profile("AUTOPERF_COUNTERS=cpu:8 ", "", dir, SPEC, "0000200000",
    "autoperf profile with AUTOPERF_COUNTERS=cpu:8 succeeds")
  local rp = replanned(dir, "the over-full groups were detected and re-planned")
  local moved = true
  for _, r in ipairs(rp) do moved = moved and r.to_run ~= nil end
  check("every re-planned event got a run of its own", moved)
  aggregate_all_ok(dir, EVENTS, "every event ends up counted the whole time")
end)

-- 6. The kernel quirk: with --delay the leader is created disabled
-- without enable_on_exec, arm64 then leaves it out of the group's check at
-- open, and an over-full group opens but is never scheduled. That must be
-- caught by the verification (running < enabled), never reported as
-- counted.
timed("over-full group opened disabled", "quirk", function()
  local dir = "/tmp/p7"
  local spec = "r8,r8:u,r8:k,r3,r3:u,r3:k,r4"
  profile("AUTOPERF_COUNTERS=cpu:7 ", "--delay 1 ", dir, spec, "0002000000",
    "autoperf profile --delay of an over-full group completes")
  replanned(dir, "the group that was never scheduled is caught and re-planned")
  sh(BIN .. " aggregate " .. dir)
  local text = assert(util.read_file(dir .. "/summary.csv"))
  local honest, seen = true, 0
  for line in text:gmatch("[^\n]+") do
    local f = util.split(line, ",")
    if f[1] ~= "EVENT_NAME" then
      seen = seen + 1
      print("# " .. line)
      if f[3] == "ok" and f[9] ~= f[10] then honest = false end
    end
  end
  check("no event is reported ok unless time_enabled == time_running", honest and seen == 7, seen .. " events")
  local all_ok = true
  for line in text:gmatch("[^\n]+") do
    local f = util.split(line, ",")
    if f[1] ~= "EVENT_NAME" and f[3] ~= "ok" then all_ok = false end
  end
  check("re-measured alone, every event ends up counted the whole time", all_ok, text)
end)

-- 7. Every event the PMU offers (the PMUv3 events sysfs lists, named by
-- the kernel's pmu-events JSON), each also user- and kernel-only, in one
-- profile, at the lower bound: one cycles event per run on the cycle
-- counter, the rest 6 to a run.
timed("every PMUv3 event", "every event", function()
  local cat = assert(catalog.load({}))
  for _, note in ipairs(cat.skipped) do
    -- no tables installed (make had no linux-source-6.12): say so, once
    if note:match("^arm64 event names:") then
      print("ok - every PMUv3 event # SKIP " .. note)
      return
    end
  end
  local names, sysfs = {}, 0
  for _, ev in ipairs(cat.events) do
    if ev.source == "kernel-json" and ev.pmu == "cpu" then names[#names + 1] = ev.name end
  end
  for _, p in ipairs(cat.pmus) do
    if p.name:match("^armv8_") then sysfs = sysfs + #p.events end
  end
  print(string.format("# %d PMUv3 events in sysfs, %d named by the kernel's JSON", sysfs, #names))
  print("# " .. table.concat(names, " "))
  check("the catalog offers every PMUv3 event sysfs lists", #names > 0 and #names == sysfs,
    #names .. " of " .. sysfs)
  check("named by common-and-microarch.json (CPU_CYCLES, INST_RETIRED)",
    cat.by_name.CPU_CYCLES ~= nil and cat.by_name.INST_RETIRED ~= nil)
  local sout, sok = sh(BIN .. " stats")
  io.write(sout)
  check("autoperf stats counts the PMUv3 events the arm64 rules apply to",
    sok and sout:match("arm64%.cycle%s+1 ") ~= nil and sout:match("arm64%.visible%s+" .. #names .. " ") ~= nil, sout)
  -- each event as it is, user-only and kernel-only: three configurations
  local arm64 = require("autoperf.pmu.arm64")
  local cycle_rule
  for _, r in ipairs(arm64.RULES) do
    if r.id == "arm64.cycle" then cycle_rule = r end
  end
  local cycles, configs = 0, {}
  for _, n in ipairs(names) do
    for _, mod in ipairs({ "", ":u", ":k" }) do configs[#configs + 1] = n .. mod end
    if cycle_rule.applies(cat.by_name[n]) then cycles = cycles + 3 end
  end
  -- the lower bound: the cycle counter takes one cycles event per run
  -- (armv8pmu_get_event_idx), the 6 generic counters the rest
  local bound = 1
  while 6 * bound + math.min(bound, cycles) < #configs do bound = bound + 1 end
  names = configs
  local spec = table.concat(names, ",")
  local pout, pok = sh(BIN .. " plan --json -e " .. spec)
  local pj = pok and util.json_decode(pout)
  check("autoperf plan of every PMUv3 event runs", pj ~= nil, pout)
  if pj then
    print(string.format("# plan: %d events, %d runs, lower bound %d, planned in %.2f ms",
      pj.events, #pj.runs, pj.lower_bound, pj.planning_ms))
  end
  local dir = "/tmp/pall"
  local t0 = core.now_ns()
  local out, ok = sh(BIN .. " profile -q -I 0 --force -o " .. dir .. " -e " .. spec .. " -- " .. INSNS .. " 0000200000")
  print(string.format("# profile of %d events: %.1f s", #names, (core.now_ns() - t0) / 1e9))
  io.write(out)
  check("autoperf profile of every PMUv3 event succeeds", ok, out)
  local m = manifest(dir)
  print(string.format("# profile: %d events, %d runs, lower bound %s, expected %d", #names,
    #m.plan.runs, tostring(m.plan.lower_bound), bound))
  check("at the lower bound: 6 generic counters and the cycle counter (cycles only) per run",
    #m.plan.runs == bound and m.plan.lower_bound == bound, #m.plan.runs .. " runs, bound " .. bound)
  check("nothing was re-planned", m.replanned == nil or #m.replanned == 0)
  check("every run counted the cycle counter's anchor", cycles_in_every_run(dir))
  aggregate_all_ok(dir, names, "every PMUv3 event counted the whole time")
end)


-- 5. Metrics from the guest's PMU: the bundled arm64 file's IPC and the
-- rest, planned with --metrics, checked against the counts of the same
-- run file computed by hand.
timed("metrics", "metrics", function()
  local dir = "/tmp/pmetrics"
  local out, ok = sh(BIN .. " profile -q -I 0 --force -o " .. dir .. " --metrics arm64 -- " .. INSNS .. " 0000200000")
  check("autoperf profile --metrics arm64 succeeds", ok, out)
  local res, err = ap.metrics(dir, { file = "arm64" })
  check("ap.metrics computes the arm64 metrics", res ~= nil, err)
  if not res then return end
  local by = {}
  for _, m in ipairs(res.metrics) do by[m.name] = m end
  local r = assert(ap.read(dir))
  local inst, cyc, tc = r.INST_RETIRED, r.CPU_CYCLES, r["task-clock"]
  print(string.format("# INST_RETIRED %s CPU_CYCLES %s task-clock %s ipc %s", tostring(inst), tostring(cyc),
    tostring(tc), tostring(by.ipc and by.ipc.value)))
  check("IPC is INST_RETIRED / CPU_CYCLES of the run files, exactly",
    inst and cyc and by.ipc and by.ipc.value == inst / cyc, by.ipc and by.ipc.status)
  check("CPI is CPU_CYCLES / INST_RETIRED, exactly", by.cpi and by.cpi.value == cyc / inst)
  check("IPC and CPI were each counted in one run (co-scheduled)",
    by.ipc and not by.ipc.several_runs and by.cpi and not by.cpi.several_runs)
  local journal = store.load(dir).journal
  local elapsed
  for _, e in ipairs(journal) do elapsed = elapsed or e.elapsed_ns end
  check("instructions per second divides by the run's wall-clock time",
    by.instructions_per_second and elapsed and by.instructions_per_second.value == inst / (elapsed / 1e9))
  check("the metrics are not labelled simulated (a real kernel PMU)", not res.simulated)
end)

print(string.format("%d passed, %d failed", passed, failed))
