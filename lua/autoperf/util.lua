-- Small helpers shared by the modules: strings, files, globs.
local cjson = require "cjson"
local core = require "autoperf.core"
local dkjson = require "dkjson"

local M = {}

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

-- "0x3c", "60": an integer of at most 64 bits (hex wraps into negative
-- integers, as C's uint64_t would); nil for anything else (the event
-- files' numeric strings: perfmon's and the kernel's JSON).
function M.parse_int(s)
  local hex = s:match("^0[xX](%x+)$")
  if hex then
    hex = hex:gsub("^0+", "")
    if #hex > 16 then return nil end
    return hex == "" and 0 or math.tointeger(tonumber(hex, 16))
  end
  if s:match("^%d+$") and #s <= 18 then return math.tointeger(tonumber(s)) end
  return nil
end

-- First line of a small (sysfs, procfs) file without its newline, or nil.
function M.read_line(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("l")
  f:close()
  return s
end


-- Writes path atomically (a name ending in .gz compresses): fn(write)
-- adds its text through write(...). The first failed write stops the
-- rest and drops the file. base (optional): a directory path lies below;
-- no symbolic link below it is followed (see core.writer). Returns path,
-- or nil, message.
function M.write_with(path, fn, base)
  local w, err = core.writer(path, path:match("%.gz$") ~= nil, base)
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

-- Writes data to path atomically (temp file, fsync, rename); base as for
-- write_with.
function M.write_atomic(path, data, base)
  local w, err = core.writer(path, false, base)
  if not w then return nil, err end
  local ok, werr = w:write(data)
  if not ok then
    w:abort()
    return nil, werr
  end
  return w:commit()
end

-- The bytes of a file of autoperf's own (manifest, journal) inside a
-- directory someone else may control: nil (no such file), or nil,
-- message when it is a symbolic link, not a regular file, or larger
-- than max bytes (default 256 MiB).
function M.read_own(path, max)
  local s, err, errno = core.slurp(path, max or 256 * 1024 * 1024)
  if s then return s end
  if errno == core.errno.ENOENT then return nil end
  return nil, err
end

function M.exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

function M.is_dir(path)
  return core.listdir(path) ~= nil
end

-- mkdir -p; with base (a prefix of path), the directories below base are
-- made and entered without following a symbolic link.
function M.mkdirs(path, base)
  if base then
    base = base:gsub("(.)/+$", "%1")
    local rel = path:sub(#base + 2)
    if path:sub(1, #base + 1) ~= base .. "/" or rel == "" then return M.mkdirs(path) end
    local ok, err = M.mkdirs(base)
    if not ok then return nil, err end
    return core.mkdirs_below(base, rel)
  end
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

-- "[...]" at g[i]: a set of bytes (ranges a-z, "!" or "^" first negates,
-- "]" first is itself) and the index after it; nil without a closing "]".
local function glob_class(g, i)
  local j, neg = i + 1, false
  local c = g:sub(j, j)
  if c == "!" or c == "^" then neg, j = true, j + 1 end
  local items, first = {}, true
  while j <= #g do
    c = g:sub(j, j)
    if c == "]" and not first then break end
    if g:sub(j + 1, j + 1) == "-" and j + 2 <= #g and g:sub(j + 2, j + 2) ~= "]" then
      items[#items + 1] = { c:byte(), g:byte(j + 2) }
      j = j + 3
    else
      items[#items + 1] = { c:byte(), c:byte() }
      j = j + 1
    end
    first = false
  end
  if j > #g then return nil end
  local set = {}
  for b = 0, 255 do
    local hit = false
    for _, r in ipairs(items) do hit = hit or (b >= r[1] and b <= r[2]) end
    if hit ~= neg then set[b] = true end
  end
  return set, j + 1
end

-- The glob g's pieces between its stars: each a list of one-byte tests
-- (a byte, true for "?", or a set), and its text when all are bytes.
local function glob_compile(g)
  local segs, seg, i = {}, {}, 1
  local function close()
    local lit = {}
    for k, t in ipairs(seg) do
      if type(t) ~= "number" then lit = nil break end
      lit[k] = string.char(t)
    end
    seg.text = lit and table.concat(lit)
    segs[#segs + 1] = seg
    seg = {}
  end
  while i <= #g do
    local c = g:sub(i, i)
    if c == "*" then
      close()
      i = i + 1
    elseif c == "?" then
      seg[#seg + 1] = true
      i = i + 1
    elseif c == "[" and glob_class(g, i) then
      local set, nexti = glob_class(g, i)
      seg[#seg + 1] = set
      i = nexti
    else
      seg[#seg + 1] = c:byte()
      i = i + 1
    end
  end
  close()
  return segs
end

-- Does segment seg match s at position p?
local function seg_at(seg, s, p)
  if seg.text then return s:sub(p, p + #seg - 1) == seg.text end
  for k, t in ipairs(seg) do
    local b = s:byte(p + k - 1)
    if not b then return false end
    if t ~= true and (type(t) == "number" and t ~= b or type(t) == "table" and not t[b]) then
      return false
    end
  end
  return true
end

-- The first position >= p where seg matches s, or nil.
local function seg_find(seg, s, p)
  if seg.text then return (s:find(seg.text, p, true)) end
  for q = p, #s - #seg + 1 do
    if seg_at(seg, s, q) then return q end
  end
  return nil
end

-- A function telling whether a name matches the shell glob g (* ? and
-- [...] as above; anything else is itself). It never backtracks: the
-- pieces between stars have fixed lengths, so the leftmost place of each
-- is the right one, and a name costs at most its length times g's.
function M.glob(g)
  local segs = glob_compile(g)
  local first, last, min = segs[1], segs[#segs], 0
  for _, seg in ipairs(segs) do min = min + #seg end
  return function(s)
    if #s < min then return false end
    if #segs == 1 then return #s == #first and seg_at(first, s, 1) end
    if not seg_at(first, s, 1) then return false end
    local p = #first + 1
    for k = 2, #segs - 1 do
      local q = seg_find(segs[k], s, p)
      if not q then return false end
      p = q + #segs[k]
    end
    local tail = #s - #last + 1
    return tail >= p and seg_at(last, s, tail)
  end
end

-- Levenshtein distance of a and b, for "did you mean"; with max, nil as
-- soon as it must exceed max (only a band of 2 max + 1 diagonals is
-- computed: time #a x max, whatever the length of b).
function M.distance(a, b, max)
  local la, lb = #a, #b
  max = max or math.max(la, lb)
  if math.abs(la - lb) > max then return nil end
  local big = max + 1
  local prev, cur = {}, {}
  for j = 0, math.min(lb, max) do prev[j] = j end
  prev[math.min(lb, max) + 1] = big
  for i = 1, la do
    local lo, hi = math.max(1, i - max), math.min(lb, i + max)
    cur[lo - 1] = lo == 1 and math.min(i, big) or big
    local rowmin = cur[lo - 1]
    local ca = a:byte(i)
    for j = lo, hi do
      local cost = ca == b:byte(j) and 0 or 1
      local v = math.min((prev[j] or big) + 1, cur[j - 1] + 1, prev[j - 1] + cost, big)
      cur[j] = v
      if v < rowmin then rowmin = v end
    end
    cur[hi + 1] = big
    if rowmin > max then return nil end
    prev, cur = cur, prev
  end
  local d = prev[lb]
  if d > max then return nil end
  return d
end

-- The names in candidates closest to name (at most n of them): those
-- that contain it, then those within a few edits (half its length, at
-- most 10: no time goes into names that far apart).
M.NEAR_EDITS = 10
function M.closest(name, candidates, n)
  local scored = {}
  local lname = name:lower()
  local limit = math.min(math.max(2, #name // 2), M.NEAR_EDITS)
  for _, c in ipairs(candidates) do
    local lc = c:lower()
    local d = lc:find(lname, 1, true) and 1 or M.distance(lname, lc, limit)
    if d then scored[#scored + 1] = { c, d } end
  end
  table.sort(scored, function(x, y)
    if x[2] ~= y[2] then return x[2] < y[2] end
    return x[1] < y[1]
  end)
  local out = {}
  for i = 1, math.min(n, #scored) do out[i] = scored[i][1] end
  return out
end

-- s for a message: control characters and other non-printable bytes as
-- \xNN (a name may carry terminal escapes); with max, cut to about max
-- bytes, saying how long it was.
function M.printable(s, max)
  s = tostring(s)
  local len = #s
  if max and len > max then s = s:sub(1, max) end
  s = s:gsub("[^\32-\126]", function(c) return string.format("\\x%02x", c:byte()) end)
  if max and len > max then s = s .. string.format("... (%d bytes)", len) end
  return s
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

-- Appends v to list unless seen[v], and marks it seen: list then holds
-- distinct values in the order they first came.
function M.append_new(list, seen, v)
  if not seen[v] then
    seen[v] = true
    list[#list + 1] = v
  end
end

-- The list by[key]; the first time a new one, and key goes at the end of
-- order (the keys in the order they first came).
function M.list_for(by, order, key)
  local list = by[key]
  if not list then
    list = {}
    by[key] = list
    order[#order + 1] = key
  end
  return list
end

-- A new list: a's items, then b's.
function M.concat(a, b)
  local out = {}
  for _, x in ipairs(a) do out[#out + 1] = x end
  for _, x in ipairs(b) do out[#out + 1] = x end
  return out
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
  if type(v) ~= "table" then
    -- JSON's null (a light userdata) has no literal form
    local t = type(v)
    return (t == "string" or t == "boolean" or t == "nil") and string.format("%q", v) or t
  end
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
