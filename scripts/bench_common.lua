-- What the profiling benchmarks share (bench-profile, bench-perturbation):
-- loaded with dofile from beside them. The autoperf binary of this tree,
-- wall-clock timing of a shell command, waiting for the background
-- closer, and the event list perf stat takes.
local ap = require "autoperf"
local core = require "autoperf.core"
local util = require "autoperf.util"

local M = {}

-- The tree's top directory ("" or "DIR/") from the script's own path.
function M.top(script)
  return (script:gsub("scripts/[^/]*%.lua$", ""))
end

-- The autoperf binary of that tree (or the installed one).
function M.bin(top)
  local b = (top == "" and "./" or top) .. "autoperf"
  return util.exists(b) and b or "autoperf"
end

-- Runs cmd in a shell (output discarded); its wall seconds, or raises.
function M.sh(cmd)
  local t0 = core.now_ns()
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  if not ok then error("failed: " .. cmd, 0) end
  return (core.now_ns() - t0) / 1e9
end

-- Waits until no autoperf closer is closing descriptors in the background,
-- so that every measurement starts from the same, cold kernel state.
function M.settle()
  -- ours: a closer inherits the directory of the autoperf that made it
  local function cwd_of(pid)
    local p = io.popen("readlink /proc/" .. pid .. "/cwd 2>/dev/null")
    local s = p and p:read("l")
    if p then p:close() end
    return s
  end
  local here = cwd_of("self")
  local function closing()
    for _, e in ipairs(core.listdir("/proc") or {}) do
      local f = e.name:match("^%d+$") and io.open("/proc/" .. e.name .. "/comm")
      if f then
        local comm = f:read("l")
        f:close()
        if comm == "autoperf-close" and cwd_of(e.name) == here then return true end
      end
    end
    return false
  end
  -- bounded: another user's closer (a test run, say) is not ours to wait for
  local t0 = core.now_ns()
  while closing() and core.now_ns() - t0 < 180e9 do core.sleep_ms(500) end
end

-- The events of spec that the kernel opens, written comma-separated to
-- path for perf stat -e "$(cat path)" (events it refuses, such as
-- ftrace:function, would make perf stat fail); returns their count.
function M.event_list(spec, path)
  local names = {}
  for _, ev in ipairs(assert(ap.select(spec))) do
    if core.probe({ type = ev.type, config = ev.config, config1 = ev.config1, config2 = ev.config2 }) then
      names[#names + 1] = ev.name
    end
  end
  local f = assert(io.open(path, "w"))
  f:write(table.concat(names, ","))
  f:close()
  return #names
end

-- The median of 5 timings of f, in ms.
function M.median_ms(f)
  local t = {}
  for i = 1, 5 do
    local t0 = core.now_ns()
    f()
    t[i] = (core.now_ns() - t0) / 1e6
  end
  table.sort(t)
  return t[3]
end

-- Fails with a message when perf is not installed.
function M.need_perf(who)
  if util.which("perf") then return true end
  io.stderr:write(who, ": perf is not installed (Debian: linux-perf)\n")
  return false
end

return M
