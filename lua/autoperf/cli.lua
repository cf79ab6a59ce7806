-- The command line: parses arguments (cli/parser.lua: the table of
-- subcommands) and calls the chosen command's handler (cli/commands.lua),
-- which prints through cli/output.lua. Expected failures end as one line "autoperf: ..." and
-- a non-zero code.
local core = require "autoperf.core"
local out = require "autoperf.cli.output"
local parser = require "autoperf.cli.parser"

local M = {}

-- argv: the arguments (without the program name); env: {lua_dir=, argv0=}.
function M.main(argv, env)
  env = env or {}
  -- 'profile' and 'run' take the workload's (script's) arguments verbatim
  local args, verbatim = parser.split(argv)
  local p = parser.build()
  if #args == 0 then
    -- on a terminal: the prompt; otherwise what there is to do
    if core.isatty(0) and core.isatty(1) then return require("autoperf.repl").run() end
    io.stdout:write(p:get_help(), "\n")
    return 0
  end
  local ok, a = p:pparse(args)
  if not ok then
    out.errorf("%s", a)
    io.stderr:write("Try 'autoperf --help'.\n")
    return 2
  end
  local c = parser.chosen(a)
  if not c then
    out.errorf("unknown command '%s'", tostring(a.command))
    return 2
  end
  return require("autoperf.cli.commands")[c.run](a, env, verbatim)
end

return M
