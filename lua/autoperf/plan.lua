-- Turns a list of events into the fewest runs in which every event is
-- counted the whole time.
--
-- Hardware events compete for counters: core/plan.c packs them (counter
-- masks, fixed counters, shared offcore/ldlat/frontend registers, events
-- that must be alone, AMD's pair events on an even counter and the odd
-- one beside it, user groups, members that need a leader in their group:
-- Intel's topdown metric events behind TOPDOWN.SLOTS, on pseudo counters)
-- and checks every run with a bipartite
-- matching of events to counters. Kernel events (software, tracepoints,
-- PMUs without a counter model) never compete: they are bounded only by
-- what the kernel lets one process hold, the group read size
-- (core.GROUP_MAX members) and the descriptor budget (RLIMIT_NOFILE), and
-- fill the runs the hardware needs anyway. A run holds one group per PMU.
local core = require "autoperf.core"
local defaults = require "autoperf.defaults"
local pmu_mod = require "autoperf.pmu"
local util = require "autoperf.util"

local M = {}

-- Descriptors kept free for everything else the process opens.
M.RESERVED_FDS = defaults.reserved_fds

local FIXED = core.FIXED_SHIFT

-- Default isolation policy, as the original autoperf: events Intel marks
-- TakenAlone, and events with errata.
M.DEFAULT_ISOLATE = defaults.isolate_list()

local function bits(list, shift)
  local m = 0
  for _, c in ipairs(list or {}) do m = m | (1 << (math.tointeger(c) + shift)) end
  return m
end

local function all_generic(n)
  return n and n > 0 and ((1 << n) - 1) or 0
end

-- {taken_alone=bool, errata=bool, names={}} from {"taken-alone", "errata", NAME...}
function M.isolation(list)
  local p = { names = {} }
  for _, item in ipairs(list or M.DEFAULT_ISOLATE) do
    if item == "taken-alone" then
      p.taken_alone = true
    elseif item == "errata" then
      p.errata = true
    elseif item ~= "" and item ~= "none" then
      p.names[item] = true
    end
  end
  return p
end

-- The group facts the PMU families give an event (pmu/intel.lua's
-- topdown(): a leader class it provides or needs, pseudo counters, the
-- simulator's share of its leader's count, a reason the kernel refuses
-- it), or nil.
local GROUP_FACTS = {}
for _, f in ipairs(pmu_mod.FAMILIES) do
  if f.topdown then GROUP_FACTS[#GROUP_FACTS + 1] = f.topdown end
end
local function group_facts(ev)
  for i = 1, #GROUP_FACTS do
    local t = GROUP_FACTS[i](ev)
    if t then return t end
  end
  return nil
end
M.group_facts = group_facts

-- Leader classes by name, as small integers for core.plan/core.sim_pmu.
local CLASSES, CLASS_NAMES = {}, {}
local function class_id(name)
  if not name then return 0 end
  local id = CLASSES[name]
  if not id then
    CLASS_NAMES[#CLASS_NAMES + 1] = name
    id = #CLASS_NAMES
    CLASSES[name] = id
  end
  return id
end

local function shared_index(ev)
  if not ev.shared then return nil end
  return pmu_mod.SHARED_INDEX[ev.shared] or error("unknown shared register kind '" .. tostring(ev.shared)
    .. "' on " .. tostring(ev.name) .. " (pmu.SHARED lists the kinds)", 0)
end

-- The hardware model of the events: PMUs with their counters, and per
-- event its allowed counters. opts.counters[pmu] = {generic=, fixed=,
-- fixed_events=} overrides what the sources say; fixed_events
-- ({{type=, config=, fixed=i}...}, see capacity.lua) are the only events
-- without counter lists of their own that may also take fixed counter i
-- (arm64's cycle counter counts only cycles); shared ({kind=n}) overrides
-- how many values a shared register kind holds (pmu.SHARED). opts.nmi_watchdog
-- takes one generic counter away (the kernel's watchdog holds it).
-- opts.lead_groups ({[event] = group id}, M.lead_groups') groups events
-- that are in no {group}.
-- Each PMU's shared is the register counts per kind (pmu.SHARED's order);
-- an event's shared is its kind's index there.
function M.model(events, opts)
  opts = opts or {}
  local policy = M.isolation(opts.isolate)
  local pmus, index, hw = {}, {}, {}
  for _, ev in ipairs(events) do
    if pmu_mod.is_hardware(ev) then
      local key = ev.pmu .. (ev.model and ("@" .. ev.model) or "")
      local p = index[key]
      if not p then
        p = { name = ev.pmu, model = ev.model, key = key, counters = 0, generic = 0,
              uncore = pmu_mod.uncore.is_uncore(ev) }
        pmus[#pmus + 1] = p
        index[key] = p
        p.index = #pmus
      end
      local c = ev.counters or {}
      local allowed
      if c.generic or c.fixed or c.pseudo then
        allowed = bits(c.generic, 0) | bits(c.fixed, FIXED) | bits(c.pseudo, FIXED)
      end
      -- pseudo counters (the PERF_METRICS MSR's metric slots, which the
      -- kernel models as fixed-mode counters): the PMU has them whatever
      -- its counter counts say
      p.pseudo = (p.pseudo or 0) | bits(c.pseudo, FIXED)
      if c.generic_count then p.generic = math.max(p.generic, c.generic_count) end
      if c.fixed_count then p.fixed = math.max(p.fixed or 0, c.fixed_count) end
      hw[#hw + 1] = { ev = ev, pmu = p, allowed = allowed }
    end
  end
  for _, p in ipairs(pmus) do
    local o = opts.counters and (opts.counters[p.key] or opts.counters[p.name])
    if o then
      p.counters = all_generic(o.generic) | (all_generic(o.fixed) << FIXED)
      p.shared = pmu_mod.shared_regs(o.shared)
      p.fixed_events = o.fixed_events
    else
      local m = all_generic(p.generic) | (all_generic(p.fixed) << FIXED)
      for _, h in ipairs(hw) do
        if h.pmu == p and h.allowed then m = m | h.allowed end
      end
      p.counters = m
      p.shared = pmu_mod.shared_regs()
    end
    p.counters = p.counters | (p.pseudo or 0)
    if p.counters & all_generic(FIXED) == 0 and p.generic == 0 then
      -- nothing says how many: the families' architectural minimum
      p.counters = p.counters | all_generic(pmu_mod.GENERIC_GUESS)
    end
    if opts.nmi_watchdog and not p.uncore then -- it holds a core counter
      local g = p.counters & all_generic(FIXED)
      local top = 63
      while top >= 0 and g & (1 << top) == 0 do top = top - 1 end
      if top >= 0 then p.counters = p.counters & ~(1 << top) end
    end
  end
  local out = {}
  for i, h in ipairs(hw) do
    local ev = h.ev
    local isolated = (policy.taken_alone and ev.taken_alone) or (policy.errata and ev.errata ~= nil)
      or policy.names[ev.name] or policy.names[ev.base or ""] or policy.names[ev.plain or ""] or false
    local allowed = h.allowed or (h.pmu.counters & all_generic(FIXED))
    for _, f in ipairs(not h.allowed and h.pmu.fixed_events or {}) do
      if ev.type == f.type and ev.config == f.config then allowed = allowed | (1 << (FIXED + f.fixed)) end
    end
    local gf = group_facts(ev) or {}
    out[i] = {
      ev = ev, pmu = h.pmu.index,
      allowed = allowed & h.pmu.counters,
      shared = shared_index(ev), shared_value = ev.shared and (ev.config1 or 0) or 0,
      isolated = isolated and true or false,
      group = ev.group or (opts.lead_groups and opts.lead_groups[ev]) or 0,
      pair = pmu_mod.is_pair(ev),
      -- a leader class it provides / needs as its group's leader (core/plan.h)
      lead = class_id(gf.lead), needs = class_id(gf.needs),
      refuse = gf.refuse,
      share_num = gf.share_num, share_den = gf.share_den, sim_rate = gf.sim_rate,
    }
  end
  return pmus, out
end

-- The PMUs of M.model as core.plan takes them.
function M.core_pmus(pmus)
  local out = {}
  for i, p in ipairs(pmus) do
    out[i] = { counters = p.counters, shared = p.shared }
  end
  return out
end

-- Anchors (opts.anchors, events measured in every run: anchors.lua) are
-- planned apart: left out of the runs, one group per PMU beside every
-- run's (plan.anchors), each hardware anchor on a counter of its own that
-- no planned event may take (its fixed counter where it has one); their
-- descriptors come off every run's budget. An event that can count only
-- on an anchor's counter keeps it, and the runs it lands in go without
-- that anchor (run.anchor_skip).
local function reserve(pmus, hw, anchors)
  local is_anchor, by_name = {}, {}
  for _, a in ipairs(anchors) do by_name[a.name] = true end
  local reserved, planned, groups, by_key = {}, {}, {}, {}
  for _, h in ipairs(hw) do
    if by_name[h.ev.name] then
      is_anchor[h.ev.name] = true
      local bit = require("autoperf.anchors").counter(h)
      local key = h.pmu
      local g = by_key[key]
      if not g then
        g = { pmu = h.ev.pmu, events = {}, counters = {}, anchor = true }
        by_key[key] = g
        groups[#groups + 1] = g
      end
      g.events[#g.events + 1] = h.ev
      g.counters[#g.events] = bit or -1
      if bit then
        reserved[h.pmu] = (reserved[h.pmu] or 0) | (1 << bit)
        h.owner_bit = bit
      end
    else
      planned[#planned + 1] = h
    end
  end
  local owner = {}
  for _, h in ipairs(hw) do
    if h.owner_bit then owner[h.pmu .. ":" .. h.owner_bit] = h.ev.name end
  end
  for _, p in ipairs(pmus) do
    p.counters = p.counters & ~(reserved[p.index] or 0)
  end
  for _, h in ipairs(planned) do
    local r = reserved[h.pmu] or 0
    if h.allowed & ~r ~= 0 then
      h.allowed = h.allowed & ~r
    else
      -- only an anchor's counter will do: it keeps it, the anchor steps aside
      h.displaces = {}
      for bit = 0, 63 do
        if h.allowed & r & (1 << bit) ~= 0 then h.displaces[#h.displaces + 1] = owner[h.pmu .. ":" .. bit] end
      end
      pmus[h.pmu].counters = pmus[h.pmu].counters | (h.allowed & r)
    end
  end
  -- kernel anchors: one group per PMU
  for _, a in ipairs(anchors) do
    if not is_anchor[a.name] then
      local g = by_key[a.pmu]
      if not g then
        g = { pmu = a.pmu, events = {}, anchor = true }
        by_key[a.pmu] = g
        groups[#groups + 1] = g
      end
      g.events[#g.events + 1] = a
    end
  end
  return planned, groups
end

-- The group ids lead_groups() gives (user groups and the metric
-- planner's are far below; core/plan.h's group is a C int).
M.LEAD_GROUP_BASE = 1 << 30

-- The events, and for those that need a leader of a class (group_facts'
-- needs) in no {group}, where no other event of theirs (an anchor's name
-- stays the anchor's: it counts in every run) leads it on that PMU, the
-- leader their family makes (make_leader: TOPDOWN.SLOTS, as perf adds it
-- to a group of topdown metric events; NAME#lead where the name is taken,
-- as by the slots anchor), added at the end. The profile adds
-- them before it numbers the events, so that they are measured and
-- reported as the others.
function M.with_leaders(events, anchors)
  local function key(ev, class) return ev.pmu .. "@" .. (ev.model or "") .. "#" .. class end
  local any = false
  for _, ev in ipairs(events) do
    local gf = not ev.group and group_facts(ev)
    if gf and gf.needs then any = true break end
  end
  if not any then return events end
  local have, names, anchor = {}, {}, {}
  for _, a in ipairs(anchors or {}) do anchor[a.name], names[a.name] = true, true end
  for _, ev in ipairs(events) do
    local gf = not ev.group and not anchor[ev.name] and group_facts(ev)
    if gf and gf.lead then have[key(ev, gf.lead)] = true end
    names[ev.name] = true
  end
  local out = events
  for _, ev in ipairs(events) do
    local gf = not ev.group and group_facts(ev)
    local k = gf and gf.needs and key(ev, gf.needs)
    if k and not have[k] and gf.make_leader then
      local l = gf.make_leader()
      if names[l.name] then l.name = l.name .. "#lead" end
      names[l.name], have[k] = true, true
      if out == events then out = table.move(events, 1, #events, 1, {}) end
      out[#out + 1] = l
    end
  end
  return out
end

-- Events that need a leader of a class in their group (group_facts'
-- needs: the kernel refuses them in any other group) and are in no
-- {group}: per PMU (and model) and class, they are planned as one unit
-- with the first ungrouped event there that leads the class and is no
-- anchor (M.with_leaders adds one where it can), else with an anchor
-- that does (which then is no anchor); without one they stay as they
-- are and the planner refuses them. The unit lands in one run,
-- in the run's ungrouped group of that PMU, which its leader leads. Returns
-- the events (with that anchor added) and {[event] = unit id for
-- core.plan's group}; the events themselves are not changed.
function M.lead_groups(events, anchors)
  local need = {}
  for _, ev in ipairs(events) do
    local gf = not ev.group and group_facts(ev)
    if gf and gf.needs then need = nil break end
  end
  if need then return events, {} end
  events, need = M.with_leaders(events, anchors), {}
  local function key(ev, class) return ev.pmu .. "@" .. (ev.model or "") .. "#" .. class end
  for _, ev in ipairs(events) do
    local gf = not ev.group and group_facts(ev)
    if gf and gf.needs then need[key(ev, gf.needs)] = true end
  end
  local groups = {}
  if next(need) == nil then return events, groups end
  local leader, n = {}, 0
  local anchor = {}
  for _, a in ipairs(anchors or {}) do anchor[a.name] = true end
  local function take(ev, of_anchor)
    local gf = not ev.group and (of_anchor or not anchor[ev.name]) and group_facts(ev)
    local k = gf and gf.lead and key(ev, gf.lead)
    if k and need[k] and not leader[k] then
      n = n + 1
      leader[k] = M.LEAD_GROUP_BASE + n
      groups[ev] = leader[k]
      return true
    end
  end
  for _, ev in ipairs(events) do take(ev) end
  local out = events
  for _, a in ipairs(anchors or {}) do
    if take(a, true) then
      if out == events then out = table.move(events, 1, #events, 1, {}) end
      out[#out + 1] = a
    end
  end
  for _, ev in ipairs(events) do
    local gf = not ev.group and group_facts(ev)
    if gf and gf.needs then groups[ev] = leader[key(ev, gf.needs)] end
  end
  return out, groups
end

-- A group's leader first: the member that leads a class another member
-- needs (the kernel checks event->group_leader), in place.
local function leader_first(g)
  local needs = {}
  for _, ev in ipairs(g.events) do
    local gf = group_facts(ev)
    if gf and gf.needs then needs[gf.needs] = true end
  end
  if next(needs) == nil then return end
  for i, ev in ipairs(g.events) do
    local gf = group_facts(ev)
    if gf and gf.lead and needs[gf.lead] then
      if i > 1 then
        table.insert(g.events, 1, table.remove(g.events, i))
        if g.counters then table.insert(g.counters, 1, table.remove(g.counters, i)) end
      end
      return
    end
  end
end

-- opts: group_max (default core.GROUP_MAX), fd_budget (descriptors a run
-- may use), ncpus (groups are opened once per cpu in system-wide mode),
-- strategy ("pack" or "first-fit", the original autoperf's), isolate,
-- counters, nmi_watchdog (see M.model), anchors (see reserve()).
-- Returns {runs={{groups={{pmu=, events={...}, counters={...}}},
-- anchor_skip=}}, anchors={groups}, lower_bound=n, hardware_runs=n} or
-- nil, message.
function M.make(events, opts)
  opts = opts or {}
  local group_max = opts.group_max or core.GROUP_MAX
  local ncpus = opts.ncpus or 1
  local budget = opts.fd_budget or (1 << 20)
  -- events that need a leader in their group, outside any {group}: one
  -- group per PMU and class with a leader (pmu/intel.lua: the metric
  -- events and TOPDOWN.SLOTS)
  local lead
  events, lead = M.lead_groups(events, opts.anchors)
  -- an event the user put in a {group} stays there: it is no anchor
  local anchors = opts.anchors or {}
  if #anchors > 0 then
    local grouped, kept = {}, {}
    for _, ev in ipairs(events) do
      if ev.group or lead[ev] then grouped[ev.name] = true end
    end
    for _, a in ipairs(anchors) do
      if not grouped[a.name] then kept[#kept + 1] = a end
    end
    anchors = kept
  end
  local anchor_of = {}
  for _, a in ipairs(anchors) do anchor_of[a.name] = true end
  if #anchors > 0 then
    local rest = {}
    for _, ev in ipairs(events) do
      if not anchor_of[ev.name] then rest[#rest + 1] = ev end
    end
    events = rest
  end
  local per_run = budget // ncpus - #anchors
  if per_run < 1 then
    return nil, string.format("no descriptor budget left for counters (%d descriptors, %d cpus); raise 'ulimit -n'", budget, ncpus)
  end
  local chunk_max = math.min(group_max, per_run)

  -- Hardware: packed in C.
  local all = events
  if #anchors > 0 then
    all = {}
    for _, ev in ipairs(events) do all[#all + 1] = ev end
    for _, a in ipairs(anchors) do all[#all + 1] = a end
  end
  local mopts = opts
  if next(lead) then
    mopts = setmetatable({ lead_groups = lead }, { __index = opts })
  end
  local pmus, hw = M.model(all, mopts)
  for _, h in ipairs(hw) do
    -- what the kernel refuses in any group (pmu/intel.lua's topdown())
    if h.refuse then return nil, string.format("%s can never be counted: %s", h.ev.name, h.refuse) end
  end
  local anchor_groups = {}
  if #anchors > 0 then hw, anchor_groups = reserve(pmus, hw, anchors) end
  local runs, lower = {}, 1
  local hw_of = {}
  if #hw > 0 then
    local cp = M.core_pmus(pmus)
    local nruns, assign, bad = core.plan(cp, hw, opts.strategy or defaults.strategy)
    if not nruns then
      local ev = hw[bad] and hw[bad].ev
      local gf = ev and group_facts(ev)
      if gf and gf.needs then
        -- the group of an event that needs a leader may lack it
        local has = false
        for _, h in ipairs(hw) do
          local hf = h.group == hw[bad].group and h.group ~= 0 and h.ev.pmu == ev.pmu and group_facts(h.ev)
          if hf and hf.lead == gf.needs then has = true end
        end
        if not has then
          return nil, string.format("%s can never be counted: the kernel counts it only in a group led by %s "
            .. "(%s); add %s to its group", ev.name, gf.leader or gf.needs, gf.rule or "its PMU's rule",
            gf.leader or gf.needs)
        end
      end
      return nil, string.format("%s can never be counted: %s", ev and ev.name or "an event",
        ev and ev.group and "its group needs more counters than its PMU has" or
        "none of its counters exists on this PMU")
    end
    lower = core.plan_lower_bound(cp, hw)
    for r = 1, nruns do runs[r] = { groups = {}, fds = 0 } end
    for i, h in ipairs(hw) do
      local a = assign[i]
      local run = runs[a.run]
      -- (a lead group, M.lead_groups', is the run's ungrouped group of
      -- the PMU: led by its leader, which leader_first puts first)
      local key = h.ev.pmu .. "#" .. (h.ev.group or 0) .. "@" .. (h.ev.model or "")
      local g = run.by_key and run.by_key[key]
      if not g then
        run.by_key = run.by_key or {}
        g = { pmu = h.ev.pmu, events = {}, counters = {} }
        run.by_key[key] = g
        run.groups[#run.groups + 1] = g
      end
      g.events[#g.events + 1] = h.ev
      g.counters[#g.events] = a.counter
      run.fds = run.fds + 1
      hw_of[h.ev] = true
      for _, name in ipairs(h.displaces or {}) do
        run.anchor_skip = run.anchor_skip or {}
        run.anchor_skip[name] = true
      end
    end
    for _, run in ipairs(runs) do
      for _, g in ipairs(run.groups) do leader_first(g) end
      run.by_key = nil
      if run.fds > per_run then
        return nil, string.format("a run needs %d descriptors, more than the %d available; raise 'ulimit -n'",
          run.fds, per_run)
      end
    end
  end
  local hardware_runs = #runs

  -- Kernel events: a user's {group} stays one group; everything else: one
  -- list per PMU, in order of first appearance. One named in the
  -- isolation list is measured alone, in a run of its own (beside the
  -- anchors only).
  local policy = M.isolation(opts.isolate)
  local alone = {}
  local order, by_pmu, user = {}, {}, {}
  for _, ev in ipairs(events) do
    if not hw_of[ev] and not anchor_of[ev.name] and not ev.group
      and (policy.names[ev.name] or policy.names[ev.base or ""]) then
      alone[#alone + 1] = ev
    elseif not hw_of[ev] and not anchor_of[ev.name] then
      local key = ev.group and ("{" .. ev.group .. "}") or ev.pmu
      if ev.group and not by_pmu[key] then user[#user + 1] = key end
      local list = util.list_for(by_pmu, order, key)
      list[#list + 1] = ev
    end
  end
  for _, key in ipairs(user) do
    local n = #by_pmu[key]
    if n > chunk_max then
      return nil, string.format("the group %s has %d events; at most %d fit in one group here",
        key, n, chunk_max)
    end
  end

  -- Fill the runs in order; open new ones when the budget is spent.
  local ri = 1
  local function room()
    return runs[ri] and (per_run - runs[ri].fds) or per_run
  end
  local function place(pmu, chunk)
    while runs[ri] and runs[ri].fds + #chunk > per_run do ri = ri + 1 end
    if not runs[ri] then runs[ri] = { groups = {}, fds = 0 } end
    local run = runs[ri]
    run.groups[#run.groups + 1] = { pmu = pmu, events = chunk }
    run.fds = run.fds + #chunk
  end
  local nkernel = 0
  for _, key in ipairs(order) do
    local list = by_pmu[key]
    local pmu = list[1].pmu
    nkernel = nkernel + #list
    if list[1].group then
      place(pmu, list)
    else
      local chunk = {}
      for _, ev in ipairs(list) do
        chunk[#chunk + 1] = ev
        -- A chunk may not overflow the current run: cut it where it fills.
        local r = room()
        if #chunk == chunk_max or (#chunk == r and r < chunk_max) then
          place(pmu, chunk)
          chunk = {}
        end
      end
      if #chunk > 0 then place(pmu, chunk) end
    end
  end
  for _, ev in ipairs(alone) do
    nkernel = nkernel + 1
    runs[#runs + 1] = { groups = { { pmu = ev.pmu, events = { ev } } } }
  end
  for _, run in ipairs(runs) do run.fds = nil end
  if #runs == 0 then runs[1] = { groups = {} } end
  local total = #events
  return {
    runs = runs,
    -- an event measured alone has a run of its own
    lower_bound = (total > #alone and math.max(lower, math.ceil((total - #alone) / per_run)) or 0) + #alone,
    hardware_runs = hardware_runs,
    pmus = pmus,
    anchors = anchor_groups,
  }
end

-- {runs={{groups={{pmu=, events={names}, counters={...}}}}}, lower_bound=}
-- for the manifest and 'autoperf plan --json'.
function M.describe(plan)
  local out = {}
  for i, run in ipairs(plan.runs) do
    local groups = {}
    for j, g in ipairs(run.groups) do
      local names = {}
      for k, ev in ipairs(g.events) do names[k] = ev.name end
      groups[j] = { pmu = g.pmu, events = names, counters = g.counters and M.counter_names(g.counters) or nil }
    end
    local skip
    for name in pairs(run.anchor_skip or {}) do
      skip = skip or {}
      skip[#skip + 1] = name
    end
    if skip then table.sort(skip) end
    out[i] = { groups = groups, anchors_skipped = skip }
  end
  local anchors
  for _, g in ipairs(plan.anchors or {}) do
    anchors = anchors or {}
    local names = {}
    for k, ev in ipairs(g.events) do names[k] = ev.name end
    anchors[#anchors + 1] = { pmu = g.pmu, events = names, counters = g.counters and M.counter_names(g.counters) or nil }
  end
  return { runs = out, lower_bound = plan.lower_bound, anchors = anchors }
end

-- Counter bit indexes -> "g0", "f1" names.
function M.counter_names(counters)
  local out = {}
  for i, c in ipairs(counters) do
    out[i] = c < 0 and "-" or (c >= FIXED and ("f" .. (c - FIXED)) or ("g" .. c))
  end
  return out
end

return M
