-- Loaded by busted before the specs (make check passes --helper): the
-- tree's Lua modules and the built core module come first on the paths.
local build = os.getenv("AUTOPERF_BUILD") or "build"
package.path = "./lua/?.lua;./lua/?/init.lua;./?.lua;" .. package.path
package.cpath = build .. "/lib/?.so;" .. package.cpath
