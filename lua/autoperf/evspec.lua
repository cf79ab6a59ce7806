-- Event specifications, as `perf stat -e` takes them:
--
--   task-clock,cs                    names and perf's aliases
--   INST_RETIRED.ANY:u               hardware names with modifiers :u :k :h
--   sched:sched_switch  'sched:*'    tracepoints, globs
--   cpu/event=0x3c,umask=0x1,name=foo/   a PMU's format/ terms
--   cpu/cycles/u  cpu/cycles/:k      a PMU's named event, modifiers
--   r01c2                             raw config for the core PMU
--   {cycles,instructions}:u          a group that must stay together
--
-- parse() turns a string into items without knowing the machine; the
-- catalog resolves them. Errors are one line naming the culprit.
local util = require "autoperf.util"

local M = {}

-- Modifiers autoperf honours: which privilege levels are counted.
M.MODIFIERS = { u = true, k = true, h = true }
-- Modifiers perf knows that make no sense for counting (or that need
-- virtualization contexts autoperf does not model).
local PERF_MODIFIERS = "ukhHGpPSDIWeb"

-- One printable line of sane length, whatever the spec holds (terminal
-- escapes, 4000 bytes).
local function err(spec, pos, msg)
  return nil, string.format("bad event spec '%s' at %d: %s", util.printable(spec, 120), pos,
    util.printable(msg, 200))
end

-- Splits at commas that are not inside {} or //.
local function split_top(s)
  local parts, depth, slash, start = {}, 0, false, 1
  for i = 1, #s do
    local c = s:sub(i, i)
    if c == "{" and not slash then
      depth = depth + 1
    elseif c == "}" and not slash then
      depth = depth - 1
      if depth < 0 then return nil, i, "'}' without '{'" end
    elseif c == "/" then
      slash = not slash
    elseif c == "," and depth == 0 and not slash then
      parts[#parts + 1] = { s:sub(start, i - 1), start }
      start = i + 1
    end
  end
  if depth > 0 then return nil, #s, "'{' without '}'" end
  if slash then return nil, #s, "'/' without its closing '/'" end
  parts[#parts + 1] = { s:sub(start), start }
  return parts
end

-- The comma-separated parts of s, keeping pmu/term=a,term=b/ and {a,b}
-- whole: a list of strings, or nil, message.
function M.split(s)
  local parts, pos, msg = split_top(s)
  if not parts then return err(s, pos, msg) end
  local out = {}
  for i, p in ipairs(parts) do out[i] = p[1] end
  return out
end

-- "ukh" -> {u=true,...}; nil, message for anything else.
function M.parse_modifiers(s)
  local mods = {}
  if s == "" then return nil, "empty modifier" end
  for c in s:gmatch(".") do
    if M.MODIFIERS[c] then
      mods[c] = true
    elseif PERF_MODIFIERS:find(c, 1, true) then
      return nil, "modifier '" .. c .. "' is not supported (autoperf counts at levels u, k, h)"
    else
      return nil, "unknown modifier '" .. c .. "'"
    end
  end
  return mods
end

local function is_modifiers(s)
  return s ~= "" and s:match("^[" .. PERF_MODIFIERS .. "]+$") ~= nil
end

-- "event=0x3c,umask=1,edge,name=foo" -> {{"event",0x3c},...}, name
local function parse_terms(body)
  local terms, name = {}, nil
  if body == "" then return terms end
  for raw in (body .. ","):gmatch("([^,]*),") do
    local term = raw:match("^%s*(.-)%s*$")
    if term == "" then return nil, "empty term" end
    local k, v = term:match("^([%a_][%w_%-]*)=(.*)$")
    if k == "name" then
      if v == "" or v:find("[%s/]") then return nil, "bad name '" .. v .. "'" end
      name = v
    elseif k then
      local n = math.tointeger(tonumber(v))
      if not n or n < 0 then
        -- hex up to 64 bits wraps into a negative integer: same bits
        n = v:match("^0[xX]%x+$") and #v <= 18 and math.tointeger(tonumber(v:sub(3), 16)) or nil
        if not n then return nil, "bad value '" .. v .. "' for " .. k end
      end
      terms[#terms + 1] = { k, n }
    elseif term:match("^[%a_][%w_%-%.]*$") then
      terms[#terms + 1] = { term } -- a flag term (edge) or an event name
    else
      return nil, "bad term '" .. term .. "'"
    end
  end
  return terms, name
end

-- One event (no group braces). Returns a table:
--   {kind="pmu", pmu=, terms=, name=, mods=}   pmu/terms/
--   {kind="raw", config=, mods=}               rNNNN
--   {kind="name", name=, mods=}                names, tracepoints, globs
local function parse_event(s, spec, pos)
  if s == "" then return err(spec, pos, "empty event") end
  if s:find("[%s{}]") then return err(spec, pos, "unexpected character in '" .. s .. "'") end
  local pmu, body, rest = s:match("^([%w_%.%-]+)/(.-)/(.*)$")
  if pmu then
    local terms, name_or_err = parse_terms(body)
    if not terms then return err(spec, pos, name_or_err) end
    if #terms == 0 then return err(spec, pos, "no terms between the slashes of '" .. s .. "'") end
    local mods = {}
    if rest ~= "" then
      local m, merr = M.parse_modifiers((rest:gsub("^:", "")))
      if not m then return err(spec, pos, merr) end
      mods = m
    end
    return { kind = "pmu", pmu = pmu, terms = terms, name = name_or_err, mods = mods, text = s }
  end
  if s:find("/", 1, true) then return err(spec, pos, "unbalanced '/' in '" .. s .. "'") end
  -- libpfm4's spelling: model::EVENT[:UMASK][:modifiers]
  local lpfm, lrest = s:match("^([%w_]+)::(.*)$")
  local parts = {}
  for p in ((lrest or s) .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
  if lpfm then parts[1] = lpfm .. "::" .. parts[1] end
  local mods, maybe = {}, nil
  if #parts == 3 then
    -- sys:name:mods
    local m, merr = M.parse_modifiers(parts[3])
    if not m then return err(spec, pos, merr) end
    mods, parts[3] = m, nil
  elseif #parts == 2 and is_modifiers(parts[2]) then
    -- "cycles:u" or a tracepoint named like modifiers: the catalog decides.
    maybe = parts[2]
  elseif #parts > 3 then
    return err(spec, pos, "too many ':' in '" .. s .. "'")
  end
  for i, p in ipairs(parts) do
    if i == 1 and lpfm then p = p:sub(#lpfm + 3) end
    if p == "" then return err(spec, pos, "empty name around ':' in '" .. s .. "'") end
    if not p:match("^[%w_%.%-%*%?%[%]!]+$") then
      return err(spec, pos, "unexpected character in '" .. p .. "'")
    end
  end
  local name = table.concat(parts, ":")
  local hex = #parts == 1 and name:match("^r(%x+)$")
  if hex then
    if #hex > 16 then return err(spec, pos, "raw config '" .. s .. "' exceeds 64 bits") end
    return { kind = "raw", config = tonumber(hex, 16), mods = mods, text = s }
  end
  if maybe then
    local m = M.parse_modifiers(maybe)
    local rhex = parts[1]:match("^r(%x+)$")
    if rhex and m and #rhex <= 16 then
      return { kind = "raw", config = tonumber(rhex, 16), mods = m, text = s }
    end
    return { kind = "name", name = name, mods = mods, text = s,
             alt = m and { name = parts[1], mods = m } }
  end
  return { kind = "name", name = name, mods = mods, text = s }
end

-- Parses a full spec list. Returns an array of items, each
-- {events={...}, group=bool, text=}, or nil, message. Never raises.
function M.parse(spec)
  if type(spec) ~= "string" then return nil, "event spec must be a string" end
  local parts, pos, msg = split_top(spec)
  if not parts then return err(spec, pos, msg) end
  local items = {}
  for _, part in ipairs(parts) do
    local text, at = part[1], part[2]
    local lead = #text:match("^%s*")
    text = text:match("^%s*(.-)%s*$")
    at = at + lead
    if text == "" then return err(spec, at, "empty event") end
    if text:sub(1, 1) == "{" then
      local inner, gmods = text:match("^{(.*)}(.*)$")
      if not inner then return err(spec, at, "text after a group's '}'") end
      local mods = {}
      if gmods ~= "" then
        if gmods:sub(1, 1) ~= ":" then
          return err(spec, at, "text after a group's '}' (modifiers need ':')")
        end
        local m, merr = M.parse_modifiers(gmods:sub(2))
        if not m then return err(spec, at, merr) end
        mods = m
      end
      if inner:find("[{}]") then return err(spec, at, "groups do not nest") end
      local members, mpos, mmsg = split_top(inner)
      if not members then return err(spec, at + mpos, mmsg) end
      local events = {}
      for _, m in ipairs(members) do
        local mt = m[1]:match("^%s*(.-)%s*$")
        local ev, eerr = parse_event(mt, spec, at + m[2])
        if not ev then return nil, eerr end
        for k in pairs(mods) do
          ev.mods[k] = true
          if ev.alt then ev.alt.mods[k] = true end
        end
        events[#events + 1] = ev
      end
      items[#items + 1] = { events = events, group = true, text = text }
    else
      local ev, eerr = parse_event(text, spec, at)
      if not ev then return nil, eerr end
      items[#items + 1] = { events = { ev }, group = false, text = text }
    end
  end
  return items
end

-- perf_event_attr exclude bits for modifiers (perf's rule: naming any
-- level excludes the others).
function M.exclude_bits(mods)
  if not (mods.u or mods.k or mods.h) then return {} end
  return { exclude_user = not mods.u, exclude_kernel = not mods.k, exclude_hv = not mods.h }
end

-- The canonical suffix of a modified event name: ":u", ":k", ":uk" ...
function M.suffix(mods)
  local s = ""
  for _, c in ipairs({ "u", "k", "h" }) do
    if mods[c] then s = s .. c end
  end
  return s == "" and "" or (":" .. s)
end

return M
