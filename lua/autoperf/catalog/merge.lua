-- Catalog merge: folds the sources' records of one configuration into
-- one event (perfmon's facts win), decides which the running kernel can
-- open, and indexes names (a chosen model's first).
local pmu_mod = require "autoperf.pmu"
local sources = require "autoperf.catalog.sources"

local M = {}

local encoding = sources.encoding

local function merge_key(ev)
  if not ev.model or not ev.type then return nil end
  return table.concat({ ev.model, ev.pmu, ev.type, ev.config, ev.config1 or 0, ev.config2 or 0 }, "|")
end

-- Folds rec (another source's view of the same configuration) into ev:
-- perfmon's facts win for constraints and names, the encoding is the
-- same by construction (it is the merge key).
local function merge(ev, rec)
  ev.sources[#ev.sources + 1] = rec.source .. ":" .. rec.name
  ev.aliases = ev.aliases or {}
  local function alias(n) if n ~= ev.name then ev.aliases[#ev.aliases + 1] = n end end
  if rec.source == "perfmon" and ev.source ~= "perfmon" then
    ev.aliases[#ev.aliases + 1] = ev.name -- the old name stays an alias
    ev.name, ev.source, ev.file = rec.name, rec.source, rec.file
    for _, k in ipairs({ "desc", "long_desc", "counters", "msr", "shared", "taken_alone", "errata",
                         "deprecated", "event_code", "umask", "cmask", "inv", "edge", "any", "topdown" }) do
      if rec[k] ~= nil then ev[k] = rec[k] end
    end
    ev.facts = { constraints = "perfmon:" .. rec.file, encoding = ev.facts.encoding }
  else
    alias(rec.name)
  end
  for _, a in ipairs(rec.aliases or {}) do alias(a) end
  local seen, uniq = { [ev.name] = true }, {}
  for _, a in ipairs(ev.aliases) do
    if not seen[a] then seen[a] = true; uniq[#uniq + 1] = a end
  end
  ev.aliases = uniq
end

-- Is ev another model's than the one chosen (--pmu MODEL, sim:...)?
-- Such events are left out of globs and "all", and take a name only
-- where the chosen model and the kernel have none of that name.
function M.foreign(cat, ev)
  if cat.chosen == nil or ev.model == nil then return false end
  if cat.sim and cat.sim.models then return not cat.sim.models[ev.model] end
  return ev.model ~= cat.chosen
end

-- The catalog's add(list): each record becomes an event, or merges into
-- the event of the same configuration from another source (not the same
-- file: a file may list one configuration twice).
function M.adder(cat)
  local by_key = {}
  return function(list)
    for _, ev in ipairs(list) do
      ev.sources = { ev.source .. ":" .. ev.name }
      ev.facts = { constraints = ev.source, encoding = ev.source }
      local key = merge_key(ev)
      local into = key and by_key[key]
      if into and into.file ~= nil and into.file == ev.file then into = nil end
      if into then
        merge(into, ev)
      else
        ev.encoding = ev.type and encoding(ev) or "(no PMU here)"
        cat.events[#cat.events + 1] = ev
        if key then by_key[key] = ev end
      end
    end
  end
end

-- Which of cat's events the running kernel can open (available, why),
-- and which the simulated PMU counts (simulated).
function M.availability(cat)
  local sysfs_type = {}
  for _, p in ipairs(cat.pmus) do sysfs_type[p.name] = p.type end
  for _, ev in ipairs(cat.events) do
    local hw = pmu_mod.is_hardware(ev)
    if hw and cat.sim and cat.sim.models[ev.model or ""] then
      ev.available, ev.simulated, ev.why = true, true, nil
      ev.type = ev.type or 4 -- an uncore unit this kernel lacks: only the simulator sees it
      ev.encoding = encoding(ev) .. " (simulated)"
    elseif hw then
      if ev.unit then
        -- an uncore unit: one PMU (amd_l3) or one per box (uncore_cha_0 ...),
        -- each opened at run time with its own type (pmu/uncore.lua)
        local box = sysfs_type[ev.pmu]
        if not box then
          local pat = "^" .. ev.pmu:gsub("%p", "%%%0") .. "_%d+$"
          for _, p in ipairs(cat.pmus) do
            if p.name:match(pat) and p.type then box = box or p.type end
          end
        end
        ev.type = box
        ev.available = ev.type ~= nil
        if ev.available then ev.encoding = encoding(ev) end
        ev.why = not ev.available and ("this kernel has no " .. ev.pmu .. " PMU") or nil
      elseif pmu_mod.hybrid.of_pmu(ev.pmu) and cat.hardware then
        -- a hybrid half counts only where the kernel has that PMU
        ev.available = sysfs_type[ev.pmu] ~= nil
        ev.why = not ev.available and ("this kernel has no " .. ev.pmu .. " PMU (not a hybrid Intel machine)") or nil
      else
        ev.available = cat.hardware
        ev.why = not cat.hardware and "this kernel exposes no hardware PMU" or nil
      end
    else
      ev.available = true
    end
  end
end

-- Names: with a chosen model (--pmu MODEL, sim:...), its events and the
-- kernel's claim them before any other model's (a perfmon cache file of
-- another processor), whatever the order of the sources.
function M.index(cat)
  local function index(ev)
    local function name(n)
      if not cat.by_name[n] then cat.by_name[n] = ev end
      local l = n:lower()
      if not cat.by_lname[l] then cat.by_lname[l] = ev end
    end
    name(ev.name)
    for _, a in ipairs(ev.aliases or {}) do name(a) end
  end
  for _, ev in ipairs(cat.events) do
    if not M.foreign(cat, ev) then index(ev) end
  end
  for _, ev in ipairs(cat.events) do
    if M.foreign(cat, ev) then index(ev) end
  end
end

return M
