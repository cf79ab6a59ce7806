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
