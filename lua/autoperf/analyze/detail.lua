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

-- Draws each of names into dir as <name>.<format> (with <name>.dat and
-- <name>.gp); base: as for util.write_with. Returns a list of image
-- paths or nil, message.
function M.draw(r, names, dir, opts, base)
  opts = opts or {}
  local format = opts.format or "png"
  local images, used = {}, {}
  for _, name in ipairs(names) do
    if not r.data[name] then
      local why = r:status(name) or "not in this profile"
      return nil, string.format("%s: no data for '%s' (%s)", r.dir, name, why)
    end
    local lines = lines_of(r, name, opts)
    if #lines == 0 then return nil, string.format("%s: '%s' has no samples to draw", r.dir, name) end
    local stem = M.file_name(name)
    -- two names may map to one file name ('a:b', 'a_b'): number the later
    local k, try = 1, stem
    while used[try] do
      k = k + 1
      try = stem .. "-" .. k
    end
    stem = try
    used[stem] = true
    -- one block per line, two blank lines apart; each starts with its title
    local buf = {}
    for _, l in ipairs(lines) do
      buf[#buf + 1] = string.format('"%s"', l.title)
      for _, p in ipairs(l.points) do buf[#buf + 1] = string.format("%.6f %s", p.time, p.value) end
      buf[#buf + 1] = "\n"
    end
    local ok, err = util.write_atomic(dir .. "/" .. stem .. ".dat", table.concat(buf, "\n"), base)
    if not ok then return nil, err end
    local image = stem .. "." .. format
    local head, herr = plot.header(image, 900, 500)
    if not head then return nil, herr end
    local pmu = r.units[name] or ""
    local script = head .. table.concat({
      string.format("set title %s noenhanced", plot.str(name .. (pmu ~= "" and (" (" .. pmu .. ")") or "") ..
        (opts.per_cpu and (", repetition " .. (opts.rep or 1)) or "") ..
        (r.simulated and " - simulated counts" or "") .. " - " .. r.dir)),
      string.format("set xlabel %s noenhanced", plot.str(r.xlabel or "time since the start of the run (s)")),
      string.format("set ylabel %s noenhanced", plot.str(r.ylabel or "count per interval")),
      "set key outside right top noenhanced",
      "set grid",
      "set format y '%.4g'",
      string.format("plot for [i=0:%d] %s index i using 1:2 with linespoints pointsize 0.4 title columnheader(1)",
        #lines - 1, plot.str(stem .. ".dat")),
    }, "\n") .. "\n"
    local path, derr = plot.draw(dir, stem, image, script, base, { stem .. ".dat" })
    if not path then return nil, derr end
    images[#images + 1] = path
  end
  return images
end

return M
