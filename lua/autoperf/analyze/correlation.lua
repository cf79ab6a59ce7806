-- correlation: how events' time series move together.
local core = require "autoperf.core"
local csv = require "autoperf.csv"
local util = require "autoperf.util"
local plot = require "autoperf.plot"
local series = require "autoperf.analyze.series"

local M = {}

M.METHODS = { pearson = true, spearman = true }

-- Correlation matrix of the events of result r (opts.events: a list of
-- names, default all) whose lined-up series are not constant.
-- opts.method: "pearson" (default) or "spearman". Returns {names=,
-- R= (matrix), constant= (names left out), intervals=, method=} or nil,
-- message.
function M.compute(ds, opts)
  opts = opts or {}
  local method = opts.method or "pearson"
  if not M.METHODS[method] then return nil, "unknown correlation method '" .. tostring(method) .. "'" end
  local names = {}
  for _, n in ipairs(opts.events or ds.names) do
    if ds.at[n] then names[#names + 1] = n end
  end
  local layout = series.layout(ds, names)
  if layout.length < 3 then
    return nil, string.format("%s: %d interval%s lined up across runs; a correlation needs at least 3 " ..
      "(profile with a shorter -I, or a longer workload)", ds.dir, layout.length, layout.length == 1 and "" or "s")
  end
  local keep, constant = {}, {}
  local m, merr = series.matrix(ds, names, layout)
  if not m then return nil, merr end
  for i, n in ipairs(names) do
    local d = core.describe(m, i)
    if d.var > 0 then keep[#keep + 1] = i else constant[#constant + 1] = n end
  end
  if #keep < 2 then
    m:close()
    return nil, string.format("%s: %d of %d events vary over time; a correlation needs at least 2",
      ds.dir, #keep, #names)
  end
  local z, zerr = core.matrix(#keep, layout.length)
  if not z then return nil, zerr end
  local kept = {}
  for i, row in ipairs(keep) do
    z:copy(i, 1, m, row, 1, layout.length)
    kept[i] = names[row]
  end
  m:close()
  local R, rerr = core.correlation(z, method)
  z:close()
  if not R then return nil, rerr end
  return { names = kept, R = R, constant = constant, intervals = layout.length, method = method }
end

-- The n most correlated pairs (by |r|): {{a=, b=, r=}, ...}.
function M.top(res, n)
  return core.top_pairs(res.R, n, res.names)
end

-- Writes the matrix as CSV: a header row EVENT,<names>, then one row per
-- event (base: as for util.write_with). Returns path or nil, message.
function M.write_csv(res, path, base)
  return util.write_with(path, function(write)
    local head = { "EVENT" }
    for i, n in ipairs(res.names) do head[i + 1] = csv.field(n) end
    write(table.concat(head, ","), "\n")
    for i, n in ipairs(res.names) do write(csv.field(n), ",", res.R:rowtext(i, 6), "\n") end
  end, base)
end

-- Tic labels for n events: all when they fit, else every k-th.
local function tics(names, max)
  local step = math.max(1, math.ceil(#names / max))
  local out = {}
  for i = 1, #names, step do out[#out + 1] = string.format("%s %d", plot.str(names[i]), i - 1) end
  return "(" .. table.concat(out, ", ") .. ")", step
end

-- The matrix as gnuplot's binary array (float32, row after row): gnuplot
-- reads 4M of these in a blink, where parsing the CSV takes seconds.
local function write_bin(res, path, base)
  local fmt = "<" .. string.rep("f", #res.names)
  return util.write_with(path, function(write)
    for i = 1, #res.names do write(string.pack(fmt, table.unpack(res.R:row(i)))) end
  end, base)
end

-- Draws the heatmap into dir/image (.png or .svg) from dir/correlation.bin,
-- keeping dir/correlation.gp. Returns the image path or nil, message.
function M.heatmap(res, dir, image, title, base)
  local n = #res.names
  local ok, berr = write_bin(res, dir .. "/correlation.bin", base)
  if not ok then return nil, berr end
  local size = math.max(700, math.min(2400, 220 + 12 * n))
  local head, err = plot.header(image, size + 120, size)
  if not head then return nil, err end
  local labels, step = tics(res.names, (size - 220) // 11)
  local script = head .. table.concat({
    string.format("set title %s noenhanced", plot.str(string.format("%s correlation of %d events' time series " ..
      "(%d intervals)%s%s", res.method == "spearman" and "Spearman" or "Pearson", n, res.intervals,
      step > 1 and string.format(", every %s event labelled", step == 2 and "2nd" or step .. "th") or "",
      title and (" - " .. title) or ""))),
    "set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')",
    "set cbrange [-1:1]",
    "set cblabel 'correlation coefficient'",
    "set xlabel 'event'",
    "set ylabel 'event'",
    "set xtics rotate by 90 right noenhanced " .. labels,
    "set ytics noenhanced " .. labels,
    string.format("set xrange [-0.5:%d.5]", n - 1),
    string.format("set yrange [%d.5:-0.5]", n - 1),
    "set size ratio -1",
    "set tics scale 0",
    "# correlation.bin: the matrix of correlation.csv as float32, row after row",
    string.format("plot 'correlation.bin' binary array=(%d,%d) format='%%float32' with image notitle", n, n),
  }, "\n") .. "\n"
  return plot.draw(dir, "correlation", image, script, base, { "correlation.bin" })
end

return M
