-- AMD core PMUs (libpfm4's amd64_* models): their rules.
-- Modelled: "large increment per cycle" events (M.is_pair). Not modelled
-- yet: no shared registers, the counters come from libpfm4's counts (or
-- the kernel), and nothing is isolated. When added, as data:
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

-- Large increment per cycle events, which the kernel places on an even
-- counter and pairs with the odd one beside it (the Merge event), so that
-- 6 counters hold at most 3 of them and nothing else then. The kernel's
-- rule (arch/x86/events/amd/core.c): amd_core_pmu_init() sets PMU_FL_PAIR
-- and pair_constraint (the even counters below num_counters - 1) for
-- family >= 0x17, every Zen; amd_is_pair_event_code() names the event
-- codes, today only 0x003 (Retired SSE/AVX FLOPs), with the code as
-- amd_get_event_code() reads it (config bits 0-7 and 32-35);
-- amd_get_event_constraints_f17h() (and _f19h) hand out pair_constraint.
M.PAIR_EVENT_CODES = { [0x003] = true }
M.PAIR_MIN_FAMILY = 0x17

-- The family of a libpfm4 model name ("amd64_fam17h_zen2" -> 0x17), or nil.
function M.family(model)
  local f = type(model) == "string" and model:match("^amd64_fam(%x+)h")
  return f and tonumber(f, 16) or nil
end

-- The event code as the kernel reads it from config.
function M.event_code(config)
  return ((config >> 24) & 0x0f00) | (config & 0x00ff)
end

-- Is ev (a catalog record) a pair event on its model?
function M.is_pair(ev)
  local fam = M.family(ev.model)
  if not fam or fam < M.PAIR_MIN_FAMILY or ev.type ~= 4 or not ev.config then return false end
  return M.PAIR_EVENT_CODES[M.event_code(math.tointeger(ev.config) or 0)] == true
end

-- libpfm4 describes its AMD PMUs as "AMD64 ...".
function M.claims_pfm(pfm_pmu)
  return (pfm_pmu.desc or ""):match("^AMD") ~= nil
end

return M
