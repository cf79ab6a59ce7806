-- experiment: a parameter sweep, measured and post-processed in-process.
--
--   local ex = ap.experiment {
--     name = "sweep",                       -- output: sweep-out/ unless out=
--     params = { { "size", { 1, 4 } }, { "threads", { 1, 2 } } },  -- cartesian
--     zip = false,                          -- true: the lists pair up instead
--     repetitions = 3, warmup = 1,
--     events = { "task-clock", "page-faults" }, interval_ms = 0,
--     command = function(p)                 -- argv, or {argv=, env={K=V}, cwd=, cpus={...}}
--       return { "build/workloads/threads", p.size, p.threads }
--     end,
--     derive = { faults_per_thread = function(r, p) return r["page-faults"] / p.threads end },
--     setup = function(p) ... return cleanup end,  -- around each measurement (co-runners)
--   }
--   ex:run()                                -- or ex:run{ shard = "2/4" }
--
-- Each configuration is profiled into OUT/NNN-k=v-k=v/ (a normal profile
-- directory, resumable); OUT/tidy.csv has one row per configuration x
-- repetition x event (measured or derived) with the parameters as columns.
-- OUT/experiment.json says "running" until the sweep is complete, so an
-- interrupted sweep is never mistaken for a finished one; rerunning it
-- measures only what is missing. With a shard K/N only every Nth
-- configuration (from the Kth) is measured; an unsharded run afterwards
-- finds them complete and writes the merged tidy.csv.
local core = require "autoperf.core"
local defaults = require "autoperf.defaults"
local profile = require "autoperf.profile"
local result = require "autoperf.result"
local csv = require "autoperf.csv"
local util = require "autoperf.util"

local M = {}
local Experiment = {}
Experiment.__index = Experiment

-- Settings the CLI gives every experiment of a script (autoperf run
-- SCRIPT --shard K/N).
M.defaults = {}

-- Parameters as an ordered list of {name, values}; a map is ordered by name.
local function param_list(params)
  if params == nil then return {} end
  local list = {}
  if params[1] ~= nil then
    for _, p in ipairs(params) do list[#list + 1] = { p[1], p[2] } end
  else
    for k, v in pairs(params) do list[#list + 1] = { k, v } end
    table.sort(list, function(a, b) return a[1] < b[1] end)
  end
  for _, p in ipairs(list) do
    if type(p[1]) ~= "string" or type(p[2]) ~= "table" or #p[2] == 0 then
      return nil, "params: each parameter needs a name and a non-empty list of values"
    end
  end
  return list
end

-- The configurations: the cartesian product of the values (the last
-- parameter varying fastest), or with zip the i-th values together.
function M.configurations(params, zip)
  local list, err = param_list(params)
  if not list then return nil, err end
  local out = {}
  if #list == 0 then return { {} } end
  if zip then
    local n = #list[1][2]
    for _, p in ipairs(list) do
      if #p[2] ~= n then return nil, "params: zipped lists differ in length (" .. p[1] .. ")" end
    end
    for i = 1, n do
      local c = {}
      for _, p in ipairs(list) do c[p[1]] = p[2][i] end
      out[i] = c
    end
    return out, list
  end
  local function product(k, acc)
    if k > #list then
      local c = {}
      for key, v in pairs(acc) do c[key] = v end
      out[#out + 1] = c
      return
    end
    for _, v in ipairs(list[k][2]) do
      acc[list[k][1]] = v
      product(k + 1, acc)
    end
  end
  product(1, {})
  return out, list
end

-- "K/N" -> K, N (1 <= K <= N) or nil, message.
function M.parse_shard(s)
  local k, n = tostring(s):match("^(%d+)/(%d+)$")
  k, n = tonumber(k), tonumber(n)
  if not k or n < 1 or k < 1 or k > n then
    return nil, "--shard must be K/N with 1 <= K <= N, not '" .. tostring(s) .. "'"
  end
  return k, n
end

local function safe(v)
  return (tostring(v):gsub("[^%w%.%-_]", "_"))
end

-- What a spec, a command's process and Experiment:run take (a key not
-- listed is a mistake, such as repetition=3 for repetitions).
local SPEC = { "name", "params", "zip", "repetitions", "warmup", "events", "interval_ms", "command", "derive",
  "setup", "out", "pmu", "events_json", "timeout_s", "core_type" }
local PROCESS = { "argv", "env", "cwd", "cpus" }
local RUN = { "shard", "quiet", "force" }

function M.new(spec)
  if type(spec) ~= "table" then return nil, "experiment: a table is expected" end
  local known, kerr = util.check_options("experiment", spec, SPEC)
  if not known then return nil, kerr end
  if type(spec.command) ~= "function" and type(spec.command) ~= "table" then
    return nil, "experiment: 'command' (a function of the parameters, or an argv) is required"
  end
  local configs, list = M.configurations(spec.params, spec.zip)
  if not configs then return nil, "experiment: " .. list end
  local name = spec.name or "experiment"
  local self = setmetatable({
    spec = spec, name = name, out = spec.out or (safe(name) .. "-out"),
    configs = configs, params = list or {}, reps = spec.repetitions or defaults.repetitions,
  }, Experiment)
  return self
end

-- The directory of configuration i.
function Experiment:config_dir(i)
  local parts = { string.format("%03d", i) }
  for _, p in ipairs(self.params) do parts[#parts + 1] = safe(p[1]) .. "=" .. safe(self.configs[i][p[1]]) end
  return self.out .. "/" .. table.concat(parts, "-")
end

-- argv, spawn options of configuration c.
local function command_of(spec, c)
  local cmd = spec.command
  if type(cmd) == "function" then cmd = cmd(c) end
  if type(cmd) ~= "table" then return nil, "command must return an argv list or {argv=...}" end
  if cmd.argv then
    local known, kerr = util.check_options("command", cmd, PROCESS)
    if not known then return nil, kerr end
  end
  local argv = cmd.argv or cmd
  local list = {}
  for i, a in ipairs(argv) do list[i] = tostring(a) end
  if #list == 0 then return nil, "command returned an empty argv" end
  return list, { env = cmd.env and util.env_with(cmd.env), cwd = cmd.cwd, cpus = cmd.cpus }
end

-- Runs argv once, unmeasured (warm-up).
local function warm(argv, o)
  local p, err = core.spawn(argv, { env = o.env, cwd = o.cwd, cpus = o.cpus })
  if not p then return nil, err end
  local ok, rerr = p:release()
  if not ok then
    p:close()
    return nil, rerr
  end
  local st = p:wait()
  p:close()
  return st
end

local function write_status(self, status, extra)
  local doc = {
    experiment = self.name, status = status, configurations = #self.configs,
    repetitions = self.reps, updated = os.date("!%Y-%m-%dT%H:%M:%SZ"),
  }
  for k, v in pairs(extra or {}) do doc[k] = v end
  return util.write_atomic(self.out .. "/experiment.json", util.json_encode(doc) .. "\n")
end

local csv_field = csv.field

-- The shortest decimal that reads back as v.
local function num(v)
  if math.type(v) == "integer" then return tostring(v) end
  for digits = 15, 17 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

-- The rows of configuration i: measured totals and derived metrics per
-- repetition.
function Experiment:rows(i, r)
  local c, rows = self.configs[i], {}
  local derive = {}
  for k, f in pairs(self.spec.derive or {}) do derive[#derive + 1] = { k, f } end
  table.sort(derive, function(a, b) return a[1] < b[1] end)
  for rep = 1, r.reps do
    -- a view of one repetition: r_rep["task-clock"] is its total
    local view = setmetatable({}, { __index = function(_, k) return r:total(k, rep) end })
    for _, name in ipairs(r.events) do
      local v = r:total(name, rep)
      if v then rows[#rows + 1] = { rep = rep, event = name, unit = r.units[name], value = v } end
    end
    for _, d in ipairs(derive) do
      local ok, v = pcall(d[2], view, c)
      if not ok then error(string.format("derive.%s: %s", d[1], v), 0) end
      if type(v) == "number" then
        rows[#rows + 1] = { rep = rep, event = d[1], unit = "derived", value = v }
      end
    end
  end
  return rows
end

local function progress_line(i, n, c, params, t0, done_before)
  local parts = {}
  for _, p in ipairs(params) do parts[#parts + 1] = p[1] .. "=" .. tostring(c[p[1]]) end
  local elapsed = (core.now_ns() - t0) / 1e9
  local measured = i - 1 - done_before
  local eta = measured > 0 and elapsed / measured * (n - i + 1) or nil
  io.stderr:write(string.format("%sexperiment: configuration %d/%d %s | %s elapsed | ETA %s%s",
    core.isatty(2) and "\r\27[K" or "", i, n, table.concat(parts, " "),
    util.human_duration(elapsed), eta and util.human_duration(eta) or "--",
    core.isatty(2) and "" or "\n"))
end

-- Runs the sweep. opts: shard ("K/N"), quiet, force (re-measure
-- everything). Returns {out=, tidy=, configurations=, measured=, rows=}
-- or nil, message.
function Experiment:run(opts)
  local known, kerr = util.check_options("experiment:run", opts, RUN)
  if not known then error(kerr, 2) end
  opts = opts or {}
  local shard = opts.shard or M.defaults.shard
  local sk, sn = 1, 1
  if shard then
    local k, n = M.parse_shard(shard)
    if not k then return nil, n end
    sk, sn = k, n
  end
  local quiet = opts.quiet or M.defaults.quiet
  local ok, err = util.mkdirs(self.out)
  if not ok then return nil, err end
  if sn == 1 then
    ok, err = write_status(self, "running")
    if not ok then return nil, err end
  end
  -- the selection once (a bad spec fails before anything runs), measured
  -- per configuration by the runner every path uses
  local prepared, perr = profile.prepare(self.spec.events, { pmu = self.spec.pmu, events_json = self.spec.events_json,
                                                                core_type = self.spec.core_type })
  if not prepared then return nil, perr end

  local t0, measured, done_before = core.now_ns(), 0, 0
  local all_rows, configs_done = {}, {}
  for i, c in ipairs(self.configs) do
    if (i - 1) % sn == sk - 1 then
      local argv, o = command_of(self.spec, c)
      if not argv then return nil, string.format("configuration %d: %s", i, o) end
      local dir = self:config_dir(i)
      if not quiet then progress_line(i, #self.configs, c, self.params, t0, done_before) end
      local complete = not opts.force and result.read(dir)
      if complete and not complete.complete then complete = nil end
      if complete then
        done_before = done_before + 1
      else
        for _ = 1, self.spec.warmup or 0 do
          local st, werr = warm(argv, o)
          if not st then return nil, string.format("configuration %d: warm-up: %s", i, werr) end
        end
        local cleanup
        if self.spec.setup then cleanup = self.spec.setup(c) end
        -- (the runner gives the signals back: a Ctrl-C in the REPL stops the sweep)
        local s, rerr = profile.from_specs(nil, {
          prepared = prepared, argv = argv, out = dir, repetitions = self.reps,
          interval_ms = self.spec.interval_ms or defaults.measure_interval_ms, env = o.env, cwd = o.cwd, cpus = o.cpus,
          force = opts.force, timeout_s = self.spec.timeout_s,
        })
        if type(cleanup) == "function" then cleanup() end
        if not s then return nil, string.format("configuration %d (%s): %s", i, dir, rerr) end
        measured = measured + 1
      end
      local r, rerr = result.read(dir)
      if not r then return nil, rerr end
      for _, row in ipairs(self:rows(i, r)) do
        row.config = i
        all_rows[#all_rows + 1] = row
      end
      configs_done[#configs_done + 1] = i
    end
  end
  if not quiet and core.isatty(2) then io.stderr:write("\r\27[K") end

  -- The tidy CSV (of this shard, or of everything).
  local header = { "CONFIG" }
  for _, p in ipairs(self.params) do header[#header + 1] = p[1] end
  for _, h in ipairs({ "REPETITION", "EVENT", "UNIT", "VALUE" }) do header[#header + 1] = h end
  local lines = { table.concat(header, ",") }
  for _, row in ipairs(all_rows) do
    local f = { row.config }
    for _, p in ipairs(self.params) do f[#f + 1] = csv_field(self.configs[row.config][p[1]]) end
    f[#f + 1] = row.rep
    f[#f + 1] = csv_field(row.event)
    f[#f + 1] = csv_field(row.unit or "")
    f[#f + 1] = num(row.value)
    lines[#lines + 1] = table.concat(f, ",")
  end
  local tidy = self.out .. (sn == 1 and "/tidy.csv" or string.format("/tidy-shard-%d-of-%d.csv", sk, sn))
  ok, err = util.write_atomic(tidy, table.concat(lines, "\n") .. "\n")
  if not ok then return nil, err end
  if sn == 1 then
    ok, err = write_status(self, "complete", { tidy = "tidy.csv" })
    if not ok then return nil, err end
  end
  return { out = self.out, tidy = tidy, configurations = #configs_done, measured = measured, rows = #all_rows }
end

return M
