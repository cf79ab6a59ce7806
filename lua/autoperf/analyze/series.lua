-- series: events' per-interval values, read from the run files by the C
-- core (core.run_series) and lined up across runs.
--
-- Events measured in different runs have series of slightly different
-- lengths (each run is its own execution of the workload). Interval i of
-- repetition k lines up across runs; each repetition is cut to its
-- shortest series, and repetitions follow each other, as INDEX does in
-- results.csv.
local core = require "autoperf.core"
local store = require "autoperf.store"
local csv = require "autoperf.csv"
local util = require "autoperf.util"

local M = {}

-- A loaded profile answers as a result object does (result.lua) for
-- totals and status: ds:total(name, rep), ds:status(name).
local DS = {}
DS.__index = DS

function DS:total(name, rep)
  local at = self.at[name]
  local x = at and at[rep or 1]
  return x and x.total
end

-- "ok", "flagged: not counted all the time", "refused: <error>", or nil.
function DS:status(name)
  if self.refused[name] then return "refused: " .. self.refused[name] end
  local at = self.at[name]
  if not at then return nil end
  for _, x in pairs(at) do
    if x.flagged then return "flagged: not counted all the time" end
  end
  return "ok"
end

-- What to say of a profile without a completed run.
function M.no_runs(dir)
  return dir .. " has no completed run yet (rerun the same 'autoperf profile' to resume it)"
end

-- Reads a profile directory: {dir=, names= (in order; also events),
-- units=, reps=, simulated=, user_only= (the kernel was excluded, see
-- profile.measurable), refused = {[name] = error}, at (also data) =
-- {[name] = {[rep] = {m=, row=, len=, total=, flagged=}}}}, or nil,
-- message. Memory: one double per event and interval (not per CPU or row
-- of the run files). An event re-measured in an extra run (the
-- verification loop) is taken from that run.
function M.load(dir)
  if not util.is_dir(dir) and util.exists(dir) then return M.load_results(dir) end
  local results = M.results_in(dir)
  if results then return M.load_results(results) end
  local s, err = store.load(dir)
  if not s then return nil, err end
  if #s.journal == 0 then
    return nil, M.no_runs(dir)
  end
  local files = store.run_files(s)
  local ds = setmetatable({ dir = dir, names = {}, units = {}, reps = 0, at = {}, refused = {},
    simulated = s.manifest.simulated ~= nil,
    user_only = type(s.manifest.access) == "table" and s.manifest.access.user_only == true }, DS)
  ds.events, ds.data = ds.names, ds.at
  for _, r in ipairs(s.manifest.refused or {}) do ds.refused[r.name] = tostring(r.error) end
  -- an uncore event counts once per box (its own PMU): "NAME [box]" each
  local boxed = {}
  for _, ev in ipairs(s.manifest.events or {}) do
    if ev.boxes then boxed[ev.name] = true end
  end
  for i, e in ipairs(s.journal) do
    local rs, rerr = core.run_series(files[i].path, files[i].skip)
    if not rs then return nil, rerr end
    for i, name in ipairs(rs.names) do
      if boxed[name] then name = name .. " [" .. rs.units[i]:gsub(":simulated$", "") .. "]" end
      local at = ds.at[name]
      if not at then
        at = {}
        ds.at[name] = at
        ds.names[#ds.names + 1] = name
        ds.units[name] = rs.units[i]
      end
      at[e.rep] = { m = rs.m, row = i, len = rs.lengths[i], total = rs.totals[i], flagged = rs.flagged[i] }
    end
    if e.rep > ds.reps then ds.reps = e.rep end
  end
  return ds
end

-- The results.csv of dir when dir holds one and no profile (the original
-- autoperf's scripts took ./out), or nil.
function M.results_in(dir)
  if not util.is_dir(dir) or core.file_kind(dir .. "/" .. store.MANIFEST) then return nil end
  for _, name in ipairs({ "results.csv", "results.csv.gz" }) do
    if util.exists(dir .. "/" .. name) then return dir .. "/" .. name end
  end
  return nil
end

-- A results.csv (autoperf's, or the original autoperf's; .gz too) read
-- as a profile of one repetition: its INDEX runs across repetitions.
function M.load_results(path)
  local rs, err = core.results_series(path)
  if not rs then return nil, err end
  local ds = setmetatable({ dir = path, names = rs.names, units = {}, reps = 1, at = {}, refused = {},
    from_results = true }, DS)
  ds.events, ds.data = ds.names, ds.at
  for i, name in ipairs(rs.names) do
    ds.units[name] = rs.units[i]
    if rs.units[i]:match(":simulated$") then ds.simulated = true end
    ds.at[name] = { { m = rs.m, row = i, len = rs.lengths[i], total = rs.totals[i], flagged = false } }
  end
  return ds
end

-- The layout of names in ds: {reps = {{rep=, length=}, ...}, length =
-- total}. A repetition missing for one of names is left out.
function M.layout(ds, names)
  local reps, total = {}, 0
  for k = 1, ds.reps do
    local len = math.huge
    for _, n in ipairs(names) do
      local at = ds.at[n] and ds.at[n][k]
      if not at then
        len = nil
        break
      end
      if at.len < len then len = at.len end
    end
    if len and len > 0 and len < math.huge then
      reps[#reps + 1] = { rep = k, length = len }
      total = total + len
    end
  end
  return { reps = reps, length = total }
end

-- A matrix with one row per name (in order) on layout.
function M.matrix(ds, names, layout)
  local m, err = core.matrix(#names, layout.length)
  if not m then return nil, err end
  for i, name in ipairs(names) do
    local col = 1
    for _, rp in ipairs(layout.reps) do
      local at = ds.at[name][rp.rep]
      m:copy(i, col, at.m, at.row, 1, rp.length)
      col = col + rp.length
    end
  end
  return m
end

-- Writes the original autoperf's timeseries layout to path (.gz
-- compresses): INDEX, then one column per event (sum over CPUs).
-- base: as for util.write_with. Returns {path=, rows=, events=} or nil,
-- message.
function M.write_wide(ds, path, names, base)
  names = names or ds.names
  local layout = M.layout(ds, names)
  local m, merr = M.matrix(ds, names, layout)
  if not m then return nil, merr end
  local cols = {}
  for i = 1, #names do cols[i] = m:row(i) end
  m:close()
  local num = csv.number -- counts: integers as the run files had them
  local ok, err = util.write_with(path, function(write)
    local head = { "INDEX" }
    for i, n in ipairs(names) do head[i + 1] = csv.field(n) end
    write(table.concat(head, ","), "\n")
    local buf, line = {}, {}
    for row = 1, layout.length do
      line[1] = row - 1
      for i = 1, #names do line[i + 1] = num(cols[i][row]) end
      buf[#buf + 1] = table.concat(line, ",")
      if #buf >= 256 then
        write(table.concat(buf, "\n"), "\n")
        buf = {}
      end
    end
    if #buf > 0 then write(table.concat(buf, "\n"), "\n") end
  end, base)
  if not ok then return nil, err end
  return { path = path, rows = layout.length, events = #names }
end

return M
