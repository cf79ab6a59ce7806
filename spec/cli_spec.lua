-- End to end: the autoperf binary on this machine's real kernel events.
local cjson = require "cjson"
local T = require "spec.support"

local lines = T.lines

local function manifest(dir)
  return cjson.decode(T.slurp(dir .. "/manifest.json"))
end

describe("autoperf CLI", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("prints help and its version", function()
    local out, _, code = T.autoperf("--help")
    assert.equal(0, code)
    assert.matches("profile", out)
    assert.matches("aggregate", out)
    local pout, _, pcode = T.autoperf("profile", "--help")
    assert.equal(0, pcode)
    assert.matches("%-%-dry%-run", pout)
    local vout = T.autoperf("--version")
    assert.matches("^autoperf %d+%.%d+", vout)
  end)

  it("rejects bad usage with one line and exit code 2", function()
    local _, err, code = T.autoperf("frobnicate")
    assert.equal(2, code)
    assert.matches("^autoperf: ", err)
    _, err, code = T.autoperf("profile", "-I", "ten", "--", "true")
    assert.equal(2, code)
    assert.matches("%-I must be an integer", err)
    _, err, code = T.autoperf("profile", "-o", dir .. "/o")
    assert.equal(2, code)
    assert.matches("no command to profile", err)
  end)

  describe("list", function()
    it("lists the scheduler tracepoints for 'sched:*'", function()
      if not T.tracefs then return pending(T.no_tracefs) end
      local out, _, code = T.autoperf("list", "sched:*")
      assert.equal(0, code)
      local ls = lines(out)
      assert.matches("^NAME%s+PMU%s+ENCODING%s+DESCRIPTION", ls[1])
      local names = {}
      for i = 2, #ls do
        local name = ls[i]:match("^(%S+)")
        assert.matches("^sched:", name)
        names[name] = true
      end
      assert.truthy(names["sched:sched_switch"])
      assert.truthy(names["sched:sched_process_exec"])
    end)

    it("prints valid JSON with --json", function()
      local out, _, code = T.autoperf("list", "--json")
      assert.equal(0, code)
      local evs = cjson.decode(out)
      assert.truthy(#evs > 5)
      local by = {}
      for _, e in ipairs(evs) do by[e.name] = e end
      assert.equal("software", by["task-clock"].pmu)
      assert.equal("type=1,config=0x1", by["task-clock"].encoding)
      assert.equal(1, math.tointeger(by["task-clock"].config))
      local none = T.autoperf("list", "no-such-event-zz", "--json")
      assert.same({}, cjson.decode(none))
    end)
  end)

  describe("profile", function()
    it("measures every event of this machine for 'sleep 1' in one run, none multiplexed", function()
      if not T.tracefs then return pending(T.no_tracefs) end
      local out = dir .. "/all"
      local stdout, err, code = T.autoperf("profile", "-o", out, "--", "sleep", "1")
      assert.equal(0, code, err)
      assert.equal("", stdout) -- the workload owns stdout
      stdout = err
      local m = manifest(out)
      assert.equal(1, #m.plan.runs)
      local n = tonumber(stdout:match("'sleep 1': (%d+) events in 1 run"))
      assert.truthy(n and n >= 2000, stdout)
      -- refused events are reported once and listed in the manifest
      assert.truthy(#m.refused >= 1)
      for _, r in ipairs(m.refused) do
        assert.truthy(r.name and r.error)
        local _, count = stdout:gsub(r.name:gsub("%p", "%%%0"), "")
        assert.truthy(count <= 1, r.name .. " reported more than once")
      end
      assert.matches("refused by the kernel, skipped", stdout)
      assert.matches("every event was counted the whole time", stdout)
      local aout, aerr, acode = T.autoperf("aggregate", out)
      assert.equal(0, acode, aerr)
      assert.matches("%d+ rows", aout)
      local measured, flagged = 0, 0
      for i, row in ipairs(T.csv(out .. "/summary.csv")) do
        if i > 1 and row[3] == "ok" then measured = measured + 1 end
        if row[3] and row[3]:match("^flagged") then flagged = flagged + 1 end
      end
      assert.truthy(measured >= 2000)
      assert.equal(0, flagged)
      -- the manifest describes the machine
      assert.truthy(#m.machine.cpus >= 1)
      assert.truthy(m.machine.kernel)
      assert.same({ "sleep", "1" }, m.command)
    end)

    for _, k in ipairs({ 1, 1000, 123457 }) do
      it("counts exactly " .. k .. " write syscalls of a workload that makes " .. k, function()
        if not T.tracefs then return pending(T.no_tracefs) end
        local out = dir .. "/w"
        local _, err, code = T.autoperf("profile", "-o", out, "-e", "syscalls:sys_enter_write,task-clock",
          "--", T.workload("writes"), tostring(k))
        assert.equal(0, code, err)
        _, err, code = T.autoperf("aggregate", out)
        assert.equal(0, code, err)
        assert.equal(k, T.event_total(out .. "/results.csv", "syscalls:sys_enter_write"))
      end)
    end

    it("samples at intervals whose deltas add up to the total", function()
      local out = dir .. "/i"
      local _, err, code = T.autoperf("profile", "-o", out, "-e", "task-clock,context-switches", "-I", "50",
        "--", "sh", "-c", "sleep 0.3")
      assert.equal(0, code, err)
      assert(T.autoperf("aggregate", out))
      -- per CPU (CPU column, cgroup counting) or per task (CPU empty):
      -- each series' intervals rise
      local last = {}
      for i, row in ipairs(T.csv(out .. "/results.csv")) do
        if i > 1 and row[1] == "task-clock" then
          local cpu = row[6]
          assert.truthy(tonumber(row[2]) > (last[cpu] or -1))
          last[cpu] = tonumber(row[2])
        end
      end
      local intervals = 0
      for _, v in pairs(last) do intervals = math.max(intervals, v + 1) end
      assert.truthy(intervals >= 4, "only " .. intervals .. " intervals")
      local summary = T.csv(out .. "/summary.csv")
      assert.equal(tonumber(summary[2][5]), T.event_total(out .. "/results.csv", "task-clock"))
    end)

    it("counts per cpu system-wide with -a, with the cpu's topology", function()
      if not require("autoperf.machine").access().system_wide then
        return pending("this user may not count system-wide (perf_event_paranoid)")
      end
      local out = dir .. "/a"
      local _, err, code = T.autoperf("profile", "-a", "-o", out, "-e", "cpu-clock", "-I", "0",
        "--", "sleep", "0.1")
      assert.equal(0, code, err)
      assert(T.autoperf("aggregate", out))
      local cpus = {}
      for i, row in ipairs(T.csv(out .. "/results.csv")) do
        if i > 1 then
          assert.truthy(tonumber(row[6]) >= 0)
          cpus[row[6]] = true
        end
      end
      local online = require("autoperf.machine").online_cpus()
      for _, c in ipairs(online) do assert.truthy(cpus[tostring(c)], "no row for cpu " .. c) end
    end)

    it("splits into more runs when the descriptor limit is short", function()
      if not T.tracefs then return pending(T.no_tracefs) end
      local out = dir .. "/fd"
      local _, err, code = T.sh("ulimit -n 200 && " .. T.quote(T.bin) .. " profile -o " .. T.quote(out) ..
        " -I 0 -e 'syscalls:*' -- true")
      assert.equal(0, code, err)
      local m = manifest(out)
      assert.truthy(#m.plan.runs >= 3, "only " .. #m.plan.runs .. " runs")
      local planned = 0
      for _, run in ipairs(m.plan.runs) do
        local n = 0
        for _, g in ipairs(run.groups) do n = n + #g.events end
        assert.truthy(n <= 200 - 64)
        planned = planned + n
      end
      assert.equal(#m.events, planned)
      assert.equal(0, select(3, T.autoperf("aggregate", out)))
      local measured = #T.csv(out .. "/summary.csv") - 1
      assert.equal(#m.events, measured)
    end)

    it("repeats with -r and resumes only what is missing", function()
      local out = dir .. "/r"
      local args = { "profile", "-o", out, "-e", "task-clock", "-r", "3", "--", "true" }
      local _, err, code = T.autoperf(table.unpack(args))
      assert.equal(0, code, err)
      local journal = lines(T.slurp(out .. "/journal.jsonl"))
      assert.equal(3, #journal)
      -- lose the last repetition, as if interrupted
      local f = assert(io.open(out .. "/journal.jsonl", "w"))
      f:write(journal[1], "\n", journal[2], "\n")
      f:close()
      os.remove(out .. "/run-001-03.csv.gz")
      _, err, code = T.autoperf(table.unpack(args))
      assert.equal(0, code, err)
      assert.matches("2 resumed", err)
      assert.equal(3, #lines(T.slurp(out .. "/journal.jsonl")))
      assert.truthy(T.slurp(out .. "/run-001-03.csv.gz") ~= "")
    end)

    it("says a complete profile is complete, and measures again with --force", function()
      local out = dir .. "/c"
      local args = { "profile", "-o", out, "-e", "task-clock", "--", "true" }
      assert.equal(0, select(3, T.autoperf(table.unpack(args))))
      local before = T.slurp(out .. "/run-001-01.csv.gz")
      local _, err, code = T.autoperf(table.unpack(args))
      assert.equal(0, code, err)
      assert.matches("already holds this complete profile", err)
      assert.equal(before, T.slurp(out .. "/run-001-01.csv.gz"))
      _, err, code = T.autoperf("profile", "--force", table.unpack(args, 2))
      assert.equal(0, code, err)
      assert.matches("profiled 'true'", err)
    end)

    it("samples a workload that starts threads while it is sampled", function()
      if not T.tracefs then return pending(T.no_tracefs) end
      -- A read racing with the kernel copying the group into a new thread
      -- fails with ECHILD; sampling must retry, not abort.
      local out = dir .. "/th"
      local _, err, code = T.autoperf("profile", "-o", out, "-I", "1", "-e", "syscalls:*,sched:*,task-clock",
        "--", T.workload("mix"), "1", "20")
      assert.equal(0, code, err)
      assert.equal(0, select(3, T.autoperf("aggregate", out)))
      assert.truthy(T.event_total(out .. "/results.csv", "sched:sched_process_fork") >= 20)
    end)

    it("refuses to overwrite another profile without --force", function()
      local out = dir .. "/f"
      assert.equal(0, select(3, T.autoperf("profile", "-o", out, "-e", "task-clock", "--", "true")))
      local _, err, code = T.autoperf("profile", "-o", out, "-e", "task-clock", "--", "sleep", "0")
      assert.equal(1, code)
      assert.matches("use %-%-force", err)
      assert.equal(0, select(3, T.autoperf("profile", "--force", "-o", out, "-e", "task-clock", "--", "sleep", "0")))
      assert.same({ "sleep", "0" }, manifest(out).command)
    end)

    it("plans without running with --dry-run", function()
      local out = dir .. "/d"
      local stdout, err, code = T.autoperf("profile", "--dry-run", "-o", out, "-e", "task-clock,cs", "--", "true")
      assert.equal(0, code, err)
      assert.matches("plan: 2 events in 1 run", stdout)
      assert.is_nil(io.open(out .. "/manifest.json"))
    end)

    it("suggests close names for an unknown event", function()
      local _, err, code = T.autoperf("profile", "-e", "task-clok", "--", "true")
      assert.equal(2, code)
      assert.equal(1, #lines(err))
      assert.matches("did you mean task%-clock", err)
    end)

    it("gives one clear line and exit code 127 for a command that does not exist", function()
      local out = dir .. "/nf"
      local stdout, err, code = T.autoperf("profile", "-o", out, "--", "/no/such/program", "x")
      assert.equal(127, code)
      assert.equal("", stdout)
      assert.same({ "autoperf: command not found: /no/such/program" }, lines(err))
      assert.is_nil(io.open(out .. "/manifest.json"))
      _, _, code = T.autoperf("profile", "-o", out, "--", "no-such-program-autoperf")
      assert.equal(127, code)
    end)

    it("reports a workload killed by a signal", function()
      local out = dir .. "/k"
      local _, err, code = T.autoperf("profile", "-o", out, "-e", "task-clock", "--", "sh", "-c", "kill -SEGV $$")
      assert.equal(128 + 11, code) -- the workload's status, as the shell reports it
      assert.matches("killed by SIGSEGV", err)
      local entry = cjson.decode(lines(T.slurp(out .. "/journal.jsonl"))[1])
      assert.equal("SIGSEGV", entry.signal)
    end)

    it("leaves no orphan or zombie behind", function()
      local out = dir .. "/o"
      local marker = "31.4159"
      -- a sleep of our own name: other programs' sleeps on this machine
      -- (zombies of other test runs) are not ours to judge
      local id = tostring(math.random(100000, 999999))
      local sleeper = dir .. "/apsleep" .. id
      assert.equal(0, select(3, T.sh("cp /bin/sleep " .. T.quote(sleeper))))
      local comm = "apsleep" .. id
      local _, err, code = T.autoperf("profile", "-o", out, "-e", "task-clock", "--",
        "sh", "-c", sleeper .. " " .. marker .. " & " .. sleeper .. " " .. marker .. " & exit 0")
      assert.equal(0, code, err)
      local ps = T.sh("ps -eo stat,args")
      assert.is_nil(ps:find(sleeper .. " " .. marker, 1, true), "an orphan survived")
      for line in ps:gmatch("[^\n]+") do
        if line:match("^Z") then assert.is_nil(line:find(comm, 1, true), "zombie: " .. line) end
      end
    end)
  end)

  describe("run", function()
    it("runs a Lua script with the API and its arguments", function()
      local script = dir .. "/s.lua"
      local f = assert(io.open(script, "w"))
      f:write('local ap = require "autoperf"\nlocal a, b = ...\n',
        'print(arg[0] == ... and "" or "args", a, b, arg[2], #ap.events("task-clock"))\n')
      f:close()
      local out, err, code = T.autoperf("run", script, "x", "y z")
      assert.equal(0, code, err)
      assert.equal("args\tx\ty z\ty z\t1\n", out)
    end)

    it("finds bundled examples when the path is not found from here", function()
      local out, err, code = T.sh("cd / && " .. T.quote(T.bin) .. " run experiments/dd-writes.lua 7")
      if not T.tracefs then return pending(T.no_tracefs) end
      assert.equal(0, code, err)
      assert.matches("\n%s+7%s+7%s+%d+\n", out)
    end)

    it("reports a script error with file:line and a traceback, and fails", function()
      local script = dir .. "/bad.lua"
      local f = assert(io.open(script, "w"))
      f:write('local function f(t) return t.x.y end\n\nf({})\n')
      f:close()
      local _, err, code = T.autoperf("run", script)
      assert.equal(1, code)
      assert.matches("^autoperf: [^\n]*bad%.lua:1: attempt to index a nil value %(field 'x'%)\nstack traceback:\n", err)
      assert.matches("bad%.lua:3: in main chunk", err)
      assert.is_nil(err:find("cli.lua", 1, true)) -- autoperf's own frames stay out
      local _, err2, code2 = T.autoperf("run", dir .. "/missing.lua")
      assert.equal(1, code2)
      assert.matches("cannot open script", err2)
    end)
  end)

  describe("aggregate", function()
    it("names the file and line of a truncated run file", function()
      local out = dir .. "/t"
      assert.equal(0, select(3, T.autoperf("profile", "-o", out, "-e", "task-clock,cs", "-I", "20",
        "--", "sleep", "0.2")))
      -- cut the (compressed) run file short
      local path = out .. "/run-001-01.csv.gz"
      local raw = T.slurp(path)
      local f = assert(io.open(path, "wb"))
      f:write(raw:sub(1, #raw // 2))
      f:close()
      local _, err, code = T.autoperf("aggregate", out)
      assert.equal(1, code)
      assert.matches("run%-001%-01%.csv%.gz:%d+: ", err)
      assert.equal(1, #lines(err))
      assert.is_nil(io.open(out .. "/results.csv"), "a half-written results.csv was left")
    end)

    it("refuses a directory that is not a profile", function()
      local _, err, code = T.autoperf("aggregate", dir)
      assert.equal(1, code)
      assert.matches("not an autoperf output directory", err)
    end)
  end)

  it("leaves the terminal and pipes to the background closer: its stdio is /dev/null", function()
    local dir = T.tmpdir()
    -- the workload looks at the closer while autoperf (and so the closer) runs
    local out, err, code = T.sh(string.format("%s profile -q -o %s -I 0 -e task-clock -- sh -c %s | cat",
      T.quote(T.bin), T.quote(dir .. "/out"),
      -- this user's newest closer that still holds descriptors (a zombie
      -- closer of some other run on this machine is not the one to look at)
      T.quote("pid=0; for d in /proc/[0-9]*; do [ -O $d ] && [ \"$(cat $d/comm 2>/dev/null)\" = autoperf-close ] && " ..
        "[ -e $d/fd/0 ] && [ ${d#/proc/} -gt $pid ] && pid=${d#/proc/}; done; " ..
        "[ $pid -gt 0 ] && for fd in 0 1 2; do readlink /proc/$pid/fd/$fd; done")))
    assert.equal(0, code, err)
    local links = {}
    for l in out:gmatch("[^\n]+") do if l:match("^/") then links[#links + 1] = l end end
    assert.same({ "/dev/null", "/dev/null", "/dev/null" }, links)
    T.rmtree(dir)
  end)
end)

describe("the command line's grammar (cli/parser.lua)", function()
  local parser = require "autoperf.cli.parser"

  it("splits the workload from profile's options by the options' own definitions", function()
    local head, cmd = parser.split({ "profile", "-o", "x", "-q", "--strategy", "pack", "--isolate", "none",
      "-e", "task-clock", "ls", "-l", "-o" })
    assert.same({ "profile", "-o", "x", "-q", "--strategy", "pack", "--isolate", "none", "-e", "task-clock" }, head)
    assert.same({ "ls", "-l", "-o" }, cmd)
    -- every option of profile that takes a value takes it, whatever it looks like
    for _, c in ipairs(parser.COMMANDS) do
      if c[1] == "profile" then
        local function each(list)
          for _, o in ipairs(list) do
            if type(o[1]) == "table" then
              each(o)
            elseif not o.flag then
              local name = o[1]:match("%S+$")
              local h, rest = parser.split({ "profile", name, "true", "--", "false" })
              assert.same({ "profile", name, "true" }, h, name)
              assert.same({ "false" }, rest, name)
            end
          end
        end
        each(c.options)
      end
    end
  end)

  it("gives run's script to the parser and what follows it to the script", function()
    local head, rest = parser.split({ "run", "s.lua", "--shard", "1/2", "-o", "x" })
    assert.same({ "run", "s.lua" }, head)
    assert.same({ "--shard", "1/2", "-o", "x" }, rest)
    head, rest = parser.split({ "run", "--", "s.lua", "a" })
    assert.same({ "run", "s.lua" }, head)
    assert.same({ "a" }, rest)
    head, rest = parser.split({ "analyze", "stats", "out" })
    assert.same({ "analyze", "stats", "out" }, head)
    assert.same({}, rest)
  end)

  it("has a handler for every subcommand", function()
    local commands = require "autoperf.cli.commands"
    local function each(list)
      for _, c in ipairs(list) do
        if c.commands then each(c.commands) else assert.is_function(commands[c.run], c[1]) end
      end
    end
    each(parser.COMMANDS)
  end)
end)
