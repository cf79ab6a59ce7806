-- Analysis of real profiles of this machine: stats, correlation (CSV and
-- heatmap), detail plots, the wide export, and diff between two profiles.
local T = require "spec.support"
local analyze = require "autoperf.analyze"

local W_EVENTS = "syscalls:sys_enter_write,syscalls:sys_exit_write,task-clock,page-faults,syscalls:sys_enter_reboot"
local K = 200000 -- writes per run of the writes workload

local function profile(dir, ...)
  local out, err, code = T.autoperf("profile", "-q", "-o", dir, ...)
  assert(code == 0, out .. err)
end

local function csv_rows(path)
  local rows = T.csv(path)
  local head, out = rows[1], {}
  for i = 2, #rows do
    local r = {}
    for j, h in ipairs(head) do r[h] = rows[i][j] end
    out[r.EVENT_NAME or r.EVENT or i] = r
  end
  return out, head
end

-- Tracepoints need a tracefs this user can read (root's by default).
local function needs_tracefs()
  if T.tracefs then return false end
  it("needs tracepoints", function() pending("no readable tracefs (not mounted, or not this user's)") end)
  return true
end

describe("analyze on a profile of the writes workload", function()
  if needs_tracefs() then return end
  local tmp, dir
  lazy_setup(function()
    tmp = T.tmpdir()
    dir = tmp .. "/w"
    profile(dir, "-I", "10", "-r", "3", "-e", W_EVENTS, "--", T.workload("writes"), tostring(K))
  end)
  lazy_teardown(function() T.rmtree(tmp) end)

  it("stats: exact totals, mean, std and kind of each event, as a table and a CSV", function()
    local out, err, code = T.autoperf("analyze", "stats", dir)
    assert.are.equal(0, code, err)
    -- write's entry and exit are constant, reboot zero, task-clock varies
    -- (page-faults may come out the same in every run, or not)
    local vary, constant = out:match("^5 events: (%d) vary across repetitions, (%d) constant, 1 zero, 0 refused\n")
    assert.are.equal(4, tonumber(vary) + tonumber(constant), out)
    assert.is_true(tonumber(constant) >= 2 and tonumber(vary) >= 1, out)
    local rows = csv_rows(dir .. "/analysis/stats.csv")
    local w = rows["syscalls:sys_enter_write"]
    -- K writes per repetition, every repetition: constant
    assert.are.same({ "constant", "3", tostring(3 * K), tostring(K), "0", tostring(K), tostring(K), "0" },
      { w.KIND, w.REPETITIONS, w.TOTAL, w.MEAN, w.STD, w.MIN, w.MAX, w.CV })
    assert.are.equal("zero", rows["syscalls:sys_enter_reboot"].KIND)
    assert.are.equal("", rows["syscalls:sys_enter_reboot"].CV) -- mean 0: no coefficient of variation
    local tc = rows["task-clock"]
    assert.are.equal("varies", tc.KIND)
    assert.is_true(tonumber(tc.STD) > 0 and tonumber(tc.CV) > 0)
    assert.truthy(out:find("task-clock", 1, true))
    assert.truthy(out:find("wrote " .. dir .. "/analysis/stats.csv", 1, true))
  end)

  it("stats from Lua: the same numbers, with the sample standard deviation", function()
    local r = assert(require("autoperf.result").read(dir))
    local s = assert(analyze.stats(dir, { output = tmp .. "/lua-stats" }))
    local x = {}
    for _, row in ipairs(s.rows) do x[row.name] = row end
    local t = { r:total("task-clock", 1), r:total("task-clock", 2), r:total("task-clock", 3) }
    local mean = (t[1] + t[2] + t[3]) / 3
    local var = ((t[1] - mean) ^ 2 + (t[2] - mean) ^ 2 + (t[3] - mean) ^ 2) / 2
    assert.is_true(math.abs(x["task-clock"].mean - mean) < 1e-6)
    assert.is_true(math.abs(x["task-clock"].std - math.sqrt(var)) < 1e-6 * math.sqrt(var))
    assert.are.equal(tmp .. "/lua-stats/stats.csv", s.csv)
  end)

  it("wide: INDEX and one column per event; columns sum to the events' totals", function()
    local out, err, code = T.autoperf("analyze", "wide", dir, "-o", tmp .. "/wide.csv")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("wrote " .. tmp .. "/wide.csv", 1, true))
    local rows = T.csv(tmp .. "/wide.csv")
    assert.are.same({ "INDEX", "syscalls:sys_enter_write", "syscalls:sys_exit_write", "syscalls:sys_enter_reboot",
      "task-clock", "page-faults" }, rows[1])
    local enter, exit = 0, 0
    for i = 2, #rows do
      assert.are.equal(tostring(i - 2), rows[i][1])
      enter, exit = enter + tonumber(rows[i][2]), exit + tonumber(rows[i][3])
      -- a sample may fall between a write's entry and its exit (or read
      -- the two a few microseconds apart when they are in two groups)
      local a, b = tonumber(rows[i][2]), tonumber(rows[i][3])
      assert.is_true(math.abs(a - b) <= 2 + 0.02 * a, a .. " entries, " .. b .. " exits")
    end
    -- every repetition's series is kept whole (one run: nothing to cut)
    assert.are.equal(3 * K, enter)
    assert.are.equal(3 * K, exit)
  end)

  it("correlation: 1 for entry and exit of write, CSV, heatmap and its script", function()
    local out, err, code = T.autoperf("analyze", "correlation", dir, "--top", "3")
    assert.are.equal(0, code, err)
    -- the reboot syscall never happened: constant, left out
    assert.truthy(out:find("pearson correlation of 4 events over %d+ intervals %(1 left out as constant%)"), out)
    -- equal but for a write caught between entry and exit by a sample
    assert.truthy(out:find("+1.0000  syscalls:sys_enter_write  ~  syscalls:sys_exit_write", 1, true), out)
    local rows, head = csv_rows(dir .. "/analysis/correlation.csv")
    assert.are.same({ "EVENT", "syscalls:sys_enter_write", "syscalls:sys_exit_write", "task-clock", "page-faults" },
      head)
    for _, a in ipairs({ "syscalls:sys_enter_write", "task-clock", "page-faults" }) do
      assert.are.equal("1.000000", rows[a][a])
      for _, b in ipairs({ "syscalls:sys_enter_write", "task-clock", "page-faults" }) do
        assert.are.equal(rows[a][b], rows[b][a])
        assert.is_true(math.abs(tonumber(rows[a][b])) <= 1)
      end
    end
    -- 1 but for the writes a sample caught between entry and exit (per
    -- CPU, each CPU's groups are read a moment apart: a few more)
    assert.is_true(tonumber(rows["syscalls:sys_enter_write"]["syscalls:sys_exit_write"]) >= 0.99999)
    assert.truthy(T.slurp(dir .. "/analysis/correlation.gp"):find("correlation.bin", 1, true))
    -- the clustered order puts entry and exit of write side by side, in one
    -- cluster, and is written out
    assert.truthy(out:find("clusters at mean |r| >= 0.8", 1, true), out)
    local order = csv_rows(dir .. "/analysis/correlation-order.csv")
    local en, ex = order["syscalls:sys_enter_write"], order["syscalls:sys_exit_write"]
    assert.are.equal(1, math.abs(tonumber(en.POSITION) - tonumber(ex.POSITION)))
    assert.are.equal(en.CLUSTER, ex.CLUSTER)
  end)

  it("correlation: says when intervals are too few, and keeps one-shot events out of the top pairs", function()
    local few = tmp .. "/few"
    profile(few, "-I", "20", "-e", "syscalls:sys_enter_write,syscalls:sys_exit_write,task-clock,syscalls:sys_enter_brk," ..
      "syscalls:sys_enter_execve", "--", T.workload("writes"), tostring(K))
    local out, err, code = T.autoperf("analyze", "correlation", few, "--top", "10")
    assert.are.equal(0, code, err)
    local n = tonumber(out:match("over (%d+) intervals"))
    if n < 20 then
      local crit = require("autoperf.analyze.correlation").critical_r(n)
      assert.truthy(out:find(string.format("warning: only %d intervals: |r| below %.3f is indistinguishable from " ..
        "chance", n, crit), 1, true), out)
    end
    -- execve happens once, at the start: one-shot, named, and in no listed pair
    local order = csv_rows(few .. "/analysis/correlation-order.csv")
    assert.are.equal("yes", order["syscalls:sys_enter_execve"].ONE_SHOT)
    assert.truthy(out:find("one-shot", 1, true), out)
    local crit = require("autoperf.analyze.correlation").critical_r(n)
    for line in out:gmatch("[^\n]+") do
      if line:match("^%s+%d+%s+[+-]%d") then
        local r = tonumber(line:match("^%s+%d+%s+([+-][%d.]+)"))
        assert.are.equal(math.abs(r) < crit, line:find("(within chance)", 1, true) ~= nil, line)
        for name, row in pairs(order) do
          if row.ONE_SHOT == "yes" then assert.falsy(line:find(name, 1, true), line) end
        end
      end
    end
  end)

  it("detail: one image per event, per repetition or per CPU, png or svg", function()
    local out, err, code = T.autoperf("analyze", "detail", dir, "-e", "task-clock,syscalls:sys_enter_w*",
      "--format", "svg", "-o", tmp .. "/detail")
    assert.are.equal(0, code, err)
    for _, f in ipairs({ "task-clock.svg", "syscalls_sys_enter_write.svg" }) do
      assert.truthy(out:find(tmp .. "/detail/" .. f, 1, true), out)
      local svg = T.slurp(tmp .. "/detail/" .. f)
      assert.truthy(svg:find("<svg", 1, true))
      for k = 1, 3 do assert.truthy(svg:find("repetition " .. k, 1, true)) end
    end
    _, err, code = T.autoperf("analyze", "detail", dir, "-e", "task-clock", "--per-cpu", "-o", tmp .. "/pc")
    assert.are.equal(0, code, err)
    local png = assert(T.png(tmp .. "/pc/task-clock.png"))
    assert.are.same({ 900, 500 }, { png.width, png.height })
    -- per CPU when counted per CPU (in a cgroup), else one series
    local mode = T.json(dir .. "/manifest.json").counting.mode
    local dat = T.slurp(tmp .. "/pc/task-clock.dat")
    if mode == "cgroup" then
      assert.truthy(dat:find('"CPU 0"', 1, true), dat:sub(1, 200))
    else
      assert.equal("task", mode)
      assert.truthy(dat:find("all CPUs (per-task profile)", 1, true))
    end
  end)

  it("detail: skips flat events a glob found, labels nanoseconds, marks a partial last interval", function()
    local out, err, code = T.autoperf("analyze", "detail", dir, "-e", "task-clock,syscalls:sys_enter_re*",
      "-o", tmp .. "/flat")
    assert.are.equal(0, code, err)
    -- reboot never happened: a flat zero, said and not drawn
    assert.truthy(out:find("skipped 1 flat event (the same value in every interval; 1 of them zero): " ..
      "syscalls:sys_enter_reboot; --all draws them", 1, true), out)
    assert.is_nil(io.open(tmp .. "/flat/syscalls_sys_enter_reboot.png"))
    assert.truthy(T.slurp(tmp .. "/flat/task-clock.gp"):find("set ylabel 'nanoseconds per interval'", 1, true))
    -- 200000 writes do not end on a 10 ms boundary: the last interval of
    -- a repetition is partial (unless it happens to be 90% or more of one)
    local dat = T.slurp(tmp .. "/flat/task-clock.dat")
    local partial = dat:match('"partial last interval %(([%d.]+) of')
    if partial then assert.is_true(tonumber(partial) < 9.5, dat) end
    -- named, a flat event is drawn; --all draws what the glob found
    out, err, code = T.autoperf("analyze", "detail", dir, "-e", "syscalls:sys_enter_reboot", "-o", tmp .. "/flat")
    assert.are.equal(0, code, err)
    assert.truthy(T.png(tmp .. "/flat/syscalls_sys_enter_reboot.png"))
    assert.truthy(T.slurp(tmp .. "/flat/syscalls_sys_enter_reboot.gp"):find("set ylabel 'count per interval'", 1, true))
    out, err, code = T.autoperf("analyze", "detail", dir, "-e", "syscalls:sys_enter_re*", "--all", "-o", tmp .. "/all")
    assert.are.equal(0, code, err)
    assert.falsy(out:find("skipped", 1, true), out)
    assert.truthy(T.png(tmp .. "/all/syscalls_sys_enter_reboot.png"))
  end)

  it("report: one HTML file with its data inside, also from analyze correlation --html", function()
    local out, err, code = T.autoperf("report", dir, "-o", tmp .. "/report.html")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("wrote " .. tmp .. "/report.html (", 1, true), out)
    local html = T.slurp(tmp .. "/report.html")
    assert.truthy(html:find("<canvas id=\"heatmap\"", 1, true))
    assert.falsy(html:find("https?://")) -- nothing from the network
    assert.falsy(html:find("src=", 1, true)) -- nor from another file
    local json = html:match('<script id="data" type="application/json">(.-)</script>')
    local d = require("cjson").decode(json)
    assert.are.equal(5, #d.events)
    assert.are.equal(4, d.correlation.n) -- reboot never happened: left out
    assert.are.equal(1, d.correlation.zero)
    assert.is_table(d.series.values["task-clock"])
    assert.is_nil(d.diff)
    -- the bundled software metrics, as autoperf metrics computes them
    local m = {}
    for _, r in ipairs(d.metrics.rows) do m[r.name] = r end
    local want = select(1, T.autoperf("metrics", dir, "--json"))
    for _, r in ipairs(require("cjson").decode(want).metrics) do
      if r.value then assert.are.equal(r.value, m[r.name].value, r.name) end
    end
    assert.are.equal("ok", m.write_syscalls_per_second.status)
    assert.matches("^not computed: context%-switches", m.context_switches_per_second.status)
    assert.truthy(html:find('<table id="metric-table">', 1, true))
    -- the matrix: n x n signed bytes (r * 100), the diagonal 1
    local bytes = d.correlation.matrix
    assert.are.equal(math.ceil(16 / 3) * 4, #bytes)
    -- with a second profile, the diff table's data; --html beside the analysis
    out, err, code = T.autoperf("report", dir, dir, "-o", tmp .. "/self.html")
    assert.are.equal(0, code, err)
    d = require("cjson").decode(T.slurp(tmp .. "/self.html"):match('<script id="data" type="application/json">(.-)</script>'))
    assert.are.equal(5, #d.diff.rows)
    out, err, code = T.autoperf("analyze", "correlation", dir, "--html", "-o", tmp .. "/html")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("wrote " .. tmp .. "/html/report.html", 1, true), out)
  end)

  it("select: one of write's entry and exit, no zero event, a list that profile -e @FILE measures exactly", function()
    local out, err, code = T.autoperf("analyze", "select", dir, "-o", tmp .. "/sel")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("method: non-constant over time; stable across repetitions (cv <= 0.5); one per " ..
      "cluster of pearson correlation, average linkage on 1-|r| cut at mean |r| >= 0.8", 1, true), out)
    local why = csv_rows(tmp .. "/sel/selection.csv")
    local enter, exit = why["syscalls:sys_enter_write"], why["syscalls:sys_exit_write"]
    -- exactly one of the pair is kept, the other is represented by it
    assert.are_not.equal(enter.KEPT, exit.KEPT)
    local kept, dropped = enter.KEPT == "yes" and enter or exit, enter.KEPT == "yes" and exit or enter
    assert.are.equal(kept.EVENT, dropped.REPRESENTATIVE)
    assert.truthy(dropped.REASON:find("^represented by " .. kept.EVENT:gsub("%p", "%%%0")), dropped.REASON)
    assert.are.same({ "no", "zero: never counted" },
      { why["syscalls:sys_enter_reboot"].KEPT, why["syscalls:sys_enter_reboot"].REASON })
    local list = {}
    for line in T.slurp(tmp .. "/sel/selected.txt"):gmatch("[^\n]+") do
      if not line:match("^#") then list[#list + 1] = line end
    end
    local want = {}
    for name, row in pairs(why) do
      if row.KEPT == "yes" then want[#want + 1] = name end
    end
    table.sort(want)
    local sorted = { table.unpack(list) }
    table.sort(sorted)
    assert.are.same(want, sorted)
    -- read back: the profile measures exactly the selected events
    profile(tmp .. "/again", "-I", "0", "-e", "@" .. tmp .. "/sel/selected.txt", "--", T.workload("writes"), "1000")
    local measured = {}
    for _, ev in ipairs(T.json(tmp .. "/again/manifest.json").events) do measured[#measured + 1] = ev.name end
    table.sort(measured)
    assert.are.same(want, measured)
    -- a list that cannot be read is one clear line
    local _, perr, pcode = T.autoperf("profile", "-q", "-o", tmp .. "/none", "-e", "@" .. tmp .. "/nope.txt",
      "--", T.workload("writes"), "10")
    assert.are.equal(2, pcode)
    assert.truthy(perr:find("nope.txt", 1, true), perr)
  end)

  it("detail: an unknown event is an error with a suggestion, and draws nothing", function()
    local _, err, code = T.autoperf("analyze", "detail", dir, "-e", "task-clok", "-o", tmp .. "/none")
    assert.are.equal(1, code)
    assert.truthy(err:find("no event 'task-clok' in " .. dir .. " (did you mean task-clock", 1, true), err)
    assert.is_nil(io.open(tmp .. "/none/task-clok.png"))
  end)

  it("reads a results.csv (plain or .gz) as the original autoperf's scripts did", function()
    assert.equal(0, select(3, T.autoperf("aggregate", dir, "-o", tmp .. "/results.csv.gz")))
    local _, err, code = T.autoperf("analyze", "correlation", dir, "-o", tmp .. "/from-dir")
    assert.are.equal(0, code, err)
    _, err, code = T.autoperf("analyze", "correlation", tmp .. "/results.csv.gz", "-o", tmp .. "/from-results")
    assert.are.equal(0, code, err)
    -- one run: its INDEX is the directory's lined-up interval
    assert.are.equal(T.slurp(tmp .. "/from-dir/correlation.csv"), T.slurp(tmp .. "/from-results/correlation.csv"))
    _, err, code = T.autoperf("analyze", "wide", tmp .. "/results.csv.gz", "-o", tmp .. "/wide-r.csv")
    assert.are.equal(0, code, err)
    assert.are.equal(0, select(3, T.autoperf("analyze", "wide", dir, "-o", tmp .. "/wide-d.csv")))
    assert.are.equal(T.slurp(tmp .. "/wide-d.csv"), T.slurp(tmp .. "/wide-r.csv"))
    local out
    out, err, code = T.autoperf("analyze", "stats", tmp .. "/results.csv.gz")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("5 events: 4 counted (one repetition: no variation to show), 1 zero", 1, true), out)
    assert.truthy(out:find("wrote " .. tmp .. "/analysis/stats.csv", 1, true), out) -- beside the file
    local once = csv_rows(tmp .. "/analysis/stats.csv")["syscalls:sys_enter_write"]
    -- one repetition: a total, no spread
    assert.are.same({ "once", "1", tostring(3 * K), "", "" }, { once.KIND, once.REPETITIONS, once.TOTAL, once.STD, once.CV })
    -- a file that is not one, or is cut
    local bad = tmp .. "/bad.csv"
    T.write(bad, 'EVENT_NAME,INDEX,UNIT,SAMPLE_VALUE\n"a,b",0,u,1\n"a,b",1,u,x\n')
    _, err, code = T.autoperf("analyze", "correlation", bad)
    assert.are.equal(1, code)
    assert.are.equal("autoperf: " .. bad .. ":3: bad INDEX or SAMPLE_VALUE\n", err)
    T.write(bad, string.rep("C,", 70), "EVENT_NAME,INDEX,UNIT,SAMPLE_VALUE\n")
    _, err, code = T.autoperf("analyze", "wide", bad)
    assert.are.equal(1, code)
    assert.are.equal("autoperf: " .. bad .. ":1: more than 64 columns, not a results.csv\n", err)
    T.write(bad, "EVENT_NAME,INDEX,UNIT,SAMPLE_VALUE\na,0,u,inf\n")
    _, err, code = T.autoperf("analyze", "wide", bad)
    assert.are.equal(1, code)
    assert.are.equal("autoperf: " .. bad .. ":2: bad INDEX or SAMPLE_VALUE\n", err)
    T.write(bad, "INDEX,VALUE\n0,1\n")
    _, err, code = T.autoperf("analyze", "stats", bad)
    assert.are.equal(1, code)
    assert.are.equal("autoperf: " .. bad .. ":1: not a results.csv (no EVENT_NAME column)\n", err)
  end)

  it("refuses what is not a profile, in one line", function()
    for _, sub in ipairs({ "stats", "correlation", "wide" }) do
      local _, err, code = T.autoperf("analyze", sub, tmp .. "/nothing")
      assert.are.equal(1, code)
      assert.are.equal("autoperf: " .. tmp .. "/nothing: no such directory\n", err)
    end
    local _, err, code = T.autoperf("diff", dir, tmp .. "/nothing")
    assert.are.equal(1, code)
    assert.truthy(err:find("no such directory", 1, true))
  end)
end)

describe("analyze correlation on a profile of every event of this machine", function()
  local tmp, dir
  lazy_setup(function()
    tmp = T.tmpdir()
    dir = tmp .. "/mix"
    profile(dir, "-I", "10", "-r", "2", "--", T.workload("mix"), "16", "4")
  end)
  lazy_teardown(function() T.rmtree(tmp) end)

  it("draws a heatmap PNG with labelled axes and writes the matrix", function()
    if not T.tracefs then return pending("no readable tracefs: too few events vary") end
    local out, err, code = T.autoperf("analyze", "correlation", dir)
    assert.are.equal(0, code, err)
    local n = tonumber(out:match("correlation of (%d+) events"))
    assert.is_true(n >= 10, out)
    local rows, head = csv_rows(dir .. "/analysis/correlation.csv")
    assert.are.equal(n + 1, #head)
    assert.are.equal("1.000000", rows["page-faults"]["page-faults"])
    local png = assert(T.png(dir .. "/analysis/correlation.png"))
    assert.is_true(png.width >= 700 and png.height >= 700)
    -- non-trivial content: many colours, mostly not white inside the plot
    local colours, coloured, total = {}, 0, 0
    for y = 0, png.height - 1, 7 do
      for x = 0, png.width - 1, 7 do
        local r, g, b = png.pixel(x, y)
        colours[r * 65536 + g * 256 + b] = true
        total = total + 1
        if r < 240 or g < 240 or b < 240 then coloured = coloured + 1 end
      end
    end
    local ncolours = 0
    for _ in pairs(colours) do ncolours = ncolours + 1 end
    assert.is_true(ncolours > 50, "colours: " .. ncolours)
    assert.is_true(coloured / total > 0.2, "coloured fraction " .. coloured / total)
    -- an event the kernel refused is named as such
    local refused = require("cjson").decode(T.slurp(dir .. "/manifest.json")).refused or {}
    if #refused > 0 then
      local _, derr, dcode = T.autoperf("analyze", "detail", dir, "-e", refused[1].name)
      assert.are.equal(1, dcode)
      assert.truthy(derr:find("'" .. refused[1].name .. "' was refused by the kernel", 1, true), derr)
    end
    local gp = T.slurp(dir .. "/analysis/correlation.gp")
    assert.truthy(gp:find("set ytics noenhanced ('", 1, true)) -- event names (or groups') on the axis
    if n > require("autoperf.analyze.correlation").LABELLED then
      -- an overview of groups, the whole matrix beside it
      assert.truthy(gp:find("set xlabel 'group of events", 1, true))
      local fullpng = assert(T.png(dir .. "/analysis/correlation-full.png"))
      assert.is_true(fullpng.width >= n and fullpng.height >= n)
      assert.truthy(out:find("every pair in " .. dir .. "/analysis/correlation-full.png", 1, true), out)
    else
      assert.truthy(gp:find("set xlabel 'event'", 1, true))
    end
    -- the clustered order: entry and exit tracepoints of a syscall or an
    -- interrupt mostly share a cluster (a blocking call may enter in one
    -- interval and leave in the next)
    local order = csv_rows(dir .. "/analysis/correlation-order.csv")
    local count = 0
    for _ in pairs(order) do count = count + 1 end
    assert.are.equal(n, count)
    local pairs_, together = 0, 0
    for name, row in pairs(order) do
      local other = name:gsub("sys_enter_", "sys_exit_"):gsub("_entry$", "_exit")
      if other ~= name and order[other] then
        pairs_ = pairs_ + 1
        if order[other].CLUSTER == row.CLUSTER then together = together + 1 end
      end
    end
    assert.is_true(pairs_ >= 5 and together >= 0.75 * pairs_, together .. " of " .. pairs_ .. " pairs together")
  end)
end)

describe("autoperf diff", function()
  if needs_tracefs() then return end
  local tmp, a, b
  lazy_setup(function()
    tmp = T.tmpdir()
    a, b = tmp .. "/a", tmp .. "/b"
    -- B faults in four times the memory per round and runs twice the rounds
    local ev = "page-faults,minor-faults,exceptions:page_fault_user,syscalls:sys_enter_getppid," ..
      "syscalls:sys_enter_reboot,context-switches,task-clock"
    profile(a, "-I", "0", "-r", "4", "-e", ev, "--", T.workload("mix"), "8", "3")
    profile(b, "-I", "0", "-r", "4", "-e", ev, "--", T.workload("mix"), "32", "6")
  end)
  lazy_teardown(function() T.rmtree(tmp) end)

  it("ranks the page-fault and syscall events that changed at the top", function()
    local out, err, code = T.autoperf("diff", a, b)
    assert.are.equal(0, code, err)
    local rows = T.csv(b .. "/analysis/diff.csv")
    local top = {}
    for i = 2, 5 do top[rows[i][2]] = rows[i][13] end
    for _, e in ipairs({ "page-faults", "minor-faults", "exceptions:page_fault_user", "syscalls:sys_enter_getppid" }) do
      assert.are.equal("yes", top[e], e .. " not among the top 4:\n" .. out)
    end
    local by = {}
    for i = 2, #rows do by[rows[i][2]] = rows[i] end
    -- 100 getppid calls per round: exactly twice as many, no variance
    assert.are.equal("300", by["syscalls:sys_enter_getppid"][4])
    assert.are.equal("600", by["syscalls:sys_enter_getppid"][5])
    assert.are.equal("1", by["syscalls:sys_enter_getppid"][7])
    assert.are.equal("no", by["syscalls:sys_enter_reboot"][13])
    assert.are.equal("zero in both", by["syscalls:sys_enter_reboot"][14])
    assert.truthy(out:find("changed significantly", 1, true))
    assert.truthy(out:find("wrote " .. b .. "/analysis/diff.csv and " .. b .. "/analysis/diff.png", 1, true), out)
    assert.truthy(T.png(b .. "/analysis/diff.png"))
    -- the plot draws the table's significant rows in its order, and says so
    local sig = 0
    for i = 2, #rows do
      if rows[i][13] == "yes" then sig = sig + 1 end
    end
    local dat = T.lines(T.slurp(b .. "/analysis/diff.dat"))
    assert.are.equal(math.min(sig, 30), #dat)
    for i, line in ipairs(dat) do
      assert.truthy(line:find('"' .. rows[i + 1][2], 1, true), line .. " is not row " .. i)
    end
    assert.truthy(T.slurp(b .. "/analysis/diff.gp"):find(sig <= 30 and ("all " .. sig .. " significant changes") or
      ("the first 30 of " .. sig), 1, true))
    -- --html: the report of A with the diff to B beside diff.csv
    out, err, code = T.autoperf("diff", a, b, "--html")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("wrote " .. b .. "/analysis/report.html", 1, true), out)
    -- B against itself: nothing changed, and no plot of the last diff stays
    out, err, code = T.autoperf("diff", b, b)
    assert.are.equal(0, code, err)
    assert.truthy(out:find("0 changed significantly", 1, true), out)
    assert.is_nil(io.open(b .. "/analysis/diff.png"))
    assert.is_nil(io.open(b .. "/analysis/diff.gp"))
  end)

  it("needs repetitions to test, and says so", function()
    local one = tmp .. "/one"
    profile(one, "-I", "0", "-e", "task-clock", "--", T.workload("mix"), "1", "1")
    local _, err, code = T.autoperf("diff", a, one)
    assert.are.equal(1, code)
    assert.truthy(err:find("1 repetition: a test needs at least 2 per side (profile with -r 5)", 1, true), err)
  end)
end)

describe("analyze -e", function()
  it("keeps a name with commas inside pmu/.../ whole, as profile -e does", function()
    local tmp = T.tmpdir()
    local dir = tmp .. "/synth"
    -- every tenth synthetic event is named like cpu/event=0x0,umask=0xa/
    assert(require("autoperf.synth").profile(dir, 20, 10, 1, 2))
    local out, err, code = T.autoperf("analyze", "correlation", dir, "-e", "cpu/event=0x0,umask=0xa/,synth_event_0001")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("correlation of 2 events", 1, true), out)
    assert.truthy(out:find("cpu/event=0x0,umask=0xa/  ~  synth_event_0001", 1, true), out)
    _, err, code = T.autoperf("analyze", "detail", dir, "-e", "cpu/event=0x0,umask=0xa")
    assert.are.equal(2, code)
    assert.truthy(err:find("'/' without its closing '/'", 1, true), err)
    T.rmtree(tmp)
  end)
end)
