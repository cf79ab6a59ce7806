-- Field-ready: what a normal user gets, what autoperf never runs, and the
-- habits perf stat's users bring. The normal-user specs run the binary as
-- nobody (setpriv, util-linux) when the suite runs as root.
local cjson = require "cjson"
local machine = require "autoperf.machine"
local profile = require "autoperf.profile"
local T = require "spec.support"

local write = T.write

local function env_sh(vars, cmdline)
  local parts = {}
  for k, v in pairs(vars) do parts[#parts + 1] = k .. "=" .. T.quote(v) end
  return "env " .. table.concat(parts, " ") .. " " .. cmdline
end

describe("autoperf as root in someone else's directory", function()
  local dir, mark
  before_each(function()
    dir = T.tmpdir()
    mark = dir .. "/ran"
    -- modules a planted file would shadow, each leaving a mark when run
    local plant = string.format("local f = io.open(%q, 'a'); f:write(...  or '?', '\\n'); f:close()\nreturn {}\n", mark)
    assert(os.execute("mkdir -p " .. T.quote(dir .. "/cwd/autoperf") .. " " .. T.quote(dir .. "/env/autoperf")))
    for _, d in ipairs({ dir .. "/cwd", dir .. "/env" }) do
      for _, m in ipairs({ "cjson", "argparse", "dkjson", "autoperf/cli", "autoperf/util", "autoperf/init" }) do
        write(d .. "/" .. m .. ".lua", plant)
      end
    end
    write(dir .. "/init.lua", plant)
  end)
  after_each(function() T.rmtree(dir) end)

  it("loads no module from the current directory", function()
    for _, args in ipairs({ "--version", "list task-clock", "doctor" }) do
      local _, err, code = T.sh("cd " .. T.quote(dir .. "/cwd") .. " && " .. T.quote(T.bin) .. " " .. args)
      assert.equal(0, code, err)
    end
    assert.equal("", T.slurp(mark))
  end)

  it("takes no search path or start-up code from LUA_PATH, LUA_CPATH or LUA_INIT", function()
    local vars = {
      LUA_PATH = dir .. "/env/?.lua;;", LUA_PATH_5_4 = dir .. "/env/?.lua;;",
      LUA_CPATH = dir .. "/env/?.so;;", LUA_CPATH_5_4 = dir .. "/env/?.so;;",
      LUA_INIT = "@" .. dir .. "/init.lua", LUA_INIT_5_4 = "os.exit(9)",
    }
    local out, err, code = T.sh(env_sh(vars, T.quote(T.bin) .. " --version"))
    assert.equal(0, code, err)
    assert.matches("^autoperf ", out)
    write(dir .. "/path.lua", "print(package.path, package.cpath)\n")
    out, err, code = T.sh(env_sh(vars, T.quote(T.bin) .. " run " .. T.quote(dir .. "/path.lua")))
    assert.equal(0, code, err)
    assert.is_nil(out:find(dir, 1, true))
    assert.is_nil(out:find("./?", 1, true))
    assert.equal("", T.slurp(mark))
  end)

  it("still runs what a script names explicitly", function()
    write(dir .. "/helper.lua", "return 41 + 1\n")
    write(dir .. "/script.lua", string.format("print(dofile(%q))\n", dir .. "/helper.lua"))
    local out, err, code = T.autoperf("run", dir .. "/script.lua")
    assert.equal(0, code, err)
    assert.equal("42\n", out)
  end)
end)

describe("what the kernel lets a user count", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  local function status(euid, capeff)
    local p = dir .. "/status"
    write(p, string.format("Name:\tx\nUid:\t%d\t%d\t%d\t%d\nCapEff:\t%016x\n", euid, euid, euid, euid, capeff))
    return p
  end

  it("reads perf_event_paranoid and the capabilities as the kernel applies them", function()
    local par = dir .. "/paranoid"
    write(par, "2\n")
    local a = machine.access({ status = status(1000, 0), paranoid = par })
    assert.is_true(a.user_only)
    assert.is_false(a.system_wide)
    assert.is_false(a.none)
    write(par, "3\n")
    assert.is_true(machine.access({ status = status(1000, 0), paranoid = par }).none)
    write(par, "0\n")
    a = machine.access({ status = status(1000, 0), paranoid = par })
    assert.is_false(a.user_only)
    assert.is_true(a.system_wide)
    write(par, "2\n")
    a = machine.access({ status = status(1000, 1 << 38), paranoid = par }) -- CAP_PERFMON
    assert.is_true(a.privileged)
    assert.is_false(a.user_only)
    assert.is_true(machine.access({ status = status(0, 0), paranoid = par }).system_wide)
  end)

  it("counts user space only where the kernel demands it, as perf's :u", function()
    local evs = {
      { name = "task-clock", pmu = "software", type = 1, config = 1, available = true },
      { name = "sched:sched_switch", pmu = "tracepoint", type = 2, config = 5, available = true },
      { name = "page-faults:k", base = "page-faults", pmu = "software", exclude_user = true, available = true },
      { name = "cycles", pmu = "cpu", available = false, why = "this kernel exposes no hardware PMU" },
    }
    local out, refused, notes = profile.measurable(evs, { user_only = true, paranoid = 2 })
    assert.equal(2, #out)
    assert.equal("task-clock", out[1].name) -- scripts and experiments find it by its name
    assert.is_true(out[1].exclude_kernel and out[1].exclude_hv and out[1].user_only)
    assert.is_nil(evs[1].exclude_kernel) -- the catalog's record stays as it was
    assert.equal("page-faults:k", out[2].name) -- asked for explicitly: the kernel decides
    assert.same({ { name = "cycles", error = "this kernel exposes no hardware PMU" } }, refused)
    assert.equal(1, #notes)
    assert.matches("user space only", notes[1])
    assert.matches("1 tracepoint left out", notes[1])
    out, refused, notes = profile.measurable(evs, { user_only = false })
    assert.equal(3, #out)
    assert.equal("task-clock", out[1].name)
    assert.equal(0, #notes)
  end)

  it("tells tracefs not mounted from mounted but unreadable", function()
    local mounts = dir .. "/mounts"
    write(mounts, "proc /proc proc rw 0 0\ntracefs /sys/kernel/tracing tracefs rw 0 0\n")
    assert.same({ "unreadable", "/sys/kernel/tracing" }, { machine.tracefs_state(mounts, false) })
    write(mounts, "proc /proc proc rw 0 0\n")
    assert.same({ "unmounted" }, { machine.tracefs_state(mounts, false) })
    assert.same({ "ok", "/x" }, { machine.tracefs_state(mounts, "/x") })
  end)

  it("fails with one line pointing to --pmu sim: when -e cycles has no hardware PMU", function()
    if require("autoperf.catalog").hardware_present() then return pending("this kernel has a hardware PMU") end
    local _, err, code = T.autoperf("profile", "-q", "-o", dir .. "/o", "-e", "cycles", "--", "true")
    assert.equal(1, code)
    assert.matches("nothing could be measured", err)
    assert.matches("no hardware PMU", err)
    assert.matches("%-%-pmu sim:", err)
    local n = 0
    for _ in err:gmatch("[^\n]+") do n = n + 1 end
    assert.equal(1, n, err)
  end)
end)

-- A normal user: this process when it is one, else nobody through setpriv.
local function as_user(cmdline)
  local status = T.slurp("/proc/self/status")
  if status:match("\nUid:%s+%d+%s+(%d+)") ~= "0" then return T.sh(cmdline) end
  return T.sh("setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c " .. T.quote(cmdline))
end

describe("a normal user (perf_event_paranoid 2)", function()
  local dir
  before_each(function()
    dir = T.tmpdir()
    os.execute("chmod 777 " .. T.quote(dir))
  end)
  after_each(function() T.rmtree(dir) end)

  local function usable()
    local paranoid = tonumber(T.slurp("/proc/sys/kernel/perf_event_paranoid"):match("%-?%d+"))
    if not paranoid or paranoid ~= 2 then return false, "perf_event_paranoid is not 2 here" end
    local _, err, code = as_user(T.quote(T.bin) .. " --version")
    if code ~= 0 then return false, "the binary cannot run as an unprivileged user here: " .. err end
    return true
  end

  it("gets a real profile of user space, told once, exit 0", function()
    local ok, why = usable()
    if not ok then return pending(why) end
    local out = dir .. "/p"
    local stdout, err, code = as_user(T.quote(T.bin) .. " profile -o " .. T.quote(out) ..
      " -e task-clock,page-faults -- sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done'")
    assert.equal(0, code, err)
    assert.equal("done\n", stdout)
    local _, notes = err:gsub("counting user space only", "")
    assert.equal(1, notes, err)
    assert.matches("%(user space only%)", err)
    local m = cjson.decode(T.slurp(out .. "/manifest.json"))
    assert.same({ "task-clock", "page-faults" }, { m.events[1].name, m.events[2].name })
    assert.is_true(m.events[1].user_only and m.events[2].user_only)
    assert.is_true(m.access.user_only)
    assert.same({}, m.refused)
    local _, aerr, acode = as_user(T.quote(T.bin) .. " aggregate " .. T.quote(out))
    assert.equal(0, acode, aerr)
    assert.truthy(T.event_total(out .. "/results.csv", "task-clock") > 0)
    assert.truthy(T.event_total(out .. "/results.csv", "page-faults") > 0)
  end)

  it("is refused -a with one line naming the fix", function()
    local ok, why = usable()
    if not ok then return pending(why) end
    local _, err, code = as_user(T.quote(T.bin) .. " profile -q -a -o " .. T.quote(dir .. "/a") ..
      " -e task-clock -- true")
    assert.equal(1, code)
    assert.matches("perf_event_paranoid", err)
    assert.matches("fix: ", err)
  end)

  it("hears from doctor whether tracefs is unmounted or unreadable", function()
    local ok, why = usable()
    if not ok then return pending(why) end
    -- mounted is enough: unreadable by the user is what it is told about
    if not T.tracefs_mount then return pending(T.no_tracefs) end
    local out, err = as_user(T.quote(T.bin) .. " doctor")
    if T.tracefs and not out:find("not readable by this user", 1, true) then
      assert.matches("ok%s+tracefs", out, err) -- readable by all on this machine
    else
      assert.matches("tracefs is mounted at %S+ but not readable by this user", out)
      local _, perr, code = as_user(T.quote(T.bin) .. " profile -o " .. T.quote(dir .. "/t") ..
        " -e sched:sched_switch -- true")
      assert.equal(2, code)
      assert.matches("not readable by this user, so no tracepoint is known", perr)
    end
  end)
end)

describe("perf stat's habits", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("takes -e as plan does: groups and pmu/terms/ stay whole", function()
    local _, err, code = T.autoperf("profile", "-q", "-o", dir .. "/g", "-I", "0", "-e", "{task-clock,page-faults}",
      "--", "true")
    assert.equal(0, code, err)
    local m = cjson.decode(T.slurp(dir .. "/g/manifest.json"))
    assert.equal(2, #m.events)
    local out
    out, err, code = T.autoperf("profile", "--dry-run", "-o", dir .. "/r", "-e", "cpu/event=0x3c,umask=0x1/,task-clock",
      "--", "true")
    assert.equal(0, code, err)
    assert.matches("plan: 2 events", out)
    assert.matches("cpu/event=0x3c,umask=0x1/", out, 1, true)
  end)

  it("leaves stdout to the workload and exits with its status", function()
    local stdout, err, code = T.autoperf("profile", "-o", dir .. "/s", "-e", "task-clock", "--",
      "sh", "-c", "echo hello; exit 7")
    assert.equal(7, code, err)
    assert.equal("hello\n", stdout)
    assert.matches("profiled 'sh %-c", err)
    assert.matches("exited with 7", err)
  end)

  it("prints the counts after a profile, with +- across -r repetitions", function()
    local stdout, err, code = T.autoperf("profile", "-o", dir .. "/c", "-r", "3", "-e", "task-clock,page-faults",
      "--", "sh", "-c", "ls / >/dev/null")
    assert.equal(0, code, err)
    assert.equal("", stdout)
    assert.matches("Performance counter stats for 'sh %-c 'ls / >/dev/null'' %(3 repetitions[^)]*%):", err)
    assert.matches("[%d.,]+ msec  task%-clock%s+%( %+%- +[%d.]+%% %)", err)
    assert.matches("\n%s+[%d,]+%s+page%-faults", err)
  end)

  it("matches analyze -e globs without backtracking", function()
    -- a results.csv of two long-named events: a backtracking matcher takes
    -- time exponential in the stars on such names
    local rows = { "EVENT_NAME,INDEX,TIME,SOCKET,CORE,CPU,NODE,UNIT,SAMPLE_VALUE" }
    for _, name in ipairs({ string.rep("a", 60), string.rep("a", 59) .. "b" }) do
      for i = 0, 4 do rows[#rows + 1] = string.format("%s,%d,%d,0,0,0,0,software,%d", name, i, i * 100, i * i) end
    end
    write(dir .. "/results.csv", table.concat(rows, "\n") .. "\n")
    local glob = string.rep("*a", 16) .. "*q"
    local _, err, code = T.sh("timeout 60 " .. T.quote(T.bin) .. " analyze correlation " ..
      T.quote(dir .. "/results.csv") .. " -e " .. T.quote(glob))
    assert.equal(1, code, err)
    assert.matches("no event", err)
  end)

  it("labels simulated counts in the table as simulated", function()
    local _, err, code = T.autoperf("profile", "-o", dir .. "/sim", "-I", "0", "--pmu", "sim:skl",
      "-e", "skl::INST_RETIRED:ALL,task-clock", "--", "true")
    assert.equal(0, code, err)
    assert.matches("skl::INST_RETIRED:ALL%s+%(simulated, not measured%)", err)
    assert.matches("msec  task%-clock\n", err) -- measured: no label
  end)

  it("plans a model's events with profile --dry-run --pmu MODEL, as plan does", function()
    local pout, perr, pcode = T.autoperf("plan", "--pmu", "skl")
    assert.equal(0, pcode, perr)
    local out, err, code = T.autoperf("profile", "--dry-run", "--pmu", "skl", "-o", dir .. "/d", "--", "true")
    assert.equal(0, code, err)
    local want = pout:match("^(plan: %d+ events in %d+ runs?)")
    assert.truthy(want, pout)
    assert.equal(want, out:match("^(plan: %d+ events in %d+ runs?)"))
  end)
end)
