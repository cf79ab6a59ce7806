-- libpfm4 as an event source: every umask a configuration, encodings
-- equal to what libpfm4's own check_events example prints, forced models,
-- and merging with Intel's perfmon files.
local T = require "spec.support"
local core = require "autoperf.core"
local cjson = require "cjson"

local DATA = T.pmu_data
local EXAMPLE = "/usr/share/doc/libpfm4-dev/examples/check_events.c"

local by_name = T.by_name

describe("libpfm4 source", function()
  it("encodes every umask of a forced model as its own configuration", function()
    local evs, skipped = assert(core.pfm_events("skl"))
    assert.is_true(#evs > 300, "skl has " .. #evs .. " configurations")
    assert.equal(0, skipped)
    local t = by_name(evs)
    local hit = assert(t["skl::L2_RQSTS:DEMAND_DATA_RD_HIT"])
    local miss = assert(t["skl::L2_RQSTS:DEMAND_DATA_RD_MISS"])
    assert.equal(4, hit.type) -- PERF_TYPE_RAW
    assert.are_not.equal(hit.config, miss.config)
    assert.equal(0x24, hit.config & 0xff)
    assert.equal(0x24, miss.config & 0xff)
    assert.equal("L2_RQSTS", hit.event)
    assert.equal("DEMAND_DATA_RD_HIT", hit.umask)
    assert.truthy(#hit.desc > 0)
    -- an offcore response event carries its MSR value in config1
    local ocr = assert(t["skl::OFFCORE_RESPONSE_0:DMND_DATA_RD"])
    assert.equal(0x1b7, ocr.config)
    assert.are_not.equal(0, ocr.config1)
    for _, e in ipairs(evs) do assert.equal("skl", e.pmu) end
  end)

  it("reports the forced model's counters, alone", function()
    local pmus = assert(core.pfm_pmus("skl"))
    assert.equal(1, #pmus)
    assert.same({ "skl", 8, 3, true }, { pmus[1].name, pmus[1].generic, pmus[1].fixed, pmus[1].core })
  end)

  it("marks Intel events that need an offcore, load-latency or frontend register as sharing it", function()
    local out, err, code = T.autoperf("stats", "--pmu", "skl")
    assert.equal(0, code, err)
    local offcore, ldlat, frontend = out:match("shared registers: offcore (%d+), ldlat (%d+), frontend (%d+)")
    assert.truthy(offcore, out)
    assert.is_true(tonumber(offcore) > 2 and tonumber(ldlat) >= 1 and tonumber(frontend) >= 1)
    -- two offcore registers per core: at most two offcore events a run
    out = assert(T.autoperf("plan", "--pmu", "skl", "--json", "-e", "skl::OFFCORE_RESPONSE_0:*"))
    local plan = cjson.decode(out)
    assert.is_true(plan.events > 4)
    assert.equal((plan.events + 1) // 2, #plan.runs)
    for _, run in ipairs(plan.runs) do
      local n = 0
      for _, g in ipairs(run.groups) do n = n + #g.events end
      assert.is_true(n <= 2)
    end
  end)

  it("switches models within one process and back to the machine's", function()
    -- the user's own LIBPFM_FORCE_PMU (an Intel lane sets one) is "the machine's"
    local user = os.getenv("LIBPFM_FORCE_PMU")
    local here = assert(core.pfm_pmus())
    local names = {}
    for _, p in ipairs(here) do names[#names + 1] = p.name end
    assert.equal(1, #assert(core.pfm_pmus("skx")))
    -- forcing a model never leaks into the environment workloads inherit
    assert.equal(user, os.getenv("LIBPFM_FORCE_PMU"))
    local skl = assert(core.pfm_events("skl"))
    for _, e in ipairs(skl) do assert.equal("skl", e.pmu) end
    local again = {}
    for _, p in ipairs(assert(core.pfm_pmus())) do again[#again + 1] = p.name end
    assert.same(names, again)
  end)

  it("refuses a model it does not know, with the closest names", function()
    local evs, err = core.pfm_events("skylake-nope")
    assert.is_nil(evs)
    assert.matches("knows no PMU model 'skylake%-nope'", err)
    local _, msg, code = T.autoperf("list", "--pmu", "skyl")
    assert.equal(1, code)
    assert.matches("did you mean skl", msg)
    assert.equal(1, select(2, msg:gsub("\n", ""))) -- one line
  end)

  it("encodes like libpfm4's own check_events (30 events of skl)", function()
    assert.truthy(io.open(EXAMPLE), EXAMPLE .. " is missing (Debian: libpfm4-dev)")
    local dir = T.tmpdir()
    -- The example includes <perfmon/err.h>, which Debian does not ship:
    -- the C library's <err.h> has the same functions.
    os.execute("mkdir -p " .. dir .. "/perfmon && echo '#include <err.h>' > " .. dir .. "/perfmon/err.h")
    local _, err, code = T.sh(string.format("cc -I%s -o %s/check_events %s -lpfm", dir, dir, EXAMPLE))
    assert.equal(0, code, err)
    local evs = assert(core.pfm_events("skl"))
    -- every 15th configuration, and the ones with extra registers and
    -- counter masks
    local pick = {}
    for i = 1, #evs, 15 do pick[#pick + 1] = evs[i] end
    local t = by_name(evs)
    for _, n in ipairs({ "skl::OFFCORE_RESPONSE_1:DMND_RFO", "skl::CYCLE_ACTIVITY:STALLS_L1D_MISS",
                         "skl::UOPS_RETIRED:STALL_CYCLES", "skl::FRONTEND_RETIRED:DSB_MISS",
                         "skl::MEM_TRANS_RETIRED:LOAD_LATENCY" }) do
      pick[#pick + 1] = assert(t[n], n)
    end
    assert.is_true(#pick >= 30)
    for _, e in ipairs(pick) do
      -- the example mishandles several events per call: one at a time
      local out, eerr, ecode = T.sh(string.format("LIBPFM_FORCE_PMU=skl %s/check_events %s",
        dir, T.quote(e.name)))
      assert.equal(0, ecode, e.name .. ": " .. eerr)
      local codes = {}
      for c in (out:match("Codes%s*:([^\n]*)") or ""):gmatch("0x(%x+)") do
        codes[#codes + 1] = tonumber(c, 16)
      end
      assert.is_true(#codes >= 1, e.name .. ": no codes in " .. out)
      -- Raw codes carry the enable, interrupt and privilege bits (22, 20,
      -- 17, 16) that the kernel sets itself from perf_event_attr.
      assert.equal(string.format("0x%x", codes[1] & ~0x530000), string.format("0x%x", e.config), e.name)
      assert.equal(codes[2] or 0, e.config1, e.name .. " config1")
    end
    T.rmtree(dir)
  end)
end)

describe("libpfm4 and perfmon merged", function()
  local file = DATA .. "/skylakex_core.json"

  it("keeps one record per configuration, perfmon's constraints and both sources", function()
    local out, err, code = T.autoperf("list", "--pmu", "skx", "--events-json", file, "--source", "perfmon", "--json")
    assert.equal(0, code, err)
    local perfmon = cjson.decode(out)
    assert.equal(470, #perfmon) -- one per JSON event, nothing lost to merging
    out = assert(T.autoperf("list", "--pmu", "skx", "--events-json", file, "--json"))
    local all = cjson.decode(out)
    local merged, names = 0, {}
    for _, e in ipairs(all) do
      assert.is_nil(names[e.name], "two records named " .. e.name)
      names[e.name] = true
      local from = {}
      for _, s in ipairs(e.sources) do from[s:match("^(%w+)")] = true end
      if from.perfmon and from.libpfm4 then
        merged = merged + 1
        assert.equal("perfmon", e.source)
        assert.matches("^perfmon:", e.facts.constraints)
      end
    end
    assert.is_true(merged > 250, merged .. " merged")
    -- libpfm4's spelling finds perfmon's record
    out = assert(T.autoperf("list", "--pmu", "skx", "--events-json", file, "--json", "skx::INST_RETIRED:ANY_P"))
    local hit = cjson.decode(out)
    assert.equal(1, #hit)
    assert.equal("INST_RETIRED.ANY_P", hit[1].name)
    assert.same({ 0, 1, 2, 3, 4, 5, 6, 7 }, hit[1].counters.generic)
  end)

  it("keeps events only libpfm4 knows", function()
    local out = assert(T.autoperf("list", "--pmu", "skx", "--events-json", file, "--source", "libpfm4", "--json"))
    local only = 0
    for _, e in ipairs(cjson.decode(out)) do
      local from_perfmon = false
      for _, s in ipairs(e.sources) do from_perfmon = from_perfmon or s:match("^perfmon:") ~= nil end
      if not from_perfmon then
        only = only + 1
        assert.equal("libpfm4", e.source)
        assert.equal("libpfm4", e.facts.constraints)
      end
    end
    assert.is_true(only > 0)
  end)
end)
