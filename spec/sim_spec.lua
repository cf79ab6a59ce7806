-- The simulated PMU (--pmu sim:MODEL): groups validated against the
-- model like the kernel validates a real PMU's, deterministic synthetic
-- counts from the real task-clock, labelled simulated everywhere.
local T = require "spec.support"
local core = require "autoperf.core"
local cjson = require "cjson"
local pmu = require "autoperf.pmu"

local DATA = T.pmu_data
local FIXED = core.FIXED_SHIFT

local function mask(...)
  local m = 0
  for _, c in ipairs({ ... }) do m = m | (1 << c) end
  return m
end

local GP4 = mask(0, 1, 2, 3)
-- the shared registers by index, as the PMU models hand them over
local OFFCORE, LDLAT, FRONTEND = pmu.SHARED_INDEX.offcore, pmu.SHARED_INDEX.ldlat, pmu.SHARED_INDEX.frontend

-- A PMU of 4 generic and 3 fixed counters, as Skylake with HT on.
local function skl_like()
  return core.sim_pmu({ counters = GP4 | (7 << FIXED), shared = pmu.shared_regs() })
end

local function raw(config, config1)
  return { type = 4, config = config, config1 = config1 or 0 }
end

-- A group on ourselves (counting starts with enable).
local function group(pmu)
  return assert(pmu:group(0, -1, true))
end

describe("simulated PMU", function()
  it("refuses a fifth event on four generic counters, like the kernel (EINVAL)", function()
    local g = group(skl_like())
    for i = 1, 4 do assert.is_true(g:add(raw(0x10 + i), i, { allowed = GP4 })) end
    local ok, err, errno = g:add(raw(0x20), 5, { allowed = GP4 })
    assert.is_nil(ok)
    assert.equal(core.errno.EINVAL, errno)
    assert.matches("Invalid argument", err)
    assert.equal(4, g:size()) -- unchanged
    -- a fixed-counter event still fits
    assert.is_true(g:add(raw(0xc0), 6, { allowed = mask(FIXED) }))
    g:close()
  end)

  it("places events by matching, not first come first served", function()
    local g = group(skl_like())
    assert.is_true(g:add(raw(1), 1, { allowed = mask(0, 1) }))
    assert.is_true(g:add(raw(2), 2, { allowed = mask(0) })) -- moves the first to counter 1
    local ok, _, errno = g:add(raw(3), 3, { allowed = mask(0, 1) })
    assert.is_nil(ok)
    assert.equal(core.errno.EINVAL, errno)
    assert.is_true(g:add(raw(4), 4, { allowed = mask(2, 3) }))
    g:close()
  end)

  it("shares offcore registers by value (two of them), load latency and frontend (one)", function()
    local g = group(skl_like())
    assert.is_true(g:add(raw(0x1b7, 0x10001), 1, { allowed = GP4, shared = OFFCORE }))
    assert.is_true(g:add(raw(0x1bb, 0x10002), 2, { allowed = GP4, shared = OFFCORE }))
    assert.is_true(g:add(raw(0x1b7, 0x10001), 3, { allowed = GP4, shared = OFFCORE })) -- same value
    assert.is_nil(g:add(raw(0x1b7, 0x10004), 4, { allowed = GP4, shared = OFFCORE }))
    g:close()
    g = group(skl_like())
    assert.is_true(g:add(raw(0x1cd, 3), 1, { allowed = GP4, shared = LDLAT }))
    assert.is_nil(g:add(raw(0x1cd, 4), 2, { allowed = GP4, shared = LDLAT }))
    assert.is_true(g:add(raw(0x1c6, 0x11), 3, { allowed = GP4, shared = FRONTEND }))
    assert.is_nil(g:add(raw(0x1c6, 0x12), 4, { allowed = GP4, shared = FRONTEND }))
    g:close()
  end)

  it("knows shared registers only by index, with the counts its model gives", function()
    local one = core.sim_pmu({ counters = GP4, shared = { 1 } })
    local g = group(one)
    assert.is_true(g:add(raw(0x1b7, 1), 1, { allowed = GP4, shared = 1 }))
    assert.is_nil(g:add(raw(0x1bb, 2), 2, { allowed = GP4, shared = 1 }))
    assert.has_error(function() g:add(raw(0x1cd, 3), 3, { allowed = GP4, shared = 2 }) end)
    g:close()
    assert.has_error(function() core.sim_pmu({ counters = GP4, shared = { 9 } }) end)
  end)

  it("keeps an event taken alone alone on the generic counters", function()
    local g = group(skl_like())
    assert.is_true(g:add(raw(0xc0), 1, { allowed = mask(FIXED) }))
    assert.is_true(g:add(raw(0x3c4), 2, { allowed = GP4, alone = true }))
    assert.is_nil(g:add(raw(0x2c4), 3, { allowed = GP4 }))
    assert.is_true(g:add(raw(0x13c), 4, { allowed = mask(FIXED + 1) }))
    g:close()
  end)

  it("multiplexes a group that fits alone but not beside the groups opened before it", function()
    local pmu = skl_like()
    local a, b = group(pmu), group(pmu)
    for i = 1, 3 do assert.is_true(a:add(raw(0x10 + i), i, { allowed = GP4 })) end
    for i = 4, 6 do assert.is_true(b:add(raw(0x10 + i), i, { allowed = GP4 })) end
    assert(a:enable())
    assert(b:enable())
    local x = 0
    for i = 1, 3e6 do x = x + i end
    local ea, ra = a:read()
    local eb, rb = b:read()
    assert.is_true(ea > 0 and ra == ea, "the first group runs all the time")
    assert.is_true(rb < eb, "the second does not")
    -- closing the first lets the second run
    a:close()
    local eb2, rb2 = b:read()
    assert.equal(eb2, rb2)
    b:close()
    assert.is_true(x > 0)
  end)

  it("derives deterministic counts from the real task-clock", function()
    local pmu = skl_like()
    local g = group(pmu)
    assert.is_true(g:add(raw(0xc0), 1, { allowed = mask(FIXED) }))
    assert.is_true(g:add(raw(0x3c), 2, { allowed = mask(FIXED + 1) }))
    local real = core.group(0, -1, true)
    assert(real:add({ type = 1, config = 1 }, 9)) -- task-clock
    assert(g:enable())
    assert(real:enable())
    local x = 0
    for i = 1, 5e6 do x = x + i end
    assert(real:disable())
    assert(g:disable())
    local _, _, v = g:read()
    local _, _, tc = real:read()
    g:close()
    real:close()
    assert.is_true(v[1] > 0 and v[2] > 0)
    -- the same encodings on a fresh group: the same rate per task-clock ns
    local g2 = group(pmu)
    assert.is_true(g2:add(raw(0xc0), 1, { allowed = mask(FIXED) }))
    assert.is_true(g2:add(raw(0x3c), 2, { allowed = mask(FIXED + 1) }))
    assert(g2:enable())
    for i = 1, 5e6 do x = x + i end
    local _, _, v2 = g2:read()
    g2:close()
    local r1, r2 = v[1] / v[2], v2[1] / v2[2]
    assert.is_true(math.abs(r1 - r2) / r1 < 0.01, string.format("ratios %g and %g", r1, r2))
    -- proportional to the real task-clock of the same interval
    local per_ns = v[1] / tc[1]
    assert.is_true(per_ns > 0.0005 and per_ns < 2.5, "rate " .. per_ns)
  end)
end)

describe("profile --pmu sim:FILE", function()
  local file = DATA .. "/skylakex_core.json"

  it("runs every event of skylakex_core.json in 150 runs, labelled simulated", function()
    -- every configuration of the file, by name (no kernel events)
    local out, err, code = T.autoperf("list", "--pmu", "sim:" .. file, "--source", "perfmon", "--json")
    assert.equal(0, code, err)
    local names = {}
    for _, e in ipairs(cjson.decode(out)) do
      assert.is_true(e.available and e.simulated)
      names[#names + 1] = e.name
    end
    assert.equal(470, #names)
    local dir = T.tmpdir()
    out, err, code = T.autoperf("profile", "-o", dir .. "/out", "-I", "0", "--pmu", "sim:" .. file,
      "-e", table.concat(names, ","), "--", "true")
    assert.equal(0, code, err)
    assert.equal("", out) -- the summary goes to stderr, as perf stat's
    assert.matches("470 events in 150 runs", err)
    assert.matches("SIMULATED", err)
    local m = cjson.decode(T.slurp(dir .. "/out/manifest.json"))
    assert.matches("skylakex_core.json", m.simulated.model)
    assert.equal(150, #m.plan.runs)
    assert.equal(0, select(3, T.autoperf("aggregate", dir .. "/out")))
    local seen, n = {}, 0
    for i, row in ipairs(T.csv(dir .. "/out/summary.csv")) do
      if i > 1 then
        assert.equal("cpu:simulated", row[2], row[1])
        assert.equal("ok", row[3], row[1])
        assert.is_nil(seen[row[1]])
        seen[row[1]] = true
        n = n + 1
      end
    end
    assert.equal(470, n)
    T.rmtree(dir)
  end)

  it("rejects a deliberately over-filled plan at open and re-measures what did not fit", function()
    local ap = require "autoperf"
    local dir = T.tmpdir()
    -- libpfm4's skl: 8 generic counters; the planner is told 12
    local specs = {}
    for _, e in ipairs(assert(ap.events("skl::BR_INST_RETIRED:", { pmu = "sim:skl" }))) do
      specs[#specs + 1] = e.name
    end
    for _, e in ipairs(assert(ap.events("skl::BR_MISP_RETIRED:", { pmu = "sim:skl" }))) do
      specs[#specs + 1] = e.name
    end
    assert.is_true(#specs >= 12, #specs .. " events")
    while #specs > 12 do table.remove(specs) end
    local r, err = ap.profile({ "true" }, {
      out = dir .. "/out", events = specs, interval_ms = 0, pmu = "sim:skl",
      counters = { cpu = { generic = 12, fixed = 0 } },
    })
    assert.truthy(r, err)
    local m = cjson.decode(T.slurp(dir .. "/out/manifest.json"))
    assert.equal(4, #m.replanned)
    for _, rp in ipairs(m.replanned) do
      assert.equal(1, rp.from_run)
      assert.equal(2, rp.to_run)
      assert.matches("refused beside its group at open", rp.why)
    end
    assert(ap.aggregate(dir .. "/out"))
    local n = 0
    for i, row in ipairs(T.csv(dir .. "/out/summary.csv")) do
      if i > 1 then
        n = n + 1
        assert.equal("ok", row[3], row[1])
        assert.equal("cpu:simulated", row[2])
      end
    end
    assert.equal(12, n)
    T.rmtree(dir)
  end)
end)

-- A small perfmon event file named like Intel's (the name gives the
-- model: skylakex -> skx, icelake -> icl).
local function perfmon_file(dir, base, events)
  local evs = {}
  for i, e in ipairs(events) do
    evs[i] = { EventName = e[1], EventCode = e[2], UMask = e[3] or "0x00", Counter = e[4] or "0,1,2,3",
               BriefDescription = e[1] .. " (fixture)" }
  end
  local path = dir .. "/" .. base
  local f = assert(io.open(path, "w"))
  f:write(cjson.encode({ Events = evs }))
  f:close()
  return path
end

describe("names with a chosen model", function()
  local catalog = require "autoperf.catalog"
  local CLASH = { { "BR_INST_RETIRED.ALL_BRANCHES", "0xC4" }, { "INST_RETIRED.ANY_P", "0xC0" } }

  it("resolve against the simulated file's model, never the host's libpfm4 model (an Intel host: icl)", function()
    local dir = T.tmpdir()
    local file = perfmon_file(dir, "skylakex_core.json", CLASH)
    local env = "LIBPFM_FORCE_PMU=icl "
    local out, err, code = T.sh(env .. T.quote(T.bin) .. " plan --csv --pmu sim:" .. T.quote(file)
      .. " -e BR_INST_RETIRED.ALL_BRANCHES,inst_retired.any_p")
    assert.equal(0, code, err)
    local names = {}
    for line in out:gmatch("[^\n]+") do
      local n = line:match("^%d+,[^,]*,[^,]*,[^,]*,(.*)$")
      if n then names[#names + 1] = n end
    end
    table.sort(names)
    assert.same({ "BR_INST_RETIRED.ALL_BRANCHES", "INST_RETIRED.ANY_P" }, names)
    -- the host's model is not part of a simulated machine
    out, err, code = T.sh(env .. T.quote(T.bin) .. " list --json --pmu sim:" .. T.quote(file) .. " INST_RETIRED.ANY_P")
    assert.equal(0, code, err)
    local listed = cjson.decode(out)
    assert.equal(1, #listed)
    assert.is_true(listed[1].simulated)
    -- a forced libpfm4 model replaces the host's too
    out, err, code = T.sh(env .. T.quote(T.bin) .. " plan --csv --pmu skl -e INST_RETIRED.ANY_P")
    assert.equal(0, code, err)
    assert.matches(",skl::[%w_:]+\n", out)
    T.rmtree(dir)
  end)

  it("prefer the chosen model's events to another model's file in names, globs and 'all'", function()
    local dir = T.tmpdir()
    local skx = perfmon_file(dir, "skylakex_core.json", CLASH)
    -- another processor's file with the same names, read first
    local icl = perfmon_file(dir, "icelake_core.json", { { "BR_INST_RETIRED.ALL_BRANCHES", "0xC4", "0x01" },
      { "INST_RETIRED.ANY_P", "0xC0", "0x01" }, { "ICL_ONLY.THING", "0x11" } })
    local cat = assert(catalog.load({ pmu = "sim:" .. skx, events_json = { icl }, no_cache = true }))
    local evs = assert(catalog.select(cat, { "BR_INST_RETIRED.ALL_BRANCHES", "inst_retired.any_p" }))
    for _, e in ipairs(evs) do
      assert.equal("skylakex_core.json", e.file, e.name)
      assert.is_true(e.simulated)
    end
    evs = assert(catalog.select(cat, { "*_RETIRED.*" }))
    assert.equal(2, #evs)
    for _, e in ipairs(evs) do assert.equal("skylakex_core.json", e.file, e.name) end
    for _, e in ipairs(assert(catalog.select(cat, { "all" }))) do
      assert.is_not.equal("icelake_core.json", e.file, e.name)
    end
    -- a name only the other file has still resolves, to that file's event
    evs = assert(catalog.select(cat, { "ICL_ONLY.THING" }))
    assert.equal("icelake_core.json", evs[1].file)
    T.rmtree(dir)
  end)
end)

describe("stats, list and plan with a chosen model", function()
  local file = DATA .. "/skylakex_core.json"
  local env = "LIBPFM_FORCE_PMU=icl "

  local function cli(args)
    return T.sh(env .. T.quote(T.bin) .. " " .. args)
  end

  it("report the simulated file's PMU alone (no kernel software events, no host model)", function()
    if not io.open(file) then return pending("no " .. file) end
    local out, err, code = cli("stats --pmu sim:" .. T.quote(file))
    assert.equal(0, code, err)
    assert.matches("cpu %[skx%]: 470 events", out)
    assert.is_nil(out:find("tracepoint:", 1, true), out)
    assert.is_nil(out:find("software:", 1, true), out)
    assert.is_nil(out:find("[icl]", 1, true), out)
    out, err, code = cli("list --json --pmu sim:" .. T.quote(file))
    assert.equal(0, code, err)
    local sim = 0
    for _, e in ipairs(cjson.decode(out)) do
      assert.is_not.equal("icl", e.model, e.name)
      if e.simulated then sim = sim + 1 end
    end
    assert.equal(470, sim)
  end)

  it("plan the chosen model's events by default, like --pmu MODEL", function()
    if not io.open(file) then return pending("no " .. file) end
    local out, err, code = cli("plan --pmu sim:" .. T.quote(file))
    assert.equal(0, code, err)
    assert.matches("^plan: 470 events in 150 runs", out)
    out, err, code = cli("plan --csv --pmu skl")
    assert.equal(0, code, err)
    local n = 0
    for line in out:gmatch("[^\n]+") do
      local ev = line:match("^%d+,[^,]*,[^,]*,[^,]*,(.*)$")
      if ev then
        assert.matches("^skl::", ev)
        n = n + 1
      end
    end
    assert.is_true(n > 100, n .. " events")
    out, err, code = cli("stats --pmu skl")
    assert.equal(0, code, err)
    assert.matches("^cpu %[skl%]: %d+ events", out)
  end)
end)
