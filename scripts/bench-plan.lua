-- make bench-plan: the planner on every model it knows the hardware of:
-- each Intel perfmon file in ../shared/pmu-data/intel (SMT on and off),
-- each core file with its uncore file, Alder Lake's two halves together
-- (two PMUs, runs = the larger half), every AMD model libpfm4 knows
-- (their events with the rules of pmu/amd.lua), its AMD uncore models
-- (L3, northbridge), and Zen 5 from the kernel's JSON (libpfm4 4.13 has
-- none). Per model: hardware
-- events, runs, lower bound, runs of the original autoperf's first-fit
-- greedy, planning time (median of 5).
-- Run with: autoperf run scripts/bench-plan.lua [DIR]
local core = require "autoperf.core"
local plan = require "autoperf.plan"
local profile = require "autoperf.profile"
local pmu = require "autoperf.pmu"

local dir = ... or "../shared/pmu-data/intel"
local files = {}
for _, e in ipairs(core.listdir(dir) or {}) do
  -- event files only: the metric files beside them (*_metrics*.json) hold formulas
  if e.name:match("%.json$") and not e.name:match("_metrics") then files[#files + 1] = e.name end
end
table.sort(files)
if #files == 0 then
  io.stderr:write("bench-plan: no event files in ", dir, "\n")
  return 1
end

-- The AMD models of libpfm4 4.13 (core PMUs; the L3, northbridge and
-- RAPL ones are not core PMUs); those the installed libpfm4 lacks are
-- left out and named.
local AMD = { "amd64_k7", "amd64_k8_revb", "amd64_k8_revc", "amd64_k8_revd", "amd64_k8_reve", "amd64_k8_revf",
  "amd64_k8_revg", "amd64_fam10h_barcelona", "amd64_fam10h_shanghai", "amd64_fam10h_istanbul",
  "amd64_fam11h_turion", "amd64_fam12h_llano", "amd64_fam14h_bobcat", "amd64_fam15h_interlagos",
  "amd64_fam16h", "amd64_fam17h_zen1", "amd64_fam17h_zen2", "amd64_fam19h_zen3", "amd64_fam19h_zen4",
  "amd64_fam19h_zen3_l3", "amd64_fam15h_nb" }
-- models from the kernel's pmu-events JSON (build/pmu-events)
local KERNEL_JSON = { "amd64_fam1ah_zen5" }

-- {label=, smt=, opts= (profile.prepare's)}
local models = {}
local function add(label, opts, smt)
  models[#models + 1] = { label = label, opts = opts, smt = smt }
end
local function intel(names)
  local paths = {}
  for i, n in ipairs(names) do paths[i] = dir .. "/" .. n end
  for _, smt in ipairs({ "on", "off" }) do
    add(table.concat(names, "+"), { pmu = "sim:" .. table.concat(paths, ","), smt = smt == "on" }, smt)
  end
end
local have = {}
for _, f in ipairs(files) do
  have[f] = true
  intel({ f })
end
for _, f in ipairs(files) do
  local stem = f:match("^(.-)_core%.json$")
  if stem and have[stem .. "_uncore.json"] then intel({ f, stem .. "_uncore.json" }) end
end
if have["alderlake_goldencove_core.json"] and have["alderlake_gracemont_core.json"] then
  intel({ "alderlake_goldencove_core.json", "alderlake_gracemont_core.json" })
end
local missing = {}
for _, m in ipairs(AMD) do
  if core.pfm_pmus(m) then add(m, { pmu = m }) else missing[#missing + 1] = m end
end
for _, m in ipairs(KERNEL_JSON) do
  if profile.prepare(nil, { pmu = m }) then add(m .. " (kernel JSON)", { pmu = m }) else missing[#missing + 1] = m end
end

local median_ms = dofile((arg[0]:gsub("scripts/bench%-plan%.lua$", "")) .. "scripts/bench_common.lua").median_ms

print(string.format("%-66s %-4s %6s %6s %6s %10s %9s", "model", "SMT", "events", "runs", "bound", "first-fit", "plan ms"))
local worst_gap, worst_ms, misses = 0, 0, {}
for _, m in ipairs(models) do
  local prep, err = profile.prepare(nil, m.opts)
  if not prep then
    io.stderr:write("bench-plan: ", m.label, ": ", err, "\n")
    return 1
  end
  -- the hardware events only: software events and tracepoints take no counter
  local evs = {}
  for _, ev in ipairs(prep.events) do
    if pmu.is_hardware(ev) then evs[#evs + 1] = ev end
  end
  local popts = { counters = prep.counters }
  local p = assert(plan.make(evs, popts))
  local ff = assert(plan.make(evs, { counters = prep.counters, strategy = "first-fit" }))
  local ms = median_ms(function() plan.make(evs, popts) end)
  local gap = #p.runs - p.lower_bound
  worst_gap = math.max(worst_gap, gap)
  worst_ms = math.max(worst_ms, ms)
  if gap > 0 then misses[#misses + 1] = string.format("%s (SMT %s): %d", m.label, m.smt or "-", gap) end
  print(string.format("%-66s %-4s %6d %6d %6d %10d %9.1f", m.label, m.smt or "-", #evs, #p.runs, p.lower_bound,
    #ff.runs, ms))
end
print(string.format("largest gap to the lower bound: %d run(s)%s; slowest plan: %.1f ms", worst_gap,
  #misses > 0 and (" (" .. table.concat(misses, "; ") .. ")") or "", worst_ms))
if #missing > 0 then print("not here (libpfm4 or the kernel's JSON): " .. table.concat(missing, ", ")) end
