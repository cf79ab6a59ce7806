-- Shared by the specs: where the binary and workloads are, running the
-- CLI, temporary directories, reading CSV.
local core = require "autoperf.core"
local luassert = require "luassert"

local T = {}

T.bin = os.getenv("AUTOPERF_BIN") or "./autoperf"
T.workloads = os.getenv("AUTOPERF_WORKLOADS") or "build/workloads"
-- Intel's published event and metric files (the shared PMU data)
T.pmu_data = os.getenv("AUTOPERF_PMU_DATA") or "../shared/pmu-data/intel"

function T.workload(name)
  return T.workloads .. "/" .. name
end

function T.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  -- nil when the file went away after the open (a process that exited)
  local s = f:read("a")
  f:close()
  return s or ""
end
T.slurp = slurp

-- The items of list by their name field.
function T.by_name(list)
  local t = {}
  for _, e in ipairs(list) do t[e.name] = e end
  return t
end

-- Whether the file at path is there to read.
function T.have(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

function T.tmpdir()
  local p = io.popen("mktemp -d /tmp/autoperf-spec.XXXXXX")
  local d = p:read("l")
  p:close()
  return d
end

function T.rmtree(dir)
  assert(dir:match("^/tmp/autoperf%-spec%."), "refusing to remove " .. dir)
  os.execute("rm -rf " .. T.quote(dir))
end

-- Writes the strings to path (the spec's own fixture: failing is a bug
-- of the spec).
function T.write(path, ...)
  local f = assert(io.open(path, "wb"))
  f:write(...)
  f:close()
end

-- The lines of a file, plain or gzip (read through core.reader).
function T.gz_lines(path)
  local r = assert(core.reader(path))
  local out = {}
  while true do
    local l = r:read()
    if not l then break end
    out[#out + 1] = l
  end
  r:close()
  return out
end

-- The non-empty lines of s.
function T.lines(s)
  local out = {}
  for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

-- A fresh temporary directory for each test of the enclosing describe:
-- set(dir) before the test, removed after it. busted's before_each and
-- after_each live in the spec file's environment, so the spec hands them.
function T.each_tmpdir(before_each, after_each, set)
  local d
  before_each(function()
    d = T.tmpdir()
    set(d)
  end)
  after_each(function() T.rmtree(d) end)
end

-- Runs a shell command line; returns stdout, stderr, exit code (128+n
-- when killed by signal n).
function T.sh(cmdline)
  local dir = T.tmpdir()
  local ok, how, code = os.execute(string.format("(%s) >%s/out 2>%s/err", cmdline,
    T.quote(dir), T.quote(dir)))
  local out, err = slurp(dir .. "/out"), slurp(dir .. "/err")
  T.rmtree(dir)
  if how == "signal" then code = 128 + code end
  return out, err, ok and 0 or code
end

-- Runs autoperf with the given arguments (each quoted).
function T.autoperf(...)
  local parts = { T.quote(T.bin) }
  for _, a in ipairs({ ... }) do parts[#parts + 1] = T.quote(a) end
  return T.sh(table.concat(parts, " "))
end

-- Rows of a CSV file (no quoting needed for our fixtures) as arrays;
-- the header as the first row.
function T.csv(path)
  local rows = {}
  for line in io.lines(path) do
    local row = {}
    for f in (line .. ","):gmatch("([^,]*),") do row[#row + 1] = f end
    rows[#rows + 1] = row
  end
  return rows
end

-- The row of rows (as T.csv reads them) whose first field is name, the
-- last such, or nil.
function T.csv_row(rows, name)
  local found
  for _, row in ipairs(rows) do
    if row[1] == name then found = row end
  end
  return found
end

-- Sum of SAMPLE_VALUE of an event in results.csv.
function T.event_total(results, name)
  local total, seen = 0, false
  for i, row in ipairs(T.csv(results)) do
    if i > 1 and row[1] == name then
      total = total + tonumber(row[9])
      seen = true
    end
  end
  return seen and total or nil
end

-- Descriptors this process has open, after a full collection (a reader
-- or writer an earlier spec left to the collector would otherwise close
-- its file in the middle of a count).
function T.open_fds()
  collectgarbage("collect")
  collectgarbage("collect")
  return #assert(core.listdir("/proc/self/fd"))
end

-- fn(...) raises an error that matches pattern, 20 times over, and
-- leaves no descriptor open (what it opened is closed before the error
-- goes on).
function T.raises_closing(pattern, fn, ...)
  local fds = T.open_fds()
  for _ = 1, 20 do
    local ok, err = pcall(fn, ...)
    luassert.is_false(ok)
    luassert.matches(pattern, err)
  end
  luassert.equal(fds, T.open_fds())
end

T.tracefs = core.tracefs_root()

-- Where tracefs is mounted (from /proc/self/mounts), readable or not.
T.tracefs_mount = nil
for line in io.lines("/proc/self/mounts") do
  local where, kind = line:match("^%S+ (%S+) (%S+)")
  if kind == "tracefs" then T.tracefs_mount = where break end
end

-- Why a spec that needs tracepoints does not run here (nil when it can).
T.no_tracefs = not T.tracefs and (T.tracefs_mount
  and "tracefs is mounted at " .. T.tracefs_mount .. " but not readable by this user"
  or "tracefs is not mounted") or nil

-- Processes whose parent is pid (from /proc).
function T.children(pid)
  local out = {}
  for _, e in ipairs(core.listdir("/proc") or {}) do
    if e.name:match("^%d+$") then
      local stat = slurp("/proc/" .. e.name .. "/stat")
      local ppid = stat:match("^%d+ %b() %S+ (%d+)")
      if tonumber(ppid) == pid then out[#out + 1] = tonumber(e.name) end
    end
  end
  return out
end

-- Live processes (from /proc, no pgrep: a minimal Debian has none), each
-- {pid=, ppid=, pgid=, comm=, cmdline= (arguments joined by spaces)},
-- zombies left out; only those for which keep(p) is true when given.
function T.procs(keep)
  local out = {}
  for _, e in ipairs(core.listdir("/proc") or {}) do
    if e.name:match("^%d+$") then
      local stat = slurp("/proc/" .. e.name .. "/stat")
      local comm, state, ppid, pgid = stat:match("^%d+ (%b()) (%S+) (%d+) (%d+)")
      if comm and state ~= "Z" then
        local p = { pid = tonumber(e.name), ppid = tonumber(ppid), pgid = tonumber(pgid),
                    comm = comm:sub(2, -2),
                    cmdline = (slurp("/proc/" .. e.name .. "/cmdline"):gsub("%z$", ""):gsub("%z", " ")) }
        if not keep or keep(p) then out[#out + 1] = p end
      end
    end
  end
  return out
end

-- Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what gnuplot's
-- pngcairo writes): {width=, height=, pixel=function(x, y) -> r, g, b}
-- (0-based), or nil, why.
function T.png(path)
  local s = slurp(path)
  if s:sub(1, 8) ~= "\137PNG\r\n\26\n" then return nil, "not a PNG" end
  local pos, idat, w, h, depth, ctype, interlace = 9, {}
  while pos <= #s do
    local len, typ = string.unpack(">I4c4", s, pos)
    local data = s:sub(pos + 8, pos + 7 + len)
    if typ == "IHDR" then
      w, h, depth, ctype, _, _, interlace = string.unpack(">I4I4BBBBB", data)
    elseif typ == "IDAT" then
      idat[#idat + 1] = data
    elseif typ == "IEND" then
      break
    end
    pos = pos + 12 + len
  end
  if not w then return nil, "no IHDR" end
  if depth ~= 8 or (ctype ~= 2 and ctype ~= 6) or interlace ~= 0 then
    return nil, string.format("unsupported PNG (depth %d, colour type %d, interlace %d)", depth, ctype, interlace)
  end
  local raw, err = core.inflate(table.concat(idat))
  if not raw then return nil, err end
  local bpp = ctype == 6 and 4 or 3
  local stride = w * bpp
  if #raw ~= h * (stride + 1) then return nil, "image data has the wrong size" end
  local rows, prev = {}, {}
  for i = 1, stride do prev[i] = 0 end
  for y = 0, h - 1 do
    local off = y * (stride + 1)
    local ftype = raw:byte(off + 1)
    local cur = { raw:byte(off + 2, off + 1 + stride) }
    for i = 1, stride do
      local a = i > bpp and cur[i - bpp] or 0
      local b = prev[i]
      local c = i > bpp and prev[i - bpp] or 0
      local x = cur[i]
      if ftype == 1 then
        x = x + a
      elseif ftype == 2 then
        x = x + b
      elseif ftype == 3 then
        x = x + (a + b) // 2
      elseif ftype == 4 then
        local p = a + b - c
        local pa, pb, pc = math.abs(p - a), math.abs(p - b), math.abs(p - c)
        x = x + ((pa <= pb and pa <= pc) and a or (pb <= pc and b or c))
      end
      cur[i] = x & 255
    end
    rows[y] = cur
    prev = cur
  end
  return {
    width = w, height = h,
    pixel = function(x, y)
      local row, i = rows[y], x * bpp
      return row[i + 1], row[i + 2], row[i + 3]
    end,
  }
end

-- The entries of a profile's journal.jsonl, decoded.
-- autoperf plan --smt on --json over the perfmon files given, decoded.
function T.plan_json(...)
  local args = { "plan", "--smt", "on", "--json" }
  for _, f in ipairs({ ... }) do
    args[#args + 1] = "--events-json"
    args[#args + 1] = f
  end
  local out, err, code = T.autoperf(table.unpack(args))
  assert(code == 0, err)
  return require("cjson").decode(out)
end

-- The decoded JSON file at path (a manifest, say).
function T.json(path)
  return require("cjson").decode(slurp(path))
end

function T.journal(dir)
  local out = {}
  for l in slurp(dir .. "/journal.jsonl"):gmatch("[^\n]+") do out[#out + 1] = require("cjson").decode(l) end
  return out
end

-- State letter of a process (R, S, Z, ...) or nil when gone.
function T.state(pid)
  local stat = slurp("/proc/" .. pid .. "/stat")
  return stat:match("^%d+ %b() (%S+)")
end

return T
