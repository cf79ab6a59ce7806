-- Topdown on Ice Lake and later: TOPDOWN.SLOTS and the kernel's
-- PERF_METRICS metric events (cpu/slots/, cpu/topdown-*/), their rules
-- as the kernel enforces them (arch/x86/events/intel/core.c:
-- intel_pmu_hw_config()), the planner's slots-led groups, and every
-- metric of the Ice Lake and later metric files on a simulated PMU.
local T = require "spec.support"
local core = require "autoperf.core"
local cjson = require "cjson"
local catalog = require "autoperf.catalog"
local intel = require "autoperf.pmu.intel"
local plan = require "autoperf.plan"

local DATA = T.pmu_data
local FIXED = core.FIXED_SHIFT
local EINVAL = core.errno.EINVAL

local function have(f) return io.open(DATA .. "/" .. f) ~= nil end
local function path(f) return DATA .. "/" .. f end

local function cat_of(...)
  local files = {}
  for i, f in ipairs({ ... }) do files[i] = path(f) end
  return assert(catalog.load({ pmu = "sim:" .. table.concat(files, ","), no_cache = true }))
end

local function one(cat, name)
  local evs, err = catalog.select(cat, { name })
  assert(evs, err)
  assert.equal(1, #evs, name)
  return evs[1]
end

describe("topdown events", function()
  if not (have("icelakex_core.json") and have("sapphirerapids_core.json") and have("alderlake_goldencove_core.json")) then
    it("has Intel's files to read", function() pending("no Ice Lake and later event files in " .. DATA) end)
    return
  end

  it("are the kernel's: 4 metric events on Ice Lake-SP, 8 on Sapphire Rapids and Alder Lake's P-cores, none elsewhere", function()
    local want = { ["icelakex_core.json"] = 4, ["sapphirerapids_core.json"] = 8, ["alderlake_goldencove_core.json"] = 8,
                   ["alderlake_gracemont_core.json"] = 0, ["skylakex_core.json"] = 0 }
    for f, n in pairs(want) do
      if have(f) then
        local cat = cat_of(f)
        local got = {}
        for _, ev in ipairs(cat.events) do
          if ev.name:match("^PERF_METRICS%.") then got[#got + 1] = ev end
        end
        assert.equal(n, #got, f)
        for _, ev in ipairs(got) do
          -- event 0x00, umask 0x80 + n (INTEL_TD_METRIC_*), a pseudo fixed
          -- counter of its own, no general counter, counted simulated
          assert.equal(0, ev.config & 0xff, ev.name)
          local k = (ev.config >> 8) - 0x80
          assert.truthy(k >= 0 and k < n, ev.name)
          assert.same({ intel.METRIC_BASE + k }, ev.counters.pseudo)
          assert.same({}, ev.counters.generic)
          assert.is_true(ev.simulated)
        end
      end
    end
  end)

  it("resolve by perfmon's and by the kernel's (perf's) names to the same encoding", function()
    local cat = cat_of("sapphirerapids_core.json")
    local pairs_ = { { "PERF_METRICS.FRONTEND_BOUND", "cpu/topdown-fe-bound/", 0x8200 },
                     { "PERF_METRICS.RETIRING", "topdown-retiring", 0x8000 },
                     { "PERF_METRICS.MEMORY_BOUND", "cpu/topdown-mem-bound/", 0x8700 },
                     { "TOPDOWN.SLOTS", "cpu/slots/", 0x0400 } }
    for _, p in ipairs(pairs_) do
      local a, b = one(cat, p[1]), one(cat, p[2])
      assert.equal(p[1], a.name)
      assert.equal(a.name, b.name, p[2])
      assert.equal(p[3], a.config)
      assert.equal(4, a.type)
    end
    -- Ice Lake's kernel has no level-2 metric events
    local ok, err = catalog.select(cat_of("icelakex_core.json"), { "PERF_METRICS.HEAVY_OPERATIONS" })
    assert.is_nil(ok)
    assert.matches("unknown event", err)
    -- a hybrid part's P-core half names them cpu_core/...
    local adl = cat_of("alderlake_goldencove_core.json", "alderlake_gracemont_core.json")
    assert.equal("PERF_METRICS.BAD_SPECULATION", one(adl, "cpu_core/topdown-bad-spec/").name)
    assert.equal("cpu_core", one(adl, "cpu_core/topdown-bad-spec/").pmu)
  end)
end)

describe("the kernel's own topdown events (sysfs, a real Ice Lake)", function()
  it("get the same counters and group rule: cpu/slots/ leads cpu/topdown-*/ on their pseudo counters", function()
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    os.execute("mkdir -p " .. T.quote(dir .. "/cpu/format") .. " " .. T.quote(dir .. "/cpu/events"))
    T.write(dir .. "/cpu/type", "4\n")
    T.write(dir .. "/cpu/format/event", "config:0-7\n")
    T.write(dir .. "/cpu/format/umask", "config:8-15\n")
    T.write(dir .. "/cpu/events/slots", "event=0x00,umask=0x4\n")
    T.write(dir .. "/cpu/events/topdown-retiring", "event=0x00,umask=0x80\n")
    T.write(dir .. "/cpu/events/topdown-be-bound", "event=0x00,umask=0x83\n")
    T.write(dir .. "/cpu/events/topdown-nonsense", "event=0x00,umask=0x83\n") -- no kernel name: no rule
    local cat = assert(catalog.load({ sysfs = dir, no_cache = true, hardware = true }))
    local ret, be, slots = one(cat, "cpu/topdown-retiring/"), one(cat, "cpu/topdown-be-bound/"), one(cat, "cpu/slots/")
    assert.same({ intel.METRIC_BASE }, ret.counters.pseudo)
    assert.same({ intel.METRIC_BASE + 3 }, be.counters.pseudo)
    assert.same({ 3 }, slots.counters.fixed)
    assert.is_nil(one(cat, "cpu/topdown-nonsense/").topdown)
    local p = assert(plan.make({ ret, be, slots }, { counters = { cpu = { generic = 8, fixed = 4 } } }))
    assert.equal(1, #p.runs)
    local g = p.runs[1].groups[1]
    assert.equal("cpu/slots/", g.events[1].name)
    assert.same({ FIXED + 3, FIXED + intel.METRIC_BASE, FIXED + intel.METRIC_BASE + 3 }, g.counters)
  end)
end)

describe("the simulated PMU's topdown rules (intel_pmu_hw_config())", function()
  -- a PMU as Ice Lake: 8 generic, 4 fixed, 4 metric pseudo counters;
  -- facts as plan.model gives them (lead/needs: class 1)
  local GP8 = (1 << 8) - 1
  local MB = FIXED + intel.METRIC_BASE
  local function icx()
    return core.sim_pmu({ counters = GP8 | (0xf << FIXED) | (0xf << MB) })
  end
  local SLOTS = { allowed = 1 << (FIXED + 3), lead = 1 }
  local function metric(k, extra)
    local f = { allowed = 1 << (MB + k), needs = 1, share_num = intel.TOPDOWN_METRICS[k + 1].share,
                share_den = intel.METRIC_SHARE_DEN }
    for key, v in pairs(extra or {}) do f[key] = v end
    return f
  end
  local function raw(config, extra)
    local a = { type = 4, config = config }
    for k, v in pairs(extra or {}) do a[k] = v end
    return a
  end
  local function group(p) return assert(p:group(0, -1, true)) end
  -- A group of icx() led by slots (tag 1); with metrics, the 4 level-1
  -- metric events follow it (tags 2-5).
  local function slots_group(metrics)
    local g = group(icx())
    assert.is_true(g:add(raw(0x0400), 1, SLOTS))
    if metrics then
      for k = 0, 3 do assert.is_true(g:add(raw(0x8000 + (k << 8)), 2 + k, metric(k))) end
    end
    return g
  end
  -- g refuses the event with EINVAL
  local function refused(g, attr, tag, facts)
    local ok, _, errno = g:add(attr, tag, facts)
    assert.is_nil(ok)
    assert.equal(EINVAL, errno)
  end

  it("refuses a metric event that leads its group, or whose leader is not slots (EINVAL)", function()
    local g = group(icx())
    refused(g, raw(0x8000), 1, metric(0))
    assert.is_true(g:add(raw(0x3c), 2, { allowed = GP8 })) -- cycles leads
    refused(g, raw(0x8000), 3, metric(0))
    assert.equal(1, g:size())
    g:close()
  end)

  it("accepts metric events behind a slots leader, beside general events, on no general counter", function()
    local g = slots_group(true)
    -- all 8 general counters are still free
    for i = 1, 8 do assert.is_true(g:add(raw(0x10 + i), 10 + i, { allowed = GP8 })) end
    -- a second retiring event: its one pseudo counter is taken
    refused(g, raw(0x8000), 30, metric(0))
    g:close()
  end)

  it("refuses sampling metric events and metric events behind a sampling slots leader", function()
    local g = slots_group()
    refused(g, raw(0x8000, { sample_period = 10000 }), 2, metric(0))
    assert.is_true(g:add(raw(0x8000), 3, metric(0)))
    g:close()
    g = group(icx())
    assert.is_true(g:add(raw(0x0400, { sample_period = 10000 }), 1, SLOTS)) -- slots alone may sample
    refused(g, raw(0x8100), 2, metric(1))
    g:close()
  end)

  it("refuses topdown events with a filter or config1 (the facts' refuse)", function()
    local td = { topdown = { needs = "topdown", pseudo = { 16 } }, config = 0x8000 | (1 << 24), config1 = 0 }
    assert.matches("filter", intel.topdown(td).refuse)
    td.config, td.config1 = 0x8000, 5
    assert.matches("config1", intel.topdown(td).refuse)
    td.config1 = 0
    assert.is_nil(intel.topdown(td).refuse)
    -- the planner says so before anything opens
    local ev = { name = "PERF_METRICS.RETIRING:c1", pmu = "cpu", model = "icx", source = "kernel", type = 4,
                 config = 0x8000 | (1 << 24), counters = { generic = {}, fixed = {}, pseudo = { 16 } },
                 topdown = { needs = "topdown", pseudo = { 16 } } }
    local slots = { name = "TOPDOWN.SLOTS", pmu = "cpu", model = "icx", source = "perfmon", type = 4, config = 0x400,
                    counters = { generic = {}, fixed = { 3 } }, topdown = { lead = "topdown" } }
    local p, perr = plan.make({ slots, ev })
    assert.is_nil(p)
    assert.matches("PERF_METRICS.RETIRING:c1 can never be counted: a topdown event takes no filter", perr)
    ev.config = 0x8000
    assert.truthy(plan.make({ slots, ev }))
    local g = slots_group()
    refused(g, raw(0x8000 | (1 << 24)), 2, metric(0, { refuse = true }))
    g:close()
  end)

  it("counts the level-1 metrics as shares of slots that sum to slots (slots x byte / 0xff)", function()
    local g = slots_group(true)
    assert(g:enable(true))
    local x = 0
    for i = 1, 2000000 do x = x + i % 7 end
    assert(g:disable())
    local _, _, v = g:read()
    assert.truthy(v[1] > 0)
    local sum = 0
    for k = 0, 3 do
      assert.equal(v[1] * intel.TOPDOWN_METRICS[k + 1].share // 0xff, v[2 + k])
      sum = sum + v[2 + k]
    end
    assert.truthy(v[1] - sum >= 0 and v[1] - sum <= 3, v[1] .. " vs " .. sum)
    g:close()
  end)
end)

describe("the planner's topdown groups", function()
  it("needs a leader in a metric event's group (core.plan, core.plan_check)", function()
    local pmus = { { counters = 0xff | (0xf << FIXED) | (0xf << (FIXED + 16)) } }
    local slots = { pmu = 1, allowed = 1 << (FIXED + 3), lead = 1 }
    local m = { pmu = 1, allowed = 1 << (FIXED + 16), needs = 1 }
    local nruns, msg = core.plan(pmus, { m })
    assert.is_nil(nruns)
    assert.matches("leader", msg)
    local g1, g2 = { group = 7 }, { group = 7 }
    for k, v in pairs(slots) do g1[k] = v end
    for k, v in pairs(m) do g2[k] = v end
    nruns = core.plan(pmus, { g2, g1 })
    assert.equal(1, nruns)
    -- a plan's run: the ungrouped metric event without its leader is infeasible
    assert.is_false((core.plan_check(pmus, { { pmu = 1, allowed = m.allowed, needs = 1, run = 1 } })))
    assert.is_true(core.plan_check(pmus, { { pmu = 1, allowed = m.allowed, needs = 1, run = 1 },
                                           { pmu = 1, allowed = slots.allowed, lead = 1, run = 1 } }))
  end)

  if not have("sapphirerapids_core.json") then
    it("has Intel's files to read", function() pending("no " .. path("sapphirerapids_core.json")) end)
    return
  end

  it("put every metric event in a group led by TOPDOWN.SLOTS, on its pseudo counter", function()
    local out, err, code = T.autoperf("plan", "--json", "--pmu", "sim:" .. path("sapphirerapids_core.json"))
    assert.equal(0, code, err)
    local p = cjson.decode(out)
    local seen = 0
    for _, run in ipairs(p.runs) do
      for _, g in ipairs(run.groups) do
        for i, name in ipairs(g.events) do
          if name:match("^PERF_METRICS%.") then
            seen = seen + 1
            -- (the slots anchor stays the anchor: a slots event of its own leads)
            assert.equal("TOPDOWN.SLOTS#lead", g.events[1], name .. " led by " .. g.events[1])
            assert.equal("f3", g.counters[1])
            local f = tonumber(g.counters[i]:match("^f(%d+)$"))
            assert.truthy(f and f >= intel.METRIC_BASE, name .. " on " .. g.counters[i])
          end
        end
      end
    end
    assert.equal(8, seen)
    local anchored = false
    for _, g in ipairs(p.anchors) do
      for _, name in ipairs(g.events) do anchored = anchored or name == "TOPDOWN.SLOTS" end
    end
    assert.is_true(anchored, "TOPDOWN.SLOTS is still an anchor")
  end)

  it("add TOPDOWN.SLOTS where nothing leads, and refuse a user's group without it", function()
    local sim = "sim:" .. path("icelakex_core.json")
    local out, err, code = T.autoperf("plan", "--json", "--anchor", "none", "--pmu", sim, "-e", "PERF_METRICS.RETIRING")
    assert.equal(0, code, err)
    assert.same({ "TOPDOWN.SLOTS", "PERF_METRICS.RETIRING" }, cjson.decode(out).runs[1].groups[1].events)
    out, err, code = T.autoperf("plan", "--pmu", sim, "-e", "{PERF_METRICS.RETIRING,INST_RETIRED.ANY}")
    assert.equal(1, code)
    assert.matches("PERF_METRICS.RETIRING can never be counted: the kernel counts it only in a group led by TOPDOWN.SLOTS",
      out .. err)
    -- the plan's own model: no metric event on a general counter
    local cat = cat_of("icelakex_core.json")
    local _, hw = plan.model({ one(cat, "PERF_METRICS.RETIRING"), one(cat, "TOPDOWN.SLOTS") })
    assert.equal(0, hw[1].allowed & ((1 << FIXED) - 1))
    assert.truthy(hw[1].needs > 0 and hw[1].needs == hw[2].lead)
  end)
end)

describe("Ice Lake and later metric files on a simulated PMU", function()
  -- core file, uncore file where shared; what cannot compute: events of
  -- an uncore file not in ../shared (Ice Lake-SP's, Alder Lake's) and
  -- RAPL's energy counters, which no catalog source names
  local PARTS = {
    { "icelakex_metrics.json", { "icelakex_core.json" } },
    { "sapphirerapids_metrics.json", { "sapphirerapids_core.json", "sapphirerapids_uncore.json" } },
    { "alderlake_metrics_goldencove_core.json", { "alderlake_goldencove_core.json" } },
  }
  local ABSENT = { "^UNC_", "^FREERUN_" }
  for _, part in ipairs(PARTS) do
    local file, models = part[1], part[2]
    it("computes every metric of " .. file .. " but those over events the shared data lacks", function()
      for _, m in ipairs(models) do
        if not have(m) then return pending("no " .. path(m)) end
      end
      if not have(file) then return pending("no " .. path(file)) end
      local uncore = #models > 1
      if uncore and not require("autoperf.machine").access().system_wide then
        return pending("uncore events count system-wide only (-a needs perf_event_paranoid <= 0 or CAP_PERFMON)")
      end
      local dir = T.tmpdir()
      finally(function() T.rmtree(dir) end)
      local sims = {}
      for i, m in ipairs(models) do sims[i] = path(m) end
      local args = { "profile", "-q", "-o", dir .. "/p", "-I", "0", "--pmu", "sim:" .. table.concat(sims, ","),
                     "--metrics", path(file), "--", "true" }
      if uncore then table.insert(args, 2, "-a") end
      local _, err, code = T.autoperf(table.unpack(args))
      assert.equal(0, code, err)
      local j, jerr, jcode = T.autoperf("metrics", dir .. "/p", "--json")
      assert.equal(0, jcode, jerr)
      local res = cjson.decode(j)
      local by, n, topdown = {}, 0, 0
      local doc = cjson.decode(T.slurp(path(file)))
      local uses = {}
      for _, m in ipairs(doc.Metrics) do
        for _, e in ipairs(m.Events or {}) do
          if e.Name:match("^PERF_METRICS%.") then uses[m.MetricName] = true end
        end
      end
      for _, m in ipairs(res.metrics) do
        n = n + 1
        by[m.name] = m
        assert.is_true(m.simulated)
        if m.status:match("^not computed") then
          assert.truthy(#m.missing > 0, m.name)
          for _, e in ipairs(m.missing) do
            local absent = false
            for _, pat in ipairs(ABSENT) do absent = absent or e:match(pat) ~= nil end
            assert.is_true(absent, file .. ": " .. m.name .. " lacks " .. e)
          end
          assert.is_nil(uses[m.name], m.name .. " uses PERF_METRICS and was not computed")
        else
          assert.equal("number", type(m.value), file .. ": " .. m.name)
          if uses[m.name] then topdown = topdown + 1 end
        end
      end
      assert.equal(#doc.Metrics, n)
      local nuses = 0
      for _ in pairs(uses) do nuses = nuses + 1 end
      assert.equal(nuses, topdown) -- every metric over PERF_METRICS computes
      -- TMA level 1 splits the slots: the four nodes sum to 100 %
      local sum = 0
      for _, name in ipairs({ "Frontend_Bound", "Bad_Speculation", "Backend_Bound", "Retiring" }) do
        local v = by[name].value
        assert.truthy(v >= 0 and v <= 100, name .. " = " .. v)
        sum = sum + v
      end
      assert.truthy(math.abs(sum - 100) < 0.01, "level 1 sums to " .. sum)
    end)
  end
end)
