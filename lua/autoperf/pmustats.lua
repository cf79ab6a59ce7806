-- pmustats ('autoperf stats'): what a PMU's events need from the
-- hardware, per PMU: how many events, which counters they may use
-- (histogram of counter lists), how many need a shared register, how many
-- must be measured alone, how many take a counter pair (AMD Zen), and
-- which of the families' rules (pmu.rules()) apply to how many events.
-- (Not analyze/stats.lua: statistics of counts.)
local pmu_mod = require "autoperf.pmu"

local M = {}

local RULES = pmu_mod.rules()

local function counter_key(ev)
  local c = ev.counters
  if not c then return "any" end
  if c.fixed and #c.fixed > 0 then return "fixed " .. table.concat(c.fixed, ",") end
  if c.generic and #c.generic > 0 then return table.concat(c.generic, ",") end
  if c.generic_count then return string.format("any of %d generic", c.generic_count) end
  return "any"
end
M.counter_key = counter_key

-- Returns {{pmu=, events=n, counters={{key, n}...}, shared={offcore=n,...},
-- taken_alone=n, errata=n, deprecated=n, isolated=n, pair=n,
-- rules={{id=, what=, cite=, events=n}...} (pmu.rules()' order, those
-- applying to an event), sources={"where the counter count comes from"...}},
-- ...} sorted by pmu.
function M.compute(events)
  local by = {}
  local order = {}
  for _, ev in ipairs(events) do
    -- The same PMU name on another model (a forced libpfm4 model, a
    -- perfmon file) is another PMU.
    local pmu = ev.model and (ev.pmu .. " [" .. ev.model .. "]") or ev.pmu
    local s = by[pmu]
    if not s then
      s = { pmu = pmu, events = 0, hist = {}, shared = {}, taken_alone = 0, errata = 0, deprecated = 0, isolated = 0, pair = 0,
            rule_n = {}, sources = {}, source_seen = {} }
      by[pmu] = s
      order[#order + 1] = pmu
    end
    s.events = s.events + 1
    local k = counter_key(ev)
    s.hist[k] = (s.hist[k] or 0) + 1
    if ev.shared then s.shared[ev.shared] = (s.shared[ev.shared] or 0) + 1 end
    if ev.taken_alone then s.taken_alone = s.taken_alone + 1 end
    if ev.errata then s.errata = s.errata + 1 end
    if ev.deprecated then s.deprecated = s.deprecated + 1 end
    if pmu_mod.is_pair(ev) then s.pair = s.pair + 1 end
    if ev.taken_alone or ev.errata then s.isolated = s.isolated + 1 end
    for i, r in ipairs(RULES) do
      if r.applies(ev) then s.rule_n[i] = (s.rule_n[i] or 0) + 1 end
    end
    local src = ev.counters and ev.counters.source
    if src and not s.source_seen[src] then
      s.source_seen[src] = true
      s.sources[#s.sources + 1] = src
    end
  end
  table.sort(order)
  local out = {}
  for _, pmu in ipairs(order) do
    local s = by[pmu]
    local counters = {}
    for k, n in pairs(s.hist) do counters[#counters + 1] = { k, n } end
    table.sort(counters, function(a, b)
      if a[2] ~= b[2] then return a[2] > b[2] end
      return a[1] < b[1]
    end)
    s.counters, s.hist = counters, nil
    s.rules = {}
    for i, r in ipairs(RULES) do
      if s.rule_n[i] then s.rules[#s.rules + 1] = { id = r.id, what = r.what, cite = r.cite, events = s.rule_n[i] } end
    end
    s.rule_n, s.source_seen = nil, nil
    out[#out + 1] = s
  end
  return out
end

local SHARED = pmu_mod.SHARED_KINDS

-- Human-readable report.
function M.format(stats)
  local out = {}
  for _, s in ipairs(stats) do
    out[#out + 1] = string.format("%s: %d events", s.pmu, s.events)
    out[#out + 1] = "  counters                     events"
    for _, c in ipairs(s.counters) do
      out[#out + 1] = string.format("  %-28s %6d", c[1], c[2])
    end
    local sh = {}
    for _, k in ipairs(SHARED) do
      if s.shared[k] then sh[#sh + 1] = string.format("%s %d", k, s.shared[k]) end
    end
    out[#out + 1] = "  shared registers: " .. (#sh > 0 and table.concat(sh, ", ") or "none")
    out[#out + 1] = string.format("  isolated: %d (taken alone %d, with errata %d); deprecated %d",
      s.isolated, s.taken_alone, s.errata, s.deprecated)
    if s.pair > 0 then
      out[#out + 1] = string.format("  pair events (even counter + the odd beside it): %d", s.pair)
    end
    for _, src in ipairs(s.sources) do out[#out + 1] = "  counter count from: " .. src end
    if #s.rules > 0 then
      out[#out + 1] = "  rules                        events"
      for _, r in ipairs(s.rules) do
        out[#out + 1] = string.format("  %-28s %6d  %s", r.id, r.events, r.what)
      end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- Tidy CSV: PMU,KIND,KEY,EVENTS
function M.csv(stats)
  local out = { "PMU,KIND,KEY,EVENTS" }
  local function row(pmu, kind, key, n)
    out[#out + 1] = string.format('%s,%s,"%s",%d', pmu, kind, key, n)
  end
  for _, s in ipairs(stats) do
    row(s.pmu, "events", "all", s.events)
    for _, c in ipairs(s.counters) do row(s.pmu, "counters", c[1], c[2]) end
    for _, k in ipairs(SHARED) do
      if s.shared[k] then row(s.pmu, "shared", k, s.shared[k]) end
    end
    row(s.pmu, "isolated", "taken_alone", s.taken_alone)
    row(s.pmu, "isolated", "errata", s.errata)
    row(s.pmu, "isolated", "any", s.isolated)
    row(s.pmu, "deprecated", "deprecated", s.deprecated)
    row(s.pmu, "pair", "even+odd", s.pair)
    for _, r in ipairs(s.rules) do row(s.pmu, "rule", r.id, r.events) end
  end
  return table.concat(out, "\n") .. "\n"
end

return M
