-- report: one self-contained HTML file for a profile (and, given a
-- second, their diff): the summary, the clustered correlation heatmap
-- (zoom, the two events under the pointer), a search box over the
-- events, each event's time series, the diff table. Everything is drawn
-- on canvases by the page's own script from data embedded in the file:
-- no network, no other file; it opens from disk in any browser.
local cjson = require "cjson"
local util = require "autoperf.util"
local series = require "autoperf.analyze.series"
local stats = require "autoperf.analyze.stats"
local correlation = require "autoperf.analyze.correlation"
local detail = require "autoperf.analyze.detail"
local diff = require "autoperf.analyze.diff"

local M = {}

-- Points of a time series at most (longer ones are averaged in buckets,
-- and the page says so).
M.MAX_POINTS = 2000

local function num(v)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then return nil end
  return v
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out, n = {}, #s
  local chars = {}
  for i = 1, 64 do chars[i - 1] = B64:sub(i, i) end
  for i = 1, n - 2, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + b * 256 + c
    out[#out + 1] = chars[v >> 18] .. chars[(v >> 12) & 63] .. chars[(v >> 6) & 63] .. chars[v & 63]
  end
  local rest = n % 3
  if rest == 1 then
    local v = s:byte(n) * 65536
    out[#out + 1] = chars[v >> 18] .. chars[(v >> 12) & 63] .. "=="
  elseif rest == 2 then
    local a, b = s:byte(n - 1, n)
    local v = a * 65536 + b * 256
    out[#out + 1] = chars[v >> 18] .. chars[(v >> 12) & 63] .. chars[(v >> 6) & 63] .. "="
  end
  return table.concat(out)
end
M.base64 = base64

-- The correlation matrix in clustered order as signed bytes (r * 100,
-- -128 for none), base64.
local function matrix_bytes(res)
  local order, n = res.tree.order, #res.names
  local fmt = string.rep("b", n)
  local rows, vals = {}, {}
  for p = 1, n do
    local row = res.R:row(order[p])
    for q = 1, n do
      local v = row[order[q]]
      vals[q] = v == v and math.floor(v * 100 + 0.5) or -128
    end
    rows[p] = string.pack(fmt, table.unpack(vals, 1, n))
  end
  return base64(table.concat(rows))
end

local function series_of(ds, names)
  local layout = series.layout(ds, names)
  local out, bounds = {}, {}
  if layout.length == 0 then return out, bounds, 1 end
  local m = series.matrix(ds, names, layout)
  if not m then return out, bounds, 1 end
  local step = math.max(1, math.ceil(layout.length / M.MAX_POINTS))
  local col = 0
  for _, rp in ipairs(layout.reps) do
    bounds[#bounds + 1] = col // step
    col = col + rp.length
  end
  for i, name in ipairs(names) do
    local row, vals = m:row(i), {}
    for k = 1, #row, step do
      local s, c = 0, 0
      for j = k, math.min(#row, k + step - 1) do
        s, c = s + row[j], c + 1
      end
      vals[#vals + 1] = num(s / c) or 0
    end
    out[name] = vals
  end
  m:close()
  return out, bounds, step
end

-- The data of the page for profile ds (loaded by analyze/series) and,
-- when given, profile dsb (its diff against ds). Returns a table, and
-- how long the correlation and clustering took (s).
function M.data(ds, dsb, opts)
  opts = opts or {}
  local manifest = {}
  local ok, store = pcall(require, "autoperf.store")
  if ok and not ds.from_results then
    local s = store.load(ds.dir)
    manifest = s and s.manifest or {}
  end
  local rows = stats.compute(ds)
  local kinds, events = {}, {}
  for _, x in ipairs(rows) do
    kinds[x.kind] = (kinds[x.kind] or 0) + 1
    events[#events + 1] = { name = x.name, kind = x.kind, mean = num(x.mean), cv = num(x.cv),
      unit = detail.unit(x.name), pmu = x.unit or "" }
  end
  local d = {
    title = ds.dir, simulated = ds.simulated or (dsb and dsb.simulated) or false,
    summary = {
      dir = ds.dir, command = type(manifest.command) == "table" and table.concat(manifest.command, " ") or
        (type(manifest.command) == "string" and manifest.command or nil),
      version = type(manifest.version) == "string" and manifest.version or nil,
      events = #rows, reps = ds.reps, kinds = kinds,
    },
    events = events, warnings = {},
  }
  local t0 = os.clock()
  local res, cerr = correlation.compute(ds, { method = opts.method })
  if res then
    local order = {}
    for p, i in ipairs(res.tree.order) do
      local b = res.blocks[res.cluster_of[i]]
      order[p] = { name = res.names[i], cluster = res.cluster_of[i], rep = res.names[b.rep] }
    end
    local blocks = {}
    for _, b in ipairs(res.blocks) do
      if b.last > b.first then blocks[#blocks + 1] = { b.first - 1, b.last - b.first + 1 } end
    end
    d.correlation = { n = #res.names, method = res.method, intervals = res.intervals, order = order,
      blocks = blocks, matrix = matrix_bytes(res), threshold = res.threshold, constant = #res.constant,
      zero = res.zero, clusters = res.clusters, critical_r = num(res.critical_r) }
    for _, w in ipairs(res.warnings) do d.warnings[#d.warnings + 1] = w end
    res.R:close()
  else
    d.warnings[#d.warnings + 1] = "no correlation: " .. tostring(cerr)
  end
  local seconds = os.clock() - t0
  -- the metrics: the file the profile was planned for, else the bundled
  -- software metrics (issue 18's autoperf metrics), totals per metric
  if not ds.from_results and opts.metrics ~= false then
    local mres = require("autoperf.metrics").of_profile(ds.dir, {})
    if mres then
      local rows = {}
      for _, r in ipairs(mres.metrics) do
        local m = r.metric
        rows[#rows + 1] = { name = m.name, level = m.level, value = num(r.value), unit = m.unit or "",
          status = r.status, threshold = r.threshold, several = r.several_runs or nil,
          aligned_on = r.crossrun and r.crossrun.anchor, anchor_spread = r.crossrun and num(r.crossrun.spread) }
      end
      d.metrics = { file = mres.set.path, rows = rows, simulated = mres.simulated or nil }
    end
  end
  local with = {}
  for _, x in ipairs(rows) do
    -- a zero event's series is all zeros: the table says "zero", no data needed
    if x.kind ~= "refused" and x.kind ~= "missing" and x.kind ~= "zero" then with[#with + 1] = x.name end
  end
  local vals, bounds, step = series_of(ds, with)
  d.series = { values = vals, reps = bounds, step = step }
  if dsb then
    local drows = diff.compare(ds, dsb, { alpha = opts.alpha })
    local lines = diff.summary(drows, ds.reps, dsb.reps, opts.alpha)
    local out = {}
    for _, x in ipairs(drows) do
      out[#out + 1] = { rank = x.rank, name = x.name, a = num(x.mean_a), b = num(x.mean_b), rel = num(x.rel),
        p = num(x.p), q = num(x.q), d = num(x.d), sig = x.significant, note = x.note }
    end
    d.diff = { a = ds.dir, b = dsb.dir, rows = out, summary = lines }
  end
  return d, seconds
end

local function esc(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;",
    ["'"] = "&#39;" }))
end

-- The page's script and style (report.js, report.css beside this file's
-- module directory would be nicer to edit; kept here so that a static
-- build carries them without data files).
local CSS = [[
body{font:14px system-ui,sans-serif;margin:1em 2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em;border-bottom:1px solid #ddd}
.warn{color:#8a4b00}.note{color:#555}
#heatwrap{position:relative;display:inline-block;border:1px solid #ccc}
#heatmap{cursor:crosshair;display:block}
#hover{min-height:2.6em;font-family:monospace;margin:.3em 0}
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#f6f6f6}
tbody tr{cursor:pointer}tbody tr:hover{background:#e8f0ff}
.scroll{max-height:24em;overflow:auto;display:inline-block;border:1px solid #ddd}
#search{width:28em;padding:3px}
.sig{font-weight:bold}
#summary td,#summary th{text-align:left}
#diff td:nth-child(2),#diff th:nth-child(2){text-align:left}td{white-space:nowrap}
]]

local JS = [==[
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  function fmt(v) {
    if (v === null || v === undefined) return "-";
    var a = Math.abs(v);
    if (a >= 1e6 || (a > 0 && a < 1e-3)) return v.toExponential(3);
    if (Number.isInteger(v)) return String(v);
    return v.toPrecision(4);
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  // ---- time series ----
  var sc = $("series"), sx = sc.getContext("2d");
  function drawSeries(names) {
    sx.clearRect(0, 0, sc.width, sc.height);
    var colours = ["#b2182b", "#2166ac", "#1b7837", "#762a83"];
    var left = 70, right = 10, top = 10, bottom = 30;
    var W = sc.width - left - right, H = sc.height - top - bottom;
    var all = [], title = [];
    names.forEach(function (n) { var v = D.series.values[n]; if (v) all.push([n, v]); });
    if (!all.length) {
      $("series-title").textContent = names.join(", ") + ": never counted anything (zero in every interval)";
      return;
    }
    all.forEach(function (a, k) {
      var v = a[1], lo = Math.min.apply(null, v), hi = Math.max.apply(null, v);
      if (hi === lo) { hi = lo + 1; }
      sx.strokeStyle = colours[k % colours.length]; sx.lineWidth = 1.5; sx.beginPath();
      for (var i = 0; i < v.length; i++) {
        var x = left + (v.length > 1 ? i / (v.length - 1) : 0.5) * W, y = top + H - (v[i] - lo) / (hi - lo) * H;
        if (i) sx.lineTo(x, y); else sx.moveTo(x, y);
      }
      sx.stroke();
      var unit = (D.events.find(function (e) { return e.name === a[0]; }) || {}).unit || "count";
      title.push(a[0] + " (" + unit + " per interval, " + fmt(lo) + " .. " + fmt(hi) + ")");
    });
    sx.strokeStyle = "#999"; sx.lineWidth = 1; sx.strokeRect(left, top, W, H);
    sx.fillStyle = "#555"; sx.font = "11px sans-serif";
    var len = all[0][1].length;
    (D.series.reps || []).forEach(function (b, k) {
      var x = left + (len > 1 ? b / (len - 1) : 0) * W;
      sx.fillText("rep " + (k + 1), x + 2, top + H + 14);
      if (b > 0) { sx.beginPath(); sx.moveTo(x, top); sx.lineTo(x, top + H); sx.stroke(); }
    });
    sx.fillText("interval (repetitions one after another" + (D.series.step > 1 ? ", " + D.series.step +
      " intervals averaged per point" : "") + "); each line scaled to its own range", left, top + H + 27);
    $("series-title").textContent = title.join("   |   ");
  }
  // ---- heatmap ----
  var C = D.correlation, hc = $("heatmap"), hx = hc.getContext("2d");
  var view = { s: 1, ox: 0, oy: 0 }, off = null, R = null, marked = [];
  function colour(r) {
    // the gnuplot palette: -1 #2166ac, 0 #f7f7f7, 1 #b2182b
    var a = [33, 102, 172], z = [247, 247, 247], b = [178, 24, 43], t = Math.abs(r), e = r < 0 ? a : b;
    return [z[0] + (e[0] - z[0]) * t, z[1] + (e[1] - z[1]) * t, z[2] + (e[2] - z[2]) * t];
  }
  function setView() {
    hc.dataset.scale = view.s; hc.dataset.ox = view.ox; hc.dataset.oy = view.oy;
  }
  function drawHeat() {
    hx.setTransform(1, 0, 0, 1, 0, 0);
    hx.fillStyle = "#fff"; hx.fillRect(0, 0, hc.width, hc.height);
    // below a pixel a cell, let the browser average (the overview); above, sharp cells
    hx.imageSmoothingEnabled = view.s < 1; hx.imageSmoothingQuality = "high";
    hx.setTransform(view.s, 0, 0, view.s, -view.ox * view.s, -view.oy * view.s);
    hx.drawImage(off, 0, 0);
    hx.strokeStyle = "#000"; hx.lineWidth = Math.max(1 / view.s, 0.02);
    C.blocks.forEach(function (b) { hx.strokeRect(b[0], b[0], b[1], b[1]); });
    hx.setTransform(1, 0, 0, 1, 0, 0);
    // the events the search found: a dark mark on the left and top edges
    hx.fillStyle = "#111";
    marked.forEach(function (p) {
      var at = (p - view.oy) * view.s, w = Math.max(view.s, 1);
      if (at > -w && at < hc.height) hx.fillRect(0, at, 6, w);
      at = (p - view.ox) * view.s;
      if (at > -w && at < hc.width) hx.fillRect(at, 0, w, 6);
    });
    setView();
  }
  function cellAt(ev) {
    var rect = hc.getBoundingClientRect();
    var x = (ev.clientX - rect.left) * hc.width / rect.width, y = (ev.clientY - rect.top) * hc.height / rect.height;
    var j = Math.floor(view.ox + x / view.s), i = Math.floor(view.oy + y / view.s);
    if (i < 0 || j < 0 || i >= C.n || j >= C.n) return null;
    return [i, j];
  }
  function zoom(f, cx, cy) {
    var min = hc.width / C.n, s = Math.min(Math.max(view.s * f, min), 60);
    var gx = view.ox + cx / view.s, gy = view.oy + cy / view.s;
    view.s = s; view.ox = gx - cx / s; view.oy = gy - cy / s;
    var max = C.n - hc.width / s;
    view.ox = Math.min(Math.max(view.ox, 0), Math.max(max, 0));
    view.oy = Math.min(Math.max(view.oy, 0), Math.max(max, 0));
    drawHeat();
  }
  if (C) {
    var bytes = atob(C.matrix);
    R = new Int8Array(bytes.length);
    for (var k = 0; k < bytes.length; k++) R[k] = (bytes.charCodeAt(k) << 24) >> 24;
    off = document.createElement("canvas"); off.width = off.height = C.n;
    var ox = off.getContext("2d"), img = ox.createImageData(C.n, C.n);
    for (k = 0; k < R.length; k++) {
      var c = R[k] === -128 ? [200, 200, 200] : colour(R[k] / 100);
      img.data[4 * k] = c[0]; img.data[4 * k + 1] = c[1]; img.data[4 * k + 2] = c[2]; img.data[4 * k + 3] = 255;
    }
    ox.putImageData(img, 0, 0);
    view.s = hc.width / C.n;
    drawHeat();
    hc.addEventListener("mousemove", function (ev) {
      var c = cellAt(ev);
      if (!c) return;
      var v = R[c[0] * C.n + c[1]];
      $("hover-row").textContent = C.order[c[0]].name;
      $("hover-col").textContent = C.order[c[1]].name;
      $("hover-r").textContent = v === -128 ? "-" : (v / 100).toFixed(2);
    });
    hc.addEventListener("click", function (ev) {
      var c = cellAt(ev);
      if (c) drawSeries([C.order[c[0]].name, C.order[c[1]].name]);
    });
    hc.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var rect = hc.getBoundingClientRect();
      zoom(ev.deltaY < 0 ? 1.25 : 0.8, (ev.clientX - rect.left) * hc.width / rect.width,
        (ev.clientY - rect.top) * hc.height / rect.height);
    }, { passive: false });
    var drag = null;
    hc.addEventListener("mousedown", function (ev) { drag = [ev.clientX, ev.clientY, view.ox, view.oy]; });
    window.addEventListener("mouseup", function () { drag = null; });
    window.addEventListener("mousemove", function (ev) {
      if (!drag || ev.buttons !== 1) return;
      view.ox = drag[2] - (ev.clientX - drag[0]) / view.s; view.oy = drag[3] - (ev.clientY - drag[1]) / view.s;
      drawHeat();
    });
    $("zoomin").onclick = function () { zoom(2, hc.width / 2, hc.height / 2); };
    $("zoomout").onclick = function () { zoom(0.5, hc.width / 2, hc.height / 2); };
    $("reset").onclick = function () { view = { s: hc.width / C.n, ox: 0, oy: 0 }; drawHeat(); };
  } else {
    $("heatwrap").style.display = "none";
  }
  // ---- the events table and the search box ----
  var place = {};
  if (C) C.order.forEach(function (o, p) { place[o.name] = p; });
  var tbody = $("events").querySelector("tbody"), rows = [];
  D.events.forEach(function (e) {
    var tr = el("tr");
    tr.dataset.name = e.name;
    [e.name, e.kind, e.unit, fmt(e.mean), fmt(e.cv), place[e.name] !== undefined ?
      String(C.order[place[e.name]].cluster) : "-"].forEach(function (t) { tr.appendChild(el("td", t)); });
    tr.onclick = function () {
      drawSeries([e.name]);
      if (C && place[e.name] !== undefined) {
        var p = place[e.name], s = Math.max(view.s, 8);
        view.s = s; view.ox = Math.max(0, p - hc.width / s / 2); view.oy = view.ox; drawHeat();
      }
    };
    tbody.appendChild(tr); rows.push(tr);
  });
  var drows = [];
  if (D.diff) {
    var db = $("diff").querySelector("tbody");
    D.diff.rows.forEach(function (x) {
      var tr = el("tr", undefined, x.sig ? "sig" : "");
      tr.dataset.name = x.name;
      [String(x.rank), x.name, fmt(x.a), fmt(x.b), x.rel === null || x.rel === undefined ? "new" :
        (x.rel * 100).toFixed(1) + "%", fmt(x.p), fmt(x.q), fmt(x.d), x.sig ? "yes" : "no", x.note || ""]
        .forEach(function (t) { tr.appendChild(el("td", t)); });
      tr.onclick = function () { drawSeries([x.name]); };
      db.appendChild(tr); drows.push(tr);
    });
  }
  function matcher(q) {
    q = q.trim().toLowerCase();
    if (!q) return function () { return true; };
    if (q.indexOf("*") >= 0 || q.indexOf("?") >= 0) {
      var re = new RegExp("^" + q.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
      return function (n) { return re.test(n.toLowerCase()); };
    }
    return function (n) { return n.toLowerCase().indexOf(q) >= 0; };
  }
  $("search").addEventListener("input", function () {
    var m = matcher(this.value), shown = 0;
    rows.forEach(function (tr) { var ok = m(tr.dataset.name); tr.style.display = ok ? "" : "none"; if (ok) shown++; });
    drows.forEach(function (tr) { tr.style.display = m(tr.dataset.name) ? "" : "none"; });
    $("count").textContent = shown + " of " + rows.length + " events";
    marked = [];
    if (C && this.value.trim()) {
      C.order.forEach(function (o, p) { if (m(o.name)) marked.push(p); });
    }
    if (C) drawHeat();
  });
  $("count").textContent = rows.length + " of " + rows.length + " events";
  // first shown: the first event that varies across repetitions and has a series
  var first = D.events.find(function (e) { return e.kind === "varies" && D.series.values[e.name]; }) ||
    D.events[0];
  if (first) drawSeries([first.name]);
  document.body.dataset.ready = "yes";
})();
]==]

-- The page for data d (M.data).
function M.html(d)
  local json = cjson.encode(d):gsub("<", "\\u003c")
  local h = {}
  local function w(...) for _, s in ipairs({ ... }) do h[#h + 1] = s end end
  w("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; ",
    "style-src 'unsafe-inline'; img-src data:\">",
    "<title>autoperf report: ", esc(d.title), "</title><style>", CSS, "</style></head><body>\n")
  w("<h1>autoperf report: ", esc(d.title), d.simulated and " (simulated counts)" or "", "</h1>\n")
  local s = d.summary
  w("<section id=\"summary\"><h2>Profile</h2><table>")
  local function row(k, v) if v ~= nil then w("<tr><th>", esc(k), "</th><td>", esc(v), "</td></tr>") end end
  row("directory", s.dir)
  row("command", s.command)
  row("autoperf", s.version)
  row("events", s.events)
  row("repetitions", s.reps)
  local kinds = {}
  for _, k in ipairs({ "varies", "constant", "once", "zero", "refused", "missing" }) do
    if s.kinds[k] then kinds[#kinds + 1] = s.kinds[k] .. " " .. k end
  end
  row("across repetitions", table.concat(kinds, ", "))
  if d.correlation then
    local c = d.correlation
    row("correlation", string.format("%s over %d intervals: %d events vary (%d constant left out, %d of them " ..
      "zero); %d clusters at mean |r| >= %g", c.method, c.intervals, c.n, c.constant, c.zero, c.clusters,
      c.threshold))
  end
  w("</table>")
  for _, x in ipairs(d.warnings) do w("<p class=\"warn\">warning: ", esc(x), "</p>") end
  w("</section>\n")
  w("<section id=\"correlation\"><h2>Correlation, clustered</h2>",
    "<p class=\"note\">Events in the order of an average-linkage clustering on 1-|r|; outlined: clusters. ",
    "The wheel zooms, dragging pans, a click draws both events' series; the events the search finds are ",
    "marked on the left and top edges.</p>",
    "<div><button id=\"zoomin\">zoom in</button> <button id=\"zoomout\">zoom out</button> ",
    "<button id=\"reset\">whole matrix</button></div>",
    "<div id=\"hover\">row: <b id=\"hover-row\">-</b><br>column: <b id=\"hover-col\">-</b> &nbsp; r = ",
    "<span id=\"hover-r\">-</span></div>",
    "<div id=\"heatwrap\"><canvas id=\"heatmap\" width=\"800\" height=\"800\"></canvas></div></section>\n")
  w("<section id=\"timeseries\"><h2>Time series</h2><div id=\"series-title\"></div>",
    "<canvas id=\"series\" width=\"1000\" height=\"280\"></canvas></section>\n")
  w("<section><h2>Events</h2><p><input id=\"search\" type=\"search\" placeholder=\"search events: ",
    "part of a name, or a glob such as syscalls:*write\"> <span id=\"count\"></span></p>",
    "<div class=\"scroll\"><table id=\"events\"><thead><tr><th>event</th><th>kind</th><th>unit</th>",
    "<th>mean total</th><th>cv</th><th>cluster</th></tr></thead><tbody></tbody></table></div></section>\n")
  if d.metrics and #d.metrics.rows > 0 then
    w("<section id=\"metrics\"><h2>Metrics</h2><p class=\"note\">From ", esc(d.metrics.file),
      d.metrics.simulated and " (simulated counts: not measurements)" or "",
      "; indented by level; 'from N runs, aligned on ANCHOR': its events were counted in different runs, each " ..
      "run's counts brought to one basis through that anchor (its spread across those runs said).</p>",
      "<div class=\"scroll\"><table id=\"metric-table\"><thead><tr><th>metric</th><th>value</th><th>unit</th>",
      "<th>status</th><th>threshold</th></tr></thead><tbody>")
    for _, r in ipairs(d.metrics.rows) do
      local pad = string.rep("&nbsp;&nbsp;", math.max(0, (tonumber(r.level) or 1) - 1))
      w("<tr><td>", pad, esc(r.name), "</td><td>", r.value ~= nil and esc(string.format("%.6g", r.value)) or "-",
        "</td><td>", esc(r.unit), "</td><td>", esc(tostring(r.status or "")),
        r.several and not tostring(r.status or ""):find("from %d+ runs") and " (several runs)" or "",
        "</td><td>", r.threshold == true and "crossed" or (r.threshold == false and "no" or "-"), "</td></tr>")
    end
    w("</tbody></table></div></section>\n")
  end
  if d.diff then
    w("<section><h2>Diff: A ", esc(d.diff.a), ", B ", esc(d.diff.b), "</h2>")
    for _, l in ipairs(d.diff.summary) do w("<p class=\"note\">", esc(l), "</p>") end
    w("<div class=\"scroll\"><table id=\"diff\"><thead><tr><th>rank</th><th>event</th><th>A (mean)</th>",
      "<th>B (mean)</th><th>change</th><th>p</th><th>q</th><th>effect</th><th>significant</th><th>note</th>",
      "</tr></thead><tbody></tbody></table></div></section>\n")
  end
  w("<script id=\"data\" type=\"application/json\">", json, "</script>\n<script>", JS, "</script>\n</body></html>\n")
  return table.concat(h)
end

-- Writes the report of profile dir (and its diff against dir_b, when
-- given) to opts.output (default DIR/analysis/report.html). Returns
-- {path=, bytes=, seconds=, events=} or nil, message.
function M.write(dir, dir_b, opts)
  opts = opts or {}
  local t0 = os.time()
  local clock0 = os.clock()
  local ds, err = series.load(dir)
  if not ds then return nil, err end
  local dsb
  if dir_b then
    dsb, err = series.load(dir_b)
    if not dsb then return nil, err end
    if ds.reps < 2 or dsb.reps < 2 then
      return nil, string.format("%s has %d repetition%s: a diff needs at least 2 per side (profile with -r 5)",
        ds.reps < 2 and ds.dir or dsb.dir, math.min(ds.reps, dsb.reps), math.min(ds.reps, dsb.reps) == 1 and "" or "s")
    end
  end
  local d = M.data(ds, dsb, opts)
  local page = M.html(d)
  local path, base = opts.output, nil
  if not path then
    local root = util.is_dir(dir) and dir or (dir:match("^(.*)/[^/]*$") or ".")
    local ok, merr = util.mkdirs(root .. "/analysis", root)
    if not ok then return nil, merr end
    path, base = root .. "/analysis/report.html", root
  end
  local ok, werr = util.write_atomic(path, page, base)
  if not ok then return nil, werr end
  return { path = path, bytes = #page, seconds = os.clock() - clock0, wall = os.time() - t0,
    events = #d.events, correlated = d.correlation and d.correlation.n or 0 }
end

return M
