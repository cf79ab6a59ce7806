-- The kernel's perf pmu-events JSON as a catalog source
-- (catalog/kernel_json.lua): perf's format, bounded on hostile input; the
-- AMD layout checked against libpfm4's encodings for Zen 1-4; arm64's
-- PMUv3 events from sysfs named by the common tables and the part's JSON.
local cjson = require "cjson"
local kj = require "autoperf.catalog.kernel_json"
local sources = require "autoperf.catalog.sources"
local arm64 = require "autoperf.pmu.arm64"
local util = require "autoperf.util"
local T = require "spec.support"

-- make extracts the real tables here from Debian's linux-source-6.12;
-- specs that read them are pending only when that tarball is absent.
local KDIR = "build/pmu-events"
local TARBALL = "/usr/src/linux-source-6.12.tar.xz"
local function real_data()
  if util.exists(KDIR .. "/x86/amdzen5") and util.exists(KDIR .. "/arm64/common-and-microarch.json") then
    return true
  end
  if not util.exists(TARBALL) then
    pending(TARBALL .. " is absent (Debian's linux-source-6.12; scripts/bootstrap installs it)")
    return false
  end
  error(KDIR .. " is missing although " .. TARBALL .. " is there: make extracts it", 0)
end

local function json(v) return cjson.encode(v) end

local function rule(id)
  for _, r in ipairs(arm64.RULES) do
    if r.id == id then return r end
  end
  error("no rule " .. id)
end

describe("kernel pmu-events JSON", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  describe("perf's format", function()
    it("reads EventName, EventCode, UMask, descriptions and Unit; metrics are no events", function()
      local es = assert(kj.parse(json({
        { EventName = "ex_ret_instr", EventCode = "0xc0", BriefDescription = "Retired instructions." },
        { EventName = "de_no_dispatch.fe", EventCode = "0x1a0", UMask = "0x01", PublicDescription = "long" },
        { EventName = "l3_lookup_state.l3_miss", EventCode = "0x04", UMask = "0x01", Unit = "L3PMC" },
        { MetricName = "ipc", MetricExpr = "ex_ret_instr / ls_not_halted_cyc" },
        { EventName = "rd_cpipe", ConfigCode = "0x00", Unit = "hisi_sccl,l3c" },
      }), "x.json"))
      assert.equal(4, #es)
      assert.same({ "rd_cpipe", 0 }, { es[4].name, es[4].config_code })
      assert.same({ "ex_ret_instr", 0xc0, "Retired instructions." }, { es[1].name, es[1].code, es[1].desc })
      assert.same({ 0x1a0, 0x01, "long" }, { es[2].code, es[2].umask, es[2].long_desc })
      assert.equal("L3PMC", es[3].unit)
    end)

    it("refuses what no pmu-events file holds, in one line naming the file and entry", function()
      local cases = {
        { "{\"a\": 1}", "not an array" },
        { "[1]", "entry 1 is not an object" },
        { json({ { EventName = "x", EventCode = "0x10000" } }), "entry 1 %(x%): EventCode: .*out of range" },
        { json({ { EventName = "x", EventCode = "lots" } }), "EventCode: 'lots' is not an integer" },
        { json({ { EventName = "x", UMask = {} } }), "UMask: expected a number or a string, not an empty array" },
        { json({ { EventName = string.rep("n", 200), EventCode = "1" } }), "EventName: longer than 128" },
        { json({ { EventName = 7 } }), "EventName: expected a string" },
        { "[", "not valid JSON" },
      }
      for _, c in ipairs(cases) do
        local es, err = kj.parse(c[1], "/data/hostile.json")
        assert.is_nil(es, c[2])
        assert.truthy(err:match("^/data/hostile%.json: " .. c[2]) or err:match(c[2]), err)
        assert.is_nil(err:find("\n"))
      end
    end)

    it("bounds sizes and counts: a huge file is refused before it is read, too many entries or files too", function()
      local big = dir .. "/big.json"
      local f = assert(io.open(big, "wb"))
      f:write("[", string.rep(" ", kj.MAX_FILE_BYTES), "]")
      f:close()
      local es, err = kj.read(big)
      assert.is_nil(es)
      assert.truthy(err:match("larger than %d+ bytes"), err)
      local many = {}
      for i = 1, kj.MAX_EVENTS + 1 do many[i] = { EventName = "e" .. i, EventCode = "1" } end
      es, err = kj.parse(json(many), "many.json")
      assert.is_nil(es)
      assert.truthy(err:match("more than %d+ entries"), err)
      os.execute("mkdir -p " .. T.quote(dir .. "/files"))
      for i = 1, kj.MAX_FILES + 1 do T.write(string.format("%s/files/%03d.json", dir, i), "[]") end
      es, err = kj.read_dir(dir .. "/files")
      assert.is_nil(es)
      assert.truthy(err:match("more than %d+ JSON files"), err)
      -- deep nesting is an error, not a crash
      es, err = kj.parse(string.rep("[", 100000) .. string.rep("]", 100000), "deep.json")
      assert.is_nil(es)
      assert.truthy(err:match("^deep%.json: "), err)
      -- long descriptions are cut, not refused
      es = assert(kj.parse(json({ { EventName = "x", EventCode = "1", BriefDescription = string.rep("d", 9000) } })))
      assert.equal(kj.MAX_TEXT, #es[1].desc)
    end)

    it("resolves arm64 ArchStdEvent references against the common events; an unknown one is an error", function()
      local common = { by_name = { INST_RETIRED = { name = "INST_RETIRED", code = 8, desc = "Instructions" } } }
      local r = assert(kj.resolve_std({ std = "INST_RETIRED", long_desc = "the part's words" }, common))
      assert.same({ "INST_RETIRED", 8, "Instructions", "the part's words" }, { r.name, r.code, r.desc, r.long_desc })
      local none, err = kj.resolve_std({ std = "NO_SUCH", file = "arm/x/a.json" }, common)
      assert.is_nil(none)
      assert.truthy(err:match("ArchStdEvent NO_SUCH names no common event"), err)
    end)

    it("is found beside the Lua modules by an absolute path only (never the current directory)", function()
      assert.is_nil(kj.default_dir("./lua/autoperf/catalog/kernel_json.lua"))
      assert.is_nil(kj.default_dir("lua/autoperf/catalog/kernel_json.lua"))
      os.execute("mkdir -p " .. T.quote(dir .. "/share/lua/autoperf/catalog") .. " " .. T.quote(dir .. "/share/pmu-events/x86"))
      assert.equal(dir .. "/share/lua/../pmu-events", kj.default_dir(dir .. "/share/lua/autoperf/catalog/kernel_json.lua"))
      os.execute("mkdir -p " .. T.quote(dir .. "/tree/lua/autoperf/catalog") .. " " .. T.quote(dir .. "/tree/build/pmu-events/arm64"))
      assert.equal(dir .. "/tree/lua/../build/pmu-events", kj.default_dir(dir .. "/tree/lua/autoperf/catalog/kernel_json.lua"))
    end)
  end)

  describe("AMD layout", function()
    it("places the event select in config bits 0-7 and 32-35, the umask in 8-15 (amd/core.c's format)", function()
      assert.equal(0xc0, kj.amd_core_config(0xc0, 0))
      assert.equal(0xa0 | (1 << 32) | (0x1e << 8), kj.amd_core_config(0x1a0, 0x1e))
      assert.equal(0xf0000ffff, kj.amd_core_config(0xfff, 0xff))
    end)

    it("encodes uncore units as amd/uncore.c's formats for the family", function()
      -- Zen 4/5 L3 (family 19h+): sliceid 48-50, enallslices 46, enallcores 47, threadmask 56-57
      local l3 = kj.amd_uncore_config("amd_l3", { code = 0xac, umask = 1, enallcores = 1, enallslices = 1,
                                                  sliceid = 3, threadmask = 3 }, 0x1a)
      assert.equal(0xac | (1 << 8) | (1 << 46) | (1 << 47) | (3 << 48) | (3 << 56), l3)
      -- DF: PerfMonV2 event 0-7,32-37 and umask 8-15,24-27; before it event 0-7,32-35,59-60
      assert.equal(0x1f | (0x3 << 32) | (0xff << 8) | (0xf << 24),
        kj.amd_uncore_config("amd_df", { code = 0x31f, umask = 0xfff }, 0x19, true))
      assert.equal(0x07 | (0xf << 32) | (1 << 59), kj.amd_uncore_config("amd_df", { code = 0x1f07 }, 0x17))
    end)

    it("agrees with libpfm4's encodings for the Zen 1-4 events both have (our reading of the format)", function()
      if not real_data() then return end
      local models = { { "amdzen1", "amd64_fam17h_zen1" }, { "amdzen2", "amd64_fam17h_zen2" },
                       { "amdzen3", "amd64_fam19h_zen3" }, { "amdzen4", "amd64_fam19h_zen4" } }
      local checked = 0
      for _, mm in ipairs(models) do
        local pfm = sources.libpfm(mm[2])
        if pfm then
          -- libpfm4's core events by event code and umask name
          local named = {}
          for _, p in ipairs(pfm) do
            local um = p.pmu == "cpu" and p.name:match("::[^:]+:(.+)$")
            if um then named[(((p.config >> 24) & 0xf00) | (p.config & 0xff)) .. "/" .. um:upper()] = p end
          end
          local recs = assert(kj.amd(kj.amd_model(mm[1], true), KDIR))
          local pairs_n, high, bad = 0, 0, {}
          for _, r in ipairs(recs) do
            local um = r.pmu == "cpu" and r.name:match("%.([^.]+)$")
            local p = um and named[r.event_code .. "/" .. um:upper()]
            if p then
              pairs_n = pairs_n + 1
              if r.event_code > 0xff then high = high + 1 end
              if p.config ~= r.config then
                bad[#bad + 1] = string.format("%s 0x%x vs %s 0x%x", r.name, r.config, p.name, p.config)
              end
            end
          end
          assert.same({}, bad, mm[1])
          assert.is_true(pairs_n >= 50, mm[1] .. ": only " .. pairs_n .. " events in common")
          -- codes above 0xff exercise config bits 32-35
          assert.is_true(high >= 1, mm[1] .. ": no event code above 0xff in common")
          checked = checked + 1
        end
      end
      if checked == 0 then return pending("this libpfm4 has none of Zen 1-4") end
    end)

    it("gives Zen 5 its core events on cpu (6 generic counters) and its uncore units the kernel's counters", function()
      if not real_data() then return end
      local m = assert(kj.amd_model("amdzen5"))
      assert.equal(m, kj.amd_model("AMD64_FAM1AH_ZEN5"))
      assert.is_nil(kj.amd_model("amdzen4"), "libpfm4 has Zen 4: the CLI keeps its model")
      local recs = assert(kj.amd(m, KDIR))
      local by, n = {}, { cpu = 0, amd_l3 = 0, amd_umc = 0 }
      for _, r in ipairs(recs) do
        by[r.name] = r
        n[r.pmu] = (n[r.pmu] or 0) + 1
      end
      assert.same({ cpu = 357, amd_l3 = 17, amd_umc = 13 }, n)
      local e = by["de_no_dispatch_per_slot.backend_stalls"] -- EventCode 0x1a0, UMask 0x1e
      assert.same({ "cpu", 4, 0xa0 | (1 << 32) | (0x1e << 8), 6, "amd64_fam1ah_zen5" },
        { e.pmu, e.type, e.config, e.counters.generic_count, e.model })
      assert.equal(0xa0 | (1 << 32) | (0x1e << 8), e.config)
      local l3 = by["l3_lookup_state.l3_miss"]
      assert.same({ "amd_l3", "L3PMC", 0x104 }, { l3.pmu, l3.unit, l3.config })
      -- NUM_COUNTERS_L3; UMC's count is CPUID's on the host, assumed 4 here
      assert.same({ generic_count = 6, fixed_count = 0 }, l3.counters)
      assert.same({ generic_count = 4, fixed_count = 0 }, by["umc_mem_clk"].counters)
      assert.matches("assumed", by["umc_mem_clk"].counters_from)
      assert.is_nil(l3.type) -- the kernel's amd_l3 type, where it has that PMU (catalog availability)
    end)

    it("picks Zen 5 for a family 1Ah AMD host by CPUID, nothing for others", function()
      local function cpuid(vendor, eax)
        local b, d, c = string.unpack("<I4I4I4", vendor)
        return function(leaf)
          if leaf == 0 then return 0x10, b, c, d end
          return eax, 0, 0, 0
        end
      end
      -- family 0xf + extended 0x0b = 0x1a; 0xf + 0x0a = 0x19 (Zen 4: libpfm4's)
      assert.equal("amd64_fam1ah_zen5", kj.host_amd_model(cpuid("AuthenticAMD", 0x00b00f00)).model)
      assert.is_nil(kj.host_amd_model(cpuid("AuthenticAMD", 0x00a00f00)))
      assert.is_nil(kj.host_amd_model(cpuid("GenuineIntel", 0x00b00f00)))
      assert.is_nil(kj.host_amd_model(function() return nil, "not x86" end))
    end)

    it("says what is missing when the data is not there", function()
      local recs, err = kj.amd(kj.amd_model("amdzen5"), dir .. "/none")
      assert.is_nil(recs)
      assert.truthy(err:match("none/x86/amdzen5"), err)
    end)
  end)

  describe("arm64 PMUv3", function()
    -- A sysfs PMU as catalog.sysfs_pmus reads it, and a pmu-events tree.
    local function fixture(midr_dir)
      os.execute("mkdir -p " .. T.quote(dir .. "/sys/armv8_pmuv3_0/events") .. " "
        .. T.quote(dir .. "/sys/armv8_pmuv3_0/format") .. " " .. T.quote(dir .. "/pe/arm64/arm/part-x"))
      T.write(dir .. "/sys/armv8_pmuv3_0/type", "10\n")
      T.write(dir .. "/sys/armv8_pmuv3_0/format/event", "config:0-15\n")
      for name, code in pairs({ cpu_cycles = 0x11, inst_retired = 0x08, l1d_cache = 0x04, stall_frontend = 0x23 }) do
        T.write(dir .. "/sys/armv8_pmuv3_0/events/" .. name, string.format("event=0x%04x\n", code))
      end
      T.write(dir .. "/pe/arm64/common-and-microarch.json", json({
        { EventName = "L1D_CACHE", EventCode = "0x04", BriefDescription = "Level 1 data cache access" },
        { EventName = "INST_RETIRED", EventCode = "0x08", BriefDescription = "Instruction architecturally executed" },
        { EventName = "CPU_CYCLES", EventCode = "0x11", BriefDescription = "Cycle" },
        { EventName = "BR_PRED", EventCode = "0x12", BriefDescription = "Predictable branch" },
      }))
      T.write(dir .. "/pe/arm64/recommended.json", json({
        { EventName = "L1D_CACHE_RD", EventCode = "0x40", BriefDescription = "L1D cache access, read" },
      }))
      T.write(dir .. "/pe/arm64/mapfile.csv", "# MIDR,Version,JSON/file/pathname,Type\n"
        .. "0x00000000410fd0c0,v1," .. (midr_dir or "arm/part-x") .. ",core\n")
      T.write(dir .. "/pe/arm64/arm/part-x/cache.json", json({
        { ArchStdEvent = "L1D_CACHE", PublicDescription = "the part's own words" },
        { ArchStdEvent = "L1D_CACHE_RD" },
        { EventName = "PART_SPECIFIC", EventCode = "0xc1", BriefDescription = "implementation defined" },
        { EventName = "CMN_THING", ConfigCode = "0x1", Unit = "arm_cmn" },
      }))
      return sources.sysfs_pmus(dir .. "/sys")
    end

    it("offers the events sysfs lists, named by the common tables, on cpu with the raw type", function()
      local recs, note = kj.arm64(fixture(), { root = dir .. "/pe", midr = "0x0" })
      assert.is_nil(note)
      local by = {}
      for _, r in ipairs(recs) do by[r.name] = r end
      assert.equal(4, #recs)
      assert.same({ "cpu", 4, 0x11, "Cycle", "armv8_pmuv3_0" },
        { by.CPU_CYCLES.pmu, by.CPU_CYCLES.type, by.CPU_CYCLES.config, by.CPU_CYCLES.desc, by.CPU_CYCLES.sysfs_pmu })
      -- not in the tables: sysfs's name
      assert.equal(0x23, by.STALL_FRONTEND.config)
      assert.is_nil(by.BR_PRED, "not implemented here (sysfs does not list it)")
      assert.is_true(rule("arm64.cycle").applies(by.CPU_CYCLES))
      assert.is_false(rule("arm64.cycle").applies(by.INST_RETIRED))
    end)

    it("adds the part's JSON when the MIDR matches mapfile.csv (variant and revision aside)", function()
      local recs = kj.arm64(fixture(), { root = dir .. "/pe", midr = "0x00000000413fd0c1\n" })
      local by = {}
      for _, r in ipairs(recs) do by[r.name] = r end
      assert.equal("the part's own words", by.L1D_CACHE.long_desc)
      assert.equal("arm64/arm/part-x/cache.json", by.L1D_CACHE.file)
      assert.same({ 0xc1, "implementation defined" }, { by.PART_SPECIFIC.config, by.PART_SPECIFIC.desc })
      assert.same({ 0x40 }, { by.L1D_CACHE_RD.config })
      -- arm64.visible: what sysfs lists, not what only the part's JSON names
      assert.is_true(rule("arm64.visible").applies(by.L1D_CACHE))
      assert.is_false(rule("arm64.visible").applies(by.PART_SPECIFIC))
      assert.is_nil(by.CMN_THING, "uncore units are not the core PMU's")
      assert.equal(6, #recs)
      -- another part: the common names only
      assert.equal(4, #kj.arm64(fixture(), { root = dir .. "/pe", midr = "0x00000000410fd4f0" }))
      -- a mapfile entry that climbs out of the tree is not followed
      assert.equal(4, #kj.arm64(fixture("../../../etc"), { root = dir .. "/pe", midr = "0x00000000410fd0c0" }))
    end)

    it("is nothing without an armv8 PMU, and says what is missing without the tables", function()
      assert.same({}, (kj.arm64({ { name = "cpu", events = {} } }, { root = dir .. "/pe" })))
      local recs, note = kj.arm64(fixture(), { root = dir .. "/nothing" })
      assert.same({}, recs)
      assert.truthy(note:match("arm64 event names:"), note)
    end)

    it("has the real common tables' names for the PMUv3 architectural events", function()
      if not real_data() then return end
      local common = assert(kj.arm64_common(KDIR))
      assert.equal("CPU_CYCLES", common.by_code[0x11].name)
      assert.equal("INST_RETIRED", common.by_code[0x08].name)
      assert.equal(0x40, common.by_name.L1D_CACHE_RD.code)
      -- every part directory the mapfile names reads and resolves
      local text = assert(util.read_file(KDIR .. "/arm64/mapfile.csv"))
      local parts = 0
      for part in text:gmatch("\n0x%x+,[^,]*,([^,]+),core") do
        local entries = assert(kj.read_dir(KDIR .. "/arm64/" .. part, part))
        for _, r in ipairs(entries) do
          if not r.unit then
            local res, err = kj.resolve_std(r, common)
            assert(res ~= nil, err)
          end
        end
        parts = parts + 1
      end
      assert.is_true(parts >= 20, parts .. " parts")
    end)

    it("gives autoperf stats its rules in one shape, each citing the kernel", function()
      assert.is_true(#arm64.RULES >= 2)
      for _, r in ipairs(arm64.RULES) do
        assert.truthy(r.id:match("^arm64%.%w+$"), r.id)
        assert.truthy(r.cite:match("^drivers/perf/arm_pmuv3%.c: %S+%(%)"), r.cite)
        assert.equal("string", type(r.what))
        assert.is_nil(r.what:find("\n"))
        assert.equal("function", type(r.applies))
      end
      local arm = "armv8_pmuv3_0"
      assert.is_true(rule("arm64.cycle").applies({ type = 4, config = 0x11, armv8_pmu = arm }))
      assert.is_false(rule("arm64.cycle").applies({ type = 4, config = 0x11, config1 = 1 << 5, armv8_pmu = arm }),
        "a threshold keeps it off")
      assert.is_true(rule("arm64.chain").applies({ type = 4, config = 0x08, config1 = 1, armv8_pmu = arm }))
      -- another family's events, whatever their bits
      for _, r in ipairs(arm64.RULES) do
        assert.is_false(r.applies({ type = 4, config = 0x11, config1 = 1, pmu = "cpu", model = "skx" }), r.id)
        assert.is_false(r.applies({ type = 0, config = 0, pmu = "cpu" }), r.id)
      end
    end)
  end)

  it("adds Zen 1-4's L3, Data Fabric and UMC events (which libpfm4 lacks) to libpfm4's models, planned beside the core", function()
    if not real_data() then return end
    local cjson = require "cjson"
    local function planned(pmu_filter)
      local args = { "plan", "--pmu", "amd64_fam19h_zen4", "--json" }
      if pmu_filter then args[#args + 1] = "-e" args[#args + 1] = pmu_filter end
      local out, err, code = T.autoperf(table.unpack(args))
      assert.equal(0, code, err)
      local d = cjson.decode(out)
      local n = {}
      for _, r in ipairs(d.runs) do
        for _, g in ipairs(r.groups) do n[g.pmu] = (n[g.pmu] or 0) + #g.events end
      end
      return d, n
    end
    local all, n = planned()
    assert.same({ 303, 136, 17, 13 }, { n.cpu, n.amd_df, n.amd_l3, n.amd_umc })
    -- the uncore units count in the core's runs: no extra run (136 DF
    -- events on 4 counters take 34 runs, the core's 303 take 52)
    local core_only = planned("amd64_fam19h_zen4::*")
    assert.equal(#core_only.runs, #all.runs)
    assert.equal(all.lower_bound, #all.runs)
  end)
end)
