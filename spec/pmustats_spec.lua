-- 'autoperf stats' and the families' rules (pmu.rules()): every rule
-- has the shape {id=, cite=, what=, applies=}, and stats counts per PMU
-- the events each rule applies to (human output and --csv).
local pmu = require "autoperf.pmu"
local pmustats = require "autoperf.pmustats"
local T = require "spec.support"

local DATA = T.pmu_data

describe("pmu.rules()", function()
  it("lists every family's RULES in family order, each with an id, a kernel citation and a test", function()
    local rules, ids = pmu.rules(), {}
    assert.is_true(#rules >= 11)
    for _, r in ipairs(rules) do
      assert.equal("string", type(r.id))
      assert.is_nil(ids[r.id], "duplicate rule " .. r.id)
      ids[r.id] = true
      assert.truthy(r.cite:match("%S"), r.id)
      assert.truthy(r.what:match("%S"), r.id)
      assert.equal("function", type(r.applies))
      assert.equal("boolean", type(r.applies({ name = "x", pmu = "cpu" })), r.id)
    end
    for _, id in ipairs({ "intel.offcore", "intel.ldlat", "intel.frontend", "intel.taken-alone", "intel.errata",
                          "intel.fixed", "intel.mask", "amd.pair", "amd.f15h-mask", "amd.nb", "amd.brs" }) do
      assert.is_true(ids[id], id)
    end
    -- intel's before amd's (pmu.FAMILIES' order)
    local pos = {}
    for i, r in ipairs(rules) do pos[r.id] = i end
    assert.is_true(pos["intel.mask"] < pos["amd.pair"])
  end)
end)

describe("autoperf stats rules", function()
  local function perfmon(name, counters, extra)
    local ev = { name = name, pmu = "cpu", model = "skx", source = "perfmon", type = 4, config = 0xc0,
                 counters = counters }
    for k, v in pairs(extra or {}) do ev[k] = v end
    return ev
  end

  it("counts per PMU the events each rule applies to, in rules order, in text and CSV", function()
    local evs = {
      perfmon("A", { generic = { 0, 1, 2, 3 }, fixed = {} }, { shared = "offcore", config1 = 1 }),
      perfmon("B", { generic = { 0, 1, 2, 3 }, fixed = {} }, { shared = "offcore", config1 = 2 }),
      perfmon("C", { generic = { 0, 2, 3 }, fixed = {} }, { taken_alone = true }),
      perfmon("D", { generic = { 1 }, fixed = {} }, { errata = "SKL001" }),
      perfmon("E", { generic = {}, fixed = { 1 } }),
      perfmon("F", { generic = { 0, 1, 2, 3, 4, 5, 6, 7 }, fixed = {} }, { shared = "ldlat", config1 = 3 }),
    }
    local s = pmustats.compute(evs)
    assert.equal(1, #s)
    local got = {}
    for _, r in ipairs(s[1].rules) do got[#got + 1] = r.id .. "=" .. r.events end
    assert.same({ "intel.offcore=2", "intel.ldlat=1", "intel.taken-alone=1", "intel.errata=1",
                  "intel.fixed=1", "intel.mask=2" }, got)
    local text = pmustats.format(s)
    assert.truthy(text:match("\n  intel%.offcore%s+2  offcore response"), text)
    assert.truthy(text:match("\n  intel%.mask%s+2 "), text)
    assert.is_nil(text:match("intel%.frontend"), "a rule that applies to nothing is left out")
    local csv = pmustats.csv(s)
    assert.truthy(csv:match('\ncpu %[skx%],rule,"intel%.offcore",2\n'), csv)
    assert.truthy(csv:match('\ncpu %[skx%],rule,"intel%.mask",2\n'), csv)
  end)

  it("a perfmon file: the shared-register and isolation rules count what the summary lines count", function()
    local path = DATA .. "/skylakex_core.json"
    local f = io.open(path)
    if not f then return pending("no " .. path) end
    f:close()
    local dir = T.tmpdir()
    local out, err, code = T.autoperf("stats", "--events-json", path, "--csv", dir .. "/s.csv")
    assert.equal(0, code, err)
    local block = out:match("cpu %[skx%]:.-\n(.-)\ncpu") or out:match("cpu %[skx%]:.*")
    local offcore = tonumber(block:match("shared registers: offcore (%d+)"))
    local alone, errata = block:match("taken alone (%d+), with errata (%d+)")
    assert.equal(offcore, tonumber(block:match("intel%.offcore%s+(%d+)")))
    assert.equal(tonumber(alone), tonumber(block:match("intel%.taken%-alone%s+(%d+)")))
    assert.equal(tonumber(errata), tonumber(block:match("intel%.errata%s+(%d+)")))
    local csv = T.slurp(dir .. "/s.csv")
    assert.truthy(csv:match('cpu %[skx%],rule,"intel%.offcore",' .. offcore), csv)
    T.rmtree(dir)
  end)

  it("AMD: names where the counter count comes from, and the rules of the model", function()
    local out, err, code = T.autoperf("stats", "--pmu", "amd64_fam17h_zen2")
    if code ~= 0 and err:match("unknown") then return pending("this libpfm4 lacks zen2") end
    assert.equal(0, code, err)
    assert.truthy(out:match("counter count from: AMD64_NUM_COUNTERS_CORE"), out)
    assert.truthy(out:match("amd%.pair%s+5 "), out)
    out = T.autoperf("stats", "--pmu", "amd64_k8_revg")
    assert.truthy(out:match("counter count from: AMD64_NUM_COUNTERS %(amd_pmu_init"), out)
    assert.is_nil(out:match("amd%.pair"))
  end)
end)
