-- The fields of one entry of a JSON event file (Intel's perfmon files,
-- the kernel's pmu-events), read as hostile input: a field that is not
-- what the format holds raises {field=, why=} (fields.bad), which the
-- reader turns into one line naming file, entry and field.
local cjson = require "cjson"
local util = require "autoperf.util"

local M = {}

function M.bad(field, why)
  error({ field = field, why = why }, 0)
end
local bad = M.bad

-- What a JSON value is, for messages: "an array", "a boolean", ...
function M.jtype(v)
  if type(v) == "table" then
    if next(v) == nil then return "an empty array or object" end
    return v[1] ~= nil and "an array" or "an object"
  end
  return "a " .. type(v)
end

function M.absent(v)
  return v == nil or v == cjson.null
end
local absent = M.absent

-- A string that stands for no value in Intel's files.
function M.no_value(s)
  return s == "" or s == "null" or s == "NA" or s == "N/A"
end
local no_value = M.no_value

-- One integer (0..max when max is given) from a number or a numeric
-- string ("0x1a0", "26"); nil when absent or "NA".
function M.int(e, field, max)
  local v = e[field]
  if absent(v) then return nil end
  local n
  if type(v) == "number" then
    n = math.tointeger(v)
    if not n then bad(field, "expected an integer, not " .. tostring(v)) end
  elseif type(v) == "string" then
    local t = util.trim(v)
    if no_value(t) then return nil end
    n = util.parse_int(t) -- 64 bits; above 2^63 wraps negative: out of range below
    if not n then bad(field, "'" .. util.printable(t, 40) .. "' is not an integer") end
  else
    bad(field, "expected a number or a string, not " .. M.jtype(v))
  end
  if max and (n < 0 or n > max) then
    local shown = type(v) == "number" and tostring(n) or util.printable(util.trim(v), 40)
    bad(field, string.format("%s is out of range (0-0x%x)", shown, max))
  end
  return n
end

-- A text field: a string, or nil when absent.
function M.text(e, field)
  local v = e[field]
  if absent(v) then return nil end
  if type(v) ~= "string" then bad(field, "expected a string, not " .. M.jtype(v)) end
  return v
end

return M
