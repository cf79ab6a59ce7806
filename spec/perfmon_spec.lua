-- Intel perfmon event files: one configuration per JSON event, with the
-- constraint facts, for every file in ../shared/pmu-data/intel.
local cjson = require "cjson"
local perfmon = require "autoperf.perfmon"
local T = require "spec.support"

local DATA = os.getenv("AUTOPERF_PMU_DATA") or "../shared/pmu-data/intel"

local function files()
  local out = {}
  for _, e in ipairs(require("autoperf.core").listdir(DATA) or {}) do
    -- the metric files beside them (*_metrics*.json) hold formulas, not events
    if e.name:match("%.json$") and not e.name:match("_metrics") then out[#out + 1] = DATA .. "/" .. e.name end
  end
  return out
end

describe("perfmon JSON", function()
  it("parses counter lists", function()
    assert.same({ generic = { 0, 1, 2, 3 }, fixed = {} }, perfmon.parse_counters("0,1,2,3"))
    assert.same({ generic = {}, fixed = { 1 } }, perfmon.parse_counters("Fixed counter 1"))
    assert.same({ generic = { 0, 1, 2 }, fixed = {} }, perfmon.parse_counters("0-2"))
    assert.is_nil((perfmon.parse_counters("zero")))
  end)

  it("encodes core events like Linux's cpu format", function()
    local cfg = perfmon.core_config({ code = 0x3c, umask = 0x1, cmask = 2, inv = true, edge = true, any = true })
    assert.equal(0x3c | 0x100 | (1 << 18) | (1 << 21) | (1 << 23) | (2 << 24), cfg)
  end)

  it("refuses a file that is not an event file, naming it", function()
    local dir = T.tmpdir()
    local f = assert(io.open(dir .. "/x.json", "w"))
    f:write('{"Header": {}}')
    f:close()
    local r, err = perfmon.load(dir .. "/x.json")
    assert.is_nil(r)
    assert.matches("x%.json: no Events array", err)
    f = assert(io.open(dir .. "/y.json", "w"))
    f:write('{"Events": [ {"EventName": "A", "EventCode": "0x3c", "Counter": "0,1"}, ')
    f:close()
    r, err = perfmon.load(dir .. "/y.json")
    assert.is_nil(r)
    assert.matches("y%.json: not valid JSON", err)
    T.rmtree(dir)
  end)

  local list = files()
  if #list == 0 then
    it("has Intel's files to read", function() pending("no " .. DATA .. " here") end)
  end
  for _, path in ipairs(list) do
    local base = path:match("([^/]+)$")
    it("lists one configuration per event of " .. base .. " with its facts", function()
      local doc = cjson.decode(T.slurp(path))
      local out, err, code = T.autoperf("list", "--events-json", path, "--source", "perfmon", "--json", "--smt", "on")
      assert.equal(0, code, err)
      local evs = cjson.decode(out)
      local mine = {}
      for _, e in ipairs(evs) do
        for _, s in ipairs(e.sources) do
          if s:find("^perfmon:") then mine[#mine + 1] = e end
        end
      end
      assert.equal(#doc.Events, #mine)
      -- facts, event by event (same order as the file)
      local taken, offcore, fixed = 0, 0, 0
      for i, je in ipairs(doc.Events) do
        local e = mine[i]
        assert.equal(je.EventName, e.name)
        if je.TakenAlone == "1" then
          taken = taken + 1
          assert.is_true(e.taken_alone, e.name)
        end
        if tostring(je.MSRIndex):find("0x1a6", 1, true) then
          offcore = offcore + 1
          assert.equal("offcore", e.shared, e.name)
          assert.equal(math.tointeger(tonumber(je.MSRValue)), math.tointeger(e.config1))
        end
        if tostring(je.Counter):find("^Fixed") then
          fixed = fixed + 1
          assert.equal(0, #e.counters.generic)
        elseif je.Counter then
          local want = {}
          for c in je.Counter:gmatch("%d+") do want[#want + 1] = tonumber(c) end
          local got = {}
          for j, c in ipairs(e.counters.generic) do got[j] = math.tointeger(c) end
          assert.same(want, got, e.name)
        end
        if je.Unit then
          assert.equal(je.Unit, e.unit)
        else
          assert.equal(math.tointeger(tonumber(je.EventCode:match("^[^,%s]+"))),
            math.tointeger(e.config) & 0xff, e.name)
          local umask = math.tointeger(tonumber((je.UMask or "0"):match("^[^,%s]+")))
          assert.equal(umask & 0xff, (math.tointeger(e.config) >> 8) & 0xff, e.name)
        end
      end
      assert.truthy(taken + offcore + fixed > 0 or base:find("uncore"))
    end)
  end

  it("reports 470 events and the counter histogram of skylakex_core.json in stats", function()
    local path = DATA .. "/skylakex_core.json"
    if not io.open(path) then return pending("no " .. path) end
    local dir = T.tmpdir()
    local out, err, code = T.autoperf("stats", "--events-json", path, "--smt", "on", "--csv", dir .. "/s.csv")
    assert.equal(0, code, err)
    assert.matches("cpu %[skx%]: 470 events", out)
    local doc = cjson.decode(T.slurp(path))
    local hist = {}
    for _, e in ipairs(doc.Events) do
      local k = e.Counter:match("^Fixed counter (%d+)$")
      k = k and ("fixed " .. k) or e.Counter
      hist[k] = (hist[k] or 0) + 1
    end
    local got = {}
    for line in io.lines(dir .. "/s.csv") do
      local pmu, kind, key, n = line:match('^([^,]*),([^,]*),"([^"]*)",(%d+)$')
      if pmu == "cpu [skx]" and kind == "counters" then got[key] = tonumber(n) end
    end
    assert.same(hist, got)
    T.rmtree(dir)
  end)
end)
