-- Catalog resolution: event specs (evspec.lua) to records, and filters
-- over records ('autoperf list').
local evspec = require "autoperf.evspec"
local merge = require "autoperf.catalog.merge"
local sources = require "autoperf.catalog.sources"
local util = require "autoperf.util"
local hybrid = require "autoperf.pmu.hybrid"

local M = {}

local encoding = sources.encoding

local function lookup(cat, name)
  name = sources.ALIASES[name] or name
  return cat.by_name[name] or cat.by_lname[name:lower()]
end

-- The hybrid halves' events an unqualified name selects (both of
-- INST_RETIRED.ANY: cpu_core/INST_RETIRED.ANY/, cpu_atom/...), or nil.
local function halves(cat, name)
  local h = cat.halves or {}
  return h[name:lower()] or h[(sources.ALIASES[name] or name):lower()]
end

-- Does a glob match ev, by its name or (a hybrid half's) plain name?
local function glob_matches(match, ev)
  return match(ev.name) or (ev.plain ~= nil and match(ev.plain))
end

-- The formats of a PMU: sysfs, or for the core PMU without one (a forced
-- model on a machine without the PMU) the layout its family publishes.
local function pmu_by_name(cat, name)
  for _, p in ipairs(cat.pmus or {}) do
    if p.name == name then return p end
  end
  return sources.assumed_pmu(name)
end

local function with_mods(ev, mods, display)
  local suffix = evspec.suffix(mods)
  if suffix == "" and not display then return ev end
  local copy = {}
  for k, v in pairs(ev) do copy[k] = v end
  for k, v in pairs(evspec.exclude_bits(mods)) do copy[k] = v end
  copy.name = (display or ev.name) .. suffix
  copy.aliases = nil
  copy.base = ev.name
  return copy
end

-- A name the user gave, for a message: printable and of sane length.
local function shown(s)
  return util.printable(s, 120)
end

local function unknown(cat, name)
  local names = {}
  for _, e in ipairs(cat.events) do names[#names + 1] = e.name end
  local near = util.closest(name, names, 3)
  local msg = "unknown event '" .. shown(name) .. "'"
  for i, n in ipairs(near) do near[i] = shown(n) end
  if #near > 0 then msg = msg .. " (did you mean " .. table.concat(near, ", ") .. "?)" end
  if name:find(":", 1, true) and not cat.tracefs then
    local state, where = require("autoperf.machine").tracefs_state()
    msg = msg .. (state == "unreadable"
      and ("; tracefs at " .. where .. " is not readable by this user, so no tracepoint is known (see 'autoperf doctor')")
      or "; tracefs is not mounted, so no tracepoint is known")
  end
  return nil, msg
end

-- Resolves one parsed event into records.
local function resolve(cat, pe)
  if pe.kind == "raw" then
    local ev = { name = string.format("r%x", pe.config), pmu = "cpu", source = "spec", type = 4,
                 config = pe.config, config1 = 0, config2 = 0, desc = "raw core PMU config",
                 hardware = true, available = cat.hardware,
                 why = not cat.hardware and "this kernel exposes no hardware PMU" or nil }
    ev.encoding = encoding(ev)
    return { with_mods(ev, pe.mods) }
  end
  if pe.kind == "pmu" then
    -- a hybrid half's event by perf's name (cpu_atom/INST_RETIRED.ANY/),
    -- also where this kernel has no such PMU (a simulated or planned one)
    if #pe.terms == 1 and pe.terms[1][2] == nil and hybrid.of_pmu(pe.pmu) then
      local term = pe.terms[1][1]
      for _, e in ipairs(halves(cat, term) or { lookup(cat, term) }) do
        if e.pmu == pe.pmu then return { with_mods(e, pe.mods, pe.name) } end
      end
    end
    local pmu = pmu_by_name(cat, pe.pmu)
    if not pmu then
      return nil, "'" .. shown(pe.text) .. "': no PMU named '" .. shown(pe.pmu) .. "' in " .. sources.SYSFS_PMUS
    end
    if #pe.terms == 1 and pe.terms[1][2] == nil and not pmu.formats[pe.terms[1][1]] then
      local ev = cat.by_name[pe.pmu .. "/" .. pe.terms[1][1] .. "/"]
      if not ev then return unknown(cat, pe.pmu .. "/" .. pe.terms[1][1] .. "/") end
      return { with_mods(ev, pe.mods, pe.name) }
    end
    local attr, err = sources.encode_terms(pe.terms, pmu.formats)
    if not attr then return nil, "'" .. shown(pe.text) .. "': " .. err end
    local ev = {
      name = pe.name or pe.text:gsub("/[ukh:]*$", "/"), pmu = pmu.name, source = "spec", type = pmu.type,
      config = attr.config, config1 = attr.config1, config2 = attr.config2,
      desc = "raw " .. pmu.name .. " event" .. (pmu.assumed and " (Intel core format assumed)" or ""),
      hardware = pmu.assumed or nil,
      available = not pmu.assumed or cat.hardware,
    }
    ev.why = not ev.available and "this kernel exposes no hardware PMU" or nil
    ev.encoding = encoding(ev)
    return { with_mods(ev, pe.mods) }
  end
  local name = pe.name
  if name == "all" then
    local out = {}
    for _, ev in ipairs(cat.events) do
      if ev.available and not merge.foreign(cat, ev) then out[#out + 1] = with_mods(ev, pe.mods) end
    end
    return out
  end
  local both = halves(cat, name)
  if both then
    local out = {}
    for _, e in ipairs(both) do out[#out + 1] = with_mods(e, pe.mods) end
    return out
  end
  local ev = lookup(cat, name)
  if ev then return { with_mods(ev, pe.mods) } end
  if util.is_glob(name) then
    local match, out = util.glob(name), {}
    for _, e in ipairs(cat.events) do
      if glob_matches(match, e) and not merge.foreign(cat, e) then out[#out + 1] = with_mods(e, pe.mods) end
    end
    if #out == 0 then return nil, "no event matches '" .. shown(name) .. "' (see 'autoperf list')" end
    return out
  end
  if pe.alt then
    local alts = halves(cat, pe.alt.name)
    if alts then
      local out = {}
      for _, e in ipairs(alts) do out[#out + 1] = with_mods(e, pe.alt.mods) end
      return out
    end
    local alt = lookup(cat, pe.alt.name)
    if alt then return { with_mods(alt, pe.alt.mods) } end
  end
  return unknown(cat, name)
end

-- Resolves event specs (see evspec.lua: names, aliases, globs, tracepoints,
-- pmu/terms/, rNNNN, modifiers, {groups}, "all") into event records
-- without duplicates. Members of a {group} carry the same .group number.
-- Returns events, or nil, message naming the first bad spec.
function M.select(cat, specs)
  if type(specs) == "string" then specs = { specs } end
  local out, seen, ngroups = {}, {}, 0
  for _, spec in ipairs(specs) do
    local items, perr = evspec.parse(spec)
    if not items then return nil, perr end
    for _, item in ipairs(items) do
      local gid
      if item.group then
        ngroups = ngroups + 1
        gid = ngroups
      end
      for _, pe in ipairs(item.events) do
        local evs, err = resolve(cat, pe)
        if not evs then return nil, util.printable(err) end
        for _, ev in ipairs(evs) do
          if gid then
            -- a copy: catalog records are shared
            local copy = {}
            for k, v in pairs(ev) do copy[k] = v end
            copy.group = gid
            ev = copy
          end
          -- one event per name: a run file names each event once (the
          -- hybrid halves' same-named events have perf's PMU-qualified
          -- names, pmu/hybrid.lua's qualify, so both stay)
          if not seen[ev.name] then
            seen[ev.name] = true
            out[#out + 1] = ev
          end
        end
      end
    end
  end
  return out
end

-- Events matching every given filter: pattern (a glob, or else a
-- substring of the name or an alias), pmu, source, desc (a word of the
-- description). All case-insensitive.
function M.filter(events, pattern, f)
  f = f or {}
  local out = {}
  local glob = pattern and pattern ~= "" and util.is_glob(pattern) and util.glob(pattern:lower())
  local sub = pattern and pattern ~= "" and not glob and pattern:lower()
  local word = f.desc and f.desc:lower()
  for _, ev in ipairs(events) do
    local ok = true
    if glob or sub then
      local function m(n)
        n = n:lower()
        return (glob and glob(n)) or (sub and n:find(sub, 1, true))
      end
      ok = m(ev.name) or (ev.plain ~= nil and m(ev.plain))
      for _, a in ipairs(ev.aliases or {}) do ok = ok or m(a) end
    end
    if ok and f.pmu then ok = ev.pmu:lower() == f.pmu:lower() or (ev.model or ""):lower() == f.pmu:lower() end
    if ok and f.source then
      ok = false
      for _, s in ipairs(ev.sources or { ev.source }) do
        if s:lower():find(f.source:lower(), 1, true) == 1 then ok = true end
      end
    end
    if ok and word then
      ok = ((ev.desc or "") .. " " .. (ev.long_desc or "")):lower():find(word, 1, true) ~= nil
    end
    if ok then out[#out + 1] = ev end
  end
  return out
end

return M
