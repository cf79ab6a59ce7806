-- The numeric kernels (core/numeric.c) through their bindings: matrices,
-- correlation, top pairs, summaries, quantiles, Student's t and Welch's
-- test. Expected values are worked out by hand in the comments.
local core = require "autoperf.core"
local T = require "spec.support"

local function isnan(x) return x ~= x end

local function near(expected, got, tol)
  tol = tol or 1e-12
  assert(math.abs(expected - got) <= tol,
    string.format("expected %.17g, got %.17g (tolerance %g)", expected, got, tol))
end

-- The error message of f(...), which must raise.
local function raises(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return tostring(err)
end

describe("core.matrix", function()
  it("is zero-filled, row-major, 1-based, and refuses indices out of range", function()
    local m <close> = core.matrix(2, 3)
    assert.equal(2, m:rows())
    assert.equal(3, m:cols())
    for i = 1, 2 do for j = 1, 3 do assert.equal(0, m:get(i, j)) end end
    m:set(1, 3, 2.5)
    m:add(1, 3, 1)
    m:add(2, 1, -4)
    assert.same({ 0, 0, 3.5 }, m:row(1))
    assert.same({ -4, 0, 0 }, m:row(2))
    assert.matches("row 3 out of range 1..2", raises(m.get, m, 3, 1))
    assert.matches("column 0 out of range 1..3", raises(m.set, m, 1, 0, 1))
    assert.matches("out of range", raises(m.add, m, 1, 4, 1))
    assert.matches("number expected", raises(m.set, m, 1, 1, "x"))
    assert.matches("must not be negative", raises(core.matrix, -1, 2))
    assert.equal("matrix 2x3", tostring(m))
  end)

  it("setrow fills a row from the left, leaves the rest, and refuses a longer array", function()
    local m <close> = core.matrix(2, 3)
    m:setrow(2, { 7, 8, 9 })
    m:setrow(2, { 1, 2 })
    assert.same({ 1, 2, 9 }, m:row(2))
    assert.matches("4 values for a row of 3", raises(m.setrow, m, 1, { 1, 2, 3, 4 }))
    assert.matches("number expected at index 2, got string", raises(m.setrow, m, 1, { 1, "2" }))
    assert.same({ 0, 0, 0 }, m:row(1)) -- a refused array stored nothing
  end)

  it("matrix_from builds one from an array of equal-length arrays", function()
    local m <close> = core.matrix_from({ { 1, 2 }, { 3, 4 }, { 5, 6 } })
    assert.equal(3, m:rows())
    assert.equal(2, m:cols())
    assert.equal(4, m:get(2, 2))
    assert.matches("row 2 has 1 values, row 1 has 2", raises(core.matrix_from, { { 1, 2 }, { 3 } }))
    assert.matches("number expected at %[2%]%[1%], got boolean",
      raises(core.matrix_from, { { 1, 2 }, { true, 4 } }))
    assert.matches("array of arrays expected", raises(core.matrix_from, { 1, 2 }))
    local e <close> = core.matrix_from({})
    assert.equal(0, e:rows())
  end)

  it("rowtext writes a row as CSV text, NaN empty, however long the numbers", function()
    local m = core.matrix_from({ { 1, -0.5, 0 / 0, 2 / 3 }, { 1e300, -1e300, 1, 2 } })
    assert.equal("1.000000,-0.500000,,0.666667", m:rowtext(1))
    assert.equal("1.00,-0.50,,0.67", m:rowtext(1, 2))
    local big = m:rowtext(2, 1)
    assert.equal(string.format("%.1f,%.1f,1.0,2.0", 1e300, -1e300), big)
    assert.has_error(function() m:rowtext(3) end)
    assert.has_error(function() m:rowtext(1, 18) end)
  end)

  it("close frees it, twice is safe, and a closed matrix refuses use", function()
    local m = core.matrix(3, 3)
    m:close()
    m:close()
    assert.matches("matrix is closed", raises(m.get, m, 1, 1))
    assert.matches("matrix is closed", raises(core.correlation, m))
    assert.equal("matrix (closed)", tostring(m))
    do local _ <close> = core.matrix(1, 1) end
  end)
end)

-- Naive O(n^2 m) Pearson in Lua, two-pass, for comparison.
local function naive_pearson(rows)
  local n, m = #rows, #rows[1]
  local z = {}
  for i = 1, n do
    local mean = 0
    for k = 1, m do mean = mean + rows[i][k] end
    mean = mean / m
    local ss = 0
    for k = 1, m do ss = ss + (rows[i][k] - mean) ^ 2 end
    local zi = {}
    for k = 1, m do zi[k] = (rows[i][k] - mean) / math.sqrt(ss) end
    z[i] = zi
  end
  local r = {}
  for i = 1, n do
    r[i] = {}
    for j = 1, n do
      local s = 0
      for k = 1, m do s = s + z[i][k] * z[j][k] end
      r[i][j] = s
    end
  end
  return r
end

-- n x m values of math.random() seeded by seed, each f(i, k, value)
-- when f is given.
local function random_rows(seed, n, m, f)
  math.randomseed(seed)
  local rows = {}
  for i = 1, n do
    rows[i] = {}
    for k = 1, m do
      local v = math.random()
      rows[i][k] = f and f(i, k, v, rows) or v
    end
  end
  return rows
end

-- r holds the naive Pearson correlations of rows, on the rows picked
-- (all when pick is nil).
local function matches_naive(rows, r, pick)
  if not pick then
    pick = {}
    for i = 1, #rows do pick[i] = i end
  end
  local sub = {}
  for k, i in ipairs(pick) do sub[k] = rows[i] end
  local want = naive_pearson(sub)
  for a, i in ipairs(pick) do
    for b, j in ipairs(pick) do near(want[a][b], r:get(i, j), 1e-12) end
  end
end

describe("core.correlation", function()
  it("Pearson of known series", function()
    -- x = 1..5, y = 2,4,5,4,5: means 3 and 4; dx = -2,-1,0,1,2,
    -- dy = -2,0,1,0,1; sum dx*dy = 4+0+0+0+2 = 6, sum dx^2 = 10,
    -- sum dy^2 = 4+0+1+0+1 = 6; r = 6 / sqrt(60) = sqrt(0.6) = 0.7745966692...
    local m <close> = core.matrix_from({ { 1, 2, 3, 4, 5 }, { 2, 4, 5, 4, 5 } })
    local r <close> = core.correlation(m)
    assert.equal(2, r:rows())
    assert.equal(2, r:cols())
    near(math.sqrt(0.6), r:get(1, 2), 1e-15)
    near(0.7745966692, r:get(2, 1), 1e-10)
    assert.equal(r:get(1, 2), r:get(2, 1))
    assert.equal(1, r:get(1, 1))
    assert.equal(1, r:get(2, 2))
  end)

  it("gives exactly +-1 for exact linear relations (clamped, never beyond)", function()
    -- row 2 = 3 * row 1 + 7, row 3 = -0.1 * row 1: r = 1 and -1.
    local x = { 0.1, 0.7, 0.2, 1e3, -5, 3.3 }
    local up, down = {}, {}
    for k, v in ipairs(x) do up[k] = 3 * v + 7; down[k] = -0.1 * v end
    local m <close> = core.matrix_from({ x, up, down })
    local r <close> = core.correlation(m)
    near(1, r:get(1, 2), 1e-14)
    near(-1, r:get(1, 3), 1e-14)
    near(-1, r:get(2, 3), 1e-14)
    for i = 1, 3 do for j = 1, 3 do assert.is_true(math.abs(r:get(i, j)) <= 1) end end
  end)

  it("a constant row gives NaN in its row and column, its diagonal included", function()
    -- 0.1 three times: its computed mean is not exactly 0.1, which must
    -- not turn rounding noise into a correlation.
    local m <close> = core.matrix_from({ { 1, 2, 3 }, { 0.1, 0.1, 0.1 }, { 3, 1, 2 } })
    for _, method in ipairs({ "pearson", "spearman" }) do
      local r <close> = core.correlation(m, method)
      assert.is_true(isnan(r:get(2, 2)))
      for k = 1, 3 do
        if k ~= 2 then
          assert.is_true(isnan(r:get(2, k)))
          assert.is_true(isnan(r:get(k, 2)))
          assert.equal(1, r:get(k, k))
        end
      end
      -- rows 1 and 3: dx = -1,0,1, dy = 1,-1,0: sum dx*dy = -1, r = -1/2
      -- (Pearson; the ranks are the values themselves, so Spearman too)
      near(-0.5, r:get(1, 3), 1e-15)
    end
  end)

  it("Spearman gives ties their average rank", function()
    -- x = 3,1,4,1,5: the two 1s share ranks 1 and 2 -> 1.5;
    --   ranks 3, 1.5, 4, 1.5, 5.
    -- y = 2,7,1,8,2: 1 -> 1, the two 2s share 2 and 3 -> 2.5, 7 -> 4, 8 -> 5;
    --   ranks 2.5, 4, 1, 5, 2.5.
    -- Both rank means are 3: dx = 0,-1.5,1,-1.5,2, dy = -0.5,1,-2,2,-0.5;
    -- sum dx*dy = 0-1.5-2-3-1 = -7.5; sum dx^2 = 0+2.25+1+2.25+4 = 9.5;
    -- sum dy^2 = 0.25+1+4+4+0.25 = 9.5; rho = -7.5/9.5 = -15/19.
    local m <close> = core.matrix_from({ { 3, 1, 4, 1, 5 }, { 2, 7, 1, 8, 2 } })
    local r <close> = core.correlation(m, "spearman")
    near(-15 / 19, r:get(1, 2), 1e-15)
    -- Spearman only sees order: a monotone transform keeps rho = 1.
    local e <close> = core.matrix_from({ { 1, 2, 3, 4 }, { 1, 10, 1000, 1e9 } })
    local re <close> = core.correlation(e, "spearman")
    assert.equal(1, re:get(1, 2))
    local rp <close> = core.correlation(e, "pearson")
    assert.is_true(rp:get(1, 2) < 0.9)
  end)

  it("matches a naive implementation on a random 50 x 200 matrix to 1e-12", function()
    -- varied scales and offsets, some rows related to the previous
    local rows = random_rows(8, 50, 200, function(i, k, v, done)
      return (v - 0.3) * 10 ^ (i % 7 - 3) + (i % 5 == 0 and done[i - 1][k] * 1e-3 or 0) + i
    end)
    local m <close> = core.matrix_from(rows)
    local r <close> = core.correlation(m)
    matches_naive(rows, r)
  end)

  it("handles sizes that are not multiples of the tile and of the column block", function()
    -- 7 rows (tiles of 4) by 1030 columns (blocks of 512) against the
    -- naive version; rows 6 and 7 are exact multiples of rows 1 and 2.
    local rows = random_rows(9, 5, 1030)
    rows[6], rows[7] = {}, {}
    for k = 1, 1030 do rows[6][k] = 2 * rows[1][k]; rows[7][k] = -rows[2][k] end
    local m <close> = core.matrix_from(rows)
    local r <close> = core.correlation(m)
    matches_naive(rows, r)
    near(1, r:get(1, 6), 1e-14)
    near(-1, r:get(7, 2), 1e-14)
  end)

  it("splits a large matrix over threads and blocks exactly: symmetric, naive values, NaN rows", function()
    -- 300 x 230: enough cells and pairs for the work to be split over
    -- the CPUs, 300 rows not a multiple of the mirror's 32-row blocks;
    -- row 150 constant (NaN row and column), row 299 a multiple of row 7
    local rows = random_rows(10, 300, 230, function(i, k, v) return v + (i % 3) * (k % 7) end)
    for k = 1, 230 do rows[150][k] = 4; rows[299][k] = 3 * rows[7][k] end
    local m <close> = core.matrix_from(rows)
    for _, method in ipairs({ "pearson", "spearman" }) do
      local r <close> = core.correlation(m, method)
      for i = 1, 300 do
        for j = i, 300 do
          local a, b = r:get(i, j), r:get(j, i)
          if i == 150 or j == 150 then
            assert(isnan(a) and isnan(b), "not NaN at " .. i .. "," .. j)
          else
            assert(a == b, string.format("%s: r[%d][%d] = %.17g, r[%d][%d] = %.17g", method, i, j, a, j, i, b))
            assert(a <= 1 and a >= -1)
          end
        end
      end
      near(1, r:get(7, 299), 1e-14)
      near(1, r:get(299, 299), 0)
    end
    local r <close> = core.correlation(m)
    matches_naive(rows, r, { 1, 33, 64, 65, 149, 151, 288, 300 })
  end)

  it("refuses a bad method or a non-matrix", function()
    local m <close> = core.matrix(2, 2)
    assert.matches("invalid option 'kendall'", raises(core.correlation, m, "kendall"))
    assert.matches("autoperf.matrix expected", raises(core.correlation, { { 1, 2 } }))
  end)
end)

describe("core.top_pairs", function()
  it("orders pairs by |r| descending, ties by i then j, skipping NaN", function()
    local R <close> = core.matrix_from({
      { 1, 0.5, -0.9, 0.5 },
      { 0.5, 1, 0 / 0, -0.5 },
      { -0.9, 0 / 0, 1, 0.1 },
      { 0.5, -0.5, 0.1, 1 },
    })
    -- |r| above the diagonal: (1,3) 0.9; (1,2) (1,4) (2,4) 0.5; (3,4) 0.1;
    -- (2,3) NaN.
    local top = core.top_pairs(R, 10, { "a", "b", "c", "d" })
    assert.same({
      { i = 1, j = 3, r = -0.9, a = "a", b = "c" },
      { i = 1, j = 2, r = 0.5, a = "a", b = "b" },
      { i = 1, j = 4, r = 0.5, a = "a", b = "d" },
      { i = 2, j = 4, r = -0.5, a = "b", b = "d" },
      { i = 3, j = 4, r = 0.1, a = "c", b = "d" },
    }, top)
    assert.same({ { i = 1, j = 3, r = -0.9 }, { i = 1, j = 2, r = 0.5 } }, core.top_pairs(R, 2))
    assert.same({}, core.top_pairs(R, 0))
  end)

  it("keeps the best n of many (a bounded heap) in the same order as a full sort", function()
    math.randomseed(10)
    local n = 60
    local R <close> = core.matrix(n, n)
    local all = {}
    for i = 1, n do
      for j = i + 1, n do
        -- few distinct values, so ties are common
        local r = math.random(-20, 20) / 20
        R:set(i, j, r)
        R:set(j, i, r)
        all[#all + 1] = { i = i, j = j, r = r }
      end
    end
    table.sort(all, function(x, y)
      if math.abs(x.r) ~= math.abs(y.r) then return math.abs(x.r) > math.abs(y.r) end
      if x.i ~= y.i then return x.i < y.i end
      return x.j < y.j
    end)
    local top = core.top_pairs(R, 100)
    assert.equal(100, #top)
    for k = 1, 100 do assert.same(all[k], top[k]) end
  end)

  it("refuses a non-square matrix and a negative n", function()
    local m <close> = core.matrix(2, 3)
    assert.matches("square matrix expected, got 2x3", raises(core.top_pairs, m, 1))
    local s <close> = core.matrix(2, 2)
    assert.matches("must not be negative", raises(core.top_pairs, s, -1))
  end)
end)

describe("core.describe", function()
  it("summarises a known sample", function()
    -- 2,4,4,4,5,5,7,9: n 8, sum 40, mean 5; squared deviations
    -- 9+1+1+1+0+0+4+16 = 32; var = 32/7 = 4.571428571428571;
    -- std = sqrt(32/7) = 2.138089935299395; cv = std/5 = 0.427617987059879.
    local d = core.describe({ 2, 4, 4, 4, 5, 5, 7, 9 })
    assert.equal(8, d.n)
    assert.equal(40, d.sum)
    assert.equal(5, d.mean)
    near(32 / 7, d.var, 1e-15)
    near(2.138089935299395, d.std, 1e-15)
    assert.equal(2, d.min)
    assert.equal(9, d.max)
    near(0.427617987059879, d.cv, 1e-15)
  end)

  it("one value has variance 0, none has only n, a zero mean has cv NaN", function()
    local one = core.describe({ 3 })
    assert.same({ 1, 3, 3, 0, 0, 3, 3, 0 }, { one.n, one.sum, one.mean, one.var, one.std, one.min, one.max, one.cv })
    assert.same({ n = 0 }, core.describe({}))
    -- -1, 1: mean 0, var = (1+1)/1 = 2
    local z = core.describe({ -1, 1 })
    assert.equal(2, z.var)
    assert.is_true(isnan(z.cv))
  end)

  it("stays exact on large offsets (two-pass variance)", function()
    -- 1e9 + (4, 7, 13, 16): the deviations 0-... are -6,-3,3,6 around
    -- 1e9+10; var = (36+9+9+36)/3 = 30. One-pass sum-of-squares loses it.
    local d = core.describe({ 1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16 })
    assert.equal(1e9 + 10, d.mean)
    assert.equal(30, d.var)
  end)

  it("describes a matrix row", function()
    local m <close> = core.matrix_from({ { 1, 2, 3 }, { 10, 20, 60 } })
    local d = core.describe(m, 2)
    assert.equal(3, d.n)
    assert.equal(30, d.mean)
    -- deviations -20,-10,30: (400+100+900)/2 = 700
    assert.equal(700, d.var)
    assert.matches("row 3 out of range", raises(core.describe, m, 3))
  end)

  it("refuses what is not an array of numbers", function()
    assert.matches("number expected at index 3, got string", raises(core.describe, { 1, 2, "3" }))
    assert.matches("table expected, got number", raises(core.describe, 5))
    assert.matches("table expected, got no value", raises(core.describe))
  end)
end)

describe("core.quantile", function()
  it("interpolates linearly between order statistics (R type 7)", function()
    -- sorted: 1, 3, 5, 7, 10 (n = 5); position h = (n-1) p = 4p (0-based)
    -- p 0 -> 1; p 1 -> 10; p 0.5 -> h 2 -> 5; p 0.25 -> h 1 -> 3;
    -- p 0.9 -> h 3.6 -> 7 + 0.6*(10-7) = 8.8; p 0.1 -> h 0.4 -> 1 + 0.4*2 = 1.8
    local x = { 7, 1, 3, 10, 5 }
    assert.equal(5, core.quantile(x, 0.5))
    local q = core.quantile(x, { 0, 0.1, 0.25, 0.5, 0.9, 1 })
    assert.equal(6, #q)
    assert.equal(1, q[1])
    near(1.8, q[2], 1e-15)
    assert.equal(3, q[3])
    assert.equal(5, q[4])
    near(8.8, q[5], 1e-15)
    assert.equal(10, q[6])
    assert.same({ 7, 1, 3, 10, 5 }, x) -- the caller's array is not sorted
    -- even n: median of 1,2,3,4 is h = 1.5 -> 2.5
    assert.equal(2.5, core.quantile({ 4, 3, 2, 1 }, 0.5))
    assert.equal(42, core.quantile({ 42 }, 0.37))
  end)

  it("an empty array gives nil; p outside [0, 1] is an error", function()
    assert.is_nil(core.quantile({}, 0.5))
    assert.is_nil(core.quantile({}, { 0.5 }))
    assert.matches("outside %[0, 1%]", raises(core.quantile, { 1, 2 }, 1.5))
    assert.matches("outside %[0, 1%]", raises(core.quantile, { 1, 2 }, { 0.5, -0.1 }))
    assert.matches("outside %[0, 1%]", raises(core.quantile, { 1, 2 }, 0 / 0))
    assert.matches("number expected at index 2, got table", raises(core.quantile, { 1, {} }, 0.5))
  end)
end)

describe("core.t_sf (Student's t via the incomplete beta function)", function()
  it("matches closed forms for 1 and 2 degrees of freedom", function()
    -- df 1 (Cauchy): p = 1 - (2/pi) atan|t|; t = 1 -> 1/2; t = sqrt(3) -> 1/3
    near(0.5, core.t_sf(1, 1))
    near(1 / 3, core.t_sf(math.sqrt(3), 1))
    -- df 2: p = 1 - |t| / sqrt(t^2 + 2); t = 2 -> 1 - 2/sqrt(6) = 0.18350341907227...
    near(1 - 2 / math.sqrt(6), core.t_sf(2, 2))
    near(1 - 2 / math.sqrt(6), core.t_sf(-2, 2))
  end)

  it("matches textbook table values", function()
    -- t tables: t(0.975, 10) = 2.228, so two-sided p(2.228, 10) = 0.05;
    -- t(0.995, 5) = 4.032 -> 0.01; t(0.975, 30) = 2.042 -> 0.05; the
    -- normal limit t(0.975, inf) = 1.96 -> 0.05 (df 1e6 is that limit).
    near(0.05, core.t_sf(2.228, 10), 1e-4)
    near(0.01, core.t_sf(4.032, 5), 1e-4)
    near(0.05, core.t_sf(2.042, 30), 1e-4)
    near(0.05, core.t_sf(1.96, 1e6), 1e-4)
    near(0.05, core.t_sf(1.96, math.huge), 1e-4)
    -- 2 * (1 - Phi(1.96)) = 0.0499957902964 (normal table)
    near(0.0499957902964, core.t_sf(1.96, math.huge), 1e-12)
  end)

  it("handles t = 0, infinite t and refuses df <= 0", function()
    assert.equal(1, core.t_sf(0, 3))
    assert.equal(0, core.t_sf(math.huge, 3))
    assert.equal(0, core.t_sf(-math.huge, 3))
    near(0, core.t_sf(1e200, 3))
    assert.matches("degrees of freedom must be positive", raises(core.t_sf, 1, 0))
  end)
end)

describe("core.welch", function()
  it("matches a worked example", function()
    -- a = 1..5: mean 3, var = (4+1+0+1+4)/4 = 2.5
    -- b = 2,4,...,12: mean 7, var = (25+9+1+1+9+25)/5 = 14
    -- se^2 = 2.5/5 + 14/6 = 0.5 + 2.3333 = 17/6; t = 4/sqrt(17/6) = 2.376354
    -- df = (17/6)^2 / (0.5^2/4 + (7/3)^2/5) = 8.027778/1.151389 = 6.972256
    -- p (two-sided t, 6.97 df) = 0.04928 (t table: 2.365 at df 7 is 0.05;
    -- checked by numeric integration of the t density: 0.0492843)
    -- d = 4 / sqrt((2.5 + 14)/2) = 4/2.872281 = 1.392621; rel = 4/3
    local w = core.welch({ 1, 2, 3, 4, 5 }, { 2, 4, 6, 8, 10, 12 })
    near(2.3763541031, w.t, 1e-9)
    near(6.9722557298, w.df, 1e-9)
    near(0.0492843, w.p, 1e-6)
    assert.equal(3, w.mean_a)
    assert.equal(7, w.mean_b)
    assert.equal(4, w.diff)
    near(4 / 3, w.rel, 1e-15)
    near(1.3926212476, w.d, 1e-9)
    assert.equal(5, w.n_a)
    assert.equal(6, w.n_b)
    -- swapping the sides flips the signs, not p
    local s = core.welch({ 2, 4, 6, 8, 10, 12 }, { 1, 2, 3, 4, 5 })
    near(-w.t, s.t, 1e-12)
    near(w.p, s.p, 1e-15)
    near(-w.d, s.d, 1e-12)
  end)

  it("needs two values per side; constant sides give an infinite or a zero t", function()
    local w, err = core.welch({ 1 }, { 1, 2 })
    assert.is_nil(w)
    assert.equal("need at least 2 repetitions per side", err)
    assert.is_nil((core.welch({ 1, 2 }, {})))
    local diff = core.welch({ 5, 5, 5 }, { 6, 6 })
    assert.equal(math.huge, diff.t)
    assert.equal(0, diff.p)
    assert.equal(math.huge, diff.d)
    local same = core.welch({ 5, 5 }, { 5, 5, 5 })
    assert.equal(0, same.t)
    assert.equal(1, same.p)
    assert.is_true(isnan(same.df))
    local zero = core.welch({ 0, 0 }, { 1, 2 })
    assert.is_true(isnan(zero.rel))
    -- one constant side: df is the other side's n - 1 (here 1);
    -- t = (1.5 - 0)/sqrt(0.5/2) = 3; p(3, 1) = 1 - (2/pi) atan 3
    near(1, zero.df, 1e-15)
    near(3, zero.t, 1e-15)
    near(1 - 2 / math.pi * math.atan(3), zero.p, 1e-12)
  end)

  it("refuses what is not an array of numbers", function()
    assert.matches("number expected at index 2, got boolean", raises(core.welch, { 1, 2 }, { 1, false }))
    assert.matches("bad argument #2", raises(core.welch, { 1, 2 }, "1,2"))
  end)
end)

describe("core.correlation's kernel", function()
  it("runs on OpenBLAS where the build found it, its threads blind to every signal, also after a fork", function()
    if core.correlation_kernel() == "loop" then return pending("a build without OpenBLAS (static): the plain loop") end
    assert.equal("openblas", core.correlation_kernel())
    -- in an autoperf of its own: busted's process forks all along, and
    -- OpenBLAS stops its threads at a fork and starts them again on the
    -- next call big enough to use them
    local script = T.tmpdir() .. "/blas.lua"
    finally(function() T.rmtree(script:match("^(.*)/")) end)
    T.write(script, [[
local core = require "autoperf.core"
local function correlate()
  local m <close> = core.matrix(600, 400)
  for i = 1, 600 do
    local row = {}
    for j = 1, 400 do row[j] = math.sin(i * j + i) end
    m:setrow(i, row)
  end
  local R <close> = assert(core.correlation(m))
  assert(R:get(7, 7) == 1)
end
local function masks()
  local f = assert(io.open("/proc/self/stat"))
  local self = f:read("a"):match("^(%d+)")
  f:close()
  local out = {}
  for _, e in ipairs(core.listdir("/proc/self/task")) do
    if e.name ~= self then
      local g = assert(io.open("/proc/self/task/" .. e.name .. "/status"))
      out[#out + 1] = g:read("a"):match("SigBlk:%s*(%x+)")
      g:close()
    end
  end
  return table.concat(out, " ")
end
correlate()
print("before " .. masks())
-- a fork (system() would not run atfork handlers): OpenBLAS's stops its threads
local p = assert(core.spawn({ "true" }))
assert(p:release())
assert(p:wait())
p:close()
correlate()
print("after " .. masks())
]])
    local out, err, code = T.autoperf("run", script)
    assert.equal(0, code, err)
    -- every thread but the main one is OpenBLAS's, each blocking every
    -- signal (all 64 but SIGKILL, SIGSTOP and glibc's internal 32 and 33),
    -- so a signal for autoperf (Ctrl-C, SIGCHLD) never lands there
    local cpus = 0
    for _, e in ipairs(core.listdir("/sys/bus/cpu/devices")) do
      if (T.slurp("/sys/bus/cpu/devices/" .. e.name .. "/online"):match("%d") or "1") == "1" then cpus = cpus + 1 end
    end
    for _, when in ipairs({ "before", "after" }) do
      local list = out:match(when .. " ([^\n]*)")
      assert.truthy(list, out)
      for mask in list:gmatch("%x+") do assert.equal("fffffffe7ffbfeff", mask, when .. ": " .. out) end
      if cpus > 1 and not os.getenv("OPENBLAS_NUM_THREADS") then
        assert.truthy(list:match("%x"), when .. " the fork: no OpenBLAS thread: " .. out)
      end
    end
  end)
end)
