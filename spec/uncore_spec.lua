-- Uncore PMUs: every box of a unit is its own PMU, counted system-wide on
-- the CPUs its cpumask names (the kernel refuses uncore events per task),
-- planned once per unit beside the core PMU (runs = max over PMUs), with
-- counts kept per box.
local cjson = require "cjson"
local core = require "autoperf.core"
local plan_mod = require "autoperf.plan"
local profile = require "autoperf.profile"
local uncore = require "autoperf.pmu.uncore"
local T = require "spec.support"

local DATA = T.pmu_data

-- A small perfmon file named like Intel's (skylakex -> skx); unit: the
-- events' Unit (uncore) or nil (core).
local function perfmon_file(dir, base, unit, events)
  local evs = {}
  for i, e in ipairs(events) do
    -- Counter false: none given (the PMU's counters, 4 when nothing says)
    local counter = e[4]
    if counter == nil then counter = "0,1,2,3" end
    evs[i] = { EventName = e[1], EventCode = e[2], UMask = e[3] or "0x00", Counter = counter or nil,
               Unit = unit and (e[5] or unit) or nil, BriefDescription = e[1] .. " (fixture)" }
  end
  local path = dir .. "/" .. base
  T.write(path, cjson.encode({ Events = evs }))
  return path
end

-- A simulated Skylake-X: two core events, uncore CHA and iMC events.
local function machine(dir, ncha, counter)
  local corefile = perfmon_file(dir, "skylakex_core.json", nil, {
    { "INST_RETIRED.ANY_P", "0xC0" }, { "BR_INST_RETIRED.ALL_BRANCHES", "0xC4" } })
  local cha = {}
  for i = 1, ncha or 2 do
    cha[i] = { "UNC_C_FIX" .. i, string.format("0x%x", i), "0x00", counter == nil and "0,1,2,3" or counter, "CHA" }
  end
  cha[#cha + 1] = { "UNC_M_CAS_COUNT.RD", "0x04", "0x03", "0,1,2,3", "iMC" }
  local uncfile = perfmon_file(dir, "skylakex_uncore.json", "CHA", cha)
  return "sim:" .. corefile .. "," .. uncfile
end

local ROOT = { euid = 0, privileged = true, paranoid = 2, user_only = false, system_wide = true }
local USER = { euid = 1000, privileged = false, paranoid = 2, user_only = true, system_wide = false }

local function rows(path)
  local out = {}
  for i, r in ipairs(T.csv(path)) do
    if i > 1 then out[#out + 1] = r end
  end
  return out
end

describe("uncore planning", function()
  local function ev(name, pmu, n, extra)
    local e = { name = name, pmu = pmu, source = "perfmon", model = "m",
                counters = { generic = { 0, 1, 2, 3 }, fixed = {} } }
    if pmu ~= "cpu" then e.unit, e.uncore = pmu, true end
    for k, v in pairs(extra or {}) do e[k] = v end
    return e, n
  end
  local function events(spec)
    local out = {}
    for _, s in ipairs(spec) do
      for i = 1, s[2] do out[#out + 1] = (ev(s[1] .. i, s[1] == "core" and "cpu" or s[1])) end
    end
    return out
  end

  it("plans a unit once beside the core PMU: runs = the largest PMU's, not the sum", function()
    -- core 9 events (3 runs on 4 counters), CHA 5 (2 runs), iMC 12 (3 runs)
    local p = assert(plan_mod.make(events({ { "core", 9 }, { "uncore_cha", 5 }, { "uncore_imc", 12 } }), {}))
    assert.equal(3, #p.runs)
    assert.equal(3, p.lower_bound)
    -- and each run holds at most one group of each PMU, within its 4 counters
    for _, run in ipairs(p.runs) do
      local seen = {}
      for _, g in ipairs(run.groups) do
        local pmu = g.events[1].pmu
        assert.is_nil(seen[pmu], pmu)
        seen[pmu] = true
        assert.is_true(#g.events <= 4)
      end
    end
  end)

  it("bounds runs by the fullest PMU, whichever it is", function()
    local p = assert(plan_mod.make(events({ { "core", 2 }, { "uncore_upi", 17 } }), {}))
    assert.equal(5, p.lower_bound)
    assert.equal(5, #p.runs)
  end)

  it("leaves the NMI watchdog's counter to the core PMU (it holds no uncore counter)", function()
    local p = assert(plan_mod.make(events({ { "uncore_cha", 8 } }), { nmi_watchdog = true }))
    assert.equal(2, #p.runs)
  end)

  local CORE, UNC = DATA .. "/skylakex_core.json", DATA .. "/skylakex_uncore.json"
  local plan_json = T.plan_json

  it("plans Skylake-X core + uncore in the core file's runs, at the bound (perfmon data)", function()
    if not (T.have(CORE) and T.have(UNC)) then
      pending("no perfmon data at " .. DATA)
      return
    end
    local c, u, both = plan_json(CORE), plan_json(UNC), plan_json(CORE, UNC)
    assert.equal(math.max(#c.runs, #u.runs), #both.runs)
    assert.equal(#both.runs, both.lower_bound)
    assert.equal(u.lower_bound, #u.runs)
  end)

  it("plans libpfm4's Zen 3 L3 on amd_l3 with the kernel's 6 counters (NUM_COUNTERS_L3), not libpfm4's 4", function()
    local out, err, code = T.autoperf("plan", "--pmu", "amd64_fam19h_zen3_l3", "--json")
    assert.equal(0, code, err)
    local p = cjson.decode(out)
    assert.equal(1, #p.runs)
    local g = p.runs[1].groups[1]
    assert.equal("amd_l3", g.pmu)
    assert.equal(3, #g.events)
  end)

  it("plans libpfm4's Fam15h NorthBridge on amd_nb's 4 counters (NUM_COUNTERS_NB), at the bound", function()
    local out, err, code = T.autoperf("plan", "--pmu", "amd64_fam15h_nb", "--json")
    assert.equal(0, code, err)
    local p = cjson.decode(out)
    assert.equal(p.lower_bound, #p.runs)
    local n = 0
    for _, run in ipairs(p.runs) do
      for _, g in ipairs(run.groups) do
        assert.equal("amd_nb", g.pmu)
        assert.is_true(#g.events <= 4)
        n = n + #g.events
      end
    end
    assert.equal(math.ceil(n / 4), #p.runs)
  end)
end)

describe("uncore facts", function()
  it("finds each box of a unit in sysfs, with its own type and cpumask", function()
    local dir = T.tmpdir()
    for _, b in ipairs({ { "uncore_cha_1", 31, "0,28" }, { "uncore_cha_0", 30, "0,28" }, { "uncore_chax_0", 9, "0" },
                         { "amd_l3", 12, "0,8,16,24" } }) do
      os.execute("mkdir -p " .. dir .. "/" .. b[1])
      T.write(dir .. "/" .. b[1] .. "/type", b[2] .. "\n")
      T.write(dir .. "/" .. b[1] .. "/cpumask", b[3] .. "\n")
    end
    local cha = uncore.boxes("uncore_cha", dir)
    local l3 = uncore.boxes("amd_l3", dir)
    T.rmtree(dir)
    assert.equal(2, #cha)
    assert.same({ "uncore_cha_0", 30, { 0, 28 } }, { cha[1].name, cha[1].type, cha[1].cpus })
    assert.same({ "uncore_cha_1", 31 }, { cha[2].name, cha[2].type })
    assert.equal(1, #l3)
    assert.same({ 0, 8, 16, 24 }, l3[1].cpus)
  end)

  it("sets the L3 thread and slice masks as amd_uncore_l3_event_init() does", function()
    -- family 19h: no thread named -> every thread, core and slice
    assert.equal(0x04 | (3 << 56) | (1 << 46) | (1 << 47), uncore.l3_config(0x04, 0x19))
    assert.equal(0x04 | (1 << 56), uncore.l3_config(0x04 | (1 << 56), 0x19))
    -- family 17h: an unset slice or thread mask becomes all ones
    assert.equal(0x04 | (0xf << 48) | (0xff << 56), uncore.l3_config(0x04, 0x17))
  end)

  it("takes DF counters from CPUID 0x80000022 EBX[15:10] with PerfMonV2, else 4", function()
    assert.equal(16, uncore.df_counters(function() return 1, 16 << 10, 0, 0 end))
    assert.equal(4, uncore.df_counters(function() return 0, 16 << 10, 0, 0 end))
    assert.equal(4, uncore.df_counters(function() return nil, "no such leaf" end))
  end)

  it("reads the format's config bits as the kernel's sysfs writes them", function()
    assert.equal(0xf0000ffff, uncore.format_mask(uncore.FORMAT.amd_nb))
    assert.equal(0xffff, uncore.PFM_MODELS.amd64_fam19h_zen3_l3.mask)
  end)

  it("gives 'autoperf stats' its rules in one shape", function()
    local ids = {}
    for _, r in ipairs(uncore.RULES) do
      assert.is_string(r.id)
      assert.is_string(r.cite)
      assert.is_string(r.what)
      assert.is_function(r.applies)
      ids[r.id] = r
    end
    assert.is_true(ids["uncore.box"].applies({ unit = "CHA", pmu = "uncore_cha" }))
    assert.is_false(ids["uncore.box"].applies({ pmu = "cpu" }))
    assert.is_true(ids["uncore.amd_l3"].applies({ pmu = "amd_l3", uncore = true }))
  end)
end)

describe("the simulated uncore PMU", function()
  it("refuses a per-task group (EINVAL), as perf_event_open() refuses a task for perf_invalid_context", function()
    local box = core.sim_pmu({ counters = 0xf, uncore = true })
    local g, err, errno = box:group(core.getpid and core.getpid() or 1, -1)
    assert.is_nil(g)
    assert.equal(core.errno.EINVAL, errno, err)
    -- nor system-wide without a cpu's box; on a cpu it counts
    assert.has_error(function() box:group(-1, -1) end)
    local ok = assert(box:group(-1, 0))
    ok:close()
    -- a core PMU takes a task
    local cpu = core.sim_pmu({ counters = 0xf })
    local t = assert(cpu:group(1, -1))
    t:close()
  end)
end)

describe("profiling uncore events", function()
  local dir
  before_each(function() dir = T.tmpdir() end)
  after_each(function() T.rmtree(dir) end)

  local function run(pmu, opts)
    local o = { argv = { "true" }, out = dir .. "/out", interval_ms = 0, pmu = pmu, access = ROOT }
    for k, v in pairs(opts or {}) do o[k] = v end
    local specs = o.specs
    o.specs = nil
    return profile.from_specs(specs, o)
  end

  it("counts every box system-wide on its cpumask CPU in a per-task profile, per box, never summed", function()
    local pmu = machine(dir)
    local r, err = run(pmu, { specs = { "UNC_C_FIX1", "UNC_M_CAS_COUNT.RD", "INST_RETIRED.ANY_P" } })
    assert.truthy(r, err)
    local notes = table.concat(r.notes, "\n")
    assert.matches("2 uncore events count system%-wide per box", notes)
    assert.matches("whole socket", notes)
    local m = cjson.decode(T.slurp(dir .. "/out/manifest.json"))
    assert.truthy(m.uncore and m.uncore.per_task_profile)
    local marked = {}
    for _, e in ipairs(m.events) do marked[e.name] = e end
    assert.is_true(marked.UNC_C_FIX1.system_wide)
    assert.equal(uncore.SIM_BOXES, #marked.UNC_C_FIX1.boxes)
    assert.is_nil(marked["INST_RETIRED.ANY_P"].system_wide)
    assert(require("autoperf.aggregate").aggregate(dir .. "/out"))
    local units, cpus = {}, {}
    for _, row in ipairs(rows(dir .. "/out/results.csv")) do
      units[row[1]] = units[row[1]] or {}
      units[row[1]][row[8]] = true
      cpus[row[8]] = tonumber(row[6])
    end
    assert.same({ ["uncore_cha_0:simulated"] = true, ["uncore_cha_1:simulated"] = true }, units.UNC_C_FIX1)
    assert.same({ ["uncore_imc_0:simulated"] = true, ["uncore_imc_1:simulated"] = true }, units["UNC_M_CAS_COUNT.RD"])
    assert.same({ ["cpu:simulated"] = true }, units["INST_RETIRED.ANY_P"])
    -- a box counts on the first CPU of a socket; the core event per task
    assert.is_true(cpus["uncore_cha_0:simulated"] >= 0)
    assert.equal(-1, cpus["cpu:simulated"])
    -- summary.csv: one row per box, each with its own total
    local per = {}
    for _, row in ipairs(rows(dir .. "/out/summary.csv")) do
      if row[1] == "UNC_C_FIX1" then per[#per + 1] = row[2] end
      assert.equal("ok", row[3], row[1])
    end
    table.sort(per)
    assert.same({ "uncore_cha_0:simulated", "uncore_cha_1:simulated" }, per)
  end)

  it("opens a box only on its cpumask's CPUs in a system-wide profile (-a), the core PMU on every CPU", function()
    local pmu = machine(dir)
    local r, err = run(pmu, { system_wide = true, specs = { "UNC_C_FIX1", "INST_RETIRED.ANY_P" } })
    assert.truthy(r, err)
    for _, n in ipairs(r.notes) do assert.is_nil(n:find("whole socket", 1, true)) end
    assert(require("autoperf.aggregate").aggregate(dir .. "/out"))
    local mask = {}
    for _, c in ipairs(uncore.sim_boxes("uncore_cha")[1].cpus) do mask[c] = true end
    local core_cpus, box_cpus = {}, {}
    for _, row in ipairs(rows(dir .. "/out/results.csv")) do
      local into = row[1] == "UNC_C_FIX1" and box_cpus or core_cpus
      into[tonumber(row[6])] = true
    end
    local online = require("autoperf.machine").online_cpus()
    for _, c in ipairs(online) do assert.is_true(core_cpus[c], "cpu " .. c) end
    for c in pairs(box_cpus) do assert.is_true(mask[c], "box counted on cpu " .. c) end
    assert.truthy(next(box_cpus))
  end)

  it("leaves uncore events out of a profile without system-wide access, with one note", function()
    local pmu = machine(dir)
    local r, err = run(pmu, { access = USER, specs = { "UNC_C_FIX1", "UNC_C_FIX2", "INST_RETIRED.ANY_P" } })
    assert.truthy(r, err)
    local hits = 0
    for _, n in ipairs(r.notes) do
      if n:find("uncore events left out", 1, true) then
        hits = hits + 1
        assert.matches("2 uncore events left out", n)
        assert.matches("perf_event_paranoid <= 0 or CAP_PERFMON", n)
      end
    end
    assert.equal(1, hits)
    local refused = {}
    for _, x in ipairs(r.refused) do refused[x.name] = x.error end
    assert.matches("system%-wide only", refused.UNC_C_FIX1)
    assert.is_nil(refused["INST_RETIRED.ANY_P"])
    assert(require("autoperf.aggregate").aggregate(dir .. "/out"))
    for _, row in ipairs(rows(dir .. "/out/results.csv")) do
      assert.equal("INST_RETIRED.ANY_P", row[1])
    end
  end)

  it("re-plans a unit's group a box refuses at open, and counts it on every box", function()
    -- the planner is told CHA has 6 counters; each simulated box has 4
    -- (no Counter field: the architectural guess)
    local pmu = machine(dir, 6, false)
    local specs = {}
    for i = 1, 6 do specs[i] = "UNC_C_FIX" .. i end
    local r, err = run(pmu, { specs = specs, counters = { uncore_cha = { generic = 6, fixed = 0 } } })
    assert.truthy(r, err)
    local m = cjson.decode(T.slurp(dir .. "/out/manifest.json"))
    assert.equal(2, #m.replanned)
    for _, rp in ipairs(m.replanned) do assert.matches("refused beside its group at open", rp.why) end
    assert(require("autoperf.aggregate").aggregate(dir .. "/out"))
    local boxes = {}
    for _, row in ipairs(rows(dir .. "/out/summary.csv")) do
      assert.equal("ok", row[3], row[1])
      boxes[row[1]] = (boxes[row[1]] or 0) + 1
    end
    for i = 1, 6 do assert.equal(uncore.SIM_BOXES, boxes["UNC_C_FIX" .. i]) end
  end)
end)
