-- Metrics whose events were counted in different runs: each run's counts
-- are brought to one basis through the anchor those runs share (count *
-- ref / the run's anchor, ref the anchor's median over the repetition's
-- runs), the intervals lined up by the anchor's progress, and the metric
-- says so wherever it is shown.
local T = require "spec.support"
local core = require "autoperf.core"
local store = require "autoperf.store"
local metrics = require "autoperf.metrics"
local cjson = require "cjson"

local function median(xs)
  table.sort(xs)
  local n = #xs
  return n % 2 == 1 and xs[(n + 1) // 2] or (xs[n // 2] + xs[n // 2 + 1]) / 2
end

-- Totals of a run file by hand: per event name, the last (cumulative)
-- value of each CPU, summed.
local function file_totals(path)
  local name, last = {}, {}
  for _, l in ipairs(T.gz_lines(path)) do
    local tag, ev = l:match("^#event (%d+) %S+ (.+)$")
    if tag then name[tonumber(tag)] = ev end
    local idx, cpu, t, v = l:match("^(%d+),%d+,(%-?%d+),(%d+),(%d+),")
    if idx then
      local key = cpu .. "/" .. t
      last[key] = { tag = tonumber(t), value = tonumber(v) }
    end
  end
  local out = {}
  for _, x in pairs(last) do
    local n = name[x.tag]
    out[n] = (out[n] or 0) + x.value
  end
  return out
end

local function close(want, got, what)
  assert.is_number(got, what)
  assert.is_true(math.abs(got - want) <= 1e-9 * math.abs(want), string.format("%s: want %.17g, got %.17g", what, want, got))
end

local by_name = T.by_name

describe("a metric from several runs of a real profile", function()
  local dir
  local K = 200000
  local MFILE
  setup(function()
    dir = T.tmpdir()
    MFILE = dir .. "/m.json"
    -- a sum does not cancel the basis as a ratio does: ref matters
    T.write(MFILE, cjson.encode({
      { MetricName = "write_share", MetricExpr = "syscalls:sys_enter_write / raw_syscalls:sys_enter", ScaleUnit = "100%" },
      { MetricName = "writes_and_faults", MetricExpr = "syscalls:sys_enter_write + page\\-faults" },
      { MetricName = "faults_per_syscall", MetricExpr = "page\\-faults / raw_syscalls:sys_enter" },
    }))
    -- --isolate puts write(2)'s tracepoint in a run of its own: the
    -- metrics over it and run 1's events combine two executions
    for _, p in ipairs({ { "a" }, { "none", "--anchor", "none" } }) do
      local args = { "profile", "-q", "-o", dir .. "/" .. p[1], "-I", "0", "-r", "2",
        "-e", "syscalls:sys_enter_write,raw_syscalls:sys_enter,page-faults", "--isolate", "syscalls:sys_enter_write" }
      for i = 2, #p do args[#args + 1] = p[i] end
      for _, a in ipairs({ "--", T.workload("writes"), tostring(K) }) do args[#args + 1] = a end
      local _, err, code = T.autoperf(table.unpack(args))
      assert.equal(0, code, err)
    end
  end)
  teardown(function() T.rmtree(dir) end)

  -- per repetition: run -> {totals=, anchor=} from the run files and the journal
  local function by_hand(p, anchor)
    local out = {}
    for _, e in ipairs(T.journal(p)) do
      out[e.rep] = out[e.rep] or {}
      out[e.rep][e.run] = { totals = file_totals(p .. "/" .. e.file), anchor = anchor and e.anchors[anchor] }
    end
    return out
  end

  it("brings each run's counts to the median task-clock of the repetition, labelled so in text, CSV and JSON", function()
    local p = dir .. "/a"
    local runs = by_hand(p, "task-clock")
    local j, err, code = T.autoperf("metrics", p, "--metrics", MFILE, "--json")
    assert.equal(0, code, err)
    local res = by_name(cjson.decode(j).metrics)
    local sum = { write_share = 0, writes_and_faults = 0 }
    for rep = 1, 2 do
      local r1, r2 = runs[rep][1], runs[rep][2]
      -- the workload's exactly known count, in run 2 only
      assert.equal(K, r2.totals["syscalls:sys_enter_write"])
      assert.is_nil(r1.totals["syscalls:sys_enter_write"])
      local ref = median({ r1.anchor, r2.anchor })
      local w = K * ref / r2.anchor
      local raw = r1.totals["raw_syscalls:sys_enter"] * ref / r1.anchor
      local pf = r1.totals["page-faults"] * ref / r1.anchor
      close(100 * w / raw, res.write_share.reps[rep], "write_share rep " .. rep)
      close(w + pf, res.writes_and_faults.reps[rep], "writes_and_faults rep " .. rep)
      sum.write_share = sum.write_share + 100 * w / raw
      sum.writes_and_faults = sum.writes_and_faults + w + pf
      -- the basis JSON gives, run by run
      for _, b in ipairs(res.write_share.crossrun.basis) do
        if b.rep == rep then
          close(runs[rep][b.run].anchor, b.anchor, "anchor")
          close(ref / b.anchor, b.factor, "factor")
        end
      end
    end
    close(sum.write_share / 2, res.write_share.value, "write_share")
    -- beside it, what the anchor corrected: the raw counts combined
    close((100 * K / runs[1][1].totals["raw_syscalls:sys_enter"] + 100 * K / runs[2][1].totals["raw_syscalls:sys_enter"]) / 2,
      res.write_share.crossrun.raw, "raw write_share")
    close(sum.writes_and_faults / 2, res.writes_and_faults.value, "writes_and_faults")
    -- the spread of task-clock across runs 1 and 2, the largest of the repetitions
    local spread = 0
    for rep = 1, 2 do
      local a, b = runs[rep][1].anchor, runs[rep][2].anchor
      spread = math.max(spread, math.max(a, b) / math.min(a, b) - 1)
    end
    local cr = res.write_share.crossrun
    assert.equal("task-clock", cr.anchor)
    assert.same({ 1, 2 }, cr.runs)
    close(spread, cr.spread, "spread")
    local label = string.format("from 2 runs, aligned on task-clock (its spread across runs 1, 2: %.1f%%)", spread * 100)
    assert.equal(label, res.write_share.status:sub(1, #label))
    assert.is_true(res.write_share.several_runs)
    -- its one interval (-I 0) is rep 1's total, on the same basis
    close(res.write_share.reps[1], res.write_share.series[1].value, "interval 1")
    -- a metric of one run is unchanged: raw counts, "ok"
    local r1 = runs[1][1].totals
    close(r1["page-faults"] / r1["raw_syscalls:sys_enter"], res.faults_per_syscall.reps[1], "faults_per_syscall")
    assert.equal("ok", res.faults_per_syscall.status)
    assert.is_nil(res.faults_per_syscall.crossrun)
    -- the table and the CSV say it too
    local text = assert(T.autoperf("metrics", p, "--metrics", MFILE))
    assert.truthy(text:find("write_share%s+[%d.]+ %%%s+" .. label:gsub("%p", "%%%0")), text)
    local one = text:match("\n  faults_per_syscall[^\n]*")
    assert.truthy(one and one:match("^\n  faults_per_syscall%s+[%d.e-]+%s*$"), text) -- no note: ok
    local csv = assert(T.autoperf("metrics", p, "--metrics", MFILE, "--csv"))
    local n = 0
    for line in csv:gmatch("[^\n]+") do
      if line:match("^write_share,") then
        n = n + 1
        assert.truthy(line:find('"' .. label, 1, true), line)
      end
    end
    assert.equal(2, n) -- the total and the one interval
  end)

  it("are the same in ap.metrics and in the report's metrics section", function()
    local p = dir .. "/a"
    local ap = require "autoperf"
    local res = by_name(assert(ap.metrics(p, { file = MFILE })).metrics)
    assert.equal("task-clock", res.write_share.crossrun.anchor)
    assert.matches("^from 2 runs, aligned on task%-clock %(its spread across runs 1, 2: [%d.]+%%%)", res.write_share.status)
    -- the report reads the bundled software metrics: write_share_of_syscalls is this one
    local _, err, code = T.autoperf("report", p, "-o", dir .. "/report.html")
    assert.equal(0, code, err)
    local html = T.slurp(dir .. "/report.html")
    local d = cjson.decode(html:match('<script id="data" type="application/json">(.-)</script>'))
    local rows = by_name(d.metrics.rows)
    local soft = by_name(assert(ap.metrics(p, { file = "software" })).metrics)
    local row = rows.write_share_of_syscalls
    close(soft.write_share_of_syscalls.value, row.value, "the report's value")
    close(res.write_share.value, row.value, "the same metric in both files")
    assert.equal("task-clock", row.aligned_on)
    close(res.write_share.crossrun.spread, row.anchor_spread, "spread")
    assert.matches("^from 2 runs, aligned on task%-clock", row.status)
    local cell = html:match("<tr><td>write_share_of_syscalls</td>.-</tr>")
    assert.truthy(cell and cell:find("from 2 runs, aligned on task-clock", 1, true), cell)
    -- one run's metric: as before
    assert.equal("ok", rows.syscalls_per_second.status)
    assert.is_nil(rows.syscalls_per_second.aligned_on)
  end)

  it("without an anchor common to the runs combines the raw counts and says so", function()
    local p = dir .. "/none"
    local runs = by_hand(p)
    local j, err, code = T.autoperf("metrics", p, "--metrics", MFILE, "--json")
    assert.equal(0, code, err)
    local res = by_name(cjson.decode(j).metrics)
    for rep = 1, 2 do
      local r1, r2 = runs[rep][1].totals, runs[rep][2].totals
      close(100 * K / r1["raw_syscalls:sys_enter"], res.write_share.reps[rep], "write_share rep " .. rep)
      close(K + r1["page-faults"], res.writes_and_faults.reps[rep], "writes_and_faults rep " .. rep)
    end
    -- (the guard may judge a run inconsistent: the label goes on to say so)
    local label = "from 2 runs (1, 2), no anchor common to them: raw counts combined"
    assert.equal(label, res.write_share.status:sub(1, #label))
    assert.is_nil(res.write_share.crossrun.anchor)
    assert.truthy(res.write_share.crossrun.alignment:find("paired by index", 1, true))
    local text = assert(T.autoperf("metrics", p, "--metrics", MFILE))
    assert.truthy(text:find("no anchor common to them: raw counts combined", 1, true), text)
  end)
end)

-- A synthetic profile: two runs of one repetition, run 2's task-clock
-- (and its counts) twice run 1's, in twice as many intervals of which
-- every second one idles (task-clock and count 0): the same work, the
-- second execution slower and interrupted.
local function synthetic(dir, opts)
  opts = opts or {}
  local manifest = {
    tool = "autoperf", command = { "synthetic" }, key = {},
    machine = { cpus = { { cpu = 0, socket = 0, core = 0, node = 0 } } },
    events = { { name = "a", unit = "software" }, { name = "b", unit = "software" }, { name = "task-clock", unit = "software" } },
    anchors = opts.no_anchor and { { name = "duration", unit = "ns" } }
      or { { name = "duration", unit = "ns" }, { name = "task-clock", unit = "software" } },
  }
  T.write(dir .. "/manifest.json", cjson.encode(manifest))
  -- run: {event, per busy interval count, task-clock per busy interval, intervals, busy every nth}
  local runs = { { ev = "a", count = 250, tc = 250000, n = 4, every = 1 },
                 { ev = "b", count = 1000, tc = 500000, n = 8, every = 2 } }
  local journal = {}
  for run, r in ipairs(runs) do
    local name = store.run_file(run, 1)
    local w = assert(core.writer(dir .. "/" .. name, true))
    w:write(string.format("#autoperf-run %d 1\n#event 1 software %s\n#event 2 software task-clock\n", run, r.ev))
    w:write(core.RUN_COLUMNS, "\n")
    local c, tc, rows = 0, 0, 0
    for i = 0, r.n - 1 do
      if i % r.every == 0 then c, tc = c + r.count, tc + r.tc end
      local t = (i + 1) * 100000000
      w:write(string.format("%d,%d,0,1,%d,%d,%d\n", i, t, c, t, t))
      w:write(string.format("%d,%d,0,2,%d,%d,%d\n", i, t, tc, t, t))
      rows = rows + 2
    end
    w:write(string.format("#end rows=%d\n", rows))
    assert(w:commit())
    local e = { run = run, rep = 1, file = name, elapsed_ns = r.n * 100000000, anchors = { ["task-clock"] = tc },
                guard = "ok" }
    if opts.outlier == run then e.guard, e.guard_why = "outlier", "task-clock 2 ms is 100% off the median" end
    if opts.no_anchor then e.anchors = nil end
    journal[#journal + 1] = cjson.encode(e)
  end
  T.write(dir .. "/journal.jsonl", table.concat(journal, "\n"), "\n")
  T.write(dir .. "/m.json", cjson.encode({
    { MetricName = "b_per_a", MetricExpr = "b / a" },
    { MetricName = "a_plus_b", MetricExpr = "a + b" },
    { MetricName = "b_per_second", MetricExpr = "b / duration_time" },
    { MetricName = "a_per_second", MetricExpr = "a / duration_time" },
    { MetricName = "a_unless", MetricExpr = "a if 2 > 1 else b" },
  }))
end

describe("a metric from several runs of a synthetic profile", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("is corrected by exactly the factor between the runs' anchors, its intervals lined up by the anchor", function()
    synthetic(dir)
    local set = assert(metrics.load(dir .. "/m.json"))
    local res = by_name(assert(metrics.compute(set, dir)).metrics)
    -- raw: b / a = 4000 / 1000 = 4; run 2 counted twice run 1's task-clock: 2
    -- ref = median(1 ms, 2 ms) = 1.5 ms: a 1000 * 1.5 = 1500, b 4000 * 0.75 = 3000
    close(2, res.b_per_a.value, "b_per_a")
    close(4, res.b_per_a.crossrun.raw, "raw b_per_a")
    close(4500, res.a_plus_b.value, "a_plus_b")
    -- duration_time on the basis of the run of b: 0.8 s * 0.75
    close(3000 / 0.6, res.b_per_second.value, "b_per_second")
    local cr = res.b_per_a.crossrun
    assert.equal("task-clock", cr.anchor)
    close(1, cr.spread, "spread")
    assert.equal("from 2 runs, aligned on task-clock (its spread across runs 1, 2: 100.0%)", res.b_per_a.status)
    -- a metric of one run: raw, unchanged
    close(1000 / 0.4, res.a_per_second.value, "a_per_second")
    assert.equal("ok", res.a_per_second.status)
    assert.is_nil(res.a_per_second.crossrun)
    -- a formula that names b in a branch not taken reads run 1 only: raw
    assert.equal(1000, res.a_unless.value)
    assert.equal("ok", res.a_unless.status)
    assert.is_nil(res.a_unless.crossrun)
    -- by interval index run 2's idle intervals would give b 0 in every
    -- second; by task-clock's progress every interval is 1/6 of each run's
    -- work: b / a = 2 in each, a + b 4500 / 6
    local s = res.b_per_a.series
    assert.equal(6, #s)
    for i = 1, 6 do
      close(2, s[i].value, "b_per_a interval " .. i)
      close(4500 / 6, res.a_plus_b.series[i].value, "a_plus_b interval " .. i)
    end
    assert.truthy(cr.alignment:find("lined up by task-clock", 1, true), cr.alignment)
    -- the one-run metric keeps its run's intervals
    assert.equal(4, #res.a_per_second.series)
  end)

  it("names its runs briefly, three or more in a row as a range", function()
    local label = metrics.crossrun_label({ runs = { 1, 2, 4, 5, 6, 7, 9, 11, 12, 13 }, anchor = "INST_RETIRED.ANY",
                                           spread = 0.125 })
    assert.equal("from 10 runs, aligned on INST_RETIRED.ANY (its spread across runs 1, 2, 4-7, 9, 11-13: 12.5%)", label)
  end)

  it("says when the guard judged one of its runs inconsistent", function()
    synthetic(dir, { outlier = 2 })
    local set = assert(metrics.load(dir .. "/m.json"))
    local res = by_name(assert(metrics.compute(set, dir)).metrics)
    close(2, res.b_per_a.value, "b_per_a")
    assert.equal("from 2 runs, aligned on task-clock (its spread across runs 1, 2: 100.0%); the guard judged run 2 " ..
      "rep 1 inconsistent (an outlier after its re-measurements: task-clock 2 ms is 100% off the median)", res.b_per_a.status)
    assert.same({ { run = 2, rep = 1, why = "an outlier after its re-measurements: task-clock 2 ms is 100% off the median" } },
      res.b_per_a.crossrun.inconsistent)
    -- a metric of run 1 only is not concerned
    assert.equal("ok", res.a_per_second.status)
  end)

  it("without anchors combines raw counts, its intervals by index", function()
    synthetic(dir, { no_anchor = true })
    local set = assert(metrics.load(dir .. "/m.json"))
    local res = by_name(assert(metrics.compute(set, dir)).metrics)
    close(4, res.b_per_a.value, "b_per_a")
    close(5000, res.a_plus_b.value, "a_plus_b")
    assert.equal("from 2 runs (1, 2), no anchor common to them: raw counts combined", res.b_per_a.status)
    assert.equal(4, #res.b_per_a.series)
    assert.equal(0, res.b_per_a.series[2].value) -- run 2's idle interval 2 beside run 1's busy one
  end)
end)
