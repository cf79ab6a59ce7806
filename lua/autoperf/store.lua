-- The output directory: manifest.json, one file per run (written
-- atomically), and journal.jsonl, the list of completed runs.
--
-- A run file is CSV (gzip-compressed), self-describing:
--   #autoperf-run <run> <rep>
--   #event <tag> <unit> <name>            one per event measured
--   index,time_ns,cpu,tag,value,enabled,running
--   ... one row per event, cpu and sample (raw cumulative values) ...
--   #end rows=<n>
local core = require "autoperf.core"
local util = require "autoperf.util"

local M = {}
M.__index = M

M.MANIFEST = "manifest.json"
M.JOURNAL = "journal.jsonl"
M.HEADER = "index,time_ns,cpu,tag,value,enabled,running"

function M.run_file(run, rep)
  return string.format("run-%03d-%02d.csv.gz", run, rep)
end

local decode = util.json_decode

local function read_manifest(dir)
  local path = dir .. "/" .. M.MANIFEST
  local s = util.read_file(path)
  if not s then return nil end
  return decode(s, path)
end

-- Completed runs, in the order they completed. A last line cut short by a
-- crash is not a completed run; any other bad line is corruption.
local function read_journal(dir)
  local path = dir .. "/" .. M.JOURNAL
  local s = util.read_file(path)
  local out = {}
  if not s then return out end
  local lineno = 0
  for line in s:gmatch("([^\n]*)\n") do
    lineno = lineno + 1
    local e, err = decode(line, path .. ":" .. lineno)
    if not e then return nil, err end
    -- cjson decodes every number as a float.
    e.run, e.rep = math.tointeger(e.run), math.tointeger(e.rep)
    if not e.run or not e.rep or type(e.file) ~= "string" then
      return nil, path .. ":" .. lineno .. ": entry lacks run, rep or file"
    end
    out[#out + 1] = e
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
    else
      -- --force: start over (only our own files go).
      for _, e in ipairs(entries) do
        if e.name:match("^run%-%d+%-%d+%.csv%.gz") or e.name == M.JOURNAL
          or e.name == "results.csv" or e.name == "summary.csv" then
          os.remove(dir .. "/" .. e.name)
        end
      end
    end
  else
    local ok, err = util.mkdirs(dir)
    if not ok then return nil, err end
    for _, e in ipairs(entries or {}) do os.remove(dir .. "/" .. e.name) end
  end
  local ok, err = self:save()
  if not ok then return nil, err end
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
  return { dir = dir, manifest = manifest, journal = journal }
end

-- Streams a run file: on_event(tag, unit, name) for each header line, then
-- on_row(index, time_ns, cpu, tag, value, enabled, running) per row.
-- Returns the number of rows, or nil, "file:line: what is wrong". The C
-- core parses and checks it (core/runfile.h lists what it refuses).
function M.read_run(path, on_event, on_row)
  return core.read_run(path, on_event, on_row)
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

return M
