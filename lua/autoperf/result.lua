-- result: a profile's output directory read back as an object.
--
--   local r = assert(result.read("out"))
--   r["task-clock"]            -- mean total over repetitions
--   r:total("page-faults", 2)  -- the total of repetition 2
--   r:series("task-clock")     -- {{index=, time=, value=}, ...} of repetition 1
--   r:series("task-clock", 2, 0) -- of repetition 2 on CPU 0 (read with {per_cpu=true})
--   r:status("cycles")         -- "ok", "flagged: ...", "refused: ...", nil (not profiled)
--   r.events, r.reps, r.units, r.manifest, r.dir, r.complete, r.simulated
--
-- Values come from the run files (raw cumulative counts): a repetition's
-- total is the last sample summed over CPUs; a series holds per-interval
-- deltas summed over CPUs. An event re-measured in an extra run (the
-- verification loop) is taken from that run.
local core = require "autoperf.core"
local store = require "autoperf.store"

local M = {}
local Result = {}

local function index(self, k)
  local method = Result[k]
  if method ~= nil then return method end
  if type(k) == "string" then return self:mean(k) end
  return nil
end

-- Reads dir; nil, message when it is not a readable profile.
-- opts.events: only these events (a set {[name]=true} or a predicate);
-- opts.per_cpu: keep each CPU's series too.
function M.read(dir, opts)
  opts = opts or {}
  local want = opts.events
  if type(want) == "table" then
    local set = want
    want = function(name) return set[name] ~= nil end
  end
  local s, err = store.load(dir)
  if not s then return nil, err end
  local m = s.manifest
  -- The profile reader (core/reader.c) reads the files, its ap.read sink
  -- (core/lreader.c) builds each event's totals and points.
  local files, rerr = core.read_profile(store.run_files(s), { want = want, per_cpu = opts.per_cpu })
  if not files then return nil, rerr end
  local data, units, order = {}, {}, {}
  local reps = 0
  for i, e in ipairs(s.journal) do
    reps = math.max(reps, e.rep)
    for _, ev in ipairs(files[i].events) do
      local name = ev.name
      if not units[name] then
        units[name] = ev.unit
        order[#order + 1] = name
      end
      if ev.total then
        local d = data[name] or { totals = {}, series = {}, cpu_series = {}, flagged = false }
        data[name] = d
        d.totals[e.rep] = ev.total
        d.series[e.rep] = ev.series
        d.cpu_series[e.rep] = ev.cpu_series
        d.flagged = d.flagged or ev.flagged
      end
    end
  end
  local refused = {}
  for _, r in ipairs(m.refused or {}) do refused[r.name] = r.error end
  -- complete: every planned run and repetition is in the journal
  local want = #((m.plan or {}).runs or {}) * math.tointeger((m.settings or {}).repetitions or 1)
  local self = {
    dir = dir, manifest = m, reps = reps, units = units, events = order, complete = #s.journal >= want,
    partial = require("autoperf.pmu.hybrid").partial(m), -- (hybrid halves: not flagged for their time off)
    refused = refused, simulated = m.simulated ~= nil, data = data,
  }
  return setmetatable(self, { __index = index })
end

-- The total of name in repetition rep (default 1), or nil.
function Result:total(name, rep)
  local d = self.data[name]
  return d and d.totals[rep or 1]
end

-- The mean of name's totals over the repetitions, or nil.
function Result:mean(name)
  local d = self.data[name]
  if not d then return nil end
  local sum, n = 0, 0
  for _, v in pairs(d.totals) do
    sum, n = sum + v, n + 1
  end
  if n == 0 then return nil end
  local mean = sum / n
  return math.tointeger(mean) or mean
end

-- Per-interval values of name in repetition rep (default 1), summed over
-- CPUs, or on one cpu (-1 for a per-task profile) when read with per_cpu.
function Result:series(name, rep, cpu)
  local d = self.data[name]
  if not d then return {} end
  if cpu then
    local per = d.cpu_series[rep or 1]
    return per and per[cpu] or {}
  end
  return d.series[rep or 1] or {}
end

-- The CPUs name was counted on in repetition rep (default 1), sorted
-- (read with per_cpu; {-1} for a per-task profile).
function Result:cpus(name, rep)
  local d = self.data[name]
  local out = {}
  for cpu in pairs(d and d.cpu_series[rep or 1] or {}) do out[#out + 1] = cpu end
  table.sort(out)
  return out
end

-- "ok", "flagged: not counted all the time", "refused: <error>", or nil
-- when name was not part of the profile ("ok: a hybrid half, ..." for a
-- half that counted while the command ran on its CPUs only).
function Result:status(name)
  if self.refused[name] then return "refused: " .. self.refused[name] end
  local d = self.data[name]
  if not d then return nil end
  local partial = d.flagged and self.partial[name]
  if partial then return require("autoperf.pmu.hybrid").partial_status(partial) end
  return d.flagged and "flagged: not counted all the time" or "ok"
end

return M
