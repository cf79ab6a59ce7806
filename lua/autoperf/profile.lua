-- profile: runs a workload once per planned run (and repetition), counting
-- every event of the run the whole time, sampling at intervals, and writes
-- the output directory (see store.lua). M.from_specs is the one way in
-- (the CLI, ap.profile, ap.measure and experiments): specs + options ->
-- catalog, selection, counters, PMUs (M.prepare), plan, run.
local capacity = require "autoperf.capacity"
local catalog = require "autoperf.catalog"
local core = require "autoperf.core"
local defaults = require "autoperf.defaults"
local machine = require "autoperf.machine"
local plan_mod = require "autoperf.plan"
local store_mod = require "autoperf.store"
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

-- Opens the run's groups on target (pid, or -1 with cpus). Events the
-- kernel refuses land in refused[name]; events that did not fit in the
-- descriptor budget, and hardware events the kernel refused beside the
-- others of their group (it validates a group at open: the plan asked for
-- more than the PMU can do), are returned as leftovers {ev=, why=} for
-- extra runs.
-- sim: nil, or the simulated PMUs {by_tag={tag={pmu=, facts=}}} (see
-- simulator()): their events go to simulated groups.
local function open_groups(run, pid, cpus, refused, manual, sim)
  local opened, leftovers = {}, {}
  local out_of_fds = false
  for _, cpu in ipairs(cpus) do
    for _, pg in ipairs(run.groups) do
      local s = sim and pg.events[1] and sim.by_tag[pg.events[1].tag]
      local function new_group()
        if s then return assert(s.pmu:group(pid, cpu, manual)) end
        return core.group(pid, cpu, manual)
      end
      local function add(g, ev)
        if s then return g:add(attr_of(ev), ev.tag, sim.by_tag[ev.tag].facts) end
        return g:add(attr_of(ev), ev.tag)
      end
      local g = new_group()
      for _, ev in ipairs(pg.events) do
        if not refused[ev.name] and not out_of_fds then
          local ok, err, errno = add(g, ev)
          if not ok and errno == E.E2BIG and g:size() > 0 then
            opened[#opened + 1] = { group = g, cpu = cpu }
            g = new_group()
            ok, err, errno = add(g, ev)
          end
          if not ok then
            if errno == E.EMFILE or errno == E.ENFILE then
              out_of_fds = true
            elseif is_hardware(ev) and g:size() > 0 and (errno == E.EINVAL or errno == E.ENOSPC) then
              if cpu == cpus[1] then
                leftovers[#leftovers + 1] = { ev = ev, why = "refused beside its group at open (" .. err .. ")" }
              end
            else
              refused[ev.name] = err
            end
          end
        end
        if out_of_fds and cpu == cpus[1] then
          leftovers[#leftovers + 1] = { ev = ev, why = "out of file descriptors" }
        end
      end
      if g:size() > 0 then opened[#opened + 1] = { group = g, cpu = cpu } end
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

-- One execution of the workload under one run's groups. Returns an entry
-- for the journal and the leftovers to re-plan, or nil, message, exit code.
local function execute(ctx, run, ri, rep)
  local opts = ctx.opts
  -- Counting starts at exec, unless a delay or the workload's region of
  -- interest (--roi) says when.
  local delay_ns = (opts.delay_ms or 0) * 1000000
  local manual = opts.roi or delay_ns > 0
  local roi, roi_fd
  local spawn_opts = { env = opts.env, cwd = opts.cwd, cpus = opts.cpus }
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
  local opened, leftovers = open_groups(run, target, cpus, ctx.refused, manual, ctx.sim)
  if cg then cg:close() end -- ours only: the keeper has it now
  local fname = store_mod.run_file(ri, rep)
  local w, werr = core.writer(ctx.store:path(fname), true)
  local function cleanup()
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
  local function set_counting(on)
    for _, o in ipairs(opened) do
      if on then o.group:enable() else o.group:disable() end
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
  if per_cpu and not manual then set_counting(true) end
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
    for _, o in ipairs(opened) do
      local put = o.group.snap and o.group.put or o.group.sample
      local sok, serr = put(o.group, w, index, t, o.cpu)
      if not sok then return nil, serr end
      rows = rows + o.group:size()
    end
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

  local interval_ns = (opts.interval_ms or 0) * 1000000
  local next_tick = interval_ns > 0 and t0 + interval_ns or math.maxinteger
  local delay_at = delay_ns > 0 and t0 + delay_ns or math.maxinteger
  local deadline = (opts.timeout_s or 0) > 0 and t0 + math.floor(opts.timeout_s * 1e9) or math.maxinteger
  local next_report = t0 + 250000000
  local status, timed_out
  while true do
    local now = core.now_ns()
    local wake = math.min(next_tick, delay_at, deadline, ctx.report and next_report or math.maxinteger)
    local timeout = wake == math.maxinteger and -1 or math.max(0, (wake - now + 999999) // 1000000)
    local st, werr2 = proc:wait(timeout, roi_fd)
    now = core.now_ns()
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
      local sok, serr = sample()
      if not sok then return fail(serr, 1) end
      -- Skip ticks we slept through rather than bunching samples.
      repeat next_tick = next_tick + interval_ns until next_tick > now
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
  if per_cpu then set_counting(false) end
  if not elapsed then return fail(serr, 1) end

  -- Verification: every event must have been counted the whole time;
  -- the ones that were not are measured again in extra runs.
  local flagged = {}
  for _, o in ipairs(opened) do
    local enabled, running = o.group:read()
    if enabled and running < enabled then
      for _, tag in ipairs(o.group:tags()) do
        local ev = ctx.by_tag[tag]
        if not seen[-tag] then
          seen[-tag] = true
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
  }, leftovers
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
  for i, p in ipairs(pmus) do
    sim.pmus[i] = core.sim_pmu({ counters = p.counters, shared = p.shared })
  end
  for _, h in ipairs(hw) do
    sim.by_tag[h.ev.tag] = {
      pmu = sim.pmus[h.pmu],
      facts = { allowed = h.allowed, shared = h.shared, alone = h.ev.taken_alone or false, pair = h.pair },
    }
  end
  return sim
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
  local tracepoints, user_only = 0, 0
  for _, ev in ipairs(events) do
    local explicit = ev.base or ev.exclude_user or ev.exclude_kernel or ev.exclude_hv
    if ev.available == false then
      refused[#refused + 1] = { name = ev.name, error = ev.why or "not measurable on this machine" }
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
    msg = msg .. "; this kernel has no hardware PMU: plan hardware events with 'autoperf plan --pmu MODEL', " ..
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
-- or what the kernel says) and the PMUs the manifest records. Returns
-- {catalog=, events=, counters=, counters_from=, pmus=, hardware=,
-- simulated=} or nil, message, exit code.
function M.prepare(specs, opts)
  opts = opts or {}
  local cat, err = catalog.load({ pmu = opts.pmu, events_json = opts.events_json, smt = opts.smt })
  if not cat then return nil, err, 1 end
  if type(specs) == "string" then specs = { specs } end
  local events
  if specs == nil or #specs == 0 then
    events = default_events(cat, opts.events_json)
  elseif type(specs[1]) == "string" then
    events, err = catalog.select(cat, specs)
    if not events then return nil, err, 2 end
  else
    events = specs
  end
  local counters, note = opts.counters, "given by the caller"
  if not counters then
    local cerr
    counters, note, cerr = capacity.plan_counters(cat, events)
    if cerr then return nil, cerr, 2 end
  end
  local pmus = {}
  for _, p in ipairs(cat.pmus) do pmus[#pmus + 1] = { name = p.name, type = p.type, events = #p.events } end
  return { catalog = cat, events = events, counters = counters, counters_from = counters and note or nil,
           pmus = pmus, hardware = cat.hardware, simulated = cat.sim and cat.sim.name }
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
  -- the caller's say before anything is measured (the CLI's warnings and
  -- these notes), once the command and the access are known to be fine
  if opts.preflight then opts.preflight(notes) end
  local cpus = machine.online_cpus()
  -- Tags number the events; the planner and the run files use them.
  for i, ev in ipairs(opts.events) do ev.tag = i end
  local plan_opts = M.plan_options(prep, opts)
  local plan, perr = plan_mod.make(opts.events, plan_opts)
  if not plan then return nil, perr, 1 end
  if opts.dry_run then return { plan = plan, dry_run = true, notes = notes, unmeasurable = unmeasurable } end

  local names = {}
  for _, ev in ipairs(opts.events) do names[#names + 1] = ev.name end
  local reps = opts.repetitions
  local settings = {
    interval_ms = opts.interval_ms, repetitions = reps,
    system_wide = opts.system_wide and true or false,
  }
  local manifest = {
    tool = "autoperf", version = version.VERSION,
    access = access.user_only and { user_only = true, perf_event_paranoid = access.paranoid } or nil,
    created = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    command = opts.argv, cwd = opts.cwd or os.getenv("PWD"),
    settings = settings,
    key = { command = opts.argv, events = names, settings = settings },
    machine = machine.describe(),
    pmus = { sysfs = prep.pmus, libpfm = core.pfm_pmus() or {} },
    events = {},
    plan = plan_mod.describe(plan),
    refused = {},
    counting = { mode = counting, why = counting_why },
    simulated = prep.simulated and {
      model = prep.simulated,
      note = "hardware counts come from a simulated PMU: synthetic values derived from task-clock, not measurements",
    } or nil,
  }
  for i, ev in ipairs(opts.events) do
    manifest.events[i] = { name = ev.name, unit = M.unit(ev), source = ev.source, encoding = ev.encoding,
                           simulated = ev.simulated or nil, user_only = ev.user_only }
  end
  local store, serr = store_mod.open(opts.out, manifest, { force = opts.force })
  if not store then return nil, serr, 1 end

  local closer = core.closer()
  local ctx = { opts = opts, store = store, closer = closer, cpus = cpus, refused = {}, by_tag = {}, replanned = {},
                sim = simulator(opts.events, plan_opts.isolate) }
  for _, r in ipairs(manifest.refused) do ctx.refused[r.name] = r.error end
  for _, r in ipairs(unmeasurable) do ctx.refused[r.name] = r.error end
  for _, ev in ipairs(opts.events) do ctx.by_tag[ev.tag] = ev end
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
  local function run_size(run)
    local n = 0
    for _, g in ipairs(run.groups) do n = n + #g.events end
    return n
  end
  -- Progress: executions done and to do, events measured, time left.
  local done_exec, done_events = 0, 0
  local function report(ri, rep, now)
    local total_exec, total_events = #plan.runs * reps, 0
    for _, run in ipairs(plan.runs) do total_events = total_events + run_size(run) * reps end
    local elapsed = ((now or core.now_ns()) - t_start) / 1e9
    local fresh = done_exec - summary.resumed
    local eta = fresh > 0 and elapsed / fresh * (total_exec - done_exec) or nil
    progress({ run = ri, runs = #plan.runs, rep = rep, reps = reps, events_done = done_events,
               events_total = total_events, elapsed = elapsed, eta = eta })
  end
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
        report(ri, rep)
        ran = true
        local entry, eerr, code = execute(ctx, run, ri, rep)
        if not entry then
          if closer then closer:stop() end
          return nil, eerr, code
        end
        done_exec, done_events = done_exec + 1, done_events + run_size(run)
        local leftovers = eerr
        if rep == 1 and #leftovers > 0 then
          local rerr = replan(ctx, plan, manifest, ri, leftovers, plan_opts)
          if rerr then return nil, rerr, 1 end
        end
        local cok, cerr = store:complete(entry)
        if not cok then return nil, cerr, 1 end
        for _, name in ipairs(entry.flagged or {}) do summary.flagged[#summary.flagged + 1] = name end
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
