-- Metric-aware planning: the events of each metric that fits one run go
-- into one user group (core/plan.h's ap_plan_event.group: members share
-- a run), so that the metric is computed from counts of the same
-- execution. Groups are built in three steps (M.merge, M.pack,
-- M.dissolve): metrics sharing the costliest events merge while the union
-- fits one run, the groups are packed into runs, and a group whose every
-- metric fits another one is dissolved. An event that two groups need is
-- counted again in the other (an event counted in two runs, each metric
-- reading the run that holds all its events). A metric whose
-- events cannot fit one run (some TMA nodes need 40-84 events) is left to
-- the plain plan and labelled "computed from several runs".
local plan_mod = require "autoperf.plan"

local M = {}

-- The separator of a second count's name: INST_RETIRED.ANY#2
M.COPY = "#"

-- Does a list of records fit one run as one group? The planner's own
-- constraint model (plan.model: counters, fixed counters, shared
-- registers, taken-alone events), built once for all records; each test
-- is one core.plan of the subset as a group. Kernel events never
-- compete for counters: they always fit.
local function fits_fn(all, popts)
  local core = require "autoperf.core"
  local pmus, hw = plan_mod.model(all, popts)
  local cp = plan_mod.core_pmus(pmus)
  local by = {}
  for _, h in ipairs(hw) do by[h.ev.name] = h end
  local FIXED = core.FIXED_SHIFT
  local low = (1 << FIXED) - 1
  local function popcount(x)
    local n = 0
    while x ~= 0 do
      x = x & (x - 1)
      n = n + 1
    end
    return n
  end
  -- The quick refusal (Hall's condition on a few counter sets): the
  -- events that can use only counters of a set S, more than S has, never
  -- fit. The sets: per PMU, all its counters, its generic ones, and each
  -- counter set an event allows (Ice Lake's 4 of 8, a fixed counter).
  -- Pair events hold two counters, one outside what they allow: left out
  -- of the count, which then refuses less but never wrongly. cls[name]:
  -- the sets its event counts against; reset() before a count, add(name)
  -- false when a set is over.
  local cap, cls = {}, {}
  do
    local sets = {}
    local function set_of(i, m)
      local key = i .. ":" .. m
      if not sets[key] then
        cap[#cap + 1] = popcount(m)
        sets[key] = { pmu = i, mask = m, index = #cap }
      end
    end
    for i, p in ipairs(cp) do
      set_of(i, p.counters)
      if p.counters & low ~= 0 then set_of(i, p.counters & low) end
    end
    for _, h in ipairs(hw) do
      if not h.pair and h.allowed ~= 0 then set_of(h.pmu, h.allowed) end
    end
    local list = {}
    for _, st in pairs(sets) do list[#list + 1] = st end
    table.sort(list, function(x, y) return x.index < y.index end)
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
  local used = {}
  local function reset()
    for i = 1, #cap do used[i] = 0 end
  end
  local function add(e)
    local c = cls[e]
    if not c then return true end
    for _, i in ipairs(c) do
      local n = used[i] + 1
      if n > cap[i] then return false end
      used[i] = n
    end
    return true
  end
  local strategy = popts.strategy or require("autoperf.defaults").strategy
  -- each event's record as a one-group member, and its index (the cache
  -- key: the sorted indices), made once: most tests are of new subsets
  local one, id = {}, {}
  for i, h in ipairs(hw) do
    local c = {}
    for k, v in pairs(h) do c[k] = v end
    c.group = 1
    one[h.ev.name], id[h.ev.name] = c, i
  end
  local cache = {}
  -- names: event names (each once)
  local function fits(names)
    -- counted first: most unions that cannot fit have too many events
    reset()
    for _, e in ipairs(names) do
      if not add(e) then return false end
    end
    local ids = {}
    for _, e in ipairs(names) do
      local i = id[e]
      if i then ids[#ids + 1] = i end
    end
    if #ids == 0 then return true end
    table.sort(ids)
    local key = table.concat(ids, " ")
    local hit = cache[key]
    if hit ~= nil then return hit end
    local sub = {}
    for k, i in ipairs(ids) do sub[k] = one[hw[i].ev.name] end
    local ok = core.plan(cp, sub, strategy) == 1
    cache[key] = ok
    return ok
  end
  -- Each PMU's scarce counters: of the counter sets the events allow,
  -- the one with most events per counter that can take nothing else (on
  -- Ice Lake the 4 counters half of the events are limited to, not all
  -- 8). What a second count of an event costs: 1 when it needs the
  -- scarce counters, less on counters to spare, little on a fixed
  -- counter (every run has its own), nothing for a kernel event.
  local scarce = {}
  for i in ipairs(cp) do
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
  end
  local function weight(name)
    local h = by[name]
    if not h then return 0 end
    local g = h.allowed & low
    if g == 0 then return 0.125 end
    return g & ~scarce[h.pmu] == 0 and 1 or 0.25
  end
  -- Could group g with names join it fit? The count first, with no
  -- table made (most unions that cannot fit have too many events).
  local function room(g, names)
    reset()
    for _, e in ipairs(g.events) do
      if not add(e) then return false end
    end
    for _, e in ipairs(names) do
      if not g.set[e] and not add(e) then return false end
    end
    return true
  end
  -- The planner's order of single events: taken alone first, then
  -- those of shared registers, then those allowed fewest counters.
  local function before(a, b)
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
  return fits, weight, room, before
end

-- A group's events and those of names it lacks (a new list).
local function union_of(g, names)
  local u = {}
  for _, e in ipairs(g.events) do u[#u + 1] = e end
  for _, e in ipairs(names) do
    if not g.set[e] then u[#u + 1] = e end
  end
  return u
end

-- Group c's events (each once) and metrics join group into.
local function absorb(into, c)
  for _, e in ipairs(c.events) do
    if not into.set[e] then
      into.set[e] = true
      into.events[#into.events + 1] = e
    end
  end
  for k, name in ipairs(c.metrics) do
    into.metrics[#into.metrics + 1] = name
    into.mine[#into.mine + 1] = c.mine[k]
  end
end

-- Groups by merging: each metric starts as a group of its own; each
-- round merges pairs of groups (each group once per round) that share
-- events of the PMU's scarce counters (weight 1), those sharing most
-- first, while their union fits one run; groups sharing only other
-- events are left to M.pack (merging on them too packs worse: 40 runs
-- instead of 38 on Sapphire Rapids). A pair that did not fit never fits
-- later (groups only grow), so it is tried once. items: {{name=,
-- mine={events}}}.
function M.merge(items, joins, weight)
  local clusters, by_id = {}, {}
  for i, it in ipairs(items) do
    local c = { id = i, events = {}, set = {}, metrics = { it.name }, mine = { it.mine } }
    for _, e in ipairs(it.mine) do
      if not c.set[e] then
        c.set[e] = true
        c.events[#c.events + 1] = e
      end
    end
    clusters[i], by_id[i] = c, c
  end
  local w = {}
  local function wt(e)
    local x = w[e]
    if not x then
      x = weight(e)
      w[e] = x
    end
    return x
  end
  local failed, alive = {}, {}
  for _, c in ipairs(clusters) do alive[c] = true end
  local n = #clusters
  while true do
    -- the pairs sharing an event, with what they share
    local holders = {}
    for _, c in ipairs(clusters) do
      if alive[c] then
        for _, e in ipairs(c.events) do
          if wt(e) >= 1 then
            local h = holders[e]
            if not h then
              h = {}
              holders[e] = h
            end
            h[#h + 1] = c.id
          end
        end
      end
    end
    local score = {}
    for e, h in pairs(holders) do
      local x = wt(e)
      for i = 1, #h - 1 do
        for j = i + 1, #h do
          local key = h[i] * (n + 1) + h[j]
          if not failed[key] then score[key] = (score[key] or 0) + x end
        end
      end
    end
    local list = {}
    for key, v in pairs(score) do list[#list + 1] = { key = key, v = v } end
    table.sort(list, function(x, y)
      if x.v ~= y.v then return x.v > y.v end
      return x.key < y.key
    end)
    local used, merged = {}, false
    for _, p in ipairs(list) do
      local a, b = by_id[p.key // (n + 1)], by_id[p.key % (n + 1)]
      if not used[a] and not used[b] then
        if joins(a, b.events) then
          absorb(a, b)
          alive[b] = false
          used[a], used[b], merged = true, true, true
        else
          failed[p.key] = true
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
function M.pack(clusters, joins, weight)
  local cost = {}
  for _, c in ipairs(clusters) do
    local x = 0
    for _, e in ipairs(c.events) do x = x + weight(e) end
    cost[c] = x
  end
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
      if joins(b, c.events) then
        into = b
        break
      end
    end
    if into then
      absorb(into, c)
    else
      bins[#bins + 1] = c
    end
  end
  table.sort(bins, function(a, b) return a.id < b.id end)
  return bins
end

-- Fewer groups: each group (smallest first) is dissolved when every one
-- of its metrics fits another group (the one holding most of the
-- metric's events first); a group is a run, so each one dissolved is a
-- run less, and the events the moved metrics share with their new group
-- are no longer counted twice. Repeated while a pass dissolves one, at
-- most passes times. Returns the groups left, in their first order.
function M.dissolve(clusters, joins, passes)
  local live = {}
  for _, c in ipairs(clusters) do live[c] = true end
  local function place(d, mine)
    local added = {}
    for _, e in ipairs(mine) do
      if not d.set[e] then
        d.set[e] = true
        d.events[#d.events + 1] = e
        added[#added + 1] = e
      end
    end
    return added
  end
  local function unplace(d, added)
    for i = #added, 1, -1 do
      d.set[added[i]] = nil
      d.events[#d.events] = nil
    end
  end
  for _ = 1, passes do
    local order = {}
    for _, c in ipairs(clusters) do
      if live[c] then order[#order + 1] = c end
    end
    table.sort(order, function(a, b)
      if #a.events ~= #b.events then return #a.events < #b.events end
      return a.id < b.id
    end)
    local dissolved = false
    for _, c in ipairs(order) do
      live[c] = false
      local undo, ok = {}, true
      for k, mine in ipairs(c.mine) do
        local cands = {}
        for _, d in ipairs(clusters) do
          if live[d] then
            local n = 0
            for _, e in ipairs(mine) do
              if d.set[e] then n = n + 1 end
            end
            cands[#cands + 1] = { d = d, n = n }
          end
        end
        table.sort(cands, function(a, b)
          if a.n ~= b.n then return a.n > b.n end
          return a.d.id < b.d.id
        end)
        local to
        for _, cd in ipairs(cands) do
          if cd.n == #mine or joins(cd.d, mine) then
            to = cd.d
            break
          end
        end
        if not to then
          ok = false
          break
        end
        undo[#undo + 1] = { d = to, added = place(to, mine), k = k }
      end
      if ok then
        for _, u in ipairs(undo) do
          u.d.metrics[#u.d.metrics + 1] = c.metrics[u.k]
          u.d.mine[#u.d.mine + 1] = c.mine[u.k]
        end
        dissolved = true
      else
        for i = #undo, 1, -1 do unplace(undo[i].d, undo[i].added) end
        live[c] = true
      end
    end
    if not dissolved then break end
  end
  local out = {}
  for _, c in ipairs(clusters) do
    if live[c] then out[#out + 1] = c end
  end
  return out
end

-- Fewer counts: each metric (in its group's order, the groups' in
-- theirs) moves to the group where it costs least, when that is less
-- than what leaving its group saves (the events no other metric there
-- needs, weighed as weight does), or the same and its group, left
-- empty, is a run less; repeated while a pass moves one, at most passes
-- times. Moving one metric at a time undoes what packing whole groups
-- cannot: a merged group that landed where only some of its metrics
-- share events. Returns the groups left, in their first order.
function M.relocate(clusters, joins, weight, passes)
  local w = {}
  local function wt(e)
    local x = w[e]
    if not x then
      x = weight(e)
      w[e] = x
    end
    return x
  end
  -- per group: how many of its metrics need each event
  for _, c in ipairs(clusters) do
    c.cnt = {}
    for _, mine in ipairs(c.mine) do
      for _, e in ipairs(mine) do c.cnt[e] = (c.cnt[e] or 0) + 1 end
    end
  end
  local live = {}
  for _, c in ipairs(clusters) do live[c] = true end
  local EPS = 1e-9
  for _ = 1, passes do
    local moved = false
    local order = {}
    for _, c in ipairs(clusters) do
      for k = 1, #c.metrics do order[#order + 1] = { c = c, name = c.metrics[k], mine = c.mine[k] } end
    end
    for _, o in ipairs(order) do
      local a, mine = o.c, o.mine
      local saves = 0
      for _, e in ipairs(mine) do
        if a.cnt[e] == 1 then saves = saves + wt(e) end
      end
      local empties = #a.metrics == 1
      local cands = {}
      for _, b in ipairs(clusters) do
        if live[b] and b ~= a then
          local cost = 0
          for _, e in ipairs(mine) do
            if not b.set[e] then cost = cost + wt(e) end
          end
          local d = cost - saves
          if d < -EPS or (empties and d < EPS) then cands[#cands + 1] = { b = b, d = d } end
        end
      end
      table.sort(cands, function(x, y)
        if x.d ~= y.d then return x.d < y.d end
        return x.b.id < y.b.id
      end)
      for _, cd in ipairs(cands) do
        local b = cd.b
        if joins(b, mine) then
          -- out of a
          for k, name in ipairs(a.metrics) do
            if name == o.name and a.mine[k] == mine then
              table.remove(a.metrics, k)
              table.remove(a.mine, k)
              break
            end
          end
          for _, e in ipairs(mine) do
            a.cnt[e] = a.cnt[e] - 1
            if a.cnt[e] == 0 then
              a.cnt[e], a.set[e] = nil, nil
              for i, x in ipairs(a.events) do
                if x == e then
                  table.remove(a.events, i)
                  break
                end
              end
            end
          end
          if #a.metrics == 0 then live[a] = false end
          -- into b
          for _, e in ipairs(mine) do
            if not b.set[e] then
              b.set[e] = true
              b.events[#b.events + 1] = e
            end
            b.cnt[e] = (b.cnt[e] or 0) + 1
          end
          b.metrics[#b.metrics + 1] = o.name
          b.mine[#b.mine + 1] = mine
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
-- metrics' own) into the groups' runs, in the planner's order (before),
-- first fit, a new group when none has room; they join the group so
-- that the runs planned are the runs packed here.
function M.fill(clusters, singles, joins, before)
  local order = {}
  for i, e in ipairs(singles) do order[i] = e end
  table.sort(order, before)
  local nid = 0
  for _, c in ipairs(clusters) do
    c.singles = {}
    if c.id > nid then nid = c.id end
  end
  local left = {}
  for _, e in ipairs(order) do
    local one = { e }
    local into
    for _, c in ipairs(clusters) do
      if joins(c, one) then
        into = c
        break
      end
    end
    if not into then
      nid = nid + 1
      local c = { id = nid, events = {}, set = {}, metrics = {}, mine = {}, singles = {} }
      if joins(c, one) then
        clusters[#clusters + 1] = c
        into = c
      end
    end
    if into then
      into.set[e] = true
      into.events[#into.events + 1] = e
      into.singles[#into.singles + 1] = e
    else
      left[#left + 1] = e
    end
  end
  return clusters, left
end

-- Fewer runs: the run with the fewest counts (weighed as weight does)
-- is emptied when each of its metrics fits another run (the one where it
-- adds least) and each of its single events too; a metric that fits a
-- run only without that run's single events takes their place, and they
-- move on (first fit) to others. A run that cannot be emptied is left
-- and the next one tried; after one is emptied the fullest runs are
-- tried again from the least full. At most steps runs emptied.
function M.empty(clusters, joins, weight, before, steps)
  local live = {}
  for _, c in ipairs(clusters) do live[c] = true end
  local saved -- the runs changed in this try, as they were
  local function touch(d)
    if saved[d] then return end
    local ev, me, mi, si = {}, {}, {}, {}
    for i, x in ipairs(d.events) do ev[i] = x end
    for i, x in ipairs(d.metrics) do me[i] = x end
    for i, x in ipairs(d.mine) do mi[i] = x end
    for i, x in ipairs(d.singles) do si[i] = x end
    saved[d] = { events = ev, metrics = me, mine = mi, singles = si }
  end
  local function restore()
    for d, sv in pairs(saved) do
      d.events, d.metrics, d.mine, d.singles = sv.events, sv.metrics, sv.mine, sv.singles
      d.set = {}
      for _, e in ipairs(d.events) do d.set[e] = true end
    end
  end
  local function add_events(d, names)
    for _, e in ipairs(names) do
      if not d.set[e] then
        d.set[e] = true
        d.events[#d.events + 1] = e
      end
    end
  end
  -- d without its single events
  local function bare(d)
    local ev, set, keep = {}, {}, {}
    for _, e in ipairs(d.singles) do keep[e] = true end
    for _, e in ipairs(d.events) do
      if not keep[e] then
        ev[#ev + 1] = e
        set[e] = true
      end
    end
    return { events = ev, set = set }
  end
  local function fill(d)
    local x = 0
    for _, e in ipairs(d.events) do x = x + weight(e) end
    return x
  end
  -- a single event into a run other than c (first fit)
  local function home(e, c)
    local one = { e }
    for _, d in ipairs(clusters) do
      if live[d] and d ~= c and joins(d, one) then
        touch(d)
        add_events(d, one)
        d.singles[#d.singles + 1] = e
        return true
      end
    end
    return false
  end
  local function try_empty(c)
    saved = {}
    live[c] = false
    local ms = {}
    for k = 1, #c.metrics do ms[k] = k end
    table.sort(ms, function(a, b)
      if #c.mine[a] ~= #c.mine[b] then return #c.mine[a] > #c.mine[b] end
      return a < b
    end)
    for _, k in ipairs(ms) do
      local mine = c.mine[k]
      local cands = {}
      for _, d in ipairs(clusters) do
        if live[d] then
          local cost = 0
          for _, e in ipairs(mine) do
            if not d.set[e] then cost = cost + weight(e) end
          end
          cands[#cands + 1] = { d = d, cost = cost }
        end
      end
      table.sort(cands, function(x, y)
        if x.cost ~= y.cost then return x.cost < y.cost end
        return x.d.id < y.d.id
      end)
      local to, evict
      for _, cd in ipairs(cands) do
        if joins(cd.d, mine) then
          to = cd.d
          break
        end
      end
      if not to then
        for _, cd in ipairs(cands) do
          if #cd.d.singles > 0 and joins(bare(cd.d), mine) then
            to, evict = cd.d, true
            break
          end
        end
      end
      if not to then return false end
      touch(to)
      if evict then
        local out = to.singles
        local b = bare(to)
        to.events, to.set, to.singles = b.events, b.set, {}
        add_events(to, mine)
        local gone = {}
        for _, e in ipairs(out) do
          if joins(to, { e }) then
            add_events(to, { e })
            to.singles[#to.singles + 1] = e
          else
            gone[#gone + 1] = e
          end
        end
        for _, e in ipairs(gone) do
          if not home(e, c) then return false end
        end
      else
        add_events(to, mine)
      end
      to.metrics[#to.metrics + 1] = c.metrics[k]
      to.mine[#to.mine + 1] = mine
    end
    local ss = {}
    for i, e in ipairs(c.singles) do ss[i] = e end
    table.sort(ss, before)
    for _, e in ipairs(ss) do
      if not home(e, c) then return false end
    end
    return true
  end
  local done = 0
  while done < steps do
    local order = {}
    for _, c in ipairs(clusters) do
      if live[c] then order[#order + 1] = { c = c, f = fill(c) } end
    end
    table.sort(order, function(x, y)
      if x.f ~= y.f then return x.f < y.f end
      return x.c.id < y.c.id
    end)
    local emptied = false
    for _, o in ipairs(order) do
      if try_empty(o.c) then
        emptied = true
        break
      end
      restore()
      live[o.c] = true
    end
    if not emptied then break end
    done = done + 1
  end
  local out = {}
  for _, c in ipairs(clusters) do
    if live[c] then out[#out + 1] = c end
  end
  return out
end

-- A lower bound on the runs of any plan that counts each metric of items
-- ({{mine={events}}}: those that fit one run) in one run: an event the
-- metrics of a set need, no two of which fit one run together, is
-- counted in as many runs as the set has metrics (the set grown
-- greedily, the biggest metrics first); the planner's own bound
-- (core.plan_lower_bound: counters, counter subsets, shared registers,
-- events taken alone) of the events so repeated is then one for the
-- plan. all: every record; fits: as in M.plan. Returns the bound and
-- {[event] = the runs it is counted in at least}.
function M.bound(items, all, popts, fits)
  local core = require "autoperf.core"
  local holders = {}
  for i, it in ipairs(items) do
    for _, e in ipairs(it.mine) do
      holders[e] = holders[e] or {}
      table.insert(holders[e], i)
    end
  end
  local copies = {}
  for e, h in pairs(holders) do
    if #h > 1 then
      table.sort(h, function(a, b)
        if #items[a].mine ~= #items[b].mine then return #items[a].mine > #items[b].mine end
        return a < b
      end)
      local set = {}
      for _, i in ipairs(h) do
        local alone = true
        for _, j in ipairs(set) do
          local u, seen = {}, {}
          for _, x in ipairs(items[i].mine) do
            u[#u + 1] = x
            seen[x] = true
          end
          for _, x in ipairs(items[j].mine) do
            if not seen[x] then u[#u + 1] = x end
          end
          if fits(u) then
            alone = false
            break
          end
        end
        if alone then set[#set + 1] = i end
      end
      copies[e] = #set
    end
  end
  local pmus, hw = plan_mod.model(all, popts)
  if #hw == 0 then return 0 end
  local rep = {}
  for _, h in ipairs(hw) do
    for _ = 1, math.max(1, copies[h.ev.name] or 1) do
      local c = {}
      for k, v in pairs(h) do c[k] = v end
      c.group = 0
      rep[#rep + 1] = c
    end
  end
  return core.plan_lower_bound(plan_mod.core_pmus(pmus), rep), copies
end

-- list: metrics (metrics.select), rec: {[event name] = record}, popts:
-- the planner's options. Returns events (records; an event in several
-- groups appears once per group, same name), and info {groups=,
-- cosched={metric names}, several={metric names}, duplicated=n, bound=n
-- (M.bound: no plan co-scheduling them takes fewer runs)}.
-- opts.passes: the dissolving passes (1).
function M.plan(list, rec, popts, opts)
  opts = opts or {}
  local all = {}
  for _, r in pairs(rec) do all[#all + 1] = r end
  table.sort(all, function(a, b) return a.name < b.name end)
  local fits, weight, room, before = fits_fn(all, popts or {})
  local info = { cosched = {}, several = {}, duplicated = 0 }
  local items = {}
  for _, m in ipairs(list) do
    local mine = {}
    for _, e in ipairs(m.events) do
      if rec[e] then mine[#mine + 1] = e end
    end
    if #mine == 0 then
      -- nothing to plan (constants only, or events unknown here)
    elseif not fits(mine) then
      info.several[#info.several + 1] = m.name
    else
      items[#items + 1] = { name = m.name, mine = mine }
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
  info.bound = M.bound(items, all, popts or {}, fits)
  -- could group g take names too?
  local function joins(g, names) return room(g, names) and fits(union_of(g, names)) end
  local clusters = M.merge(items, joins, weight)
  clusters = M.pack(clusters, joins, weight)
  clusters = M.dissolve(clusters, joins, opts.passes or 1)
  clusters = M.relocate(clusters, joins, weight, opts.relocate or 20)
  if not opts.no_fill then
    local need = {}
    for _, it in ipairs(items) do
      for _, e in ipairs(it.mine) do need[e] = true end
    end
    local singles, seen1 = {}, {}
    for _, m in ipairs(list) do
      for _, e in ipairs(m.events) do
        if rec[e] and not need[e] and not seen1[e] then
          seen1[e] = true
          singles[#singles + 1] = e
        end
      end
    end
    for i, c in ipairs(clusters) do c.id = i end
    clusters = M.fill(clusters, singles, joins, before)
    clusters = M.empty(clusters, joins, weight, before, opts.empty or 50)
  end
  local holders = {} -- holders[event] = {groups holding it}
  for i, c in ipairs(clusters) do
    c.id = i
    for _, e in ipairs(c.events) do
      holders[e] = holders[e] or {}
      table.insert(holders[e], c)
    end
  end
  -- the records: one per event and group; events only the several-run
  -- metrics need, once, ungrouped
  local out, base_group = {}, opts.first_group or 1000
  for _, c in ipairs(clusters) do
    for _, e in ipairs(c.events) do
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
      if rec[e] and not seen[e] then
        seen[e] = true
        out[#out + 1] = rec[e]
      end
    end
  end
  info.groups = #clusters
  return out, info
end

return M
