-- AMD Zen (family 17h and later): "large increment per cycle" events
-- (RETIRED_SSE_AVX_FLOPS, event code 0x003) take an even counter and the
-- odd one beside it (arch/x86/events/amd/core.c: amd_core_pmu_init's
-- pair_constraint, amd_get_event_constraints_f17h; arch/x86/events/core.c:
-- __perf_sched_find_counter reserves idx + 1). Planner, lower bound,
-- simulator and 'autoperf stats'.
local core = require "autoperf.core"
local plan = require "autoperf.plan"
local pmu = require "autoperf.pmu"
local pmustats = require "autoperf.pmustats"
local cjson = require "cjson"
local T = require "spec.support"

local ZEN2 = "amd64_fam17h_zen2"
local FLOPS = { "ADD_SUB_FLOPS", "MULT_FLOPS", "DIV_FLOPS", "MAC_FLOPS", "ANY" }
local UMASK = { ADD_SUB_FLOPS = 0x1, MULT_FLOPS = 0x2, DIV_FLOPS = 0x4, MAC_FLOPS = 0x8, ANY = 0xf }

-- A libpfm4 core event of model m as the catalog builds it.
local function pfm(name, config, m)
  m = m or ZEN2
  return { name = m .. "::" .. name, pmu = "cpu", model = m, source = "libpfm4", type = 4,
           config = config, config1 = 0, hardware = true,
           counters = { generic_count = 6, fixed_count = 0 } }
end

local function flops(i, m)
  local u = FLOPS[(i - 1) % #FLOPS + 1]
  return pfm("RETIRED_SSE_AVX_FLOPS:" .. u .. (i > #FLOPS and (":k" .. i) or ""), (UMASK[u] << 8) | 0x03, m)
end

local function other(i, m)
  return pfm("OTHER" .. i, 0xc0 + i, m)
end

-- Per run: the counters its pair events use, and every counter used.
local function layout(p)
  local out = {}
  for r, run in ipairs(p.runs) do
    local pairs_at, used = {}, {}
    for _, g in ipairs(run.groups) do
      for k, ev in ipairs(g.events) do
        local c = g.counters[k]
        used[c] = (used[c] or 0) + 1
        if ev.name:match("RETIRED_SSE_AVX_FLOPS") then pairs_at[#pairs_at + 1] = c end
      end
    end
    out[r] = { pairs = pairs_at, used = used }
  end
  return out
end

local function mask(...)
  local m = 0
  for _, c in ipairs({ ... }) do m = m | (1 << c) end
  return m
end

describe("AMD Zen 2+ pair events", function()
  it("are the event code 0x003 events of family 17h and later models only", function()
    assert.is_true(pmu.is_pair(flops(1)))
    assert.is_true(pmu.is_pair(flops(1, "amd64_fam19h_zen3")))
    assert.is_true(pmu.is_pair(flops(1, "amd64_fam19h_zen4")))
    -- the kernel's test is family >= 0x17 (amd_core_pmu_init), so Zen 1 too
    assert.is_true(pmu.is_pair(flops(1, "amd64_fam17h_zen1")))
    assert.is_false(pmu.is_pair(flops(1, "amd64_fam16h")))
    assert.is_false(pmu.is_pair(other(1)))
    assert.is_false(pmu.is_pair(flops(1, "amd64_fam15h")))
    assert.is_false(pmu.is_pair(flops(1, "skl")))
  end)

  describe("planner", function()
    it("never puts more than 3 pair events in one run of 6 counters, each on an even counter", function()
      local evs = {}
      for i = 1, 5 do evs[i] = flops(i) end
      local p = assert(plan.make(evs))
      assert.equal(2, #p.runs)
      for _, run in ipairs(layout(p)) do
        assert.is_true(#run.pairs <= 3)
        for _, c in ipairs(run.pairs) do assert.equal(0, c % 2, "pair event on odd counter g" .. c) end
      end
    end)

    it("leaves each pair event's odd neighbour free for other events", function()
      local evs = {}
      for i = 1, 3 do evs[#evs + 1] = flops(i) end
      for i = 1, 4 do evs[#evs + 1] = other(i) end
      local p = assert(plan.make(evs))
      assert.equal(2, #p.runs) -- 3 pairs take 6 counters, 4 others
      for _, run in ipairs(layout(p)) do
        for _, c in ipairs(run.pairs) do
          assert.is_nil(run.used[c + 1], "odd neighbour g" .. (c + 1) .. " of a pair event taken")
        end
        local n = 0
        for _ in pairs(run.used) do n = n + 1 end
        assert.is_true(n + #run.pairs <= 6)
      end
    end)

    it("fits 2 pair events beside 2 others, not beside 3 (the lower bound knows)", function()
      local evs = { flops(1), flops(2), other(1), other(2) }
      assert.equal(1, #assert(plan.make(evs)).runs)
      evs[#evs + 1] = other(3)
      local p = assert(plan.make(evs))
      assert.equal(2, #p.runs)
      assert.equal(2, p.lower_bound)
    end)

    it("counts pair events in the lower bound (5 on Zen 2: 2 runs)", function()
      local evs = {}
      for i = 1, 5 do evs[i] = flops(i) end
      assert.equal(2, assert(plan.make(evs)).lower_bound)
      for i = 6, 7 do evs[i] = flops(i) end
      local p = assert(plan.make(evs))
      assert.equal(3, p.lower_bound)
      assert.equal(3, #p.runs)
    end)

    it("plans the C model generically: pair = an even counter and the next one", function()
      local cp = { { counters = mask(0, 1, 2, 3), shared = {} } }
      local evs = {}
      for i = 1, 3 do evs[i] = { pmu = 1, allowed = mask(0, 1, 2, 3), pair = true } end
      local n, assign = core.plan(cp, evs)
      assert.equal(2, n)
      for i = 1, 3 do assert.equal(0, assign[i].counter % 2) end
      assert.equal(2, core.plan_lower_bound(cp, evs))
      -- a checked plan that puts two pairs on 4 counters beside a third event is refused
      for i = 1, 3 do evs[i].run = 1 end
      assert.is_false((core.plan_check(cp, evs)))
    end)

    it("autoperf plan --pmu amd64_fam17h_zen2 with five FLOPS umasks: 2 runs, even counters", function()
      local args = { "plan", "--pmu", ZEN2, "--json" }
      for _, u in ipairs(FLOPS) do
        args[#args + 1] = "-e"
        args[#args + 1] = ZEN2 .. "::RETIRED_SSE_AVX_FLOPS:" .. u
      end
      local out, err, code = T.autoperf(table.unpack(args))
      if code ~= 0 and err:match("unknown") then return pending("this libpfm4 lacks " .. ZEN2) end
      assert.equal(0, code, err)
      local j = cjson.decode(out)
      assert.equal(2, #j.runs)
      assert.equal(2, j.lower_bound)
      for _, run in ipairs(j.runs) do
        local n = 0
        for _, g in ipairs(run.groups) do
          for _, c in ipairs(g.counters) do
            n = n + 1
            assert.truthy(c:match("^g[024]$"), c)
          end
        end
        assert.is_true(n <= 3)
      end
    end)
  end)

  describe("simulated PMU", function()
    local GP6 = mask(0, 1, 2, 3, 4, 5)
    local function raw(config) return { type = 4, config = config } end
    local function group()
      local p = core.sim_pmu({ counters = GP6 })
      return assert(p:group(0, -1, true)), p
    end

    it("refuses a fourth pair event at open (EINVAL, as the kernel)", function()
      local g = group()
      for i = 1, 3 do assert.is_true(g:add(raw(0x103 + i * 0x100), i, { allowed = GP6, pair = true })) end
      local ok, _, errno = g:add(raw(0xf03), 4, { allowed = GP6, pair = true })
      assert.is_nil(ok)
      assert.equal(22, errno)
      assert.equal(3, g:size())
      -- and no other event beside three pairs
      assert.is_nil(g:add(raw(0xc0), 5, { allowed = GP6 }))
      g:close()
    end)

    it("refuses a pair event beside 5 others, takes it beside 4", function()
      local g = group()
      for i = 1, 5 do assert.is_true(g:add(raw(0xc0 + i), i, { allowed = GP6 })) end
      local ok, _, errno = g:add(raw(0x103), 6, { allowed = GP6, pair = true })
      assert.is_nil(ok)
      assert.equal(22, errno)
      g:close()
      local h = group()
      for i = 1, 4 do assert.is_true(h:add(raw(0xc0 + i), i, { allowed = GP6 })) end
      assert.is_true(h:add(raw(0x103), 5, { allowed = GP6, pair = true }))
      h:close()
    end)
  end)

  it("planner and simulator agree on random mixes of pairs and others (at the lower bound)", function()
    math.randomseed(15)
    for _ = 1, 200 do
      local n = math.random(2, 8)
      local all = (1 << n) - 1
      local cp = { { counters = all, shared = {} } }
      local evs = {}
      for i = 1, math.random(1, 20) do evs[i] = { pmu = 1, allowed = all, pair = math.random() < 0.4 } end
      local nruns, assign = core.plan(cp, evs)
      assert.equal(core.plan_lower_bound(cp, evs), nruns)
      local sim = core.sim_pmu({ counters = all })
      for r = 1, nruns do
        local g = assert(sim:group(0, -1, true))
        local held = 0
        for i, a in ipairs(assign) do
          if a.run == r then
            local bits = (evs[i].pair and 3 or 1) << a.counter
            assert.equal(0, held & bits, "counter taken twice")
            if evs[i].pair then assert.equal(0, a.counter % 2) end
            held = held | bits
            assert.is_true(g:add({ type = 4, config = i }, i, { allowed = all, pair = evs[i].pair }))
          end
        end
        assert.equal(0, held & ~all)
        g:close()
      end
    end
  end)

  it("a profile on --pmu sim:amd64_fam17h_zen2 counts five FLOPS events in 2 runs, the whole time", function()
    local args = { "profile", "--pmu", "sim:" .. ZEN2, "-o" }
    local dir = T.tmpdir()
    args[#args + 1] = dir .. "/p"
    for _, u in ipairs(FLOPS) do
      args[#args + 1] = "-e"
      args[#args + 1] = ZEN2 .. "::RETIRED_SSE_AVX_FLOPS:" .. u
    end
    args[#args + 1] = "--"
    args[#args + 1] = "/bin/true"
    local _, err, code = T.autoperf(table.unpack(args))
    T.rmtree(dir)
    if code ~= 0 and err:match("knows no PMU model") then return pending("this libpfm4 lacks " .. ZEN2) end
    assert.equal(0, code, err)
    assert.truthy(err:match("5 events in 2 runs"), err)
    assert.truthy(err:match("counted the whole time"), err)
  end)

  describe("autoperf stats", function()
    it("shows how many events of a model are pair events", function()
      local s = pmustats.compute({ flops(1), flops(2), other(1) })
      assert.equal(1, #s)
      assert.equal(2, s[1].pair)
      assert.truthy(pmustats.format(s):match("pair events %(even counter %+ the odd beside it%): 2"))
      assert.truthy(pmustats.csv(s):match('pair,"even%+odd",2'))
    end)
  end)
end)
