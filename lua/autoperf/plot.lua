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

-- A gnuplot string literal that may span lines: double quotes, in which
-- gnuplot reads \n as a line break (titles of several lines).
function M.lines(s)
  return '"' .. tostring(s):gsub('[\\"]', "\\%0"):gsub("\n", "\\n") .. '"'
end

-- The first lines of a script drawing image (its extension decides the
-- format: .png or .svg) at w x h pixels. The output file is the variable
-- out (default image, beside the script), so a user can redirect it:
-- gnuplot -e "out='x.png'" NAME.gp.
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
-- files named relative to dir) and draws it with gnuplot. base
-- (optional): the directory dir lies below, as for util.write_with; data:
-- the names of the files in dir the script reads. Returns the image
-- path, or nil, message (gnuplot's first line of complaint).
function M.draw(dir, name, image, script, base, data)
  local gp = dir .. "/" .. name .. ".gp"
  local ok, err = util.write_atomic(gp, script, base)
  if not ok then return nil, err end
  if not util.which("gnuplot") then
    return nil, "gnuplot is not installed (scripts/bootstrap installs gnuplot-nox); the script is " .. gp
  end
  -- gnuplot (run as root, maybe) works in a private directory of ours on
  -- our own copy of the script: a directory someone else controls could
  -- have dir swapped for a link to their own script (gnuplot runs shell
  -- commands) or a name planted for the image to be written through. The
  -- image is then written in place as every other file is; a failed
  -- drawing leaves no half image behind.
  local private, terr = core.mkdtemp()
  if not private then return nil, terr end
  local made = { private .. "/" .. name .. ".gp", private .. "/" .. image }
  local function done(...)
    for _, f in ipairs(made) do os.remove(f) end
    os.remove(private)
    return ...
  end
  ok, err = util.write_atomic(made[1], script)
  if not ok then return done(nil, err) end
  for _, f in ipairs(data or {}) do
    local bytes, rerr = util.read_own(dir .. "/" .. f)
    if not bytes then return done(nil, rerr or (dir .. "/" .. f .. ": missing")) end
    made[#made + 1] = private .. "/" .. f
    ok, err = util.write_atomic(made[#made], bytes)
    if not ok then return done(nil, err) end
  end
  local cmd = string.format("cd %s && gnuplot %s 2>&1", util.shell_join({ private }), util.shell_join({ name .. ".gp" }))
  local p = io.popen(cmd)
  local out = p:read("a")
  local _, _, code = p:close()
  local bytes = code == 0 and util.read_own(made[2])
  if not bytes then
    local first = out:match("[^\n]*[^\n%s][^\n]*") or "no output"
    return done(nil, string.format("gnuplot failed on %s: %s", gp, util.trim(first)))
  end
  local path = dir .. "/" .. image
  local wok, werr = util.write_atomic(path, bytes, base)
  if not wok then return done(nil, werr) end
  return done(path)
end

return M
