-- anchors: a small set of events measured in every run and repetition of
-- a profile, beside the planned events, so that runs can be compared (the
-- guard, guard.lua) and lined up (analysis, analyze/series.lua).
--
-- By default: task-clock (the workload's CPU time, a software event that
-- costs no counter) and the run's duration (no event: the journal's
-- elapsed_ns); on a hardware PMU (real or simulated) also what its fixed
-- counters count for free: Intel's instructions, cycles, ref-cycles and
-- slots where present, arm64's cycle counter. A fixed counter holds one
-- event: the planner reserves each anchor's counter (plan.lua), so an
-- anchor never costs a programmable counter where fixed ones exist.
local pmu_mod = require "autoperf.pmu"
local evspec = require "autoperf.evspec"

local M = {}

-- The pseudo-anchor every run has: its wall-clock time, in ns.
M.DURATION = "duration"
M.DEFAULT = { "task-clock" }

local FIXED = require("autoperf.core").FIXED_SHIFT
local GROUP_MAX = require("autoperf.core").GROUP_MAX

-- Does ev count on fixed counters only? Then the counter indexes.
local function fixed_only(ev)
  local c = ev.counters
  if not c or not c.fixed or #c.fixed == 0 or (c.generic and #c.generic > 0) then return nil end
  return c.fixed
end

-- The free anchors of the hardware PMUs of cat: per core PMU and fixed
-- counter, the event that counts only there (M.PREFERRED's, else the
-- shortest name); for a PMU whose counters come from the kernel (capacity.lua's
-- fixed_events: arm64's cycle counter, x86's generic events on fixed
-- counters), the catalog's event of that encoding on that PMU.
-- Intel's architectural fixed-counter events (the SDM's "Fixed-Function
-- Performance Counters": instructions retired, core cycles, reference
-- cycles, topdown slots), by their perfmon names; preferred over other
-- events of the same counter (INST_RETIRED.PREC_DIST, ..._ANY of both
-- threads).
M.PREFERRED = { ["INST_RETIRED.ANY"] = 1, ["CPU_CLK_UNHALTED.THREAD"] = 1, ["CPU_CLK_UNHALTED.CORE"] = 1,
                ["CPU_CLK_UNHALTED.REF_TSC"] = 1, ["TOPDOWN.SLOTS"] = 1 }

local function better(a, b)
  local pa, pb = a.plain or a.name, b.plain or b.name
  if M.PREFERRED[pa] ~= M.PREFERRED[pb] then return M.PREFERRED[pa] ~= nil end
  return #pa < #pb
end

function M.hardware(cat, counters)
  local best, order = {}, {}
  local function offer(key, ev)
    local b = best[key]
    if not b then order[#order + 1] = key end
    if not b or better(ev, b) then best[key] = ev end
  end
  for _, ev in ipairs(cat.events) do
    local fixed = pmu_mod.is_hardware(ev) and not pmu_mod.uncore.is_uncore(ev) and ev.available ~= false
      and not ev.exclude_user and not ev.exclude_kernel and fixed_only(ev)
    if fixed and #fixed == 1 then offer((ev.pmu or "") .. "#f" .. fixed[1], ev) end
  end
  for pmu, c in pairs(counters or {}) do
    for _, f in ipairs(type(c) == "table" and c.fixed_events or {}) do
      if (c.fixed or 0) > f.fixed then
        for _, ev in ipairs(cat.events) do
          if ev.type == f.type and ev.config == f.config and (ev.config1 or 0) == 0 and ev.available ~= false
            and not ev.exclude_user and not ev.exclude_kernel and not ev.group then
            offer(pmu .. "#f" .. f.fixed, ev)
          end
        end
      end
    end
  end
  table.sort(order)
  local out = {}
  for _, k in ipairs(order) do out[#out + 1] = best[k] end
  return out
end

-- The anchor events of a profile: specs (nil: the default; a list or
-- "a,b" of event specs; "none": the duration only) resolved in cat; the
-- default adds M.hardware's on a hardware or simulated PMU. "duration" in
-- specs is accepted (it is always there). Returns a list of events (the
-- catalog's records), or nil, message.
function M.resolve(cat, specs, counters)
  local select = require("autoperf.catalog").select
  local list, explicit = {}, specs ~= nil
  if type(specs) == "string" then
    local parts, perr = evspec.split(specs)
    if not parts then return nil, "--anchor: " .. perr end
    specs = parts
  end
  for _, s in ipairs(specs or M.DEFAULT) do
    if s ~= M.DURATION and s ~= "none" and s ~= "" then list[#list + 1] = s end
  end
  local out, seen = {}, {}
  local function add(ev) -- once per name
    if not seen[ev.name] then
      seen[ev.name] = true
      out[#out + 1] = ev
    end
  end
  if #list > 0 then
    local evs, err = select(cat, list)
    if not evs then
      if not explicit then return {} end -- task-clock unknown here: the duration alone
      return nil, "--anchor: " .. err
    end
    for _, ev in ipairs(evs) do
      if pmu_mod.uncore.is_uncore(ev) then
        return nil, "--anchor: " .. ev.name .. " is an uncore event (it counts the whole socket, not the run)"
      end
      if ev.group then return nil, "--anchor: give anchors as a list, not a {group}" end
      add(ev)
    end
  end
  if not explicit and (cat.hardware or cat.sim) then
    for _, ev in ipairs(M.hardware(cat, counters)) do add(ev) end
  end
  return out
end

-- The counter bit a hardware anchor takes (from its planner record h,
-- plan.model's): its fixed counter where it has one, else its lowest
-- allowed counter; nil for a kernel event.
function M.counter(h)
  if not h then return nil end
  local a = h.allowed or 0
  for bit = FIXED, 63 do
    if a & (1 << bit) ~= 0 then return bit end
  end
  for bit = 0, FIXED - 1 do
    if a & (1 << bit) ~= 0 then return bit end
  end
  return nil
end

-- The groups a run opens: the plan's and the anchors' (plan.anchors),
-- less the anchors its plan lets an event take the counter of
-- (run.anchor_skip: an event that counts only on an anchor's fixed
-- counter, such as Intel's CPU_CLK_UNHALTED.THREAD_ANY). A kernel
-- anchor joins the run's group of its PMU where there is one, in tag
-- (selection) order: the run files list the events as the user gave
-- them, as before anchors (task-clock stays where -e put it).
function M.run_groups(plan, run)
  if not plan.anchors or #plan.anchors == 0 then return run end
  local skip = run.anchor_skip or {}
  local groups, merged = {}, {}
  local kernel_of = {}
  for i, g in ipairs(run.groups) do
    if not g.counters and not g.events[1].group then kernel_of[g.pmu] = kernel_of[g.pmu] or i end
  end
  local extra = {}
  for _, g in ipairs(plan.anchors) do
    local at = not g.counters and kernel_of[g.pmu]
    local host = at and run.groups[at]
    if host and #host.events + #g.events <= GROUP_MAX then
      local evs = {}
      for _, ev in ipairs(host.events) do evs[#evs + 1] = ev end
      for _, ev in ipairs(g.events) do evs[#evs + 1] = ev end
      table.sort(evs, function(a, b) return (a.tag or 0) < (b.tag or 0) end)
      merged[at] = { pmu = host.pmu, events = evs }
    else
      local kept = { pmu = g.pmu, events = {}, counters = g.counters and {} or nil, anchor = true }
      for i, ev in ipairs(g.events) do
        if not skip[ev.name] then
          kept.events[#kept.events + 1] = ev
          if g.counters then kept.counters[#kept.events] = g.counters[i] end
        end
      end
      if #kept.events > 0 then extra[#extra + 1] = kept end
    end
  end
  for i, g in ipairs(run.groups) do groups[#groups + 1] = merged[i] or g end
  for _, g in ipairs(extra) do groups[#groups + 1] = g end
  return { groups = groups, anchor_skip = run.anchor_skip }
end

-- A run's anchor values from a journal entry: {duration = ns, [name] =
-- count}, or nil for an entry of a profile without anchors.
function M.values(entry)
  local out = { [M.DURATION] = entry.elapsed_ns }
  for k, v in pairs(type(entry.anchors) == "table" and entry.anchors or {}) do
    if type(v) == "number" then out[k] = v end
  end
  return out
end

-- The anchor names of a manifest, duration first.
function M.names(manifest)
  local out = { M.DURATION }
  for _, a in ipairs(type(manifest.anchors) == "table" and manifest.anchors or {}) do
    if type(a) == "table" and type(a.name) == "string" and a.name ~= M.DURATION then out[#out + 1] = a.name end
  end
  return out
end

return M
