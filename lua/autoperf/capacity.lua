-- capacity: how many counters the core PMU gives one group, learnt from
-- the kernel when no source says so.
--
-- libpfm4 and Intel's perfmon files carry counter counts; arm64's
-- armv8_pmuv3 does not publish its count in sysfs, and libpfm4 knows only
-- some arm64 cores. The kernel knows: it validates a group at open and
-- refuses the member that no longer fits. core.capacity(attr) opens copies
-- of an event in one group until that happens (leader created enabled; see
-- core/capacity.c for why). A programmable-only event gives the generic
-- counters; cycles, which may also take the dedicated cycle counter, gives
-- generic + fixed.
local core = require "autoperf.core"
local defaults = require "autoperf.defaults"
local pmu_mod = require "autoperf.pmu"

local M = {}

-- Per architecture: the event that only programmable counters count, the
-- cycles event, and the events the dedicated (fixed) counters take (the
-- PMU families' facts: pmu/arm64.lua, pmu/intel.lua).
M.PROBES = { aarch64 = pmu_mod.probes("aarch64"), default = pmu_mod.probes("x86_64") }

-- errnos that mean "this kernel has no such hardware PMU event".
local function no_pmu(errno)
  local E = core.errno
  return errno == E.ENOENT or errno == E.EOPNOTSUPP or errno == E.ENODEV or errno == E.EINVAL
end

local function attr(ev)
  -- user-only, so that perf_event_paranoid 2 allows it
  return { type = ev.type, config = ev.config, exclude_kernel = true, exclude_hv = true }
end

-- The core PMU's counters as the kernel sees them:
-- {generic=n, fixed=n, fixed_events={...}, how="..."}, or nil, message
-- ("no hardware PMU: ..." where the kernel has none). opts.probe and
-- opts.arch replace core.capacity and core.ARCH (specs).
function M.discover(opts)
  opts = opts or {}
  local probe = opts.probe or core.capacity
  local arch = opts.arch or core.ARCH
  local p = M.PROBES[arch] or M.PROBES.default
  local g, err, errno = probe(attr(p.generic))
  if not g then
    if no_pmu(errno) then return nil, "no hardware PMU: " .. p.generic.name .. " does not open (" .. err .. ")" end
    return nil, "cannot probe the counters with " .. p.generic.name .. ": " .. err
  end
  local c = probe(attr(p.cycles)) or g
  return {
    generic = g, fixed = math.max(0, c - g), fixed_events = p.fixed_events,
    how = string.format("probed from the kernel: %d x %s, %d x %s in one group", g, p.generic.name, c, p.cycles.name),
  }
end

-- "cpu:8" or "cpu:6+1,other:4" (PMU:GENERIC[+FIXED]) ->
-- {cpu={generic=8, fixed=0}}, or nil, message.
function M.parse(s)
  local out = {}
  for item in s:gmatch("[^,]+") do
    local pmu, g, f = item:match("^%s*([%w_%-]+):(%d+)%+?(%d*)%s*$")
    if not pmu then
      return nil, "AUTOPERF_COUNTERS: '" .. item .. "' is not PMU:GENERIC[+FIXED] (e.g. cpu:8 or cpu:6+1)"
    end
    out[pmu] = { generic = math.tointeger(tonumber(g)), fixed = math.tointeger(tonumber(f ~= "" and f or "0")) }
  end
  if next(out) == nil then return nil, "AUTOPERF_COUNTERS is empty" end
  return out
end

local function has_facts(ev)
  local c = ev.counters
  return c ~= nil and (c.generic ~= nil or c.fixed ~= nil or c.generic_count ~= nil or c.fixed_count ~= nil)
end

-- The planner's counters option (plan.lua's opts.counters) for events
-- selected from cat, and why: the testing knob AUTOPERF_COUNTERS (env.
-- AUTOPERF_COUNTERS; counts that may exceed the hardware, to check that an
-- over-full plan is caught and re-measured), else what the kernel says
-- when it has a hardware PMU and no source gives counter facts for the
-- core PMU ("cpu"). Returns counters or nil, a note; or nil, nil, error.
-- opts: env (a table of variables, default os.getenv), and those of
-- M.discover.
function M.plan_counters(cat, events, opts)
  opts = opts or {}
  local knob = defaults.counters(opts.env and function(name) return opts.env[name] end)
  if knob then
    local c, err = M.parse(knob)
    if not c then return nil, nil, err end
    -- the core PMU's fixed counters take what they take on this machine
    if c.cpu then c.cpu.fixed_events = (M.PROBES[opts.arch or core.ARCH] or M.PROBES.default).fixed_events end
    return c, "AUTOPERF_COUNTERS=" .. knob
  end
  if cat.sim then return nil, "simulated PMU: its model gives the counters" end
  if not cat.hardware then return nil, "no hardware PMU" end
  local any = false
  for _, ev in ipairs(events) do
    if ev.pmu == "cpu" and pmu_mod.is_hardware(ev) then
      if has_facts(ev) then return nil, "counter facts from " .. (ev.source or "a source") end
      any = true
    end
  end
  if not any then return nil, "no core PMU events" end
  local d, err = M.discover(opts)
  if not d then return nil, err end
  return { cpu = { generic = d.generic, fixed = d.fixed, fixed_events = d.fixed_events } }, d.how
end

return M
