-- What the command line prints: errors, the event table, plans, progress
-- and the report of a profile. Text only; the commands decide what to say.
local core = require "autoperf.core"
local plan_mod = require "autoperf.plan"
local util = require "autoperf.util"

local M = {}

-- One line "autoperf: ..." on stderr (after what came before on stdout).
function M.errorf(fmt, ...)
  io.stdout:flush()
  io.stderr:write("autoperf: ", string.format(fmt, ...), "\n")
end

-- Colors only on a terminal, and never with NO_COLOR set.
function M.color_ok(fd)
  local nc = os.getenv("NO_COLOR")
  return core.isatty(fd) and (nc == nil or nc == "")
end

-- An event as 'list --json' shows it.
function M.event_json(ev)
  return {
    name = ev.name, aliases = ev.aliases, pmu = ev.pmu, model = ev.model, source = ev.source,
    sources = ev.sources, encoding = ev.encoding, type = ev.type, config = ev.config,
    config1 = ev.config1 or 0, config2 = ev.config2 or 0, desc = ev.desc, long_desc = ev.long_desc,
    available = ev.available, why = ev.why, counters = ev.counters, msr = ev.msr, shared = ev.shared,
    taken_alone = ev.taken_alone, errata = ev.errata, deprecated = ev.deprecated,
    unit = ev.unit, boxes = ev.boxes, facts = ev.facts, simulated = ev.simulated,
  }
end

-- The table of 'list' (long: with long descriptions), and the reasons
-- why events marked * are not measurable here (a set).
function M.event_table(events, long)
  local w1, w2, w3 = #"NAME", #"PMU", #"ENCODING"
  local marks = false -- a marker column only when something is not measurable
  for _, ev in ipairs(events) do
    marks = marks or not ev.available
    w1 = math.max(w1, #ev.name)
    w2 = math.max(w2, #ev.pmu)
    w3 = math.max(w3, #ev.encoding)
  end
  local fmt = "%s%-" .. w1 .. "s  %-" .. w2 .. "s  %-" .. w3 .. "s  %s\n"
  local blank = marks and "  " or ""
  local out = { string.format(fmt, blank, "NAME", "PMU", "ENCODING", "DESCRIPTION") }
  local why = {}
  for _, ev in ipairs(events) do
    out[#out + 1] = string.format(fmt, ev.available and blank or "* ", ev.name, ev.pmu, ev.encoding, ev.desc or "")
    if long and ev.long_desc and ev.long_desc ~= ev.desc then
      out[#out + 1] = "      " .. ev.long_desc .. "\n"
    end
    if not ev.available then why[ev.why or "not measurable here"] = true end
  end
  return table.concat(out), why
end

-- A plan as text: the runs and each event's counter.
function M.print_plan(plan, nevents, ms)
  print(string.format("plan: %d events in %d run%s (lower bound %d)%s",
    nevents, #plan.runs, #plan.runs == 1 and "" or "s", plan.lower_bound,
    ms and string.format(", planned in %.1f ms", ms) or ""))
  for r, run in ipairs(plan.runs) do
    local parts = {}
    for _, grp in ipairs(run.groups) do
      if grp.counters then
        local names = plan_mod.counter_names(grp.counters)
        local evs = {}
        for i, ev in ipairs(grp.events) do evs[i] = names[i] .. "=" .. ev.name end
        parts[#parts + 1] = grp.pmu .. " {" .. table.concat(evs, " ") .. "}"
      else
        parts[#parts + 1] = string.format("%s: %d event%s", grp.pmu, #grp.events, #grp.events == 1 and "" or "s")
      end
    end
    print(string.format("  run %d: %s", r, table.concat(parts, "; ")))
  end
  local parts = {}
  for _, grp in ipairs(plan.anchors or {}) do
    local evs = {}
    local names = grp.counters and plan_mod.counter_names(grp.counters) or {}
    for i, ev in ipairs(grp.events) do evs[i] = (names[i] and (names[i] .. "=") or "") .. ev.name end
    parts[#parts + 1] = grp.pmu .. " {" .. table.concat(evs, " ") .. "}"
  end
  if #parts > 0 then print("  anchors, in every run: " .. table.concat(parts, "; ")) end
end

-- A plan as CSV: one line per event.
function M.plan_csv(plan)
  local out = { "RUN,PMU,GROUP,COUNTER,EVENT" }
  for r, run in ipairs(plan.runs) do
    for g, grp in ipairs(run.groups) do
      local names = grp.counters and plan_mod.counter_names(grp.counters) or {}
      for i, ev in ipairs(grp.events) do
        out[#out + 1] = string.format("%d,%s,%d,%s,%s", r, grp.pmu, g, names[i] or "-", ev.name)
      end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- The first max items, comma-separated, and how many more there are.
function M.list_names(items, max)
  local out = {}
  for i = 1, math.min(#items, max) do out[i] = items[i] end
  local s = table.concat(out, ", ")
  if #items > max then s = s .. string.format(", ... and %d more", #items - max) end
  return s
end

local function clock(s)
  if not s then return "--:--" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format("%d:%02d:%02d", s // 3600, s % 3600 // 60, s % 60) end
  return string.format("%d:%02d", s // 60, s % 60)
end

-- A profile's progress: one line, redrawn in place on a terminal.
function M.progress_line(p, color)
  local rep = p.reps > 1 and string.format(" rep %d/%d", p.rep, p.reps) or ""
  local run = string.format("run %d/%d%s", p.run, p.runs, rep)
  if color then run = "\27[1m" .. run .. "\27[0m" end
  io.stderr:write(string.format("\r\27[Kautoperf: %s | events done %d/%d | %s elapsed | ETA %s",
    run, p.events_done, p.events_total, clock(p.elapsed), clock(p.eta)))
  io.stderr:flush()
end

-- What each counting mode (profile.counting_mode) counted.
M.COUNTING = {
  cgroup = "per CPU, the tasks of the workload's own cgroup",
  task = "per task, inherited by every thread and child of the workload",
  ["system-wide"] = "system-wide: every task on every CPU",
}

-- The report of a measured profile (result: profile.from_specs's
-- summary) on stderr, as perf stat's: the workload owns stdout. quiet:
-- nothing. Returns the exit code.
function M.profile_report(result, cmd, quiet)
  local function say(fmt, ...)
    if not quiet then io.stderr:write(string.format(fmt, ...), "\n") end
  end
  if result.runs == 0 and result.resumed > 0 then
    say("autoperf: %s already holds this complete profile (%d run%s); " ..
      "use --force to measure again, or aggregate it", result.dir, result.resumed, result.resumed == 1 and "" or "s")
    return 0
  end
  if not quiet then
    local text = require("autoperf.counts").of_profile(result.dir, util.shell_join(cmd))
    if text then io.stderr:write(text) end
  end
  say("autoperf: profiled '%s': %d events in %d run%s x %d repetition%s (%s)%s",
    util.shell_join(cmd), result.events, #result.plan.runs, #result.plan.runs == 1 and "" or "s",
    result.repetitions, result.repetitions == 1 and "" or "s", util.human_duration(result.elapsed_s),
    result.resumed > 0 and string.format(", %d resumed from an earlier attempt", result.resumed) or "")
  if #result.refused > 0 then
    local names = {}
    for i, r in ipairs(result.refused) do names[i] = r.name .. " (" .. r.error .. ")" end
    say("  refused by the kernel, skipped (%d): %s", #names, M.list_names(names, 8))
  end
  if #result.flagged > 0 then
    say("  FLAGGED, not counted all the time (%d): %s", #result.flagged, M.list_names(result.flagged, 8))
  elseif result.off_type then
    say("  no event was multiplexed; hybrid halves count only while the command runs on their CPUs, so " ..
      "these counted part of the time (%s): never scaled, never added (--core-type core|atom pins the command " ..
      "to one half)", table.concat(result.off_type, "; "))
  else
    say("  every event was counted the whole time (time_enabled == time_running)")
  end
  local sp = result.sampler
  if sp then
    say("  sampler: %d samples, late by %.1f ms median, %.1f ms p99, %.1f ms max (worst run)%s%s", sp.samples,
      sp.median, sp.p99, sp.max, sp.skipped > 0 and string.format("; %d ticks skipped while a sample was late",
        sp.skipped) or "", sp.priority and ("; waited and read at " .. sp.priority) or "")
  end
  M.anchor_report(result, say)
  local c = result.counting
  if c then
    say("  counted %s%s", M.COUNTING[c.mode] or c.mode, c.why and (" (not per CPU in a cgroup: " .. c.why .. ")") or "")
  end
  say("  output: %s/  (merge with: autoperf aggregate %s)", result.dir, result.dir)
  if result.simulated then
    say("  SIMULATED: hardware events were counted by a simulated %s PMU; their values are " ..
      "synthetic (derived from task-clock), not measurements (UNIT ends in ':simulated')", result.simulated.model)
  end
  if #result.failed > 0 then
    M.errorf("the workload failed in %d run%s: %s", #result.failed, #result.failed == 1 and "" or "s",
      M.list_names(result.failed, 3))
    -- as perf stat: the workload's own exit status
    return result.exit_status or 1
  end
  return 0
end

-- The anchors' spread across runs and what the guard did.
function M.anchor_report(result, say)
  local guard = require "autoperf.guard"
  local g = result.guard or {}
  local reps = result.repetitions
  for _, st in ipairs(result.anchors or {}) do
    if st.n > 1 then
      local who = {}
      for i, o in ipairs(st.outliers) do who[i] = guard.run_name(o, reps) end
      say("  anchor %-14s over %d runs: median %s, cv %.1f%%, min %s, max %s%s", st.name, st.n,
        guard.format_value(st.name, st.median), st.cv * 100, guard.format_value(st.name, st.min),
        guard.format_value(st.name, st.max), #who > 0 and ("; outlying: " .. M.list_names(who, 6)) or "")
    end
  end
  if g.on then
    local n = #(g.remeasured or {})
    say("  guard: tolerance %g%%; %s%s", g.tolerance * 100,
      n > 0 and string.format("%d execution%s measured again (the manifest says why)", n, n == 1 and "" or "s")
        or "no run needed measuring again",
      g.outliers and string.format("; still outlying after %d more: %d run%s", g.remeasure, #g.outliers,
        #g.outliers == 1 and "" or "s") or "")
  elseif result.guard then
    say("  guard: off (runs are not compared)")
  end
end

-- Analysis results that come from a simulated PMU say so.
function M.simulated_note(yes)
  if yes then print("  (simulated PMU: these counts are synthetic, not measurements)") end
end

return M
