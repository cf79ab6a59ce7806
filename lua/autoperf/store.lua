-- The output directory: manifest.json, one file per run (written
-- atomically), and journal.jsonl, the list of completed runs. A run file
-- is gzip CSV in the format core/runfile.h defines (written and read
-- there only); the profile reader (core/reader.h) reads the files that
-- M.run_files lists.
local core = require "autoperf.core"
local util = require "autoperf.util"

local M = {}
M.__index = M

M.MANIFEST = "manifest.json"
M.JOURNAL = "journal.jsonl"
-- A manifest or journal larger than this is no profile's (a journal of
-- 2300 tracepoints in 50 runs of 100 repetitions is under 2 MB).
M.MAX_BYTES = 32 * 1024 * 1024

function M.run_file(run, rep)
  return string.format("run-%03d-%02d.csv.gz", run, rep)
end

local decode = util.json_decode
local null = require("cjson").null

-- What a JSON value is, in a message.
local function kind(v)
  if v == nil or v == null then return "null" end
  if type(v) == "table" then return next(v) == nil and "an empty {} or []" or (v[1] ~= nil and "a list" or "an object") end
  if type(v) == "number" then return math.tointeger(v) and "an integer" or "a number" end
  return "a " .. type(v)
end

-- Checks of decoded JSON: each returns the value (integers as Lua
-- integers, null as nil when optional) or raises {msg} naming the field.
local function bad(field, want, v)
  error({ string.format("'%s' should be %s, not %s", field, want, kind(v)) }, 0)
end

local function opt(v) return v ~= nil and v ~= null end

local function int(v, field, min, max)
  local i = type(v) == "number" and math.tointeger(v)
  if not i then bad(field, "an integer", v) end
  if (min and i < min) or (max and i > max) then
    error({ string.format("'%s' is %d, out of range (%s..%s)", field, i, min or "", max or "") }, 0)
  end
  return i
end

local function str(v, field)
  if type(v) ~= "string" then bad(field, "a string", v) end
  return v
end

local function obj(v, field)
  if type(v) ~= "table" or (next(v) ~= nil and v[1] ~= nil) then bad(field, "an object", v) end
  return v
end

local function list(v, field, each)
  if type(v) ~= "table" or (next(v) ~= nil and v[1] == nil) then bad(field, "a list", v) end
  for i = 1, #v do v[i] = each(v[i], string.format("%s[%d]", field, i)) end
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > #v then bad(field, "a list", v) end
  end
  return v
end

local function optional(t, k, check, field, ...)
  if opt(t[k]) then t[k] = check(t[k], field, ...) else t[k] = nil end
end

local CPU_MAX = core.RUN_CPU_MAX

-- The manifest's shape, as far as the readers use it; fields they do not
-- read are left alone.
local function check_manifest(m)
  obj(m, "manifest")
  optional(m, "command", list, "command", str)
  optional(m, "settings", function(st)
    obj(st, "settings")
    optional(st, "repetitions", int, "settings.repetitions", 1)
    return st
  end)
  optional(m, "machine", function(mc)
    obj(mc, "machine")
    optional(mc, "cpus", list, "machine.cpus", function(c, f)
      obj(c, f)
      c.cpu = int(c.cpu, f .. ".cpu", 0, CPU_MAX)
      for _, k in ipairs({ "socket", "core", "node" }) do
        c[k] = int(c[k], f .. "." .. k)
      end
      return c
    end)
    return mc
  end)
  local function named(e, f)
    obj(e, f)
    str(e.name, f .. ".name")
    return e
  end
  optional(m, "events", list, "events", function(e, f)
    named(e, f)
    optional(e, "unit", str, f .. ".unit")
    return e
  end)
  optional(m, "refused", list, "refused", function(e, f)
    named(e, f)
    e.error = opt(e.error) and tostring(e.error) or "refused"
    return e
  end)
  optional(m, "replanned", list, "replanned", function(e, f)
    named(e, f)
    optional(e, "from_run", int, f .. ".from_run", 1)
    optional(e, "to_run", int, f .. ".to_run", 1)
    return e
  end)
  optional(m, "plan", function(p)
    obj(p, "plan")
    optional(p, "runs", list, "plan.runs", function(r) return r end)
    return p
  end)
  optional(m, "simulated", obj, "simulated")
  return m
end

-- The manifest of dir: nil (there is none), or nil, message (unreadable
-- or of the wrong shape: the file and the field are named).
local function read_manifest(dir)
  local path = dir .. "/" .. M.MANIFEST
  local s, rerr = util.read_own(path, M.MAX_BYTES)
  if not s then return nil, rerr end
  -- autoperf writes it on one line: then a field's line is line 1; a
  -- syntax error's line is counted up to the character cjson names
  local one_line = not s:sub(1, -2):find("\n", 1, true)
  local m, err = decode(s)
  if m == nil then
    local at = tonumber(err:match("at character (%d+)"))
    local line = 1
    if at then
      for _ in s:sub(1, at - 1):gmatch("\n") do line = line + 1 end
    end
    return nil, (err:gsub("^JSON:", path .. ((at or one_line) and (":" .. line .. ":") or ":"), 1))
  end
  local ok, e = pcall(check_manifest, m)
  if not ok then
    if type(e) ~= "table" then error(e, 0) end
    return nil, path .. (one_line and ":1: " or ": ") .. e[1]
  end
  return m
end

-- A journal's run file name: a plain name in the directory (no path, no
-- leading dot), so that a tampered journal cannot point outside it.
local function safe_name(name)
  return #name <= 255 and name:match("^[%w_][%w_%.%-]*$") ~= nil
end
M.safe_name = safe_name

-- Completed runs, in the order they completed. A last line cut short by a
-- crash is not a completed run; any other bad line is corruption, as is
-- an entry that names a file outside the directory, a run and repetition
-- (or a file) seen before, or a repetition beyond what the journal could
-- hold (rep k of a run completes after reps 1..k-1 of it).
local function read_journal(dir)
  local path = dir .. "/" .. M.JOURNAL
  local s, rerr = util.read_own(path, M.MAX_BYTES)
  local out = {}
  if not s then
    if rerr then return nil, rerr end
    return out
  end
  local lineno = 0
  local seen, files = {}, {}
  for line in s:gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    local where = path .. ":" .. lineno
    local e, err = decode(line, where)
    if e == nil then return nil, err end
    if type(e) ~= "table" then return nil, where .. ": not a journal entry (" .. kind(e) .. ")" end
    -- cjson decodes every number as a float.
    local run, rep = math.tointeger(e.run), math.tointeger(e.rep)
    if not run or not rep or type(e.file) ~= "string" then
      return nil, where .. ": entry lacks run, rep or file"
    end
    if run < 1 or rep < 1 then
      return nil, string.format("%s: run %d rep %d: runs and repetitions count from 1", where, run, rep)
    end
    if not safe_name(e.file) then
      return nil, string.format("%s: run file name %q is not a plain name in %s (refused)", where, e.file, dir)
    end
    local key = run .. "/" .. rep
    if seen[key] then
      return nil, string.format("%s: run %d rep %d again (first at line %d)", where, run, rep, seen[key])
    end
    if files[e.file] then
      return nil, string.format("%s: %s again (first at line %d)", where, e.file, files[e.file])
    end
    seen[key], files[e.file] = lineno, lineno
    if opt(e.flagged) then
      local ok, ferr = pcall(list, e.flagged, "flagged", str)
      if not ok then return nil, where .. ": " .. (type(ferr) == "table" and ferr[1] or tostring(ferr)) end
    else
      e.flagged = nil
    end
    e.run, e.rep = run, rep
    out[#out + 1] = e
  end
  -- rep k of a run is journalled after reps 1..k-1 of it
  local reps = {}
  for _, e in ipairs(out) do reps[e.run] = (reps[e.run] or 0) + 1 end
  for i, e in ipairs(out) do
    if e.rep > reps[e.run] then
      return nil, string.format("%s:%d: run %d rep %d, but the journal holds %d repetition%s of run %d",
        path, i, e.run, e.rep, reps[e.run], reps[e.run] == 1 and "" or "s", e.run)
    end
  end
  return out
end

-- Opens dir for a new or resumed profile. key identifies the profile
-- (command, events, settings): a directory holding another profile is
-- refused unless force.
function M.open(dir, manifest, opts)
  opts = opts or {}
  local self = setmetatable({ dir = dir, manifest = manifest, journal = {}, done = {} }, M)
  local entries = core.listdir(dir)
  -- A profile killed before its first manifest landed leaves at most our
  -- temporary files behind: such a directory is still a fresh one.
  local ours_only = true
  for _, e in ipairs(entries or {}) do
    if not e.name:match("%.tmp$") then ours_only = false end
  end
  if entries and not ours_only then
    local old, err = read_manifest(dir)
    if not old and err then return nil, err end
    if not old then
      return nil, dir .. " exists and is not an autoperf output directory; use -o to choose another"
    end
    local same = util.canonical(old.key) == util.canonical(manifest.key)
    if not same and not opts.force then
      return nil, dir .. " holds a profile of something else (" ..
        util.shell_join(old.command or {}) .. "); use --force to replace it or -o another directory"
    end
    if same and not opts.force then
      -- The same profile: resume it.
      local journal, jerr = read_journal(dir)
      if not journal then return nil, jerr end
      self.journal = journal
      for _, e in ipairs(journal) do self.done[e.run .. "/" .. e.rep] = e end
      manifest.refused = old.refused or manifest.refused
      manifest.replanned = old.replanned
      manifest.remeasured = old.remeasured
      self.resumed = true
    else
      -- --force: start over (only our own files go).
      for _, e in ipairs(entries) do
        if e.name:match("^run%-%d+%-%d+%.csv%.gz") or e.name == M.JOURNAL
          or e.name == "results.csv" or e.name == "summary.csv" or e.name == "runs.csv" or e.name == "anchors.csv" then
          os.remove(dir .. "/" .. e.name)
        end
      end
    end
  else
    local ok, err = util.mkdirs(dir)
    if not ok then return nil, err end
    for _, e in ipairs(entries or {}) do os.remove(dir .. "/" .. e.name) end
  end
  -- A resumed profile keeps the manifest on disk until a run completes:
  -- rerunning a finished profile writes nothing (it may sit on a
  -- read-only mount).
  if not self.resumed then
    local ok, err = self:save()
    if not ok then return nil, err end
  end
  return self
end

function M:save()
  return util.write_atomic(self.dir .. "/" .. M.MANIFEST, util.json_encode(self.manifest) .. "\n")
end

function M:is_done(run, rep)
  return self.done[run .. "/" .. rep] ~= nil
end

function M:path(name)
  return self.dir .. "/" .. name
end

-- Records a completed run (its file already committed).
function M:complete(entry)
  self.journal[#self.journal + 1] = entry
  self.done[entry.run .. "/" .. entry.rep] = entry
  local lines = {}
  for i, e in ipairs(self.journal) do lines[i] = util.json_encode(e) end
  return util.write_atomic(self:path(M.JOURNAL), table.concat(lines, "\n") .. "\n")
end

-- Reads a finished output directory: manifest, journal.
function M.load(dir)
  if not util.is_dir(dir) then return nil, dir .. ": no such directory" end
  local manifest, err = read_manifest(dir)
  if not manifest then
    return nil, err or (dir .. " is not an autoperf output directory (no " .. M.MANIFEST .. ")")
  end
  local journal, jerr = read_journal(dir)
  if not journal then return nil, jerr end
  -- Each run file is a regular file of the directory: a symbolic link
  -- planted in its place (to /etc/shadow, to a FIFO) is refused.
  for i, e in ipairs(journal) do
    local k = core.file_kind(dir .. "/" .. e.file)
    if k ~= "file" then
      return nil, string.format("%s/%s:%d: run %d rep %d: %s %s", dir, M.JOURNAL, i, e.run, e.rep, e.file,
        k == nil and "is missing" or k == "link" and "is a symbolic link (refused)" or "is not a regular file (refused)")
    end
  end
  return { dir = dir, manifest = manifest, journal = journal }
end

-- Events a later run re-measured (the verification loop): per run, the
-- set of names whose counts there are not to be used, because they were
-- not counted all the time and their re-measurement has completed at
-- least one repetition. Until it has, the first (flagged) counts stand.
function M.superseded(loaded)
  local done = {}
  for _, e in ipairs(loaded.journal) do done[e.run] = true end
  local out = {}
  for _, rp in ipairs(loaded.manifest.replanned or {}) do
    local from, to = math.tointeger(rp.from_run), math.tointeger(rp.to_run)
    if from and to and done[to] then
      out[from] = out[from] or {}
      out[from][rp.name] = true
    end
  end
  return out
end

-- The anchors (anchors.lua) of a loaded profile that are in every run
-- file: per run, the names the profile's data takes from elsewhere. An
-- anchor the user asked for counts, as any event, from its first run
-- (the lowest journalled); one measured only as an anchor from none (its
-- values are the anchors', runs.csv's).
function M.anchor_skip(loaded)
  -- runs whose plan left an anchor out (plan.lua: an event took its counter)
  local plan_runs = type(loaded.manifest.plan) == "table" and loaded.manifest.plan.runs or {}
  local function has(run, name)
    local r = plan_runs[run]
    for _, n in ipairs(type(r) == "table" and type(r.anchors_skipped) == "table" and r.anchors_skipped or {}) do
      if n == name then return false end
    end
    return true
  end
  local out = {}
  for _, a in ipairs(type(loaded.manifest.anchors) == "table" and loaded.manifest.anchors or {}) do
    if type(a) == "table" and type(a.name) == "string" and a.unit ~= "ns" then
      local first
      for _, e in ipairs(loaded.journal) do
        if (not first or e.run < first) and has(e.run, a.name) then first = e.run end
      end
      for _, e in ipairs(loaded.journal) do
        if not a.in_selection or e.run ~= first then
          out[e.run] = out[e.run] or {}
          out[e.run][a.name] = true
        end
      end
    end
  end
  return out
end

-- The run files of a loaded profile for the reader (core.aggregate,
-- core.read_profile): {{path=, run=, rep=, skip = {[name] = true}}, ...}
-- in journal order, skip the events M.superseded and M.anchor_skip take
-- from each (opts.anchors: keep the anchors).
function M.run_files(loaded, opts)
  local skip = M.superseded(loaded)
  local askip = not (opts and opts.anchors) and M.anchor_skip(loaded) or {}
  local files = {}
  for i, e in ipairs(loaded.journal) do
    local sk = skip[e.run]
    if askip[e.run] then
      local both = {}
      for k in pairs(sk or {}) do both[k] = true end
      for k in pairs(askip[e.run]) do both[k] = true end
      sk = both
    end
    files[i] = { path = loaded.dir .. "/" .. e.file, run = e.run, rep = e.rep, skip = sk }
  end
  return files
end

return M
