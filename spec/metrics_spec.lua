local T = require "spec.support"
local parse = require "autoperf.metrics.parse"
local metrics = require "autoperf.metrics"
local cjson = require "cjson"

local SHARED = T.pmu_data .. "/"
local FILES = { "skylake_metrics.json", "skylakex_metrics.json", "icelakex_metrics.json",
                "sapphirerapids_metrics.json", "alderlake_metrics_goldencove_core.json", "skylakex_metrics_perf.json" }
local CORE = { ["skylake_metrics.json"] = "skylake_core.json", ["skylakex_metrics.json"] = "skylakex_core.json",
               ["icelakex_metrics.json"] = "icelakex_core.json", ["sapphirerapids_metrics.json"] = "sapphirerapids_core.json",
               ["alderlake_metrics_goldencove_core.json"] = "alderlake_goldencove_core.json",
               ["skylakex_metrics_perf.json"] = "skylakex_core.json" }
local function shared() return T.have(SHARED .. "skylakex_metrics.json") end

-- value of src with names from vars
local function ev(src, vars, dialect)
  local ast = assert(parse.parse(src, dialect))
  local slots = {}
  local f = assert(parse.compile(ast, function(n)
    if vars[n] == nil then return nil end
    slots[#slots + 1] = vars[n]
    return #slots
  end))
  return f(function(i) return slots[i] end)
end

describe("metric formulas", function()
  it("follow the arithmetic precedence, Python's conditional and perf's & below comparisons", function()
    assert.equal(7, ev("1 + 2 * 3", {}))
    assert.equal(-1, ev("1 - 2", {}))
    assert.equal(2, ev("8 / 2 / 2", {}))
    assert.equal(5, ev("a / 2 if smt_on else a", { a = 10, smt_on = 1 }))
    assert.equal(10, ev("a / 2 if smt_on else a", { a = 10, smt_on = 0 }))
    -- right-assoc chain: x if c1 else y if c2 else z
    assert.equal(3, ev("1 if c else 2 if d else 3", { c = 0, d = 0 }))
    assert.equal(1, ev("a > 10 & b > 15", { a = 11, b = 16 }))
    assert.equal(0, ev("a > 10 & b > 15", { a = 11, b = 15 }))
    assert.equal(1, ev("a < 1 | b >= 2", { a = 5, b = 2 }))
    assert.equal(0.0001, ev("max( a - b , 0.0001 )", { a = 1, b = 2 }))
    assert.equal(1, ev("min(a, b, 3)", { a = 1, b = 2 }))
    assert.equal(1e9, ev("1e9", {}))
    assert.equal(255, ev("0xff", {}))
    assert.equal(0, ev("d_ratio(a, b)", { a = 1, b = 0 }, "perf"))
    -- perf's ^: exactly one side true, between | and &
    assert.equal(1, ev("a | b ^ 1", { a = 0, b = 0 }, "perf"))
    assert.equal(0, ev("a | b ^ 1", { a = 0, b = 1 }, "perf"))
  end)

  it("read perf's escaped names, pmu@terms@ and #constants as one name each", function()
    local ast = assert(parse.parse("cha@UNC_CHA_TOR_INSERTS.IA_MISS\\,config1\\=0x40433@ / task\\-clock * #SYSTEM_TSC_FREQ", "perf"))
    assert.same({ "cha@UNC_CHA_TOR_INSERTS.IA_MISS,config1=0x40433@", "task-clock", "#SYSTEM_TSC_FREQ" }, parse.names(ast))
    ast = assert(parse.parse("ICACHE_16B.IFDATA_STALL:c1:e1 + OCR.X:ocr_msr_val=0x103b800002", "intel"))
    assert.same({ "ICACHE_16B.IFDATA_STALL:c1:e1", "OCR.X:ocr_msr_val=0x103b800002" }, parse.names(ast))
  end)

  it("read only the branch that the machine's constants choose, as they are evaluated", function()
    local function reads(src, fixed)
      return table.concat(parse.reads(assert(parse.parse(src, "intel")), function(n) return fixed[n] end), " ")
    end
    assert.equal("a", reads("( a / 2 ) if smt else b", { smt = 1 }))
    assert.equal("b", reads("( a / 2 ) if smt else b", { smt = 0 }))
    assert.equal("smt a b", reads("( a / 2 ) if smt else b", {}))
    -- folded through arithmetic, comparisons, min/max and not
    assert.equal("b", reads("a if max(threads, 1) * 2 > 4 else b", { threads = 2 }))
    assert.equal("a", reads("a if not (threads == 1) else b", { threads = 2 }))
    -- and/or stop where their left side decides, as the formula does
    assert.equal("", reads("0 and a", {}))
    assert.equal("", reads("smt or a", { smt = 1 }))
    assert.equal("a", reads("smt and a", { smt = 1 }))
    -- a condition over counts decides nothing before counting
    assert.equal("c a b", reads("a if c > 0 else b", {}))
  end)

  it("reject what they do not support with the position, and never run the text", function()
    local _, e = parse.parse("a + * b")
    assert.same({ pos = 5, msg = "unexpected '*'" }, e)
    _, e = parse.parse("os.exit(1)")
    assert.equal(1, e.pos)
    assert.matches("unknown function 'os.exit'", e.msg)
    _, e = parse.parse("(a + b")
    assert.matches("expected '%)'", e.msg)
    _, e = parse.parse("a ; b")
    assert.equal(3, e.pos)
    _, e = parse.parse("a if b")
    assert.matches("expected 'else'", e.msg)
    _, e = parse.parse("max(a)")
    assert.matches("max%(%) takes 2 or more arguments, not 1", e.msg)
    _, e = parse.parse("")
    assert.matches("empty", e.msg)
    local f = assert(parse.parse("a"))
    local _, cerr = parse.compile(f, function() return nil, "unknown alias 'a'" end)
    assert.same({ pos = 1, msg = "unknown alias 'a'" }, cerr)
  end)

  it("are bounded on hostile input: deep nesting, huge text, binary bytes", function()
    local _, e = parse.parse(string.rep("(", 100000) .. "a" .. string.rep(")", 100000))
    assert.matches("longer than", e.msg)
    _, e = parse.parse(string.rep("(", 5000) .. "a" .. string.rep(")", 5000))
    assert.matches("nested deeper than", e.msg)
    _, e = parse.parse(string.rep("-", 5000) .. "a")
    assert.matches("nested deeper than", e.msg)
    _, e = parse.parse("a \0\27[2J b")
    assert.matches("unexpected character '\\x00'", e.msg)
    _, e = parse.parse(string.rep("a+", 30000) .. "a")
    assert.matches("tokens", e.msg)
    for _ = 1, 200 do
      local bytes = {}
      for i = 1, math.random(1, 60) do bytes[i] = string.char(math.random(0, 255)) end
      local s = table.concat(bytes)
      local ok, ast, err = pcall(parse.parse, s, math.random() < 0.5 and "perf" or "intel")
      assert.is_true(ok, ast)
      assert.is_true(ast ~= nil or (type(err) == "table" and type(err.pos) == "number"))
    end
  end)
end)

describe("metric files", function()
  it("compile every formula of every shared file (Formula, BaseFormula, Threshold; MetricExpr)", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    local total = 0
    for _, f in ipairs(FILES) do
      local set, err = metrics.load(SHARED .. f)
      assert.truthy(set, err)
      local doc = cjson.decode(T.slurp(SHARED .. f))
      local n = doc.Metrics and #doc.Metrics or #doc
      assert.equal(n, #set.metrics, f)
      for _, m in ipairs(set.metrics) do
        assert.truthy(m.fn, m.name)
        assert.is_nil(m.threshold_error, m.threshold_error)
      end
      total = total + n
    end
    assert.equal(1327, total)
  end)

  it("compile every metric of the kernel's perf files (AMD and arm64, ArchStdEvent references included)", function()
    -- make extracts them from Debian's linux-source (amdzen*, arm64)
    local root = "build/pmu-events" -- one place for every build
    if not T.slurp(root .. "/arm64/sbsa.json") then return pending("make has not extracted " .. root) end
    local p = io.popen("grep -rl --include='*.json' MetricExpr " .. T.quote(root) .. " | grep -v metricgroups.json | sort")
    local files, n, per = 0, 0, {}
    for path in p:lines() do
      local set, err = metrics.load(path)
      assert.truthy(set, err)
      files, n = files + 1, n + #set.metrics
      per[path:sub(#root + 2)] = #set.metrics
    end
    p:close()
    assert.is_true(files >= 20, files)
    assert.is_true(n >= 600, n)
    -- AMD's recommended.json holds events and metrics: the events are skipped
    assert.is_true((per["x86/amdzen4/recommended.json"] or 0) > 0)
  end)

  it("skip the events of a perf file that mixes them with metrics, and refuse a file of events only", function()
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    T.write(dir .. "/mixed.json", cjson.encode({
      { EventName = "ex_ret_instr", EventCode = "0xc0", BriefDescription = "Retired instructions." },
      { MetricName = "ipc", MetricExpr = "ex_ret_instr / ls_not_halted_cyc", ScaleUnit = "1per cycle" },
    }))
    local set = assert(metrics.load(dir .. "/mixed.json"))
    assert.equal(1, #set.metrics)
    assert.equal("ipc", set.metrics[1].name)
    T.write(dir .. "/events.json", cjson.encode({ { EventName = "ex_ret_instr", EventCode = "0xc0" } }))
    local none, err = metrics.load(dir .. "/events.json")
    assert.is_nil(none)
    assert.equal(dir .. "/events.json: no metric in it (a file of events only?)", err)
  end)

  it("name the file, the metric, the field and the position of an unsupported construct", function()
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    T.write(dir .. "/bad.json", cjson.encode({ Header = {}, Metrics = {
      { MetricName = "ok", Formula = "a / b", Events = { { Alias = "a", Name = "X" }, { Alias = "b", Name = "Y" } }, Constants = {} },
      { MetricName = "bad", Formula = "a // b", Events = { { Alias = "a", Name = "X" }, { Alias = "b", Name = "Y" } }, Constants = {} },
    } }))
    local set, err = metrics.load(dir .. "/bad.json")
    assert.is_nil(set)
    assert.equal(dir .. "/bad.json: metric 'bad': Formula at 4: unexpected '/'", err)
    T.write(dir .. "/alias.json", cjson.encode({ Header = {}, Metrics = {
      { MetricName = "m", Formula = "a / z", Events = { { Alias = "a", Name = "X" } }, Constants = {} } } }))
    _, err = metrics.load(dir .. "/alias.json")
    assert.equal(dir .. "/alias.json: metric 'm': Formula at 5: unknown alias 'z'", err)
    -- a chain of 5000 metrics, each over the next: refused, not a stack overflow
    local chain = {}
    for i = 1, 5000 do chain[i] = { MetricName = "m" .. i, MetricExpr = i < 5000 and ("m" .. (i + 1) .. " + 1") or "x" } end
    T.write(dir .. "/chain.json", cjson.encode(chain))
    _, err = metrics.load(dir .. "/chain.json")
    assert.matches("metric 'm%d+': MetricExpr at 1: metrics refer to metrics more than 32 deep", err)
    T.write(dir .. "/perf.json", cjson.encode({ { MetricName = "p", MetricExpr = "a + #nonsense" } }))
    _, err = metrics.load(dir .. "/perf.json")
    assert.equal(dir .. "/perf.json: metric 'p': MetricExpr at 5: unknown constant '#nonsense'", err)
  end)

  it("turn event names with modifiers into their encodings", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    local catalog = require "autoperf.catalog"
    local cat = assert(catalog.load({ pmu = "sim:" .. SHARED .. "skylakex_core.json" }))
    local plain = assert(metrics.encode(cat, "ICACHE_16B.IFDATA_STALL"))
    local mod = assert(metrics.encode(cat, "ICACHE_16B.IFDATA_STALL:c1:e1"))
    assert.equal("ICACHE_16B.IFDATA_STALL:c1:e1", mod.name)
    -- cmask in bits 24-31, edge bit 18 (the cpu PMU's format)
    assert.equal(plain.config | (1 << 24) | (1 << 18), mod.config)
    local c4 = assert(metrics.encode(cat, "UOPS_EXECUTED.CORE_CYCLES_GE_1:c4"))
    assert.equal(4, (c4.config >> 24) & 0xff)
    local sup = assert(metrics.encode(cat, "CPU_CLK_UNHALTED.THREAD_P:SUP"))
    assert.is_true(sup.exclude_user)
    assert.is_false(sup.exclude_kernel)
    local _, err = metrics.encode(cat, "ICACHE_16B.IFDATA_STALL:zz9")
    assert.matches("unknown modifier 'zz9'", err)
  end)

  it("plan every metric's events on a simulated model and compute every metric (labelled simulated)", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    if not require("autoperf.machine").access().system_wide then
      return pending("uncore events count system-wide only (-a needs perf_event_paranoid <= 0 or CAP_PERFMON)")
    end
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    local UNCORE = { ["skylakex_metrics.json"] = "skylakex_uncore.json", ["skylakex_metrics_perf.json"] = "skylakex_uncore.json",
                     ["sapphirerapids_metrics.json"] = "sapphirerapids_uncore.json" }
    for _, f in ipairs(FILES) do
      local model = "sim:" .. SHARED .. CORE[f] .. (UNCORE[f] and ("," .. SHARED .. UNCORE[f]) or "")
      local _, err, code = T.autoperf("profile", "-q", "-a", "-o", dir .. "/" .. f, "-I", "0", "--force", "--pmu", model,
        "--metrics", SHARED .. f, "--", T.workload("writes"), "100")
      assert.equal(0, code, err)
      local j, jerr, jcode = T.autoperf("metrics", dir .. "/" .. f, "--json")
      assert.equal(0, jcode, jerr)
      local res = cjson.decode(j)
      assert.is_true(res.simulated)
      -- the events the catalog does not know (the kernel's PERF_METRICS
      -- pseudo-events, an uncore file not shared, RAPL's energy counters)
      local skipped, several = {}, {}
      local mm = T.json(dir .. "/" .. f .. "/manifest.json").metrics
      for _, s in ipairs(mm.skipped) do skipped[s.name] = true end
      for _, n in ipairs(mm.several_runs) do several[n] = true end
      local computed, n = 0, 0
      for _, m in ipairs(res.metrics) do
        n = n + 1
        assert.is_true(m.simulated)
        if m.status:match("^not computed") then
          for _, e in ipairs(m.missing) do assert.is_true(skipped[e], f .. ": " .. m.name .. " lacks " .. e) end
        else
          computed = computed + 1
          assert.equal("number", type(m.value), f .. ": " .. m.name)
          -- co-scheduled: every metric the plan did not give up on was
          -- computed from one run's counts
          if not several[m.name] then assert.is_true(#m.runs <= 1, f .. ": " .. m.name) end
          assert.equal(#m.runs > 1, m.several_runs)
        end
      end
      local doc = cjson.decode(T.slurp(SHARED .. f))
      assert.equal(doc.Metrics and #doc.Metrics or #doc, n)
      -- at least the metrics over core events
      assert.is_true(computed >= n * 0.7, f .. ": " .. computed .. " of " .. n)
    end
  end)
end)

describe("metric-aware plans", function()
  -- autoperf plan [args...] --pmu sim:<perfmon's model file> of list, a
  -- metric file written as JSON; its output, once it succeeded.
  local function plan_metrics(list, model, ...)
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    T.write(dir .. "/metrics.json", cjson.encode(list))
    local args = { "plan", ... }
    for _, a in ipairs({ "--pmu", "sim:" .. SHARED .. model, "--metrics", dir .. "/metrics.json" }) do
      args[#args + 1] = a
    end
    local out, err, code = T.autoperf(table.unpack(args))
    assert.equal(0, code, err)
    return out
  end

  -- The summary of a co-scheduling plan: n metrics each in one run, no
  -- such plan in fewer than bound runs, the events alone in plain runs,
  -- and the plan's runs.
  local function assert_co_scheduled(out, n, bound, events, plain, runs)
    assert.matches(n .. " each in one run", out)
    assert.matches("no plan that counts each co%-scheduled metric in one run takes fewer than " .. bound .. " runs", out)
    assert.matches("the same " .. events .. " events without co%-scheduling: " .. plain .. " runs", out)
    assert.matches("in " .. runs .. " runs", out)
  end

  it("put all events of every co-scheduled metric in one run, on every shared file", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    for _, f in ipairs(FILES) do
      local out, err, code = T.autoperf("plan", "--json", "--pmu", "sim:" .. SHARED .. CORE[f], "--metrics", SHARED .. f)
      assert.equal(0, code, err)
      local d = cjson.decode(out)
      local set = assert(metrics.load(SHARED .. f))
      local skipped = {}
      for _, s in ipairs(d.metrics.skipped) do skipped[s.name] = true end
      -- per run, the events it counts (NAME#2 is NAME counted again), the
      -- anchors with them but those it goes without
      local runs = {}
      for i, r in ipairs(d.runs) do
        runs[i] = {}
        for _, g in ipairs(r.groups) do
          for _, e in ipairs(g.events) do runs[i][e:match("^(.-)#%d+$") or e] = true end
        end
        local skipped = {}
        for _, e in ipairs(r.anchors_skipped or {}) do skipped[e] = true end
        for _, g in ipairs(d.anchors or {}) do
          for _, e in ipairs(g.events) do runs[i][e] = runs[i][e] or not skipped[e] end
        end
      end
      assert.is_true(#d.metrics.cosched > 0, f)
      -- the events each metric reads on the simulated model (SMT on)
      local consts = metrics.constants({ simulated = "sim", machine = require("autoperf.machine").describe() })
      for _, name in ipairs(d.metrics.cosched) do
        local m = set.by_name[name]
        local found = false
        for _, r in ipairs(runs) do
          local all = true
          for _, e in ipairs(metrics.live_events(m, consts, set.by_name)) do
            if not skipped[e] and not r[e] then all = false end
          end
          found = found or all
        end
        assert.is_true(found, f .. ": " .. name)
      end
      assert.is_true(#d.runs >= d.lower_bound)
      assert.is_true(#d.runs >= d.metrics.lower_bound, f)
    end
  end)

  it("bounds the runs of any co-scheduling plan: an event that metrics needing a run each share is counted in each", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    -- five metrics of four events on Skylake's four generic counters,
    -- all sharing UOPS_ISSUED.ANY: no two fit one run, so it is counted
    -- five times: 20 counters, 5 runs, where the 16 events alone take 4
    local X = { "UOPS_RETIRED.RETIRE_SLOTS", "IDQ.DSB_UOPS", "IDQ.MITE_UOPS", "IDQ.MS_UOPS", "DECODE.LCP",
                "ICACHE_16B.IFDATA_STALL", "ITLB_MISSES.WALK_PENDING", "L2_RQSTS.MISS", "L2_RQSTS.REFERENCES",
                "L1D.REPLACEMENT", "UOPS_EXECUTED.THREAD", "RS_EVENTS.EMPTY_CYCLES", "ARITH.DIVIDER_ACTIVE",
                "LD_BLOCKS.STORE_FORWARD", "MACHINE_CLEARS.COUNT" }
    local list = {}
    for i = 1, 5 do
      list[i] = { MetricName = "m" .. i, MetricExpr = "UOPS_ISSUED.ANY + " .. X[3 * i - 2] .. " + " .. X[3 * i - 1] ..
        " + " .. X[3 * i] }
    end
    assert_co_scheduled(plan_metrics(list, "skylake_core.json"), 5, 5, 16, 4, 5)
  end)

  it("bounds an event's counts by the runs that hold its metrics' other events", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    -- Skylake's 4 counters (SMT on): UOPS_ISSUED.ANY with 3 others in
    -- two metrics, with UOPS_RETIRED.RETIRE_SLOTS and one other in four
    -- that fit neither of the two: their 6 events need two runs more
    -- (no two of the four are apart, so pairs alone say one), and two
    -- metrics of one event: 17 counts, 5 runs, 4 by pairs alone
    local E = { "IDQ.DSB_UOPS", "IDQ.MITE_UOPS", "IDQ.MS_UOPS", "DECODE.LCP", "ICACHE_16B.IFDATA_STALL",
                "ITLB_MISSES.WALK_PENDING", "L2_RQSTS.MISS", "L2_RQSTS.REFERENCES", "L1D.REPLACEMENT",
                "UOPS_EXECUTED.THREAD", "RS_EVENTS.EMPTY_CYCLES", "ARITH.DIVIDER_ACTIVE" }
    local list = {}
    for i = 1, 2 do
      list[#list + 1] = { MetricName = "a" .. i, MetricExpr = "UOPS_ISSUED.ANY + " .. table.concat(E, " + ", 3 * i - 2, 3 * i) }
    end
    for i = 7, 10 do
      list[#list + 1] = { MetricName = "b" .. i, MetricExpr = "UOPS_ISSUED.ANY + UOPS_RETIRED.RETIRE_SLOTS + " .. E[i] }
    end
    for i = 11, 12 do list[#list + 1] = { MetricName = "c" .. i, MetricExpr = E[i] } end
    assert_co_scheduled(plan_metrics(list, "skylake_core.json", "--smt", "on"), 8, 5, 14, 4, 5)
  end)

  it("bounds the counts of linked metrics by their fewest split into runs, where each event alone allows fewer", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    -- Skylake's 4 counters (SMT on), a chain of five metrics over seven
    -- events (p: A B C, q: A D, r: B E, s: E F, t: D G): any two sharing
    -- an event fit one run, and an event's partners fit beside it, so
    -- each event alone asks one count; but p with q or r fills a run, and
    -- every split into runs counts 9, past two runs' 8
    local A, B, C, D = "IDQ.DSB_UOPS", "IDQ.MITE_UOPS", "IDQ.MS_UOPS", "IDQ.DSB_CYCLES_ANY"
    local E, F, G = "IDQ.MITE_CYCLES", "DECODE.LCP", "L2_RQSTS.MISS"
    local list = {}
    for i, evs in ipairs({ { A, B, C }, { A, D }, { B, E }, { E, F }, { D, G } }) do
      list[i] = { MetricName = string.char(("p"):byte() + i - 1), MetricExpr = table.concat(evs, " + ") }
    end
    assert_co_scheduled(plan_metrics(list, "skylake_core.json", "--smt", "on"), 5, 3, 7, 2, 3)
  end)

  it("never bounds above a plan it makes, where the linear relaxation says more than the events' copies", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    -- Skylake's 4 counters (SMT on): m1 with m4 and m2 with m3 fill two
    -- runs (DECODE.LCP and IDQ.DSB_CYCLES_ANY counted twice); the
    -- relaxation asks 8 counts, the copies 7: the search must not cut
    -- the split of 8 for the copies it has not paid yet
    local list = {
      { MetricName = "m1", MetricExpr = "IDQ.MS_UOPS + DECODE.LCP + IDQ.DSB_CYCLES_ANY" },
      { MetricName = "m2", MetricExpr = "IDQ.DSB_UOPS + IDQ.MITE_CYCLES + IDQ.DSB_CYCLES_ANY" },
      { MetricName = "m3", MetricExpr = "IDQ.MITE_CYCLES + DECODE.LCP" },
      { MetricName = "m4", MetricExpr = "IDQ.MITE_UOPS + IDQ.MS_UOPS" },
    }
    assert_co_scheduled(plan_metrics(list, "skylake_core.json", "--smt", "on"), 4, 2, 6, 2, 2)
  end)

  it("counts the events a metric leaves on scarce counters, and fills their runs with the several-run metrics' events", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    -- Ice Lake-SP: half the events count on counters 0-3 only. Three
    -- metrics of six events that may use all 8 (4 spare) leave two each
    -- on 0-3; six of four 0-3 events take 0-3 whole: no two of the nine
    -- fit one run, so 24 + 6 counts on 0-3 need 8 runs (the counts alone:
    -- 6; the nine take 9), and a five-event metric of 0-3 events,
    -- computed from several runs, fits the two 0-3 counters each of the
    -- three runs of six leaves free: still 9
    local S = { { "MEM_LOAD_RETIRED.L2_HIT", "MEM_LOAD_RETIRED.L3_HIT", "MEM_LOAD_RETIRED.FB_HIT", "MEM_LOAD_RETIRED.L1_MISS" },
                { "ITLB_MISSES.WALK_COMPLETED_2M_4M", "ITLB_MISSES.WALK_ACTIVE", "ITLB_MISSES.WALK_COMPLETED_4K", "ICACHE_TAG.STALLS" },
                { "DTLB_LOAD_MISSES.WALK_COMPLETED_2M_4M", "DTLB_LOAD_MISSES.WALK_ACTIVE", "DTLB_LOAD_MISSES.WALK_COMPLETED_1G",
                  "DTLB_LOAD_MISSES.WALK_COMPLETED_4K" },
                { "DTLB_STORE_MISSES.WALK_COMPLETED_2M_4M", "DTLB_STORE_MISSES.WALK_ACTIVE", "DTLB_STORE_MISSES.WALK_COMPLETED_1G",
                  "DTLB_STORE_MISSES.WALK_COMPLETED_4K" },
                { "L2_LINES_OUT.SILENT", "L2_LINES_OUT.USELESS_HWPF", "L2_LINES_OUT.NON_SILENT", "L1D.REPLACEMENT" },
                { "IDQ.DSB_CYCLES_ANY", "IDQ.DSB_CYCLES_OK", "IDQ.DSB_UOPS", "BACLEARS.ANY" } }
    local O = { { "BR_INST_RETIRED.COND_NTAKEN", "BR_INST_RETIRED.ALL_BRANCHES", "BR_INST_RETIRED.COND_TAKEN",
                  "BR_INST_RETIRED.NEAR_CALL", "BR_INST_RETIRED.NEAR_RETURN", "BR_INST_RETIRED.NEAR_TAKEN" },
                { "UOPS_DISPATCHED.PORT_0", "UOPS_DISPATCHED.PORT_1", "UOPS_DISPATCHED.PORT_5", "UOPS_DISPATCHED.PORT_6",
                  "FP_ARITH_INST_RETIRED.SCALAR", "FP_ARITH_INST_RETIRED.VECTOR" },
                { "FP_ARITH_INST_RETIRED.128B_PACKED_DOUBLE", "FP_ARITH_INST_RETIRED.4_FLOPS", "FP_ARITH_INST_RETIRED.8_FLOPS",
                  "FP_ARITH_INST_RETIRED.512B_PACKED_SINGLE", "EXE_ACTIVITY.1_PORTS_UTIL", "EXE_ACTIVITY.2_PORTS_UTIL" } }
    local list = {}
    for i, evs in ipairs(S) do list[#list + 1] = { MetricName = "s" .. i, MetricExpr = table.concat(evs, " + ") } end
    for i, evs in ipairs(O) do list[#list + 1] = { MetricName = "o" .. i, MetricExpr = table.concat(evs, " + ") } end
    assert_co_scheduled(plan_metrics(list, "icelakex_core.json", "--smt", "on"), 9, 8, 42, 6, 9)
    list[#list + 1] = { MetricName = "x", MetricExpr = "OFFCORE_REQUESTS_OUTSTANDING.CYCLES_WITH_DATA_RD + " ..
      "OFFCORE_REQUESTS_OUTSTANDING.ALL_DATA_RD + L1D_PEND_MISS.PENDING + LD_BLOCKS.NO_SR + MEM_INST_RETIRED.ALL_LOADS" }
    local out = plan_metrics(list, "icelakex_core.json", "--smt", "on")
    assert.matches("1 computed from several runs", out)
    assert.matches("fewer than 9 runs", out)
    -- (planned after the groups, the five would take runs of their own:
    -- the planner places the groups of 0-3 events first, and 0-3 events
    -- before the groups that may use all 8)
    assert.matches("in 9 runs", out)
  end)
end)

describe("autoperf metrics", function()
  it("gives the bundled software metrics exactly from a workload of known counts", function()
    if not T.tracefs then return pending(T.no_tracefs) end
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    local K = 5000
    local _, err, code = T.autoperf("profile", "-q", "-o", dir .. "/p", "-I", "0", "--metrics", "software",
      "--", T.workload("writes"), tostring(K))
    assert.equal(0, code, err)
    local ap = require "autoperf"
    local res = assert(ap.metrics(dir .. "/p"))
    local by = {}
    for _, m in ipairs(res.metrics) do by[m.name] = m end
    -- by hand, from the run file and the journal
    local r = assert(ap.read(dir .. "/p"))
    local journal = T.journal(dir .. "/p")
    assert.equal(1, #journal)
    local secs = journal[1].elapsed_ns / 1e9
    assert.equal(K, r["syscalls:sys_enter_write"])
    assert.equal(K / secs, by.write_syscalls_per_second.value)
    assert.equal(r["raw_syscalls:sys_enter"] / secs, by.syscalls_per_second.value)
    assert.equal(100 * K / r["raw_syscalls:sys_enter"], by.write_share_of_syscalls.value)
    assert.equal(r["task-clock"] / (secs * 1e9), by.cpu_utilization.value)
    assert.equal(r["page-faults"] / secs, by.page_faults_per_second.value)
    assert.equal(r["context-switches"] / secs, by.context_switches_per_second.value)
    assert.equal("/s", by.write_syscalls_per_second.unit)
    assert.equal("ok", by.write_syscalls_per_second.status)
    assert.is_false(res.simulated)
    -- metrics over metrics: each computed once (m1 = m2 + m2 ... 30 deep is 2^29 task-clocks, at once)
    local chain = {}
    for i = 1, 30 do
      chain[i] = { MetricName = "m" .. i, MetricExpr = i < 30 and ("m" .. (i + 1) .. " + m" .. (i + 1)) or "task\\-clock" }
    end
    T.write(dir .. "/double.json", cjson.encode(chain))
    local d = assert(ap.metrics(dir .. "/p", { file = dir .. "/double.json", metrics = "m1" }))
    local v = {}
    for _, m in ipairs(d.metrics) do v[m.name] = m.value end
    assert.equal(2 ^ 29 * r["task-clock"], v.m1)
    assert.equal(r["task-clock"], v.m30)
  end)

  it("plans the events a formula reads with the profile's hyper-threading state, and computes with that state", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    local ap = require "autoperf"
    -- Skylake's Frontend_Bound: IDQ_UOPS_NOT_DELIVERED.CORE over
    -- CPU_CLK_UNHALTED.THREAD_ANY if smt_on else CPU_CLK_UNHALTED.THREAD
    -- (both on fixed counter 1 only: together they fit no run)
    local want = { on = { "CPU_CLK_UNHALTED.THREAD_ANY", 1 }, off = { "CPU_CLK_UNHALTED.THREAD", 0 } }
    for smt, w in pairs(want) do
      local p = dir .. "/" .. smt
      local _, err, code = T.autoperf("profile", "-q", "-o", p, "--smt", smt, "--pmu", "sim:" .. SHARED ..
        "skylake_core.json", "--metrics", SHARED .. "skylake_metrics.json", "--metric", "Frontend_Bound,Retiring",
        "--", "true")
      assert.equal(0, code, err)
      -- (planned as an event, or read from the run's anchor)
      local planned, man = {}, T.json(p .. "/manifest.json")
      for _, e in ipairs(man.events) do planned[e.name] = true end
      for _, n in ipairs(man.metrics.anchored or {}) do planned[n] = true end
      assert.is_true(planned[w[1]], smt)
      local res = assert(ap.metrics(p))
      assert.equal(w[2], res.constants.HYPERTHREADING_ON.value, smt)
      assert.equal("smt " .. smt, res.constants.HYPERTHREADING_ON.from)
      local n = 0
      for _, m in ipairs(res.metrics) do
        n = n + 1
        assert.is_nil(m.missing, smt .. ": " .. m.name)
        assert.is_false(m.several_runs, smt .. ": " .. m.name .. " from runs " .. table.concat(m.runs, ","))
      end
      assert.equal(2, n)
      -- computed with the other state, the events only it reads are missing, and the constant says why
      local other = assert(ap.metrics(p, { smt = smt == "on" and "off" or "on" }))
      assert.matches("the profile was planned with hyper%-threading " .. smt, other.constants.HYPERTHREADING_ON.from)
      -- the level as the file gives it (an integer)
      local csv = T.autoperf("metrics", p, "--csv", "--metric", "Frontend_Bound")
      assert.matches("\nFrontend_Bound,1,,total,", csv)
    end
  end)

  it("reads the anchors from each metric's run, and lines up a metric of several runs on instructions", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    local _, err, code = T.autoperf("profile", "-q", "-o", dir .. "/p", "--pmu", "sim:" .. SHARED .. "skylake_core.json",
      "--metrics", SHARED .. "skylake_metrics.json", "--metric",
      "Info_Thread_IPC,Info_Inst_Mix_IpCall,Bottleneck_Instruction_Fetch_BW", "--", "true")
    assert.equal(0, code, err)
    local man = T.json(dir .. "/p/manifest.json")
    -- INST_RETIRED.ANY is no planned event: every run counts it as its anchor
    local anchored, anchors = {}, {}
    for _, n in ipairs(man.metrics.anchored) do anchored[n] = true end
    for _, a in ipairs(man.anchors) do anchors[a.name] = true end
    assert.is_true(anchored["INST_RETIRED.ANY"] and anchors["INST_RETIRED.ANY"])
    for _, e in ipairs(man.events) do assert.is_nil(e.name:match("^INST_RETIRED%.ANY#"), e.name) end
    local res = assert(require("autoperf").metrics(dir .. "/p"))
    local by = {}
    for _, m in ipairs(res.metrics) do by[m.name] = m end
    for _, name in ipairs({ "Info_Thread_IPC", "Info_Inst_Mix_IpCall" }) do
      assert.is_nil(by[name].missing, name)
      assert.is_false(by[name].several_runs, name)
    end
    local b = by.Bottleneck_Instruction_Fetch_BW
    assert.is_nil(b.missing)
    assert.is_true(b.several_runs)
    assert.equal("INST_RETIRED.ANY", b.crossrun.anchor)
  end)

  it("computes a hybrid half's file on both halves simulated, from that half's events", function()
    if not shared() then return pending("../shared/pmu-data is absent") end
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    local _, err, code = T.autoperf("profile", "-q", "-o", dir .. "/p", "--pmu", "sim:" .. SHARED ..
      "alderlake_goldencove_core.json," .. SHARED .. "alderlake_gracemont_core.json", "--metrics",
      SHARED .. "alderlake_metrics_goldencove_core.json", "--metric", "Frontend_Bound,Bad_Speculation,Backend_Bound,Retiring,Info_Thread_IPC", "--", "true")
    assert.equal(0, code, err)
    local ap = require "autoperf"
    local res = assert(ap.metrics(dir .. "/p"))
    assert.is_true(#res.metrics >= 5)
    for _, m in ipairs(res.metrics) do assert.is_nil(m.missing, m.name .. ": " .. m.status) end
    -- the planned events are the P-cores' (names both halves have are
    -- cpu_core/NAME/ in the catalog), the anchors the metrics read too
    local pmus = {}
    local man = T.json(dir .. "/p/manifest.json")
    local read = {}
    for _, n in ipairs(man.metrics.anchored or {}) do read[n] = true end
    for _, e in ipairs(man.events) do
      if e.name == "INST_RETIRED.ANY" then pmus[#pmus + 1] = e.unit or e.pmu end
    end
    for _, a in ipairs(man.anchors) do
      if a.name == "INST_RETIRED.ANY" and read[a.name] then pmus[#pmus + 1] = a.unit end
    end
    assert.truthy(#pmus > 0)
    for _, u in ipairs(pmus) do assert.truthy(u:find("cpu_core", 1, true), u) end
  end)

  it("shows totals and per-interval values as CSV, and the metrics of a group only", function()
    if not T.tracefs then return pending(T.no_tracefs) end
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    local _, err, code = T.autoperf("profile", "-q", "-o", dir .. "/p", "-I", "20", "--metrics", "software",
      "--metric", "Syscalls", "--", T.workload("mix"), "8", "4")
    assert.equal(0, code, err)
    local out, cerr, ccode = T.autoperf("metrics", dir .. "/p", "--csv", "--metric", "write_share_of_syscalls")
    assert.equal(0, ccode, cerr)
    local lines = T.lines(out)
    assert.equal("METRIC,LEVEL,PARENT,INTERVAL,TIME,VALUE,UNIT,STATUS,THRESHOLD,SIMULATED", lines[1])
    assert.matches("^write_share_of_syscalls,1,,total,,[%d%.e%-]+,%%,ok,,0$", lines[2])
    assert.is_true(#lines >= 3)
    -- per interval, by hand from the run file: syscalls in the interval over its length
    local ap = require "autoperf"
    local res = assert(ap.metrics(dir .. "/p", { metrics = "syscalls_per_second" }))
    local series = res.metrics[1].series
    local raw = assert(ap.read(dir .. "/p")):series("raw_syscalls:sys_enter")
    assert.is_true(#raw >= 2, #raw) -- mix 8 4 sleeps 4 x 20 ms: several intervals of 20 ms
    assert.equal(#raw, #series)
    local total = 0
    for i, p in ipairs(raw) do
      local dt = p.time - (i > 1 and raw[i - 1].time or 0)
      assert.equal(p.value / ((dt * 1e9) / 1e9), series[i].value)
      assert.equal(p.time, series[i].time)
      total = total + p.value
    end
    -- mix makes 100 getppid(2) per round: at least 400 system calls in all
    assert.is_true(total >= 400, total)
    -- the profile was planned for the Syscalls group only: the rest says what is missing
    local t = T.autoperf("metrics", dir .. "/p")
    assert.matches("^3 metrics from ", t)
    assert.is_nil(t:find("page_faults", 1, true))
    t = T.autoperf("metrics", dir .. "/p", "--metric", "all")
    assert.matches("page_faults_per_second%s+n/a%s+/s%s+not computed: page%-faults not in the profile", t)
    local _, uerr, ucode = T.autoperf("metrics", dir .. "/p", "--metric", "nosuch")
    assert.equal(1, ucode)
    assert.matches("no metric or metric group 'nosuch'", uerr)
  end)
end)

describe("the TMA tree", function()
  -- a small Intel-dialect file of ours: two level-1 nodes, children, thresholds
  local function node(name, level, parent, formula, th)
    return { MetricName = name, LegacyName = "metric_" .. name, Level = level, ParentCategory = parent,
      Category = "TMA", UnitOfMeasure = "percent", Formula = formula,
      Events = { { Alias = "a", Name = "A" }, { Alias = "b", Name = "B" }, { Alias = "c", Name = "C" } }, Constants = {},
      Threshold = th and { Formula = "a > " .. th, ThresholdMetrics = { { Alias = "a", Value = "metric_" .. name } } } or nil }
  end
  local function fake_result(set, values)
    local out = { metrics = {}, constants = {}, dir = "d" }
    for _, m in ipairs(set.metrics) do
      out.metrics[#out.metrics + 1] = { metric = m, name = m.name, unit = m.unit, value = values[m.name],
        status = "ok", series = {}, reps = { values[m.name] } }
    end
    for _, r in ipairs(out.metrics) do
      local th = r.metric.threshold
      if th then
        r.threshold = th.fn(function(slot) return values[th.slots[slot]] end) ~= 0
      end
    end
    return metrics.tree(out)
  end

  it("orders parents before children, indents by level and marks the bottleneck path as toplev does", function()
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    T.write(dir .. "/tma.json", cjson.encode({ Header = {}, Metrics = {
      node("Leaf_B2", 3, "Mid_B", "a", 5),
      node("Frontend", 1, nil, "a", 20),
      node("Backend", 1, nil, "b", 20),
      node("Mid_B", 2, "Backend", "c", 10),
      node("Mid_B_other", 2, "Backend", "c", 10),
      node("Leaf_B1", 3, "Mid_B", "a", 5),
    } }))
    local set = assert(metrics.load(dir .. "/tma.json"))
    local out = fake_result(set, { Frontend = 30, Backend = 60, Mid_B = 40, Mid_B_other = 15, Leaf_B1 = 9, Leaf_B2 = 12 })
    local order, depth, mark = {}, {}, {}
    for i, r in ipairs(out.metrics) do
      order[i], depth[r.name], mark[r.name] = r.name, r.depth, r.bottleneck or false
    end
    assert.same({ "Frontend", "Backend", "Mid_B", "Leaf_B2", "Leaf_B1", "Mid_B_other" }, order)
    assert.same({ Frontend = 0, Backend = 0, Mid_B = 1, Mid_B_other = 1, Leaf_B1 = 2, Leaf_B2 = 2 }, depth)
    -- over threshold and largest at each level: Backend (60 > 30), Mid_B (40), Leaf_B2 (12)
    assert.same({ Frontend = false, Backend = true, Mid_B = true, Mid_B_other = false, Leaf_B1 = false, Leaf_B2 = true }, mark)
    local report = require "autoperf.metrics.report"
    local text = report.table(out)
    assert.matches("\n  Backend <==%s", text)
    assert.matches("\n    Mid_B <==%s", text)
    assert.matches("\n      Leaf_B2 <==%s+12 percent%s+over threshold", text)
    assert.matches("\n      Leaf_B1%s+9 percent%s+over threshold", text)
    -- --level 2: no level-3 node
    local two = report.table(out, { level = 2 })
    assert.is_nil(two:find("Leaf_B", 1, true))
    assert.truthy(two:find("Mid_B_other", 1, true))
  end)
end)
