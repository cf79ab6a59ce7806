-- AMD core PMUs (libpfm4's amd64_* models): a place for their rules.
-- Not modelled yet: no shared registers, the counters come from libpfm4's
-- counts (or the kernel), and nothing is isolated. When added, as data:
--   core counters: 6 generic on Zen (4 before family 15h), no fixed
--     ones; the kernel names the core PMU "cpu", L3 "amd_l3", data
--     fabric "amd_df";
--   events restricted to counter subsets (family 15h's masks) as
--     counters = {generic = {...}} on the records;
--   shared resources (none today) in M.shared, like intel.lua's.
local M = {}

M.name = "amd"

M.kernel_names = { "^amd_" }
M.shared = {}

-- libpfm4 describes its AMD PMUs as "AMD64 ...".
function M.claims_pfm(pfm_pmu)
  return (pfm_pmu.desc or ""):match("^AMD") ~= nil
end

return M
