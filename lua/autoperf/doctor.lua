-- doctor: what this machine lets autoperf measure, and how to change it.
-- Every check is {name=, level="ok"|"note"|"warn", text=, fix=}; nothing
-- here refuses: a degraded but honest profile is always possible.
local core = require "autoperf.core"
local machine = require "autoperf.machine"
local plan = require "autoperf.plan"
local util = require "autoperf.util"

local M = {}

local function int_file(path)
  return tonumber(util.read_line(path) or "")
end

-- paths: overrides for tests ({paranoid=, nmi=, kptr=}).
function M.checks(paths)
  paths = paths or {}
  local out = {}
  local function add(name, level, text, fix)
    out[#out + 1] = { name = name, level = level, text = text, fix = fix }
  end

  local access = machine.access({ paranoid = paths.paranoid })
  local privileged = access.privileged
  if privileged then
    add("privileges", "ok", access.euid == 0 and "running as root" or "CAP_PERFMON/CAP_SYS_ADMIN held")
  else
    add("privileges", "note", "not root: counting is limited by perf_event_paranoid",
      "run as root, or grant the binary CAP_PERFMON: sudo setcap cap_perfmon+ep $(command -v autoperf)")
  end

  local paranoid = int_file(paths.paranoid or "/proc/sys/kernel/perf_event_paranoid")
  if paranoid == nil then
    add("perf_event_paranoid", "warn", "no /proc/sys/kernel/perf_event_paranoid: this kernel has no perf events",
      "use a kernel built with CONFIG_PERF_EVENTS")
  elseif privileged or paranoid <= 0 then
    add("perf_event_paranoid", "ok", string.format("perf_event_paranoid = %d%s", paranoid,
      privileged and " (no limit for this user)" or ""))
  else
    local what = paranoid >= 3 and "no perf events at all for unprivileged users (Debian's level 3)"
      or paranoid == 2 and "user-space counts of your own processes only (profiles exclude the kernel, as " ..
        "perf's :u); no tracepoints, no -a"
      or "no system-wide (-a) counting"
    add("perf_event_paranoid", "warn", string.format("perf_event_paranoid = %d: %s", paranoid, what),
      paranoid >= 2 and "sudo sysctl kernel.perf_event_paranoid=1 (kernel counts, tracepoints), =0 (-a as well)"
        or "sudo sysctl kernel.perf_event_paranoid=0")
  end

  local kptr = int_file(paths.kptr or "/proc/sys/kernel/kptr_restrict")
  if kptr and kptr > 0 then
    add("kptr_restrict", "note", string.format("kptr_restrict = %d: kernel addresses hidden; counting is not affected", kptr),
      "sudo sysctl kernel.kptr_restrict=0 (only matters for tools that resolve kernel symbols)")
  elseif kptr then
    add("kptr_restrict", "ok", "kptr_restrict = 0")
  end

  local hw = core.probe({ type = 0, config = 0 }) == true
  local nmi = int_file(paths.nmi or "/proc/sys/kernel/nmi_watchdog")
  if nmi == 1 and hw then
    add("nmi_watchdog", "note", "nmi_watchdog = 1: the kernel holds one hardware counter; plans use one fewer",
      "sudo sysctl kernel.nmi_watchdog=0 (frees the counter)")
  elseif nmi then
    add("nmi_watchdog", "ok", string.format("nmi_watchdog = %d%s", nmi, hw and "" or " (no hardware PMU: no counter held)"))
  end

  local tstate, root = machine.tracefs_state(paths.mounts)
  if tstate == "ok" then
    local n = #(core.tracepoints(root) or {})
    add("tracefs", "ok", string.format("tracefs at %s: %d tracepoints", root, n))
  elseif tstate == "unreadable" then
    add("tracefs", "warn", string.format("tracefs is mounted at %s but not readable by this user: " ..
      "no tracepoint can be measured", root),
      string.format("run as root, or let your group read it: sudo chgrp -R GROUP %s && sudo chmod -R g+rX %s " ..
        "(and perf_event_paranoid <= 1)", root, root))
  else
    add("tracefs", "warn", "tracefs is not mounted: no tracepoint can be measured",
      "sudo mount -t tracefs nodev /sys/kernel/tracing")
  end

  local soft = core.raise_nofile()
  if soft then
    local level = soft >= 4096 and "ok" or "note"
    add("open files", level, string.format("RLIMIT_NOFILE raised to %d descriptors: up to %d events per run",
      soft, soft - plan.RESERVED_FDS), level ~= "ok" and "raise the hard limit (ulimit -Hn, /etc/security/limits.conf) to fit more events per run" or nil)
  end

  if hw then
    add("hardware PMU", "ok", "the kernel exposes a hardware PMU: hardware events are measured for real")
  else
    add("hardware PMU", "note",
      "no hardware PMU in this kernel (a VM without a virtual PMU?): software events and tracepoints only; " ..
      "hardware events can be planned (autoperf plan --pmu MODEL) but not measured",
      "use bare metal or a VM with a virtual PMU (KVM: -cpu host,pmu=on; cloud: a metal instance)")
  end
  return out
end

-- The checks as text lines.
function M.format(checks, color)
  local tag = { ok = "ok  ", note = "note", warn = "WARN" }
  local paint = { ok = "\27[32m", note = "\27[33m", warn = "\27[31m" }
  local out = {}
  for _, c in ipairs(checks) do
    local t = tag[c.level]
    if color then t = paint[c.level] .. t .. "\27[0m" end
    out[#out + 1] = string.format("%s %-20s %s", t, c.name, c.text)
    if c.fix and c.level ~= "ok" then out[#out + 1] = string.format("     %-20s fix: %s", "", c.fix) end
  end
  return table.concat(out, "\n") .. "\n"
end

-- The checks a profile should mention before it starts: warnings only.
function M.warnings(checks)
  local out = {}
  for _, c in ipairs(checks) do
    if c.level == "warn" then out[#out + 1] = c.text .. (c.fix and (" (fix: " .. c.fix .. ")") or "") end
  end
  return out
end

return M
