-- profile: runs a workload once per planned run (and repetition), counting
-- every event of the run the whole time, sampling at intervals, and writes
-- the output directory (see store.lua). M.from_specs is the one way in
-- (the CLI, ap.profile, ap.measure and experiments): specs + options ->
-- catalog, selection, counters, PMUs (M.prepare), plan, run.
local anchors_mod = require "autoperf.anchors"
local capacity = require "autoperf.capacity"
local catalog = require "autoperf.catalog"
local core = require "autoperf.core"
local defaults = require "autoperf.defaults"
local machine = require "autoperf.machine"
local plan_mod = require "autoperf.plan"
local guard_mod = require "autoperf.guard"
local store_mod = require "autoperf.store"
local uncore_mod = require "autoperf.pmu.uncore"
local util = require "autoperf.util"
local version = require "autoperf.version"

local M = {}

local E = core.errno

local function attr_of(ev)
  return {
    type = ev.type, config = ev.config, config1 = ev.config1, config2 = ev.config2,
    exclude_user = ev.exclude_user, exclude_kernel = ev.exclude_kernel,
    exclude_hv = ev.exclude_hv,
  }
end

local is_hardware = require("autoperf.pmu").is_hardware
local hybrid = require "autoperf.pmu.hybrid"

-- The set of CPUs of a hybrid half's event ({[cpu]=true}), or nil for an
-- event that counts wherever its task runs.
local function mask_of(ev)
  if not (ev and ev.cpus and hybrid.of_pmu(ev.pmu)) then return nil end
  local set = {}
  for _, c in ipairs(machine.parse_cpulist(ev.cpus) or {}) do set[c] = true end
  return set
end

-- Opens the run's groups on target (pid, or -1 with cpus). Events the
-- kernel refuses land in refused[name]; events that did not fit in the
-- descriptor budget, and hardware events the kernel refused beside the
-- others of their group (it validates a group at open: the plan asked for
-- more than the PMU can do), are returned as leftovers {ev=, why=} for
-- extra runs.
-- sim: nil, or the simulated PMUs {by_tag={tag={pmu=, facts=}}} (see
-- simulator()): their events go to simulated groups.
-- uncore: {[unit pmu] = {{box=, inst={[tag]=instance}}, ...}} (see
-- uncore_boxes()): a group of an uncore unit is opened on every box,
-- system-wide (pid -1) on each CPU of the box's cpumask, whatever target
-- is: the kernel refuses uncore events per task (perf_event_open() in
-- kernel/events/core.c: task_ctx_nr == perf_invalid_context -> EINVAL).
-- target may be a cgroup (core.cgroup): its tasks are counted on each cpu.
-- Each opened group is {group=, cpu=, ours=}: ours when we start and stop
-- it (system-wide and cgroup groups; per-task ones start at exec).
local function open_groups(run, pid, cpus, refused, manual, sim, uncore)
  local opened, leftovers = {}, {}
  local out_of_fds = false
  -- pg's events (each as inst(ev) makes it) in one group on (gpid, cpu)
  -- of simulated PMU spmu (nil: the kernel's); first: the open whose
  -- leftovers count (once per event, not per cpu or box).
  local function fill(pg, gpid, cpu, first, spmu, inst)
    local function new_group()
      if spmu then return spmu:group(gpid, cpu, manual) end
      return core.group(gpid, cpu, manual)
    end
    local function add(g, ev)
      if spmu then return g:add(attr_of(ev), ev.tag, sim.by_tag[(ev.of or ev).tag].facts) end
      return g:add(attr_of(ev), ev.tag)
    end
    local g, gerr = new_group()
    if not g then
      for _, ev in ipairs(pg.events) do refused[ev.name] = refused[ev.name] or gerr end
      return
    end
    for _, e in ipairs(pg.events) do
      local ev = inst(e)
      if not refused[ev.name] and not out_of_fds then
        local ok, err, errno = add(g, ev)
        if not ok and errno == E.E2BIG and g:size() > 0 then
          opened[#opened + 1] = { group = g, cpu = cpu, ours = gpid == -1 or type(gpid) == "userdata" }
          g = new_group()
          ok, err, errno = add(g, ev)
        end
        if not ok then
          if errno == E.EMFILE or errno == E.ENFILE then
            out_of_fds = true
          elseif is_hardware(ev) and g:size() > 0 and (errno == E.EINVAL or errno == E.ENOSPC) then
            if first then
              leftovers[#leftovers + 1] = { ev = e, why = "refused beside its group at open (" .. err .. ")" }
            end
          else
            refused[ev.name] = err
          end
        end
      end
      if out_of_fds and first then
        leftovers[#leftovers + 1] = { ev = e, why = "out of file descriptors" }
      end
    end
    if g:size() > 0 then opened[#opened + 1] = { group = g, cpu = cpu, ours = gpid == -1 or type(gpid) == "userdata" } end
  end
  local function same(ev) return ev end
  local boxed = {}
  for _, pg in ipairs(run.groups) do
    local ev1 = pg.events[1]
    if ev1 and uncore and uncore[ev1.pmu] then boxed[pg] = uncore[ev1.pmu] end
  end
  local filled = {}
  for _, cpu in ipairs(cpus) do
    for _, pg in ipairs(run.groups) do
      -- a hybrid half opens only on its CPUs (elsewhere the kernel says
      -- ENOENT: x86_pmu_event_init())
      local mask = cpu >= 0 and mask_of(pg.events[1])
      if not boxed[pg] and not (mask and not mask[cpu]) then
        local s = sim and pg.events[1] and sim.by_tag[pg.events[1].tag]
        fill(pg, pid, cpu, not filled[pg], s and s.pmu, same)
        filled[pg] = true
      end
    end
  end
  for _, pg in ipairs(run.groups) do
    for bi, b in ipairs(boxed[pg] or {}) do
      for ci, cpu in ipairs(b.box.cpus) do
        fill(pg, -1, cpu, bi == 1 and ci == 1, b.sim, function(ev) return b.inst[ev.tag] end)
      end
    end
  end
  return opened, leftovers
end

local function close_groups(opened, closer)
  for _, o in ipairs(opened) do o.group:close(closer) end
end

local function exit_text(st)
  if st.timed_out then return "timed out (killed)" end
  if st.signal then
    return "killed by " .. (st.signame and ("SIG" .. st.signame) or ("signal " .. st.signal))
      .. (st.core and " (core dumped)" or "")
  end
  return "exited with " .. st.code
end
M.exit_text = exit_text

-- Was a group's time not running the time its task spent on the other
-- core type? A hybrid half's per-task group is scheduled only on its
-- CPUs (kernel/events/core.c visit_groups_merge() skips a PMU whose
-- filter, intel_pmu_filter(), rejects the CPU) and stays enabled, not
-- running, elsewhere: that is no multiplexing, unless the task was
-- pinned inside the mask. Counts are never scaled either way.
local function off_type_possible(mask, pinned_cpus)
  for _, c in ipairs(pinned_cpus or {}) do
    if not mask[c] then return true end
  end
  return pinned_cpus == nil
end

local function off_type(ctx, o, pinned_cpus)
  if o.cpu >= 0 then return false end
  local mask = mask_of(ctx.by_tag[o.group:tags()[1]])
  return mask ~= nil and off_type_possible(mask, pinned_cpus)
end

local function interval_ns_of(opts) return (opts.interval_ms or 0) * 1000000 end

-- One execution of the workload under one run's groups. Returns an entry
-- for the journal and the leftovers to re-plan, or nil, message, exit code.
local function execute(ctx, run, ri, rep)
  local opts = ctx.opts
  -- Counting starts at exec, unless a delay or the workload's region of
  -- interest (--roi) says when.
  local delay_ns = (opts.delay_ms or 0) * 1000000
  local manual = opts.roi or delay_ns > 0
  local roi, roi_fd
  local spawn_opts = { env = opts.env, cwd = opts.cwd, cpus = opts.cpus or (ctx.pinned and ctx.pinned.cpu_list) }
  if opts.roi then
    local rerr
    roi, rerr = core.roi()
    if not roi then return nil, rerr, 1 end
    local theirs
    roi_fd, theirs = roi:fds()
    spawn_opts.env = util.env_with({ AUTOPERF_CTL_FD = theirs }, opts.env)
    spawn_opts.keep = { theirs }
  end
  -- cgroup counting: the workload enters a cgroup of its own before
  -- exec, counted on every CPU; the keeper removes it after the tree
  local cg
  if opts.counting == "cgroup" then
    local cerr
    cg, cerr = core.cgroup()
    if not cg then return nil, "cannot make a cgroup for the workload: " .. cerr, 1 end
    spawn_opts.cgroup = cg
  end
  local proc, err = core.spawn(opts.argv, spawn_opts)
  if roi then roi:spawned() end
  if not proc then
    if roi then roi:close() end
    return nil, err, 1
  end
  -- system-wide and cgroup counters are started and stopped here;
  -- per-task ones start at exec and stop with their tasks
  local system_wide = opts.system_wide
  local per_cpu = system_wide or cg ~= nil
  local cpus = per_cpu and ctx.cpus or { -1 }
  local target = (system_wide and -1) or cg or proc:pid()
  local opened, leftovers = open_groups(anchors_mod.run_groups(ctx.plan, run), target, cpus, ctx.refused, manual,
    ctx.sim, ctx.uncore)
  -- an anchor is measured in every run, never re-planned into one
  do
    local kept = {}
    for _, l in ipairs(leftovers) do
      if not ctx.anchor_tag[l.ev.tag] then kept[#kept + 1] = l end
    end
    leftovers = kept
  end
  if cg then cg:close() end -- ours only: the keeper has it now
  local fname = store_mod.run_file(ri, rep)
  local w, werr = core.writer(ctx.store:path(fname), true)
  -- The sampler ahead of the workload's threads where we may: a tick's
  -- reads wait for no runnable thread of it (the keeper and the workload
  -- were forked before, at our nice value; restored before the next spawn)
  local interval_ns = interval_ns_of(opts)
  local niced = interval_ns > 0 and ctx.nice_up and core.nice(ctx.nice_up)
  -- and, where we may, real-time while it waits for a tick and reads
  -- (SCHED_FIFO 1: no runnable thread delays the wake-up), and while it
  -- writes the rows for up to half an interval after the tick; past that,
  -- back to the nice value above for the rest of the rows (a long write
  -- must not take a CPU from the workload for long, nor at the nice value
  -- alone: against 64 runnable threads a 2 ms write took 10-58 ms and
  -- made the next tick late)
  local rt = interval_ns > 0 and ctx.realtime and core.realtime(ctx.realtime) and ctx.realtime
  local function cleanup()
    if rt then core.realtime(0) end
    if niced then core.nice(niced) end
    proc:close()
    if roi then roi:close() end
    close_groups(opened, ctx.closer)
  end
  if not w then
    cleanup()
    return nil, werr, 1
  end
  local function fail(msg, code)
    proc:kill(9)
    w:abort()
    cleanup()
    return nil, msg, code
  end
  -- ours_only: only the groups we start and stop (system-wide, cgroup,
  -- and uncore boxes in a per-task profile start and stop with the
  -- workload; per-task groups start at exec and stop with their tasks).
  local function set_counting(on, ours_only)
    for _, o in ipairs(opened) do
      if not ours_only or o.ours then
        if on then o.group:enable() else o.group:disable() end
      end
    end
  end

  -- Header: the events this file holds (those the kernel opened).
  local header = {}
  local seen, nevents = {}, 0
  for _, o in ipairs(opened) do
    for _, tag in ipairs(o.group:tags()) do
      if not seen[tag] then
        seen[tag] = true
        nevents = nevents + 1
        local ev = ctx.by_tag[tag]
        header[#header + 1] = { tag, M.unit(ev), ev.name }
      end
    end
  end
  core.run_start(w, ri, rep, header)

  -- Time starts before the first counter does: enabling thousands of
  -- per-CPU groups one ioctl at a time takes milliseconds (and each
  -- group's time_enabled is its own), so the run's clock must cover them all.
  local t0 = core.now_ns()
  if not manual then set_counting(true, true) end
  local ok, rerr, rerrno = proc:release()
  if not ok then
    local code = (rerrno == E.ENOENT) and 127 or 126
    return fail(string.format("cannot run '%s': %s", opts.argv[1], rerr), code)
  end

  -- A sample reads every group first and stamps them all with the time
  -- after the last read, so that no count exceeds the time it is given
  -- (simulated groups, which count nothing real, read as they write).
  -- Returns the sample's time.
  local rows, index = 0, 0
  local function sample()
    for _, o in ipairs(opened) do
      if o.group.snap then
        local sok, serr = o.group:snap()
        if not sok then return nil, serr end
      end
    end
    local t = core.now_ns() - t0
    local yield_at = rt and t0 + t + interval_ns // 2
    for _, o in ipairs(opened) do
      if yield_at and core.now_ns() > yield_at then
        core.realtime(0)
        yield_at = nil
      end
      local put = o.group.snap and o.group.put or o.group.sample
      local sok, serr = put(o.group, w, index, t, o.cpu)
      if not sok then return nil, serr end
      rows = rows + o.group:size()
    end
    if rt and not yield_at then core.realtime(rt) end
    index = index + 1
    return t
  end

  -- The workload's commands: "enable\n" / "disable\n", each acknowledged.
  local pending = ""
  local function roi_commands()
    local data = roi:read()
    if not data then
      roi_fd = nil -- the workload closed its end (or exited)
      return
    end
    pending = pending .. data
    for line in pending:gmatch("([^\n]*)\n") do
      if line == "enable" or line == "disable" then set_counting(line == "enable") end
      roi:ack()
    end
    pending = pending:match("[^\n]*$")
  end

  local next_tick = interval_ns > 0 and t0 + interval_ns or math.maxinteger
  local delay_at = delay_ns > 0 and t0 + delay_ns or math.maxinteger
  local deadline = (opts.timeout_s or 0) > 0 and t0 + math.floor(opts.timeout_s * 1e9) or math.maxinteger
  local next_report = t0 + 250000000
  local status, timed_out
  -- The sampler's schedule: tick k is due at t0 + k x interval, waited
  -- for to the nanosecond. A sample is stamped after its reads; how late
  -- that is goes to the journal; ticks that passed meanwhile are skipped
  -- and counted, never bunched, and the grid never drifts.
  local late_ns, skipped = {}, 0
  while true do
    local wake = math.min(next_tick, delay_at, deadline, ctx.report and next_report or math.maxinteger)
    local st, werr2 = proc:wait(-1, roi_fd, wake == math.maxinteger and -1 or wake)
    local now = core.now_ns()
    if type(st) == "table" then
      status = st
      break
    elseif st == "fd" then
      roi_commands()
    elseif st == nil and werr2 ~= "interrupted" then
      return fail(werr2, 1)
    elseif st == nil or core.caught_signal() then
      local sig = core.caught_signal() or 2
      return fail("interrupted by signal " .. sig .. "; completed runs are kept, rerun to resume", 128 + sig)
    end
    if now >= delay_at then
      set_counting(true)
      delay_at = math.maxinteger
    end
    if now >= deadline and not timed_out then
      -- Hung: stop the whole process group; the status says why.
      timed_out = true
      proc:kill(9)
      deadline = math.maxinteger
    end
    if now >= next_tick then
      local t, serr = sample()
      if not t then return fail(serr, 1) end
      late_ns[#late_ns + 1] = t0 + t - next_tick
      local after = core.now_ns()
      repeat
        next_tick = next_tick + interval_ns
        if next_tick <= after then skipped = skipped + 1 end
      until next_tick > after
    end
    if ctx.report and now >= next_report then
      ctx.report(now)
      next_report = now + 250000000
    end
  end
  -- The last sample at once (a read is quicker than a disable), then
  -- system-wide and cgroup counters stop (per-task ones stopped with their tasks):
  -- the closer may hold them open for long.
  local elapsed, serr = sample()
  set_counting(false, true)
  if not elapsed then return fail(serr, 1) end

  -- Verification: every event must have been counted the whole time;
  -- the ones that were not are measured again in extra runs.
  local flagged = {}
  local anchor_values, anchor_flagged = {}, nil
  for _, o in ipairs(opened) do
    local enabled, running, values = o.group:read()
    for i, tag in ipairs(enabled and o.group:tags() or {}) do
      local name = ctx.anchor_tag[tag]
      if name then
        anchor_values[name] = (anchor_values[name] or 0) + (values[i] or 0)
        if running < enabled then
          anchor_flagged = anchor_flagged or {}
          anchor_flagged[#anchor_flagged + 1] = name
        end
      end
    end
    local off = enabled and running < enabled and off_type(ctx, o, spawn_opts.cpus)
    if off then
      local ev = ctx.by_tag[o.group:tags()[1]]
      ctx.off_type[ev.pmu] = ev.cpus
    end
    if enabled and running < enabled and not off then
      for _, tag in ipairs(o.group:tags()) do
        local ev = ctx.by_tag[tag]
        ev = ev.of or ev -- a box's instance: the unit's event is re-planned
        if not seen[-ev.tag] and not ctx.anchor_tag[tag] then
          seen[-ev.tag] = true
          flagged[#flagged + 1] = ev.name
          leftovers[#leftovers + 1] = { ev = ev, flagged = true,
            why = string.format("not counted all the time (running %d of %d ns)", running, enabled) }
        end
      end
    end
  end
  core.run_end(w, rows)
  local cok, cerr = w:commit()
  cleanup()
  if not cok then return nil, cerr, 1 end
  if timed_out then status.timed_out = true end
  ctx.last_status = status -- the caller's, not the journal's

  return {
    run = ri, rep = rep, file = fname, events = nevents,
    elapsed_ns = elapsed, samples = index,
    exit_code = status.code, signal = status.signame and ("SIG" .. status.signame) or nil,
    timed_out = status.timed_out, status = exit_text(status), flagged = #flagged > 0 and flagged or nil,
    utime = status.utime, stime = status.stime, maxrss_kb = status.maxrss_kb,
    sampler = M.lateness(late_ns, skipped, interval_ns, rt and ("SCHED_FIFO " .. rt) or niced and ("nice " .. ctx.nice_up)),
    anchors = next(anchor_values) and anchor_values or nil, anchors_flagged = anchor_flagged,
  }, leftovers
end

-- The sampler's timeliness in a run: {samples=, skipped= (ticks that
-- passed during a late sample), late_ms = {median=, p99=, max=}} of the
-- interval samples' lateness (stamp minus deadline), or nil without
-- interval sampling.
function M.lateness(late_ns, skipped, interval_ns, priority)
  if interval_ns <= 0 or #late_ns == 0 then return nil end
  local s = {}
  for i, v in ipairs(late_ns) do s[i] = v end
  table.sort(s)
  local function q(p) return math.floor(s[math.max(1, math.ceil(p * #s))] / 1000 + 0.5) / 1000 end
  return { samples = #s, skipped = skipped, late_ms = { median = q(0.5), p99 = q(0.99), max = q(1) },
           priority = priority }
end

-- Plans leftovers of run ri (see open_groups and the verification) into
-- extra runs, once per event: an event that fails again stays as it is.
-- The manifest records what moved where and why.
local function replan(ctx, plan, manifest, ri, leftovers, plan_opts)
  local events = {}
  manifest.replanned = manifest.replanned or {}
  for _, l in ipairs(leftovers) do
    if not ctx.replanned[l.ev.name] then
      ctx.replanned[l.ev.name] = true
      events[#events + 1] = l.ev
      manifest.replanned[#manifest.replanned + 1] = { name = l.ev.name, from_run = ri, why = l.why }
    end
  end
  if #events == 0 then return nil end
  -- An event the PMU did not count all the time although the plan said
  -- its group fits shows the counter model is wrong for it: planning it
  -- again with the same model could over-fill again, so it is measured
  -- alone (a single event always fits).
  local opts = plan_opts
  for _, l in ipairs(leftovers) do
    if l.flagged then
      if opts == plan_opts then
        opts = {}
        for k, v in pairs(plan_opts) do opts[k] = v end
        opts.isolate = {}
        for i, item in ipairs(plan_opts.isolate) do opts.isolate[i] = item end
      end
      opts.isolate[#opts.isolate + 1] = l.ev.name
    end
  end
  local extra, err = plan_mod.make(events, opts)
  if not extra then return err end
  local first = #plan.runs + 1
  for _, run in ipairs(extra.runs) do plan.runs[#plan.runs + 1] = run end
  -- where each went
  local to = {}
  for r = first, #plan.runs do
    for _, g in ipairs(plan.runs[r].groups) do
      for _, ev in ipairs(g.events) do to[ev.name] = r end
    end
  end
  for _, rp in ipairs(manifest.replanned) do
    if rp.from_run == ri and not rp.to_run then rp.to_run = to[rp.name] end
  end
  manifest.plan = plan_mod.describe(plan)
  return nil
end

local function default_progress() end

-- The UNIT of an event in the output: its PMU, marked when simulated.
function M.unit(ev)
  return ev.simulated and (ev.pmu .. ":simulated") or ev.pmu
end

-- The simulated PMUs of the events marked simulated (--pmu sim:MODEL):
-- one per PMU of the model, with the counters the model gives it (never
-- the planner's overrides: a plan that over-fills them must fail), and
-- per event the facts the simulator enforces.
local function simulator(events, isolate)
  local sim_events = {}
  for _, ev in ipairs(events) do
    if ev.simulated then sim_events[#sim_events + 1] = ev end
  end
  if #sim_events == 0 then return nil end
  local pmus, hw = plan_mod.model(sim_events, { isolate = isolate })
  local sim = { by_tag = {}, pmus = {} }
  -- a hybrid half counts only on its CPUs (sysfs's or simulated mask)
  local cpus = {}
  for _, h in ipairs(hw) do
    if not cpus[h.pmu] and mask_of(h.ev) then cpus[h.pmu] = machine.parse_cpulist(h.ev.cpus) end
  end
  for i, p in ipairs(pmus) do
    -- an uncore unit's boxes get a PMU each (uncore_boxes())
    sim.pmus[i] = not p.uncore and core.sim_pmu({ counters = p.counters, shared = p.shared, cpus = cpus[i] }) or nil
  end
  sim.model = {}
  for _, p in ipairs(pmus) do sim.model[p.name] = p end
  for _, h in ipairs(hw) do
    sim.by_tag[h.ev.tag] = {
      pmu = sim.pmus[h.pmu],
      facts = { allowed = h.allowed, shared = h.shared, alone = h.ev.taken_alone or false, pair = h.pair,
                lead = h.lead, needs = h.needs, refuse = h.refuse, share_num = h.share_num, share_den = h.share_den,
                rate = h.sim_rate },
    }
  end
  return sim
end

-- The boxes of the uncore units among events (their tags set): per unit
-- PMU, per box {box={name=, type=, cpus=}, inst={[tag]=instance}, sim=}
-- where each instance is the event as the box counts it: its own tag
-- (from next_tag on), the box's PMU and type, of = the unit's event. A
-- simulated unit's boxes are uncore_mod.sim_boxes' (each a simulated
-- PMU that refuses per-task opens); a real one's, sysfs's. Returns
-- uncore (nil: no uncore event), the instances in tag order.
local function uncore_boxes(events, next_tag, sim)
  local units, list = {}, {}
  for _, ev in ipairs(events) do
    if uncore_mod.is_uncore(ev) then
      local u = units[ev.pmu]
      if not u then
        local boxes = ev.simulated and uncore_mod.sim_boxes(ev.pmu) or uncore_mod.boxes(ev.pmu)
        u = {}
        for i, b in ipairs(boxes) do
          local p = ev.simulated and sim and sim.model[ev.pmu]
          u[i] = { box = b, inst = {},
                   sim = p and core.sim_pmu({ counters = p.counters, shared = p.shared, uncore = true }) or nil }
        end
        units[ev.pmu] = u
      end
      for _, b in ipairs(u) do
        local inst = {}
        for k, v in pairs(ev) do inst[k] = v end
        inst.pmu, inst.box, inst.of, inst.tag = b.box.name, b.box.name, ev, next_tag
        if not ev.simulated then inst.type = b.box.type or ev.type end
        next_tag = next_tag + 1
        b.inst[ev.tag] = inst
        list[#list + 1] = inst
      end
    end
  end
  return next(units) and units or nil, list
end

-- The events as this user may count them (access: machine.access()).
-- Where the kernel demands it (perf_event_paranoid >= 2, unprivileged),
-- events without modifiers count user space only, as perf stat's :u
-- fallback does; they keep their names (scripts and experiments find
-- them), and the manifest marks them (user_only). Tracepoints, which fire
-- only in the kernel, are left out.
-- Events no source can measure here (no hardware PMU) are refused before
-- anything is opened. Returns events, refused {{name=, error=}}, notes.
function M.measurable(events, access)
  local out, refused, notes = {}, {}, {}
  local tracepoints, user_only, uncore = 0, 0, 0
  for _, ev in ipairs(events) do
    local explicit = ev.base or ev.exclude_user or ev.exclude_kernel or ev.exclude_hv
    if ev.available == false then
      refused[#refused + 1] = { name = ev.name, error = ev.why or "not measurable on this machine" }
    elseif not access.system_wide and uncore_mod.is_uncore(ev) then
      -- an uncore box counts system-wide only (perf_event_open() refuses
      -- it per task), which needs what -a needs: perf_allow_cpu()
      uncore = uncore + 1
      refused[#refused + 1] = { name = ev.name, error = "uncore events count system-wide only, which needs " ..
        "perf_event_paranoid <= 0 or CAP_PERFMON" }
    elseif access.user_only and ev.pmu == "tracepoint" and not ev.exclude_kernel then
      tracepoints = tracepoints + 1
    elseif access.user_only and not explicit then
      local copy = {}
      for k, v in pairs(ev) do copy[k] = v end
      copy.exclude_kernel, copy.exclude_hv, copy.user_only = true, true, true
      out[#out + 1] = copy
      user_only = user_only + 1
    else
      out[#out + 1] = ev
    end
  end
  if user_only > 0 or tracepoints > 0 then
    notes[#notes + 1] = string.format("perf_event_paranoid = %s and not root: counting user space only " ..
      "(as perf stat's :u; the manifest marks these events user_only)%s; for kernel counts: " ..
      "sudo sysctl kernel.perf_event_paranoid=1",
      tostring(access.paranoid), tracepoints > 0 and string.format("; %d tracepoint%s left out (they count " ..
      "only in the kernel)", tracepoints, tracepoints == 1 and "" or "s") or "")
  end
  if uncore > 0 then
    notes[#notes + 1] = string.format("%d uncore event%s left out: uncore PMUs count system-wide per socket " ..
      "only, which needs perf_event_paranoid <= 0 or CAP_PERFMON (it is %s; fix: sudo sysctl " ..
      "kernel.perf_event_paranoid=0, or run as root)", uncore, uncore == 1 and "" or "s", tostring(access.paranoid))
  end
  return out, refused, notes
end

-- The one line for a profile that could measure nothing: the reasons the
-- events were refused and what to do.
local function nothing_measured(refused, simulated)
  local why, order = {}, {}
  for _, r in ipairs(refused) do
    if not why[r.error] then
      why[r.error] = {}
      order[#order + 1] = r.error
    end
    table.insert(why[r.error], r.name)
  end
  local parts = {}
  for i, e in ipairs(order) do
    if i > 3 then break end
    local names = why[e]
    parts[#parts + 1] = string.format("%s%s: %s", names[1], #names > 1 and string.format(" and %d more", #names - 1)
      or "", e)
  end
  local msg = "nothing could be measured (" .. table.concat(parts, "; ") .. ")"
  local text = table.concat(order, " ")
  if text:find("no hardware PMU", 1, true) and not simulated then
    msg = msg .. "; plan hardware events with 'autoperf plan --pmu MODEL', " ..
      "or count them on a simulated PMU with --pmu sim:FILE.json (an Intel perfmon event file)"
  elseif text:find("Permission denied", 1, true) or text:find("Operation not permitted", 1, true) then
    msg = msg .. "; see 'autoperf doctor' (fix: sudo sysctl kernel.perf_event_paranoid=1, or run as root)"
  end
  return msg
end

-- The default selection: every event measurable here or, when perfmon
-- files or a chosen model (--pmu MODEL, sim:MODEL, sim:FILE) are given,
-- their events.
local function default_events(cat, events_json)
  if (events_json and #events_json > 0) or cat.chosen then
    local out = {}
    for _, ev in ipairs(cat.events) do
      if ev.source == "perfmon" or (cat.chosen and ev.model == cat.chosen) then out[#out + 1] = ev end
    end
    return out
  end
  return catalog.select(cat, { "all" })
end

-- What specs ask to measure, before anything runs: the catalog (opts.pmu,
-- default AUTOPERF_PMU; opts.events_json; opts.smt: see catalog.load), the
-- events (specs: a spec, a list of specs as perf's -e takes them, or of
-- event records; nil or empty: the default selection), the planner's
-- counters (opts.counters, else capacity.plan_counters: AUTOPERF_COUNTERS
-- or what the kernel says) and the PMUs the manifest records;
-- opts.core_type ("core" or "atom", a hybrid part's half: hybrid.pin)
-- keeps that half's events and pins the workload to its CPUs. Returns
-- {catalog=, events=, counters=, counters_from=, pmus=, hardware=,
-- simulated=, pinned={word=, pmu=, cpus=, cpu_list=}, smt= ("on"/"off":
-- opts.smt, which the manifest records), machine= (machine.describe(),
-- when metrics were planned)} or nil, message, exit code.
function M.prepare(specs, opts)
  opts = opts or {}
  local cat, err = catalog.load({ pmu = opts.pmu, events_json = opts.events_json, smt = opts.smt })
  if not cat then return nil, err, 1 end
  if type(specs) == "string" then specs = { specs } end
  local events, metric_plan
  -- the hyper-threading state asked for (--smt), as the manifest records
  -- it; for metrics, the machine, described once for their constants and
  -- the manifest (the same constants at plan and at compute time)
  local smt = opts.smt ~= nil and (opts.smt and "on" or "off") or nil
  local mach
  if opts.metrics and (specs == nil or #specs == 0) then
    mach = machine.describe()
    -- --metrics FILE [--metric NAMES]: the events the metrics read with
    -- the constants the profile will be computed with (its manifest's)
    local mx = require "autoperf.metrics"
    local consts = mx.constants({ machine = mach, simulated = cat.sim and cat.sim.name, settings = { smt = smt } })
    events, metric_plan = mx.plan_events(cat, opts.metrics, opts.metric, consts)
    if not events then return nil, metric_plan, 2 end
  elseif specs == nil or #specs == 0 then
    events = default_events(cat, opts.events_json)
  elseif type(specs[1]) == "string" then
    -- -e @FILE: the events of a list ('autoperf analyze select' writes one)
    specs, err = require("autoperf.analyze.selection").expand(specs)
    if not specs then return nil, err, 2 end
    events, err = catalog.select(cat, specs)
    if not events then return nil, err, 2 end
  else
    events = specs
  end
  -- --core-type: one hybrid half's events (and every non-core event),
  -- the workload pinned to that half's CPUs
  local pinned
  if opts.core_type then
    local perr
    pinned, perr = hybrid.pin(opts.core_type, cat.pmus, cat.sim and cat.sim.cpus)
    if not pinned then return nil, perr, 2 end
    local kept = {}
    for _, ev in ipairs(events) do
      if not hybrid.of_pmu(ev.pmu) or ev.pmu == pinned.pmu then kept[#kept + 1] = ev end
    end
    if #kept == 0 then return nil, "--core-type " .. pinned.word .. ": none of the events is " .. pinned.pmu .. "'s", 2 end
    events = kept
    pinned.cpu_list = machine.parse_cpulist(pinned.cpus)
  end
  local counters, note = opts.counters, "given by the caller"
  if not counters then
    local cerr
    counters, note, cerr = capacity.plan_counters(cat, events)
    if cerr then return nil, cerr, 2 end
  end
  local pmus = {}
  for _, p in ipairs(cat.pmus) do pmus[#pmus + 1] = { name = p.name, type = p.type, events = #p.events } end
  -- the anchors (opts.anchor: anchors.resolve's specs), one hybrid half's
  -- only with --core-type
  local anchor_evs, aerr = anchors_mod.resolve(cat, opts.anchor, counters)
  if not anchor_evs then return nil, aerr, 2 end
  if pinned then
    local kept = {}
    for _, ev in ipairs(anchor_evs) do
      if not hybrid.of_pmu(ev.pmu) or ev.pmu == pinned.pmu then kept[#kept + 1] = ev end
    end
    anchor_evs = kept
  end
  if metric_plan then
    -- one group per metric where its events fit one run (metrics/plan.lua);
    -- a group reads the anchors from its run
    events, metric_plan = require("autoperf.metrics").group_events(metric_plan,
      { counters = counters, isolate = defaults.isolate_list(opts.isolate), nmi_watchdog = cat.hardware and machine.nmi_watchdog() },
      anchor_evs)
  end
  return { catalog = cat, events = events, counters = counters, counters_from = counters and note or nil,
           pmus = pmus, hardware = cat.hardware, simulated = cat.sim and cat.sim.name, pinned = pinned,
           anchors = anchor_evs, metrics = metric_plan, smt = smt, machine = mach }
end

-- The planner's options for a prepared selection (see M.prepare) and
-- opts {system_wide=, isolate= (a list or "a,b"), strategy=}: the
-- descriptor budget (RLIMIT_NOFILE, raised), the CPUs each event is
-- opened on, the counter a real PMU's NMI watchdog holds, the counters.
function M.plan_options(prep, opts)
  opts = opts or {}
  local nofile = core.raise_nofile() or defaults.nofile
  return {
    fd_budget = nofile - plan_mod.RESERVED_FDS,
    ncpus = (opts.system_wide or opts.counting == "cgroup") and #machine.online_cpus() or 1,
    isolate = defaults.isolate_list(opts.isolate), strategy = opts.strategy or defaults.strategy,
    nmi_watchdog = prep.hardware and machine.nmi_watchdog(),
    counters = prep.counters,
    anchors = prep.anchors,
  }
end

-- Removes the cgroups of autoperfs that are gone (autoperf-PID-N whose
-- PID is not alive and which hold no task): their keeper was killed
-- before it could (SIGKILL of the whole session, say).
function M.remove_stale_cgroups()
  local home = core.cgroup_home()
  for _, e in ipairs(home and core.listdir(home) or {}) do
    local pid = e.name:match("^autoperf%-(%d+)%-%d+$")
    if pid and not util.exists("/proc/" .. pid) and util.read_line(home .. "/" .. e.name .. "/cgroup.procs") == nil then
      os.remove(home .. "/" .. e.name)
    end
  end
end

-- How the workload's tasks are counted: "system-wide" (-a: every task on
-- every CPU), "cgroup" (per CPU, only the tasks of a cgroup of the
-- workload's own: no copy of every counter into every new thread, per-CPU
-- data for free) or "task" (per task, inherited by every thread and
-- child: the fallback). opts.counting: "cgroup", "task" or nil/"auto"
-- (cgroup where the kernel and privileges allow it). Returns mode, why
-- (why auto fell back to "task"), or nil, message when the asked-for mode
-- cannot be had.
function M.counting_mode(opts, access, simulated)
  if opts.system_wide then return "system-wide" end
  local want = opts.counting or defaults.counting
  if want == "task" then return "task" end
  if want ~= "cgroup" and want ~= "auto" then
    return nil, string.format("counting mode '%s': expected auto, cgroup or task", tostring(want))
  end
  local why
  if simulated then
    why = "the simulated PMU counts per task"
  elseif not access.system_wide then
    why = string.format("counting per CPU needs perf_event_paranoid <= 0 or CAP_PERFMON (it is %s)",
      tostring(access.paranoid))
  else
    M.remove_stale_cgroups()
    local cg, err = core.cgroup()
    if cg then
      cg:close() -- removes it: it was a check that one can be made here
    else
      why = "no cgroup can be made here: " .. err
    end
  end
  if why and want == "cgroup" then
    return nil, "--counting cgroup: " .. why .. " (fix: run as root, sudo sysctl kernel.perf_event_paranoid=0, " ..
      "or --counting task)"
  end
  return why and "task" or "cgroup", why
end

-- Measures a prepared selection (see M.from_specs).
local function run(prep, given)
  local opts = {}
  for k, v in pairs(given) do opts[k] = v end
  opts.out = opts.out or defaults.output
  opts.interval_ms = opts.interval_ms or defaults.interval_ms
  opts.repetitions = opts.repetitions or defaults.repetitions
  opts.events = prep.events
  local progress = opts.progress or default_progress
  if not opts.argv or #opts.argv == 0 then return nil, "no command to profile", 2 end
  if not util.which(opts.argv[1]) then
    return nil, "command not found: " .. opts.argv[1], 127
  end
  local access = opts.access or machine.access()
  if access.none then
    return nil, string.format("perf_event_paranoid = %s: this kernel allows unprivileged users no perf events " ..
      "at all (fix: sudo sysctl kernel.perf_event_paranoid=2, or run as root)", tostring(access.paranoid)), 1
  end
  if prep.pinned and opts.cpus then
    return nil, "--core-type pins the workload to " .. prep.pinned.pmu .. "'s CPUs: give it or cpus, not both", 2
  end
  if opts.system_wide and not access.system_wide then
    return nil, string.format("-a (counting every CPU) needs perf_event_paranoid <= 0 or CAP_PERFMON; it is %s " ..
      "(fix: sudo sysctl kernel.perf_event_paranoid=0, or run as root)", tostring(access.paranoid)), 1
  end
  local counting, counting_why = M.counting_mode(opts, access, prep.simulated)
  if not counting then return nil, counting_why, 1 end
  opts.counting = counting
  -- a dry run plans what was asked for, as 'autoperf plan' does
  local unmeasurable, notes = {}, {}
  if not opts.dry_run then
    local events
    events, unmeasurable, notes = M.measurable(opts.events, access)
    if #events == 0 and #unmeasurable > 0 then return nil, nothing_measured(unmeasurable, prep.simulated), 1 end
    opts.events = events
  end
  local n_uncore = 0
  for _, ev in ipairs(opts.events) do
    if uncore_mod.is_uncore(ev) then n_uncore = n_uncore + 1 end
  end
  if n_uncore > 0 and not opts.system_wide and not opts.dry_run then
    notes[#notes + 1] = string.format("%d uncore event%s count system-wide per box, on the CPU its cpumask names: " ..
      "they count the whole socket (every process) while the workload runs, not the workload alone (the kernel " ..
      "refuses uncore events per task); the manifest marks them system_wide", n_uncore, n_uncore == 1 and "" or "s")
  end
  -- the caller's say before anything is measured (the CLI's warnings and
  -- these notes), once the command and the access are known to be fine
  if opts.preflight then opts.preflight(notes) end
  local cpus = machine.online_cpus()
  -- A leader that events need in their group and nothing selected
  -- provides (TOPDOWN.SLOTS for topdown metric events) is measured too.
  opts.events = plan_mod.with_leaders(opts.events, prep.anchors)
  -- Tags number the events; the planner and the run files use them.
  for i, ev in ipairs(opts.events) do ev.tag = i end
  -- Anchors: the selection's event where it has one, else an event of
  -- their own, tagged after the selection's.
  local anchor_list, anchor_only = {}, {}
  do
    local by_name = {}
    for _, ev in ipairs(opts.events) do by_name[ev.name] = ev end
    for _, a in ipairs(prep.anchors or {}) do
      if by_name[a.name] then
        -- one in a {group} of the user's stays there, no anchor
        if not by_name[a.name].group then anchor_list[#anchor_list + 1] = by_name[a.name] end
      else
        local ok = { a }
        if not opts.dry_run then ok = M.measurable(ok, access) end
        for _, m in ipairs(ok) do
          local copy = {}
          for k, v in pairs(m) do copy[k] = v end
          copy.tag = #opts.events + #anchor_only + 1
          anchor_only[#anchor_only + 1] = copy
          anchor_list[#anchor_list + 1] = copy
        end
      end
    end
  end
  local plan_opts = M.plan_options(prep, opts)
  plan_opts.anchors = anchor_list
  local plan, perr = plan_mod.make(opts.events, plan_opts)
  if not plan then return nil, perr, 1 end
  if opts.dry_run then return { plan = plan, dry_run = true, notes = notes, unmeasurable = unmeasurable } end

  -- Uncore events count per box, system-wide (uncore_boxes()).
  local all_events = {}
  for _, ev in ipairs(opts.events) do all_events[#all_events + 1] = ev end
  for _, ev in ipairs(anchor_only) do all_events[#all_events + 1] = ev end
  local sim = simulator(all_events, plan_opts.isolate)
  local uncore, instances = uncore_boxes(opts.events, #all_events + 1, sim)
  local gopts, gerr = guard_mod.options(opts)
  if not gopts then return nil, gerr, 2 end

  local names = {}
  for _, ev in ipairs(opts.events) do names[#names + 1] = ev.name end
  local reps = opts.repetitions
  local settings = {
    interval_ms = opts.interval_ms, repetitions = reps,
    system_wide = opts.system_wide and true or false,
    core_type = prep.pinned and prep.pinned.word or nil,
    smt = prep.smt,
    anchors = {},
  }
  for i, a in ipairs(anchor_list) do settings.anchors[i] = a.name end
  local manifest = {
    tool = "autoperf", version = version.VERSION,
    access = access.user_only and { user_only = true, perf_event_paranoid = access.paranoid } or nil,
    created = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    command = opts.argv, cwd = opts.cwd or os.getenv("PWD"),
    settings = settings,
    key = { command = opts.argv, events = names, settings = settings },
    machine = prep.machine or machine.describe(),
    pmus = { sysfs = prep.pmus, libpfm = core.pfm_pmus() or {} },
    events = {},
    plan = plan_mod.describe(plan),
    refused = {},
    -- --core-type: the half measured, and the CPUs the workload ran on
    pinned = prep.pinned and { core_type = prep.pinned.word, pmu = prep.pinned.pmu, cpus = prep.pinned.cpus } or nil,
    counting = { mode = counting, why = counting_why },
    anchors = {},
    guard = { on = gopts.on, tolerance = gopts.tolerance, remeasure = gopts.remeasure,
      note = gopts.on and string.format("a run whose anchors deviate from the median of the runs before it by " ..
        "more than %g%% (and %d robust spreads; times: %d ms) is measured again, up to %d more time%s",
        gopts.tolerance * 100, guard_mod.SPREADS, guard_mod.FLOOR_NS // 1000000, gopts.remeasure,
        gopts.remeasure == 1 and "" or "s") or "off" },
    metrics = prep.metrics and { file = prep.metrics.file, names = prep.metrics.names, skipped = prep.metrics.skipped,
                                 several_runs = prep.metrics.several, anchored = prep.metrics.anchored } or nil,
    simulated = prep.simulated and {
      model = prep.simulated,
      note = "hardware counts come from a simulated PMU: synthetic values derived from task-clock, not measurements",
    } or nil,
  }
  for i, ev in ipairs(opts.events) do
    manifest.events[i] = { name = ev.name, unit = M.unit(ev), source = ev.source, encoding = ev.encoding,
                           simulated = ev.simulated or nil, user_only = ev.user_only,
                           hybrid_cpus = not opts.system_wide and mask_of(ev)
                             and off_type_possible(mask_of(ev), opts.cpus or (prep.pinned and prep.pinned.cpu_list))
                             and ev.cpus or nil }
    local boxes = uncore and uncore[ev.pmu]
    if boxes then
      -- counted per box, system-wide, whatever the profile's mode
      manifest.events[i].system_wide, manifest.events[i].boxes = true, {}
      for _, b in ipairs(boxes) do
        table.insert(manifest.events[i].boxes, { unit = M.unit(b.inst[ev.tag]), cpus = b.box.cpus })
      end
    end
  end
  do
    local counter_of = {}
    for _, g in ipairs(plan.anchors or {}) do
      local names = g.counters and plan_mod.counter_names(g.counters) or {}
      for i, ev in ipairs(g.events) do counter_of[ev.name] = names[i] end
    end
    -- (an anchor the metrics read from their runs is one of their events)
    local in_sel = {}
    for _, ev in ipairs(opts.events) do in_sel[ev.name] = true end
    for _, name in ipairs(prep.metrics and prep.metrics.anchored or {}) do in_sel[name] = true end
    manifest.anchors[1] = { name = anchors_mod.DURATION, unit = "ns", note = "the run's wall-clock time (elapsed_ns)" }
    for _, a in ipairs(anchor_list) do
      manifest.anchors[#manifest.anchors + 1] = { name = a.name, unit = M.unit(a), counter = counter_of[a.name],
        in_selection = in_sel[a.name] or nil, simulated = a.simulated or nil }
    end
  end
  if uncore then
    manifest.uncore = {
      note = "uncore events are counted per box (UNIT is the box's PMU), system-wide on the CPUs each box's " ..
        "cpumask names: they count the whole socket while the workload runs, never summed over boxes",
      per_task_profile = not opts.system_wide or nil,
    }
  end
  local store, serr = store_mod.open(opts.out, manifest, { force = opts.force })
  if not store then return nil, serr, 1 end

  local closer = core.closer()
  -- the sampler's nice value while it samples: 10 below ours, where
  -- this process may lower it (root, CAP_SYS_NICE)
  local nice_up
  do
    local cur = core.nice()
    local want = math.max(-20, (cur or 0) - 10)
    if cur and want < cur and core.nice(want) then
      core.nice(cur)
      nice_up = want
    end
  end
  -- and real-time while it waits and reads, where this process may be
  -- (SCHED_FIFO 1; not when something else already set its policy)
  local realtime
  if core.realtime() == "other" and core.realtime(1) then
    core.realtime(0)
    realtime = 1
  end
  local ctx = { opts = opts, store = store, closer = closer, cpus = cpus, refused = {}, by_tag = {}, replanned = {},
                nice_up = nice_up, realtime = realtime,
                pinned = prep.pinned, off_type = {},
                sim = sim, uncore = uncore, plan = plan, anchor_tag = {} }
  for _, a in ipairs(anchor_list) do ctx.anchor_tag[a.tag] = a.name end
  for _, a in ipairs(anchor_only) do ctx.by_tag[a.tag] = a end
  for _, r in ipairs(manifest.refused) do ctx.refused[r.name] = r.error end
  for _, r in ipairs(unmeasurable) do ctx.refused[r.name] = r.error end
  for _, ev in ipairs(opts.events) do
    ctx.by_tag[ev.tag] = ev
    if uncore and uncore[ev.pmu] and #uncore[ev.pmu] == 0 then
      ctx.refused[ev.name] = "this machine's sysfs has no box of " .. ev.pmu
    end
  end
  for _, inst in ipairs(instances) do ctx.by_tag[inst.tag] = inst end
  -- A resumed profile replays the extra runs of the first attempt
  -- (planning is deterministic, so they come out the same).
  local earlier = manifest.replanned or {}
  manifest.replanned = nil
  local by_name = {}
  for _, ev in ipairs(opts.events) do by_name[ev.name] = ev end
  local from, order = {}, {}
  for _, rp in ipairs(earlier) do
    local r = math.tointeger(rp.from_run)
    if not from[r] then
      from[r] = {}
      order[#order + 1] = r
    end
    if by_name[rp.name] then from[r][#from[r] + 1] = { ev = by_name[rp.name], why = rp.why } end
  end
  for _, r in ipairs(order) do
    local rerr = replan(ctx, plan, manifest, r, from[r], plan_opts)
    if rerr then return nil, rerr, 1 end
  end
  core.trap_signals()

  local summary = { dir = opts.out, plan = plan, runs = 0, failed = {}, flagged = {}, resumed = 0 }
  local t_start = core.now_ns()
  -- (the anchors the user asked for count in the first run, as in the data)
  local n_sel_anchors = 0
  for _, a in ipairs(manifest.anchors) do
    if a.in_selection then n_sel_anchors = n_sel_anchors + 1 end
  end
  local function run_size(run)
    local n = run == plan.runs[1] and n_sel_anchors or 0
    for _, g in ipairs(run.groups) do n = n + #g.events end
    return n
  end
  -- Progress: executions done and to do, events measured, time left.
  local done_exec, done_events = 0, 0
  local attempt = 1
  local function report(ri, rep, now)
    local total_exec, total_events = #plan.runs * reps, 0
    for _, run in ipairs(plan.runs) do total_events = total_events + run_size(run) * reps end
    local elapsed = ((now or core.now_ns()) - t_start) / 1e9
    local fresh = done_exec - summary.resumed
    local eta = fresh > 0 and elapsed / fresh * (total_exec - done_exec) or nil
    progress({ run = ri, runs = #plan.runs, rep = rep, reps = reps, events_done = done_events,
               events_total = total_events, elapsed = elapsed, eta = eta, attempt = attempt })
  end
  -- The guard's history: the anchors of the runs accepted so far.
  local history = {}
  for _, e in ipairs(store.journal) do history[#history + 1] = anchors_mod.values(e) end
  local ri = 1
  while ri <= #plan.runs do
    local run = plan.runs[ri]
    local ran = false
    for rep = 1, reps do
      if store:is_done(ri, rep) then
        summary.resumed = summary.resumed + 1
        done_exec, done_events = done_exec + 1, done_events + run_size(run)
      else
        local sig = core.caught_signal()
        if sig then
          if closer then closer:stop() end
          return nil, "interrupted by signal " .. sig .. "; completed runs are kept, rerun to resume", 128 + sig
        end
        ctx.report = function(now) report(ri, rep, now) end
        attempt = 1
        report(ri, rep)
        ran = true
        local entry, eerr, code = execute(ctx, run, ri, rep)
        if not entry then
          if closer then closer:stop() end
          return nil, eerr, code
        end
        -- The guard: an outlier among the runs so far is measured again
        -- (its run file replaced), up to gopts.remeasure more times.
        if gopts.on then
          while true do
            local v = guard_mod.judge(history, anchors_mod.values(entry), gopts)
            if not v.outlier then
              entry.guard = not v.judged and "unjudged" or (attempt > 1 and "remeasured" or "ok")
              break
            end
            local why = guard_mod.why(v)
            if attempt > gopts.remeasure then
              entry.guard, entry.guard_why = "outlier", why
              break
            end
            manifest.remeasured = manifest.remeasured or {}
            manifest.remeasured[#manifest.remeasured + 1] = { run = ri, rep = rep, attempt = attempt,
              anchor = v.anchor, value = v.value, median = v.median, deviation = v.deviation, why = why }
            attempt = attempt + 1
            report(ri, rep)
            entry, eerr, code = execute(ctx, run, ri, rep)
            if not entry then
              if closer then closer:stop() end
              return nil, eerr, code
            end
          end
          entry.attempts = attempt
        end
        history[#history + 1] = anchors_mod.values(entry)
        done_exec, done_events = done_exec + 1, done_events + run_size(run)
        local leftovers = eerr
        if rep == 1 and #leftovers > 0 then
          local rerr = replan(ctx, plan, manifest, ri, leftovers, plan_opts)
          if rerr then return nil, rerr, 1 end
        end
        local cok, cerr = store:complete(entry)
        if not cok then return nil, cerr, 1 end
        for _, name in ipairs(entry.flagged or {}) do summary.flagged[#summary.flagged + 1] = name end
        local sp = entry.sampler
        if sp then
          local t = summary.sampler or { samples = 0, skipped = 0, median = 0, p99 = 0, max = 0 }
          t.samples, t.skipped = t.samples + sp.samples, t.skipped + sp.skipped
          -- the worst run's
          t.median = math.max(t.median, sp.late_ms.median)
          t.p99, t.max = math.max(t.p99, sp.late_ms.p99), math.max(t.max, sp.late_ms.max)
          t.priority = t.priority or sp.priority
          summary.sampler = t
        end
        summary.runs = summary.runs + 1
        if entry.exit_code ~= 0 or entry.timed_out then
          local what = string.format("run %d rep %d: %s", ri, rep, entry.status)
          summary.failed[#summary.failed + 1] = what
          -- as the shell reports it: the code, or 128 + the signal; a
          -- timeout as timeout(1) says it: 124
          local st = ctx.last_status
          summary.exit_status = summary.exit_status or (st.timed_out and 124) or (st.signal and 128 + st.signal)
            or st.code
          if opts.fail_fast then
            if closer then closer:stop() end
            store:save()
            return nil, "the workload failed (" .. what .. "); stopping (--fail-fast); completed runs are kept", 1
          end
        end
      end
    end
    -- Record refusals as they are learnt, so a resumed profile skips them.
    manifest.refused = {}
    for name, err in pairs(ctx.refused) do manifest.refused[#manifest.refused + 1] = { name = name, error = err } end
    table.sort(manifest.refused, function(a, b) return a.name < b.name end)
    -- (a run resumed from the journal changed nothing to save)
    if ran then
      local mok, merr = store:save()
      if not mok then return nil, merr, 1 end
    end
    ri = ri + 1
  end
  if closer then closer:stop() end
  summary.elapsed_s = (core.now_ns() - t_start) / 1e9
  summary.refused = manifest.refused
  summary.events = #opts.events + #unmeasurable - #manifest.refused
  summary.repetitions = reps
  summary.simulated = manifest.simulated
  summary.counting = manifest.counting
  summary.notes = notes
  summary.guard = { on = gopts.on, tolerance = gopts.tolerance, remeasure = gopts.remeasure,
                    remeasured = manifest.remeasured }
  summary.anchors = guard_mod.spread(store.journal, anchors_mod.names(manifest), gopts)
  for _, e in ipairs(store.journal) do
    if e.guard == "outlier" then
      summary.guard.outliers = summary.guard.outliers or {}
      table.insert(summary.guard.outliers, { run = e.run, rep = e.rep, why = e.guard_why })
    end
  end
  -- hybrid halves that ran part of the time only (their CPUs: see off_type)
  for pmu, cpus in pairs(ctx.off_type) do
    summary.off_type = summary.off_type or {}
    summary.off_type[#summary.off_type + 1] = pmu .. " on CPUs " .. cpus
  end
  if summary.off_type then table.sort(summary.off_type) end
  if summary.events == 0 and #manifest.refused > 0 then
    return nil, nothing_measured(manifest.refused, prep.simulated), 1
  end
  return summary
end

-- The one way to measure: specs (as for M.prepare; or opts.prepared, a
-- selection M.prepare made, for callers that measure it many times)
-- become a measured profile. opts: argv (the command), out (default
-- "out"), interval_ms (default 100), repetitions (default 1), system_wide,
-- force, dry_run, env, cwd, cpus, isolate, strategy, delay_ms (count from
-- this long after exec), roi (the workload says when, see
-- examples/include/autoperf.h), timeout_s (kill a run that takes longer),
-- fail_fast (stop at the first failing run), progress(fn({run=, runs=,
-- rep=, reps=, events_done=, events_total=, elapsed=, eta=})), access
-- (machine.access(), specs), and those of M.prepare. The signals the
-- runner traps go back to the caller's handlers at the end. Returns a
-- summary table ({plan=, dry_run=true, ...} for a dry run), or nil,
-- message, exit code.
function M.from_specs(specs, opts)
  opts = opts or {}
  local prep, err, code = opts.prepared, nil, nil
  if not prep then
    prep, err, code = M.prepare(specs, opts)
    if not prep then return nil, err, code end
  end
  local res = table.pack(run(prep, opts))
  core.release_signals()
  return table.unpack(res, 1, res.n)
end

return M
