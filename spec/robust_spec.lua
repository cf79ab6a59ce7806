-- Failure modes of profile: each checks the message, the exit code, and
-- that no process of the workload is left behind; and fault injection:
-- autoperf killed with SIGKILL at random moments, then resumed.
local T = require "spec.support"

local lines = T.lines

-- Processes whose command line contains marker (a unique sleep length),
-- autoperf's own left out (from /proc: a minimal Debian has no ps);
-- only those named comm when given.
local function left(marker, comm)
  return #T.procs(function(p)
    return p.cmdline:find(marker, 1, true) ~= nil and not p.cmdline:find("autoperf", 1, true)
      and (not comm or p.comm == comm)
  end)
end

-- A sleep length of this spec run's own (these digits and our pid): specs
-- of other trees may run at the same time on this machine, with the same
-- sleeps, and theirs are not ours to count.
local PID = T.slurp("/proc/self/stat"):match("^%d+")
local function marker(base)
  return base .. PID
end

-- Polls (bounded: 5 s) until left(marker[, comm]) is at least (or, with
-- most, at most) n; returns the last count.
local function await(marker, n, most, comm)
  local c
  for _ = 1, 250 do
    c = left(marker, comm)
    if (most and c <= n) or (not most and c >= n) then break end
    T.sh("sleep 0.02")
  end
  return c
end

-- A workload whose tree leaves its process group and session: sleeps
-- that setsid, one double-forked (reparented away from the workload),
-- one in a new session that forks again, and a plain one in the group.
local function escaping_tree(marker, finish)
  local s = "sleep " .. marker
  return string.format("setsid %s & (setsid sh -c '%s & %s' &); (%s &); %s", s, s, s, s, finish or s)
end

local journal = T.journal

describe("profile failure modes", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("kills a hung workload's whole process group at --timeout", function()
    local out = dir .. "/t"
    local _, err, code = T.autoperf("profile", "-q", "-o", out, "-e", "task-clock", "--timeout", "0.3",
      "--", "sh", "-c", escaping_tree(marker("30.101")))
    assert.equal(124, code)
    assert.matches("timed out", err)
    assert.equal(1, #lines(err))
    assert.is_true(journal(out)[1].timed_out)
    assert.equal(0, await(marker("30.101"), 0, true))
  end)

  it("leaves nothing of the workload's tree when it exits, not even what left its session", function()
    local out = dir .. "/e"
    local _, err, code = T.autoperf("profile", "-q", "-o", out, "-e", "task-clock", "-I", "0",
      "--", "sh", "-c", escaping_tree(marker("30.111"), "sleep 0.2"))
    assert.equal(0, code, err)
    assert.equal(0, await(marker("30.111"), 0, true))
  end)

  for _, sig in ipairs({ "KILL", "TERM", "INT" }) do
    it("leaves nothing of the workload's tree when autoperf is killed by SIG" .. sig .. " mid-run", function()
      local out, mark = dir .. "/k", marker("30.12" .. #sig)
      local pid = tonumber((T.sh(string.format(
        "%s profile -q -o %s -e task-clock -I 10 -- sh -c %s >/dev/null 2>&1 & echo $!",
        T.quote(T.bin), T.quote(out), T.quote(escaping_tree(mark))))))
      assert.is_number(pid)
      -- all five sleeps run
      assert.equal(5, await(mark, 5, false, "sleep"))
      T.sh("kill -" .. sig .. " " .. pid)
      assert.equal(0, await(mark, 0, true))
      for _ = 1, 250 do
        if not T.state(pid) or T.state(pid) == "Z" then break end
        T.sh("sleep 0.02")
      end
    end)
  end

  it("contains a fork bomb by killing its process group", function()
    local out = dir .. "/b"
    -- a bounded bomb: 2^6 processes forking while being killed
    local _, err, code = T.autoperf("profile", "-q", "-o", out, "-e", "task-clock", "--timeout", "0.5", "--",
      "sh", "-c", "b() { if [ $1 -gt 0 ]; then b $(($1-1)) & b $(($1-1)) & fi; sleep " .. marker("30.202") .. "; }; b 6")
    assert.equal(124, code, err)
    assert.matches("timed out", err)
    assert.equal(0, left(marker("30.202")))
  end)

  it("records a non-zero exit and goes on, or stops with --fail-fast", function()
    local out = dir .. "/n"
    local _, err, code = T.autoperf("profile", "-q", "-o", out, "-e", "task-clock", "-r", "3", "--", "false")
    assert.equal(1, code)
    assert.matches("failed in 3 runs", err)
    local j = journal(out)
    assert.equal(3, #j)
    assert.equal(1, j[3].exit_code)
    local ff = dir .. "/ff"
    _, err, code = T.autoperf("profile", "-q", "-o", ff, "-e", "task-clock", "-r", "3", "--fail-fast", "--", "false")
    assert.equal(1, code)
    assert.matches("%-%-fail%-fast", err)
    assert.equal(1, #lines(err))
    assert.equal(1, #journal(ff))
  end)

  it("reports a crash with its signal and leaves no child behind", function()
    local out = dir .. "/c"
    local _, err, code = T.autoperf("profile", "-q", "-o", out, "-e", "task-clock", "--",
      "sh", "-c", "sleep " .. marker("30.303") .. " & kill -ABRT $$")
    assert.equal(128 + 6, code)
    assert.matches("killed by SIGABRT", err)
    assert.equal(0, left(marker("30.303")))
  end)

  for _, sig in ipairs({ { "INT", 2 }, { "TERM", 15 } }) do
    it("stops within a second on SIG" .. sig[1] .. ", keeps completed runs, and resumes", function()
      local out = dir .. "/i"
      local args = string.format("%s profile -q -o %s -e task-clock -r 3 -- sleep %s", T.quote(T.bin), T.quote(out),
        marker("0.404"))
      -- interrupt during the second repetition: once the first is in the
      -- journal (polled: a loaded machine starts the workload late)
      local script = string.format(
        "%s & pid=$!; n=0; while [ ! -s %s/journal.jsonl ] && [ $n -lt 600 ]; do sleep 0.02; n=$((n+1)); done; " ..
        "sleep 0.1; start=$(date +%%s%%N); kill -%s $pid; wait $pid; rc=$?; " ..
        "echo rc=$rc ms=$(( ($(date +%%s%%N) - start) / 1000000 ))", args, T.quote(out), sig[1])
      local stdout, err = T.sh(script)
      local rc, ms = stdout:match("rc=(%d+) ms=(%d+)")
      assert.equal(128 + sig[2], tonumber(rc), err)
      assert.truthy(tonumber(ms) < 1000, "took " .. ms .. " ms to stop")
      assert.matches("interrupted", err)
      assert.equal(0, left(marker("0.404")))
      assert.equal(1, #journal(out))
      local _, e2, c2 = T.sh((args:gsub(" %-q ", " ")))
      assert.equal(0, c2, e2)
      assert.matches("1 resumed", e2)
      assert.equal(3, #journal(out))
    end)
  end

  it("counts only the region of interest with --roi", function()
    if not T.tracefs then return pending(T.no_tracefs) end
    local out = dir .. "/roi"
    local _, err, code = T.autoperf("profile", "-q", "-o", out, "--roi", "-e", "syscalls:sys_enter_write",
      "--", T.workload("roi"), "1000", "42")
    assert.equal(0, code, err)
    assert.equal(0, select(3, T.autoperf("aggregate", out)))
    assert.equal(42, T.event_total(out .. "/results.csv", "syscalls:sys_enter_write"))
    -- without --roi every write counts
    local all = dir .. "/all"
    assert.equal(0, select(3, T.autoperf("profile", "-q", "-o", all, "-e", "syscalls:sys_enter_write",
      "--", T.workload("roi"), "1000", "42")))
    assert.equal(0, select(3, T.autoperf("aggregate", all)))
    assert.equal(2042, T.event_total(all .. "/results.csv", "syscalls:sys_enter_write"))
  end)

  it("starts counting after --delay", function()
    -- busy first (about 0.1 s; the margin is the 1 s delay), then asleep:
    -- counting from 1 s on sees almost none of the work
    local work = "i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done; sleep 1.5"
    local out = dir .. "/d"
    assert.equal(0, select(3, T.autoperf("profile", "-q", "-o", out, "-I", "0", "--delay", "1000",
      "-e", "task-clock", "--", "sh", "-c", work)))
    assert.equal(0, select(3, T.autoperf("aggregate", out)))
    local full = dir .. "/f"
    assert.equal(0, select(3, T.autoperf("profile", "-q", "-o", full, "-I", "0",
      "-e", "task-clock", "--", "sh", "-c", work)))
    assert.equal(0, select(3, T.autoperf("aggregate", full)))
    local delayed = T.event_total(out .. "/results.csv", "task-clock")
    local whole = T.event_total(full .. "/results.csv", "task-clock")
    assert.truthy(delayed < whole / 2, string.format("delayed %d vs whole %d", delayed, whole))
  end)

  it("shows progress on a terminal only, in bold unless NO_COLOR", function()
    local dir = T.tmpdir()
    local function run(env, out)
      -- script(1) gives autoperf a terminal
      return T.sh(string.format("%s script -qec %s /dev/null", env, T.quote(string.format(
        "%s profile -o %s -e task-clock -I 0 -r 3 -- true", T.quote(T.bin), T.quote(dir .. "/" .. out)))))
    end
    local out, err, code = run("", "a")
    assert.equal(0, code, err)
    assert.matches("run 1/1 rep 3/3\27%[0m | events done 2/3 | 0:00 elapsed | ETA", out)
    assert.matches("\27%[1m", out)
    out = assert(run("NO_COLOR=1", "b"))
    assert.matches("run 1/1 rep 2/3 | events done 1/3", out)
    assert.is_nil(out:find("\27[1m", 1, true))
    -- not a terminal: no progress at all
    out, err = T.autoperf("profile", "-o", dir .. "/c", "-e", "task-clock", "-I", "0", "-r", "3", "--", "true")
    assert.is_nil((out .. err):find("run 1/1", 1, true))
    assert.is_nil((out .. err):find("\27", 1, true))
    T.rmtree(dir)
  end)

  it("explains bad values of the new options", function()
    local _, err, code = T.autoperf("profile", "--timeout", "soon", "--", "true")
    assert.equal(2, code)
    assert.matches("%-%-timeout must be", err)
    _, err, code = T.autoperf("profile", "--delay", "-5", "--", "true")
    assert.equal(2, code)
  end)
end)

describe("fault injection", function()
  local trials = tonumber(os.getenv("AUTOPERF_SOAK_TRIALS") or "") or 20

  it("survives SIGKILL at " .. trials .. " random moments: no run lost or duplicated", function()
    local dir = T.tmpdir()
    local events = "task-clock,context-switches,page-faults" .. (T.tracefs and ",sched:*" or "")
    local function profile(out)
      return string.format("%s profile -q -o %s -e '%s' -I 10 -r 4 -- sleep %s", T.quote(T.bin), T.quote(out), events,
        marker("0.03"))
    end
    -- what summary.csv says of each event (name/status/repetitions), sorted
    local function summary_keys(out)
      local keys = {}
      for i, row in ipairs(T.csv(out .. "/summary.csv")) do
        if i > 1 then keys[#keys + 1] = row[1] .. "/" .. row[3] .. "/" .. row[4] end
      end
      table.sort(keys)
      return keys
    end
    -- the reference: an uninterrupted run
    local ref = dir .. "/ref"
    assert.equal(0, select(3, T.sh(profile(ref))))
    assert.equal(0, select(3, T.autoperf("aggregate", ref)))
    local want = summary_keys(ref)
    math.randomseed(1234)
    for trial = 1, trials do
      local out = dir .. "/t" .. trial
      local ms = math.random(0, 400)
      T.sh(string.format("%s & pid=$!; sleep %.3f; kill -9 $pid; wait $pid", profile(out), ms / 1000))
      local _, err, code = T.sh(profile(out))
      assert.equal(0, code, "trial " .. trial .. ": " .. err)
      local seen = {}
      for _, e in ipairs(journal(out)) do
        local key = e.run .. "/" .. e.rep
        assert.is_nil(seen[key], "trial " .. trial .. ": run " .. key .. " twice")
        seen[key] = true
      end
      local n = 0
      for _ in pairs(seen) do n = n + 1 end
      assert.equal(4, n, "trial " .. trial .. ": runs lost")
      assert.equal(0, select(3, T.autoperf("aggregate", out)))
      assert.same(want, summary_keys(out))
      os.execute("rm -rf " .. T.quote(out))
    end
    assert.equal(0, left("sleep " .. marker("0.03")))
    T.rmtree(dir)
  end)
end)
