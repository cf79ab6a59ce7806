-- System-wide counting (-a): counters count only while the command runs.
local T = require "spec.support"

describe("profile -a", function()
  it("counts from the command's start to its end: no CPU's cpu-clock exceeds the time it was given", function()
    if not require("autoperf.machine").access().system_wide then
      return pending("this user may not count system-wide (perf_event_paranoid)")
    end
    local dir = T.tmpdir()
    finally(function() T.rmtree(dir) end)
    -- every event: thousands of per-CPU counters to start and stop
    local out = dir .. "/a"
    local _, err, code = T.autoperf("profile", "-q", "-a", "-I", "100", "-o", out, "--", "sleep", "0.3")
    assert.equal(0, code, err)
    assert.equal(0, select(3, T.autoperf("aggregate", out)))
    local first, total, times, last_time = {}, {}, {}, 0
    for i, row in ipairs(T.csv(out .. "/results.csv")) do
      if i > 1 and row[1] == "cpu-clock" then
        local index, time, cpu, v = tonumber(row[2]), tonumber(row[3]), row[6], tonumber(row[9])
        if index == 0 then first[cpu] = v end
        times[index] = time
        total[cpu] = (total[cpu] or 0) + v
        last_time = math.max(last_time, time)
      end
    end
    assert.is_number(times[0])
    -- cpu-clock counts the CPU's time (idle too) while counting: at most
    -- the interval, with slack for the kernel's clock against ours
    local function most(s) return s * 1e9 * 1.01 + 1e6 end
    local n = 0
    for cpu, v in pairs(first) do
      n = n + 1
      assert.is_true(v <= most(times[0]), string.format("cpu %s: %.1f ms of cpu-clock in the first %.1f ms",
        cpu, v / 1e6, times[0] * 1e3))
      assert.is_true(total[cpu] <= most(last_time), string.format("cpu %s: %.1f ms of cpu-clock in a %.1f ms run",
        cpu, total[cpu] / 1e6, last_time * 1e3))
    end
    assert.is_true(n >= 1)
  end)
end)
