-- Counting that does not disturb: cgroup counting (the workload in a cgroup of its own, counted per CPU
-- through cgroup events (no per-thread copies of the counters), only its
-- own tasks; the cgroup gone after the run, also after kill -9. As an
-- unprivileged user: per task, said why; --counting cgroup refused.
local T = require "spec.support"
local core = require "autoperf.core"

local function manifest(dir) return T.json(dir .. "/manifest.json") end

-- autoperf-PID-N cgroups left in the cgroup home by an autoperf that is
-- gone (those of a live one, another test's say, are in use)
local function leftovers()
  local home = core.cgroup_home()
  local out = {}
  for _, e in ipairs(home and core.listdir(home) or {}) do
    local pid = e.name:match("^autoperf%-(%d+)%-%d+$")
    if pid and not io.open("/proc/" .. pid .. "/stat") then out[#out + 1] = e.name end
  end
  return out
end

-- Can this user count per CPU in a cgroup here (what auto picks)?
local function cgroups_here()
  local cg = core.cgroup()
  if not cg then return false end
  cg:close()
  return require("autoperf.machine").access().system_wide
end

describe("cgroup counting", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("is what a profile uses where allowed: per CPU, only the workload's tasks, exact", function()
    if not cgroups_here() then return pending("no cgroup counting for this user here") end
    if not T.tracefs then return pending(T.no_tracefs) end
    -- a writer outside the workload, busy all along: not counted
    local noise = T.sh("sh -c 'while :; do echo x; done > /dev/null' & echo $!")
    finally(function() T.sh("kill " .. tonumber(noise)) end)
    local out = dir .. "/w"
    -- the workload's children are its cgroup's too
    local _, err, code = T.autoperf("profile", "-o", out, "-e", "syscalls:sys_enter_write,task-clock", "--",
      "sh", "-c", string.format("%s 1000 & %s 2000; wait", T.workload("writes"), T.workload("writes")))
    assert.equal(0, code, err)
    assert.matches("counted per CPU, the tasks of the workload's own cgroup", err)
    local m = manifest(out)
    assert.equal("cgroup", m.counting.mode)
    assert.equal(0, select(3, T.autoperf("aggregate", out)))
    assert.equal(3000, T.event_total(out .. "/results.csv", "syscalls:sys_enter_write"))
    -- rows per CPU, none per task
    local cpus = {}
    for i, row in ipairs(T.csv(out .. "/results.csv")) do
      if i > 1 then
        assert.truthy(row[6]:match("^%d+$"), "a row without a CPU: " .. table.concat(row, ","))
        cpus[row[6]] = true
      end
    end
    assert.truthy(next(cpus))
    assert.same({}, leftovers())
  end)

  it("removes the cgroup and the workload's tree when autoperf is killed with SIGKILL", function()
    if not cgroups_here() then return pending("no cgroup counting for this user here") end
    local out = dir .. "/k"
    local marker = "autoperf-cgroup-spec-" .. tostring(math.random(1e9))
    T.sh(string.format("%s profile -q -o %s -e task-clock -- sh -c 'sleep 30; : %s' & pid=$!; sleep 1; kill -9 $pid",
      T.quote(T.bin), T.quote(out), marker))
    local left
    for _ = 1, 100 do
      left = T.procs(function(p) return p.cmdline:find(marker, 1, true) ~= nil end)
      if #left == 0 and #leftovers() == 0 then break end
      T.sh("sleep 0.05")
    end
    assert.same({}, left)
    assert.same({}, leftovers())
  end)

  it("removes cgroups an autoperf left when its keeper was killed too", function()
    if not cgroups_here() then return pending("no cgroup counting for this user here") end
    local home = assert(core.cgroup_home())
    local pid = 4000000 -- above pid_max's default: never alive
    while io.open("/proc/" .. pid .. "/stat") do pid = pid + 1 end
    local stale = string.format("%s/autoperf-%d-1", home, pid)
    assert(core.mkdir(stale))
    finally(function() os.remove(stale) end)
    local _, err, code = T.autoperf("profile", "-q", "-o", dir .. "/s", "-e", "task-clock", "--", "true")
    assert.equal(0, code, err)
    assert.is_nil(io.open(stale .. "/cgroup.procs"))
  end)

  it("falls back to per task with the reason, and --counting cgroup refuses, where not allowed", function()
    local out = dir .. "/t"
    local _, err, code = T.autoperf("profile", "-o", out, "-e", "task-clock", "--counting", "task", "--", "true")
    assert.equal(0, code, err)
    assert.equal("task", manifest(out).counting.mode)
    assert.matches("counted per task, inherited by every thread", err)
    if cgroups_here() then
      -- the simulator counts per task: auto falls back and says why
      _, err, code = T.autoperf("profile", "-o", out .. "2", "--pmu", "sim:skl", "-e", "task-clock", "--", "true")
      assert.equal(0, code, err)
      local c = manifest(out .. "2").counting
      assert.same({ "task", "the simulated PMU counts per task" }, { c.mode, c.why })
      return
    end
    _, err, code = T.autoperf("profile", "-o", out .. "2", "-e", "task-clock", "--", "true")
    assert.equal(0, code, err)
    local c = manifest(out .. "2").counting
    assert.equal("task", c.mode)
    assert.truthy(c.why and #c.why > 0)
    _, err, code = T.autoperf("profile", "-o", out .. "3", "-e", "task-clock", "--counting", "cgroup", "--", "true")
    assert.equal(1, code)
    assert.matches("^autoperf: %-%-counting cgroup: ", err)
    assert.equal(1, #T.lines(err), err)
  end)
end)

describe("the sampler", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("samples on its schedule, never early, and the journal says how late", function()
    local out = dir .. "/s"
    local _, err, code = T.autoperf("profile", "-o", out, "-I", "20", "-e", "task-clock", "--", "sleep", "0.5")
    assert.equal(0, code, err)
    assert.matches("sampler: %d+ samples, late by [%d.]+ ms median, [%d.]+ ms p99, [%d.]+ ms max", err)
    local entry = T.journal(out)[1]
    local sp = entry.sampler
    assert.truthy(sp and sp.samples > 0 and sp.skipped >= 0, err)
    assert.truthy(sp.late_ms.median >= 0 and sp.late_ms.median <= sp.late_ms.p99 and sp.late_ms.p99 <= sp.late_ms.max)
    -- the interval samples and the last one (at the workload's end) are the run file's indices
    local times = {}
    for _, l in ipairs(T.gz_lines(out .. "/run-001-01.csv.gz")) do
      local idx, t = l:match("^(%d+),(%d+),")
      if idx then times[tonumber(idx) + 1] = tonumber(t) end
    end
    assert.equal(sp.samples + 1, #times)
    -- with no tick skipped, sample k is due at k x 20 ms and never comes before
    if sp.skipped == 0 then
      for k = 1, sp.samples do assert.truthy(times[k] >= k * 20000000, "sample " .. k .. " early: " .. times[k]) end
    end
  end)

  it("waits real-time where it may, and the workload never inherits it", function()
    -- /proc/PID/stat of the workload's own child: nice (field 19),
    -- rt_priority (40), policy (41: 0 is SCHED_OTHER)
    local out, f = dir .. "/rt", dir .. "/stat"
    local _, err, code = T.autoperf("profile", "-o", out, "-I", "10", "-e", "task-clock", "--", "sh", "-c",
      "sleep 0.2; cat /proc/self/stat > " .. f)
    assert.equal(0, code, err)
    local stat = assert(io.open(f)):read("a")
    local fields = {}
    for x in stat:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = x end
    -- (fields after the command's name start at field 3)
    local nice, rtprio, policy = tonumber(fields[17]), tonumber(fields[38]), tonumber(fields[39])
    assert.same({ core.nice(), 0, 0 }, { nice, rtprio, policy }, stat)
    local sp = T.journal(out)[1].sampler
    local may = core.realtime() == "other" and core.realtime(1)
    if may then core.realtime(0) end
    if may then
      assert.equal("SCHED_FIFO 1", sp.priority)
      assert.matches("waited and read at SCHED_FIFO 1", err)
    else
      assert.is_not.equal("SCHED_FIFO 1", sp.priority)
    end
  end)
end)
