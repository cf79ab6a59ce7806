local cjson = require "cjson"
local core = require "autoperf.core"
local aggregate = require "autoperf.aggregate"
local store = require "autoperf.store"
local util = require "autoperf.util"
local T = require "spec.support"

-- A hand-made output directory: two cpus' topology, one run with two
-- repetitions of two events sampled three times (raw cumulative values).
local function fixture(dir, opts)
  opts = opts or {}
  local manifest = {
    tool = "autoperf", command = { "x" }, key = {},
    machine = { cpus = { { cpu = 0, socket = 0, core = 0, node = 0 }, { cpu = 1, socket = 1, core = 5, node = 1 } } },
    events = { { name = "a", unit = "software" }, { name = "b:c", unit = "tracepoint" }, { name = "z:z", unit = "tracepoint" } },
    refused = { { name = "z:z", error = "Operation not permitted" } },
  }
  local f = assert(io.open(dir .. "/manifest.json", "w"))
  f:write(cjson.encode(manifest))
  f:close()
  local journal = {}
  for rep = 1, 2 do
    local name = store.run_file(1, rep)
    local w = assert(core.writer(dir .. "/" .. name, true))
    local cpu = opts.cpu or -1
    w:write(string.format("#autoperf-run 1 %d\n#event 1 software a\n#event 2 tracepoint b:c\n", rep))
    w:write(core.RUN_COLUMNS, "\n")
    local rows = 0
    for i = 0, 2 do
      w:write(string.format("%d,%d,%d,1,%d,%d,%d\n", i, (i + 1) * 100000000, cpu, 10 * (i + 1) * rep, (i + 1) * 100, (i + 1) * 100))
      w:write(string.format("%d,%d,%d,2,%d,%d,%d\n", i, (i + 1) * 100000000, cpu, (i + 1) * (i + 1), (i + 1) * 100, (i + 1) * 100))
      rows = rows + 2
    end
    w:write(string.format("#end rows=%d\n", rows))
    assert(w:commit())
    journal[#journal + 1] = cjson.encode({ run = 1, rep = rep, file = name })
  end
  f = assert(io.open(dir .. "/journal.jsonl", "w"))
  f:write(table.concat(journal, "\n"), "\n")
  f:close()
end

local function rewrite_run(dir, edit)
  local path = dir .. "/" .. store.run_file(1, 1)
  local lines = T.gz_lines(path)
  local w = assert(core.writer(path, true))
  w:write(edit(table.concat(lines, "\n") .. "\n"))
  assert(w:commit())
  return path
end

describe("aggregate", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("writes results.csv with the original columns and per-interval deltas", function()
    fixture(dir)
    local r = assert(aggregate.aggregate(dir))
    assert.equal(dir .. "/results.csv", r.results)
    local rows = T.csv(r.results)
    assert.same({ "EVENT_NAME", "INDEX", "TIME", "SOCKET", "CORE", "CPU", "NODE", "UNIT", "SAMPLE_VALUE" }, rows[1])
    assert.same({ "a", "0", "0.100000", "-1", "-1", "-1", "-1", "software", "10" }, rows[2])
    assert.same({ "b:c", "2", "0.300000", "-1", "-1", "-1", "-1", "tracepoint", "5" }, rows[7])
    -- repetition 2 continues the timeline
    assert.same({ "a", "3", "0.400000", "-1", "-1", "-1", "-1", "software", "20" }, rows[8])
    assert.equal(13, #rows)
    assert.equal(30 + 60, T.event_total(r.results, "a"))
    assert.equal(9 + 9, T.event_total(r.results, "b:c"))
  end)

  it("maps cpus to their socket, core and node", function()
    fixture(dir, { cpu = 1 })
    local r = assert(aggregate.aggregate(dir))
    local rows = T.csv(r.results)
    assert.same({ "1", "5", "1", "1" }, { rows[2][4], rows[2][5], rows[2][6], rows[2][7] })
  end)

  it("summarizes each event over repetitions and lists refused ones", function()
    fixture(dir)
    local r = assert(aggregate.aggregate(dir))
    local rows = T.csv(r.summary)
    assert.same({ "EVENT_NAME", "UNIT", "STATUS", "REPETITIONS", "TOTAL", "MEAN", "MIN", "MAX",
                  "TIME_ENABLED_NS", "TIME_RUNNING_NS" }, rows[1])
    assert.same({ "a", "software", "ok", "2", "90", "45", "30", "60", "600", "600" }, rows[2])
    assert.same({ "b:c", "tracepoint", "ok", "2", "18", "9", "9", "9", "600", "600" }, rows[3])
    assert.equal("z:z", rows[4][1])
    assert.equal("refused: Operation not permitted", rows[4][3])
    assert.equal(1, r.refused)
  end)

  it("flags events whose running time is below the enabled time", function()
    fixture(dir)
    rewrite_run(dir, function(s) return (s:gsub("\n(2,%d+,%-1,1,%d+,300),300\n", "\n%1,250\n")) end)
    local r = assert(aggregate.aggregate(dir))
    assert.equal(1, r.flagged)
    local rows = T.csv(r.summary)
    assert.matches("^flagged", rows[2][3])
  end)

  -- The manifest says "a" of run 1 was re-measured in run 2.
  local function replan_a(dir)
    local m = cjson.decode(T.slurp(dir .. "/manifest.json"))
    m.replanned = { { name = "a", from_run = 1, to_run = 2, why = "not counted all the time" } }
    local f = assert(io.open(dir .. "/manifest.json", "w"))
    f:write(cjson.encode(m))
    f:close()
  end

  it("counts a re-measured event from its new run only", function()
    fixture(dir)
    -- run 1 flagged "a"; run 2 measured it again, fully
    replan_a(dir)
    local w = assert(core.writer(dir .. "/run-002-01.csv.gz", true))
    w:write("#autoperf-run 2 1\n#event 1 software a\n", core.RUN_COLUMNS, "\n",
      "0,100000000,-1,1,7,100,100\n#end rows=1\n")
    assert(w:commit())
    local f = assert(io.open(dir .. "/journal.jsonl", "a"))
    f:write(cjson.encode({ run = 2, rep = 1, file = "run-002-01.csv.gz" }), "\n")
    f:close()
    local r = assert(aggregate.aggregate(dir))
    assert.equal(7, T.event_total(r.results, "a"))
    assert.equal(18, T.event_total(r.results, "b:c"))
    local a = T.csv_row(T.csv(r.summary), "a")
    assert.same({ "a", "software", "ok", "1", "7" }, { a[1], a[2], a[3], a[4], a[5] })
    assert.equal(0, r.flagged)
  end)

  it("keeps an event's first counts while its re-measurement has not run (aggregate, read, analyze)", function()
    fixture(dir)
    replan_a(dir)
    -- run 2 never completed: "a" counts from run 1 everywhere
    local r = assert(aggregate.aggregate(dir))
    assert.equal(30 + 60, T.event_total(r.results, "a"))
    local res = assert(require("autoperf.result").read(dir))
    assert.same({ 30, 60 }, { res:total("a", 1), res:total("a", 2) })
    local s = assert(require("autoperf.analyze").stats(dir, { output = dir .. "/an" }))
    local a
    for _, row in ipairs(s.rows) do
      if row.name == "a" then a = row end
    end
    assert.same({ 2, 90 }, { a.reps, a.total })
  end)

  it("compresses when the output name ends in .gz", function()
    fixture(dir)
    local r = assert(aggregate.aggregate(dir, { output = dir .. "/all.csv.gz" }))
    local rd = assert(core.reader(r.results))
    assert.equal("EVENT_NAME,INDEX,TIME,SOCKET,CORE,CPU,NODE,UNIT,SAMPLE_VALUE", rd:read())
    rd:close()
    local raw = T.slurp(r.results)
    assert.equal("\31\139", raw:sub(1, 2))
  end)

  local function refuses(edit, pattern)
    fixture(dir)
    local path = rewrite_run(dir, edit)
    local r, err = aggregate.aggregate(dir)
    assert.is_nil(r)
    assert.matches(path:gsub("%p", "%%%0") .. ":%d+: .-" .. pattern, err)
    assert.is_false(T.slurp(dir .. "/results.csv"):find("EVENT_NAME", 1, true) ~= nil and
      #T.csv(dir .. "/results.csv") < 13, "a half-written results.csv was left")
    return err
  end

  it("names file and line of a run file cut short", function()
    local err = refuses(function(s) return (s:gsub("#end rows=6\n", "")) end, "file ends here without its end marker")
    assert.matches(":10: ", err)
  end)

  it("names file and line of a malformed row", function()
    local err = refuses(function(s) return (s:gsub("\n1,200000000,%-1,1,", "\n1,2000x0000,-1,1,", 1)) end,
      "expected 7 integer fields")
    assert.matches(":7: ", err)
  end)

  it("names file and line of a row for an undeclared event", function()
    refuses(function(s) return (s:gsub("\n(1,200000000,%-1,)1,", "\n%19,", 1)) end, "undeclared event tag 9")
  end)

  it("refuses counters that go backwards", function()
    refuses(function(s) return (s:gsub("\n(1,200000000,%-1,1,)20,", "\n%11,", 1)) end, "went backwards")
  end)

  it("refuses a row count that disagrees with the end marker", function()
    refuses(function(s) return (s:gsub("#end rows=6", "#end rows=7")) end, "end marker says 7 rows")
  end)

  it("reports a truncated gzip stream with its line", function()
    fixture(dir)
    local path = dir .. "/" .. store.run_file(1, 1)
    local raw = T.slurp(path)
    local f = assert(io.open(path, "wb"))
    f:write(raw:sub(1, #raw - 30))
    f:close()
    local r, err = aggregate.aggregate(dir)
    assert.is_nil(r)
    assert.matches(path:gsub("%p", "%%%0") .. ":%d+: ", err)
  end)

  it("refuses a corrupt journal naming its line", function()
    fixture(dir)
    local f = assert(io.open(dir .. "/journal.jsonl", "a"))
    f:write("{not json\n")
    f:close()
    local r, err = aggregate.aggregate(dir)
    assert.is_nil(r)
    assert.matches("journal%.jsonl:3: not valid JSON", err)
  end)

  it("explains a directory that is not a profile", function()
    local r, err = aggregate.aggregate(dir)
    assert.is_nil(r)
    assert.matches("not an autoperf output directory", err)
    local r2, err2 = aggregate.aggregate(dir .. "/missing")
    assert.is_nil(r2)
    assert.matches("no such directory", err2)
  end)
end)

-- Many run files read ahead on worker threads (core/reader.c) against the
-- same files read in line (AUTOPERF_READ_THREADS=1, what one cpu does).
describe("aggregate reading run files ahead in parallel", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  -- Three runs of four repetitions, files of 2000 to 48000 rows (the
  -- largest beyond what a worker may queue, so it waits for the reader);
  -- event 3 was re-measured: run 1's counts of it are left out.
  local function profile()
    local files, journal, n = {}, {}, 0
    for run = 1, 3 do
      for rep = 1, 4 do
        n = n + 1
        local file = store.run_file(run, rep)
        local events = ({ 10, 120, 40 })[run]
        assert(core.synth_run(dir .. "/" .. file, run, rep, events, 50 * (1 + n % 4), 2, 100 * run + rep))
        files[#files + 1] = dir .. "/" .. file
        journal[#journal + 1] = cjson.encode({ run = run, rep = rep, file = file })
      end
    end
    local evs = {}
    for tag = 1, 120 do evs[tag] = { name = core.synth_event_name(tag), unit = "cpu" } end
    local m = {
      tool = "autoperf", command = { "x" }, key = {}, events = evs,
      machine = { cpus = { { cpu = 0, socket = 0, core = 0, node = 0 }, { cpu = 1, socket = 0, core = 0, node = 0 } } },
      replanned = { { name = core.synth_event_name(3), from_run = 1, to_run = 2, why = "not counted all the time" } },
    }
    T.write(dir .. "/manifest.json", cjson.encode(m))
    T.write(dir .. "/journal.jsonl", table.concat(journal, "\n"), "\n")
    return files
  end

  -- `autoperf aggregate` with that many reading threads: its output files
  -- (nil when it wrote none), stderr and exit code.
  local function aggregate_with(threads)
    os.remove(dir .. "/results.csv")
    os.remove(dir .. "/summary.csv")
    local _, err, code = T.sh(string.format("AUTOPERF_READ_THREADS=%d %s aggregate %s", threads,
      T.quote(T.bin), T.quote(dir)))
    -- (each read_file call gives one value here: the file or nil)
    return util.read_file(dir .. "/results.csv"), util.read_file(dir .. "/summary.csv"), err, code
  end

  it("writes the same results.csv and summary.csv as reading the files one after another", function()
    profile()
    local results, summary, err, code = aggregate_with(1)
    assert.equal(0, code, err)
    -- run 1 left out the re-measured event: runs 2 and 3 count it
    assert.matches("\n" .. core.synth_event_name(3) .. ",cpu,ok,8,", summary)
    assert.matches("\n" .. core.synth_event_name(2) .. ",cpu,ok,12,", summary)
    -- (10 + 120 + 40 events) x 500 samples x 2 cpus, less run 1's event 3
    assert.equal(170000 - 1000 + 1, select(2, results:gsub("\n", "")))
    for _, threads in ipairs({ 2, 4, 8 }) do
      local r2, s2, err2, code2 = aggregate_with(threads)
      assert.equal(0, code2, err2)
      assert.is_true(r2 == results, threads .. " threads: results.csv differs")
      assert.equal(summary, s2)
    end
  end)

  it("reports a corrupt file in the middle as reading in line does, and writes nothing", function()
    local files = profile()
    -- bytes in the middle of file 6's deflate stream flipped; file 9 is
    -- corrupt too, and read ahead: the first one in order is reported
    for _, i in ipairs({ 6, 9 }) do
      local raw = T.slurp(files[i])
      local at = #raw // 2
      local f = assert(io.open(files[i], "wb"))
      f:write(raw:sub(1, at), string.rep("\255", 64), raw:sub(at + 65))
      f:close()
    end
    local r1, s1, err1, code1 = aggregate_with(1)
    assert.is_not.equal(0, code1)
    assert.matches(files[6]:gsub("%p", "%%%0") .. ":%d+: ", err1)
    assert.is_nil(r1)
    assert.is_nil(s1)
    for _, threads in ipairs({ 2, 4 }) do
      local r2, s2, err2, code2 = aggregate_with(threads)
      assert.same({ code1, err1 }, { code2, err2 })
      assert.is_nil(r2)
      assert.is_nil(s2)
    end
    -- in this process (one worker per cpu): no descriptor or thread left
    local function count(d) return #assert(core.listdir(d)) end
    local fds, tasks = T.open_fds(), count("/proc/self/task")
    for _ = 1, 3 do
      local r, err = aggregate.aggregate(dir)
      assert.is_nil(r)
      assert.equal(err1:match("^autoperf: (.-)\n$"), err)
    end
    -- (a joined thread's /proc/self/task entry goes when the kernel
    -- reaps it, a moment after pthread_join returns)
    for _ = 1, 100 do
      if count("/proc/self/task") == tasks then break end
      core.sleep_ms(10)
    end
    assert.same({ fds, tasks }, { T.open_fds(), count("/proc/self/task") })
  end)

  it("reports a file cut short in the middle as reading in line does", function()
    local files = profile()
    local raw = T.slurp(files[7])
    local f = assert(io.open(files[7], "wb"))
    f:write(raw:sub(1, #raw * 2 // 3))
    f:close()
    local _, _, err1, code1 = aggregate_with(1)
    assert.is_not.equal(0, code1)
    assert.matches(files[7]:gsub("%p", "%%%0") .. ":%d+: ", err1)
    for _, threads in ipairs({ 2, 4 }) do
      local r2, _, err2, code2 = aggregate_with(threads)
      assert.same({ code1, err1 }, { code2, err2 })
      assert.is_nil(r2)
    end
  end)
end)

describe("store", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("creates the directory, resumes the same profile and refuses another", function()
    local m = { key = { command = { "a" } }, command = { "a" } }
    local s = assert(store.open(dir .. "/out", m))
    assert(s:complete({ run = 1, rep = 1, file = "run-001-01.csv.gz" }))
    local again = assert(store.open(dir .. "/out", { key = { command = { "a" } }, command = { "a" } }))
    assert.is_true(again:is_done(1, 1))
    assert.is_false(again:is_done(1, 2))
    local other, err = store.open(dir .. "/out", { key = { command = { "b" } }, command = { "b" } })
    assert.is_nil(other)
    assert.matches("%-%-force", err)
    local forced = assert(store.open(dir .. "/out", { key = { command = { "b" } }, command = { "b" } }, { force = true }))
    assert.is_false(forced:is_done(1, 1))
  end)

  it("refuses a non-empty directory that is not a profile", function()
    local f = assert(io.open(dir .. "/precious.txt", "w"))
    f:write("x")
    f:close()
    local s, err = store.open(dir, { key = {} })
    assert.is_nil(s)
    assert.matches("not an autoperf output directory", err)
    assert.equal("x", T.slurp(dir .. "/precious.txt"))
  end)

  it("starts afresh in a directory left with only a temporary manifest", function()
    -- what a SIGKILL between mkdir and the first manifest leaves behind
    local f = assert(io.open(dir .. "/manifest.json.tmp", "w"))
    f:write("{\"key\":")
    f:close()
    local s = assert(store.open(dir, { key = { command = { "a" } }, command = { "a" } }))
    assert.is_false(s:is_done(1, 1))
    assert.is_nil(io.open(dir .. "/manifest.json.tmp"))
    assert.truthy(io.open(dir .. "/manifest.json"))
  end)
end)
