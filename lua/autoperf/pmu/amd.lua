-- AMD core PMUs (libpfm4's amd64_* models): their rules, family by
-- family, as the kernel applies them (arch/x86/events/amd/core.c,
-- arch/x86/events/core.c; Linux 6.12). As data:
--   counters: M.counters(model) (4 before PERFCTR_CORE, 6 with it,
--     PerfMonV2's count from CPUID 0x80000022 on the host itself);
--   family 15h: per-event counter masks (M.f15h_counters) as
--     counters.generic lists on the records;
--   family 17h and later: pair events (M.is_pair, core/plan.c's pair);
--   family 19h branch sampling (BRS) pins only sampling events with a
--     branch stack: never a counting event (M.RULES' amd.brs);
--   northbridge events before family 15h: never refused at open, shared
--     across a node's CPUs at schedule time (M.RULES' amd.nb).
-- The kernel names the core PMU "cpu" on every family; no fixed
-- counters, no shared registers.
local core = require "autoperf.core"

local M = {}

M.name = "amd"

M.kernel_names = { "^amd_" }
M.shared = {}

-- The family of a libpfm4 model name ("amd64_fam17h_zen2" -> 0x17), or
-- nil; K7 is family 6, K8 family 0xf (libpfm4 names them amd64_k7,
-- amd64_k8_rev*).
function M.family(model)
  if type(model) ~= "string" then return nil end
  local f = model:match("^amd64_fam(%x+)h")
  if f then return tonumber(f, 16) end
  if model:match("^amd64_k8") then return 0xf end
  if model:match("^amd64_k7") then return 0x6 end
  return nil
end

-- The event code as the kernel reads it from config (amd_get_event_code()).
function M.event_code(config)
  return ((config >> 24) & 0x0f00) | (config & 0x00ff)
end

local function config_of(ev)
  if ev.type ~= 4 or not ev.config then return nil end
  return math.tointeger(ev.config)
end

-- Counters. amd_pmu_init() starts from amd_pmu (cntr_mask64 =
-- AMD64_NUM_COUNTERS, 4: K7, K8, families 10h-14h); amd_core_pmu_init()
-- with X86_FEATURE_PERFCTR_CORE (family 15h on) takes
-- AMD64_NUM_COUNTERS_CORE, 6, and with X86_FEATURE_PERFMON_V2 (CPUID
-- 0x80000022 EAX bit 0: Zen 4) EBX[3:0] of that leaf (num_core_pmc).
-- Family 16h (Jaguar, Puma): libpfm4 and LIKWID give it 4 counters; the
-- kernel gives 6 where the CPU sets perfctr_core, which no source here
-- can tell for a modelled part, so 4, which any of those kernels holds.
M.NUM_COUNTERS, M.NUM_COUNTERS_CORE = 4, 6
M.PERFMON_V2_LEAF = 0x80000022
M.PERFMON_V2_MODELS = { amd64_fam19h_zen4 = true }

function M.perfctr_core(fam)
  return fam >= 0x15 and fam ~= 0x16
end

-- Is this machine's CPU an AMD part of family fam? (CPUID 0 and 1)
local function host_family_is(fam)
  local _, b, c, d = core.cpuid(0, 0)
  if not b then return false end
  -- "AuthenticAMD" in EBX, EDX, ECX
  if b ~= 0x68747541 or d ~= 0x69746e65 or c ~= 0x444d4163 then return false end
  local a = core.cpuid(1, 0)
  if not a then return false end
  local base, ext = (a >> 8) & 0xf, (a >> 20) & 0xff
  return (base == 0xf and base + ext or base) == fam
end

local host_cache = {}

-- The generic counters of model and where the number comes from:
-- n, source. host: the model is the one libpfm4 detected here, not a
-- chosen one (--pmu, LIBPFM_FORCE_PMU); only then is CPUID read, and
-- only if this CPU is of the model's family.
function M.counters(model, host)
  local fam = M.family(model)
  if not fam then return nil end
  if not M.perfctr_core(fam) then
    return M.NUM_COUNTERS, "AMD64_NUM_COUNTERS (amd_pmu_init: no perfctr_core)"
  end
  local v2 = M.PERFMON_V2_MODELS[model]
  if host and (v2 or fam >= 0x19) then
    local key = model
    if host_cache[key] == nil then
      local n, why
      if host_family_is(fam) then
        local a, b = core.cpuid(M.PERFMON_V2_LEAF, 0)
        if a and a & 1 == 1 and b & 0xf > 0 then
          n = b & 0xf
        elseif a then
          why = "CPUID 0x80000022 reports no PerfMonV2"
        else
          why = b
        end
      else
        why = "this CPU is not of the model's family"
      end
      host_cache[key] = n and { n, "CPUID 0x80000022 EBX[3:0] (amd_core_pmu_init, PerfMonV2)" }
        or { M.NUM_COUNTERS_CORE, "AMD64_NUM_COUNTERS_CORE (amd_core_pmu_init; " .. tostring(why) .. ")" }
    end
    return host_cache[key][1], host_cache[key][2]
  end
  if v2 then
    return M.NUM_COUNTERS_CORE, "Zen 4's PerfMonV2 count (CPUID 0x80000022 EBX[3:0] = 6 on Zen 4; not read for a chosen model)"
  end
  return M.NUM_COUNTERS_CORE, "AMD64_NUM_COUNTERS_CORE (amd_core_pmu_init: perfctr_core)"
end

-- Family 15h per-event counter masks, as amd_get_event_constraints_f15h()
-- hands them out (the amd_f15_PMC* constraints: PMC0 = 0x01, PMC20 =
-- 0x07, PMC3 = 0x08, PMC30 = 0x09, PMC50 = 0x3f, PMC53 = 0x38), by event
-- code type (code & 0xf0) and its exceptions. The counter list of config,
-- or {} where the kernel's constraint is empty (validate_event() then
-- refuses the event at open with EINVAL: 0x031 with more than one umask
-- bit, types 0xa0/0xb0, and the NB types 0xe0/0xf0, which family 15h
-- counts on the uncore PMU).
local PMC0, PMC20, PMC3, PMC30, PMC50, PMC53 = { 0 }, { 0, 1, 2 }, { 3 }, { 0, 3 },
  { 0, 1, 2, 3, 4, 5 }, { 3, 4, 5 }
M.F15H_MASKS = { PMC0 = PMC0, PMC20 = PMC20, PMC3 = PMC3, PMC30 = PMC30, PMC50 = PMC50, PMC53 = PMC53 }

local function umask_bits(config)
  local u, n = (config >> 8) & 0xff, 0
  while u ~= 0 do n, u = n + (u & 1), u >> 1 end
  return n
end

function M.f15h_counters(config)
  local code = M.event_code(config)
  local t = code & 0xf0
  if t == 0x00 or t == 0x10 then -- AMD_EVENT_FP
    if code == 0x000 then
      if config & 0xf000 ~= 0 and config & 0x0f00 ~= 0 then return PMC3 end
    elseif code == 0x004 then
      if umask_bits(config) > 1 then return PMC3 end
    elseif code == 0x003 or code == 0x00b or code == 0x00d then
      return PMC3
    end
    return PMC53
  elseif t == 0x20 or t == 0x30 or t == 0x40 or t == 0x50 or t == 0xc0 then -- LS, DC, EX_LS
    if code == 0x023 or code == 0x043 or code == 0x045 or code == 0x046 or code == 0x054 or code == 0x055 then
      return PMC20
    elseif code == 0x02d then
      return PMC3
    elseif code == 0x02e then
      return PMC30
    elseif code == 0x031 then
      return umask_bits(config) <= 1 and PMC20 or {}
    elseif code == 0x1c0 then
      return PMC53
    end
    return PMC50
  elseif t == 0x60 or t == 0x70 or t == 0x80 or t == 0x90 or t == 0xd0 then -- CU, IC_DE, DE
    if code == 0x08f or code == 0x187 or code == 0x188 then return PMC0 end
    if (code >= 0x0db and code <= 0x0df) or code == 0x1d6 or code == 0x1d8 then return PMC50 end
    return PMC20
  end
  return {} -- AMD_EVENT_NB ("moved to uncore.c") and the unused types
end

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

-- Is ev (a catalog record) a pair event on its model?
function M.is_pair(ev)
  local fam = M.family(ev.model)
  local config = config_of(ev)
  if not fam or fam < M.PAIR_MIN_FAMILY or not config then return false end
  return M.PAIR_EVENT_CODES[M.event_code(config)] == true
end

-- Northbridge events of the families before 15h: amd_is_nb_event()
-- (config & 0xe0 == 0xe0, event codes 0xe0-0xff).
function M.is_nb(ev)
  local fam = M.family(ev.model)
  local config = config_of(ev)
  return fam ~= nil and not M.perfctr_core(fam) and config ~= nil and config & 0xe0 == 0xe0
end

-- Is ev restricted by family 15h's masks to fewer than all 6 counters?
function M.is_f15h_masked(ev)
  local config = config_of(ev)
  return M.family(ev.model) == 0x15 and config ~= nil and #M.f15h_counters(config) < M.NUM_COUNTERS_CORE
end

-- The counter facts of a libpfm4 core event of an AMD model, for the
-- catalog: {generic_count=, fixed_count=0, generic={...} (family 15h's
-- mask), source=} (source: where the count comes from). host: see
-- M.counters.
function M.pfm_counters(pfm_pmu, ev, host)
  local n, source = M.counters(pfm_pmu.name, host)
  if not n then return nil end
  local c = { generic_count = n, fixed_count = 0, source = source }
  local config = config_of(ev)
  if M.family(pfm_pmu.name) == 0x15 and config then c.generic = M.f15h_counters(config) end
  return c
end

-- The rules 'autoperf stats' reports (pmu.rules()): which apply to an event.
M.RULES = {
  { id = "amd.pair", cite = "arch/x86/events/amd/core.c: amd_get_event_constraints_f17h()",
    what = "large increment per cycle event (code 0x003, family 17h+): an even counter and the odd one beside it",
    applies = M.is_pair },
  { id = "amd.f15h-mask", cite = "arch/x86/events/amd/core.c: amd_get_event_constraints_f15h()",
    what = "family 15h: the event code allows only some of the 6 counters (amd_f15_PMC* masks)",
    applies = M.is_f15h_masked },
  { id = "amd.nb", cite = "arch/x86/events/amd/core.c: amd_get_event_constraints(), __amd_get_nb_event_constraints()",
    what = "northbridge event (0xe0-0xff, before family 15h): one of the node's 4 counter slots at schedule time; "
      .. "never refused at open (fake cpuc), multiplexed only when a node's CPUs want more than 4 at once",
    applies = M.is_nb },
  -- amd_get_event_constraints_f19h() pins events with PERF_X86_EVENT_AMD_BRS
  -- to PMC0, a flag only amd_brs_hw_config() sets, and only for sampling
  -- events with a branch stack (it refuses counting events: EINVAL). A
  -- counting event, all autoperf opens, is never pinned.
  { id = "amd.brs", cite = "arch/x86/events/amd/core.c: amd_get_event_constraints_f19h(); amd/brs.c: amd_brs_hw_config()",
    what = "family 19h branch sampling pins sampled events with a branch stack to PMC0; no counting event",
    applies = function() return false end },
}

-- libpfm4 describes its AMD PMUs as "AMD64 ...".
function M.claims_pfm(pfm_pmu)
  return (pfm_pmu.desc or ""):match("^AMD") ~= nil
end

return M
