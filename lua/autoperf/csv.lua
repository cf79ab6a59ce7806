-- csv: the CSV that autoperf writes, for every Lua module (core/aggregate.c
-- quotes results.csv's fields the same way).
local M = {}

-- A CSV field: quoted when it holds a comma, a quote or a newline.
function M.field(v)
  v = tostring(v)
  if v:find('[,"\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

-- A number for CSV: integers exactly, others to 17 significant digits;
-- NaN and nil as an empty field.
function M.number(v)
  if v == nil or v ~= v then return "" end
  local i = math.tointeger(v)
  if i then return tostring(i) end
  return string.format("%.17g", v)
end

-- Writes path (atomically, through util.write_with; .gz compresses; base
-- as there): header (a line with its newline), then one line per row of
-- rows, its cells(row) joined by commas. Returns path, or nil, message.
function M.write_rows(path, header, rows, cells, base)
  return require("autoperf.util").write_with(path, function(write)
    write(header)
    for _, x in ipairs(rows) do write(table.concat(cells(x), ","), "\n") end
  end, base)
end

return M
