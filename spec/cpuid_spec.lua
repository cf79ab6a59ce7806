-- core.cpuid: the PMU models read counter counts from CPUID (AMD's
-- PerfMonV2 leaf 0x80000022) where the kernel does.
local T = require "spec.support"
local core = require "autoperf.core"

describe("core.cpuid", function()
  it("reads the vendor the kernel reports, and refuses a leaf above the highest", function()
    if core.ARCH ~= "x86_64" then
      local v, err = core.cpuid(0)
      assert.is_nil(v)
      assert.matches("x86 only", err)
      return
    end
    local max, b, c, d = core.cpuid(0)
    assert.is_true(max >= 1)
    local function str(x)
      return string.char(x & 0xff, (x >> 8) & 0xff, (x >> 16) & 0xff, (x >> 24) & 0xff)
    end
    local vendor = T.slurp("/proc/cpuinfo"):match("vendor_id%s*:%s*(%S+)")
    assert.equal(vendor, str(b) .. str(d) .. str(c))
    local top = core.cpuid(0x80000000)
    if top < 0xffffffff then
      local v, err = core.cpuid(top + 1)
      assert.is_nil(v)
      assert.matches("above this CPU's highest", err)
    end
    assert.has_error(function() core.cpuid(-1) end)
  end)
end)
