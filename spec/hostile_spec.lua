-- autoperf runs as root in directories other users own, on profiles that
-- may be damaged or tampered with, and on disks that fill up or are
-- mounted read-only. Each class: one clear line naming the file (and
-- line), exit 1, bounded time, nothing written outside the directory.
local cjson = require "cjson"
local core = require "autoperf.core"
local result = require "autoperf.result"
local synth = require "autoperf.synth"
local T = require "spec.support"

local q = T.quote

local lines = T.lines

local function put(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- The lines of a (gzip) run file, and writing them back.
local run_lines = T.gz_lines

local function put_run(path, ls)
  local w = assert(core.writer(path, true))
  w:write(table.concat(ls, "\n"), "\n")
  assert(w:commit())
end

local journal = T.journal

local function put_journal(dir, entries)
  local out = {}
  for i, e in ipairs(entries) do out[i] = type(e) == "string" and e or cjson.encode(e) end
  put(dir .. "/journal.jsonl", table.concat(out, "\n") .. "\n")
end

local function edit_journal(dir, fn)
  local j = journal(dir)
  fn(j)
  put_journal(dir, j)
end

local function edit_manifest(dir, fn)
  local m = cjson.decode(T.slurp(dir .. "/manifest.json"))
  fn(m)
  put(dir .. "/manifest.json", cjson.encode(m))
end

-- A real profile of two repetitions, made once and copied for each test.
local tmp, base
local function fresh(name)
  local d = tmp .. "/" .. name
  os.execute("rm -rf " .. q(d) .. " && cp -a " .. q(base) .. " " .. q(d))
  return d
end

local function is_root()
  return T.sh("id -u") == "0\n"
end

local function one_line_error(out, err, code, pattern, what)
  assert.equal(1, code, what .. ": " .. out .. err)
  assert.equal(1, #lines(err), what .. ": " .. err)
  assert.is_nil(err:find("internal error", 1, true), what .. ": " .. err)
  assert.truthy(err:find(pattern), what .. ": '" .. err .. "' lacks " .. pattern)
end

lazy_setup(function()
  tmp = T.tmpdir()
  base = tmp .. "/base"
  -- per task (rows of CPU -1): the tampering below adds rows on CPUs 0 and 1
  local _, err, code = T.autoperf("profile", "-q", "-o", base, "-I", "10", "-r", "2", "-e", "task-clock,page-faults",
    "--counting", "task", "--", "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
  assert.equal(0, code, err)
end)

lazy_teardown(function() T.rmtree(tmp) end)

describe("planted links", function()
  it("aggregate replaces a planted results.csv link and never writes through a planted temporary name", function()
    local d = fresh("links1")
    put(tmp .. "/victim", "precious\n")
    put(tmp .. "/victim2", "precious too\n")
    assert(os.execute("ln -s " .. q(tmp .. "/victim") .. " " .. q(d .. "/results.csv")))
    assert(os.execute("ln -s " .. q(tmp .. "/victim2") .. " " .. q(d .. "/summary.csv.tmp")))
    local _, err, code = T.autoperf("aggregate", d)
    assert.equal(0, code, err)
    assert.equal("precious\n", T.slurp(tmp .. "/victim"))
    assert.equal("precious too\n", T.slurp(tmp .. "/victim2"))
    assert.equal("file", core.file_kind(d .. "/results.csv"))
    assert.equal("file", core.file_kind(d .. "/summary.csv"))
  end)

  it("analyze refuses a DIR/analysis planted as a link, writing nothing there", function()
    local d = fresh("links2")
    local target = tmp .. "/elsewhere"
    assert(os.execute("mkdir " .. q(target) .. " && ln -s " .. q(target) .. " " .. q(d .. "/analysis")))
    for _, args in ipairs({ { "stats" }, { "wide" }, { "detail", "-e", "task-clock" }, { "correlation" } }) do
      local out, err, code = T.autoperf("analyze", args[1], d, table.unpack(args, 2))
      one_line_error(out, err, code, "analysis is a symbolic link", args[1])
    end
    assert.same({}, core.listdir(target))
  end)

  it("gnuplot never draws through a name planted in the analysis directory", function()
    if select(3, T.sh("command -v gnuplot")) ~= 0 then return pending("gnuplot is not installed") end
    local d = fresh("links3")
    put(tmp .. "/victim3", "precious\n")
    assert(os.execute("mkdir " .. q(d .. "/analysis")))
    assert(os.execute("ln -s " .. q(tmp .. "/victim3") .. " " .. q(d .. "/analysis/task-clock.png.tmp")))
    assert(os.execute("ln -s " .. q(tmp .. "/victim3") .. " " .. q(d .. "/analysis/task-clock.png")))
    local _, err, code = T.autoperf("analyze", "detail", d, "-e", "task-clock")
    assert.equal(0, code, err)
    assert.equal("precious\n", T.slurp(tmp .. "/victim3"))
    assert.equal("file", core.file_kind(d .. "/analysis/task-clock.png"))
    assert.truthy(T.png(d .. "/analysis/task-clock.png"))
  end)

  it("names read from the journal never leave the profile directory", function()
    -- a victim that would read as a run file
    local victim = tmp .. "/victim.csv.gz"
    os.execute("cp " .. q(base .. "/run-001-01.csv.gz") .. " " .. q(victim))
    for _, c in ipairs({
      { "../victim.csv.gz", "not a plain name" },
      { victim, "not a plain name" },
      { "link", "symbolic link" },
    }) do
      local d = fresh("names")
      if c[1] == "link" then
        os.remove(d .. "/run-001-01.csv.gz")
        assert(os.execute("ln -s " .. q(victim) .. " " .. q(d .. "/run-001-01.csv.gz")))
      else
        local j = journal(d)
        j[1].file = c[1]
        put_journal(d, j)
      end
      for _, args in ipairs({ { "aggregate" }, { "analyze", "stats" }, { "analyze", "wide" } }) do
        local cmd = { table.unpack(args) }
        cmd[#cmd + 1] = d
        local out, err, code = T.autoperf(table.unpack(cmd))
        one_line_error(out, err, code, "journal%.jsonl:1: ", c[1] .. " " .. args[#args])
        assert.truthy(err:find(c[2], 1, true), err)
      end
      local r, rerr = result.read(d)
      assert.is_nil(r)
      assert.truthy(rerr:find("journal.jsonl:1: ", 1, true), rerr)
      assert.is_nil(io.open(d .. "/results.csv"))
    end
  end)

  it("a resumed profile never writes its run file through a planted temporary name", function()
    local d = tmp .. "/resume"
    local args = { "profile", "-q", "-o", d, "-I", "0", "-r", "2", "-e", "task-clock", "--", "true" }
    assert.equal(0, select(3, T.autoperf(table.unpack(args))))
    local j = journal(d)
    put_journal(d, { j[1] })
    os.remove(d .. "/run-001-02.csv.gz")
    put(tmp .. "/victim4", "precious\n")
    assert(os.execute("ln -s " .. q(tmp .. "/victim4") .. " " .. q(d .. "/run-001-02.csv.gz.tmp")))
    local _, err, code = T.autoperf(table.unpack(args))
    assert.equal(0, code, err)
    assert.equal("precious\n", T.slurp(tmp .. "/victim4"))
    assert.equal(2, #journal(d))
  end)
end)

describe("damaged or tampered profiles", function()
  local RUN = "run%-001%-01%.csv%.gz:"
  local function edit_run(d, fn)
    local path = d .. "/run-001-01.csv.gz"
    local ls = run_lines(path)
    fn(ls)
    put_run(path, ls)
  end
  -- the index of the first data row of a run file's lines
  local function first_row(ls)
    for i, l in ipairs(ls) do
      if l:match("^%d") then return i end
    end
  end
  local cases = {
    { "an event tag declared twice", RUN .. "%d+: event tag 1 declared twice", function(d)
      edit_run(d, function(ls) table.insert(ls, 3, "#event 1 software page-faults") end)
    end },
    { "an event name under two tags", RUN .. "%d+: event 'task%-clock' declared twice", function(d)
      edit_run(d, function(ls) table.insert(ls, 3, "#event 9 software task-clock") end)
    end },
    { "an event declared and never sampled", nil, function(d)
      edit_run(d, function(ls) table.insert(ls, 3, "#event 9 software lonely") end)
    end, true },
    { "a sample index far beyond the samples so far", RUN .. "%d+: sample index", function(d)
      edit_run(d, function(ls)
        local i = first_row(ls)
        ls[i] = ls[i]:gsub("^%d+", "1000000000000")
      end)
    end },
    { "counts that add up past 2^63", "more than 2%^63", function(d)
      edit_run(d, function(ls)
        local i = first_row(ls)
        local tag = ls[i]:match("^%d+,%d+,%-?%d+,(%d+),")
        local big = "9000000000000000000"
        ls[#ls] = nil -- the end marker
        local n = 0
        for k = first_row(ls), #ls do
          if ls[k]:match("^%d") then n = n + 1 end
        end
        ls[#ls + 1] = string.format("%d,1,0,%s,%s,1,1", 0, tag, big)
        ls[#ls + 1] = string.format("%d,1,1,%s,%s,1,1", 0, tag, big)
        ls[#ls + 1] = "#end rows=" .. (n + 2)
      end)
    end },
    { "a run file of one endless line (a gzip bomb)", RUN .. "%d+: line longer than", function(d)
      local f = d .. "/run-001-01.csv.gz"
      assert(os.execute(string.format("(printf '#autoperf-run 1 1\\n'; head -c 200000000 /dev/zero | tr '\\0' 1) " ..
        "| gzip -1 > %s.new && mv %s.new %s", q(f), q(f), q(f))))
    end },
    { "a garbage row", RUN .. "%d+: expected 7 integer fields", function(d)
      edit_run(d, function(ls) table.insert(ls, first_row(ls), "1,2,three") end)
    end },
    { "a FIFO in place of a run file", "run%-001%-01%.csv%.gz", function(d)
      os.remove(d .. "/run-001-01.csv.gz")
      assert(os.execute("mkfifo " .. q(d .. "/run-001-01.csv.gz")))
    end },
    { "a journal entry without its file", "journal%.jsonl:1: entry lacks", function(d)
      edit_journal(d, function(j) j[1].file = nil end)
    end },
    { "a journal entry of the wrong type", "journal%.jsonl:2: 'flagged' should be a list", function(d)
      edit_journal(d, function(j) j[2].flagged = 5 end)
    end },
    { "a journal entry twice", "journal%.jsonl:3: run 1 rep 1 again", function(d)
      edit_journal(d, function(j) j[3] = j[1] end)
    end },
    { "a repetition far beyond the journal", "journal%.jsonl:1: run 1 rep 100000000000", function(d)
      edit_journal(d, function(j) j[1].rep = 100000000000 end)
    end },
    { "a garbage journal line", "journal%.jsonl:2: not valid JSON", function(d)
      edit_journal(d, function(j) table.insert(j, 2, "}{") end)
    end },
    { "a manifest field of the wrong type", "manifest%.json:1: 'refused' should be a list", function(d)
      edit_manifest(d, function(m) m.refused = 5 end)
    end },
    { "a manifest entry missing its name", "manifest%.json:1: 'replanned%[1%]%.name' should be a string", function(d)
      edit_manifest(d, function(m) m.replanned = { { from_run = 1, to_run = 1 } } end)
    end },
    { "a manifest cpu of the wrong type", "manifest%.json:1: 'machine%.cpus%[1%]%.socket' should be an integer",
      function(d) edit_manifest(d, function(m) m.machine.cpus[1].socket = "zero" end) end },
    { "a manifest that is no object", "manifest%.json:1: 'manifest' should be an object", function(d)
      put(d .. "/manifest.json", "42\n")
    end },
    { "a manifest planted as a link (to a valid one elsewhere)", "manifest%.json: a symbolic link", function(d)
      assert(os.execute("mv " .. q(d .. "/manifest.json") .. " " .. q(d .. ".manifest") .. " && ln -s " ..
        q(d .. ".manifest") .. " " .. q(d .. "/manifest.json")))
    end },
    { "a journal planted as a FIFO", "journal%.jsonl: not a regular file", function(d)
      os.remove(d .. "/journal.jsonl")
      assert(os.execute("mkfifo " .. q(d .. "/journal.jsonl")))
    end },
    { "a journal too large to be one", "journal%.jsonl: too large", function(d)
      assert(os.execute("truncate -s 40M " .. q(d .. "/journal.jsonl")))
    end },
  }
  for _, c in ipairs(cases) do
    it(c[4] and ("accepts " .. c[1] .. " without a traceback, and lists it in the summary")
      or ("refuses " .. c[1] .. " in one line, in bounded time, writing no results.csv"), function()
      local d = fresh("damaged")
      c[3](d)
      for _, args in ipairs({ { "aggregate", d }, { "analyze", "stats", d }, { "analyze", "wide", d },
                              { "analyze", "correlation", d }, { "analyze", "detail", d, "-e", "task-clock" },
                              { "diff", base, d } }) do
        local t0 = core.now_ns()
        local cmd = { "timeout", "10", T.bin }
        for _, a in ipairs(args) do cmd[#cmd + 1] = a end
        local parts = {}
        for i, a in ipairs(cmd) do parts[i] = q(a) end
        local out, err, code = T.sh(table.concat(parts, " "))
        local what = c[1] .. ": " .. table.concat(args, " ", 1, 2)
        assert.truthy(core.now_ns() - t0 < 5e9, what .. " took too long")
        if c[4] then
          -- accepted: no traceback, and a summary that says so
          assert.is_nil(err:find("internal error", 1, true), what .. ": " .. err)
        else
          one_line_error(out, err, code, c[2], what)
        end
      end
      if c[4] then
        local found = T.csv_row(T.csv(d .. "/summary.csv"), "lonely")
        assert.truthy(found, "the lonely event is in the summary")
        assert.equal("0", found[4])
      else
        assert.is_nil(io.open(d .. "/results.csv"), "results.csv written")
        local r, err = result.read(d)
        assert.is_nil(r)
        assert.truthy(err:find(c[2]), err)
      end
    end)
  end

  it("never commits results.csv without its summary", function()
    local d = fresh("pair")
    -- the summary cannot be written: its temporary name is a directory
    assert(os.execute("mkdir -p " .. q(d .. "/summary.csv.tmp/x")))
    local out, err, code = T.autoperf("aggregate", d)
    one_line_error(out, err, code, "summary%.csv", "aggregate")
    assert.is_nil(io.open(d .. "/results.csv"))
    assert.is_nil(io.open(d .. "/results.csv.tmp"))
  end)
end)

describe("results.csv from other tools", function()
  local HEAD = "EVENT_NAME,INDEX,TIME,SOCKET,CORE,CPU,NODE,UNIT,SAMPLE_VALUE"
  local ROWS = { "a,0,0.1,0,0,0,0,cpu,5", "b,0,0.1,0,0,0,0,cpu,7", "a,1,0.2,0,0,0,0,cpu,6",
                 "b,1,0.2,0,0,0,0,cpu,9", "a,2,0.3,0,0,0,0,cpu,2", "b,2,0.3,0,0,0,0,cpu,3" }

  local function check(path, what)
    local out, err, code = T.autoperf("analyze", "stats", path, "--sort", "name")
    assert.equal(0, code, what .. ": " .. err)
    assert.truthy(out:find("\na +1 +13 ", 1), what .. ": " .. out)
    assert.truthy(out:find("\nb +1 +19 ", 1), what .. ": " .. out)
    _, err, code = T.autoperf("analyze", "correlation", path)
    assert.equal(0, code, what .. ": " .. err)
  end

  -- a directory d (under tmp) with a results.csv of the given line ends
  local function results(name, eol, last)
    local d = tmp .. "/" .. name
    os.execute("mkdir -p " .. q(d))
    put(d .. "/results.csv", HEAD .. eol .. table.concat(ROWS, eol) .. last)
    return d
  end

  it("accepts a last line without a newline (the original autoperf's doc/results.csv)", function()
    check(results("nonl", "\n", "") .. "/results.csv", "no newline")
  end)

  it("accepts CRLF line ends", function()
    check(results("crlf", "\r\n", "\r\n") .. "/results.csv", "CRLF")
  end)

  it("accepts a directory holding only a results.csv (the original's scripts took ./out)", function()
    local d = results("out", "\n", "\n")
    check(d, "a directory")
    assert.truthy(io.open(d .. "/analysis/stats.csv"))
  end)
end)

describe("full and read-only disks", function()
  local mnt
  before_each(function()
    mnt = nil
    if not is_root() then return end
    mnt = T.tmpdir()
  end)
  after_each(function()
    if mnt then
      os.execute("umount " .. q(mnt) .. " 2>/dev/null")
      T.rmtree(mnt)
    end
  end)

  local function mount(opts)
    local _, err, code = T.sh("mount -t tmpfs -o " .. opts .. " autoperf-spec " .. q(mnt))
    assert.equal(0, code, err)
  end

  it("says 'No space left on device' with the file's name", function()
    if not mnt then return pending("needs root to mount a small tmpfs") end
    mount("size=64k")
    -- aggregate: a results.csv larger than the disk
    local big = tmp .. "/big"
    assert(synth.profile(big, 20, 200, 2))
    local out, err, code = T.autoperf("aggregate", big, "-o", mnt .. "/results.csv")
    one_line_error(out, err, code, "results%.csv: No space left on device", "aggregate")
    assert.same({}, core.listdir(mnt))
    -- profile: 12k left, a run file of about 20k (1000 samples of 6 events)
    T.sh("dd if=/dev/zero of=" .. q(mnt .. "/fill") .. " bs=4k count=13 2>/dev/null")
    out, err, code = T.autoperf("profile", "-q", "-o", mnt .. "/run", "-I", "1", "-e",
      "task-clock,page-faults,context-switches,cpu-clock,cpu-migrations,minor-faults", "--", "sleep", "1")
    one_line_error(out, err, code, "run%-001%-01%.csv%.gz: No space left on device", "profile run file")
    -- profile and analysis: the disk already full
    T.sh("dd if=/dev/zero of=" .. q(mnt .. "/fill2") .. " bs=4k 2>/dev/null")
    out, err, code = T.autoperf("profile", "-q", "-o", mnt .. "/p", "-e", "task-clock", "--", "true")
    one_line_error(out, err, code, "manifest%.json: No space left on device", "profile")
    out, err, code = T.autoperf("analyze", "stats", base, "-o", mnt .. "/a")
    one_line_error(out, err, code, "stats%.csv: No space left on device", "analyze")
    out, err, code = T.autoperf("aggregate", base, "-o", mnt .. "/r.csv.gz")
    one_line_error(out, err, code, "No space left on device", "aggregate .gz")
  end)

  it("leaves a finished profile on a read-only mount as it is", function()
    if not mnt then return pending("needs root to mount and remount a tmpfs") end
    mount("size=4m")
    local d = mnt .. "/p"
    local args = { "profile", "-q", "-o", d, "-I", "0", "-r", "2", "-e", "task-clock", "--", "true" }
    assert.equal(0, select(3, T.autoperf(table.unpack(args))))
    os.execute("sleep 0.05") -- results.csv strictly newer than what it is made of
    assert.equal(0, select(3, T.autoperf("aggregate", d)))
    local _, err, code = T.sh("mount -o remount,ro " .. q(mnt))
    assert.equal(0, code, err)
    local out
    table.remove(args, 2) -- not -q: the rerun says why it measures nothing (on stderr, as all it says)
    out, err, code = T.autoperf(table.unpack(args))
    assert.equal(0, code, err)
    assert.truthy(err:find("already holds this complete profile", 1, true), out .. err)
    out, err, code = T.autoperf("aggregate", d)
    assert.equal(0, code, err)
    assert.truthy(out:find("up to date", 1, true), out .. err)
  end)
end)
