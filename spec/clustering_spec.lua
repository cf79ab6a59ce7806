-- Clustering of correlation matrices and the statistics that say what
-- they cannot know: on matrices built here, no kernel needed.
local core = require "autoperf.core"
local clustering = require "autoperf.analyze.clustering"
local correlation = require "autoperf.analyze.correlation"
local diff = require "autoperf.analyze.diff"

-- A correlation matrix of n_groups groups of per events each, listed
-- interleaved (a1 b1 c1 a2 b2 ...) so that the given order groups
-- nothing: |r| about 0.9 inside a group (every second member mirrored,
-- r negative), about 0.05 between groups. Built by hand, not by
-- core.correlation: the clustering is tested on its own (and OpenBLAS is
-- not loaded into the test process before numeric_spec counts its
-- threads).
local function grouped(n_groups, per)
  local n = n_groups * per
  local R = core.matrix(n, n)
  local function sign(i) return ((i - 1) // n_groups) % 2 == 0 and 1 or -1 end
  for i = 1, n do
    local row = {}
    for j = 1, n do
      local jitter = ((i * 7919 + j * 104729) % 1000) / 1000 * 0.05
      if i == j then
        row[j] = 1
      elseif (i - 1) % n_groups == (j - 1) % n_groups then
        row[j] = sign(i) * sign(j) * (0.9 + (i + j) % 5 / 100)
      else
        row[j] = 0.05 - jitter
      end
    end
    R:setrow(i, row)
  end
  -- symmetric, as a correlation matrix is
  for i = 1, n do
    for j = i + 1, n do R:set(j, i, R:get(i, j)) end
  end
  return R
end

describe("clustering", function()
  it("orders interleaved groups into contiguous blocks, one cluster each, with a representative", function()
    local R = grouped(4, 5)
    local tree = clustering.tree(R)
    assert.are.equal(20, #tree.order)
    assert.are.equal(19, #tree.merges)
    for k = 2, #tree.merges do assert.is_true(tree.merges[k].height >= tree.merges[k - 1].height) end
    local of, count = clustering.cut(tree, 0.8)
    assert.are.equal(4, count)
    -- members of a group (rows g, g+4, g+8, ...) share a cluster, mirrored
    -- ones too (the distance is 1 - |r|), and a cluster is a run of places
    for row = 1, 20 do assert.are.equal(of[((row - 1) % 4) + 1], of[row]) end
    local blocks = clustering.blocks(tree, R, of, count)
    for _, b in ipairs(blocks) do
      assert.are.equal(5, b.last - b.first + 1)
      assert.are.equal(5, #b.members)
      assert.are.equal(of[b.members[1]], of[b.rep])
      assert.is_true(b.mean_r > 0.9)
    end
    local of2, count2 = clustering.cut_count(tree, 2)
    assert.are.equal(2, count2)
    assert.are.equal(of2[1], of2[5]) -- a group never splits
  end)

  it("clusters 2300 events (a full profile's size)", function()
    local R = grouped(100, 23)
    local tree = clustering.tree(R)
    local seen = {}
    for _, i in ipairs(tree.order) do seen[i] = true end
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.are.equal(2300, n)
    local _, count = clustering.cut(tree, 0.8)
    assert.are.equal(100, count)
  end)
end)

describe("statistics that say what they cannot know", function()
  it("the |r| that n intervals can tell from chance", function()
    assert.is_true(correlation.critical_r(3) > 0.99) -- 3 intervals: almost any r is chance
    assert.is_true(math.abs(correlation.critical_r(30) - 0.361) < 0.002) -- the textbook table's value
  end)

  it("diff: an event going 0 -> 1 ranks below a steady doubling, with a finite effect", function()
    local function res(vals)
      local r = { events = {}, data = {}, units = {}, reps = 0 }
      function r:total(name, k) return vals[name][k] end
      function r:status() return "ok" end
      for name, v in pairs(vals) do
        r.events[#r.events + 1] = name
        r.data[name] = true
        r.reps = #v
      end
      table.sort(r.events)
      return r
    end
    local a = res({ one = { 0, 0, 0, 0, 0 }, double = { 300, 300, 300, 300, 300 }, same = { 5, 6, 5, 6, 5 },
      zero = { 0, 0, 0, 0, 0 } })
    local b = res({ one = { 1, 1, 1, 1, 1 }, double = { 600, 600, 600, 600, 600 }, same = { 6, 5, 5, 6, 5 },
      zero = { 0, 0, 0, 0, 0 } })
    local rows = diff.compare(a, b)
    assert.are.equal("double", rows[1].name)
    assert.are.equal("one", rows[2].name)
    assert.is_true(rows[2].d > 3 and rows[2].d < 4, tostring(rows[2].d)) -- against a count's resolution
    assert.are.equal("new in B", rows[2].note)
    assert.is_true(rows[1].significant and rows[2].significant)
    assert.is_false(rows[3].significant)
    local by = {}
    for _, x in ipairs(rows) do by[x.name] = x end
    assert.are.equal("zero in both", by.zero.note)
    -- Benjamini-Hochberg over the three tested: q >= p
    for _, x in ipairs(rows) do
      if x.p then assert.is_true(x.q >= x.p) end
    end
    local text = diff.format(rows, { reps_a = 5, reps_b = 5 })
    assert.truthy(text:find("2 changed significantly", 1, true), text)
    assert.truthy(text:find("over the 3 tested", 1, true), text)
    assert.truthy(text:find("not tested: 1 zero in both", 1, true), text)
    assert.truthy(diff.format(rows, { reps_a = 2, reps_b = 5 }):find("warning: 2 repetitions", 1, true))
  end)
end)

describe("report", function()
  it("embeds bytes as base64 (RFC 4648's test vectors)", function()
    local b = require("autoperf.report").base64
    for plain, coded in pairs({ [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
      fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }) do
      assert.are.equal(coded, b(plain))
    end
  end)
end)

describe("select --target: events ranked by how well they explain a target", function()
  local T = require "spec.support"
  local tmp
  T.each_tmpdir(before_each, after_each, function(d) tmp = d end)

  it("ranks the event that follows the parameter first, noise last, stably over folds", function()
    local lines = { "CONFIG,kb,REPETITION,EVENT,UNIT,VALUE" }
    local seed = 3
    local function rnd()
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    end
    local config = 0
    for _, kb in ipairs({ 1, 2, 4, 8, 16, 32, 64, 128 }) do
      config = config + 1
      for rep = 1, 3 do
        lines[#lines + 1] = string.format("%d,%d,%d,follows,software,%d", config, kb, rep, kb * 1000 + math.floor(rnd() * 100))
        lines[#lines + 1] = string.format("%d,%d,%d,noise,software,%d", config, kb, rep, math.floor(rnd() * 1e6))
        lines[#lines + 1] = string.format("%d,%d,%d,\"odd,name\",software,%d", config, kb, rep, math.floor(rnd() * 1e6))
      end
    end
    T.write(tmp .. "/tidy.csv", table.concat(lines, "\n"), "\n")
    local out, err, code = T.autoperf("analyze", "select", tmp, "--target", "kb", "--top", "1")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("3 events ranked by how well they explain kb over 24 samples (8 configurations)", 1, true), out)
    assert.truthy(out:find("mutual information", 1, true))
    local rows = T.csv(tmp .. "/analysis/ranking.csv")
    assert.are.equal("follows", rows[2][2])
    assert.are.equal("5", rows[2][9]) -- first in every fold
    assert.is_true(tonumber(rows[2][5]) > 1) -- well above chance (bits)
    assert.is_true(tonumber(rows[2][7]) < 0.05, rows[2][7]) -- q
    for i = 3, 4 do assert.is_true(tonumber(rows[i][5]) < 0.5, table.concat(rows[i], ",")) end
    local _, err2, code2 = T.autoperf("analyze", "select", tmp, "--target", "threads")
    assert.are.equal(1, code2)
    assert.truthy(err2:find("no column or event 'threads' in the tidy table (parameters: kb)", 1, true), err2)
  end)
end)

describe("the chi-square tail for the G-test", function()
  it("matches tables", function()
    local q = require("autoperf.analyze.selection").gammq
    -- chi-square sf(x, k) = Q(k/2, x/2): 3.841 at k=1 and 5.991 at k=2 are the 5% points
    assert.is_true(math.abs(q(0.5, 3.841 / 2) - 0.05) < 1e-3)
    assert.is_true(math.abs(q(1, 5.991 / 2) - 0.05) < 1e-3)
    assert.is_true(math.abs(q(5, 10) - 0.029252688) < 1e-6) -- Q(5, 10)
  end)
end)

describe("detail's units", function()
  local T = require "spec.support"
  it("nanoseconds for the clocks, the kernel's sysfs unit and scale where it gives one, else counts", function()
    local detail = require "autoperf.analyze.detail"
    assert.are.equal("ns", detail.unit("task-clock"))
    assert.are.equal("ns", detail.unit("duration_time"))
    assert.are.equal("ns", detail.unit("software/cpu-clock/"))
    assert.are.equal("count", detail.unit("syscalls:sys_enter_write"))
    local tmp = T.tmpdir()
    os.execute("mkdir -p " .. tmp .. "/power/events")
    T.write(tmp .. "/power/events/energy-pkg.unit", "Joules\n")
    T.write(tmp .. "/power/events/energy-pkg.scale", "2.3283064365386962890625e-10\n")
    local unit, scale = detail.sysfs_unit("power/energy-pkg/", tmp)
    assert.are.equal("Joules", unit)
    assert.are.equal(2.3283064365386962890625e-10, scale)
    assert.is_nil(detail.sysfs_unit("power/energy-cores/", tmp))
    assert.is_nil(detail.sysfs_unit("task-clock", tmp))
    T.rmtree(tmp)
  end)
end)
