-- AMD Zen 5 (family 1Ah) from the kernel's pmu-events JSON (libpfm4 4.13
-- has no Zen 5): autoperf list/plan/stats --pmu amdzen5 (or
-- amd64_fam1ah_zen5), and --pmu sim:amd64_fam1ah_zen5. The kernel's
-- rules: 6 generic counters, no fixed ones (arch/x86/events/amd/core.c
-- amd_core_pmu_init, PerfMonV2's counter count), pair events for family
-- >= 0x17 (PMU_FL_PAIR; amd_is_pair_event_code: event code 0x003).
local cjson = require "cjson"
local core = require "autoperf.core"
local kj = require "autoperf.catalog.kernel_json"
local plan = require "autoperf.plan"
local pmu = require "autoperf.pmu"
local util = require "autoperf.util"
local T = require "spec.support"

local MODEL = "amd64_fam1ah_zen5"
local KDIR = "build/pmu-events"
local TARBALL = "/usr/src/linux-source-6.12.tar.xz"

-- The real tables, or pending when (and only when) the tarball is absent.
local function zen5()
  if not util.exists(KDIR .. "/x86/amdzen5") then
    if not util.exists(TARBALL) then
      pending(TARBALL .. " is absent (Debian's linux-source-6.12; scripts/bootstrap installs it)")
      return nil
    end
    error(KDIR .. " is missing although " .. TARBALL .. " is there: make extracts it", 0)
  end
  return assert(kj.amd(kj.amd_model(MODEL), KDIR))
end

local FLOPS = { "add_sub_flops", "mult_flops", "div_flops", "mac_flops" }

describe("AMD Zen 5 from the kernel's pmu-events JSON", function()
  it("autoperf list --pmu amdzen5 lists its events with the kernel's AMD encoding, by either name", function()
    if not zen5() then return end
    for _, name in ipairs({ "amdzen5", MODEL }) do
      local out, err, code = T.autoperf("list", "--json", "--pmu", name)
      assert.equal(0, code, err)
      local list = cjson.decode(out)
      local by = {}
      for _, e in ipairs(list) do by[e.name] = e end
      assert.equal(387, #list)
      local e = by["de_no_dispatch_per_slot.backend_stalls"] -- EventCode 0x1a0, UMask 0x1e
      assert.same({ "cpu", "type=4,config=0x100001ea0", MODEL, "kernel-json" }, { e.pmu, e.encoding, e.model, e.source })
      assert.equal(6, e.counters.generic_count)
      assert.equal("amd_l3", by["l3_lookup_state.l3_miss"].pmu)
    end
    -- a name that is no model says so, with the near ones
    local _, err, code = T.autoperf("list", "--pmu", "amdzen9")
    assert.are_not.equal(0, code)
    assert.truthy(err:match("amdzen9"), err)
  end)

  it("autoperf plan --pmu amdzen5 reaches the lower bound with pair events on even counters", function()
    local recs = zen5()
    if not recs then return end
    local core_n, pairs_n = 0, 0
    for _, r in ipairs(recs) do
      if r.pmu == "cpu" then
        core_n = core_n + 1
        if pmu.is_pair(r) then pairs_n = pairs_n + 1 end
      end
    end
    assert.equal(10, pairs_n) -- the fp_ret_sse_avx_ops.* (event code 0x003)
    local out, err, code = T.autoperf("plan", "--json", "--pmu", "amdzen5")
    assert.equal(0, code, err)
    local j = cjson.decode(out)
    assert.equal(#recs, j.events)
    assert.equal(j.lower_bound, #j.runs)
    -- the core PMU decides: each pair holds two of the 6 counters
    assert.equal(math.ceil((core_n + pairs_n) / 6), #j.runs)
    local on_even, core_per_run = 0, {}
    for r, run in ipairs(j.runs) do
      for _, g in ipairs(run.groups) do
        if g.pmu == "cpu" then
          local used = 0
          for i, name in ipairs(g.events) do
            local c = tonumber(g.counters[i]:match("^g(%d+)$"))
            assert.is_not_nil(c, g.counters[i])
            if name:match("^fp_ret_sse_avx_ops%.") then
              assert.equal(0, c % 2, name .. " on " .. g.counters[i])
              on_even = on_even + 1
              used = used + 2
            else
              used = used + 1
            end
          end
          core_per_run[r] = used
          assert.is_true(used <= 6, "run " .. r .. " holds " .. used .. " counters")
        end
      end
    end
    assert.equal(pairs_n, on_even)
  end)

  it("autoperf stats --pmu amdzen5 shows 6 generic counters and the pair events", function()
    if not zen5() then return end
    local out, err, code = T.autoperf("stats", "--pmu", "amdzen5")
    assert.equal(0, code, err)
    assert.truthy(out:match("cpu %[" .. MODEL .. "%]: 357 events"), out)
    assert.truthy(out:match("any of 6 generic%s+357"), out)
    assert.truthy(out:match("pair events %(even counter %+ the odd beside it%): 10"), out)
    assert.truthy(out:match("amd_l3 %[" .. MODEL .. "%]: 17 events"), out)
  end)

  it("--pmu sim:amd64_fam1ah_zen5 profiles pair and other events, each counted the whole time", function()
    if not zen5() then return end
    local dir = T.tmpdir()
    local args = { "profile", "-I", "0", "--pmu", "sim:" .. MODEL, "-o", dir .. "/p" }
    for _, f in ipairs(FLOPS) do
      args[#args + 1] = "-e"
      args[#args + 1] = "fp_ret_sse_avx_ops." .. f
    end
    for _, e in ipairs({ "ex_ret_instr", "ls_not_halted_cyc", "de_no_dispatch_per_slot.backend_stalls" }) do
      args[#args + 1] = "-e"
      args[#args + 1] = e
    end
    args[#args + 1] = "--"
    args[#args + 1] = "/bin/true"
    local _, err, code = T.autoperf(table.unpack(args))
    local _, aerr, acode = T.autoperf("aggregate", dir .. "/p")
    local rows = acode == 0 and T.csv(dir .. "/p/summary.csv") or {}
    T.rmtree(dir)
    assert.equal(0, code, err)
    -- 4 pairs (8 counters) and 3 others: 11 counters of 6 -> 2 runs
    assert.truthy(err:match("7 events in 2 runs"), err)
    assert.truthy(err:match("counted the whole time"), err)
    assert.truthy(err:match("simulated " .. MODEL .. " PMU"), err)
    assert.equal(0, acode, aerr)
    assert.equal(8, #rows)
    for i = 2, #rows do
      assert.equal("ok", rows[i][3], rows[i][1])
      assert.equal("cpu:simulated", rows[i][2])
    end
  end)

  it("the simulated PMU refuses at open a fourth pair event in one group, as the kernel", function()
    local recs = zen5()
    if not recs then return end
    local by = {}
    for _, r in ipairs(recs) do by[r.name] = r end
    local evs = {}
    for _, f in ipairs(FLOPS) do evs[#evs + 1] = by["fp_ret_sse_avx_ops." .. f] end
    local pmus, model = plan.model(evs)
    assert.equal(1, #pmus)
    assert.equal((1 << 6) - 1, pmus[1].counters)
    local sim = core.sim_pmu({ counters = pmus[1].counters })
    local g = assert(sim:group(0, -1, true))
    for i = 1, 3 do
      assert.is_true(model[i].pair)
      assert.is_true(g:add({ type = 4, config = evs[i].config }, i, { allowed = model[i].allowed, pair = true }))
    end
    local ok, _, errno = g:add({ type = 4, config = evs[4].config }, 4, { allowed = model[4].allowed, pair = true })
    g:close()
    assert.is_nil(ok)
    assert.equal(22, errno)
  end)

  it("an installed autoperf finds the tables under its share/autoperf, from any directory", function()
    if not zen5() then return end
    local dir = T.tmpdir()
    local _, ierr, icode = T.sh("make --no-print-directory -s install DESTDIR=" .. T.quote(dir) .. " PREFIX=/usr/local")
    local out, err, code = T.sh("cd / && " .. T.quote(dir .. "/usr/local/bin/autoperf") .. " stats --pmu amdzen5")
    local copied = util.exists(dir .. "/usr/local/share/autoperf/pmu-events/x86/amdzen5/floating-point.json")
    T.rmtree(dir)
    assert.equal(0, icode, ierr)
    assert.is_true(copied)
    assert.equal(0, code, err)
    assert.truthy(out:match("cpu %[" .. MODEL .. "%]: 357 events"), out)
  end)
end)
