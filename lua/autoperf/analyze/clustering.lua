-- clustering: events grouped by how their time series move together.
--
-- Method: average-linkage (UPGMA) hierarchical clustering on the distance
-- 1 - |r| of the correlation matrix (core.cluster, the nearest-neighbour
-- chain in C). Events that rise and fall together, or mirror each other,
-- end up next to each other; the dendrogram's leaf order is the order of
-- the heatmap, and cutting it at a height gives clusters that are
-- contiguous blocks of that order.
local core = require "autoperf.core"

local M = {}

-- Clusters at this |r| or more (average over the pairs of a cluster) are
-- outlined and reduced to one representative: cut at 1 - 0.8.
M.THRESHOLD = 0.8

-- The tree of R (an n x n correlation matrix): {n=, merges=, order= (leaf
-- indices in dendrogram order), position= (index -> place in order)}.
function M.tree(R)
  local n = R:rows()
  local merges = n > 1 and core.cluster(R) or {}
  local order = {}
  if n == 1 then order[1] = 1 end
  if n > 1 then
    -- depth first from the root, the larger child first: big blocks in
    -- the top left, singletons towards the end
    local stack = { n + #merges }
    while #stack > 0 do
      local c = table.remove(stack)
      if c <= n then
        order[#order + 1] = c
      else
        local m = merges[c - n]
        local sa = m.a <= n and 1 or merges[m.a - n].size
        local sb = m.b <= n and 1 or merges[m.b - n].size
        if sa >= sb then
          stack[#stack + 1] = m.b
          stack[#stack + 1] = m.a
        else
          stack[#stack + 1] = m.a
          stack[#stack + 1] = m.b
        end
      end
    end
  end
  local position = {}
  for p, i in ipairs(order) do position[i] = p end
  return { n = n, merges = merges, order = order, position = position }
end

-- Labels leaves by cluster after applying the first `upto` merges:
-- returns {[leaf] = cluster number}, clusters numbered 1.. in the order
-- they first appear in tree.order, and the number of clusters.
local function label(tree, upto)
  local n = tree.n
  local parent = {}
  local function find(i)
    while parent[i] do i = parent[i] end
    return i
  end
  for k = 1, upto do
    local m = tree.merges[k]
    parent[find(m.a)] = n + k
    parent[find(m.b)] = n + k
  end
  local of, ids, count = {}, {}, 0
  for _, leaf in ipairs(tree.order) do
    local root = find(leaf)
    if not ids[root] then
      count = count + 1
      ids[root] = count
    end
    of[leaf] = ids[root]
  end
  return of, count
end

-- Clusters whose members correlate by |r| >= threshold on average (the
-- dendrogram cut at 1 - threshold).
function M.cut(tree, threshold)
  local h, upto = 1 - (threshold or M.THRESHOLD), 0
  for k, m in ipairs(tree.merges) do
    if m.height <= h + 1e-12 then upto = k end
  end
  return label(tree, upto)
end

-- At most k clusters (the dendrogram cut below its k - 1 highest merges).
function M.cut_count(tree, k)
  return label(tree, math.max(0, tree.n - math.max(1, k)))
end

-- The clusters of a labelling in tree order: {{first=, last= (places in
-- tree.order), members= (leaf indices), rep= (the member with the largest
-- mean |r| to the others: the one that stands for the cluster best),
-- mean_r= (its mean |r| to the others)}, ...}.
function M.blocks(tree, R, of, count)
  local blocks = {}
  for c = 1, count do blocks[c] = { members = {} } end
  for p, leaf in ipairs(tree.order) do
    local b = blocks[of[leaf]]
    b.first = b.first or p
    b.last = p
    b.members[#b.members + 1] = leaf
  end
  for _, b in ipairs(blocks) do
    if #b.members == 1 then
      b.rep, b.mean_r = b.members[1], 1
    else
      local best, bestv = nil, -1
      for _, i in ipairs(b.members) do
        local row, s = R:row(i), 0
        for _, j in ipairs(b.members) do
          if j ~= i then
            local v = row[j]
            if v == v then s = s + math.abs(v) end
          end
        end
        s = s / (#b.members - 1)
        if s > bestv then best, bestv = i, s end
      end
      b.rep, b.mean_r = best, bestv
    end
  end
  return blocks
end

return M
