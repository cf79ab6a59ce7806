-- The REPL on a real terminal: driven through tmux (send-keys,
-- capture-pane); and fed from a pipe.
local T = require "spec.support"

local function have_tmux()
  return select(3, T.sh("command -v tmux")) == 0
end

-- A REPL in a detached tmux session; screen() is what it shows.
local function session(dir)
  local name = "autoperf-spec-" .. tostring(os.time()) .. tostring(math.random(1e6))
  local env = string.format("AUTOPERF_HISTORY=%s/history", dir)
  assert(select(3, T.sh(string.format("tmux new-session -d -s %s -x 160 -y 50 %s",
    name, T.quote("env " .. env .. " " .. T.quote(T.bin) .. " repl")))) == 0)
  local s = {}
  -- text is typed literally; Enter, Tab and C-d are keys
  local KEYS = { Enter = true, Tab = true, ["C-d"] = true }
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

  it("reads statements from a pipe, printing values and errors", function()
    local out, err, code = T.sh(string.format("printf 'x = 20 +\\n22\\nx\\nerror(\"no\")\\n' | %s repl",
      T.quote(T.bin)))
    assert.equal(0, code)
    assert.equal("42\n", out)
    assert.matches("^stdin:1: no\nstack traceback:", err)
  end)
end)
