-- Counter capacity learnt from the kernel (capacity.lua, core.capacity)
-- and the planner's use of it. The real PMU is checked by the arm64 lane
-- (make test-pmu); here: this machine's answer, fakes of the kernel, the
-- planner and the AUTOPERF_COUNTERS knob.
local T = require "spec.support"
local capacity = require "autoperf.capacity"
local catalog = require "autoperf.catalog"
local core = require "autoperf.core"
local plan = require "autoperf.plan"
local util = require "autoperf.util"

-- 5 raw events x {both, u, k}, as the arm64 lane profiles them.
local function raw15()
  local out = {}
  for _, c in ipairs({ 0x08, 0x11, 0x03, 0x04, 0x10 }) do
    for _, m in ipairs({ "", ":u", ":k" }) do
      out[#out + 1] = { name = string.format("r%x", c) .. m, pmu = "cpu", type = 4, config = c, hardware = true }
    end
  end
  return out
end

-- A fake kernel: n copies of any event fit, cycles one more.
local function fake(generic, fixed)
  return function(attr)
    if attr.type == 0 and attr.config == 0 then return generic + fixed end
    return generic
  end
end

describe("counter capacity", function()
  it("is probed with a group of copies of an event, counted on ourselves", function()
    -- software events do not compete for counters: a group of 5 opens
    assert.equal(5, core.capacity({ type = 1, config = 1 }, 5))
    assert.has_error(function() core.capacity({ type = 1, config = 1 }, 0) end)
  end)

  if not catalog.hardware_present() then
    it("reports no hardware PMU on this machine and changes nothing", function()
      local d, err = capacity.discover()
      assert.is_nil(d)
      assert.matches("^no hardware PMU", err)
      local cat = assert(catalog.load({ no_cache = true }))
      local counters, note = capacity.plan_counters(cat, raw15(), { env = {} })
      assert.is_nil(counters)
      assert.equal("no hardware PMU", note)
    end)
  end

  it("gives generic counters and the cycle counter from the kernel's answers", function()
    local d = assert(capacity.discover({ probe = fake(6, 1), arch = "aarch64" }))
    assert.equal(6, d.generic)
    assert.equal(1, d.fixed)
    assert.matches("probed from the kernel", d.how)
  end)

  it("tells a kernel without the event from one that refuses for another reason", function()
    local function refuse(errno)
      return function() return nil, "nope", errno end
    end
    local d, err = capacity.discover({ probe = refuse(core.errno.ENOENT) })
    assert.is_nil(d)
    assert.matches("^no hardware PMU", err)
    d, err = capacity.discover({ probe = refuse(core.errno.EACCES) })
    assert.is_nil(d)
    assert.matches("^cannot probe", err)
  end)

  it("is used only where the kernel has a PMU and no source gives counter facts", function()
    local opts = { env = {}, probe = fake(6, 1), arch = "aarch64" }
    local hw = { hardware = true }
    local c = capacity.plan_counters(hw, raw15(), opts)
    assert.same({ generic = 6, fixed = 1 }, { generic = c.cpu.generic, fixed = c.cpu.fixed })
    local with_facts = raw15()
    with_facts[1].counters = { generic_count = 4 }
    local none, note = capacity.plan_counters(hw, with_facts, opts)
    assert.is_nil(none)
    assert.matches("counter facts", note)
    assert.is_nil((capacity.plan_counters({ hardware = true, sim = {} }, raw15(), opts)))
    assert.is_nil((capacity.plan_counters(hw, { { name = "task-clock", pmu = "software" } }, opts)))
  end)

  it("reads the AUTOPERF_COUNTERS testing knob", function()
    assert.same({ cpu = { generic = 8, fixed = 0 } }, capacity.parse("cpu:8"))
    assert.same({ cpu = { generic = 6, fixed = 1 }, other = { generic = 4, fixed = 0 } },
      capacity.parse("cpu:6+1,other:4"))
    local bad, err = capacity.parse("cpu=8")
    assert.is_nil(bad)
    assert.matches("PMU:GENERIC", err)
    local c, note = capacity.plan_counters({ hardware = false }, raw15(), { env = { AUTOPERF_COUNTERS = "cpu:8" } })
    assert.equal(8, c.cpu.generic)
    assert.equal(0, c.cpu.fixed)
    assert.equal("AUTOPERF_COUNTERS=cpu:8", note)
    local _, _, perr = capacity.plan_counters({}, raw15(), { env = { AUTOPERF_COUNTERS = "x" } })
    assert.matches("AUTOPERF_COUNTERS", perr)
  end)
end)

describe("planner on an arm64 PMU (6 programmable counters + the cycle counter)", function()
  local counters = { cpu = { generic = 6, fixed = 1, fixed_events = capacity.PROBES.aarch64.fixed_events } }

  it("plans 15 events in 3 runs, its lower bound", function()
    local p = assert(plan.make(raw15(), { counters = counters }))
    assert.equal(3, #p.runs)
    assert.equal(3, p.lower_bound)
  end)

  it("puts only cycles on the cycle counter", function()
    local p = assert(plan.make(raw15(), { counters = counters }))
    local on_fixed = 0
    for _, run in ipairs(p.runs) do
      for _, g in ipairs(run.groups) do
        for i, name in ipairs(plan.counter_names(g.counters)) do
          if name == "f0" then
            on_fixed = on_fixed + 1
            assert.equal(0x11, g.events[i].config)
          end
        end
      end
    end
    assert.is_true(on_fixed > 0)
    -- without cycles events the cycle counter stays unused: 12 events, 2 runs of 6
    local no_cycles = {}
    for _, ev in ipairs(raw15()) do
      if ev.config ~= 0x11 then no_cycles[#no_cycles + 1] = ev end
    end
    p = assert(plan.make(no_cycles, { counters = counters }))
    assert.equal(2, #p.runs)
    for _, run in ipairs(p.runs) do
      for _, name in ipairs(plan.counter_names(run.groups[1].counters)) do assert.matches("^g", name) end
    end
  end)
end)

describe("autoperf plan with AUTOPERF_COUNTERS", function()
  it("plans with the given counter count", function()
    local out, err, code = T.sh("AUTOPERF_COUNTERS=cpu:2 " .. T.quote(T.bin) .. " plan --json -e r8,r3,r4,r10")
    assert.equal(0, code, err)
    local p = util.json_decode(out)
    assert.equal(2, #p.runs)
  end)

  it("lets cycles, and only cycles, take the fixed counter it gives", function()
    local out, err, code = T.sh("AUTOPERF_COUNTERS=cpu:2+1 " .. T.quote(T.bin) .. " plan --csv -e r8,r3,r4,r10,cycles")
    assert.equal(0, code, err)
    assert.matches("\n1,cpu,1,f0,cpu%-cycles\n", out)
    assert.not_matches(",f0,r", out)
    local text = T.sh("AUTOPERF_COUNTERS=cpu:2+1 " .. T.quote(T.bin) .. " plan -e r8,r3,r4,r10,cycles")
    assert.matches("in 2 runs %(lower bound 2%)", text)
    assert.matches("counters: cpu 2 generic %+ 1 fixed %(AUTOPERF_COUNTERS=cpu:2%+1%)", text)
  end)

  it("refuses a malformed value in one line", function()
    local _, err, code = T.sh("AUTOPERF_COUNTERS=cpu " .. T.quote(T.bin) .. " plan -e r8")
    assert.equal(2, code)
    assert.matches("AUTOPERF_COUNTERS: 'cpu' is not PMU:GENERIC", err)
  end)
end)
