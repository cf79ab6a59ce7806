-- Hybrid Intel (Alder Lake): perfmon's two core files are two PMUs,
-- cpu_core (Golden Cove) and cpu_atom (Gracemont), each planned with its
-- own counters; a run holds one group of each.
local cjson = require "cjson"
local hybrid = require "autoperf.pmu.hybrid"
local perfmon = require "autoperf.perfmon"
local T = require "spec.support"

local DATA = T.pmu_data
local GLC = DATA .. "/alderlake_goldencove_core.json"
local GRT = DATA .. "/alderlake_gracemont_core.json"

-- Whether every file of paths is here; if not, one pending spec (named
-- what) names them, and the describe it stands in returns.
local function here(what, ...)
  local paths = { ... }
  for _, p in ipairs(paths) do
    if not T.have(p) then
      it(what, function() pending("no " .. table.concat(paths, " or ") .. " here") end)
      return false
    end
  end
  return true
end

-- The counters of each PMU: perfmon's Counter fields and the kernel's
-- intel_pmu_init() agree (hybrid.lua).
local LIMITS = { cpu_core = { g = 8, f = 4 }, cpu_atom = { g = 6, f = 3 } }

local plan_json = T.plan_json

describe("hybrid Intel core types", function()
  it("knows which half a perfmon file describes, by Intel's file names", function()
    assert.equal("cpu_core", hybrid.of_file("alderlake_goldencove_core.json").pmu)
    assert.equal("cpu_atom", hybrid.of_file("/x/ALDERLAKE_GRACEMONT_CORE.json").pmu)
    assert.is_nil(hybrid.of_file("skylake_core.json"))
    assert.equal("cpu_atom", hybrid.of_model("adl_grt").pmu)
    assert.equal(6, hybrid.of_pmu("cpu_atom").generic)
  end)

  it("puts the PMU type of a generic hardware event in config[63:32]", function()
    assert.equal((8 << 32) | 1, hybrid.hw_config(1, 8))
    assert.equal((4 << 32), hybrid.hw_config((10 << 32), 4))
  end)

  it("gives each half its sysfs type and CPU mask where the machine has them", function()
    local dir = T.tmpdir()
    os.execute("mkdir -p " .. dir .. "/cpu_atom " .. dir .. "/cpu_core")
    local function put(path, s) T.write(dir .. "/" .. path, s) end
    put("cpu_atom/type", "10\n")
    put("cpu_atom/cpus", "16-23\n")
    put("cpu_core/type", "4\n")
    put("cpu_core/cpus", "0-15\n")
    local atom = perfmon.core_pmu("alderlake_gracemont_core.json", dir)
    local pcore = perfmon.core_pmu("alderlake_goldencove_core.json", dir)
    local plain = perfmon.core_pmu("skylake_core.json", dir)
    local absent = perfmon.core_pmu("alderlake_gracemont_core.json", dir .. "/none")
    T.rmtree(dir)
    assert.same({ "cpu_atom", 10, "16-23" }, { atom.name, atom.type, atom.cpus })
    assert.same({ "cpu_core", 4, "0-15" }, { pcore.name, pcore.type, pcore.cpus })
    assert.same({ "cpu", 4 }, { plain.name, plain.type })
    assert.is_nil(plain.cpus)
    assert.same({ "cpu_atom", 4 }, { absent.name, absent.type })
    assert.is_nil(absent.cpus)
  end)
end)

-- A sysfs-like tree of PMUs: {name = {type=, cpus=}}.
local function fake_sysfs(pmus)
  local dir = T.tmpdir()
  for name, p in pairs(pmus) do
    os.execute("mkdir -p " .. dir .. "/" .. name)
    for k, v in pairs(p) do
      local f = assert(io.open(dir .. "/" .. name .. "/" .. k, "w"))
      f:write(v .. "\n")
      f:close()
    end
  end
  return dir
end

describe("the catalog of a hybrid machine", function()
  local catalog = require "autoperf.catalog"

  it("reads each PMU's CPU mask from sysfs", function()
    local dir = fake_sysfs({ cpu_core = { type = 4, cpus = "0-15" }, cpu_atom = { type = 10, cpus = "16-23" } })
    local pmus = catalog.sysfs_pmus(dir)
    T.rmtree(dir)
    local cpus = {}
    for _, p in ipairs(pmus) do cpus[p.name] = p.cpus end
    assert.same({ cpu_core = "0-15", cpu_atom = "16-23" }, cpus)
  end)

  it("gives each half its own generic events, by perf's names, its type in config[63:32]", function()
    local dir = fake_sysfs({ cpu_core = { type = 4, cpus = "0-15" }, cpu_atom = { type = 10, cpus = "16-23" } })
    local cat = assert(catalog.load({ sysfs = dir, hardware = true, no_cache = true }))
    T.rmtree(dir)
    local core_ev, atom_ev = cat.by_name["cpu_core/instructions/"], cat.by_name["cpu_atom/instructions/"]
    assert.same({ "cpu_core", 0, (4 << 32) | 1, "0-15" }, { core_ev.pmu, core_ev.type, core_ev.config, core_ev.cpus })
    assert.same({ "cpu_atom", 0, (10 << 32) | 1, "16-23" }, { atom_ev.pmu, atom_ev.type, atom_ev.config, atom_ev.cpus })
    -- an unqualified name selects both halves, a qualified one its half
    local both = assert(catalog.select(cat, { "instructions,cycles:u" }))
    local names = {}
    for _, e in ipairs(both) do names[#names + 1] = e.name end
    assert.same({ "cpu_core/instructions/", "cpu_atom/instructions/", "cpu_core/cpu-cycles/:u", "cpu_atom/cpu-cycles/:u" }, names)
    local one = assert(catalog.select(cat, { "cpu_atom/cycles/" }))
    assert.same({ "cpu_atom/cpu-cycles/" }, { one[1].name, one[2] })
    assert.equal((10 << 32), one[1].config)
  end)

  if not here("has Intel's Gracemont file to read", GRT) then return end

  -- the file's own record (a forced libpfm4 model may have the name too)
  local function atom_event(cat, name)
    for _, e in ipairs(cat.events) do
      if e.name == name and e.source == "perfmon" then return e end
    end
  end

  it("opens cpu_atom's events with cpu_atom's type, and only where the kernel has cpu_atom", function()
    local dir = fake_sysfs({ cpu_core = { type = 4, cpus = "0-15" }, cpu_atom = { type = 10, cpus = "16-23" } })
    local cat = assert(catalog.load({ sysfs = dir, hardware = true, no_cache = true, events_json = { GRT } }))
    T.rmtree(dir)
    local ev = atom_event(cat, "LONGEST_LAT_CACHE.MISS")
    assert.same({ "cpu_atom", 10, "16-23", true }, { ev.pmu, ev.type, ev.cpus, ev.available })
    dir = fake_sysfs({ cpu = { type = 4 } })
    cat = assert(catalog.load({ sysfs = dir, hardware = true, no_cache = true, events_json = { GRT } }))
    T.rmtree(dir)
    ev = atom_event(cat, "LONGEST_LAT_CACHE.MISS")
    assert.is_false(ev.available)
    assert.matches("no cpu_atom PMU", ev.why)
  end)
end)

describe("planning Alder Lake's two core PMUs", function()
  if not here("has Intel's Alder Lake files to read", GLC, GRT) then return end

  it("gives every event of each file its half's PMU", function()
    for file, pmu in pairs({ [GLC] = "cpu_core", [GRT] = "cpu_atom" }) do
      local recs = assert(perfmon.load(file, { smt = true }))
      assert.truthy(#recs > 100)
      for _, r in ipairs(recs) do
        assert.equal(pmu, r.pmu, r.name)
        assert.equal(LIMITS[pmu].g, r.counters.generic_count, r.name)
      end
    end
  end)

  it("plans cpu_core and cpu_atom groups, each within its own counters, in max(runs) runs", function()
    local both = plan_json(GLC, GRT)
    local alone_core, alone_atom = plan_json(GLC), plan_json(GRT)
    assert.equal(math.max(#alone_core.runs, #alone_atom.runs), #both.runs)
    assert.equal(math.max(alone_core.lower_bound, alone_atom.lower_bound), both.lower_bound)
    local seen, events = {}, 0
    for r, run in ipairs(both.runs) do
      local per = {}
      for _, g in ipairs(run.groups) do
        assert.truthy(LIMITS[g.pmu], "run " .. r .. ": group of PMU " .. tostring(g.pmu))
        assert.is_nil(per[g.pmu], "run " .. r .. ": two groups of " .. g.pmu)
        per[g.pmu] = true
        seen[g.pmu] = true
        events = events + #g.events
        for _, c in ipairs(g.counters) do
          local kind, n = c:match("^([gf])(%d+)$")
          assert.truthy(kind, c)
          assert.truthy(tonumber(n) < LIMITS[g.pmu][kind],
            string.format("run %d: %s on %s, which has %d", r, c, g.pmu, LIMITS[g.pmu][kind]))
        end
      end
    end
    assert.truthy(seen.cpu_core and seen.cpu_atom)
    local n = 0
    for _, f in ipairs({ GLC, GRT }) do n = n + #cjson.decode(T.slurp(f)).Events end
    assert.equal(n, events)
  end)

  it("prints the two PMUs' groups by their kernel names", function()
    local out, err, code = T.autoperf("plan", "--smt", "on", "--events-json", GLC, "--events-json", GRT)
    assert.equal(0, code, err)
    assert.matches("run 1: cpu_core {[^}]*}; cpu_atom {", out)
    assert.is_nil(out:find(" cpu {", 1, true))
  end)

  it("lists the two PMUs apart in stats", function()
    local out, err, code = T.autoperf("stats", "--smt", "on", "--events-json", GLC, "--events-json", GRT)
    assert.equal(0, code, err)
    for file, pmu in pairs({ [GLC] = "cpu_core", [GRT] = "cpu_atom" }) do
      -- the file's events and the kernel's topdown metric events (P-cores)
      local n = #cjson.decode(T.slurp(file)).Events + #(require("autoperf.pmu.intel").metric_events(file, pmu) or {})
      assert.matches(pmu .. " %[[^%]]*%]: " .. n .. " events", out)
    end
  end)
end)

describe("selecting and simulating Alder Lake's two halves", function()
  if not here("has Intel's Alder Lake files to read", GLC, GRT) then return end

  it("simulates both files as two PMUs with --pmu sim:A.json,B.json", function()
    local out, err, code = T.autoperf("list", "--pmu", "sim:" .. GLC .. "," .. GRT, "--source", "perfmon", "--json")
    assert.equal(0, code, err)
    local n = {}
    for _, e in ipairs(cjson.decode(out)) do
      assert.is_true(e.available and e.simulated, e.name)
      n[e.pmu] = (n[e.pmu] or 0) + 1
    end
    assert.same({ cpu_core = #cjson.decode(T.slurp(GLC)).Events, cpu_atom = #cjson.decode(T.slurp(GRT)).Events }, n)
    out, err, code = T.autoperf("plan", "--pmu", "sim:" .. GLC .. "," .. GRT)
    assert.equal(0, code, err)
    assert.matches("run 1: cpu_core {[^}]*}; cpu_atom {", out)
  end)
end)

describe("hybrid halves' simulated CPU masks", function()
  it("split the online CPUs in blocks, cpu_core first; a lone half or too few CPUs take every CPU", function()
    local both = { cpu_core = true, cpu_atom = true }
    assert.same({ cpu_core = "0", cpu_atom = "1" }, hybrid.sim_masks(both, { 0, 1 }))
    assert.same({ cpu_core = "0-3", cpu_atom = "4-7" }, hybrid.sim_masks(both, { 0, 1, 2, 3, 4, 5, 6, 7 }))
    assert.same({ cpu_core = "0-2", cpu_atom = "3-4" }, hybrid.sim_masks(both, { 0, 1, 2, 3, 4 }))
    assert.same({ cpu_core = "0,2", cpu_atom = "5" }, hybrid.sim_masks(both, { 0, 2, 5 }))
    assert.same({ cpu_core = "0", cpu_atom = "0" }, hybrid.sim_masks(both, { 0 }))
    assert.same({ cpu_atom = "0-1" }, hybrid.sim_masks({ cpu_atom = true }, { 0, 1 }))
  end)

  it("names the rules it models for autoperf stats, each with its kernel function", function()
    assert.truthy(#hybrid.RULES >= 4)
    local ids = {}
    for _, r in ipairs(hybrid.RULES) do
      assert.matches("^hybrid%.[%w_]+$", r.id)
      assert.matches("^[%w_/%.]+%.c: [%w_]+%(%)", r.cite)
      assert.truthy(#r.what > 10)
      ids[r.id] = true
    end
    assert.truthy(ids["hybrid.mask"])
    local mask = hybrid.RULES[1]
    for _, r in ipairs(hybrid.RULES) do if r.id == "hybrid.mask" then mask = r end end
    assert.is_true(mask.applies({ pmu = "cpu_atom", name = "x" }))
    assert.is_false(mask.applies({ pmu = "cpu", name = "x" }))
  end)
end)

describe("profiling both simulated halves", function()
  if not here("has Intel's Alder Lake files to read", GLC, GRT) then return end
  local SIM = "sim:" .. GLC .. "," .. GRT
  local ap = require "autoperf"
  local core = require "autoperf.core"
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  local function rows_of(results)
    local by = {}
    for i, row in ipairs(T.csv(results)) do
      if i > 1 then
        by[row[1]] = by[row[1]] or { unit = row[8], total = 0, cpus = {} }
        by[row[1]].total = by[row[1]].total + tonumber(row[9])
        by[row[1]].cpus[tonumber(row[6])] = true
      end
    end
    return by
  end

  it("selects one half by perf's pmu/name/ form and both by the plain name; hostile specs stay bounded", function()
    local one = assert(ap.select("cpu_atom/INST_RETIRED.ANY/:u", { pmu = SIM }))
    assert.same({ "cpu_atom/INST_RETIRED.ANY/:u", "cpu_atom" }, { one[1].name, one[1].pmu, one[2] })
    local both = assert(ap.select("INST_RETIRED.ANY,BR_INST_RETIRED.*", { pmu = SIM }))
    local names, n = {}, {}
    for _, e in ipairs(both) do
      assert.is_nil(names[e.name], e.name)
      names[e.name] = e.pmu
      if e.name:find("/", 1, true) then n[e.pmu] = (n[e.pmu] or 0) + 1 end
    end
    assert.same({ "cpu_core", "cpu_atom" }, { names["cpu_core/INST_RETIRED.ANY/"], names["cpu_atom/INST_RETIRED.ANY/"] })
    assert.truthy(n.cpu_core > 1 and n.cpu_atom > 1)
    for _, spec in ipairs({ "cpu_atom/" .. ("A"):rep(5000) .. "/", "cpu_core/INST_RETIRED.ANY\27[31m/",
                            "cpu_atom//", ("cpu_atom/x/"):rep(300, ","), "cpu_" .. ("x"):rep(4000) .. "/INST_RETIRED.ANY/" }) do
      local evs, err = ap.select(spec, { pmu = SIM })
      assert.is_nil(evs)
      assert.truthy(#err < 700, #err)
      assert.is_nil(err:find("\27", 1, true))
    end
  end)

  it("keeps both halves' same-named events apart through aggregate: a default profile of both files", function()
    local out, err, code = T.autoperf("profile", "--pmu", SIM, "-I", "0", "-q", "-o", dir .. "/p", "--", "true")
    assert.equal(0, code, err .. out)
    out, err, code = T.autoperf("aggregate", dir .. "/p")
    assert.equal(0, code, err)
    local by = rows_of(dir .. "/p/results.csv")
    local n = 0
    for name, r in pairs(by) do
      n = n + 1
      assert.matches(":simulated$", r.unit, name)
    end
    local files = #cjson.decode(T.slurp(GLC)).Events + #cjson.decode(T.slurp(GRT)).Events
      + #require("autoperf.pmu.intel").metric_events(GLC, "cpu_core") -- the kernel's PERF_METRICS events
      + 1 -- and the slots event that leads them (TOPDOWN.SLOTS#lead: TOPDOWN.SLOTS stays an anchor)
    assert.equal(files, n) -- every event of both files, none merged
    assert.is_nil(by["INST_RETIRED.ANY"])
    assert.equal("cpu_core:simulated", by["cpu_core/INST_RETIRED.ANY/"].unit)
    assert.equal("cpu_atom:simulated", by["cpu_atom/INST_RETIRED.ANY/"].unit)
    assert.equal("cpu_core:simulated", by["TOPDOWN.SLOTS"].unit) -- one half's own name stays plain
  end)

  it("counts each half only while the task runs on its CPUs (cpu_core: cpu0, cpu_atom: cpu1)", function()
    if #require("autoperf.machine").online_cpus() ~= 2 then pending("the masks here assume 2 online CPUs") return end
    local ev = { "INST_RETIRED.ANY", "task-clock" }
    local spin = T.workload("spin")
    -- spin prints its time: kept out of the test's output
    local argv = { "sh", "-c", 'exec "$0" 30 >/dev/null', spin }
    local on0 = assert(ap.measure({ argv = argv, cpus = { 0 } }, { pmu = SIM, events = ev }))
    local on1 = assert(ap.measure({ argv = argv, cpus = { 1 } }, { pmu = SIM, events = ev }))
    local C, A = "cpu_core/INST_RETIRED.ANY/", "cpu_atom/INST_RETIRED.ANY/"
    assert.truthy(on0[C] > 0)
    assert.equal(0, on0[A])
    assert.equal(0, on1[C])
    assert.truthy(on1[A] > 0)
    assert.equal("cpu_atom:simulated", on1.units[A])
    -- the half that did not run is not taken for multiplexing and re-measured
    for _, r in ipairs({ on0, on1 }) do
      assert.matches("^ok", r:status(C))
      assert.matches("^ok", r:status(A))
      assert.equal(1, #r.manifest.plan.runs)
      assert.is_nil(r.manifest.replanned)
    end
    assert.equal("ok", on0:status(C))
    assert.matches("^ok: a hybrid half, counted while the command ran on its CPUs %(1%)", on0:status(A))
  end)

  it("opens a half system-wide on its own CPUs only (elsewhere the kernel says ENOENT)", function()
    if #require("autoperf.machine").online_cpus() ~= 2 then pending("the masks here assume 2 online CPUs") return end
    if not require("autoperf.machine").access().system_wide then pending("-a is not allowed here") return end
    local out, err, code = T.autoperf("profile", "--pmu", SIM, "-a", "-I", "0", "-q", "-e", "INST_RETIRED.ANY",
      "-o", dir .. "/p", "--", T.workload("spin"), "10")
    assert.equal(0, code, err .. out)
    assert.equal(0, select(3, T.autoperf("aggregate", dir .. "/p")))
    local by = rows_of(dir .. "/p/results.csv")
    assert.same({ [0] = true }, by["cpu_core/INST_RETIRED.ANY/"].cpus)
    assert.same({ [1] = true }, by["cpu_atom/INST_RETIRED.ANY/"].cpus)
    assert.is_nil(T.slurp(dir .. "/p/manifest.json"):find("ENOENT", 1, true))
  end)

  it("refuses a simulated half's group bound to a CPU outside its mask with ENOENT", function()
    local pmu = core.sim_pmu({ counters = 0xff, cpus = { 1 } })
    local g, err, errno = pmu:group(-1, 0)
    assert.is_nil(g)
    assert.equal(core.errno.ENOENT, errno, err)
    g = assert(pmu:group(-1, 1))
    g:close()
  end)
end)

describe("--core-type", function()
  if not here("has Intel's Alder Lake files to read", GLC, GRT) then return end
  local SIM = "sim:" .. GLC .. "," .. GRT
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("pins the command to the half's CPUs, measures only that half and records it", function()
    local masks = hybrid.sim_masks({ cpu_core = true, cpu_atom = true }, require("autoperf.machine").online_cpus())
    for word, pmu in pairs({ core = "cpu_core", atom = "cpu_atom" }) do
      local out, err, code = T.autoperf("profile", "--pmu", SIM, "--core-type", word, "-I", "0", "-q",
        "-e", "INST_RETIRED.ANY,task-clock", "-o", dir .. "/" .. word, "--", "grep", "Cpus_allowed_list", "/proc/self/status")
      assert.equal(0, code, err)
      -- the workload's own view of its affinity
      assert.equal(masks[pmu], out:match("Cpus_allowed_list:%s*(%S+)"))
      local m = cjson.decode(T.slurp(dir .. "/" .. word .. "/manifest.json"))
      assert.same({ core_type = word, pmu = pmu, cpus = masks[pmu] }, m.pinned)
      assert.equal(word, m.settings.core_type)
      local names = {}
      for _, e in ipairs(m.events) do names[#names + 1] = e.name end
      table.sort(names)
      assert.same({ pmu .. "/INST_RETIRED.ANY/", "task-clock" }, names)
    end
  end)

  it("takes perf's pmu/name/ form on the command line, and refuses hostile forms in one bounded line", function()
    -- (no anchors: every event named is in the runs)
    local out, err, code = T.autoperf("plan", "--pmu", SIM, "--json", "--anchor", "none", "-e",
      "cpu_atom/INST_RETIRED.ANY/,cpu_core/BR_MISP_RETIRED.ALL_BRANCHES/:u,{cpu_core/INST_RETIRED.ANY/,TOPDOWN.SLOTS}")
    assert.equal(0, code, err)
    local names = {}
    for _, run in ipairs(cjson.decode(out).runs) do
      for _, g in ipairs(run.groups) do
        for _, e in ipairs(g.events) do names[#names + 1] = g.pmu .. " " .. e end
      end
    end
    table.sort(names)
    assert.same({ "cpu_atom cpu_atom/INST_RETIRED.ANY/", "cpu_core TOPDOWN.SLOTS",
                  "cpu_core cpu_core/BR_MISP_RETIRED.ALL_BRANCHES/:u", "cpu_core cpu_core/INST_RETIRED.ANY/" }, names)
    for _, spec in ipairs({ "cpu_atom/" .. ("I"):rep(20000) .. "/", "cpu_atom/INST_RETIRED.ANY/\x1b[2J",
                            "cpu_atom/INST_RETIRED.ANY/:zz", "cpu_atom/INST_RETIRED.ANY" }) do
      _, err, code = T.autoperf("plan", "--pmu", SIM, "-e", spec)
      assert.equal(2, code, spec:sub(1, 60))
      assert.equal(1, #T.lines(err))
      assert.truthy(#err < 800, #err)
    end
  end)

  it("plans only that half's events", function()
    local out, err, code = T.autoperf("plan", "--pmu", SIM, "--core-type", "atom", "--json")
    assert.equal(0, code, err)
    local plan = cjson.decode(out)
    assert.equal(#cjson.decode(T.slurp(GRT)).Events, plan.events)
    for _, run in ipairs(plan.runs) do
      for _, g in ipairs(run.groups) do assert.equal("cpu_atom", g.pmu) end
    end
  end)

  it("is refused with one clear line where the machine is not hybrid", function()
    local out, err, code = T.autoperf("profile", "--core-type", "core", "-e", "task-clock", "-o", dir .. "/p", "--", "true")
    assert.equal(2, code, out)
    assert.matches("not a hybrid Intel part", err)
    assert.equal(1, #T.lines(err))
    _, err, code = T.autoperf("profile", "--pmu", SIM, "--core-type", "big", "-o", dir .. "/q", "--", "true")
    assert.equal(2, code)
    assert.matches("core", err)
  end)

  it("says so when the command cannot be pinned (sched_setaffinity fails in the child before exec)", function()
    local ap = require "autoperf"
    local r, err, code = ap.measure({ argv = { "true" }, cpus = { 1023 } }, { events = { "task-clock" } })
    assert.is_nil(r)
    assert.matches("sched_setaffinity", err)
    assert.equal(126, code)
  end)

  it("isolates both halves of a name given plain, one given qualified", function()
    local ap = require "autoperf"
    local evs = assert(ap.select("INST_RETIRED.ANY,BR_INST_RETIRED.ALL_BRANCHES,BR_MISP_RETIRED.ALL_BRANCHES", { pmu = SIM }))
    local function alone(isolate)
      local plan = assert(ap.plan(evs, { isolate = { isolate } }))
      local out = {}
      for _, run in ipairs(plan.runs) do
        for _, g in ipairs(run.groups) do
          if #g.events == 1 then out[#out + 1] = g.events[1].name end
        end
      end
      table.sort(out)
      return out
    end
    assert.same({ "cpu_atom/INST_RETIRED.ANY/", "cpu_core/INST_RETIRED.ANY/" }, alone("INST_RETIRED.ANY"))
    assert.same({ "cpu_atom/INST_RETIRED.ANY/" }, alone("cpu_atom/INST_RETIRED.ANY/"))
  end)

  it("goes through the one runner entry: ap.measure takes core_type too", function()
    local ap = require "autoperf"
    local r = assert(ap.measure({ "true" }, { pmu = SIM, core_type = "core", events = { "INST_RETIRED.ANY" } }))
    assert.same({ "cpu_core/INST_RETIRED.ANY/" }, r.events)
    assert.equal("core", r.manifest.pinned.core_type)
    local nr, err = ap.measure({ argv = { "true" }, cpus = { 0 } }, { pmu = SIM, core_type = "atom" })
    assert.is_nil(nr)
    assert.matches("not both", err)
  end)
end)
