-- slurm: an experiment script as a Slurm job array (one slice of the
-- configurations per task, `autoperf run SCRIPT --shard K/N`) and a
-- dependent job that merges the slices (an unsharded run, which finds
-- every configuration measured and writes tidy.csv).
local core = require "autoperf.core"
local util = require "autoperf.util"

local M = {}

-- The current directory as PWD names it, or nil, message when PWD is
-- unset or names another directory (one left by a parent that changed
-- directory without a shell: env -C, a subprocess started with cwd=).
-- The scripts carry absolute paths, so a wrong one sends the jobs and
-- their output elsewhere. Lua has no getcwd: a file made here must be
-- seen through PWD.
function M.cwd(pwd)
  local fix = "; run autoperf slurm from a shell in the directory (cd DIR && autoperf slurm ...)"
  if not pwd or pwd:sub(1, 1) ~= "/" then return nil, "PWD is not set" .. fix end
  local probe = string.format(".autoperf-slurm-probe-%d-%d", core.now_ns(), math.random(1 << 30))
  local f, err = io.open(probe, "w")
  if not f then return nil, "cannot write the batch scripts here: " .. err end
  f:close()
  local seen = io.open(pwd .. "/" .. probe, "r")
  if seen then seen:close() end
  os.remove(probe)
  if not seen then return nil, "PWD (" .. pwd .. ") is not the current directory" .. fix end
  return pwd
end

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function abs(path, cwd)
  if path:sub(1, 1) == "/" then return path end
  return cwd .. "/" .. path
end

-- Writes PREFIX.slices.sbatch, PREFIX.merge.sbatch and PREFIX.submit.sh
-- (which submits both, the merge after every slice succeeded; a failed
-- slice cancels the merge).
-- opts: bin (autoperf), script, args, shards, prefix, cwd, sbatch (extra
-- #SBATCH lines, e.g. {"--partition=debug"}). Returns the submit
-- script's path or nil, message.
function M.write(opts)
  local cwd = opts.cwd
  local n = opts.shards
  if not n or n < 1 or n ~= math.floor(n) then return nil, "--shards must be a whole number >= 1" end
  local bin, script = abs(opts.bin, cwd), abs(opts.script, cwd)
  local name = (opts.script:match("([^/]+)%.lua$") or "experiment"):gsub("[^%w_%-]", "_")
  local prefix = opts.prefix or name
  local args = {}
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = quote(a) end
  local argstr = #args > 0 and (" " .. table.concat(args, " ")) or ""
  local extra = {}
  for _, l in ipairs(opts.sbatch or {}) do extra[#extra + 1] = "#SBATCH " .. l end
  local head = function(job, array)
    local lines = {
      "#!/bin/sh",
      "# Written by autoperf slurm: " .. (array and "the slices" or "the merge") .. " of " .. opts.script,
      "#SBATCH --job-name=" .. name .. "-" .. job,
      "#SBATCH --chdir=" .. cwd,
      "#SBATCH --output=" .. cwd .. "/slurm-" .. name .. "-" .. job .. (array and "-%a" or "") .. ".out",
      "#SBATCH --ntasks=1",
    }
    if array then
      lines[#lines + 1] = "#SBATCH --array=1-" .. n
    else
      -- after a failed slice the dependency can never be met: Slurm
      -- would keep the merge pending forever unless told to cancel it
      lines[#lines + 1] = "#SBATCH --kill-on-invalid-dep=yes"
    end
    for _, l in ipairs(extra) do lines[#lines + 1] = l end
    return table.concat(lines, "\n") .. "\nset -eu\n"
  end
  local slices = head("slice", true) ..
    string.format("exec %s run %s%s --shard \"$SLURM_ARRAY_TASK_ID/%d\"\n", quote(bin), quote(script), argstr, n)
  local merge = head("merge", false) .. string.format("exec %s run %s%s\n", quote(bin), quote(script), argstr)
  local submit = table.concat({
    "#!/bin/sh",
    "# Submits the slices of " .. opts.script .. " as a job array and the merge after them.",
    "set -eu",
    "cd " .. quote(cwd),
    "slices=$(sbatch --parsable " .. quote(prefix .. ".slices.sbatch") .. ")",
    "slices=${slices%%;*}",
    "merge=$(sbatch --parsable --dependency=afterok:$slices " .. quote(prefix .. ".merge.sbatch") .. ")",
    "echo \"submitted: slices job $slices (" .. n .. " tasks), merge job ${merge%%;*}\"",
    "",
  }, "\n")
  for _, f in ipairs({ { ".slices.sbatch", slices }, { ".merge.sbatch", merge }, { ".submit.sh", submit } }) do
    local ok, err = util.write_atomic(prefix .. f[1], f[2])
    if not ok then return nil, err end
  end
  os.execute("chmod +x " .. quote(prefix .. ".submit.sh"))
  return prefix .. ".submit.sh"
end

return M
