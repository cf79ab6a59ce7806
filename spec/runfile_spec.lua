local cjson = require "cjson"
local core = require "autoperf.core"
local aggregate = require "autoperf.aggregate"
local store = require "autoperf.store"
local synth = require "autoperf.synth"
local T = require "spec.support"

-- Two cpus and a per-task event (cpu -1); names with a comma and quotes;
-- "old" is superseded (skipped); the second sample's time ends in 500 ns.
local RUN = table.concat({
  "#autoperf-run 1 1",
  "#event 1 cpu cycles",
  "#event 2 cpu cpu/event=0x3c,umask=0x0/",
  "#event 3 tracepoint say \"hi\"",
  "#event 4 cpu old",
  core.RUN_COLUMNS,
  "0,1000000,0,1,100,1000,1000",
  "0,1000000,1,1,50,1000,900",
  "0,1000000,0,2,7,1000,1000",
  "0,1000000,-1,3,1,1000,1000",
  "0,1000000,0,4,5,1000,1000",
  "1,2000500,0,1,250,2000,2000",
  "1,2000500,1,1,50,2000,1800",
  "1,2000500,0,2,9,2000,2000",
  "1,2000500,-1,3,4,2000,2000",
  "1,2000500,0,4,6,2000,2000",
  "#end rows=10",
}, "\n") .. "\n"

local ROWS = table.concat({
  "cycles,10,5.001000,0,0,0,0,cpu,100",
  "cycles,10,5.001000,1,3,1,1,cpu,50",
  "\"cpu/event=0x3c,umask=0x0/\",10,5.001000,0,0,0,0,cpu,7",
  "\"say \"\"hi\"\"\",10,5.001000,-1,-1,-1,-1,tracepoint,1",
  "cycles,11,5.002001,0,0,0,0,cpu,150",
  "cycles,11,5.002001,1,3,1,1,cpu,0",
  "\"cpu/event=0x3c,umask=0x0/\",11,5.002001,0,0,0,0,cpu,2",
  "\"say \"\"hi\"\"\",11,5.002001,-1,-1,-1,-1,tracepoint,3",
}, "\n") .. "\n"

local TOPO = { [0] = { socket = 0, core = 0, node = 0 }, [1] = { socket = 1, core = 3, node = 1 } }

local function put(path, s, gz)
  if gz then
    local w = assert(core.writer(path, true))
    w:write(s)
    assert(w:commit())
  else
    local f = assert(io.open(path, "wb"))
    f:write(s)
    f:close()
  end
  return path
end

-- Aggregates one run file into out; returns the result and out's bytes.
local function agg(path, out, opts)
  local w = assert(core.writer(out))
  local r, err = core.aggregate_run(path, w, opts)
  if not r then
    w:abort()
    return nil, err
  end
  assert(w:commit())
  return r, T.slurp(out)
end

-- An output directory holding the given run files (repetitions of run 1).
local function profile(dir, runs)
  local manifest = {
    tool = "autoperf", command = { "x" }, key = {},
    machine = { cpus = { { cpu = 0, socket = 0, core = 0, node = 0 }, { cpu = 1, socket = 1, core = 3, node = 1 } } },
  }
  put(dir .. "/manifest.json", cjson.encode(manifest))
  local journal = {}
  for rep, s in ipairs(runs) do
    local file = store.run_file(1, rep)
    put(dir .. "/" .. file, s, true)
    journal[#journal + 1] = cjson.encode({ run = 1, rep = rep, file = file })
  end
  put(dir .. "/journal.jsonl", table.concat(journal, "\n") .. "\n")
end

describe("run files in C", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  for _, gz in ipairs({ false, true }) do
    it("aggregates a " .. (gz and "gzip" or "plain") .. " run file to exact rows: deltas, topology, offsets, quoting, skips", function()
      local path = put(dir .. "/run.csv" .. (gz and ".gz" or ""), RUN, gz)
      local r, out = agg(path, dir .. "/out.csv",
        { skip = { old = true }, topo = TOPO, index_offset = 10, time_offset = 5000000000 })
      assert.equal(ROWS, out)
      assert.same({
        { tag = 1, name = "cycles", unit = "cpu", total = 300, enabled = 4000, running = 3800 },
        { tag = 2, name = "cpu/event=0x3c,umask=0x0/", unit = "cpu", total = 9, enabled = 2000, running = 2000 },
        { tag = 3, name = "say \"hi\"", unit = "tracepoint", total = 4, enabled = 2000, running = 2000 },
      }, r.events)
      assert.same({ 1, 2000500, 8 }, { r.max_index, r.max_time, r.rows })
    end)
  end

  it("writes -1 for cpus the topology does not know, and no total for events without rows", function()
    local path = put(dir .. "/run.csv", "#event 1 cpu a\n#event 2 cpu b\n0,7,5,1,3,4,4\n#end rows=1\n")
    local r, out = agg(path, dir .. "/out.csv", { topo = TOPO })
    assert.equal("a,0,0.000000,-1,-1,5,-1,cpu,3\n", out)
    assert.same({ 0, 7, 1 }, { r.max_index, r.max_time, r.rows })
    assert.is_nil(r.events[2].total)
    assert.equal("b", r.events[2].name)
  end)

  it("rounds TIME half up to the microsecond with integer arithmetic", function()
    local path = put(dir .. "/run.csv", "#event 1 cpu a\n0,1499,-1,1,1,1,1\n1,1500,-1,1,1,1,1\n" ..
      "2,2500,-1,1,1,1,1\n3,9223372036854775807,-1,1,1,1,1\n#end rows=4\n")
    local _, out = agg(path, dir .. "/out.csv")
    local times = {}
    for line in out:gmatch("[^\n]+") do times[#times + 1] = line:match("^a,%d+,([%d.]+),") end
    assert.same({ "0.000001", "0.000002", "0.000003", "9223372036.854776" }, times)
  end)

  it("keeps counter values up to 2^63-1 exact and refuses larger ones", function()
    local path = put(dir .. "/run.csv", "#event 1 cpu a\n0,1,0,1,9223372036854775000,1,1\n" ..
      "1,2,0,1,9223372036854775807,1,1\n#end rows=2\n")
    local r, out = agg(path, dir .. "/out.csv")
    assert.equal("a,0,0.000000,-1,-1,0,-1,cpu,9223372036854775000\na,1,0.000000,-1,-1,0,-1,cpu,807\n", out)
    assert.equal(math.maxinteger, r.events[1].total)
    path = put(dir .. "/big.csv", "#event 1 cpu a\n0,1,0,1,18446744073709551615,1,1\n#end rows=1\n")
    local r2, err = agg(path, dir .. "/out2.csv")
    assert.is_nil(r2)
    assert.equal(path .. ":2: number out of range: 0,1,0,1,18446744073709551615,1,1", err)
  end)

  -- Each edit of RUN and the exact message it must produce.
  local bad = {
    { "an unknown header line", function(s) return (s:gsub("\n", "\n#bogus\n", 1)) end, ":2: unknown header line" },
    { "a row for an undeclared tag", function(s) return (s:gsub("\n0,1000000,1,1,", "\n0,1000000,1,9,")) end,
      ":8: row for undeclared event tag 9" },
    { "samples out of order", function(s) return (s:gsub("\n1,2000500,0,1,", "\n0,2000500,0,1,")) end,
      ":12: samples out of order or counter went backwards" },
    { "a counter going backwards", function(s) return (s:gsub("\n1,2000500,0,2,9,", "\n1,2000500,0,2,6,")) end,
      ":14: samples out of order or counter went backwards" },
    { "a row of 3 fields", function(s) return (s:gsub("\n1,2000500,%-1,3,4,2000,2000\n", "\n1,2,3\n")) end,
      ":15: expected 7 integer fields, got: 1,2,3" },
    { "a row with a letter", function(s) return (s:gsub("\n1,2000500,%-1,3,4,", "\n1,2000500,-1,3,4x,")) end,
      ":15: expected 7 integer fields, got: 1,2000500,-1,3,4x,2000,2000" },
    { "an empty line", function(s) return (s:gsub("\n1,2000500,%-1,3,4,2000,2000\n", "\n\n")) end,
      ":15: expected 7 integer fields, got: " },
    { "a number beyond int64", function(s) return (s:gsub("\n1,2000500,", "\n99999999999999999999,2000500,", 1)) end,
      ":12: number out of range: 99999999999999999999,2000500,0,1,250,2000,2000" },
    { "a cpu below -1", function(s) return (s:gsub("\n0,1000000,%-1,", "\n0,1000000,-2,")) end,
      ":10: number out of range: 0,1000000,-2,3,1,1000,1000" },
    { "an end marker with the wrong count", function(s) return (s:gsub("rows=10", "rows=11")) end,
      ":17: end marker says 11 rows, file has 10" },
    { "data after the end marker", function(s) return s .. "2,3000000,0,1,300,3000,3000\n" end,
      ":18: data after the end marker" },
    { "no end marker", function(s) return (s:gsub("#end rows=10\n", "")) end,
      ":16: file ends here without its end marker (cut short)" },
    { "a last line without newline", function(s) return (s:gsub("\n#end rows=10\n", "\n#end rows=10")) end,
      ":17: line has no end (file cut short)" },
  }

  for _, case in ipairs(bad) do
    local what, edit, msg = case[1], case[2], case[3]
    it("refuses " .. what .. " naming file and line, and leaves no results.csv", function()
      local s = edit(RUN)
      local path = put(dir .. "/run.csv", s)
      local n, err = core.read_run(path, function() end, function() end)
      assert.is_nil(n)
      assert.equal(path .. msg, err)
      local r, aerr = agg(path, dir .. "/out.csv")
      assert.is_nil(r)
      assert.equal(path .. msg, aerr)
      assert.is_nil(io.open(dir .. "/out.csv"))
      assert.is_nil(io.open(dir .. "/out.csv.tmp"))
      -- through `autoperf aggregate`'s path: a profile whose second
      -- repetition is bad (the first one's rows are already written)
      local p = dir .. "/p"
      assert(core.mkdir(p))
      profile(p, { RUN, s })
      local ar, perr = aggregate.aggregate(p)
      assert.is_nil(ar)
      assert.equal(p .. "/run-001-02.csv.gz" .. msg, perr)
      assert.is_nil(io.open(p .. "/results.csv"))
      assert.is_nil(io.open(p .. "/results.csv.tmp"))
    end)
  end

  it("accepts any comment as line 1, #autoperf-run lines and the column header anywhere", function()
    local path = put(dir .. "/run.csv", "#whatever\n#event 1 cpu a\n" .. core.RUN_COLUMNS .. "\n0,1,0,1,1,1,1\n" ..
      core.RUN_COLUMNS .. "\n#autoperf-run 1 2\n1,2,0,1,1,1,1\n#end rows=2\n")
    assert.equal(2, core.read_run(path, function() end, function() end))
  end)

  it("reports a truncated gzip stream with its line", function()
    local path = put(dir .. "/run.csv.gz", RUN, true)
    local raw = T.slurp(path)
    put(path, raw:sub(1, #raw - 30))
    local r, err = agg(path, dir .. "/out.csv")
    assert.is_nil(r)
    assert.matches("^" .. path:gsub("%p", "%%%0") .. ":%d+: ", err)
    assert.is_nil(io.open(dir .. "/out.csv"))
  end)

  it("names a missing file", function()
    local n, err, errno = core.read_run(dir .. "/nope.csv", function() end, function() end)
    assert.is_nil(n)
    assert.equal(dir .. "/nope.csv: No such file or directory", err)
    assert.equal(core.errno.ENOENT, errno)
  end)

  it("calls back per declaration and row, and passes an error raised there on after closing the file", function()
    local path = put(dir .. "/run.csv.gz", RUN, true)
    local evs, rows = {}, {}
    assert.equal(10, core.read_run(path, function(tag, unit, name) evs[#evs + 1] = { tag, unit, name } end,
      function(...) rows[#rows + 1] = { ... } end))
    assert.same({ 3, "tracepoint", "say \"hi\"" }, evs[3])
    assert.same({ 1, 2000500, 1, 1, 50, 2000, 1800 }, rows[7])
    T.raises_closing("boom", core.read_run, path, function() end, function() error("boom") end)
  end)
end)

describe("the profile reader", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  -- Two repetitions of run 1: rep 2 counts twice what rep 1 does.
  local function two_reps()
    local rep2 = RUN:gsub("\n(%d+),(%d+),(%-?%d+),(%d+),(%d+),", function(i, t, c, g, v)
      return string.format("\n%s,%s,%s,%s,%d,", i, t, c, g, 2 * tonumber(v))
    end)
    return {
      { path = put(dir .. "/r1.csv", RUN), run = 1, rep = 1, skip = { old = true } },
      { path = put(dir .. "/r2.csv", rep2), run = 1, rep = 2 },
    }
  end

  it("writes the rows of every file on one timeline and sums each event over the repetitions", function()
    local w = assert(core.writer(dir .. "/out.csv"))
    local r = assert(core.aggregate(two_reps(), w, { topo = TOPO }))
    assert(w:commit())
    assert.equal(8 + 10, r.rows)
    local cycles, old = r.events[1], r.events[4]
    assert.same({ "cycles", 2, 300 + 600, 300, 600 }, { cycles.name, cycles.reps, cycles.total, cycles.min, cycles.max })
    assert.same({ "old", 1, 12 }, { old.name, old.reps, old.total }) -- superseded in rep 1 only
    -- rep 2 starts at INDEX 2, TIME where rep 1 ended
    assert.truthy(T.slurp(dir .. "/out.csv"):find("\ncycles,2,0.003001,0,0,0,0,cpu,200\n", 1, true))
  end)

  it("builds ap.read's points per file and passes the event filter's error on after closing the files", function()
    local files = two_reps()
    local got = assert(core.read_profile(files, { per_cpu = true, want = function(n) return n ~= "say \"hi\"" end }))
    assert.equal(2, #got)
    local c = got[2].events[1]
    assert.same({ "cycles", 600, true }, { c.name, c.total, c.flagged })
    assert.same({ { index = 0, time = 0.001, value = 300 }, { index = 1, time = 0.0020005, value = 300 } }, c.series)
    assert.same({ { index = 0, time = 0.001, value = 100 }, { index = 1, time = 0.0020005, value = 0 } }, c.cpu_series[1])
    for _, e in ipairs(got[1].events) do assert.are_not.equal("say \"hi\"", e.name) end
    T.raises_closing("boom", core.read_profile, files, { want = function() error("boom") end })
  end)
end)

describe("synth", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("makes a profile directory that aggregate reads, the same for the same seed", function()
    local p = assert(synth.profile(dir .. "/a", 12, 4, 2, 3, 7))
    assert.equal(12 * 4 * 2 * 3, p.rows)
    assert(synth.profile(dir .. "/b", 12, 4, 2, 3, 7))
    assert.equal(T.slurp(dir .. "/a/run-001-02.csv.gz"), T.slurp(dir .. "/b/run-001-02.csv.gz"))
    local r = assert(aggregate.aggregate(dir .. "/a"))
    assert.equal(12 * 4 * 2 * 3, r.rows)
    assert.equal(12, r.events)
    local results = T.slurp(r.results)
    assert.truthy(results:find('\n"cpu/event=0x0,umask=0xa/",11,', 1, true))
    -- the last repetition continues the timeline: 2 x 4 intervals before it
    assert.truthy(results:find("\nsynth_event_0001,8,", 1, true))
    local sum = T.csv(r.summary)
    assert.same({ "synth_event_0001", "cpu", "ok", "3" }, { sum[2][1], sum[2][2], sum[2][3], sum[2][4] })
  end)
end)
