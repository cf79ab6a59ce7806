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

-- The other AMD families, rule by rule (pmu/amd.lua cites each kernel
-- function): counter counts, family 15h's counter masks, northbridge
-- events before family 15h, family 19h branch sampling. For each, the
-- simulator refuses at open what that kernel refuses, and a profile whose
-- planner was told a wrong model re-measures what the simulator refused
-- until every event is counted.
local amd = pmu.amd
local ap = require "autoperf"
local plan_mod = plan

local F15H = "amd64_fam15h_interlagos"
local F10H = "amd64_fam10h_barcelona"
local ZEN3 = "amd64_fam19h_zen3"
local ZEN4 = "amd64_fam19h_zen4"

-- Resolved catalog records of a chosen (simulated) model, by names.
local function records(model, names)
  local out = {}
  for i, n in ipairs(names) do
    local evs = assert(ap.events(model .. "::" .. n, { pmu = "sim:" .. model }))
    local found
    for _, e in ipairs(evs) do
      if e.name == model .. "::" .. n then found = e end
    end
    out[i] = assert(found, n)
  end
  return out
end

local function have(model)
  return core.pfm_pmus(model) ~= nil
end

-- A profile through the API on --pmu sim:MODEL; returns the manifest and
-- summary.csv rows (without the header).
local function profile(model, names, opts)
  local dir = T.tmpdir()
  local specs = {}
  for i, n in ipairs(names) do specs[i] = model .. "::" .. n end
  local o = { out = dir .. "/out", events = specs, interval_ms = 0, pmu = "sim:" .. model }
  for k, v in pairs(opts or {}) do o[k] = v end
  local r, err = ap.profile({ "true" }, o)
  assert.truthy(r, err)
  local m = cjson.decode(T.slurp(dir .. "/out/manifest.json"))
  assert(ap.aggregate(dir .. "/out"))
  local rows = T.csv(dir .. "/out/summary.csv")
  table.remove(rows, 1)
  T.rmtree(dir)
  return m, rows
end

local function all_ok(rows, n)
  assert.equal(n, #rows)
  for _, row in ipairs(rows) do
    assert.equal("ok", row[3], row[1])
    assert.equal("cpu:simulated", row[2], row[1])
  end
end

-- Runs planner once with the records' family 15h masks taken away (a
-- planner that does not know amd_get_event_constraints_f15h), then as it is.
local function with_maskless_first_plan(fn)
  local make, first = plan_mod.make, true
  plan_mod.make = function(evs, o)
    if not first then return make(evs, o) end
    first = false
    local saved = {}
    for _, ev in ipairs(evs) do
      if ev.counters and ev.counters.generic then
        saved[ev.counters] = ev.counters.generic
        ev.counters.generic = nil
      end
    end
    local p, err = make(evs, o)
    for c, g in pairs(saved) do c.generic = g end
    return p, err
  end
  local ok, res = pcall(fn)
  plan_mod.make = make
  if not ok then error(res, 0) end
  return res
end

describe("AMD counters per family (amd_pmu_init, amd_core_pmu_init)", function()
  local EXPECT = {
    amd64_k7 = 4, amd64_k8_revg = 4, amd64_fam10h_barcelona = 4, amd64_fam11h_turion = 4,
    amd64_fam12h_llano = 4, amd64_fam14h_bobcat = 4, amd64_fam16h = 4,
    amd64_fam15h_interlagos = 6, amd64_fam17h_zen1 = 6, amd64_fam17h_zen2 = 6,
    amd64_fam19h_zen3 = 6, amd64_fam19h_zen4 = 6,
  }

  it("gives 4 counters without perfctr_core, 6 with it, to chosen models (never reading CPUID)", function()
    local cpuid = core.cpuid
    core.cpuid = function() error("CPUID read for a chosen model") end
    local ok, err = pcall(function()
      for model, n in pairs(EXPECT) do
        local got, source = amd.counters(model, false)
        assert.equal(n, got, model)
        assert.truthy(source:match(n == 4 and "AMD64_NUM_COUNTERS" or "6"), source)
      end
    end)
    core.cpuid = cpuid
    assert(ok, err)
  end)

  it("the catalog's records of each model carry that count and its source", function()
    for model, n in pairs(EXPECT) do
      if have(model) then
        local evs = assert(ap.events(model .. "::", { pmu = model }))
        assert.is_true(#evs > 0, model)
        for _, e in ipairs(evs) do
          assert.equal(n, e.counters.generic_count, e.name)
          assert.equal(0, e.counters.fixed_count)
          assert.truthy(e.counters.source, e.name)
        end
      end
    end
  end)

  it("reads CPUID 0x80000022 EBX[3:0] on the host itself for Zen 4, or says why it fell back", function()
    local n, source = amd.counters(ZEN4, true)
    assert.is_true(n >= 1 and n <= 16)
    local a, b = core.cpuid(0x80000022, 0)
    if a and a & 1 == 1 then
      -- only if this CPU is AMD family 19h too
      assert.truthy(source:match("CPUID 0x80000022") or source:match("not of the model's family"), source)
    else
      assert.equal(6, n)
      assert.truthy(source:match("AMD64_NUM_COUNTERS_CORE"), source)
      -- the reason: the leaf is missing (this KVM guest) or reports no PerfMonV2
      assert.truthy(source:match(tostring(a and "no PerfMonV2" or b):gsub("%p", "%%%0")) or
        source:match("not of the model's family"), source)
    end
    -- a forced model never reads it, even of the host's family
    local _, forced = amd.counters(ZEN4, false)
    assert.truthy(forced:match("not read for a chosen model"), forced)
  end)

  it("hands PerfMonV2's count to the planner: a pair needs an even counter with its odd neighbour", function()
    -- 5 counters (a CPUID answer of 5): 2 pairs at most, g4 takes no pair
    local cp = { { counters = mask(0, 1, 2, 3, 4), shared = {} } }
    local evs = {}
    for i = 1, 3 do evs[i] = { pmu = 1, allowed = mask(0, 1, 2, 3, 4), pair = true } end
    local n, assign = core.plan(cp, evs)
    assert.equal(2, n)
    for i = 1, 3 do assert.is_true(assign[i].counter <= 2) end
  end)
end)

describe("AMD family 15h counter masks (amd_get_event_constraints_f15h)", function()
  local function cfg(code, umask) return ((code & 0xf00) << 24) | (code & 0xff) | ((umask or 0) << 8) end
  local ALL = { 0, 1, 2, 3, 4, 5 }

  it("match the kernel's table, exceptions included", function()
    local cases = {
      { 0x000, 0x11, { 3 } }, { 0x000, 0x01, { 3, 4, 5 } }, { 0x000, 0x10, { 3, 4, 5 } },
      { 0x004, 0x03, { 3 } }, { 0x004, 0x01, { 3, 4, 5 } }, { 0x003, 0x01, { 3 } }, { 0x00b, 0, { 3 } },
      { 0x00d, 0, { 3 } }, { 0x001, 0, { 3, 4, 5 } }, { 0x010, 0, { 3, 4, 5 } },
      { 0x023, 0, { 0, 1, 2 } }, { 0x02d, 0, { 3 } }, { 0x02e, 0, { 0, 3 } },
      { 0x031, 0x01, { 0, 1, 2 } }, { 0x031, 0x03, {} }, { 0x043, 0, { 0, 1, 2 } }, { 0x055, 0, { 0, 1, 2 } },
      { 0x1c0, 0, { 3, 4, 5 } }, { 0x020, 0, ALL }, { 0x0c0, 0, ALL }, { 0x040, 0, ALL },
      { 0x08f, 0, { 0 } }, { 0x187, 0, { 0 } }, { 0x188, 0, { 0 } }, { 0x076, 0, { 0, 1, 2 } },
      { 0x0d0, 0, { 0, 1, 2 } }, { 0x0db, 0, ALL }, { 0x0df, 0, ALL }, { 0x1d6, 0, ALL }, { 0x1d8, 0, ALL },
      { 0x0a0, 0, {} }, { 0x0b5, 0, {} }, { 0x0e0, 0, {} }, { 0x1f0, 0, {} },
    }
    for _, c in ipairs(cases) do
      assert.same(c[3], amd.f15h_counters(cfg(c[1], c[2])), string.format("0x%03x umask 0x%02x", c[1], c[2]))
    end
  end)

  it("are on libpfm4's fam15h records; 'autoperf stats' counts them; other families have none", function()
    if not have(F15H) then return pending("this libpfm4 lacks " .. F15H) end
    local out, err, code = T.autoperf("stats", "--pmu", F15H)
    assert.equal(0, code, err)
    assert.truthy(out:match("\n  0,1,2%s+102\n"), out)
    assert.truthy(out:match("\n  3,4,5%s+19\n"), out)
    assert.truthy(out:match("\n  3%s+11\n"), out)
    assert.truthy(out:match("amd%.f15h%-mask%s+132 "), out)
    out = T.autoperf("stats", "--pmu", "amd64_fam17h_zen2")
    assert.is_nil(out:match("amd%.f15h%-mask"))
  end)

  it("plan all of fam15h's events at the lower bound, each on a counter its mask allows", function()
    if not have(F15H) then return pending("this libpfm4 lacks " .. F15H) end
    local out, err, code = T.autoperf("plan", "--pmu", F15H, "--json")
    assert.equal(0, code, err)
    local j = cjson.decode(out)
    assert.equal(205, j.events)
    assert.equal(j.lower_bound, #j.runs)
    local masks = {}
    for _, e in ipairs(assert(ap.events(F15H .. "::", { pmu = F15H }))) do masks[e.name] = e.counters.generic end
    for _, run in ipairs(j.runs) do
      for _, g in ipairs(run.groups) do
        for k, name in ipairs(g.events) do
          local c = tonumber(g.counters[k]:match("^g(%d)$"))
          local ok = false
          for _, m in ipairs(masks[name]) do ok = ok or m == c end
          assert.is_true(ok, name .. " on g" .. c)
        end
      end
    end
  end)

  it("the simulator refuses at open a group the masks cannot place, as validate_group() does", function()
    if not have(F15H) then return pending("this libpfm4 lacks " .. F15H) end
    -- four events of PMC20 (counters 0-2), two of PMC3 (counter 3)
    local evs = records(F15H, { "UNIFIED_TLB_HIT:4K_DATA", "UNIFIED_TLB_HIT:2M_DATA", "UNIFIED_TLB_HIT:1G_DATA",
      "UNIFIED_TLB_HIT:4K_INST", "RETIRED_SSE_OPS:SINGLE_MUL_OPS", "RETIRED_SSE_OPS:SINGLE_ADD_SUB_OPS" })
    local pmus, hw = plan_mod.model(evs)
    local sim = core.sim_pmu({ counters = pmus[1].counters, shared = pmus[1].shared })
    local function facts(i) return { allowed = hw[i].allowed, pair = hw[i].pair } end
    local g = assert(sim:group(0, -1, true))
    for i = 1, 3 do assert.is_true(g:add({ type = 4, config = evs[i].config }, i, facts(i))) end
    -- six counters, four events: refused all the same
    local ok, _, errno = g:add({ type = 4, config = evs[4].config }, 4, facts(4))
    assert.is_nil(ok)
    assert.equal(22, errno)
    assert.is_true(g:add({ type = 4, config = evs[5].config }, 5, facts(5)))
    assert.is_nil((g:add({ type = 4, config = evs[6].config }, 6, facts(6))))
    g:close()
  end)

  it("a plan that ignored the masks is refused at open and re-measured until every event counts", function()
    if not have(F15H) then return pending("this libpfm4 lacks " .. F15H) end
    local names = { "UNIFIED_TLB_HIT:4K_DATA", "UNIFIED_TLB_HIT:2M_DATA", "UNIFIED_TLB_HIT:1G_DATA",
      "UNIFIED_TLB_HIT:4K_INST", "RETIRED_SSE_OPS:SINGLE_MUL_OPS", "RETIRED_SSE_OPS:SINGLE_ADD_SUB_OPS" }
    local m, rows = table.unpack(with_maskless_first_plan(function() return { profile(F15H, names) } end))
    -- the mask-blind plan: all six in one run of six counters
    assert.equal(6, #m.plan.runs[1].groups[1].events)
    -- 0-2 take the first three of PMC20, 3 the first of PMC3: the 4th of
    -- PMC20 and the 2nd of PMC3 are refused
    assert.equal(2, #m.replanned)
    for _, rp in ipairs(m.replanned) do
      assert.equal(1, rp.from_run)
      assert.truthy(rp.to_run and rp.to_run > 1)
      assert.matches("refused beside its group at open", rp.why)
    end
    all_ok(rows, 6)
  end)
end)

describe("AMD Zen pair events through the verification loop", function()
  it("a plan told 8 counters puts 4 pairs in a run; the simulated 6 refuse one; it is re-measured", function()
    if not have(ZEN2) then return pending("this libpfm4 lacks " .. ZEN2) end
    local names = {}
    for i = 1, 4 do names[i] = "RETIRED_SSE_AVX_FLOPS:" .. FLOPS[i] end
    -- without the pair rule 4 events fit 6 counters: the refusal is the rule's
    local m, rows = profile(ZEN2, names, { counters = { cpu = { generic = 8, fixed = 0 } } })
    assert.equal(4, #m.plan.runs[1].groups[1].events)
    assert.equal(1, #m.replanned)
    assert.equal(1, m.replanned[1].from_run)
    assert.equal(2, m.replanned[1].to_run)
    assert.matches("refused beside its group at open", m.replanned[1].why)
    all_ok(rows, 4)
  end)
end)

describe("AMD northbridge events before family 15h (amd_get_event_constraints)", function()
  local NB = { "DRAM_ACCESSES_PAGE:HIT", "DRAM_ACCESSES_PAGE:MISS", "DRAM_ACCESSES_PAGE:CONFLICT",
    "MEMORY_CONTROLLER_REQUESTS:WRITE_REQUESTS" }

  it("are event codes 0xe0-0xff of families before 15h only", function()
    local function ev(model, config) return { model = model, type = 4, config = config } end
    assert.is_true(amd.is_nb(ev(F10H, 0x1e0)))
    assert.is_true(amd.is_nb(ev("amd64_k8_revg", 0xff)))
    assert.is_true(amd.is_nb(ev("amd64_fam14h_bobcat", 0x4e0)))
    assert.is_false(amd.is_nb(ev(F10H, 0xc0)))
    assert.is_false(amd.is_nb(ev(F10H, 0xd0)))
    assert.is_false(amd.is_nb(ev(F15H, 0xe0)))
    assert.is_false(amd.is_nb(ev(ZEN3, 0xe0)))
  end)

  it("are never refused at open (a fake cpuc takes no NB slot): four fill one run, counted the whole time", function()
    if not have(F10H) then return pending("this libpfm4 lacks " .. F10H) end
    local evs = records(F10H, NB)
    for _, e in ipairs(evs) do assert.is_true(amd.is_nb(e), e.name) end
    local p = assert(plan_mod.make(evs))
    assert.equal(1, #p.runs)
    local m, rows = profile(F10H, NB)
    assert.equal(1, #m.plan.runs)
    assert.is_nil(m.replanned)
    all_ok(rows, 4)
    local out = T.autoperf("stats", "--pmu", F10H)
    assert.truthy(out:match("amd%.nb%s+%d+ "), out)
  end)
end)

describe("AMD family 19h branch sampling (amd_get_event_constraints_f19h)", function()
  local E = "RETIRED_TAKEN_BRANCH_INSTRUCTIONS" -- 0xc4, AMD_FAM19H_BRS_EVENT

  it("pins no counting event: six 0xc4 events fit one run of Zen 3's six counters", function()
    if not have(ZEN3) then return pending("this libpfm4 lacks " .. ZEN3) end
    local names = { E, E .. ":u", E .. ":k", E .. ":h", E .. ":uk", E .. ":kh" }
    local specs = {}
    for i, n in ipairs(names) do specs[i] = ZEN3 .. "::" .. n end
    local out, err, code = T.autoperf("plan", "--pmu", ZEN3, "--json", "-e", table.concat(specs, ","))
    assert.equal(0, code, err)
    local j = cjson.decode(out)
    assert.equal(1, #j.runs)
    assert.equal(1, j.lower_bound)
    for _, e in ipairs(records(ZEN3, { E })) do
      assert.equal(0xc4, amd.event_code(e.config))
      for _, r in ipairs(pmu.rules()) do
        if r.id == "amd.brs" then assert.is_false(r.applies(e)) end
      end
    end
    local m, rows = profile(ZEN3, names)
    assert.equal(1, #m.plan.runs)
    assert.is_nil(m.replanned)
    all_ok(rows, 6)
  end)
end)
