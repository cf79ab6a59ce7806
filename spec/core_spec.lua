-- The C core through its Lua bindings (autoperf.core): counter groups on
-- a held workload, process control, atomic compressed I/O, descriptors.
local T = require "spec.support"
local core = require "autoperf.core"

local TASK_CLOCK = { type = 1, config = 1 }
local CONTEXT_SWITCHES = { type = 1, config = 3 }
local PAGE_FAULTS = { type = 1, config = 2 }

local fd_count = T.open_fds

-- Spawns argv held at its barrier, counts events on it, lets it run.
local function count(argv, attrs)
  local p = assert(core.spawn(argv))
  local g = core.group(p:pid(), -1)
  for i, a in ipairs(attrs) do assert(g:add(a, i)) end
  assert(p:release())
  local st = assert(p:wait())
  local enabled, running, values = assert(g:read())
  g:close()
  p:close()
  return st, enabled, running, values
end

describe("core counters", function()
  it("count a held workload from exec (pid and cpu only: not manual), whole group in one read", function()
    local st, enabled, running, v = count({ "sh", "-c", "i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done" },
      { TASK_CLOCK, CONTEXT_SWITCHES, PAGE_FAULTS })
    assert.equal(0, st.code)
    assert.is_true(enabled > 0)
    assert.equal(enabled, running)
    assert.equal(3, #v)
    assert.is_true(v[1] > 0 and v[3] > 0)
  end)

  it("counts exactly the write(2) calls of a workload and of its children", function()
    if not T.tracefs then return pending(T.no_tracefs) end
    local id = tonumber(T.slurp(T.tracefs .. "/events/syscalls/sys_enter_write/id"))
    local attr = { type = 2, config = id }
    local _, _, _, v = count({ T.workload("writes"), "4321" }, { attr })
    assert.equal(4321, v[1])
    -- inherited: the writes of a grandchild count too (plus the shell's none)
    local _, _, _, w = count({ "sh", "-c", T.workload("writes") .. " 17; " .. T.workload("writes") .. " 5" },
      { attr })
    assert.equal(22, w[1])
  end)

  it("refuses an event this kernel lacks with a message, not a crash", function()
    local g = core.group(0, -1, true)
    local ok, err, errno = g:add({ type = 0, config = 0 }, 1) -- cycles: no hardware PMU here
    if ok then g:close() return pending("this machine has a hardware PMU") end
    assert.is_nil(ok)
    assert.is_string(err)
    assert.is_number(errno)
    assert.equal(0, g:size())
    local ok2, err2 = g:add({ type = 4242, config = 0 }, 2)
    assert.is_nil(ok2)
    assert.is_string(err2)
    g:close()
    g:close() -- twice is safe
  end)

  it("snaps a reading and puts it later, stamped with a time taken after the read", function()
    local dir = T.tmpdir()
    local g = core.group(0, -1, true)
    assert(g:add(TASK_CLOCK, 7))
    assert.has_error(function() g:put(assert(core.writer(dir .. "/x.csv")), 0, 0, -1) end)
    assert(g:enable())
    assert(g:snap())
    local w = assert(core.writer(dir .. "/s.csv"))
    local enabled, running = g:put(w, 3, 12345, -1)
    assert.is_true(enabled > 0 and running == enabled)
    assert(w:commit())
    g:close()
    local row = T.slurp(dir .. "/s.csv")
    assert.matches("^3,12345,%-1,7,%d+," .. enabled .. "," .. running .. "\n$", row)
    T.rmtree(dir)
  end)

  it("leaks no descriptor: groups, processes and readers leave the table as they found it", function()
    local before = fd_count()
    for _ = 1, 3 do count({ "true" }, { TASK_CLOCK, PAGE_FAULTS }) end
    local g = core.group(0, -1, true)
    assert(g:add(TASK_CLOCK, 1))
    assert(g:enable())
    assert(g:disable())
    g:close()
    assert.equal(before, fd_count())
  end)
end)

-- Sleep lengths of this run's own (specs of other trees may run at the
-- same time on this machine).
local PID = T.slurp("/proc/self/stat"):match("^%d+")

describe("core process control", function()
  it("reports exit codes and signals, and exec failures with their errno", function()
    local st = select(1, count({ "sh", "-c", "exit 7" }, { TASK_CLOCK }))
    assert.equal(7, st.code)
    local p = assert(core.spawn({ "sh", "-c", "kill -SEGV $$" }))
    assert(p:release())
    st = assert(p:wait())
    assert.equal(11, st.signal)
    assert.equal("SEGV", st.signame)
    p:close()
    local q = assert(core.spawn({ "/no/such/program" }))
    local ok, err, errno = q:release()
    assert.is_nil(ok)
    assert.matches("No such file", err)
    assert.equal(core.errno.ENOENT, errno)
    q:close()
  end)

  it("applies env, cwd and cpus, and passes no descriptor but stdio", function()
    local dir = T.tmpdir()
    local p = assert(core.spawn({ "sh", "-c",
      "{ echo $X; pwd; grep Cpus_allowed_list /proc/self/status; } > out; ls /proc/self/fd > fds" },
      { env = { "X=hello", "PATH=/usr/bin:/bin" }, cwd = dir, cpus = { 0 } }))
    -- our own descriptors stay ours
    local f = assert(io.open(dir .. "/open-in-parent", "w"))
    assert(p:release())
    assert.equal(0, assert(p:wait()).code)
    p:close()
    f:close()
    assert.equal("hello\n" .. dir .. "\nCpus_allowed_list:\t0\n", T.slurp(dir .. "/out"))
    local fds = {}
    for n in T.slurp(dir .. "/fds"):gmatch("%d+") do fds[#fds + 1] = tonumber(n) end
    table.sort(fds)
    -- 0, 1, 2 and the one ls opened to read the directory
    assert.is_true(#fds <= 4, table.concat(fds, " "))
    for i = 1, 3 do assert.equal(i - 1, fds[i]) end
    T.rmtree(dir)
  end)

  it("times out a hung workload and kills its whole tree, also what left its group and session", function()
    local sleep = "sleep 100.5" .. PID
    local p = assert(core.spawn({ "sh", "-c", string.format("setsid %s & (setsid %s &); %s", sleep, sleep, sleep) }))
    assert(p:release())
    assert.is_false(p:wait(100))
    local pid = p:pid()
    assert(p:kill(9))
    local st = assert(p:wait(5000))
    assert.equal(9, st.signal)
    p:close()
    -- nothing of the group nor of the tree is left (the status came after the sweep)
    assert.same({}, T.procs(function(q) return q.pgid == pid or q.cmdline == sleep end))
  end)

  it("kills the whole tree of a workload it lets go of, held or running", function()
    local len = "100.6" .. PID
    local held = assert(core.spawn({ "sleep", len }))
    held:close()
    local p = assert(core.spawn({ "sh", "-c", string.format("setsid sleep %s & sleep %s", len, len) }))
    assert(p:release())
    for _ = 1, 250 do
      if #T.procs(function(q) return q.cmdline == "sleep " .. len end) == 2 then break end
      core.sleep_ms(20)
    end
    p:close()
    p:close() -- twice is safe
    assert.same({}, T.procs(function(q) return q.cmdline:find(len, 1, true) ~= nil end))
  end)
end)

describe("core io", function()
  local dir
  T.each_tmpdir(before_each, after_each, function(d) dir = d end)

  it("writes atomically: nothing at the path before commit, no temporary after abort", function()
    for _, gz in ipairs({ false, true }) do
      local path = dir .. (gz and "/a.csv.gz" or "/a.csv")
      local w = assert(core.writer(path, gz))
      assert(w:write("one\n", "two\n"))
      assert.is_false(T.exists and T.exists(path) or io.open(path) ~= nil)
      assert(w:commit())
      local r = assert(core.reader(path))
      assert.equal("one", r:read())
      assert.equal("two", r:read())
      assert.is_nil(r:read())
      r:close()
      local w2 = assert(core.writer(path .. ".x", gz))
      assert(w2:write("partial\n"))
      w2:abort()
      assert.is_nil(io.open(path .. ".x"))
      assert.is_nil(io.open(path .. ".x.tmp"))
    end
  end)

  it("reads what gzip writes as zlib's gzread does: members one after another, names, plain and empty files", function()
    local function lines_of(path)
      local r = assert(core.reader(path))
      local out = {}
      while true do
        local line, err = r:read()
        if not line then
          r:close()
          return out, err
        end
        out[#out + 1] = line
      end
    end
    local a, b = dir .. "/a.txt", dir .. "/b.txt"
    local fa = assert(io.open(a, "w"))
    for i = 1, 3000 do fa:write("a ", i, "\n") end
    fa:close()
    T.write(b, "b 1\nb 2\n")
    local q = T.quote
    -- gzip of a named file keeps its name in the header (FNAME)
    assert(os.execute(string.format("gzip -k -c %s > %s/ab.gz && gzip -c < %s >> %s/ab.gz", q(a), q(dir), q(b), q(dir))))
    local got = lines_of(dir .. "/ab.gz")
    assert.equal(3002, #got)
    assert.same({ "a 1", "a 3000", "b 1", "b 2" }, { got[1], got[3000], got[3001], got[3002] })
    -- bytes after the last member that are not gzip are ignored
    assert(os.execute(string.format("gzip -c < %s > %s/tail.gz && printf 'junk' >> %s/tail.gz", q(b), q(dir), q(dir))))
    assert.same({ "b 1", "b 2" }, (lines_of(dir .. "/tail.gz")))
    assert.same({ "b 1", "b 2" }, (lines_of(b))) -- not gzip: as it is
    T.write(dir .. "/empty", "")
    local none, err = lines_of(dir .. "/empty")
    assert.same({}, none)
    assert.is_nil(err)
    -- a wrong CRC in the trailer: every line, then the error
    local raw = T.slurp(dir .. "/tail.gz"):sub(1, -5)
    local crc = #raw - 7
    T.write(dir .. "/crc.gz", raw:sub(1, crc - 1) .. string.char(raw:byte(crc) ~ 1) .. raw:sub(crc + 1))
    got, err = lines_of(dir .. "/crc.gz")
    assert.is_string(err)
    assert.is_true(#got <= 2)
  end)

  it("writes plain files of any length whole, direct to the disk or (tmpfs) through the cache", function()
    local dirs = { dir }
    local shm = core.mkdtemp("/dev/shm/autoperf-spec.XXXXXX")
    if shm then dirs[2] = shm end
    finally(function() if shm then os.execute("rm -rf " .. T.quote(shm)) end end)
    for _, d in ipairs(dirs) do
      for _, n in ipairs({ 0, 1, 4095, 4096, 4097, 1048576, 1048576 + 4096 + 3, 3 * 1048576 - 1 }) do
        local text = string.rep("0123456789abcde\n", n // 16 + 1):sub(1, n)
        local path = d .. "/p" .. n .. ".csv"
        local w = assert(core.writer(path, false))
        -- in pieces that straddle the writer's blocks
        for i = 1, n, 300000 do assert(w:write(text:sub(i, i + 299999))) end
        assert(w:commit())
        local back = T.slurp(path)
        assert.equal(n, #back, path)
        assert.is_true(back == text, path)
      end
    end
  end)

  it("writes gzip that gzip reads back, over many compressor buffers", function()
    local path = dir .. "/w.csv.gz"
    local w = assert(core.writer(path, true))
    local parts = {}
    for i = 1, 60000 do parts[i] = string.format("%d,%d,%d\n", i, i * 7919 % 100003, i % 13) end
    local text = table.concat(parts)
    assert(w:write(text:sub(1, 1000)))
    assert(w:write(text:sub(1001)))
    assert(w:commit())
    assert.is_true(#text > 4 * 131072)
    local p = assert(io.popen("gzip -dc " .. T.quote(path)))
    local back = p:read("a")
    assert.is_true(p:close())
    assert.equal(#text, #back)
    assert.is_true(text == back)
    assert.is_true(#T.slurp(path) < #text / 2, "compressed")
    -- an empty file is a valid gzip stream of nothing
    local e = assert(core.writer(dir .. "/e.gz", true))
    assert(e:commit())
    p = assert(io.popen("gzip -dc " .. T.quote(dir .. "/e.gz") .. " | wc -c"))
    assert.equal("0", p:read("a"):match("%d+"))
    p:close()
  end)

  it("reports a gzip stream cut short with the line it reached", function()
    local path = dir .. "/cut.gz"
    local w = assert(core.writer(path, true))
    for i = 1, 5000 do assert(w:write(string.format("line %d with some text to compress\n", i))) end
    assert(w:commit())
    local data = T.slurp(path)
    local f = assert(io.open(path, "wb"))
    f:write(data:sub(1, #data // 2))
    f:close()
    local r = assert(core.reader(path))
    local n, err, lineno = 0, nil, nil
    while true do
      local line, e, l = r:read()
      if not line then err, lineno = e, l break end
      n = n + 1
    end
    r:close()
    assert.is_string(err)
    assert.is_true(n > 0 and n < 5000)
    assert.is_number(lineno)
  end)

  it("reads a big gzip file (inflated ahead on a thread) line by line, whole or cut short", function()
    local path = dir .. "/big.gz"
    local w = assert(core.writer(path, true))
    local x, lines = 12345, {}
    for i = 1, 120000 do
      x = (x * 1103515245 + 12345) % 2147483648
      lines[i] = string.format("%d,%d,%d", i, x, x % 977)
      if i % 1000 == 0 then
        assert(w:write(table.concat(lines, "\n", i - 999, i), "\n"))
      end
    end
    assert(w:commit())
    local data = T.slurp(path)
    assert.is_true(#data > 1048576, "the file must be big enough for the thread: " .. #data)
    local r = assert(core.reader(path))
    local n = 0
    while true do
      local line = r:read()
      if not line then break end
      n = n + 1
      if line ~= lines[n] then assert.equal(lines[n], line) end
    end
    assert.equal(120000, n)
    assert.equal(120000, r:lineno())
    r:close()
    -- closing after a few lines stops the thread (no leak under ASan)
    r = assert(core.reader(path))
    assert.equal(lines[1], r:read())
    r:close()
    r:close()
    -- cut: every line before the cut, then an error naming its line
    local f = assert(io.open(path, "wb"))
    f:write(data:sub(1, #data * 3 // 4))
    f:close()
    r = assert(core.reader(path))
    n = 0
    local err, lineno
    while true do
      local line, e, l = r:read()
      if not line then err, lineno = e, l break end
      n = n + 1
      assert.equal(lines[n], line)
    end
    r:close()
    assert.is_string(err)
    assert.is_true(n > 60000 and n < 120000, n)
    assert.equal(n + 1, lineno)
  end)

  it("lists directories sorted and explains a missing one", function()
    for _, n in ipairs({ "b", "a", "c" }) do io.open(dir .. "/" .. n, "w"):close() end
    local names = {}
    for _, e in ipairs(assert(core.listdir(dir))) do names[#names + 1] = e.name end
    assert.same({ "a", "b", "c" }, names)
    local none, err = core.listdir(dir .. "/missing")
    assert.is_nil(none)
    assert.is_string(err)
  end)
end)
