-- Metric-aware planning: the events of each metric that fits one run go
-- into one user group (core/plan.h's ap_plan_event.group: members share
-- a run), so that the metric is computed from counts of the same
-- execution. A group is a run: it holds the metrics co-scheduled there
-- and single events (those only the metrics computed from several runs
-- need), so the runs planned are the runs packed here. Groups are built
-- in steps: metrics sharing events of scarce counters merge while the
-- union fits one run (M.merge; its ties broken both ways, the cheaper
-- result kept), the groups are packed into runs (M.pack), single metrics
-- move where they cost least (M.relocate), the single events fill the
-- runs (M.fill). An event that two groups need is counted again in the
-- other (an event counted in two runs, each metric reading the run that
-- holds all its events). A metric whose events cannot fit one run (some
-- TMA nodes need 40-84 events) is left to the plain plan and labelled
-- "computed from several runs".
local plan_mod = require "autoperf.plan"
local util = require "autoperf.util"

local M = {}

-- The separator of a second count's name: INST_RETIRED.ANY#2
M.COPY = "#"

-- What a count on a fixed counter costs, against 1 on a scarce counter:
-- little (every run has its own), not nothing (two of a kind need two
-- runs): as much as one on counters to spare (at 0.125, Alder Lake's
-- plan took a run more than its bound; 0.25 keeps every shared file's
-- plan at its bound).
local FIXED_PRICE = 0.25

-- What a count on counters to spare costs: it takes one of the run's
-- counters but none of the scarce ones (higher prices, tried up to 1,
-- gave as many runs or more on every shared file).
local SPARE_PRICE = 0.25

local function popcount(x)
  local n = 0
  while x ~= 0 do
    x = x & (x - 1)
    n = n + 1
  end
  return n
end

-- The constraint model of all records (plan.model: counters, fixed
-- counters, shared registers, taken-alone events), built once, and the
-- groups over it. A group: {id=, events={names}, set={[name]=true},
-- metrics={names}, mine={their events}} and the counts the tests below
-- keep (use, kinds). Kernel events never compete for counters: they
-- always fit and cost nothing.
local function model(all, popts)
  local core = require "autoperf.core"
  local pmus, hw = plan_mod.model(all, popts)
  local cp = plan_mod.core_pmus(pmus)
  local FIXED = core.FIXED_SHIFT
  local low = (1 << FIXED) - 1
  local by = {}
  for _, h in ipairs(hw) do by[h.ev.name] = h end
  local md = {}

  -- Each PMU's scarce counters: of the counter sets the events allow,
  -- the one with most events per counter that can take nothing else (on
  -- Ice Lake the 4 counters half of the events are limited to, not all
  -- 8). An event's kind: 1 it needs the scarce counters, 2 it may use
  -- others (spare[pmu] of them), 3 a fixed counter only.
  local scarce, spare = {}, {}
  for i, p in ipairs(cp) do
    local masks, best, ratio = {}, 0, -1
    for _, h in ipairs(hw) do
      if h.pmu == i and not h.isolated and h.allowed & low ~= 0 then masks[h.allowed & low] = true end
    end
    for m in pairs(masks) do
      local n = 0
      for _, h in ipairs(hw) do
        local g = h.allowed & low
        if h.pmu == i and not h.isolated and g ~= 0 and g & ~m == 0 then n = n + 1 end
      end
      local r = n / popcount(m)
      if r > ratio or (r == ratio and m < best) then best, ratio = m, r end
    end
    scarce[i] = best
    spare[i] = popcount(p.counters & low & ~best)
  end
  local kind, pmu_of = {}, {}
  for _, h in ipairs(hw) do
    local g = h.allowed & low
    local e = h.ev.name
    pmu_of[e] = h.pmu
    if g == 0 then
      kind[e] = 3
    elseif g & ~scarce[h.pmu] == 0 then
      kind[e] = 1
    else
      kind[e] = 2
    end
  end
  -- the events needing scarce counters (M.merge merges on them)
  function md.scarce(e) return kind[e] == 1 end
  -- For M.bound: an event's PMU (an index), kind, whether it may use
  -- generic counters only (no fixed one, no pair) and is taken alone;
  -- and per PMU the scarce counters and those to spare.
  local only, alone = {}, {}
  for _, h in ipairs(hw) do
    only[h.ev.name] = h.allowed & ~low == 0 and not h.pair
    alone[h.ev.name] = h.isolated
  end
  function md.shape(e) return pmu_of[e], kind[e], only[e], alone[e] end
  -- the PMU of an event of its scarce counters only (kind 1, generic
  -- counters only, not taken alone), else nil: what M.bound counts
  function md.scarce_only(e)
    if kind[e] == 1 and only[e] and not alone[e] then return pmu_of[e] end
    return nil
  end
  -- an event's counters (plan.model's allowed bits) and PMU index
  function md.allowed(e) return by[e] and by[e].allowed, pmu_of[e] end
  md.sizes = {}
  for i in ipairs(cp) do md.sizes[i] = { scarce = popcount(scarce[i]), spare = spare[i] } end

  -- The quick refusal (Hall's condition on a few counter sets): the
  -- events that can use only counters of a set S, more than S has, never
  -- fit. The sets: per PMU, all its counters, its generic ones, and each
  -- counter set an event allows (Ice Lake's 4 of 8, a fixed counter).
  -- Pair events hold two counters, one outside what they allow: left out
  -- of the count, which then refuses less but never wrongly. cls[name]:
  -- the sets its event counts against; a group keeps its own counts
  -- (use), so a test counts only the events it would add.
  local cap, cls, set_list = {}, {}, {}
  do
    local sets, list = {}, set_list
    local function set_of(i, m)
      local key = i .. ":" .. m
      if not sets[key] then
        cap[#cap + 1] = popcount(m)
        sets[key] = true
        list[#list + 1] = { pmu = i, mask = m, index = #cap }
      end
    end
    for i, p in ipairs(cp) do
      set_of(i, p.counters)
      if p.counters & low ~= 0 then set_of(i, p.counters & low) end
    end
    for _, h in ipairs(hw) do
      if not h.pair and h.allowed ~= 0 then set_of(h.pmu, h.allowed) end
    end
    for _, h in ipairs(hw) do
      local mine = {}
      if not h.pair then
        for _, st in ipairs(list) do
          if st.pmu == h.pmu and h.allowed & ~st.mask == 0 then mine[#mine + 1] = st.index end
        end
      end
      cls[h.ev.name] = mine
    end
  end
  -- (a count is valid in the round it was stamped with: a new count is
  -- one increment, not a pass over every set)
  local used, stamp, round = {}, {}, 0
  for i = 1, #cap do used[i], stamp[i] = 0, 0 end
  local seen = {}
  -- Could names join g (nil: an empty group) by the quick refusal?
  -- names may repeat an event.
  local function room(g, names)
    round = round + 1
    local set, use = g and g.set, g and g.use
    for _, e in ipairs(names) do
      if seen[e] ~= round and not (set and set[e]) then
        seen[e] = round
        local c = cls[e]
        if c then
          for k = 1, #c do
            local i = c[k]
            local n = (stamp[i] == round and used[i] or (use and use[i] or 0)) + 1
            if n > cap[i] then return false end
            used[i], stamp[i] = n, round
          end
        end
      end
    end
    return true
  end

  -- The exact test: one core.plan of the union as one group, each
  -- event's record made once, the answers cached by the sorted indices
  -- of the events.
  local strategy = popts.strategy or require("autoperf.defaults").strategy
  local one, id = {}, {}
  for i, h in ipairs(hw) do
    local c = {}
    for k, v in pairs(h) do c[k] = v end
    c.group = 1
    one[i], id[h.ev.name] = c, i
  end
  local cache = {}
  local function exact(g, names)
    local ids, n = {}, 0
    round = round + 1
    if g then
      for _, e in ipairs(g.events) do
        local i = id[e]
        if i then
          n = n + 1
          ids[n] = i
        end
      end
    end
    for _, e in ipairs(names) do
      local i = id[e]
      if i and seen[e] ~= round and not (g and g.set[e]) then
        seen[e] = round
        n = n + 1
        ids[n] = i
      end
    end
    if n == 0 then return true end
    table.sort(ids)
    local key = table.concat(ids, " ")
    local hit = cache[key]
    if hit ~= nil then return hit end
    local sub = {}
    for k = 1, n do sub[k] = one[ids[k]] end
    local ok = core.plan(cp, sub, strategy) == 1
    cache[key] = ok
    return ok
  end
  -- Do names (event names) fit one run as one group?
  function md.fits(names) return room(nil, names) and exact(nil, names) end
  -- Could group g take names too?
  function md.joins(g, names) return room(g, names) and exact(g, names) end
  -- Could g take names by the quick refusal only?
  md.room = room

  -- Groups and their counts: use[set] as room reads it, kinds[3 * (pmu
  -- - 1) + kind] as cost reads it.
  function md.group(gid)
    return { id = gid, events = {}, set = {}, use = {}, kinds = {}, metrics = {}, mine = {} }
  end
  local function count(g, e, by_n)
    local c = cls[e]
    if c then
      local use = g.use
      for k = 1, #c do use[c[k]] = (use[c[k]] or 0) + by_n end
    end
    local p = pmu_of[e]
    if p then
      local k = 3 * (p - 1) + kind[e]
      g.kinds[k] = (g.kinds[k] or 0) + by_n
    end
  end
  function md.put(g, e)
    if g.set[e] then return false end
    g.set[e] = true
    g.events[#g.events + 1] = e
    count(g, e, 1)
    return true
  end
  function md.take(g, e)
    if not g.set[e] then return end
    g.set[e] = nil
    local ev = g.events
    for i = #ev, 1, -1 do
      if ev[i] == e then
        table.remove(ev, i)
        break
      end
    end
    count(g, e, -1)
  end

  -- Each PMU's load: of its counter sets, the most events (each once)
  -- per counter; a count on a PMU loaded less than the most loaded one
  -- costs that much less (an uncore PMU's events take a few runs of the
  -- core's many).
  local load, top = {}, 0
  do
    local n = {}
    for _, h in ipairs(hw) do
      for _, i in ipairs(cls[h.ev.name]) do n[i] = (n[i] or 0) + 1 end
    end
    for i, st in ipairs(set_list) do
      local r = (n[i] or 0) / cap[i]
      if r > (load[st.pmu] or 0) then load[st.pmu] = r end
    end
    for _, r in pairs(load) do
      if r > top then top = r end
    end
  end
  local scale = {}
  for i in ipairs(cp) do scale[i] = top > 0 and (load[i] or 0) / top or 1 end
  -- What a group's counts cost, per PMU: a count of kind 1 costs 1, of
  -- kind 2 SPARE_PRICE while the counters to spare take it and 1 beyond
  -- (more of them than the spare counters take scarce ones: Ice Lake's
  -- groups of 5 or 6 such events left the single events limited to
  -- counters 0-3 too few), of kind 3 FIXED_PRICE. change(g, add, drop):
  -- the cost of g with the events of add it lacks and without those of
  -- drop it holds, less that of g; skip: drop only those with skip[name]
  -- == 1 (a metric's events no other metric of g needs).
  local function pmu_cost(p, s, o, x)
    local sp = spare[p]
    if o > sp then return scale[p] * (s + (o - sp) + SPARE_PRICE * sp + FIXED_PRICE * x) end
    return scale[p] * (s + SPARE_PRICE * o + FIXED_PRICE * x)
  end
  local dk, touched, tstamp, tround, nt = {}, {}, {}, 0, 0
  local function note(e, by_n)
    local p = pmu_of[e]
    if not p then return end
    if tstamp[p] ~= tround then
      tstamp[p] = tround
      nt = nt + 1
      touched[nt] = p
      local b = 3 * (p - 1)
      dk[b + 1], dk[b + 2], dk[b + 3] = 0, 0, 0
    end
    local k = 3 * (p - 1) + kind[e]
    dk[k] = dk[k] + by_n
  end
  function md.change(g, add, drop, skip)
    tround, nt = tround + 1, 0
    round = round + 1
    if add then
      for _, e in ipairs(add) do
        if seen[e] ~= round then
          seen[e] = round
          if not g.set[e] then note(e, 1) end
        end
      end
    end
    if drop then
      for _, e in ipairs(drop) do
        if g.set[e] and seen[e] ~= round and (not skip or skip[e] == 1) then
          seen[e] = round
          note(e, -1)
        end
      end
    end
    local d, ks = 0, g.kinds
    for i = 1, nt do
      local b = 3 * (touched[i] - 1)
      local s, o, x = ks[b + 1] or 0, ks[b + 2] or 0, ks[b + 3] or 0
      d = d + pmu_cost(touched[i], s + dk[b + 1], o + dk[b + 2], x + dk[b + 3]) - pmu_cost(touched[i], s, o, x)
    end
    return d
  end
  -- a group's cost
  function md.cost(g) return -md.change(g, nil, g.events) end
  -- What adding names to g costs at least (each count at its own price,
  -- no spill): a cheap refusal before change.
  local least = {}
  for e, k in pairs(kind) do
    least[e] = scale[pmu_of[e]] * (k == 1 and 1 or k == 2 and SPARE_PRICE or FIXED_PRICE)
  end
  md.NONE = { set = {} }
  function md.least(g, names)
    local x, set = 0, g.set
    for i = 1, #names do
      local e = names[i]
      if not set[e] then x = x + (least[e] or 0) end
    end
    return x
  end

  -- The planner's order of single events: taken alone first, then
  -- those of shared registers, then those allowed fewest counters.
  function md.before(a, b)
    local ha, hb = by[a], by[b]
    if not ha or not hb then
      if (ha ~= nil) ~= (hb ~= nil) then return ha ~= nil end
      return a < b
    end
    if ha.isolated ~= hb.isolated then return ha.isolated end
    local sa, sb = (ha.shared or 0) > 0, (hb.shared or 0) > 0
    if sa ~= sb then return sa end
    local wa, wb = popcount(ha.allowed), popcount(hb.allowed)
    if wa ~= wb then return wa < wb end
    return a < b
  end
  return md
end

-- Group c's events and metrics join group into.
local function absorb(md, into, c)
  for _, e in ipairs(c.events) do md.put(into, e) end
  for k, name in ipairs(c.metrics) do
    into.metrics[#into.metrics + 1] = name
    into.mine[#into.mine + 1] = c.mine[k]
  end
end

-- Groups by merging: each metric starts as a group of its own; each
-- round merges pairs of groups (each group once per round) that share
-- events of the PMU's scarce counters, those sharing most first, while
-- their union fits one run; groups sharing only other events are left to
-- M.pack (merging on them too gave no fewer runs on any shared file).
-- A pair that did not fit never fits later (groups only grow), so it is
-- tried once. items: {{name=, mine={events}}}; reverse: of pairs sharing
-- equally many events, those of higher indices merge first.
function M.merge(items, md, reverse)
  local clusters = {}
  for i, it in ipairs(items) do
    local c = md.group(i)
    c.metrics[1], c.mine[1] = it.name, it.mine
    for _, e in ipairs(it.mine) do md.put(c, e) end
    clusters[i] = c
  end
  local failed, alive = {}, {}
  for _, c in ipairs(clusters) do alive[c] = true end
  local n = #clusters
  while true do
    -- the pairs sharing an event, with how many they share
    local holders, names = {}, {}
    for _, c in ipairs(clusters) do
      if alive[c] then
        for _, e in ipairs(c.events) do
          if md.scarce(e) then
            local h = util.list_for(holders, names, e)
            h[#h + 1] = c.id
          end
        end
      end
    end
    local score, list = {}, {}
    for _, e in ipairs(names) do
      local h = holders[e]
      for i = 1, #h - 1 do
        for j = i + 1, #h do
          local key = h[i] * (n + 1) + h[j]
          if not failed[key] then
            if not score[key] then list[#list + 1] = key end
            score[key] = (score[key] or 0) + 1
          end
        end
      end
    end
    table.sort(list, function(x, y)
      if score[x] ~= score[y] then return score[x] > score[y] end
      if reverse then return x > y end
      return x < y
    end)
    local used, merged = {}, false
    for _, key in ipairs(list) do
      local a, b = clusters[key // (n + 1)], clusters[key % (n + 1)]
      if not used[a] and not used[b] then
        if md.joins(a, b.events) then
          absorb(md, a, b)
          alive[b] = false
          used[a], used[b], merged = true, true, true
        else
          failed[key] = true
        end
      end
    end
    if not merged then break end
  end
  local out = {}
  for _, c in ipairs(clusters) do
    if alive[c] then out[#out + 1] = c end
  end
  return out
end

-- Groups packed into runs (first fit, the costliest first), each union
-- counting a shared event once: the planner would pack them too, but
-- with an event two of them share counted twice in one run.
function M.pack(clusters, md)
  local cost = {}
  for _, c in ipairs(clusters) do cost[c] = md.cost(c) end
  local order = {}
  for i, c in ipairs(clusters) do order[i] = c end
  table.sort(order, function(a, b)
    if cost[a] ~= cost[b] then return cost[a] > cost[b] end
    return a.id < b.id
  end)
  local bins = {}
  for _, c in ipairs(order) do
    local into
    for _, b in ipairs(bins) do
      if md.joins(b, c.events) then
        into = b
        break
      end
    end
    if into then
      absorb(md, into, c)
    else
      bins[#bins + 1] = c
    end
  end
  table.sort(bins, function(a, b) return a.id < b.id end)
  return bins
end

-- Fewer counts: each metric (in its group's order, the groups' in
-- theirs) moves to the group where it costs least (md.change: the
-- counts it adds there), when that is less than what leaving its group
-- saves (the events no other metric there needs), or the same and its
-- group, left empty, is a run less; repeated while a pass moves one, at
-- most passes times. Moving one metric at a time undoes what packing
-- whole groups cannot: a merged group that landed where only some of
-- its metrics share events. Returns the groups left, in their first
-- order.
function M.relocate(clusters, md, passes)
  -- per group: how many of its metrics need each event; per event: the
  -- groups holding it (a metric's move can only pay where it shares an
  -- event, unless it leaves counts past the spare counters or its group
  -- empty behind)
  local holders, pos = {}, {}
  for i, c in ipairs(clusters) do
    pos[c] = i
    c.cnt = {}
    for _, mine in ipairs(c.mine) do
      for _, e in ipairs(mine) do c.cnt[e] = (c.cnt[e] or 0) + 1 end
    end
    for _, e in ipairs(c.events) do
      holders[e] = holders[e] or {}
      table.insert(holders[e], c)
    end
  end
  local function unhold(e, c)
    local h = holders[e]
    for i = #h, 1, -1 do
      if h[i] == c then
        table.remove(h, i)
        return
      end
    end
  end
  local live = {}
  for _, c in ipairs(clusters) do live[c] = true end
  local EPS = 1e-9
  local mark, stamp = {}, 0
  for _ = 1, passes do
    local moved = false
    local order = {}
    for _, c in ipairs(clusters) do
      for k = 1, #c.metrics do order[#order + 1] = { c = c, name = c.metrics[k], mine = c.mine[k] } end
    end
    for _, o in ipairs(order) do
      local a, mine = o.c, o.mine
      local saves = -md.change(a, nil, mine, a.cnt)
      local empties = #a.metrics == 1
      local near
      if not empties and md.least(md.NONE, mine) - saves > -EPS then
        -- only the groups sharing an event can take it for less
        near = true
        stamp = stamp + 1
        for _, e in ipairs(mine) do
          for _, b in ipairs(holders[e] or {}) do mark[b] = stamp end
        end
      end
      local cands = {}
      for _, b in ipairs(clusters) do
        if live[b] and b ~= a and (not near or mark[b] == stamp) and md.least(b, mine) - saves < EPS
          and md.room(b, mine) then
          local d = md.change(b, mine) - saves
          if d < -EPS or (empties and d < EPS) then cands[#cands + 1] = { b = b, d = d } end
        end
      end
      table.sort(cands, function(x, y)
        if x.d ~= y.d then return x.d < y.d end
        return x.b.id < y.b.id
      end)
      for _, cd in ipairs(cands) do
        local b = cd.b
        if md.joins(b, mine) then
          for k, name in ipairs(a.metrics) do
            if name == o.name and a.mine[k] == mine then
              table.remove(a.metrics, k)
              table.remove(a.mine, k)
              break
            end
          end
          b.metrics[#b.metrics + 1] = o.name
          b.mine[#b.mine + 1] = mine
          for _, e in ipairs(mine) do
            a.cnt[e] = a.cnt[e] - 1
            if a.cnt[e] == 0 then
              a.cnt[e] = nil
              md.take(a, e)
              unhold(e, a)
            end
          end
          if #a.metrics == 0 then live[a] = false end
          for _, e in ipairs(mine) do
            if md.put(b, e) then
              holders[e] = holders[e] or {}
              table.insert(holders[e], b)
            end
            b.cnt[e] = (b.cnt[e] or 0) + 1
          end
          o.c = b
          moved = true
          break
        end
      end
    end
    if not moved then break end
  end
  local out = {}
  for _, c in ipairs(clusters) do
    c.cnt = nil
    if live[c] then out[#out + 1] = c end
  end
  return out
end

-- Single events (those no co-scheduled metric needs: the several-run
-- metrics' own) into the groups' runs, in the planner's order
-- (md.before), first fit, a new group when none has room; they join the
-- group so that the runs planned are the runs packed here. Returns the
-- groups and the events no group takes (an event that needs a leader
-- its group lacks: left to the planner).
function M.fill(clusters, singles, md)
  local order = {}
  for i, e in ipairs(singles) do order[i] = e end
  table.sort(order, md.before)
  local nid = 0
  for _, c in ipairs(clusters) do
    if c.id > nid then nid = c.id end
  end
  local left = {}
  for _, e in ipairs(order) do
    local one = { e }
    local into
    for _, c in ipairs(clusters) do
      if md.joins(c, one) then
        into = c
        break
      end
    end
    if not into and md.fits(one) then
      nid = nid + 1
      into = md.group(nid)
      clusters[#clusters + 1] = into
    end
    if into then
      md.put(into, e)
    else
      left[#left + 1] = e
    end
  end
  return clusters, left
end

-- The work (a node and the groups it tries) least_counts searches per
-- set of linked metrics before it settles for its floor (the shared
-- files' sets take at most 180, but for Skylake's and Skylake-SP's 30 and
-- 32 linked metrics: there the floor, their linear relaxation's, is what
-- the search would prove), and in all per PMU (a metric file of
-- thousands of linked metrics stays fast: past it each set counts its
-- floor).
M.SEARCH = 40000
M.SEARCH_ALL = 100000

-- The most unions cover_lp enumerates (the shared files' sets have at
-- most 287), the most cells (unions x metrics) and pivots its simplex
-- takes (at most 9184 and 42 on the shared files): past them a set's
-- floor is its events' copies.
M.UNIONS = 5000
M.LP_CELLS = 50000
M.PIVOTS = 500

-- max c.y subject to A y <= b, y >= 0, b >= 0 (rows: {[j] = a}, sparse
-- or dense), by the simplex method on a dictionary, Bland's rule (no
-- cycling), at most M.PIVOTS pivots: the optimum, or nil.
local function packing_lp(rows, b, c)
  local m, n = #rows, #c
  local d, rhs = {}, {}
  for i = 1, m do
    local r = {}
    for j = 1, n do r[j] = rows[i][j] or 0 end
    d[i], rhs[i] = r, b[i]
  end
  local obj, z = {}, 0
  for j = 1, n do obj[j] = c[j] end
  -- variable ids: nonbasic[j], basic[i] (1..n the y, n+1.. the slacks)
  local nonbasic, basic = {}, {}
  for j = 1, n do nonbasic[j] = j end
  for i = 1, m do basic[i] = n + i end
  local EPS = 1e-9
  for _ = 1, M.PIVOTS do
    local enter
    for j = 1, n do
      if obj[j] > EPS and (not enter or nonbasic[j] < nonbasic[enter]) then enter = j end
    end
    if not enter then return z end
    local leave, ratio
    for i = 1, m do
      local a = d[i][enter]
      if a > EPS then
        local r = rhs[i] / a
        if not leave or r < ratio - EPS or (r < ratio + EPS and basic[i] < basic[leave]) then leave, ratio = i, r end
      end
    end
    if not leave then return nil end -- unbounded: never for a packing with a positive row per variable
    -- pivot: the entering variable takes the leaving one's row
    local row, a = d[leave], d[leave][enter]
    for j = 1, n do row[j] = row[j] / a end
    row[enter] = 1 / a
    rhs[leave] = rhs[leave] / a
    for i = 1, m do
      if i ~= leave then
        local f = d[i][enter]
        if f ~= 0 then
          local ri = d[i]
          for j = 1, n do ri[j] = ri[j] - f * row[j] end
          ri[enter] = -f * row[enter]
          rhs[i] = rhs[i] - f * rhs[leave]
        end
      end
    end
    local f = obj[enter]
    for j = 1, n do obj[j] = obj[j] - f * row[j] end
    obj[enter] = -f * row[enter]
    z = z + f * rhs[leave]
    nonbasic[enter], basic[leave] = basic[leave], nonbasic[enter]
  end
  return nil
end

-- The linear relaxation of splitting list's metrics (sets of events of
-- kind 1, {{k1={names}}}) into groups of at most cap such events at the
-- fewest counts: a group's counts are those of the union of its metrics'
-- events; any union of at most cap events may be a group (every group
-- of a plan is one, its fit aside), with every metric it includes. Its
-- optimum (by the dual, a packing: a value per metric, the metrics a
-- union includes worth at most the union's size) is at most the fewest
-- counts of any split. nil past M.UNIONS unions.
local function cover_lp(list, cap)
  local sets = {}
  for k, a in ipairs(list) do
    local st = {}
    for _, e in ipairs(a.k1) do st[e] = true end
    sets[k] = st
  end
  local function key_of(u)
    local t = {}
    for e in pairs(u) do t[#t + 1] = e end
    table.sort(t)
    return table.concat(t, " "), #t
  end
  -- the unions of metrics of at most cap events, breadth first
  local seen, queue, head = {}, {}, 1
  for k in ipairs(list) do
    local key, size = key_of(sets[k])
    if size <= cap and not seen[key] then
      seen[key] = true
      queue[#queue + 1] = { set = sets[k], size = size }
    end
  end
  while head <= #queue do
    local u = queue[head]
    head = head + 1
    for _, a in ipairs(list) do
      local v, size = nil, u.size
      for _, e in ipairs(a.k1) do
        if not u.set[e] then size = size + 1 end
      end
      if size > u.size and size <= cap then
        v = {}
        for e in pairs(u.set) do v[e] = true end
        for _, e in ipairs(a.k1) do v[e] = true end
        local key = key_of(v)
        if not seen[key] then
          if #queue >= M.UNIONS then return nil end
          seen[key] = true
          queue[#queue + 1] = { set = v, size = size }
        end
      end
    end
  end
  if #queue * #list > M.LP_CELLS then return nil end
  local rows, b, c = {}, {}, {}
  for k in ipairs(list) do c[k] = 1 end
  for i, u in ipairs(queue) do
    local r = {}
    for k, a in ipairs(list) do
      local inside = true
      for _, e in ipairs(a.k1) do
        if not u.set[e] then
          inside = false
          break
        end
      end
      if inside then r[k] = 1 end
    end
    rows[i], b[i] = r, u.size
  end
  return packing_lp(rows, b, c)
end

-- The fewest counts of events of kind 1 (scarce counters only) on PMU p
-- of any plan that counts each metric of items in one run; M.bound adds
-- the spill past the spare counters and divides by the scarce counters.
-- The metrics in one run are a group that fits one run, so a plan's runs
-- split the metrics linked (through such an event both need) into
-- groups; the fewest counts of a split is searched exactly, depth first:
-- the cheapest join first; cut where the counts so far and the copies
-- still missing (each event ends in at least its copies' worth of
-- groups, and groups only grow) reach the best, or where another order
-- of joins reached the same groups as cheaply; a metric whose events a
-- group holds joins it and nothing else (any other choice only grows a
-- group); a split that reaches the floor ends it. The floor: the
-- events' copies, or the linear relaxation's optimum (cover_lp) rounded
-- up. A metric whose events on p another's include is left out (it
-- joins that one's group at no cost). Past M.SEARCH's work a set counts
-- its floor. Events no metric of items needs count once. hw:
-- plan.model's records; copies: {[event] = runs at least} (M.bound's).
local function least_counts(items, hw, md, p, copies)
  local function counted(e) return md.scarce_only(e) == p end
  local function copies_of(e) return math.max(1, copies[e] or 1) end
  -- each metric's events on p
  local parts = {}
  for i, it in ipairs(items) do
    local part, set, n = {}, {}, 0
    for _, e in ipairs(it.mine) do
      if md.shape(e) == p and not set[e] then
        set[e] = true
        part[#part + 1] = e
        if counted(e) then n = n + 1 end
      end
    end
    if n > 0 then parts[#parts + 1] = { i = i, part = part, set = set } end
  end
  -- the metrics no other includes (of equal ones, the first), the
  -- biggest first
  table.sort(parts, function(a, b)
    if #a.part ~= #b.part then return #a.part > #b.part end
    return a.i < b.i
  end)
  local kept = {}
  for _, a in ipairs(parts) do
    local inside = false
    for _, b in ipairs(kept) do
      inside = #b.part >= #a.part
      for _, e in ipairs(inside and a.part or {}) do
        if not b.set[e] then
          inside = false
          break
        end
      end
      if inside then break end
    end
    if not inside then kept[#kept + 1] = a end
  end
  -- the linked sets (union-find over the counted events)
  local up, first = {}, {}
  local function root(k)
    while up[k] ~= k do
      up[k] = up[up[k]]
      k = up[k]
    end
    return k
  end
  for k, a in ipairs(kept) do
    up[k] = k
    for _, e in ipairs(a.part) do
      if counted(e) then
        if first[e] then up[root(k)] = root(first[e]) else first[e] = k end
      end
    end
  end
  local sets, order = {}, {}
  for k, a in ipairs(kept) do
    local r = root(k)
    if not sets[r] then
      sets[r] = {}
      order[#order + 1] = r
    end
    table.insert(sets[r], a)
  end
  local total, spent = 0, 0
  for _, h in ipairs(hw) do
    if counted(h.ev.name) and not first[h.ev.name] then total = total + 1 end
  end
  for _, r in ipairs(order) do
    local list = sets[r]
    local floor = 0
    for e, k in pairs(first) do
      if root(k) == r then floor = floor + copies_of(e) end
    end
    -- (the cut's copies still missing start at the copies: what the
    -- groups' counts pay off; the floor may be higher)
    local copies_left = floor
    -- the linear relaxation's optimum, rounded up (counts are whole)
    if #list > 1 then
      for _, a in ipairs(list) do
        a.k1 = {}
        for _, e in ipairs(a.part) do
          if counted(e) then a.k1[#a.k1 + 1] = e end
        end
      end
      local lp = cover_lp(list, md.sizes[p].scarce)
      if lp then floor = math.max(floor, math.ceil(lp - 1e-6)) end
    end
    local groups, held, seen_at, index, n_index = {}, {}, {}, {}, 0
    local best, nodes, need = math.huge, 0, copies_left
    for _, a in ipairs(list) do
      for _, e in ipairs(a.part) do
        if not index[e] then
          n_index = n_index + 1
          index[e] = n_index
        end
      end
    end
    -- a state: the groups' events after the first d metrics
    local function state(d)
      local sig = {}
      for k, g in ipairs(groups) do
        local ids = {}
        for j, e in ipairs(g.events) do ids[j] = index[e] end
        table.sort(ids)
        sig[k] = table.concat(ids, ",")
      end
      table.sort(sig)
      return d .. ":" .. table.concat(sig, "|")
    end
    local function put(g, a)
      local new = {}
      for _, e in ipairs(a.part) do
        if md.put(g, e) then
          new[#new + 1] = e
          if counted(e) then
            held[e] = (held[e] or 0) + 1
            g.n = g.n + 1
            if held[e] <= copies_of(e) then need = need - 1 end
          end
        end
      end
      return new
    end
    local function unput(g, new)
      for _, e in ipairs(new) do
        md.take(g, e)
        if counted(e) then
          if held[e] <= copies_of(e) then need = need + 1 end
          held[e] = held[e] - 1
          g.n = g.n - 1
        end
      end
    end
    local function search(d, sum)
      -- (a split as cheap as the floor is the fewest)
      if best <= floor then return true end
      nodes = nodes + 1 + #groups
      if nodes > M.SEARCH or spent + nodes > M.SEARCH_ALL then return false end
      if d > #list then
        best = math.min(best, sum)
        return true
      end
      if sum + need >= best then return true end
      local key = state(d)
      if seen_at[key] and seen_at[key] <= sum then return true end
      seen_at[key] = sum
      local a = list[d]
      local tries = {}
      for _, g in ipairs(groups) do
        local add = 0
        for _, e in ipairs(a.part) do
          if not g.set[e] then add = add + 1 end
        end
        if add == 0 then return search(d + 1, sum) end
        if md.joins(g, a.part) then
          add = 0
          for _, e in ipairs(a.part) do
            if not g.set[e] and counted(e) then add = add + 1 end
          end
          tries[#tries + 1] = { g = g, add = add }
        end
      end
      table.sort(tries, function(x, y) return x.add < y.add end)
      for _, t in ipairs(tries) do
        local new = put(t.g, a)
        local ok = search(d + 1, sum + t.add)
        unput(t.g, new)
        if not ok then return false end
      end
      local g = md.group(0)
      g.n = 0
      groups[#groups + 1] = g
      local new = put(g, a)
      local ok = search(d + 1, sum + g.n)
      unput(g, new)
      groups[#groups] = nil
      return ok
    end
    total = total + (search(1, 0) and best or floor)
    spent = spent + nodes
  end
  return total
end

-- A lower bound on the runs of any plan that counts each metric of items
-- ({{mine={events}}}: those that fit one run) in one run (its events of
-- each PMU in one run of that PMU): an event the metrics of a set need,
-- no two of which fit one run together, is counted in as many runs as
-- the set has metrics (the set grown greedily, the biggest metrics
-- first; an event of scarce counters only, see covered, may need more);
-- the planner's own bound (core.plan_lower_bound: counters, counter
-- subsets, shared registers, events taken alone) of the events so
-- repeated is then one for the plan, and so is the count of each PMU's
-- scarce counters below (which sees what the planner's cannot: a
-- metric's events that leave some on scarce counters). all: every
-- record; md: the model (M.plan's). Returns the bound and {[event] =
-- the runs it is counted in at least}.
function M.bound(items, all, popts, md)
  local core = require "autoperf.core"
  local holders, names = {}, {}
  for i, it in ipairs(items) do
    for _, e in ipairs(it.mine) do
      table.insert(util.list_for(holders, names, e), i)
    end
  end
  -- Whether two metrics' events of PMU p fit one run, asked once per
  -- pair (metrics share several events). Per PMU: the planner places a
  -- group's members of each PMU apart, so two metrics whose uncore
  -- events cannot meet may still share a core run.
  local n, np, together = #items, #md.sizes + 1, {}
  local function pair_fits(i, j, p)
    if i > j then i, j = j, i end
    local key = (i * (n + 1) + j) * np + p
    local v = together[key]
    if v == nil then
      local u = {}
      for _, it in ipairs({ items[i], items[j] }) do
        for _, x in ipairs(it.mine) do
          if md.shape(x) == p then u[#u + 1] = x end
        end
      end
      v = md.fits(u)
      together[key] = v
    end
    return v
  end
  -- Greedily, in list order, the metrics of list (indexes into items) of
  -- which no two fit one run on PMU p (each takes a run of its own); only
  -- those for which take(i) holds when it is given.
  local function apart_set(list, p, take)
    local set = {}
    for _, i in ipairs(list) do
      if not take or take(i) then
        local alone = true
        for _, j in ipairs(set) do
          if pair_fits(i, j, p) then
            alone = false
            break
          end
        end
        if alone then set[#set + 1] = i end
      end
    end
    return set
  end
  -- An event of scarce counters only: a set A of the metrics needing it
  -- with most such events, no two of which fit one run, each takes a
  -- run; those (B) that fit no run of A's take runs of their own, at
  -- least as many as hold their such events, the scarce counters' worth
  -- each (Ice Lake's L2_Hit_Latency, L3_Hit_Latency, Local_MEM and
  -- Remote_MEM fit no run of the three 4-event metrics needing
  -- MEM_LOAD_RETIRED.FB_HIT, and their six such events take two runs).
  local function covered(e, h)
    local p = md.scarce_only(e)
    if not p or md.sizes[p].scarce == 0 then return 0 end
    local function scarce_of(i)
      local out = {}
      for _, x in ipairs(items[i].mine) do
        if md.scarce_only(x) == p then out[#out + 1] = x end
      end
      return out
    end
    local top = 0
    for _, i in ipairs(h) do top = math.max(top, #scarce_of(i)) end
    local a = apart_set(h, p, function(i) return #scarce_of(i) == top end)
    local in_a = {}
    for _, i in ipairs(a) do in_a[i] = true end
    local union, n, b = {}, 0, {}
    for _, i in ipairs(h) do
      local apart = not in_a[i]
      for _, j in ipairs(a) do
        if apart and pair_fits(i, j, p) then apart = false end
      end
      if apart then
        b[#b + 1] = i
        for _, x in ipairs(scarce_of(i)) do
          if not union[x] then
            union[x] = true
            n = n + 1
          end
        end
      end
    end
    if #b == 0 then return #a end
    return #a + math.max(#apart_set(b, p), math.ceil(n / md.sizes[p].scarce))
  end
  -- An event of scarce counters only: the other such events of the
  -- metrics needing it each share a run with it (their metric's), at
  -- most the scarce counters less one beside each of its counts.
  local function partners(e, h)
    local p = md.scarce_only(e)
    if not p or md.sizes[p].scarce < 2 then return 0 end
    local seen, n = { [e] = true }, 0
    for _, i in ipairs(h) do
      for _, x in ipairs(items[i].mine) do
        if not seen[x] and md.scarce_only(x) == p then
          seen[x] = true
          n = n + 1
        end
      end
    end
    return math.ceil(n / (md.sizes[p].scarce - 1))
  end
  local copies = {}
  for _, e in ipairs(names) do
    local h, p = holders[e], md.shape(e)
    if #h > 1 and p then
      table.sort(h, function(a, b)
        if #items[a].mine ~= #items[b].mine then return #items[a].mine > #items[b].mine end
        return a < b
      end)
      copies[e] = math.max(#apart_set(h, p), covered(e, h), partners(e, h))
    end
  end
  local pmus, hw = plan_mod.model(all, popts)
  if #hw == 0 then return 0, copies end
  local rep = {}
  for _, h in ipairs(hw) do
    for _ = 1, math.max(1, copies[h.ev.name] or 1) do
      local c = {}
      for k, v in pairs(h) do c[k] = v end
      c.group = 0
      rep[#rep + 1] = c
    end
  end
  local bound = core.plan_lower_bound(plan_mod.core_pmus(pmus), rep)
  -- Per PMU, its scarce counters' count: in a run, the events that may
  -- use scarce counters only, plus those that may use spare ones past
  -- the spare counters (they sit on scarce ones then), are at most the
  -- scarce counters; an event taken alone has a run of its own, beside
  -- no other of either. A metric with more events of the second kind
  -- than the spare counters leaves the rest on scarce counters wherever
  -- it is (Ice Lake's branch mix: 6 for its 4 spare counters), and the
  -- metrics of a set no two of which fit one run each in their own run
  -- (the set grown greedily, the most left over first).
  local scarce_n, alone_n, over = {}, {}, {}
  for _, h in ipairs(hw) do
    local p, k, only, alone = md.shape(h.ev.name)
    local n = math.max(1, copies[h.ev.name] or 1)
    if alone then
      alone_n[p] = (alone_n[p] or 0) + n
    elseif only and k == 1 then
      scarce_n[p] = (scarce_n[p] or 0) + n
    end
  end
  local spilling = {}
  for i, it in ipairs(items) do
    local o = {}
    for _, e in ipairs(it.mine) do
      local p, k, only, alone = md.shape(e)
      if p and k == 2 and only and not alone then o[p] = (o[p] or 0) + 1 end
    end
    for p, n in pairs(o) do
      if n > md.sizes[p].spare then spilling[#spilling + 1] = { i = i, p = p, n = n - md.sizes[p].spare } end
    end
  end
  table.sort(spilling, function(a, b)
    if a.n ~= b.n then return a.n > b.n end
    if a.p ~= b.p then return a.p < b.p end
    return a.i < b.i
  end)
  -- (metrics of different PMUs never compete: per PMU, in that order)
  local of_pmu, spill = {}, {}
  for _, sp in ipairs(spilling) do
    of_pmu[sp.p] = of_pmu[sp.p] or {}
    table.insert(of_pmu[sp.p], sp.i)
    spill[sp.p] = spill[sp.p] or {}
    spill[sp.p][sp.i] = sp.n
  end
  for p, list in pairs(of_pmu) do
    for _, i in ipairs(apart_set(list, p)) do over[p] = (over[p] or 0) + spill[p][i] end
  end
  for p, size in ipairs(md.sizes) do
    if size.scarce > 0 then
      local counts = math.max(scarce_n[p] or 0, least_counts(items, hw, md, p, copies)) + (over[p] or 0)
      local own = (alone_n[p] or 0) + math.ceil(counts / size.scarce)
      if own > bound then bound = own end
    end
  end
  return bound, copies
end

-- The groups of items under the model (merge's ties broken as reverse
-- says).
local function bins(items, md, reverse, opts)
  local clusters = M.merge(items, md, reverse)
  clusters = M.pack(clusters, md)
  return M.relocate(clusters, md, opts.relocate or 20)
end

-- list: metrics (metrics.select), rec: {[event name] = record}, popts:
-- the planner's options. Returns events (records; an event in several
-- groups appears once per group, same name), and info {groups=,
-- cosched={metric names}, several={metric names}, duplicated=n, bound=n
-- (M.bound: no plan co-scheduling them takes fewer runs)}.
-- opts: relocate (its passes, 20), anchors (records: the events counted
-- in every run beside the plan's, anchors.lua).
function M.plan(list, rec, popts, opts)
  opts = opts or {}
  local all = {}
  for _, r in pairs(rec) do all[#all + 1] = r end
  table.sort(all, function(a, b) return a.name < b.name end)
  local md = model(all, popts or {})
  local info = { cosched = {}, several = {}, duplicated = 0 }
  local items, need = {}, {}
  for _, m in ipairs(list) do
    local mine, once = {}, {}
    for _, e in ipairs(m.events) do
      if rec[e] and not once[e] then
        once[e] = true
        mine[#mine + 1] = e
      end
    end
    if #mine == 0 then
      -- nothing to plan (constants only, or events unknown here)
    elseif not md.fits(mine) then
      info.several[#info.several + 1] = m.name
    else
      items[#items + 1] = { name = m.name, mine = mine }
      for _, e in ipairs(mine) do need[e] = true end
      -- the planner keeps a group's members together per PMU: a metric
      -- over several PMUs' events (core and uncore, an msr PMU's TSC)
      -- may be counted in several runs
      local pmus, npmu = {}, 0
      for _, e in ipairs(mine) do
        local p = rec[e].pmu or "?"
        if not pmus[p] then pmus[p], npmu = true, npmu + 1 end
      end
      if npmu == 1 then
        info.cosched[#info.cosched + 1] = m.name
      else
        info.several[#info.several + 1] = m.name
      end
    end
  end
  info.bound = M.bound(items, all, popts or {}, md)
  -- the single events: those only the several-run metrics need
  local singles, once = {}, {}
  for _, m in ipairs(list) do
    for _, e in ipairs(m.events) do
      if rec[e] and not need[e] and not once[e] then
        once[e] = true
        singles[#singles + 1] = e
      end
    end
  end
  -- the groups of least cost (md.cost: the counts, scarce ones most) of
  -- merging's two orders: which pair of equal share merges first decides
  -- which metrics meet (Skylake-SP: 59 runs one way, 60 the other)
  local clusters, best
  for _, reverse in ipairs({ false, true }) do
    local cs = bins(items, md, reverse, opts)
    local cost = 0
    for _, c in ipairs(cs) do cost = cost + md.cost(c) end
    if not best or cost < best - 1e-9 then clusters, best = cs, cost end
  end
  clusters = M.fill(clusters, singles, md)
  local holders = {} -- holders[event] = {groups holding it}
  for i, c in ipairs(clusters) do
    c.id = i
    for _, e in ipairs(c.events) do
      holders[e] = holders[e] or {}
      table.insert(holders[e], c)
    end
  end
  -- The anchors a group reads from its run, planning no count of its
  -- own: a kernel one, and a hardware one on a fixed counter that no
  -- event of the plan needs alone (Skylake's INST_RETIRED.ANY; not its
  -- CPU_CLK_UNHALTED.THREAD where CPU_CLK_UNHALTED.THREAD_ANY is planned:
  -- a run holding that goes without the anchor). Its counter still
  -- counts in its group's fit.
  local free, FIXED = {}, require("autoperf.core").FIXED_SHIFT
  for _, a in ipairs(opts.anchors or {}) do
    local name = a.name
    local bits, p = md.allowed(name)
    -- (the same event: a hybrid part's halves both have INST_RETIRED.ANY)
    local r = rec[name]
    local same = r and r.pmu == a.pmu and r.type == a.type and r.config == a.config and (r.config1 or 0) == (a.config1 or 0)
    if same and not bits then
      free[name] = true
    elseif same and bits & ((1 << FIXED) - 1) == 0 and bits ~= 0 then
      local bit = require("autoperf.anchors").counter({ allowed = bits })
      local taken = false
      for _, other in ipairs(all) do
        local b, q = md.allowed(other.name)
        if other.name ~= name and q == p and b and b ~= 0 and b & ~(1 << bit) == 0 then taken = true end
      end
      free[name] = not taken
    end
  end
  -- the records: one per event and group; events no group took, once,
  -- ungrouped
  local out, base_group = {}, opts.first_group or 1000
  for _, c in ipairs(clusters) do
    local planned = {}
    for _, e in ipairs(c.events) do
      if not free[e] then planned[#planned + 1] = e end
    end
    for _, e in ipairs(planned) do
      local copy = {}
      for k, v in pairs(rec[e]) do copy[k] = v end
      copy.group = base_group + c.id
      -- a second count of an event is its own event (NAME#2): two may
      -- land in one run, where each name is declared once
      local k = 1
      for i, h in ipairs(holders[e]) do
        if h == c then k = i end
      end
      if k > 1 then
        copy.name = e .. M.COPY .. k
        copy.copy_of = e
        info.duplicated = info.duplicated + 1
      end
      out[#out + 1] = copy
    end
  end
  local seen = {}
  for _, ev in ipairs(out) do seen[ev.name] = true end
  for _, m in ipairs(list) do
    for _, e in ipairs(m.events) do
      if rec[e] and not seen[e] and not free[e] then
        seen[e] = true
        out[#out + 1] = rec[e]
      end
    end
  end
  info.groups = #clusters
  info.anchored = {}
  for name in pairs(free) do info.anchored[#info.anchored + 1] = name end
  table.sort(info.anchored)
  return out, info
end

return M
