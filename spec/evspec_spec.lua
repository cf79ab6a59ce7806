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
    if not cat.tracefs then return pending("tracefs is not mounted") end
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
