-- Shared by the specs: where the binary and workloads are, running the
-- CLI, temporary directories, reading CSV.
local core = require "autoperf.core"

local T = {}

T.bin = os.getenv("AUTOPERF_BIN") or "./autoperf"
T.workloads = os.getenv("AUTOPERF_WORKLOADS") or "build/workloads"

function T.workload(name)
  return T.workloads .. "/" .. name
end

function T.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end
T.slurp = slurp

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

T.tracefs = core.tracefs_root()

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

-- State letter of a process (R, S, Z, ...) or nil when gone.
function T.state(pid)
  local stat = slurp("/proc/" .. pid .. "/stat")
  return stat:match("^%d+ %b() (%S+)")
end

return T
