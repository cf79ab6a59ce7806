-- cjson for static builds (make STATIC=1): a static binary cannot load
-- lua-cjson's C module, so this stands in for the part autoperf uses
-- (decode, null) on top of the pure-Lua dkjson. Slower on large perfmon
-- files, identical results: numbers stay numbers, JSON null is M.null.
-- Copied beside the autoperf modules of a static build only.
local dkjson = require "dkjson"

local M = {}

-- A unique sentinel, as lua-cjson's lightuserdata null.
M.null = setmetatable({}, { __tostring = function() return "null" end })

function M.decode(s)
  local v, _, err = dkjson.decode(s, 1, M.null)
  if err then error(err, 2) end
  return v
end

function M.encode(v)
  return dkjson.encode(v)
end

return M
