-- Metric formulas: our own tokenizer and parser for the two dialects
-- metric files are written in, compiled to closures. Foreign text is never
-- given to load(): a formula can only compute arithmetic over the names
-- the caller resolves.
--
--   intel: Intel's metric files (Formula, BaseFormula, Threshold.Formula):
--          aliases a, b, a_a, constants, `x if c else y`, min(), max(),
--          comparisons, `&` `|` between comparisons
--   perf:  Linux perf's MetricExpr: event names with `\,` `\=` escapes and
--          pmu@term,term@ spellings, #constants, duration_time,
--          source_count(ev), d_ratio(a, b), has_event(ev), strcmp_cpuid_str(id),
--          `x if c else y`
--
-- Precedence follows perf's tools/perf/util/expr.y (lowest first):
-- `if else`, `|` / or, `^` (xor), `&` / and, comparisons, `+ -`, `* / %`, unary;
-- so `a > 10 & b > 15` is (a > 10) & (b > 15), which is what Intel's
-- threshold formulas mean (Python would read it otherwise).
--
--   local ast, err = parse.parse("a / b if c else 0", "intel")
--   local names = parse.names(ast)          -- {"a", "b", "c"}
--   local f = parse.compile(ast, function(name) return slot end)
--   f(lookup)                               -- lookup(slot) -> number
local M = {}

-- Bounds for hostile input: the longest published formula is under 8 KB
-- and nests about 20 deep.
M.MAX_LENGTH = 65536
M.MAX_DEPTH = 200
M.MAX_TOKENS = 20000

local KEYWORDS = { ["if"] = true, ["else"] = true, ["and"] = true, ["or"] = true, ["not"] = true }
local FUNCS = { min = -2, max = -2, d_ratio = 2, source_count = 1, has_event = 1, strcmp_cpuid_str = 1 }
-- functions whose argument is a name (or a CPU id), given to bind
local NAMED = { source_count = true, has_event = true, strcmp_cpuid_str = true }
M.FUNCTIONS = FUNCS

local function perr(pos, msg) return { pos = pos, msg = msg } end

-- Tokens: {k="num"|"name"|"op"|"kw"|"end", v=, pos=}; nil, {pos=, msg=}.
local function tokenize(src, dialect)
  local toks, i, n = {}, 1, #src
  while true do
    local s = src:find("[^%s]", i)
    if not s then break end
    i = s
    if #toks >= M.MAX_TOKENS then return nil, perr(i, "more than " .. M.MAX_TOKENS .. " tokens") end
    local c = src:sub(i, i)
    local num = src:match("^0[xX]%x+", i) or src:match("^%d+%.?%d*[eE][%+%-]?%d+", i)
      or src:match("^%.%d+[eE][%+%-]?%d+", i) or src:match("^%d+%.?%d*", i) or src:match("^%.%d+", i)
    if num then
      local v = tonumber(num)
      if not v then return nil, perr(i, "bad number '" .. num .. "'") end
      toks[#toks + 1] = { k = "num", v = v, pos = i, text = num }
      i = i + #num
      -- a number glued to a name (9abc) is not a formula
      if src:find("^[%a_]", i) then return nil, perr(i, "unexpected character after number") end
    elseif c:match("[%a_#]") or (dialect == "perf" and c == "\\") then
      -- a name: letters, digits, _ and . (INST_RETIRED.ANY); perf's names
      -- also take backslash escapes (\, \= \-), pmu@...@ terms, :modifiers
      local buf, j, at, modded = {}, i, false, false
      while j <= n do
        local ch = src:sub(j, j)
        if dialect == "perf" and ch == "\\" then
          if j == n then return nil, perr(j, "backslash at the end") end
          buf[#buf + 1] = src:sub(j + 1, j + 1)
          j = j + 2
        elseif dialect == "perf" and ch == "@" then
          at = not at
          buf[#buf + 1] = ch
          j = j + 1
        elseif at then
          if ch:match("[%s]") then return nil, perr(j, "space inside '@...@'") end
          buf[#buf + 1] = ch
          j = j + 1
        elseif ch:match("[%w_%.]") or (ch == "#" and j == i)
          or (ch == ":" and src:sub(j + 1, j + 1):match("[%a]"))
          or (ch == "=" and modded and src:sub(j + 1, j + 1):match("[%w]")) then
          -- EVENT:c1:e1, EVENT:ocr_msr_val=0x103b800002
          modded = modded or ch == ":"
          buf[#buf + 1] = ch
          j = j + 1
        else
          break
        end
      end
      if at then return nil, perr(i, "'@' without its closing '@'") end
      local name = table.concat(buf)
      if name == "#" then return nil, perr(i, "'#' without a constant's name") end
      toks[#toks + 1] = { k = KEYWORDS[name] and "kw" or "name", v = name, pos = i }
      i = j
    else
      local op = src:match("^[<>=!]=", i) or src:match("^%*%*", i) or src:match("^&&", i)
        or src:match("^||", i) or src:match("^[%+%-%*/%%<>&|%^%(%),!]", i)
      if not op then return nil, perr(i, "unexpected character '" .. (c:match("%g") and c or string.format("\\x%02x", c:byte())) .. "'") end
      toks[#toks + 1] = { k = "op", v = op, pos = i }
      i = i + #op
    end
  end
  toks[#toks + 1] = { k = "end", v = "end of formula", pos = n + 1 }
  return toks
end

-- Recursive descent over the tokens. Nodes: {"num", v}, {"var", name},
-- {"call", fname, args}, {"neg", x}, {"not", x}, {op, a, b} for binary
-- operators, {"if", then, cond, else}. Every node keeps its pos.
local function parser(toks)
  local p, depth = 1, 0
  local P = {}
  local function peek() return toks[p] end
  local function fail(t, msg) error(perr(t.pos, msg), 0) end
  local function is(k, v)
    local t = toks[p]
    return t.k == k and (v == nil or t.v == v)
  end
  local function expect(k, v)
    local t = toks[p]
    if t.k ~= k or t.v ~= v then fail(t, "expected '" .. v .. "', found '" .. tostring(t.v) .. "'") end
    p = p + 1
    return t
  end
  local function enter(t)
    depth = depth + 1
    if depth > M.MAX_DEPTH then fail(t, "nested deeper than " .. M.MAX_DEPTH) end
  end

  function P.expr()
    local t = peek()
    enter(t)
    local x = P.orx()
    if is("kw", "if") then
      local at = toks[p]
      p = p + 1
      local c = P.orx()
      expect("kw", "else")
      local y = P.expr()
      x = { "if", x, c, y, pos = at.pos }
    end
    depth = depth - 1
    return x
  end
  local function binary(next, ops)
    return function()
      local x = next()
      while true do
        local t = peek()
        local op = (t.k == "op" or t.k == "kw") and ops[t.v]
        if not op then return x end
        p = p + 1
        x = { op, x, next(), pos = t.pos }
      end
    end
  end
  function P.unary()
    local t = peek()
    if is("op", "-") or is("op", "+") or is("op", "!") or is("kw", "not") then
      enter(t)
      p = p + 1
      local x = P.unary()
      depth = depth - 1
      if t.v == "+" then return x end
      return { t.v == "-" and "neg" or "not", x, pos = t.pos }
    end
    return P.power()
  end
  function P.power()
    local x = P.atom()
    if is("op", "**") then
      local t = toks[p]
      p = p + 1
      return { "^", x, P.unary(), pos = t.pos }
    end
    return x
  end
  function P.atom()
    local t = peek()
    if t.k == "num" then
      p = p + 1
      return { "num", t.v, pos = t.pos, text = t.text }
    elseif t.k == "name" then
      p = p + 1
      if is("op", "(") then
        local arity = FUNCS[t.v]
        if not arity then fail(t, "unknown function '" .. t.v .. "'") end
        p = p + 1
        local args = {}
        if not is("op", ")") then
          args[1] = P.expr()
          while is("op", ",") do
            p = p + 1
            args[#args + 1] = P.expr()
          end
        end
        expect("op", ")")
        if (arity > 0 and #args ~= arity) or (arity < 0 and #args < -arity) then
          fail(t, t.v .. "() takes " .. (arity > 0 and arity or (-arity .. " or more")) .. " arguments, not " .. #args)
        end
        if (t.v == "source_count" or t.v == "has_event") and args[1][1] ~= "var" then
          fail(t, t.v .. "() takes an event name")
        end
        if t.v == "strcmp_cpuid_str" and args[1][1] ~= "var" and args[1][1] ~= "num" then
          fail(t, t.v .. "() takes a CPU id")
        end
        return { "call", t.v, args, pos = t.pos }
      end
      return { "var", t.v, pos = t.pos }
    elseif is("op", "(") then
      enter(t)
      p = p + 1
      local x = P.expr()
      expect("op", ")")
      depth = depth - 1
      return x
    end
    fail(t, t.k == "end" and "unexpected end of formula" or ("unexpected '" .. tostring(t.v) .. "'"))
  end
  local mul = binary(P.unary, { ["*"] = "*", ["/"] = "/", ["%"] = "%" })
  local add = binary(mul, { ["+"] = "+", ["-"] = "-" })
  local cmp = binary(add, { ["<"] = "<", [">"] = ">", ["<="] = "<=", [">="] = ">=", ["=="] = "==", ["!="] = "!=" })
  local andx = binary(cmp, { ["&"] = "and", ["&&"] = "and", ["and"] = "and" })
  local xorx = binary(andx, { ["^"] = "xor" }) -- perf's: true when exactly one side is non-zero
  P.orx = binary(xorx, { ["|"] = "or", ["||"] = "or", ["or"] = "or" })

  return function()
    local x = P.expr()
    if not is("end") then fail(peek(), "unexpected '" .. tostring(peek().v) .. "'") end
    return x
  end
end

-- The AST of src, or nil, {pos=, msg=} (pos: 1-based character).
function M.parse(src, dialect)
  if type(src) ~= "string" then return nil, perr(1, "formula is not a string") end
  if #src > M.MAX_LENGTH then return nil, perr(M.MAX_LENGTH, "longer than " .. M.MAX_LENGTH .. " characters") end
  local toks, terr = tokenize(src, dialect or "intel")
  if not toks then return nil, terr end
  if #toks == 1 then return nil, perr(1, "empty formula") end
  local ok, res = pcall(parser(toks))
  if not ok then
    if type(res) == "table" then return nil, res end
    error(res, 0) -- a bug of ours
  end
  return res
end

-- The names an AST refers to, each once, in order of appearance
-- (function arguments included).
function M.names(ast)
  local out, seen = {}, {}
  local function walk(x)
    local k = x[1]
    if k == "var" then
      if not seen[x[2]] then
        seen[x[2]] = true
        out[#out + 1] = x[2]
      end
    elseif k == "call" then
      for _, a in ipairs(x[3]) do walk(a) end
    elseif k ~= "num" then
      for i = 2, 4 do
        if type(x[i]) == "table" then walk(x[i]) end
      end
    end
  end
  walk(ast)
  return out
end

local function truthy(v) return v ~= 0 and v == v end

local BIN = {
  ["+"] = function(a, b) return a + b end,
  ["-"] = function(a, b) return a - b end,
  ["*"] = function(a, b) return a * b end,
  ["/"] = function(a, b) return a / b end, -- float division: x/0 is inf or nan, shown as such
  ["%"] = function(a, b) return math.fmod(a, b) end,
  ["^"] = function(a, b) return a ^ b end,
  ["<"] = function(a, b) return a < b and 1 or 0 end,
  [">"] = function(a, b) return a > b and 1 or 0 end,
  ["<="] = function(a, b) return a <= b and 1 or 0 end,
  [">="] = function(a, b) return a >= b and 1 or 0 end,
  ["=="] = function(a, b) return a == b and 1 or 0 end,
  ["!="] = function(a, b) return a ~= b and 1 or 0 end,
}

-- The names an evaluation of ast may read, each once, in order of
-- appearance, where fixed(name) gives the value of a name fixed before
-- anything is counted (a machine's constant), else nil: of `x if c else
-- y` whose c folds to a value only the branch taken, of `a and b` (`or`)
-- whose a folds to false (true) a alone, as M.compile's function
-- evaluates them; the names fixed gives are not listed. A name a
-- function takes (source_count(X)) is listed, strcmp_cpuid_str's CPU id
-- not.
function M.reads(ast, fixed)
  local out, seen = {}, {}
  local function read(n)
    if not seen[n] then
      seen[n] = true
      out[#out + 1] = n
    end
  end
  -- x's value when it folds, else nil
  local function fold(x)
    local k = x[1]
    if k == "num" then
      return x[2] + 0.0
    elseif k == "var" then
      local v = fixed(x[2])
      if v == nil then read(x[2]) end
      return v
    elseif k == "if" then
      local c = fold(x[3])
      if c ~= nil then return fold(truthy(c) and x[2] or x[4]) end
      fold(x[2])
      fold(x[4])
      return nil
    elseif k == "and" or k == "or" then
      local a = fold(x[2])
      if a ~= nil and truthy(a) == (k == "or") then return truthy(a) and 1.0 or 0.0 end
      local b = fold(x[3])
      if a == nil or b == nil then return nil end
      return truthy(b) and 1.0 or 0.0
    elseif k == "call" then
      local fname, args = x[2], x[3]
      if NAMED[fname] then
        if fname ~= "strcmp_cpuid_str" then read(args[1][2]) end
        return nil
      end
      local vs, all = {}, true
      for i, a in ipairs(args) do
        vs[i] = fold(a)
        all = all and vs[i] ~= nil
      end
      if not all then return nil end
      if fname == "d_ratio" then return vs[2] == 0 and 0.0 or vs[1] / vs[2] end
      local pick = fname == "min" and math.min or math.max
      local v = vs[1]
      for i = 2, #vs do v = pick(v, vs[i]) end
      return v
    elseif k == "neg" or k == "not" then
      local a = fold(x[2])
      if a == nil then return nil end
      if k == "neg" then return -a end
      return truthy(a) and 0.0 or 1.0
    end
    local a, b = fold(x[2]), fold(x[3])
    if a == nil or b == nil then return nil end
    if k == "xor" then return (truthy(a) ~= truthy(b)) and 1.0 or 0.0 end
    return BIN[k](a, b)
  end
  fold(ast)
  return out
end

-- Compiles an AST to a function(get) -> number, where get(slot) gives
-- the value of the name that bind(name) mapped to slot. bind(name, fname)
-- returns a slot, or nil, message (fname: the function whose argument the
-- name is, for source_count/has_event). Returns f or nil, {pos=, msg=}.
function M.compile(ast, bind)
  local function c(x)
    local k = x[1]
    if k == "num" then
      local v = x[2] + 0.0
      return function() return v end
    elseif k == "var" then
      local slot, err = bind(x[2])
      if slot == nil then error(perr(x.pos, err or ("unknown name '" .. x[2] .. "'")), 0) end
      return function(get) return get(slot) end
    elseif k == "neg" then
      local a = c(x[2])
      return function(get) return -a(get) end
    elseif k == "not" then
      local a = c(x[2])
      return function(get) return truthy(a(get)) and 0.0 or 1.0 end
    elseif k == "and" then
      local a, b = c(x[2]), c(x[3])
      return function(get) return (truthy(a(get)) and truthy(b(get))) and 1.0 or 0.0 end
    elseif k == "xor" then
      local a, b = c(x[2]), c(x[3])
      return function(get) return (truthy(a(get)) ~= truthy(b(get))) and 1.0 or 0.0 end
    elseif k == "or" then
      local a, b = c(x[2]), c(x[3])
      return function(get) return (truthy(a(get)) or truthy(b(get))) and 1.0 or 0.0 end
    elseif k == "if" then
      local t, cond, e = c(x[2]), c(x[3]), c(x[4])
      return function(get)
        if truthy(cond(get)) then return t(get) end
        return e(get)
      end
    elseif k == "call" then
      local fname, args = x[2], x[3]
      if NAMED[fname] then
        local arg = args[1][1] == "num" and args[1].text or args[1][2]
        local slot, err = bind(arg, fname)
        if slot == nil then error(perr(args[1].pos, err or ("unknown name '" .. arg .. "'")), 0) end
        return function(get) return get(slot) end
      end
      local fs = {}
      for i, a in ipairs(args) do fs[i] = c(a) end
      if fname == "d_ratio" then
        -- perf's d_ratio: 0 where the divisor is 0
        return function(get)
          local d = fs[2](get)
          if d == 0 then return 0.0 end
          return fs[1](get) / d
        end
      end
      local pick = fname == "min" and math.min or math.max
      return function(get)
        local v = fs[1](get)
        for i = 2, #fs do v = pick(v, fs[i](get)) end
        return v
      end
    end
    local op = BIN[k]
    local a, b = c(x[2]), c(x[3])
    return function(get) return op(a(get), b(get)) end
  end
  local ok, f = pcall(c, ast)
  if not ok then
    if type(f) == "table" then return nil, f end
    error(f, 0)
  end
  return f
end

-- Operators and functions the dialects share: for messages.
M.truthy = truthy

return M
