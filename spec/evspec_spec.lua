-- The event-spec parser, perf stat -e syntax, valid and invalid cases.
local evspec = require "autoperf.evspec"
local catalog = require "autoperf.catalog"

-- valid: spec -> list of events as "kind:name|pmu:mods" strings; "{}"
-- marks a group item.
local VALID = {
  { "task-clock", { "name:task-clock" } },
  { "task-clock,cs", { "name:task-clock", "name:cs" } },
  { " task-clock , cs ", { "name:task-clock", "name:cs" } },
  { "sched:sched_switch", { "name:sched:sched_switch" } },
  { "sched:*", { "name:sched:*" } },
  { "sched:sched_?witch", { "name:sched:sched_?witch" } },
  { "syscalls:sys_enter_[rw]*", { "name:syscalls:sys_enter_[rw]*" } },
  { "sched:sched_switch:k", { "name:sched:sched_switch:k" } },
  { "skl::INST_RETIRED:ANY_P", { "name:skl::INST_RETIRED:ANY_P" } },
  { "skl::INST_RETIRED:ANY_P:u", { "name:skl::INST_RETIRED:ANY_P:u" } },
  { "skl::OFFCORE_RESPONSE_0:*", { "name:skl::OFFCORE_RESPONSE_0:*" } },
  { "sched:sched_switch:uk", { "name:sched:sched_switch:ku" } },
  { "cycles:u", { "name:cycles:u" } },
  { "cycles:k", { "name:cycles:k" } },
  { "cycles:h", { "name:cycles:h" } },
  { "cycles:ukh", { "name:cycles:hku" } },
  { "INST_RETIRED.ANY", { "name:INST_RETIRED.ANY" } },
  { "inst_retired.any:u", { "name:inst_retired.any:u" } },
  { "skl::INST_RETIRED:ANY_P", nil }, -- '::' is not perf syntax
  { "r1a8", { "raw:0x1a8" } },
  { "r01c2:k", { "raw:0x1c2:k" } },
  { "rFFFF", { "raw:0xffff" } },
  { "rffffffffffffffff", { "raw:0xffffffffffffffff" } },
  { "cpu/event=0x3c/", { "pmu:cpu[event=60]" } },
  { "cpu/event=0x3c,umask=0x1/", { "pmu:cpu[event=60,umask=1]" } },
  { "cpu/event=0x3c,umask=0x1,name=foo/", { "pmu:cpu[event=60,umask=1]=foo" } },
  { "cpu/event=0x3c,umask=0x1,name=foo/u", { "pmu:cpu[event=60,umask=1]=foo:u" } },
  { "cpu/event=0x3c/:k", { "pmu:cpu[event=60]:k" } },
  { "cpu/event=0xc0,edge,inv,cmask=2/", { "pmu:cpu[event=192,edge,inv,cmask=2]" } },
  { "cpu/cycles/", { "pmu:cpu[cycles]" } },
  { "cpu/cycles/uk", { "pmu:cpu[cycles]:ku" } },
  { "msr/tsc/", { "pmu:msr[tsc]" } },
  { "uncore_cha_0/event=0x0/", { "pmu:uncore_cha_0[event=0]" } },
  { "cpu/config=0x1234,config1=7/", { "pmu:cpu[config=4660,config1=7]" } },
  { "cpu/event=10/", { "pmu:cpu[event=10]" } },
  { "cpu/offcore_rsp=0xffffffffffffffff/", { "pmu:cpu[offcore_rsp=-1]" } },
  { "{cycles,instructions}", { "{}", "name:cycles", "name:instructions" } },
  { "{cycles,instructions}:u", { "{}", "name:cycles:u", "name:instructions:u" } },
  { "{cycles:k,instructions}:u", { "{}", "name:cycles:ku", "name:instructions:u" } },
  { "{cpu/event=0x3c/,cpu/event=0xc0/}", { "{}", "pmu:cpu[event=60]", "pmu:cpu[event=192]" } },
  { "task-clock,{cs,faults},sched:*", { "name:task-clock", "{}", "name:cs", "name:faults", "name:sched:*" } },
  { "{a}", { "{}", "name:a" } },
  { "all", { "name:all" } },
  { "page-faults:u", { "name:page-faults:u" } },
  { "a.b-c_d", { "name:a.b-c_d" } },
  { "x86_fpu:x86_fpu_before_save", { "name:x86_fpu:x86_fpu_before_save" } },
}

local INVALID = {
  { "", "empty event" },
  { ",", "empty event" },
  { "a,", "empty event" },
  { ",a", "empty event" },
  { "a,,b", "empty event" },
  { "{a,b", "without '}'" },
  { "a,b}", "without '{'" },
  { "{a,{b}}", "do not nest" },
  { "{}", "empty event" },
  { "{a,}", "empty event" },
  { "{a}b", "after a group" },
  { "{a}u", "need ':'" },
  { "{a}:z", "unknown modifier 'z'" },
  { "cpu/event=0x3c", "without its closing '/'" },
  { "cpu//", "no terms" },
  { "cpu/event=/", "bad value" },
  { "cpu/event=zz/", "bad value" },
  { "cpu/event=-1/", "bad value" },
  { "cpu/name=/", "bad name" },
  { "cpu/=3/", "bad term" },
  { "cpu/event=1,,umask=2/", "empty term" },
  { "cpu/event=1/x", "unknown modifier 'x'" },
  { "cpu/event=1/p", "not supported" },
  { "cpu/event=1/:", "empty modifier" },
  { "a:b:c:d", "too many ':'" },
  { "skl::A:B:u:k", "too many ':'" },
  { "skl::", "empty name" },
  { "skl::A:B:z", "unknown modifier 'z'" },
  { "sched:sched_switch:z", "unknown modifier 'z'" },
  { "sched:sched_switch:p", "not supported" },
  { ":u", "empty name" },
  { "sched:", "empty name" },
  { "a b", "unexpected character" },
  { "a\tb", "unexpected character" },
  { "na$me", "unexpected character" },
  { "r12345678901234567", "exceeds 64 bits" },
  { "a/b", "without its closing '/'" },
  { "a/b//c/", "unknown modifier '/'" },
  { "cpu/event=0x3c/,{", "without '}'" },
}

local function show(items)
  local out = {}
  for _, item in ipairs(items) do
    if item.group then out[#out + 1] = "{}" end
    for _, e in ipairs(item.events) do
      local s
      local mods = e.mods
      local name = e.name
      if e.alt then
        -- name:modifier; show the modifier reading
        name, mods = e.alt.name, e.alt.mods
      end
      if e.kind == "raw" then
        s = string.format("raw:0x%x", e.config)
      elseif e.kind == "pmu" then
        local t = {}
        for _, term in ipairs(e.terms) do t[#t + 1] = term[2] and (term[1] .. "=" .. term[2]) or term[1] end
        s = "pmu:" .. e.pmu .. "[" .. table.concat(t, ",") .. "]" .. (e.name and ("=" .. e.name) or "")
      else
        s = "name:" .. name
      end
      local m = {}
      for k in pairs(mods) do m[#m + 1] = k end
      table.sort(m)
      if #m > 0 then s = s .. ":" .. table.concat(m) end
      out[#out + 1] = s
    end
  end
  return out
end

describe("event spec parser", function()
  for _, case in ipairs(VALID) do
    local spec, want = case[1], case[2]
    if want then
      it("parses '" .. spec .. "'", function()
        local items, err = evspec.parse(spec)
        assert.is_nil(err)
        assert.same(want, show(items))
      end)
    end
  end

  for _, case in ipairs(INVALID) do
    local spec, pattern = case[1], case[2]
    it("rejects '" .. spec .. "' (" .. pattern .. ")", function()
      local ok, items, err = pcall(evspec.parse, spec)
      assert.is_true(ok, "the parser raised: " .. tostring(items))
      assert.is_nil(items)
      assert.matches(pattern, err, 1, true)
      assert.matches("^bad event spec '", err)
      assert.is_nil(err:find("\n"), "one line")
    end)
  end

  it("never raises on garbage", function()
    math.randomseed(42)
    local alphabet = "abcr019:/{},=xu*?[]!. \t-_k"
    for _ = 1, 3000 do
      local t = {}
      for i = 1, math.random(0, 24) do
        local k = math.random(#alphabet)
        t[i] = alphabet:sub(k, k)
      end
      local s = table.concat(t)
      local ok, res, err = pcall(evspec.parse, s)
      assert.is_true(ok, "raised on '" .. s .. "': " .. tostring(res))
      assert.truthy(res or err)
    end
    assert.is_nil((evspec.parse(nil)))
  end)

  it("maps modifiers to the kernel's exclude bits like perf", function()
    assert.same({}, evspec.exclude_bits({}))
    assert.same({ exclude_user = false, exclude_kernel = true, exclude_hv = true }, evspec.exclude_bits({ u = true }))
    assert.same({ exclude_user = true, exclude_kernel = false, exclude_hv = true }, evspec.exclude_bits({ k = true }))
    assert.same({ exclude_user = false, exclude_kernel = false, exclude_hv = true },
      evspec.exclude_bits({ u = true, k = true }))
    assert.equal(":uk", evspec.suffix({ k = true, u = true }))
  end)
end)

describe("event spec resolution", function()
  local cat = catalog.load({ no_cache = true })

  it("applies modifiers to a copy with its own name", function()
    local evs = assert(catalog.select(cat, { "task-clock:u,task-clock" }))
    assert.equal("task-clock:u", evs[1].name)
    assert.is_true(evs[1].exclude_kernel)
    assert.is_false(evs[1].exclude_user)
    assert.equal("task-clock", evs[2].name)
    assert.is_nil(evs[2].exclude_kernel)
    assert.is_nil(cat.by_name["task-clock"].exclude_kernel, "the catalog record was changed")
  end)

  it("prefers a tracepoint over a name with modifiers", function()
    if not cat.tracefs then return pending(T.no_tracefs) end
    local evs = assert(catalog.select(cat, { "sched:sched_switch:k" }))
    assert.equal("sched:sched_switch:k", evs[1].name)
    assert.equal("tracepoint", evs[1].pmu)
  end)

  it("numbers the members of each group", function()
    local evs = assert(catalog.select(cat, { "{task-clock,cs},page-faults,{cpu-clock,cpu-migrations}" }))
    assert.same({ 1, 1, nil, 2, 2 }, { evs[1].group, evs[2].group, evs[3].group, evs[4].group, evs[5].group })
  end)

  it("encodes raw configs for the core PMU", function()
    local evs = assert(catalog.select(cat, { "r01c2:u" }))
    assert.equal("r1c2:u", evs[1].name)
    assert.equal(4, evs[1].type)
    assert.equal(0x1c2, evs[1].config)
  end)

  it("encodes cpu/terms/ with the core format, assumed here when sysfs has none", function()
    local evs = assert(catalog.select(cat, { "cpu/event=0x3c,umask=0x1,edge,cmask=2,name=foo/k" }))
    assert.equal("foo:k", evs[1].name)
    assert.equal(0x3c | (1 << 8) | (1 << 18) | (2 << 24), evs[1].config)
    local off = assert(catalog.select(cat, { "cpu/event=0xb7,umask=0x1,offcore_rsp=0x10001/" }))
    assert.equal(0x10001, off[1].config1)
  end)

  it("explains unknown names, PMUs and terms in one line", function()
    local _, e1 = catalog.select(cat, { "sched:shed_switch" })
    assert.matches("unknown event", e1)
    local _, e2 = catalog.select(cat, { "nopmu/event=1/" })
    assert.matches("no PMU named 'nopmu'", e2)
    local _, e3 = catalog.select(cat, { "cpu/bogus=1/" })
    assert.matches("unknown term 'bogus'", e3)
    local _, e4 = catalog.select(cat, { "{task-clock" })
    assert.matches("bad event spec", e4)
  end)
end)

-- Specs as an attacker or a stray paste writes them: every answer is one
-- printable line, in time linear in the input. The CLI runs under a
-- generous timeout only so that a regression fails instead of hanging
-- the suite (the old matcher took 40 s for a 4000-byte name and
-- backtracked exponentially on many stars).
describe("hostile event specs", function()
  local T = require "spec.support"
  local cjson = require "cjson"
  local util = require "autoperf.util"

  local function cli(...)
    local parts = { "timeout 60", T.quote(T.bin) }
    for _, a in ipairs({ ... }) do parts[#parts + 1] = T.quote(a) end
    return T.sh(table.concat(parts, " "))
  end

  -- A perfmon file of n events with long names of repeated letters.
  local function long_names(dir, n, len)
    local evs = {}
    for i = 1, n do
      evs[i] = { EventName = string.rep("A", len) .. "_" .. i, EventCode = "0x3c", UMask = "0x00", Counter = "0,1,2,3" }
    end
    local path = dir .. "/long_core.json"
    local f = assert(io.open(path, "w"))
    f:write(cjson.encode({ Events = evs }))
    f:close()
    return path
  end

  local function one_line(s)
    assert.equal(1, select(2, s:gsub("\n", "")), s)
    assert.is_nil(s:find("[^\n\32-\126]"), "a raw control character in: " .. s)
  end

  it("matches globs without backtracking: many stars against long names", function()
    local m = util.glob("*a*a*a*a*a*a*a*a*b")
    assert.is_false(m(string.rep("a", 4000)))
    assert.is_true(m(string.rep("a", 4000) .. "b"))
    assert.is_false(util.glob(string.rep("*a", 2000) .. "*b")(string.rep("a", 4000)))
    local dir = T.tmpdir()
    local file = long_names(dir, 200, 300)
    local _, err, code = cli("list", "--events-json", file, "*a*a*a*a*a*a*a*a*b")
    assert.equal(1, code, err)
    assert.matches("no event matches '%*a%*a%*a%*a%*a%*a%*a%*a%*b'", err)
    _, err, code = cli("plan", "--events-json", file, "-e", "*A*A*A*A*A*A*A*A*B")
    assert.equal(2, code, err)
    assert.matches("no event matches", err)
    one_line(err)
    local out
    out, err, code = cli("plan", "--csv", "--events-json", file, "-e", "*A*A*A*A*A*A*A*A*_1?")
    assert.equal(0, code, err)
    assert.equal(10, select(2, out:gsub("\n", "")) - 1) -- _10 .. _19
    T.rmtree(dir)
  end)

  it("answers a 4000-character name with one line, cut short, and no far-fetched suggestions", function()
    local name = string.rep("q", 4000)
    local _, err, code = cli("plan", "-e", name)
    assert.equal(2, code, err)
    assert.matches("unknown event 'q+%.%.%. %(4000 bytes%)'", err)
    assert.is_nil(err:find("did you mean", 1, true))
    assert.is_true(#err < 400, #err .. " bytes")
    one_line(err)
    _, err, code = cli("list", "--pmu", name .. "\27")
    assert.equal(1, code, err)
    assert.matches("knows no PMU model 'q+", err)
    assert.is_true(#err < 1000, #err .. " bytes")
    one_line(err)
    -- against names as long as it
    local dir = T.tmpdir()
    local file = long_names(dir, 50, 3990)
    _, err, code = cli("plan", "--events-json", file, "-e", string.rep("A", 3990) .. "_7x")
    assert.equal(2, code, err)
    assert.matches("did you mean A+%.%.%. %(3992 bytes%)", err)
    assert.is_true(#err < 1000, #err .. " bytes") -- three suggestions, each cut short
    one_line(err)
    T.rmtree(dir)
  end)

  it("bounds 'did you mean' to a few edits, computed in a band", function()
    assert.equal(3, util.distance("kitten", "sitting"))
    assert.equal(3, util.distance("kitten", "sitting", 3))
    assert.is_nil(util.distance("kitten", "sitting", 2))
    assert.is_nil(util.distance(string.rep("a", 4000), "a", 10))
    assert.equal(1, util.distance(string.rep("a", 4000), string.rep("a", 3999) .. "b", 10))
    assert.same({ "task-clock" }, util.closest("task-clok", { "task-clock", "page-faults" }, 3))
    assert.same({}, util.closest(string.rep("x", 30), { string.rep("y", 30) }, 3))
  end)

  it("escapes control characters in every message", function()
    local esc = "\27[2J\7"
    local _, err, code = cli("plan", "-e", "x" .. esc .. "y")
    assert.equal(2, code)
    assert.matches("\\x1b%[2J\\x07", err)
    one_line(err)
    _, err = cli("list", esc)
    assert.matches("no event matches '\\x1b%[2J\\x07'", err)
    one_line(err)
    _, err = cli("plan", "-e", "cpu/event=0x3c/" .. esc)
    assert.matches("\\x1b", err)
    one_line(err)
    -- names from a file: a suggestion carries the file's bytes escaped
    local dir = T.tmpdir()
    local path = dir .. "/esc_core.json"
    local f = assert(io.open(path, "w"))
    f:write(cjson.encode({ Events = { { EventName = "BAD\27NAME", EventCode = "0x3c", Counter = "0" } } }))
    f:close()
    _, err = cli("plan", "--events-json", path, "-e", "BAD_NAME")
    assert.matches("unknown event 'BAD_NAME'", err)
    assert.matches("did you mean BAD\\x1bNAME", err)
    one_line(err)
    local evs, serr = catalog.select({ events = {}, by_name = {}, by_lname = {} }, { "a\0b" })
    assert.is_nil(evs)
    assert.matches("\\x00", serr)
    T.rmtree(dir)
  end)
end)
