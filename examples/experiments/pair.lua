-- The original autoperf's `pair`: every program measured alone and beside
-- every other, under each CPU placement this machine offers, pinned with
-- CPU affinity. The measured program runs on one CPU; its partner loops on
-- the placement's other CPU (not measured) until the measurement ends.
--   autoperf run experiments/pair.lua [OUT]
-- Placements (those the topology allows): same-cpu (time-shared), smt
-- (two hyper-threads of one core), same-socket (two cores of a socket),
-- other-socket.
local ap = require "autoperf"
local core = require "autoperf.core"
local machine = require "autoperf.machine"

local out = ... or "pair-out"
local programs = {
  spin = { assert(ap.workload("spin")), "150" },           -- CPU-bound
  threads = { assert(ap.workload("threads")), "65536", "1", "2000" }, -- faults and syscalls
}
local names = { "spin", "threads" }

-- Two CPUs per placement, from the topology.
local topo = machine.topology()
local cpus = {}
for cpu in pairs(topo) do cpus[#cpus + 1] = cpu end
table.sort(cpus)
local function find(pred)
  for _, a in ipairs(cpus) do
    for _, b in ipairs(cpus) do
      if a ~= b and pred(topo[a], topo[b]) then return { a, b } end
    end
  end
end
local placements = { { "same-cpu", { cpus[1], cpus[1] } } }
local smt = find(function(x, y) return x.socket == y.socket and x.core == y.core end)
local socket = find(function(x, y) return x.socket == y.socket and x.core ~= y.core end)
local other = find(function(x, y) return x.socket ~= y.socket end)
if smt then placements[#placements + 1] = { "smt", smt } end
if socket then placements[#placements + 1] = { "same-socket", socket } end
if other then placements[#placements + 1] = { "other-socket", other } end

-- Configurations: each program alone, and with each partner per placement.
local prog, partner, placement = {}, {}, {}
local where = {}
for _, p in ipairs(placements) do where[p[1]] = p[2] end
for _, a in ipairs(names) do
  prog[#prog + 1], partner[#partner + 1], placement[#placement + 1] = a, "none", "alone"
  for _, b in ipairs(names) do
    for _, p in ipairs(placements) do
      prog[#prog + 1], partner[#partner + 1], placement[#placement + 1] = a, b, p[1]
    end
  end
end

local ex = ap.experiment {
  name = "pair", out = out, zip = true,
  params = { { "program", prog }, { "partner", partner }, { "placement", placement } },
  repetitions = 2,
  events = { "task-clock", "context-switches", "cpu-migrations", "page-faults" },
  command = function(p)
    local pin = p.placement == "alone" and { cpus[1] } or { where[p.placement][1] }
    return { argv = programs[p.program], cpus = pin }
  end,
  -- the partner loops on its CPU while the program is measured
  setup = function(p)
    if p.partner == "none" then return nil end
    local argv = { "sh", "-c", 'while :; do "$@" >/dev/null; done', "partner" }
    for _, a in ipairs(programs[p.partner]) do argv[#argv + 1] = a end
    local proc = assert(core.spawn(argv, { cpus = { where[p.placement][2] } }))
    assert(proc:release())
    return function()
      proc:kill(9)
      proc:wait()
      proc:close()
    end
  end,
  derive = {
    -- how long the program ran on its CPU, in ms
    task_clock_ms = function(r) return r["task-clock"] / 1e6 end,
  },
}
local s = assert(ex:run())
print(string.format("pair: %d configurations, %d rows in %s", s.configurations, s.rows, s.tidy))
