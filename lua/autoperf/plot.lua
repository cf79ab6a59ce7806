-- plot: draws with gnuplot (Debian's gnuplot-nox). Every image comes with
-- its gnuplot script (NAME.gp) and data beside it, so a user can restyle
-- it and redraw with 'gnuplot NAME.gp' in that directory.
local core = require "autoperf.core"
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
-- files named relative to dir) and runs gnuplot there. base (optional):
-- the directory dir lies below, as for util.write_with. Returns the image
-- path, or nil, message (gnuplot's first line of complaint).
function M.draw(dir, name, image, script, base)
  local gp = dir .. "/" .. name .. ".gp"
  local ok, err = util.write_atomic(gp, script, base)
  if not ok then return nil, err end
  if not util.which("gnuplot") then
    return nil, "gnuplot is not installed (scripts/bootstrap installs gnuplot-nox); the script is " .. gp
  end
  -- Drawn into a private directory of ours, then written in place as
  -- every other file is: gnuplot (run as root, maybe) never opens a name
  -- in a directory someone else controls for writing, and a failed
  -- drawing never leaves a half image behind.
  local private, terr = core.mkdtemp()
  if not private then return nil, terr end
  local tmp = private .. "/" .. image
  local cmd = string.format("cd %s && gnuplot -e %s 2>&1",
    util.shell_join({ dir }), util.shell_join({ "out = " .. M.str(tmp), name .. ".gp" }))
  local p = io.popen(cmd)
  local out = p:read("a")
  local _, _, code = p:close()
  local bytes = code == 0 and util.read_own(tmp)
  os.remove(tmp)
  os.remove(private)
  if not bytes then
    local first = out:match("[^\n]*[^\n%s][^\n]*") or "no output"
    return nil, string.format("gnuplot failed on %s: %s", gp, util.trim(first))
  end
  local path = dir .. "/" .. image
  local wok, werr = util.write_atomic(path, bytes, base)
  if not wok then return nil, werr end
  return path
end

return M
