-- A minimal experiment: how many write(2) calls does dd make for a given
-- count? Profiles `dd` for a few counts and prints the measured totals.
--   autoperf run experiments/dd-writes.lua [COUNT...]
local ap = require "autoperf"

local counts = { ... }
if #counts == 0 then counts = { "10", "100", "1000" } end
local dir = os.getenv("TMPDIR") or "/tmp"

-- Total of an event in a profile's summary.csv.
local function total(summary, name)
  for line in io.lines(summary) do
    local ev, value = line:match("^([^,]+),[^,]*,ok,%d+,(%d+),")
    if ev == name then return tonumber(value) end
  end
end

print(string.format("%8s  %12s  %14s", "count", "writes", "task-clock ns"))
for _, n in ipairs(counts) do
  local out = string.format("%s/autoperf-dd-%d-%s", dir, os.time(), n)
  local r, err = ap.profile({ "dd", "if=/dev/zero", "of=/dev/null", "bs=512", "count=" .. n, "status=none" },
    { out = out, events = { "syscalls:sys_enter_write", "task-clock" }, interval_ms = 0, force = true })
  if not r then error(err, 0) end
  local a = assert(ap.aggregate(out))
  print(string.format("%8s  %12d  %14d", n, total(a.summary, "syscalls:sys_enter_write"),
    total(a.summary, "task-clock")))
  os.execute("rm -rf '" .. out .. "'")
end
