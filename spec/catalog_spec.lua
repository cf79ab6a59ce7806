local catalog = require "autoperf.catalog"
local util = require "autoperf.util"

describe("util", function()
  it("matches shell globs: * ? [a-z] [!x], a lone '[' as itself", function()
    local cases = {
      { "sched:*", "sched:sched_switch", true }, { "sched:*", "xsched:sched_switch", false },
      { "a?b", "a.b", true }, { "a?b", "a.bc", false }, { "cpu[0-4]", "cpu3", true }, { "cpu[0-4]", "cpu7", false },
      { "x%y", "x%y", true }, { "*", "", true }, { "?*", "", false }, { "a*b*c", "aXbYc", true },
      { "a*b*c", "acb", false }, { "ab*ab", "ab", false }, { "ab*ab", "abab", true }, { "*ab", "aab", true },
      { "[!a]x", "bx", true }, { "[!a]x", "ax", false }, { "[]]x", "]x", true }, { "[a-]", "-", true },
      { "a[b", "a[b", true }, { "syscalls:sys_enter_[rw]*", "syscalls:sys_enter_write", true },
      { "syscalls:sys_enter_[rw]*", "syscalls:sys_enter_open", false },
    }
    for _, c in ipairs(cases) do
      assert.equal(c[3], util.glob(c[1])(c[2]), c[1] .. " ~ " .. c[2])
    end
  end)

  it("splits keeping empty fields", function()
    assert.same({ "a", "", "b" }, util.split("a,,b", ","))
    assert.same({ "" }, util.split("", ","))
  end)

  it("finds the closest names", function()
    local near = util.closest("task-clok", { "task-clock", "cpu-clock", "page-faults" }, 2)
    assert.equal("task-clock", near[1])
    assert.same({}, util.closest("zzzzzzzz", { "ab", "cd" }, 3))
  end)

  it("quotes arguments for display like a shell", function()
    assert.equal("sh -c 'kill -9 $$'", util.shell_join({ "sh", "-c", "kill -9 $$" }))
    assert.equal("a ''", util.shell_join({ "a", "" }))
  end)

  it("resolves commands through PATH", function()
    assert.truthy(util.which("sh"))
    assert.is_nil(util.which("no-such-command-autoperf"))
    assert.is_nil(util.which("/nonexistent/x"))
    assert.is_nil(util.which("/tmp")) -- a directory is not a command
  end)
end)

describe("catalog formats", function()
  it("parses sysfs format files into bit ranges", function()
    assert.same({ field = "config", bits = { { 0, 7 } } }, catalog.parse_format("config:0-7\n"))
    assert.same({ field = "config1", bits = { { 0, 15 }, { 32, 47 } } },
      catalog.parse_format("config1:0-15,32-47"))
    assert.same({ field = "config", bits = { { 21, 21 } } }, catalog.parse_format("config:21"))
    assert.is_nil(catalog.parse_format("bogus"))
    assert.is_nil(catalog.parse_format("config:7-0"))
    assert.is_nil(catalog.parse_format("config:0-64"))
  end)

  it("places values into split bit fields, low bits first", function()
    local f = catalog.parse_format("config:0-3,8-11")
    assert.equal(0xb0a, catalog.place(f, 0xba))
    local v, err = catalog.place(f, 0x1ff)
    assert.is_nil(v)
    assert.matches("does not fit", err)
    assert.equal(-1, catalog.place(catalog.parse_format("config:0-63"), -1))
  end)

  it("encodes event terms with a PMU's formats", function()
    local formats = {
      event = catalog.parse_format("config:0-7"),
      umask = catalog.parse_format("config:8-15"),
      edge = catalog.parse_format("config:18"),
      ldlat = catalog.parse_format("config1:0-15"),
    }
    local a = catalog.encode_terms("event=0x3c,umask=0x01,edge,ldlat=3", formats)
    assert.equal(0x4013c, a.config)
    assert.equal(3, a.config1)
    assert.equal(0, a.config2)
    local bad, err = catalog.encode_terms("event=0x3c,bogus=1", formats)
    assert.is_nil(bad)
    assert.matches("unknown term 'bogus'", err)
    assert.is_nil(catalog.encode_terms("event=zz", formats))
  end)

  it("reads PMUs, their formats and events from a sysfs-like tree", function()
    local T = require "spec.support"
    local dir = T.tmpdir()
    os.execute("mkdir -p " .. dir .. "/fake/format " .. dir .. "/fake/events " .. dir .. "/plain")
    local function put(path, s) T.write(dir .. "/" .. path, s) end
    put("fake/type", "42\n")
    put("fake/format/event", "config:0-7\n")
    put("fake/format/umask", "config:8-15\n")
    put("fake/events/ev1", "event=0x3c,umask=0x2\n")
    put("fake/events/ev1.unit", "Joules\n")
    put("fake/events/ev2", "event=0x10,thresh=?\n")
    put("plain/type", "7\n")
    local pmus = catalog.sysfs_pmus(dir)
    T.rmtree(dir)
    assert.equal(2, #pmus)
    assert.equal("fake", pmus[1].name)
    assert.equal(42, pmus[1].type)
    assert.equal(1, #pmus[1].events) -- ev2 needs a value from the user
    local ev = pmus[1].events[1]
    assert.equal("fake/ev1/", ev.name)
    assert.equal(0x23c, ev.config)
    assert.matches("Joules", ev.desc)
    assert.equal(0, #pmus[2].events)
  end)
end)

describe("catalog of this machine", function()
  local cat = catalog.load()

  it("has the software events with their perf encodings", function()
    assert.equal(1, cat.by_name["task-clock"].type)
    assert.equal(1, cat.by_name["task-clock"].config)
    assert.equal(3, cat.by_name["context-switches"].config)
    assert.equal("software", cat.by_name["page-faults"].pmu)
  end)

  it("has every tracepoint of tracefs", function()
    if not cat.tracefs then
      pending(T.no_tracefs)
      return
    end
    local ev = cat.by_name["sched:sched_switch"]
    assert.truthy(ev)
    assert.equal(2, ev.type)
    assert.equal("tracepoint", ev.pmu)
    local id = tonumber(util.read_line(cat.tracefs .. "/events/sched/sched_switch/id"))
    assert.equal(id, ev.config)
    assert.truthy(#cat.events > 1000)
  end)

  it("selects by name, alias, glob and 'all', without duplicates", function()
    local evs = assert(catalog.select(cat, { "task-clock", "cs", "task-clock" }))
    assert.equal(2, #evs)
    assert.equal("context-switches", evs[2].name)
    local all = assert(catalog.select(cat, { "all", "task-clock" }))
    local available = 0
    for _, e in ipairs(cat.events) do
      if e.available then available = available + 1 end
    end
    assert.equal(available, #all)
    if cat.tracefs then
      local sched = assert(catalog.select(cat, { "sched:*" }))
      assert.truthy(#sched > 5)
      for _, e in ipairs(sched) do assert.matches("^sched:", e.name) end
    end
  end)

  it("explains an unknown name with the closest matches", function()
    local evs, err = catalog.select(cat, { "task-clok" })
    assert.is_nil(evs)
    assert.matches("unknown event 'task%-clok'", err)
    assert.matches("did you mean task%-clock", err)
    assert.is_nil((catalog.select(cat, { "nothing-like-this*" })))
    assert.is_nil((catalog.select(cat, { "" })))
  end)

  it("encodes pmu/term=value/ specs with the PMU's format", function()
    local msr
    for _, p in ipairs(cat.pmus) do
      if next(p.formats) then msr = p end
    end
    if not msr then
      pending("no sysfs PMU with a format/ directory here")
      return
    end
    local term = next(msr.formats)
    local evs = assert(catalog.select(cat, { msr.name .. "/" .. term .. "=1/" }))
    assert.equal(msr.type, evs[1].type)
    local _, err = catalog.select(cat, { msr.name .. "/nosuchterm=1/" })
    assert.matches("unknown term", err)
    local _, err2 = catalog.select(cat, { "nopmu/event=1/" })
    assert.matches("no PMU named 'nopmu'", err2)
  end)

  it("filters by glob or substring, case-insensitively", function()
    local evs = catalog.filter(cat.events, "CLOCK")
    local names = {}
    for _, e in ipairs(evs) do names[e.name] = true end
    assert.truthy(names["task-clock"] and names["cpu-clock"])
    assert.equal(0, #catalog.filter(cat.events, "zz*qq"))
  end)
end)

describe("list and perf's aliases", function()
  local T = require "spec.support"
  local cjson = require "cjson"

  it("matches a pattern against aliases: 'list cs' shows context-switches", function()
    local out, err, code = T.autoperf("list", "cs")
    assert.equal(0, code, err)
    assert.matches("\ncontext%-switches%s+software", "\n" .. out:gsub("\n  ", "\n"))
    out = assert(T.autoperf("list", "MIGRATIONS"))
    assert.matches("cpu%-migrations", out)
    local cat = catalog.load({ no_cache = true })
    local names = {}
    for _, e in ipairs(catalog.filter(cat.events, "faults")) do names[e.name] = true end
    assert.truthy(names["page-faults"])
    names = {}
    for _, e in ipairs(catalog.filter(cat.events, "c?")) do names[e.name] = true end
    assert.truthy(names["context-switches"], "a glob over aliases too")
  end)

  it("lists the aliases in --json", function()
    local out, err, code = T.autoperf("list", "--json", "cs")
    assert.equal(0, code, err)
    local found
    for _, e in ipairs(cjson.decode(out)) do
      if e.name == "context-switches" then found = e end
    end
    assert.truthy(found, "context-switches listed for 'cs'")
    assert.same({ "cs" }, found.aliases)
    out = assert(T.autoperf("list", "--json", "cpu-cycles"))
    for _, e in ipairs(cjson.decode(out)) do
      if e.name == "cpu-cycles" then assert.same({ "cycles" }, e.aliases) end
    end
  end)
end)
