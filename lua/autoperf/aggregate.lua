-- aggregate: merges an output directory's run files into results.csv
-- (the original autoperf's columns) and a per-event summary.csv.
--
-- results.csv has one row per event, interval and CPU; SAMPLE_VALUE is the
-- count during that interval, so an event's rows sum to its total.
-- Repetitions follow each other on one timeline: INDEX and TIME continue
-- from the previous repetition. TIME is in seconds, rounded half up to the
-- microsecond from the integer ns. Per-task profiles have no CPU: SOCKET,
-- CORE, CPU and NODE are -1 (perf's "any cpu").
local core = require "autoperf.core"
local store_mod = require "autoperf.store"
local util = require "autoperf.util"

local M = {}

M.RESULTS_HEADER = "EVENT_NAME,INDEX,TIME,SOCKET,CORE,CPU,NODE,UNIT,SAMPLE_VALUE\n"
M.SUMMARY_HEADER = "EVENT_NAME,UNIT,STATUS,REPETITIONS,TOTAL,MEAN,MIN,MAX,TIME_ENABLED_NS,TIME_RUNNING_NS\n"

local csv_field = util.csv_field

local function by_run(a, b)
  if a.run ~= b.run then return a.run < b.run end
  return a.rep < b.rep
end

-- dir: an output directory. opts.output: results path (default
-- dir/results.csv; .gz compresses), opts.summary: summary path.
-- Returns {results=, summary=, events=, rows=, flagged=} or nil, message.
function M.aggregate(dir, opts)
  opts = opts or {}
  local loaded, err = store_mod.load(dir)
  if not loaded then return nil, err end
  local manifest, journal = loaded.manifest, loaded.journal
  if #journal == 0 then
    return nil, dir .. ": no completed run to aggregate (profile first, or resume it)"
  end
  local out_path = opts.output or (dir .. "/results.csv")
  local sum_path = opts.summary or (dir .. "/summary.csv")

  local topo = {}
  for _, c in ipairs((manifest.machine or {}).cpus or {}) do topo[c.cpu] = c end

  local w, werr = core.writer(out_path, out_path:match("%.gz$") ~= nil)
  if not w then return nil, werr end
  w:write(M.RESULTS_HEADER)

  -- Per event: totals of each repetition, times, flags.
  local stats, order = {}, {}
  local flagged = {}
  table.sort(journal, by_run)
  -- An event measured again (re-planned after it was not fully counted)
  -- counts from its new run, in each repetition that run completed.
  local skip = store_mod.superseded(loaded)
  local offsets = {} -- per run: index and time where the next repetition starts
  local rows_out = 0
  for _, entry in ipairs(journal) do
    local skipped = skip[entry.run] or {}
    for _, name in ipairs(entry.flagged or {}) do
      if not skipped[name] then flagged[name] = true end
    end
    local off = offsets[entry.run] or { index = 0, time = 0 }
    -- The rows are parsed, checked and written by the C core
    -- (core/aggregate.c): INDEX and TIME continue from off.
    local r, rerr = core.aggregate_run(dir .. "/" .. entry.file, w, {
      skip = skipped, topo = topo, index_offset = off.index, time_offset = off.time,
    })
    if not r then
      w:abort()
      return nil, rerr
    end
    rows_out = rows_out + r.rows
    offsets[entry.run] = { index = off.index + r.max_index + 1, time = off.time + r.max_time }
    for _, ev in ipairs(r.events) do
      local s = stats[ev.name]
      if not s then
        s = { unit = ev.unit, reps = {}, enabled = 0, running = 0 }
        stats[ev.name] = s
        order[#order + 1] = ev.name
      end
      if ev.total then
        s.reps[#s.reps + 1] = ev.total
        s.enabled = s.enabled + ev.enabled
        s.running = s.running + ev.running
      end
    end
  end
  local cok, cerr = w:commit()
  if not cok then return nil, cerr end

  local nflagged = 0
  local sok, serr = util.write_with(sum_path, function(write)
    write(M.SUMMARY_HEADER)
    for _, name in ipairs(order) do
      local s = stats[name]
      local total, mn, mx = 0, math.huge, -math.huge
      for _, v in ipairs(s.reps) do
        total = total + v
        mn = math.min(mn, v)
        mx = math.max(mx, v)
      end
      local status = "ok"
      if flagged[name] or s.running < s.enabled then
        status = "flagged: not counted all the time (running < enabled)"
        nflagged = nflagged + 1
      end
      write(string.format("%s,%s,%s,%d,%d,%.17g,%d,%d,%d,%d\n", csv_field(name), csv_field(s.unit),
        csv_field(status), #s.reps, total, total / #s.reps, mn, mx, s.enabled, s.running))
    end
    local unit_of = {}
    for _, ev in ipairs(manifest.events or {}) do unit_of[ev.name] = ev.unit end
    for _, r in ipairs(manifest.refused or {}) do
      write(string.format("%s,%s,%s,0,,,,,,\n", csv_field(r.name), csv_field(unit_of[r.name] or ""),
        csv_field("refused: " .. tostring(r.error))))
    end
  end)
  if not sok then return nil, serr end
  return { results = out_path, summary = sum_path, events = #order, rows = rows_out,
           flagged = nflagged, refused = #(manifest.refused or {}), runs = #journal }
end

return M
