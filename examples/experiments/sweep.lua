-- A parameter sweep: the bundled `threads` workload (examples/workloads/
-- threads.c) over memory sizes and thread counts, three repetitions each,
-- with metrics derived in-process.
--   autoperf run experiments/sweep.lua [OUT]
-- Writes OUT (default sweep-out)/tidy.csv: one row per configuration x
-- repetition x event. Interrupt it and rerun: only what is missing runs.
local ap = require "autoperf"

local out = ... or "sweep-out"
local threads = assert(ap.workload("threads"))

local ex = ap.experiment {
  name = "sweep",
  out = out,
  params = { { "kb", { 1024, 4096, 16384 } }, { "threads", { 1, 2 } } },
  repetitions = 3,
  warmup = 1,
  events = { "task-clock", "page-faults", "context-switches", "syscalls:sys_enter_write" },
  command = function(p) return { threads, p.kb, p.threads, 100 } end,
  derive = {
    -- one fault per 4 KiB page touched, plus the program's own
    faults_per_mb = function(r, p) return r["page-faults"] / (p.kb * p.threads / 1024) end,
    writes_per_thread = function(r, p) return r["syscalls:sys_enter_write"] / p.threads end,
    task_clock_ms = function(r) return r["task-clock"] / 1e6 end,
  },
}
local s = assert(ex:run())
print(string.format("sweep: %d configurations (%d measured now), %d rows in %s",
  s.configurations, s.measured, s.rows, s.tidy))
