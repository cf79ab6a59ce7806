-- The kernel's own PMUs: software events and tracepoints. They have no
-- counters to compete for: a run holds as many as the kernel lets one
-- process open (group read size, descriptors; see plan.lua).
local M = {}

M.name = "kernel"

-- How the kernel names them (perf_event_attr.type 1 and 2).
M.kernel_names = { "^software$", "^tracepoint$" }
M.types = { software = 1, tracepoint = 2 }

M.counters = false -- unlimited
M.shared = {}

return M
