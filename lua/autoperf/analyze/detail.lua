-- detail: one time-series plot per event (per repetition, or per CPU).
local plot = require "autoperf.plot"
local util = require "autoperf.util"

local M = {}

-- A file name for an event ('syscalls:sys_enter_write' ->
-- 'syscalls_sys_enter_write').
function M.file_name(name)
  return (name:gsub("[^%w%-_.]", "_"))
end

-- The lines to draw for name: {{title=, points={{time, value}, ...}}}.
-- opts.per_cpu: one line per CPU of repetition opts.rep (default 1);
-- else one line per repetition (summed over CPUs).
local function lines_of(r, name, opts)
  local out = {}
  if opts.per_cpu then
    local rep = opts.rep or 1
    for _, cpu in ipairs(r:cpus(name, rep)) do
      out[#out + 1] = { title = cpu < 0 and "all CPUs (per-task profile)" or ("CPU " .. cpu),
        points = r:series(name, rep, cpu) }
    end
  else
    for k = 1, r.reps do
      if not opts.rep or opts.rep == k then
        local s = r:series(name, k)
        if #s > 0 then out[#out + 1] = { title = "repetition " .. k, points = s } end
      end
    end
  end
  return out
end

-- What a value of event name counts: "ns" for the clocks (the kernel's
-- software clocks and duration_time count nanoseconds), else "count".
local NS = { ["task-clock"] = true, ["cpu-clock"] = true, ["duration_time"] = true,
  ["user_time"] = true, ["system_time"] = true }
function M.unit(name)
  local base = name:match("^[^/:]*/([^/]+)/?$") or name -- pmu/name/
  return (NS[name] or NS[base]) and "ns" or "count"
end

-- The kernel's own unit of a sysfs event (pmu/name/): its events/NAME.unit
-- and NAME.scale, as perf stat applies them (a raw count times scale is
-- the unit: power/energy-pkg/ counts 2.3283064365386962890625e-10 Joules).
-- Returns unit, scale or nil.
function M.sysfs_unit(name, root)
  local pmu, ev = name:match("^([%w_.-]+)/([%w_.-]+)/$")
  if not pmu then return nil end
  local dir = (root or "/sys/bus/event_source/devices") .. "/" .. pmu .. "/events/" .. ev
  local unit = util.read_line(dir .. ".unit")
  if not unit or unit == "" then return nil end
  return unit, tonumber(util.read_line(dir .. ".scale") or "") or 1
end

-- Is every line of a plot the same value in every interval (all zero,
-- say)? Such a plot shows nothing but a flat line.
local function flat(lines)
  local v
  for _, l in ipairs(lines) do
    for _, p in ipairs(l.points) do
      if v == nil then v = p.value elseif p.value ~= v then return false end
    end
  end
  return true, v
end

-- The last interval of a series is partial when the run ended inside it:
-- shorter than 90% of the median interval. Returns its length and the
-- median (s), or nil.
local function partial_last(points)
  if #points < 3 then return nil end
  local d = {}
  for i = 2, #points - 1 do d[#d + 1] = points[i].time - points[i - 1].time end
  table.sort(d)
  local median = d[(#d + 1) // 2]
  local last = points[#points].time - points[#points - 1].time
  if median > 0 and last < 0.9 * median then return last, median end
  return nil
end
M.partial_last = partial_last

-- Draws each of names into dir as <name>.<format> (with <name>.dat and
-- <name>.gp); base: as for util.write_with. Events that are flat (the
-- same value in every interval) are skipped unless opts.all or
-- opts.asked[name]. Returns a list of image paths and a list of the
-- skipped {name=, value=}, or nil, message.
function M.draw(r, names, dir, opts, base)
  opts = opts or {}
  local format = opts.format or "png"
  local images, used, skipped = {}, {}, {}
  for _, name in ipairs(names) do
    if not r.data[name] then
      local why = r:status(name) or "not in this profile"
      return nil, string.format("%s: no data for '%s' (%s)", r.dir, name, why)
    end
    local lines = lines_of(r, name, opts)
    if #lines == 0 then return nil, string.format("%s: '%s' has no samples to draw", r.dir, name) end
    local is_flat, value = flat(lines)
    if is_flat and not opts.all and not (opts.asked and opts.asked[name]) then
      skipped[#skipped + 1] = { name = name, value = value }
      goto next
    end
    local stem = M.file_name(name)
    -- two names may map to one file name ('a:b', 'a_b'): number the later
    local k, try = 1, stem
    while used[try] do
      k = k + 1
      try = stem .. "-" .. k
    end
    stem = try
    used[stem] = true
    -- one block per line, two blank lines apart; each starts with its
    -- title; a partial last interval goes to a block of its own
    local buf, parts = {}, {}
    for _, l in ipairs(lines) do
      local last, median = partial_last(l.points)
      buf[#buf + 1] = string.format('"%s"', l.title)
      for i, p in ipairs(l.points) do
        if not (last and i == #l.points) then buf[#buf + 1] = string.format("%.6f %s", p.time, p.value) end
      end
      buf[#buf + 1] = "\n"
      if last then parts[#parts + 1] = { p = l.points[#l.points], last = last, median = median } end
    end
    if #parts > 0 then
      buf[#buf + 1] = string.format('"partial last interval (%.3g of %.3g ms)"', parts[1].last * 1000,
        parts[1].median * 1000)
      for _, x in ipairs(parts) do buf[#buf + 1] = string.format("%.6f %s", x.p.time, x.p.value) end
      buf[#buf + 1] = "\n"
    end
    local ok, err = util.write_atomic(dir .. "/" .. stem .. ".dat", table.concat(buf, "\n"), base)
    if not ok then return nil, err end
    local image = stem .. "." .. format
    local head, herr = plot.header(image, 900, 500)
    if not head then return nil, herr end
    local pmu = r.units[name] or ""
    local unit = M.unit(name)
    local sunit, sscale = M.sysfs_unit(name, opts.sysfs)
    local plots = string.format("plot for [i=0:%d] %s index i using 1:2 with linespoints pointsize 0.4 " ..
      "title columnheader(1)", #lines - 1, plot.str(stem .. ".dat"))
    if #parts > 0 then
      plots = plots .. string.format(", %s index %d using 1:2 with points pointtype 6 pointsize 1.5 lc rgb " ..
        "'#000000' title columnheader(1)", plot.str(stem .. ".dat"), #lines)
    end
    local script = head .. table.concat({
      string.format("set title %s noenhanced", plot.str(name .. (pmu ~= "" and (" (" .. pmu .. ")") or "") ..
        (opts.per_cpu and (", repetition " .. (opts.rep or 1)) or "") ..
        (r.simulated and " - simulated counts" or "") .. " - " .. r.dir)),
      string.format("set xlabel %s noenhanced", plot.str(r.xlabel or "time since the start of the run (s)")),
      r.ylabel and string.format("set ylabel %s noenhanced", plot.str(r.ylabel)) or
        unit == "ns" and "set ylabel 'nanoseconds per interval'" or (sunit and
        string.format("set ylabel %s", plot.str(string.format("count per interval (1 = %.6g %s)", sscale, sunit)))
        or "set ylabel 'count per interval'"),
      "set key below noenhanced",
      "set grid",
      "set format y '%.4g'",
      plots,
    }, "\n") .. "\n"
    local path, derr = plot.draw(dir, stem, image, script, base, { stem .. ".dat" })
    if not path then return nil, derr end
    images[#images + 1] = path
    ::next::
  end
  return images, skipped
end

return M
