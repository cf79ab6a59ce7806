-- The hardware planner on small hand-made models, random models, and the
-- Intel files in ../shared.
local core = require "autoperf.core"
local plan = require "autoperf.plan"
local T = require "spec.support"


-- A hardware event on PMU "cpu" with model "m".
local function hw(name, generic, extra)
  local ev = { name = name, pmu = "cpu", model = "m", source = "perfmon",
               counters = { generic = generic or { 0, 1, 2, 3 }, fixed = {} } }
  for k, v in pairs(extra or {}) do ev[k] = v end
  return ev
end

local function fixed(name, idx)
  return { name = name, pmu = "cpu", model = "m", source = "perfmon", counters = { generic = {}, fixed = { idx } } }
end

-- Every run feasible per the C checker, every event planned once.
local function check(p, events, opts)
  local pmus, model = plan.model(events, opts)
  local cp = plan.core_pmus(pmus)
  local where = {}
  for r, run in ipairs(p.runs) do
    for _, g in ipairs(run.groups) do
      for _, ev in ipairs(g.events) do
        assert.is_nil(where[ev], ev.name .. " planned twice")
        where[ev] = r
      end
    end
  end
  for i, m in ipairs(model) do
    assert.truthy(where[m.ev], m.ev.name .. " not planned")
    m.run = where[m.ev]
    model[i] = m
  end
  local ok, bad = core.plan_check(cp, model)
  assert.is_true(ok, "infeasible run for " .. tostring(bad and model[bad] and model[bad].ev.name))
  return #p.runs
end

local function runs_of(events, opts)
  local p = assert(plan.make(events, opts))
  return check(p, events, opts), p.lower_bound, p
end

describe("planner", function()
  it("fills every counter of a 4-counter PMU", function()
    local evs = {}
    for i = 1, 8 do evs[i] = hw("E" .. i) end
    local n, lb = runs_of(evs, { counters = { cpu = { generic = 4 } } })
    assert.equal(2, n)
    assert.equal(2, lb)
    evs[9] = hw("E9")
    assert.equal(3, (runs_of(evs, { counters = { cpu = { generic = 4 } } })))
  end)

  it("follows counter masks (a bipartite matching, not a count)", function()
    -- three events that only fit counter 0 need three runs even though
    -- each run has four counters; the others fill around them
    local evs = { hw("A", { 0 }), hw("B", { 0 }), hw("C", { 0 }), hw("D", { 0, 1 }), hw("E", { 1 }),
                  hw("F", { 1 }), hw("G", { 2, 3 }) }
    local n, lb = runs_of(evs, { counters = { cpu = { generic = 4 } } })
    assert.equal(3, n)
    assert.equal(3, lb)
  end)

  it("needs a matching where greedy counter choice fails", function()
    -- X can use 0 or 1, Y only 0: X must move to 1
    local evs = { hw("X", { 0, 1 }), hw("Y", { 0 }) }
    local n, _, p = runs_of(evs, { counters = { cpu = { generic = 2 } } })
    assert.equal(1, n)
    local c = p.runs[1].groups[1].counters
    assert.same({ 1, 0 }, c)
  end)

  it("puts at most two offcore events with different values in a run", function()
    local evs = {}
    for i = 1, 5 do evs[i] = hw("OFF" .. i, nil, { shared = "offcore", config1 = i }) end
    evs[6] = hw("OFF_SAME", nil, { shared = "offcore", config1 = 1 })
    local n, lb = runs_of(evs, { counters = { cpu = { generic = 4 } } })
    assert.equal(3, n)
    assert.equal(3, lb)
  end)

  it("gives ldlat and frontend events one value per run", function()
    local evs = { hw("L1", nil, { shared = "ldlat", config1 = 4 }), hw("L2", nil, { shared = "ldlat", config1 = 8 }),
                  hw("L3", nil, { shared = "ldlat", config1 = 4 }), hw("FE1", nil, { shared = "frontend", config1 = 1 }),
                  hw("FE2", nil, { shared = "frontend", config1 = 2 }) }
    local n, lb = runs_of(evs, { counters = { cpu = { generic = 4 } } })
    assert.equal(2, n)
    assert.equal(2, lb)
  end)

  it("measures taken-alone and errata events alone, beside fixed counters only", function()
    local evs = { hw("ALONE", nil, { taken_alone = true }), hw("BUGGY", nil, { errata = "SKL091" }),
                  hw("N1"), hw("N2"), fixed("INST", 0), fixed("CYC", 1) }
    local n, lb, p = runs_of(evs, { counters = { cpu = { generic = 4, fixed = 3 } } })
    assert.equal(3, n)
    assert.equal(3, lb)
    for _, run in ipairs(p.runs) do
      local names = {}
      for _, ev in ipairs(run.groups[1].events) do names[ev.name] = true end
      if names.ALONE or names.BUGGY then
        assert.is_nil(names.N1 or names.N2, "a programmable event beside an isolated one")
      end
    end
    -- with the policy switched off they share one run
    assert.equal(1, (runs_of(evs, { counters = { cpu = { generic = 4, fixed = 3 } }, isolate = { "none" } })))
    -- isolating by name
    assert.equal(2, (runs_of({ hw("N1"), hw("N2") }, { counters = { cpu = { generic = 4 } }, isolate = { "N1" } })))
  end)

  it("never puts two events on one fixed counter", function()
    local evs = { fixed("I1", 0), fixed("I2", 0), fixed("C", 1) }
    local n, lb = runs_of(evs, { counters = { cpu = { generic = 4, fixed = 3 } } })
    assert.equal(2, n)
    assert.equal(2, lb)
  end)

  it("keeps a user group in one run and refuses one that cannot fit", function()
    local evs = { hw("A", nil, { group = 1 }), hw("B"), hw("C", nil, { group = 1 }), hw("D", nil, { group = 1 }) }
    local _, _, p = runs_of(evs, { counters = { cpu = { generic = 3 } } })
    local run_of = {}
    for r, run in ipairs(p.runs) do
      for _, g in ipairs(run.groups) do
        for _, ev in ipairs(g.events) do run_of[ev.name] = r end
      end
    end
    assert.equal(run_of.A, run_of.C)
    assert.equal(run_of.A, run_of.D)
    local big = { hw("A", nil, { group = 1 }), hw("B", nil, { group = 1 }), hw("C", nil, { group = 1 }) }
    local r, err = plan.make(big, { counters = { cpu = { generic = 2 } } })
    assert.is_nil(r)
    assert.matches("can never be counted", err)
  end)

  it("takes the shared registers from the PMU models, by index, and lets a PMU override their count", function()
    local pmu = require "autoperf.pmu"
    local evs = {}
    for i = 1, 4 do evs[i] = hw("OFF" .. i, nil, { shared = "offcore", config1 = i }) end
    local pmus, model = plan.model(evs, { counters = { cpu = { generic = 4 } } })
    assert.same(pmu.shared_regs(), pmus[1].shared)
    assert.equal(pmu.SHARED_INDEX.offcore, model[1].shared)
    -- the C planner knows no kind: one offcore register means one value per run
    assert.equal(2, (runs_of(evs, { counters = { cpu = { generic = 4 } } })))
    assert.equal(4, (runs_of(evs, { counters = { cpu = { generic = 4, shared = { offcore = 1 } } } })))
    assert.has_error(function() plan.model({ hw("X", nil, { shared = "nosuch", config1 = 1 }) }) end)
  end)

  it("refuses a shared resource its PMU does not have (C binding)", function()
    local pmus = { { counters = 0xf, shared = { 2 } } }
    assert.has_error(function() core.plan(pmus, { { pmu = 1, allowed = 1, shared = 2 } }) end)
    assert.has_error(function() core.plan({ { counters = 0xf, shared = { 0 } } }, { { pmu = 1, allowed = 1 } }) end)
    assert.equal(2, (core.plan(pmus, { { pmu = 1, allowed = 0xf, shared = 1, shared_value = 1 },
      { pmu = 1, allowed = 0xf, shared = 1, shared_value = 2 }, { pmu = 1, allowed = 0xf, shared = 1, shared_value = 3 } })))
  end)

  it("refuses an event none of whose counters exist", function()
    local r, err = plan.make({ hw("HIGH", { 9 }) }, { counters = { cpu = { generic = 4 } } })
    assert.is_nil(r)
    assert.matches("HIGH can never be counted", err)
  end)

  it("subtracts the NMI watchdog's counter", function()
    local evs = {}
    for i = 1, 6 do evs[i] = hw("E" .. i) end
    assert.equal(2, (runs_of(evs, { counters = { cpu = { generic = 4 } } })))
    assert.equal(2, (runs_of(evs, { counters = { cpu = { generic = 4 } }, nmi_watchdog = true })))
    evs[7] = hw("E7")
    assert.equal(3, (runs_of(evs, { counters = { cpu = { generic = 4 } }, nmi_watchdog = true })))
  end)

  it("shares runs between PMUs and fills them with kernel events", function()
    local evs = { hw("A"), hw("B"), hw("C"), hw("D"), hw("E"),
                  { name = "U1", pmu = "uncore_cha", model = "m", source = "perfmon", counters = { generic = { 0 }, fixed = {} } },
                  { name = "U2", pmu = "uncore_cha", model = "m", source = "perfmon", counters = { generic = { 0 }, fixed = {} } },
                  { name = "task-clock", pmu = "software" } }
    local n, lb, p = runs_of(evs, { counters = { cpu = { generic = 4 } } })
    assert.equal(2, n)
    assert.equal(2, lb)
    local pmus = {}
    for _, g in ipairs(p.runs[1].groups) do pmus[g.pmu] = true end
    assert.truthy(pmus.cpu and pmus.uncore_cha and pmus.software)
  end)

  it("plans random models feasibly and never below the lower bound", function()
    math.randomseed(7)
    for trial = 1, 200 do
      local ngen = math.random(1, 6)
      local evs = {}
      for i = 1, math.random(1, 40) do
        local mask = {}
        for c = 0, ngen - 1 do
          if math.random() < 0.6 then mask[#mask + 1] = c end
        end
        if #mask == 0 then mask[1] = math.random(0, ngen - 1) end
        local extra = {}
        local x = math.random()
        if x < 0.1 then extra.shared, extra.config1 = "offcore", math.random(1, 4)
        elseif x < 0.15 then extra.shared, extra.config1 = "ldlat", math.random(1, 3)
        elseif x < 0.2 then extra.taken_alone = true end
        if math.random() < 0.1 then
          evs[i] = fixed("F" .. i, math.random(0, 1))
        else
          evs[i] = hw("E" .. i, mask, extra)
        end
      end
      local opts = { counters = { cpu = { generic = ngen, fixed = 2 } } }
      for _, strategy in ipairs({ "pack", "first-fit" }) do
        opts.strategy = strategy
        local n, lb = runs_of(evs, opts)
        assert.truthy(n >= lb, string.format("trial %d: %d runs below the bound %d", trial, n, lb))
      end
    end
  end)
end)

describe("planner on Intel's event files", function()
  local DATA = T.pmu_data
  local perfmon = require "autoperf.perfmon"
  local EXPECT = { skylake_core = 174, skylakex_core = 150, icelakex_core = 83,
                   sapphirerapids_core = 86, ivybridge_core = 86 }
  for name, want in pairs(EXPECT) do
    it("plans " .. name .. " (SMT on) in runs equal to the lower bound, feasibly", function()
      local path = DATA .. "/" .. name .. ".json"
      if not io.open(path) then return pending("no " .. path) end
      local evs = assert(perfmon.load(path, { smt = true }))
      for _, e in ipairs(evs) do e.model = name end
      local n, lb = runs_of(evs)
      assert.equal(lb, n)
      assert.equal(want, n)
      local ff = runs_of(evs, { strategy = "first-fit" })
      assert.truthy(ff >= n)
    end)
  end

  it("prints 174 runs and lower bound 174 for skylake_core.json", function()
    local path = DATA .. "/skylake_core.json"
    if not io.open(path) then return pending("no " .. path) end
    local out, err, code = T.autoperf("plan", "--events-json", path)
    assert.equal(0, code, err)
    assert.matches("^plan: 564 events in 174 runs %(lower bound 174%)", out)
    local csv = T.autoperf("plan", "--events-json", path, "--csv")
    local runs = {}
    for line in csv:gmatch("[^\n]+") do
      local r = line:match("^(%d+),")
      if r then runs[r] = true end
    end
    local n = 0
    for _ in pairs(runs) do n = n + 1 end
    assert.equal(174, n)
  end)
end)
