-- synth: a synthetic profile output directory, for benchmarks of what
-- reads profiles (aggregate, analysis, or pandas on its results.csv).
--
--   local synth = require "autoperf.synth"
--   local info = assert(synth.profile("/tmp/p", 2000, 1000, 2, 10, 1))
--
-- The directory is what `autoperf profile` leaves: manifest.json (machine
-- topology, events), journal.jsonl and ordinary gzip run files, so
-- store.load, aggregate and result.read accept it.
local core = require "autoperf.core"
local store = require "autoperf.store"
local util = require "autoperf.util"

local M = {}

-- synth.profile(dir, events, intervals, cpus, runs, seed)
--   dir        created if missing; must not hold another profile's files
--   events     events per run file (tags 1..events; names as core/synth.h)
--   intervals  samples per event and cpu (10 ms apart)
--   cpus       cpus 0..cpus-1 (two per core, sixteen per socket)
--   runs       run files: repetitions 1..runs of run 1, each with every
--              event (default 1)
--   seed       integer; the same arguments give the same bytes (default 1)
-- Returns {dir=, rows=, files=} or nil, message.
function M.profile(dir, events, intervals, cpus, runs, seed)
  runs, seed = runs or 1, seed or 1
  local ok, err = util.mkdirs(dir)
  if not ok then return nil, err end
  local topo = {}
  for cpu = 0, cpus - 1 do
    topo[#topo + 1] = { cpu = cpu, socket = cpu // 16, core = (cpu % 16) // 2, node = cpu // 16 }
  end
  local evs = {}
  local manifest = {
    tool = "autoperf", synthetic = true, command = { "synthetic" },
    key = { synthetic = { events = events, intervals = intervals, cpus = cpus, runs = runs, seed = seed } },
    machine = { cpus = topo }, events = evs,
  }
  local rows, files, lines = 0, {}, {}
  for rep = 1, runs do
    local file = store.run_file(1, rep)
    local n, serr = core.synth_run(dir .. "/" .. file, 1, rep, events, intervals, cpus, seed * 1000 + rep)
    if not n then return nil, serr end
    rows = rows + n
    files[#files + 1] = file
    lines[#lines + 1] = util.json_encode({ run = 1, rep = rep, file = file })
  end
  for tag = 1, events do evs[tag] = { name = core.synth_event_name(tag), unit = "cpu" } end
  ok, err = util.write_atomic(dir .. "/" .. store.MANIFEST, util.json_encode(manifest) .. "\n")
  if not ok then return nil, err end
  ok, err = util.write_atomic(dir .. "/" .. store.JOURNAL, table.concat(lines, "\n") .. "\n")
  if not ok then return nil, err end
  return { dir = dir, rows = rows, files = files }
end

-- synth.profile's directory at dir unless dir already holds exactly that
-- profile (benchmarks keep theirs between runs). Returns true when it
-- generated it, false when reused, or nil, message.
function M.ensure(dir, events, intervals, cpus, runs, seed)
  runs, seed = runs or 1, seed or 1
  local want = { events = events, intervals = intervals, cpus = cpus, runs = runs, seed = seed }
  local manifest = util.read_file(dir .. "/" .. store.MANIFEST)
  local have = manifest and util.json_decode(manifest)
  if have and have.key and have.key.synthetic and util.canonical(have.key.synthetic) == util.canonical(want) then
    return false
  end
  os.execute("rm -rf '" .. dir:gsub("'", "'\\''") .. "'")
  local p, err = M.profile(dir, events, intervals, cpus, runs, seed)
  if not p then return nil, err end
  return true
end

return M
