-- What machine this is: CPU model, topology, kernel, perf settings.
local core = require "autoperf.core"
local util = require "autoperf.util"

local M = {}

local SYS_CPU = "/sys/devices/system/cpu"

-- "0-3,8,10-11" -> {0,1,2,3,8,10,11}
function M.parse_cpulist(s)
  local out = {}
  for part in (s or ""):gmatch("[^,%s]+") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    if a then
      for c = tonumber(a), tonumber(b) do out[#out + 1] = c end
    elseif part:match("^%d+$") then
      out[#out + 1] = tonumber(part)
    else
      return nil, "bad cpu list '" .. s .. "'"
    end
  end
  return out
end

function M.online_cpus(root)
  root = root or SYS_CPU
  return M.parse_cpulist(util.read_line(root .. "/online") or "0")
end

local function node_of(root, cpu)
  for _, e in ipairs(core.listdir(root .. "/cpu" .. cpu) or {}) do
    local n = e.name:match("^node(%d+)$")
    if n then return tonumber(n) end
  end
  return 0
end

-- {[cpu] = {socket=, core=, node=}} for every online cpu.
function M.topology(root)
  root = root or SYS_CPU
  local topo = {}
  for _, cpu in ipairs(M.online_cpus(root)) do
    local base = root .. "/cpu" .. cpu .. "/topology/"
    topo[cpu] = {
      cpu = cpu,
      socket = tonumber(util.read_line(base .. "physical_package_id") or "") or 0,
      core = tonumber(util.read_line(base .. "core_id") or "") or cpu,
      node = node_of(root, cpu),
    }
  end
  return topo
end

function M.cpu_model()
  local f = io.open("/proc/cpuinfo", "r")
  if not f then return "unknown" end
  for line in f:lines() do
    local v = line:match("^model name%s*:%s*(.-)%s*$")
      or line:match("^CPU part%s*:%s*(.-)%s*$")
    if v then
      f:close()
      return v
    end
  end
  f:close()
  return "unknown"
end

local function proc_int(path)
  return tonumber(util.read_line(path) or "")
end

-- Does the kernel's NMI watchdog hold a hardware counter?
function M.nmi_watchdog()
  return proc_int("/proc/sys/kernel/nmi_watchdog") == 1
end

local CAP_SYS_ADMIN, CAP_PERFMON = 21, 38

-- What the kernel lets this process count (see perf_event_paranoid in the
-- kernel's Documentation/admin-guide/sysctl/kernel.rst): {euid=,
-- privileged= (root, CAP_PERFMON or CAP_SYS_ADMIN: no limit), paranoid=,
-- user_only= (the kernel must be excluded, as perf's :u), system_wide=
-- (may count per CPU, -a), none= (no perf event at all: Debian's 3)}.
-- paths: overrides for tests ({status=, paranoid=}).
function M.access(paths)
  paths = paths or {}
  local s = util.read_file(paths.status or "/proc/self/status") or ""
  local euid = tonumber(s:match("\nUid:%s+%d+%s+(%d+)") or "")
  local capeff = s:match("\nCapEff:%s+(%x+)")
  local caps = capeff and math.tointeger(tonumber(capeff, 16)) or 0
  local privileged = euid == 0 or (caps & (1 << CAP_PERFMON)) ~= 0 or (caps & (1 << CAP_SYS_ADMIN)) ~= 0
  local paranoid = proc_int(paths.paranoid or "/proc/sys/kernel/perf_event_paranoid")
  local level = privileged and -1 or (paranoid or 2)
  return {
    euid = euid, privileged = privileged, paranoid = paranoid,
    user_only = level >= 2, system_wide = level <= 0, none = level >= 3,
  }
end

-- Where tracepoints can be read: "ok", root | "unreadable", path (mounted,
-- but this user may not read it: tracefs is root's by default) |
-- "unmounted". mounts: the mount table to read, root: the readable root
-- (false: none; tests).
function M.tracefs_state(mounts, root)
  if root == nil then root = core.tracefs_root() end
  if root then return "ok", root end
  local tab = util.read_file(mounts or "/proc/self/mounts") or ""
  for line in tab:gmatch("[^\n]+") do
    local dir, fstype = line:match("^%S+ (%S+) (%S+)")
    if fstype == "tracefs" then return "unreadable", dir end
  end
  return "unmounted"
end

-- Everything the manifest records about the machine.
function M.describe()
  local topo = M.topology()
  local cpus = {}
  for cpu, t in pairs(topo) do cpus[#cpus + 1] = t end
  table.sort(cpus, function(a, b) return a.cpu < b.cpu end)
  local uts = util.read_line("/proc/sys/kernel/osrelease") or "unknown"
  return {
    hostname = util.read_line("/proc/sys/kernel/hostname") or "unknown",
    kernel = uts,
    cpu_model = M.cpu_model(),
    cpus = cpus,
    perf_event_paranoid = proc_int("/proc/sys/kernel/perf_event_paranoid"),
    nmi_watchdog = proc_int("/proc/sys/kernel/nmi_watchdog"),
    kptr_restrict = proc_int("/proc/sys/kernel/kptr_restrict"),
  }
end

return M
