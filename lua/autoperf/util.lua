-- Small helpers shared by the modules: strings, files, globs.
local cjson = require "cjson"
local core = require "autoperf.core"
local dkjson = require "dkjson"

local M = {}

-- A CSV field: quoted when it holds a comma, a quote or a newline.
function M.csv_field(v)
  v = tostring(v)
  if v:find('[,"\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

-- An environment ({"K=V", ...}) for a workload: base (default ours) with
-- the variables of set ({K=V}) replaced or added (in key order).
function M.env_with(set, base)
  local env, keys = {}, {}
  for k in pairs(set) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, kv in ipairs(base or core.environ()) do
    if set[kv:match("^([^=]*)=")] == nil then env[#env + 1] = kv end
  end
  for _, k in ipairs(keys) do env[#env + 1] = k .. "=" .. tostring(set[k]) end
  return env
end

function M.trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- Splits s at every sep (a plain string); empty fields are kept.
function M.split(s, sep)
  local out, i = {}, 1
  while true do
    local j = s:find(sep, i, true)
    if not j then
      out[#out + 1] = s:sub(i)
      return out
    end
    out[#out + 1] = s:sub(i, j - 1)
    i = j + #sep
  end
end

-- The whole file, or nil, message.
function M.read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

-- First line of a small (sysfs, procfs) file without its newline, or nil.
function M.read_line(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("l")
  f:close()
  return s
end

-- A number for CSV: integers exactly, others to 17 significant digits;
-- NaN and nil as an empty field.
function M.csv_number(v)
  if v == nil or v ~= v then return "" end
  local i = math.tointeger(v)
  if i then return tostring(i) end
  return string.format("%.17g", v)
end

-- Writes path atomically (a name ending in .gz compresses): fn(write)
-- adds its text through write(...). The first failed write stops the
-- rest and drops the file. Returns path, or nil, message.
function M.write_with(path, fn)
  local w, err = core.writer(path, path:match("%.gz$") ~= nil)
  if not w then return nil, err end
  local failed
  fn(function(...)
    if failed then return end
    local ok, werr = w:write(...)
    if not ok then failed = werr end
  end)
  if failed then
    w:abort()
    return nil, failed
  end
  local ok, cerr = w:commit()
  if not ok then return nil, cerr end
  return path
end

-- Writes data to path atomically (temp file, fsync, rename).
function M.write_atomic(path, data)
  local w, err = core.writer(path, false)
  if not w then return nil, err end
  local ok, werr = w:write(data)
  if not ok then
    w:abort()
    return nil, werr
  end
  return w:commit()
end

function M.exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

function M.is_dir(path)
  return core.listdir(path) ~= nil
end

-- mkdir -p
function M.mkdirs(path)
  local prefix = path:sub(1, 1) == "/" and "/" or ""
  for part in path:gmatch("[^/]+") do
    prefix = prefix .. part
    local ok, err = core.mkdir(prefix)
    if not ok then return nil, err end
    prefix = prefix .. "/"
  end
  return true
end

-- Is s a glob (has * ? or [)?
function M.is_glob(s)
  return s:find("[%*%?%[]") ~= nil
end

-- A Lua pattern matching exactly what the shell glob g matches.
function M.glob_pattern(g)
  local out = { "^" }
  local i = 1
  while i <= #g do
    local c = g:sub(i, i)
    if c == "*" then
      out[#out + 1] = ".*"
    elseif c == "?" then
      out[#out + 1] = "."
    elseif c == "[" then
      local j = g:find("]", i + 1, true)
      if j then
        local body = g:sub(i + 1, j - 1):gsub("^!", "^"):gsub("%%", "%%%%")
        out[#out + 1] = "[" .. body .. "]"
        i = j
      else
        out[#out + 1] = "%["
      end
    else
      out[#out + 1] = c:gsub("%W", "%%%0")
    end
    i = i + 1
  end
  out[#out + 1] = "$"
  return table.concat(out)
end

-- Levenshtein distance, for "did you mean".
function M.distance(a, b)
  local prev, cur = {}, {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    cur[0] = i
    local ca = a:byte(i)
    for j = 1, #b do
      local cost = ca == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev, cur = cur, prev
  end
  return prev[#b]
end

-- The names in candidates closest to name (at most n of them).
function M.closest(name, candidates, n)
  local scored = {}
  local lname = name:lower()
  for _, c in ipairs(candidates) do
    local lc = c:lower()
    local d = M.distance(lname, lc)
    if lc:find(lname, 1, true) then d = math.min(d, 1) end
    scored[#scored + 1] = { c, d }
  end
  table.sort(scored, function(x, y)
    if x[2] ~= y[2] then return x[2] < y[2] end
    return x[1] < y[1]
  end)
  local out = {}
  local limit = math.max(2, #name // 2)
  for i = 1, math.min(n, #scored) do
    if scored[i][2] <= limit then out[#out + 1] = scored[i][1] end
  end
  return out
end

-- Checks that every key of opts (a table of named options, or nil) is
-- one of valid (a list of names). Returns true, or nil and "what: unknown
-- option 'k' (did you mean 'x'?)" for the first stray key.
function M.check_options(what, opts, valid)
  if opts == nil then return true end
  if type(opts) ~= "table" then
    return nil, string.format("%s: options must be a table, not a %s", what, type(opts))
  end
  local known, bad = {}, {}
  for _, k in ipairs(valid) do known[k] = true end
  for k in pairs(opts) do
    if not known[k] then bad[#bad + 1] = k end
  end
  if #bad == 0 then return true end
  table.sort(bad, function(a, b) return tostring(a) < tostring(b) end)
  local k = bad[1]
  if type(k) ~= "string" then
    return nil, string.format("%s: options are named (name = value), not [%s]", what, tostring(k))
  end
  local near = M.closest(k, valid, 1)[1]
  local names = {}
  for i, v in ipairs(valid) do names[i] = v end
  table.sort(names)
  return nil, string.format("%s: unknown option '%s' (%s)", what, (k:gsub("%c", "?")),
    near and ("did you mean '" .. near .. "'?") or ("known: " .. table.concat(names, ", ")))
end

-- Quotes argv for display the way a shell user would type it.
function M.shell_join(argv)
  local out = {}
  for i, a in ipairs(argv) do
    if a == "" or a:find("[^%w%-%./_=:,+@%%]") then
      out[i] = "'" .. a:gsub("'", "'\\''") .. "'"
    else
      out[i] = a
    end
  end
  return table.concat(out, " ")
end

-- The executable argv0 resolves to through PATH, or nil.
function M.which(argv0, path)
  local function executable(p)
    local ok = io.open(p, "r")
    if not ok then return false end
    ok:close()
    return not M.is_dir(p)
  end
  if argv0:find("/", 1, true) then
    return executable(argv0) and argv0 or nil
  end
  for dir in ((path or os.getenv("PATH") or "/usr/bin:/bin") .. ":"):gmatch("([^:]*):") do
    local p = (dir == "" and "." or dir) .. "/" .. argv0
    if executable(p) then return p end
  end
  return nil
end

-- JSON text of v. dkjson, because lua-cjson 2.1 prints numbers with at
-- most 14 digits (a 48-bit MSR value loses its low bits) and empty
-- tables as objects; dkjson writes integers exactly and {} as [].
function M.json_encode(v)
  return dkjson.encode(v)
end

-- The value of JSON text (lua-cjson: fast on large event files), or nil,
-- message with where (a file name) in front.
function M.json_decode(s, where)
  local ok, v = pcall(cjson.decode, s)
  if not ok then return nil, (where or "JSON") .. ": not valid JSON (" .. tostring(v) .. ")" end
  return v
end

-- A deterministic text for a plain value (tables with sorted keys), to
-- compare decoded JSON structures.
function M.canonical(v)
  if type(v) == "number" then
    -- JSON brings integers back as floats: 3.0 and 3 are the same here.
    local i = math.tointeger(v)
    return i and tostring(i) or string.format("%.17g", v)
  end
  if type(v) ~= "table" then return string.format("%q", v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) ~= type(b) then return type(a) < type(b) end
    return a < b
  end)
  local out = {}
  for i, k in ipairs(keys) do out[i] = M.canonical(k) .. "=" .. M.canonical(v[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end

function M.human_duration(s)
  if s < 1 then return string.format("%.0f ms", s * 1000) end
  if s < 120 then return string.format("%.1f s", s) end
  return string.format("%dm%02ds", math.floor(s / 60), math.floor(s % 60))
end

return M
