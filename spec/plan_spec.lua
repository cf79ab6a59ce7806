local plan = require "autoperf.plan"

local function events(n, pmu)
  local out = {}
  for i = 1, n do out[i] = { name = pmu .. i, pmu = pmu } end
  return out
end

local concat = require("autoperf.util").concat

local function count(p)
  local n, seen = 0, {}
  for _, run in ipairs(p.runs) do
    for _, g in ipairs(run.groups) do
      for _, e in ipairs(g.events) do
        assert.is_nil(seen[e.name], "event planned twice: " .. e.name)
        seen[e.name] = true
        n = n + 1
      end
    end
  end
  return n
end

describe("planner for kernel events", function()
  it("puts everything in one run, one group per PMU, when it fits", function()
    local p = plan.make(concat(events(10, "software"), events(500, "tracepoint")), { group_max = 1022 })
    assert.equal(1, #p.runs)
    assert.equal(2, #p.runs[1].groups)
    assert.equal("software", p.runs[1].groups[1].pmu)
    assert.equal(510, count(p))
    assert.equal(1, p.lower_bound)
  end)

  it("splits a PMU's events into groups the kernel can read at once", function()
    local p = plan.make(events(2305, "tracepoint"), { group_max = 1022 })
    assert.equal(1, #p.runs)
    assert.equal(3, #p.runs[1].groups)
    assert.equal(1022, #p.runs[1].groups[1].events)
    assert.equal(261, #p.runs[1].groups[3].events)
    assert.equal(2305, count(p))
  end)

  it("opens more runs when the descriptor budget is short", function()
    local p = plan.make(events(250, "tracepoint"), { group_max = 1022, fd_budget = 100 })
    assert.equal(3, #p.runs)
    assert.equal(3, p.lower_bound)
    for _, run in ipairs(p.runs) do
      local n = 0
      for _, g in ipairs(run.groups) do n = n + #g.events end
      assert.truthy(n <= 100)
    end
    assert.equal(250, count(p))
  end)

  it("counts one descriptor per event and cpu in system-wide mode", function()
    local p = plan.make(events(100, "software"), { fd_budget = 100, ncpus = 4 })
    assert.equal(4, #p.runs)
    assert.equal(100, count(p))
  end)

  it("refuses when no descriptor is left", function()
    local p, err = plan.make(events(1, "software"), { fd_budget = 1, ncpus = 2 })
    assert.is_nil(p)
    assert.matches("ulimit", err)
  end)

  it("keeps a user's group together in one group", function()
    local evs = events(5, "software")
    evs[2].group, evs[4].group = 1, 1
    local p = plan.make(evs, { group_max = 2, fd_budget = 3 })
    local found
    for _, run in ipairs(p.runs) do
      for _, g in ipairs(run.groups) do
        if g.events[1].group then
          found = g
          assert.equal(2, #g.events)
        end
        for _, e in ipairs(g.events) do
          if e.group then assert.equal(found, g) end
        end
      end
    end
    assert.truthy(found)
    assert.equal(5, count(p))
    local _, err = plan.make(evs, { group_max = 1 })
    assert.matches("at most 1 fit", err)
  end)

  it("describes the plan by event names for the manifest", function()
    local d = plan.describe(plan.make(events(2, "software")))
    assert.same({ runs = { { groups = { { pmu = "software", events = { "software1", "software2" } } } } },
                  lower_bound = 1 }, d)
  end)
end)
