-- The REPL on a real terminal: driven through tmux (send-keys,
-- capture-pane); and fed from a pipe.
local T = require "spec.support"

local function have_tmux()
  return select(3, T.sh("command -v tmux")) == 0
end

-- A REPL in a detached tmux session; screen() is what it shows. With
-- after, a shell runs it and then after (a shell command line).
local function session(dir, after)
  local name = "autoperf-spec-" .. tostring(os.time()) .. tostring(math.random(1e6))
  local env = string.format("AUTOPERF_HISTORY=%s/history", dir)
  local cmd = "env " .. env .. " " .. T.quote(T.bin) .. " repl"
  if after then cmd = "sh -c " .. T.quote(cmd .. "; " .. after) end
  -- tmux runs the command with $SHELL, or the login shell when that is
  -- unset: a system user's is nologin
  assert(select(3, T.sh(string.format("SHELL=/bin/sh tmux new-session -d -s %s -x 160 -y 50 %s",
    name, T.quote(cmd)))) == 0)
  local s = {}
  -- the REPL's pid: the pane's process or the first autoperf below it
  -- (shells differ in whether -c execs its last command)
  function s.pid()
    local pid = tonumber((T.sh("tmux display -p -t " .. name .. " '#{pane_pid}'")))
    for _ = 1, 4 do
      if not pid or T.slurp("/proc/" .. pid .. "/cmdline") == T.bin .. "\0repl\0" then
        return pid
      end
      pid = T.children(pid)[1]
    end
  end
  -- text is typed literally; Enter, Tab, C-c and C-d are keys
  local KEYS = { Enter = true, Tab = true, ["C-c"] = true, ["C-d"] = true }
  function s.keys(...)
    for _, k in ipairs({ ... }) do
      T.sh("tmux send-keys -t " .. name .. (KEYS[k] and " " or " -l ") .. T.quote(k))
    end
  end
  function s.screen()
    return (T.sh("tmux capture-pane -p -J -t " .. name))
  end
  -- waits (bounded) until the screen shows pattern; returns the screen
  function s.wait(pattern)
    local screen
    for _ = 1, 100 do
      screen = s.screen()
      if screen:find(pattern) then return screen end
      T.sh("sleep 0.05")
    end
    return screen
  end
  function s.close()
    T.sh("tmux kill-session -t " .. name)
  end
  return s
end

describe("autoperf repl", function()
  it("evaluates, completes API names, measures a command, keeps multi-line input and history", function()
    if not have_tmux() then return pending("tmux is not installed") end
    local dir = T.tmpdir()
    local s = session(dir)
    finally(function() s.close() end) -- also when an assertion fails
    assert.matches("autoperf> ", s.wait("autoperf> "))
    s.keys("6 * 7", "Enter")
    assert.matches("\n42\n", s.wait("\n42\n"))
    -- completion: "ap.mea" + Tab becomes "ap.measure("
    s.keys("ap.mea", "Tab")
    assert.matches("ap%.measure%(", s.wait("ap%.measure%("))
    s.keys(string.format('{"true"}, {events = {"task-clock"}, out = "%s/m"})', dir), "Enter")
    local screen = s.wait("task%-clock%s+%d+")
    assert.matches("profile [^\n]*/m: 1 events, 1 repetition", screen)
    assert.matches("task%-clock%s+%d+", screen)
    -- a statement over several lines
    s.keys("for i = 1, 2 do", "Enter", "print('line' .. i)", "Enter", "end", "Enter")
    screen = s.wait("line2")
    assert.matches(">> ", screen)
    assert.matches("\nline1\nline2\n", screen)
    -- an error is reported and the prompt goes on
    s.keys("nosuch.field", "Enter")
    assert.matches("attempt to index a nil value", s.wait("attempt to index"))
    s.keys("C-d")
    for _ = 1, 100 do
      if T.slurp(dir .. "/history"):find("6 * 7", 1, true) then break end
      T.sh("sleep 0.05")
    end
    s.close()
    local history = T.slurp(dir .. "/history")
    assert.truthy(history:find("6 * 7", 1, true), history)
    assert.truthy(T.slurp(dir .. "/m/manifest.json"):find("task-clock", 1, true))
    T.rmtree(dir)
  end)

  it("interrupts running code and drops a half-typed chunk with Ctrl-C, and prints help", function()
    if not have_tmux() then return pending("tmux is not installed") end
    local dir = T.tmpdir()
    local s = session(dir)
    finally(function() s.close() T.rmtree(dir) end)
    assert.matches("autoperf> ", s.wait("autoperf> "))
    s.keys("while true do end", "Enter")
    T.sh("sleep 0.3")
    s.keys("C-c")
    assert.matches("interrupted", s.wait("interrupted"))
    s.keys("6 * 7", "Enter")
    assert.matches("\n42\n", s.wait("\n42\n"))
    -- also after a profile (which traps the signals while it runs)
    s.keys('ap.measure({"true"}, {events = {"task-clock"}})', "Enter")
    assert.matches("profile %(not kept%): 1 events", s.wait("profile %(not kept%)"))
    s.keys("while true do end", "Enter")
    T.sh("sleep 0.3")
    s.keys("C-c")
    local screen = s.wait("interrupted.*interrupted")
    assert.matches("interrupted.*interrupted", screen)
    -- a loop of profiles stops (not only the one running)
    s.keys('for i = 1, 50 do ap.measure({"sleep", "0.2"}, {events = {"task-clock"}}) end', "Enter")
    T.sh("sleep 0.5")
    s.keys("C-c")
    local stopped = "interrupted\nstack traceback:\n.*'autoperf%.measure'\n[^\n]*\nautoperf> "
    assert.matches(stopped, s.wait(stopped))
    -- a chunk half typed: Ctrl-C goes back to the first prompt
    s.keys("for i = 1, 2 do", "Enter")
    assert.matches("do\n>>", s.wait("do\n>>"))
    s.keys("C-c")
    s.keys("print('after' .. 'drop')", "Enter")
    assert.matches("\nafterdrop\n", s.wait("\nafterdrop\n"))
    s.keys("help", "Enter")
    screen = s.wait("Ctrl%-C interrupts")
    assert.matches("ap%.measure%(argv, opts%)", screen)
    assert.matches("Ctrl%-C interrupts", screen)
  end)

  it("ends on SIGTERM, at the prompt or in running code, with history written and the terminal restored", function()
    if not have_tmux() then return pending("tmux is not installed") end
    local open = {}
    finally(function()
      for _, o in ipairs(open) do
        o.s.close()
        T.rmtree(o.dir)
      end
    end)
    for _, running in ipairs({ false, true }) do
      local dir = T.tmpdir()
      -- the shell keeps the pane (and its terminal settings) for stty
      local s = session(dir, string.format("echo rc=$? > %s/rc; stty -a > %s/stty; exec sleep 30",
        T.quote(dir), T.quote(dir)))
      open[#open + 1] = { s = s, dir = dir }
      assert.matches("autoperf> ", s.wait("autoperf> "))
      s.keys('ap.measure({"true"}, {events = {"task-clock"}})', "Enter")
      assert.matches("profile %(not kept%)", s.wait("profile %(not kept%)"))
      if running then
        s.keys("while true do end", "Enter")
        T.sh("sleep 0.3")
      end
      local pid = s.pid()
      assert.is_number(pid)
      T.sh("kill -TERM " .. pid)
      for _ = 1, 100 do
        if T.slurp(dir .. "/stty") ~= "" then break end
        T.sh("sleep 0.05")
      end
      assert.equal("rc=143\n", T.slurp(dir .. "/rc"))
      local stty = T.slurp(dir .. "/stty")
      assert.matches(" icanon ", stty)
      assert.matches(" echo ", stty)
      assert.truthy(T.slurp(dir .. "/history"):find("ap.measure", 1, true))
      s.close()
    end
  end)

  it("reads statements from a pipe, printing values and errors", function()
    local out, err, code = T.sh(string.format("printf 'x = 20 +\\n22\\nx\\nerror(\"no\")\\n' | %s repl",
      T.quote(T.bin)))
    assert.equal(0, code)
    assert.equal("42\n", out)
    assert.matches("^stdin:1: no\nstack traceback:", err)
  end)
end)
