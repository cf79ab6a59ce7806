-- plot: draws with gnuplot (Debian's gnuplot-nox). Every image comes with
-- its gnuplot script (NAME.gp) and data beside it, so a user can restyle
-- it and redraw with 'gnuplot NAME.gp' in that directory.
local util = require "autoperf.util"

local M = {}

M.FORMATS = { png = "pngcairo", svg = "svg" }

-- A gnuplot string literal (single quotes double inside).
function M.str(s)
  return "'" .. tostring(s):gsub("'", "''") .. "'"
end

-- The first lines of a script drawing image (its extension decides the
-- format: .png or .svg) at w x h pixels. The output file is the variable
-- out, so that M.draw can redirect it: gnuplot -e "out='x.tmp'" NAME.gp.
function M.header(image, w, h)
  local format = image:match("%.(%w+)$")
  local term = M.FORMATS[format]
  if not term then return nil, "unknown image format of '" .. image .. "' (.png or .svg)" end
  return table.concat({
    string.format("set terminal %s size %d,%d font 'sans,9'%s", term, w, h,
      format == "svg" and " background rgb 'white'" or ""),
    "if (!exists('out')) out = " .. M.str(image),
    "set output out",
  }, "\n") .. "\n"
end

-- Writes dir/name.gp (script: begins with M.header(image, ...); data
-- files named relative to dir) and runs gnuplot there. Returns the image
-- path, or nil, message (gnuplot's first line of complaint).
function M.draw(dir, name, image, script)
  local gp = dir .. "/" .. name .. ".gp"
  local ok, err = util.write_atomic(gp, script)
  if not ok then return nil, err end
  if not util.which("gnuplot") then
    return nil, "gnuplot is not installed (scripts/bootstrap installs gnuplot-nox); the script is " .. gp
  end
  -- Drawn under a temporary name, then renamed: a failed drawing never
  -- leaves a half image behind.
  local tmp = image .. ".tmp"
  local cmd = string.format("cd %s && gnuplot -e %s 2>&1",
    util.shell_join({ dir }), util.shell_join({ "out = " .. M.str(tmp), name .. ".gp" }))
  local p = io.popen(cmd)
  local out = p:read("a")
  local _, _, code = p:close()
  if code ~= 0 or not util.exists(dir .. "/" .. tmp) then
    os.remove(dir .. "/" .. tmp)
    local first = out:match("[^\n]*[^\n%s][^\n]*") or "no output"
    return nil, string.format("gnuplot failed on %s: %s", gp, util.trim(first))
  end
  local path = dir .. "/" .. image
  local rok, rerr = os.rename(dir .. "/" .. tmp, path)
  if not rok then return nil, rerr end
  return path
end

return M
