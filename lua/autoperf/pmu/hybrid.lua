-- Hybrid Intel parts (Alder Lake and later): two core PMUs, cpu_core and
-- cpu_atom, each with its own counters and events; an event counts only on
-- the CPUs of its PMU. A place for their rules, not modelled yet: when
-- added, each half is an intel.lua-like model (shared registers as
-- intel.shared) named by the kernel as below, and the runner opens each
-- group on its half's CPUs (sysfs cpu_*/cpus).
local M = {}

M.name = "hybrid"

M.kernel_names = { "^cpu_core$", "^cpu_atom$" }
M.shared = {}

return M
