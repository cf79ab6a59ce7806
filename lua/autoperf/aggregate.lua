-- aggregate: merges an output directory's run files into results.csv
-- (the original autoperf's columns) and a per-event summary.csv.
--
-- results.csv has one row per event, interval and CPU; SAMPLE_VALUE is the
-- count during that interval, so an event's rows sum to its total.
-- Repetitions follow each other on one timeline: INDEX and TIME continue
-- from the previous repetition. TIME is in seconds, rounded half up to the
-- microsecond from the integer ns. Per-task profiles have no CPU: SOCKET,
-- CORE, CPU and NODE are -1 (perf's "any cpu").
local anchors_mod = require "autoperf.anchors"
local core = require "autoperf.core"
local guard_mod = require "autoperf.guard"
local store_mod = require "autoperf.store"
local hybrid = require "autoperf.pmu.hybrid"
local util = require "autoperf.util"

local M = {}

M.RESULTS_HEADER = "EVENT_NAME,INDEX,TIME,SOCKET,CORE,CPU,NODE,UNIT,SAMPLE_VALUE\n"
M.SUMMARY_HEADER = "EVENT_NAME,UNIT,STATUS,REPETITIONS,TOTAL,MEAN,MIN,MAX,TIME_ENABLED_NS,TIME_RUNNING_NS\n"

local csv_field = require("autoperf.csv").field

local function by_run(a, b)
  if a.run ~= b.run then return a.run < b.run end
  return a.rep < b.rep
end

-- Are dir's results.csv and summary.csv newer than everything they are
-- made of (manifest, journal, run files)? Then aggregating again would
-- write the same bytes: a finished profile on a read-only mount stays as
-- it is.
local function mtime(path)
  local kind, t = core.file_kind(path)
  return kind == "file" and t or nil
end

local function up_to_date(loaded, out_path, sum_path)
  local t_res, t_sum = mtime(out_path), mtime(sum_path)
  local t_runs = mtime(loaded.dir .. "/runs.csv")
  if not t_res or not t_sum or not t_runs then return false end
  local oldest = math.min(t_res, t_sum, t_runs)
  local inputs = { store_mod.MANIFEST, store_mod.JOURNAL }
  for _, e in ipairs(loaded.journal) do inputs[#inputs + 1] = e.file end
  for _, name in ipairs(inputs) do
    local t = mtime(loaded.dir .. "/" .. name)
    -- strictly older: a file changed within the clock's tick is not
    if not t or t >= oldest then return false end
  end
  return true
end

-- dir: an output directory. opts.output: results path (default
-- dir/results.csv; .gz compresses), opts.summary: summary path.
-- Returns {results=, summary=, events=, rows=, flagged=} (or, when the
-- default files are newer than all they are made of, {results=,
-- summary=, up_to_date=true}: nothing is written), or nil, message.
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
  if not opts.output and not opts.summary and up_to_date(loaded, out_path, sum_path) then
    return { results = out_path, summary = sum_path, up_to_date = true }
  end

  local topo = {}
  for _, c in ipairs((manifest.machine or {}).cpus or {}) do topo[c.cpu] = c end

  -- Both files are written to temporary names and land together
  -- (summary first): a results.csv never stands without its summary.
  local w, werr = core.writer(out_path, out_path:match("%.gz$") ~= nil)
  if not w then return nil, werr end
  local sw, swerr = core.writer(sum_path, sum_path:match("%.gz$") ~= nil)
  if not sw then
    w:abort()
    return nil, swerr
  end
  local function abort(msg)
    w:abort()
    sw:abort()
    return nil, msg
  end
  local ok, herr = w:write(M.RESULTS_HEADER)
  if not ok then return abort(herr) end

  -- The profile reader (core/reader.c) parses, checks and writes the
  -- rows (core/aggregate.c), in run and repetition order: INDEX and TIME
  -- of a run's repetitions continue from the one before. An event
  -- measured again (re-planned after it was not fully counted) counts
  -- from its new run, in each repetition that run completed.
  table.sort(journal, by_run)
  local files = store_mod.run_files(loaded)
  local r, rerr = core.aggregate(files, w, { topo = topo })
  if not r then return abort(rerr) end
  local flagged = {}
  for i, entry in ipairs(journal) do
    local skipped = files[i].skip or {}
    for _, name in ipairs(entry.flagged or {}) do
      if not skipped[name] then flagged[name] = true end
    end
  end
  local nflagged = 0
  local partial = hybrid.partial(manifest) -- hybrid halves: their time off is no multiplexing
  local lines = {}
  local function write(s) lines[#lines + 1] = s end
  do
    write(M.SUMMARY_HEADER)
    for _, s in ipairs(r.events) do
      local name = s.name
      local status = "ok"
      if partial[name] and not flagged[name] and s.running < s.enabled then
        status = hybrid.partial_status(partial[name])
      elseif flagged[name] or s.running < s.enabled then
        status = "flagged: not counted all the time (running < enabled)"
        nflagged = nflagged + 1
      end
      if s.reps == 0 then -- declared, never sampled
        write(string.format("%s,%s,%s,0,,,,,%d,%d\n", csv_field(name), csv_field(s.unit), csv_field(status),
          s.enabled, s.running))
      else
        write(string.format("%s,%s,%s,%d,%d,%.17g,%d,%d,%d,%d\n", csv_field(name), csv_field(s.unit),
          csv_field(status), s.reps, s.total, s.total / s.reps, s.min, s.max, s.enabled, s.running))
      end
    end
    local unit_of = {}
    for _, ev in ipairs(manifest.events or {}) do unit_of[ev.name] = ev.unit end
    for _, rf in ipairs(manifest.refused or {}) do
      write(string.format("%s,%s,%s,0,,,,,,\n", csv_field(rf.name), csv_field(unit_of[rf.name] or ""),
        csv_field("refused: " .. tostring(rf.error))))
    end
  end
  local sok, serr = sw:write(table.concat(lines))
  if not sok then return abort(serr) end
  local cok, cerr = sw:commit_with(w)
  if not cok then return nil, cerr end
  local runs_path, anchors_path = dir .. "/runs.csv", dir .. "/anchors.csv"
  local aok, aerr = M.write_runs(loaded, runs_path, anchors_path)
  if not aok then return nil, aerr end
  return { results = out_path, summary = sum_path, events = #r.events, rows = r.rows,
           flagged = nflagged, refused = #(manifest.refused or {}), runs = #journal,
           runs_csv = runs_path, anchors_csv = anchors_path }
end

M.RUNS_HEADER = "RUN,REP,FILE,ATTEMPTS,GUARD"
M.ANCHORS_HEADER = "ANCHOR,UNIT,RUNS,MEDIAN,MEAN,CV,MIN,MAX,OUTLIERS\n"

-- runs.csv: one row per run and repetition with its anchors (the
-- duration in ns, then each anchor's count), the executions it took and
-- the guard's verdict (ok, remeasured, outlier, unjudged; empty: the
-- guard was off). anchors.csv: per anchor its spread across the runs and
-- the runs that lie outside the guard's tolerance.
function M.write_runs(loaded, runs_path, anchors_path)
  local names = anchors_mod.names(loaded.manifest)
  local unit = { [anchors_mod.DURATION] = "ns" }
  for _, a in ipairs(type(loaded.manifest.anchors) == "table" and loaded.manifest.anchors or {}) do
    if type(a) == "table" and a.name then unit[a.name] = a.unit end
  end
  local journal = {}
  for i, e in ipairs(loaded.journal) do journal[i] = e end
  table.sort(journal, by_run)
  local num = require("autoperf.csv").number
  local lines = { M.RUNS_HEADER }
  for _, n in ipairs(names) do lines[1] = lines[1] .. "," .. csv_field(n == anchors_mod.DURATION and "duration_ns" or n) end
  lines[1] = lines[1] .. "\n"
  for _, e in ipairs(journal) do
    local v = anchors_mod.values(e)
    local row = { e.run, e.rep, csv_field(e.file), math.tointeger(e.attempts) or 1, csv_field(e.guard or "") }
    for _, n in ipairs(names) do row[#row + 1] = v[n] and num(v[n]) or "" end
    lines[#lines + 1] = table.concat(row, ",") .. "\n"
  end
  local ok, err = util.write_atomic(runs_path, table.concat(lines))
  if not ok then return nil, err end
  local g = loaded.manifest.guard
  local reps = 1
  for _, e in ipairs(journal) do reps = math.max(reps, e.rep) end
  local out = { M.ANCHORS_HEADER }
  for _, st in ipairs(guard_mod.spread(journal, names, type(g) == "table" and g or nil)) do
    local who = {}
    for i, o in ipairs(st.outliers) do who[i] = guard_mod.run_name(o, reps) end
    out[#out + 1] = string.format("%s,%s,%d,%s,%s,%.6f,%s,%s,%s\n", csv_field(st.name), csv_field(unit[st.name] or ""),
      st.n, num(st.median), num(st.mean), st.cv, num(st.min), num(st.max), csv_field(table.concat(who, " ")))
  end
  return util.write_atomic(anchors_path, table.concat(out))
end

return M
