local ap = require "autoperf"
local T = require "spec.support"

describe("Lua API", function()
  it("lists events by pattern", function()
    local evs = ap.events("clock")
    local names = {}
    for _, e in ipairs(evs) do names[e.name] = e end
    assert.truthy(names["task-clock"])
    assert.equal("type=1,config=0x1", names["task-clock"].encoding)
  end)

  it("selects specs and reports unknown ones as nil, message", function()
    assert.equal("context-switches", ap.select("cs")[1].name)
    local evs, err = ap.select({ "task-clock", "bogus-event" })
    assert.is_nil(evs)
    assert.matches("unknown event 'bogus%-event'", err)
  end)

  it("plans specs into runs", function()
    local p = assert(ap.plan({ "task-clock", "page-faults" }))
    assert.equal(1, #p.runs)
    assert.equal(2, #p.runs[1].groups[1].events)
    assert.is_nil((ap.plan({ "nope-nope" })))
  end)

  it("refuses an unknown option key, naming it and the closest known one, before doing anything", function()
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    local out = dir .. "/never"
    -- (each call is not a tail call: the error names the line that made it)
    local cases = {
      { "ap.measure", "repetition", "repetitions",
        function() local r = ap.measure({ "true" }, { repetition = 3, out = out }) return r end },
      { "ap.measure: the process", "cdw", "cwd",
        function() local r = ap.measure({ argv = { "true" }, cdw = "/" }, { out = out }) return r end },
      { "ap.profile", "interval", "interval_ms",
        function() local r = ap.profile({ "true" }, { out = out, interval = 10 }) return r end },
      { "ap.plan", "stratgy", "strategy",
        function() local r = ap.plan({ "task-clock" }, { stratgy = "pack" }) return r end },
      { "ap.events", "pmuu", "pmu", function() local r = ap.events("clock", { pmuu = "x" }) return r end },
      { "ap.select", "smtt", "smt", function() local r = ap.select("cs", { smtt = true }) return r end },
      { "ap.read", "per_cpus", "per_cpu", function() local r = ap.read(out, { per_cpus = true }) return r end },
      { "ap.aggregate", "outptu", "output", function() local r = ap.aggregate(out, { outptu = "x" }) return r end },
      { "experiment", "repetition", "repetitions",
        function() local r = ap.experiment({ command = { "true" }, repetition = 2 }) return r end },
      { "experiment:run", "shrad", "shard",
        function() local r = ap.experiment({ command = { "true" }, out = out }):run({ shrad = "1/2" }) return r end },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(c[4])
      assert.is_false(ok, c[1])
      -- one line, pointing at the caller's line
      assert.matches("^[^\n]*api_spec%.lua:%d+: " .. c[1]:gsub("%p", "%%%0") .. ": unknown option '" .. c[2] ..
        "' %(did you mean '" .. c[3] .. "'%?%)$", err)
    end
    assert.is_nil(io.open(out .. "/manifest.json"))
    local ok, err = pcall(ap.measure, { "true" }, { zzzzzzzz = 1 })
    assert.is_false(ok)
    assert.matches("unknown option 'zzzzzzzz' %(known: [%w_, ]*events[%w_, ]*%)$", err)
  end)

  it("profiles a command and aggregates the result", function()
    local dir = T.tmpdir()
    local r = assert(ap.profile({ T.workload("writes"), "42" }, {
      out = dir .. "/p", events = { "task-clock", T.tracefs and "syscalls:sys_enter_write" or "cs" },
      interval_ms = 0,
    }))
    assert.equal(2, r.events)
    assert.same({}, r.flagged)
    assert.same({}, r.failed)
    local a = assert(ap.aggregate(dir .. "/p"))
    if T.tracefs then assert.equal(42, T.event_total(a.results, "syscalls:sys_enter_write")) end
    local none, err, code = ap.profile({ "/no/such" }, { out = dir .. "/q", events = { "task-clock" } })
    assert.is_nil(none)
    assert.equal(127, code)
    assert.matches("command not found", err)
    T.rmtree(dir)
  end)
end)
