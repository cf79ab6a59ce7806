-- Intel perfmon event files: one configuration per JSON event, with the
-- constraint facts, for every file in ../shared/pmu-data/intel.
local cjson = require "cjson"
local perfmon = require "autoperf.perfmon"
local T = require "spec.support"

local DATA = T.pmu_data

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
          -- the core PMU: a hybrid half's name for its file, else cpu
          local half = require("autoperf.pmu.hybrid").of_file(base)
          assert.equal(half and half.pmu or "cpu", e.pmu, e.name)
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

-- Files as a fuzzer (or a broken download) writes them: one line naming
-- the file, the event and the field; no traceback; bounded memory.
describe("perfmon JSON from hostile files", function()
  local catalog = require "autoperf.catalog"

  local function write(dir, base, events)
    local path = dir .. "/" .. base
    local f = assert(io.open(path, "w"))
    f:write(type(events) == "string" and events or cjson.encode({ Events = events }))
    f:close()
    return path
  end

  local function ev(extra)
    local e = { EventName = "EV.ONE", EventCode = "0x3c", UMask = "0x01", Counter = "0,1,2,3" }
    for k, v in pairs(extra) do e[k] = v end
    return e
  end

  local function refused(dir, extra, pattern, smt)
    local path = write(dir, "hostile.json", { ev({ EventName = "EV.ZERO" }), ev(extra) })
    local r, err = perfmon.load(path, { smt = smt ~= false })
    assert.is_nil(r, pattern)
    assert.matches("hostile%.json: event 2 %(EV%.ONE%)", err)
    assert.matches(pattern, err)
    assert.is_nil(err:find("[^\32-\126]"), err)
    return err
  end

  it("refuses counter lists beyond the PMU's counters, without building them", function()
    local dir = T.tmpdir()
    refused(dir, { Counter = "0-20000000" }, "Counter: generic counter 20000000 in '0%-20000000' is beyond the PMU's 32")
    refused(dir, { Counter = "0,1,99999999999999999999" }, "Counter: generic counter 9+ .* beyond")
    refused(dir, { Counter = "Fixed counter 40" }, "Counter: fixed counter 40 .* beyond the PMU's 32")
    refused(dir, { Counter = "3-1" }, "Counter: bad counter range '3%-1'")
    refused(dir, { Counter = "0,one" }, "Counter: bad counter list")
    refused(dir, { CounterHTOff = "0-64", Counter = "0" }, "CounterHTOff: generic counter 64", false)
    -- the PMU's own count where libpfm4 knows the processor (skx: 8 generic, 3 fixed)
    local path = write(dir, "skylakex_core.json", { ev({ Counter = "0,1,2,3,4,5,6,7,8" }) })
    local cat, err = catalog.load({ events_json = { path }, no_cache = true, smt = true })
    assert.is_nil(cat)
    assert.matches("skylakex_core%.json: event 1 %(EV%.ONE%): Counter: generic counter 8 .* beyond the PMU's 8", err)
    path = write(dir, "skylakex_core.json", { ev({ Counter = "Fixed counter 3" }) })
    _, err = catalog.load({ events_json = { path }, no_cache = true, smt = true })
    assert.matches("Counter: fixed counter 3 .* beyond the PMU's 3", err)
    path = write(dir, "skylakex_core.json", { ev({ Counter = "0-7" }), ev({ Counter = "Fixed counter 2" }) })
    assert.truthy(catalog.load({ events_json = { path }, no_cache = true, smt = true }))
    T.rmtree(dir)
  end)

  it("names the field of a wrong type or value", function()
    local dir = T.tmpdir()
    refused(dir, { EventCode = "0x100" }, "EventCode: 0x100 is out of range %(0%-0xff%)")
    refused(dir, { EventCode = "0x1" .. string.rep("0", 40) }, "EventCode: '0x10+.*' is not an integer")
    refused(dir, { EventCode = 1e300 }, "EventCode: expected an integer")
    refused(dir, { EventCode = { 60 } }, "EventCode: expected a number or a string, not an array")
    refused(dir, { EventCode = cjson.null }, "EventCode: missing")
    refused(dir, { UMask = true }, "UMask: expected a number or a string, not a boolean")
    refused(dir, { UMask = "0x3c, 0x1ff" }, "UMask: 0x1ff is out of range")
    refused(dir, { CounterMask = -1 }, "CounterMask: %-1 is out of range")
    refused(dir, { Invert = "2" }, "Invert: 2 is out of range %(0%-0x1%)")
    refused(dir, { Counter = 3 }, "Counter: expected a string, not a number")
    refused(dir, { BriefDescription = 5 }, "BriefDescription: expected a string, not a number")
    refused(dir, { Unit = { "iMC" } }, "Unit: expected a string, not an array")
    refused(dir, { Unit = {} }, "Unit: expected a string, not an empty array or object")
    refused(dir, { MSRIndex = "0x1a6,bogus" }, "MSRIndex: 'bogus' is not an integer")
    refused(dir, { Errata = { x = 1 } }, "Errata: expected a string, not an object")
    local path = write(dir, "names.json", { ev({ EventName = 42 }) })
    local _, err = perfmon.load(path)
    assert.matches("names%.json: event 1: EventName: expected a string, not a number", err)
    path = write(dir, "names.json", { ev({ EventName = "BAD\27[2J", EventCode = "x" }) })
    _, err = perfmon.load(path)
    assert.matches("event 1 %(BAD\\x1b%[2J%): EventCode: 'x' is not an integer", err)
    -- numbers where Intel writes numeric strings are the same values
    path = write(dir, "numbers.json", { ev({ EventCode = 60, UMask = 1, CounterMask = 2 }) })
    local recs = assert(perfmon.load(path))
    assert.equal(0x3c | 0x100 | (2 << 24), recs[1].config)
    T.rmtree(dir)
  end)

  it("gives the CLI one line and exit 1, never a traceback", function()
    -- 4 GB of address space is plenty (AddressSanitizer reserves terabytes)
    local limit = os.getenv("ASAN_OPTIONS") and "" or "ulimit -v 4000000; "
    local dir = T.tmpdir()
    local path = write(dir, "hostile.json", { ev({ Unit = { 1, 2 } }) })
    local _, err, code = T.sh(limit .. "timeout 60 " .. T.quote(T.bin) .. " list --events-json "
      .. T.quote(path))
    assert.equal(1, code, err)
    assert.equal("autoperf: " .. path .. ": event 1 (EV.ONE): Unit: expected a string, not an array\n", err)
    path = write(dir, "big.json", { ev({ Counter = "0-20000000" }) })
    _, err, code = T.sh(limit .. "timeout 60 " .. T.quote(T.bin) .. " stats --events-json "
      .. T.quote(path))
    assert.equal(1, code, err)
    assert.matches("^autoperf: [^\n]*big%.json: event 1 %(EV%.ONE%): Counter: generic counter 20000000 [^\n]*\n$", err)
    T.rmtree(dir)
  end)
end)

describe("perfmon JSON within libpfm4's counters", function()
  it("accepts every Intel file with HT on and off", function()
    local catalog = require "autoperf.catalog"
    if #files() == 0 then return pending("no " .. DATA .. " here") end
    for _, f in ipairs(files()) do
      for _, smt in ipairs({ true, false }) do
        local cat, err = catalog.load({ events_json = { f }, no_cache = true, smt = smt })
        assert.truthy(cat, err)
      end
    end
  end)
end)
