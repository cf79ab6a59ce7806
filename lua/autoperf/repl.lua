-- repl: `autoperf repl`, an interactive Lua prompt with the API loaded as
-- `ap` (require "autoperf"). Line editing, history (~/.autoperf_history,
-- or AUTOPERF_HISTORY) and tab completion of names through readline;
-- expressions print their values (tables and results pretty-printed);
-- an incomplete statement continues on the next line.
local core = require "autoperf.core"

local M = {}

local MAX_ITEMS = 20

local function is_ident(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys
end

local pretty

-- A list of catalog events: one line each.
local function event_table(list)
  local lines = {}
  for i, ev in ipairs(list) do
    if i > MAX_ITEMS then
      lines[#lines + 1] = string.format("... (%d events)", #list)
      break
    end
    lines[#lines + 1] = string.format("%-40s %-12s %s", ev.name, ev.pmu or "", ev.encoding or "")
  end
  return table.concat(lines, "\n")
end

-- A result object (result.lua): its events and their totals.
local function result_table(r)
  local lines = { string.format("profile %s: %d events, %d repetition%s%s", r.dir or "(not kept)", #r.events, r.reps,
    r.reps == 1 and "" or "s", r.simulated and " (hardware values SIMULATED)" or "") }
  for i, name in ipairs(r.events) do
    if i > MAX_ITEMS then
      lines[#lines + 1] = string.format("  ... r.events has all %d", #r.events)
      break
    end
    lines[#lines + 1] = string.format("  %-40s %s", name, tostring(r[name]))
  end
  return table.concat(lines, "\n")
end

-- A readable rendering of v, nested tables to depth 2.
function pretty(v, depth, seen)
  depth, seen = depth or 0, seen or {}
  local t = type(v)
  if t == "string" then return string.format("%q", v) end
  if t ~= "table" then return tostring(v) end
  if seen[v] then return "<cycle>" end
  if rawget(v, "events") and rawget(v, "data") and rawget(v, "manifest") then return result_table(v) end
  if #v > 0 and type(v[1]) == "table" and v[1].name and v[1].encoding then return event_table(v) end
  if depth >= 2 then return "{...}" end
  seen[v] = true
  local parts, n = {}, 0
  local keys = sorted_keys(v)
  for _, k in ipairs(keys) do
    n = n + 1
    if n > MAX_ITEMS then
      parts[#parts + 1] = string.format("... (%d entries)", #keys)
      break
    end
    local val = pretty(v[k], depth + 1, seen)
    if math.type(k) == "integer" and k >= 1 and k <= #v then
      parts[#parts + 1] = val
    else
      parts[#parts + 1] = (is_ident(k) and k or ("[" .. pretty(k, 2, seen) .. "]")) .. " = " .. val
    end
  end
  seen[v] = nil
  local flat = "{ " .. table.concat(parts, ", ") .. " }"
  if #flat <= 78 then return #parts == 0 and "{}" or flat end
  local ind = string.rep("  ", depth + 1)
  return "{\n" .. ind .. table.concat(parts, ",\n" .. ind) .. "\n" .. string.rep("  ", depth) .. "}"
end
M.pretty = pretty

-- Completion candidates for text ("ap.pro", "string.fo", "pri").
function M.complete(env, text)
  local path, sep, prefix = text:match("^(.-)([%.:])([%w_]*)$")
  local scope, lead = env, ""
  if path then
    scope = env
    for part in path:gmatch("[^%.:]+") do
      if type(scope) ~= "table" then return {} end
      scope = scope[part]
    end
    lead = path .. sep
  else
    prefix = text
  end
  local out, seen = {}, {}
  local function add(t)
    if type(t) ~= "table" then return end
    for k, v in pairs(t) do
      if is_ident(k) and k:sub(1, #prefix) == prefix and not seen[k] and
        (sep ~= ":" or type(v) == "function") then
        seen[k] = true
        out[#out + 1] = lead .. k .. (type(v) == "function" and "(" or "")
      end
    end
    local mt = getmetatable(t)
    if mt and type(mt.__index) == "table" then
      for k, v in pairs(mt.__index) do
        if is_ident(k) and k:sub(1, #prefix) == prefix and not seen[k] then
          seen[k] = true
          out[#out + 1] = lead .. k .. (type(v) == "function" and "(" or "")
        end
      end
    end
  end
  if type(scope) == "string" then scope = string end
  add(scope)
  table.sort(out)
  return out
end

-- Compiles what the user typed: an expression first (to print it), else
-- a statement. Returns the function, or nil and the error, with
-- incomplete = true when more lines may complete it.
local function compile(src, env)
  local f = load("return " .. src, "=stdin", "t", env)
  if f then return f end
  local err
  f, err = load(src, "=stdin", "t", env)
  if f then return f end
  return nil, err, err:match("<eof>$") ~= nil
end

local function report(ok, ...)
  if not ok then
    io.stderr:write((...), "\n")
    return
  end
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = pretty((select(i, ...))) end
  if n > 0 then print(table.concat(parts, "\t")) end
end

M.HELP = [[
autoperf repl: Lua 5.4 with the autoperf API as 'ap' (and the C core as 'core').
  ap.events(pattern)           events of this machine matching a glob or substring
  ap.select(specs)             resolve event specs (names, aliases, globs, pmu/term=v/, "all")
  ap.plan(events)              the runs that count them without multiplexing
  ap.measure(argv, opts)       profile a command, return its result r (r["task-clock"], r:series(name))
  ap.profile(argv, opts)       profile into opts.out (default "out"); ap.aggregate(dir), ap.read(dir)
  ap.experiment{...}:run()     a parameter sweep (see README); ap.analyze.stats(dir) and friends
  pretty(v)                    print any value readably; expressions print their values anyway
Tab completes names; Ctrl-C interrupts running code or drops the line being typed;
Ctrl-D (or os.exit()) quits. Type help (or help()) for this text.]]

-- The environment of the prompt: the API as `ap`, the C core as `core`,
-- and the usual globals.
function M.env()
  local env = setmetatable({}, { __index = _G })
  env.ap = require "autoperf"
  env.core = core
  env.pretty = function(v) print(pretty(v)) end
  env.help = function() print(M.HELP) end
  return env
end

-- A traceback without the prompt's own frames.
local function traceback(e)
  local tb = debug.traceback(tostring(e), 2)
  return (tb:gsub("\n[^\n]*%[C%]: in function 'autoperf%.core%.repl_call'.*$", "")
    :gsub("\n[^\n]*%[C%]: in %?$", ""))
end

-- Runs the prompt until end of input (Ctrl-D), os.exit() or SIGTERM
-- (then 143, as a shell reports it).
function M.run(opts)
  opts = opts or {}
  local env = M.env()
  local tty = core.isatty(0) and core.isatty(1)
  local history = require("autoperf.defaults").history()
  if tty then
    core.read_history(history)
    print(string.format("autoperf %s: Lua %s with the API as 'ap' (ap.events, ap.select, ap.plan, " ..
      "ap.measure, ap.profile, ap.read, ap.aggregate, ap.experiment). Type help; Tab completes; Ctrl-D quits.",
      require("autoperf.version").VERSION, _VERSION:match("%d.*")))
  end
  local function read(prompt)
    if tty then return core.readline(prompt, function(text) return M.complete(env, text) end) end
    return io.read("l")
  end
  local buf, code = nil, 0
  while true do
    local line, why = read(buf and ">> " or "autoperf> ")
    if line == false and why == "interrupt" then
      buf = nil -- Ctrl-C drops the chunk being typed
    elseif not line or core.repl_signal() == "terminate" then
      if tty and line == nil then io.write("\n") end
      if why == "terminate" or core.repl_signal() == "terminate" then code = 143 end
      break
    elseif not buf and line:match("^%s*help%s*$") then
      if tty then core.add_history(line) end
      print(M.HELP)
    else
      buf = buf and (buf .. "\n" .. line) or line
      if buf:match("^%s*$") then
        buf = nil
      else
        local f, err, incomplete = compile(buf, env)
        if f then
          if tty then core.add_history(buf) end
          buf = nil
          report(core.repl_call(traceback, f))
          if core.repl_signal() == "terminate" then
            code = 143
            break
          end
        elseif not incomplete then
          if tty then core.add_history(buf) end
          buf = nil
          io.stderr:write(err, "\n")
        end
      end
    end
  end
  if tty then core.write_history(history) end
  return code
end

return M
