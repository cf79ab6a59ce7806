local M = {} function M.main(argv) print("hello", #argv) return 0 end return M
