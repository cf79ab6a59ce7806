-- Experiments (ap.experiment), result objects (ap.measure, ap.read), the
-- bundled example scripts, sharding and the Slurm scripts.
local T = require "spec.support"
local cjson = require "cjson"
local core = require "autoperf.core"
local experiment = require "autoperf.experiment"

local function tidy(path)
  local rows = T.csv(path)
  local header = table.remove(rows, 1)
  local col = {}
  for i, h in ipairs(header) do col[h] = i end
  return rows, col, header
end

describe("experiment configurations", function()
  it("form the cartesian product, the last parameter fastest, or zipped lists", function()
    local c = assert(experiment.configurations({ { "a", { 1, 2 } }, { "b", { "x", "y", "z" } } }))
    assert.equal(6, #c)
    assert.same({ a = 1, b = "x" }, c[1])
    assert.same({ a = 1, b = "y" }, c[2])
    assert.same({ a = 2, b = "z" }, c[6])
    local z = assert(experiment.configurations({ { "a", { 1, 2 } }, { "b", { "x", "y" } } }, true))
    assert.same({ { a = 1, b = "x" }, { a = 2, b = "y" } }, z)
    local bad, err = experiment.configurations({ { "a", { 1, 2 } }, { "b", { "x" } } }, true)
    assert.is_nil(bad)
    assert.matches("differ in length", err)
    assert.is_nil((experiment.configurations({ { "a", {} } })))
  end)

  it("parses shards", function()
    assert.same({ 2, 4 }, { experiment.parse_shard("2/4") })
    for _, s in ipairs({ "0/4", "5/4", "x", "1/0", "" }) do assert.is_nil((experiment.parse_shard(s))) end
  end)
end)

describe("result objects", function()
  it("measure a command: totals by name, series that add up, status", function()
    if not T.tracefs then return pending(T.no_tracefs) end
    local ap = require "autoperf"
    local r = assert(ap.measure({ T.workload("writes"), "777" },
      { events = { "syscalls:sys_enter_write", "task-clock" }, interval_ms = 5, keep = true }))
    assert.equal(777, r["syscalls:sys_enter_write"])
    assert.equal(777, r:total("syscalls:sys_enter_write", 1))
    local sum = 0
    for _, p in ipairs(r:series("syscalls:sys_enter_write")) do sum = sum + p.value end
    assert.equal(777, sum)
    assert.equal("ok", r:status("task-clock"))
    assert.is_nil(r:status("no-such-event"))
    assert.is_true(r.complete)
    -- a process described in Lua
    local d = assert(ap.measure({ argv = { "sh", "-c", 'test "$X" = 5 && test "$(pwd)" = /tmp && ' ..
      T.workload("writes") .. ' 3' }, env = { X = 5 }, cwd = "/tmp", cpus = { 0 } },
      { events = { "syscalls:sys_enter_write" } }))
    assert.is_nil(d.failed)
    assert.is_true(d["syscalls:sys_enter_write"] >= 3) -- the workload's 3 (and the shell's own)
    assert.is_nil(d.dir) -- its temporary directory is gone (kept only when asked)
    local again = assert(ap.read(r.dir))
    assert.equal(777, again["syscalls:sys_enter_write"])
    os.execute("rm -rf " .. T.quote(r.dir))
  end)
end)

describe("ap.measure without out", function()
  it("leaves no temporary directory behind, unless asked to keep it", function()
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    local script = dir .. "/m.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
local ap = require "autoperf"
for _ = 1, 3 do
  local r = assert(ap.measure({ "true" }, { events = { "task-clock", "page-faults" } }))
  assert(r["page-faults"] > 0 and r.dir == nil)
end
local k = assert(ap.measure({ "true" }, { events = { "task-clock" }, keep = true }))
print(k.dir)
]])
    f:close()
    local tmp = dir .. "/tmp"
    assert(T.sh("mkdir " .. T.quote(tmp)))
    local out, err, code = T.sh(string.format("TMPDIR=%s %s run %s", T.quote(tmp), T.quote(T.bin), T.quote(script)))
    assert.equal(0, code, err)
    local left = {}
    for _, e in ipairs(assert(core.listdir(tmp))) do left[#left + 1] = tmp .. "/" .. e.name end
    assert.same({ (out:gsub("\n$", "")) }, left)
    assert.truthy(T.slurp(left[1] .. "/manifest.json"):find("task-clock", 1, true))
  end)
end)

describe("examples/experiments/sweep.lua", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("writes one tidy row per configuration x repetition x event, derived metrics included", function()
    if not T.tracefs then return pending(T.no_tracefs) end
    local out, err, code = T.autoperf("run", "experiments/sweep.lua", dir .. "/s")
    assert.equal(0, code, err)
    assert.matches("6 configurations %(6 measured now%)", out)
    local rows, col = tidy(dir .. "/s/tidy.csv")
    assert.equal(6 * 3 * (4 + 3), #rows)
    local n = 0
    for _, r in ipairs(rows) do
      if r[col.EVENT] == "syscalls:sys_enter_write" then
        -- ground truth: 100 writes per thread (the program's own few on top)
        assert.is_true(tonumber(r[col.VALUE]) >= 100 * tonumber(r[col.threads]))
      elseif r[col.EVENT] == "writes_per_thread" then
        assert.equal("derived", r[col.UNIT])
        n = n + 1
      end
    end
    assert.equal(18, n)
    local status = cjson.decode(T.slurp(dir .. "/s/experiment.json"))
    assert.equal("complete", status.status)
  end)

  it("resumes after being killed: only what was missing runs, the result is the same", function()
    if not T.tracefs then return pending(T.no_tracefs .. " (the sweep counts a tracepoint)") end
    local bin = T.quote(T.bin)
    -- killed once the second configuration has started (bounded: a sweep
    -- that fails, or never gets there, ends the wait)
    T.sh(string.format("%s run experiments/sweep.lua %s & p=$!; n=0; " ..
      "while kill -0 $p 2>/dev/null && ! ls -d %s/002-* >/dev/null 2>&1 && [ $n -lt 6000 ]; do " ..
      "sleep 0.01; n=$((n+1)); done; kill -9 $p; wait $p",
      bin, T.quote(dir .. "/s"), T.quote(dir .. "/s")))
    local status = cjson.decode(T.slurp(dir .. "/s/experiment.json"))
    assert.equal("running", status.status) -- an interrupted sweep says so
    local out, err, code = T.autoperf("run", "experiments/sweep.lua", dir .. "/s")
    assert.equal(0, code, err)
    local measured = tonumber(out:match("%((%d+) measured now%)"))
    assert.is_true(measured < 6, out)
    local rows = tidy(dir .. "/s/tidy.csv")
    assert.equal(6 * 3 * 7, #rows)
  end)

  it("in shards measures disjoint slices that merge into every configuration", function()
    if not T.tracefs then return pending(T.no_tracefs .. " (the sweep counts a tracepoint)") end
    for k = 1, 3 do
      local out, err, code = T.autoperf("run", "experiments/sweep.lua", dir .. "/s", "--shard", k .. "/3")
      assert.equal(0, code, err)
      assert.matches("2 configurations %(2 measured now%)", out)
    end
    local out, err, code = T.autoperf("run", "experiments/sweep.lua", dir .. "/s")
    assert.equal(0, code, err)
    assert.matches("6 configurations %(0 measured now%)", out)
    local rows, col = tidy(dir .. "/s/tidy.csv")
    local configs = {}
    for _, r in ipairs(rows) do configs[r[col.CONFIG]] = true end
    for i = 1, 6 do assert.is_true(configs[tostring(i)]) end
    local _, serr, scode = T.autoperf("run", "experiments/sweep.lua", dir .. "/t", "--shard", "4/3")
    assert.equal(2, scode)
    assert.matches("1 <= K <= N", serr)
  end)

  it("writes Slurm scripts: a job array of the slices and a merge after them", function()
    local out, err, code = T.sh(string.format("cd %s && %s slurm experiments/sweep.lua --shards 3 -- %s",
      T.quote(dir), T.quote(T.bin), T.quote(dir .. "/s")))
    assert.equal(0, code, err)
    assert.matches("sweep%.submit%.sh", out)
    local slices = T.slurp(dir .. "/sweep.slices.sbatch")
    assert.matches("#SBATCH %-%-array=1%-3", slices)
    assert.matches("run '[^']*sweep%.lua' '[^']*/s' %-%-shard \"%$SLURM_ARRAY_TASK_ID/3\"", slices)
    assert.matches("%-%-dependency=afterok:%$slices", T.slurp(dir .. "/sweep.submit.sh"))
    -- a failed slice cancels the merge (Slurm would keep it pending forever)
    assert.matches("\n#SBATCH %-%-kill%-on%-invalid%-dep=yes\n", T.slurp(dir .. "/sweep.merge.sbatch"))
    local _, err2, code2 = T.autoperf("slurm", "experiments/sweep.lua", "--shards", "0")
    assert.equal(2, code2)
    assert.matches("%-%-shards", err2)
  end)

  it("refuses to write Slurm scripts for a directory PWD names when it is not the current one", function()
    -- a PWD left over by a parent that changed directory without a shell
    -- (env -C, a subprocess with cwd=) would send the jobs elsewhere
    local other = T.tmpdir()
    local _, err, code = T.sh(string.format("cd %s && PWD=%s %s slurm experiments/sweep.lua --shards 2",
      T.quote(dir), T.quote(other), T.quote(T.bin)))
    assert.equal(2, code)
    assert.matches("PWD", err)
    assert.is_nil(io.open(dir .. "/sweep.submit.sh"))
    assert.is_nil(io.open(other .. "/sweep.submit.sh"))
    T.rmtree(other)
  end)
end)

describe("examples/experiments/pair.lua", function()
  it("measures each program alone and beside each partner per placement", function()
    local dir = T.tmpdir()
    local _, err, code = T.autoperf("run", "experiments/pair.lua", dir .. "/p")
    assert.equal(0, code, err)
    local rows, col = tidy(dir .. "/p/tidy.csv")
    local seen = {}
    for _, r in ipairs(rows) do
      seen[r[col.program] .. "/" .. r[col.partner] .. "/" .. r[col.placement]] = true
    end
    assert.is_true(seen["spin/none/alone"] and seen["threads/none/alone"])
    assert.is_true(seen["spin/threads/same-cpu"] and seen["threads/spin/same-cpu"])
    -- no partner left running
    -- (ours: with this tree's workloads; other trees may run this spec too)
    local left = T.procs(function(q)
      return q.cmdline:find('while :; do "$@"', 1, true) ~= nil and q.cmdline:find(T.workloads, 1, true) ~= nil
    end)
    assert.same({}, left)
    T.rmtree(dir)
  end)
end)

describe("one runner entry (profile.from_specs)", function()
  it("gives the CLI, ap.profile, ap.measure and an experiment the same counters, plan and PMUs", function()
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    local specs = "skl::BR_INST_RETIRED:ALL_BRANCHES,skl::BR_INST_RETIRED:CONDITIONAL," ..
      "skl::BR_INST_RETIRED:NEAR_CALL,skl::BR_INST_RETIRED:NEAR_RETURN,task-clock"
    local script = dir .. "/paths.lua"
    local f = assert(io.open(script, "w"))
    f:write(string.format([[
local ap = require "autoperf"
local dir, specs = %q, %q
local o = { events = { specs }, pmu = "sim:skl", interval_ms = 0 }
o.out = dir .. "/api"
assert(ap.profile({ "true" }, o))
o.out, o.keep = dir .. "/measure", true
assert(ap.measure({ "true" }, o))
assert(ap.experiment({ command = { "true" }, events = { specs }, pmu = "sim:skl", out = dir .. "/exp" }):run({ quiet = true }))
]], dir, specs))
    f:close()
    -- two counters, as a PMU that has fewer than the model says would
    local env = "AUTOPERF_COUNTERS=cpu:2 "
    local _, err, code = T.sh(env .. T.quote(T.bin) .. " run " .. T.quote(script))
    assert.equal(0, code, err)
    _, err, code = T.sh(env .. T.quote(T.bin) .. " profile -q -I 0 --pmu sim:skl -o " .. T.quote(dir .. "/cli") ..
      " -e " .. T.quote(specs) .. " -- true")
    assert.equal(0, code, err)
    local cli = cjson.decode(T.slurp(dir .. "/cli/manifest.json"))
    assert.equal(2, #cli.plan.runs) -- four branch events on two counters
    local plan
    plan, err, code = T.sh(env .. T.quote(T.bin) .. " plan --json --pmu sim:skl -e " .. T.quote(specs))
    assert.equal(0, code, err)
    assert.same(cli.plan.runs, cjson.decode(plan).runs) -- and 'autoperf plan' plans what profile runs
    assert.is_true(#cli.pmus.sysfs > 0)
    for _, d in ipairs({ "api", "measure", "exp/001" }) do
      local m = cjson.decode(T.slurp(dir .. "/" .. d .. "/manifest.json"))
      assert.same(cli.plan, m.plan, d)
      assert.same(cli.pmus, m.pmus, d)
      assert.same(cli.simulated, m.simulated, d)
    end
  end)
end)
