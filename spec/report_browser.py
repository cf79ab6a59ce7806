#!/usr/bin/python3
"""The HTML report in a real browser (make test-report).

Profiles the writes workload (and a second, different run for the diff),
writes `autoperf report A B`, opens the file from disk in headless
Chromium (Debian's package, scripts/bootstrap --browser) and drives it
over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages ending in NUL on fds 3 and 4, no websocket and no npm package
needed). Checks: the page loads without console errors or exceptions;
the pointer over the cell of two known events (their places read from
correlation-order.csv, not from the page) shows those two names; the
search box filters the events table; a screenshot of the heatmap shows
the heatmap (many colours, the clustered write pair's deep red).

Python's standard library only. Ends with "N passed, N failed"; when
Chromium is missing or cannot start it says so in one line and counts
nothing (0 passed, 0 failed).
"""
import base64
import csv
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("AUTOPERF_BIN", os.path.join(ROOT, "autoperf"))
WORKLOADS = os.environ.get("AUTOPERF_WORKLOADS", os.path.join(ROOT, "build", "workloads"))
EVENTS = "syscalls:sys_enter_write,syscalls:sys_exit_write,task-clock,page-faults,syscalls:sys_enter_reboot"

passed = 0
failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok    " + what)
    else:
        failed += 1
        print("FAIL  " + what + (": " + detail if detail else ""))


def finish():
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def autoperf(*args):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("autoperf %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout


def png_pixels(data):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


class Browser:
    """Chromium over --remote-debugging-pipe."""

    def __init__(self, exe, profile):
        to_r, to_w = os.pipe()    # we write commands, chromium reads fd 3
        from_r, from_w = os.pipe()  # chromium writes fd 4, we read
        args = [exe, "--headless", "--remote-debugging-pipe", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--user-data-dir=" + profile, "--window-size=1280,1600"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run its sandbox as root

        def fds():
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        self.w, self.r = to_w, from_r
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def _read(self, timeout):
        import select
        end = time.time() + timeout
        while b"\0" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed its pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read(timeout)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout=30):
        for i, m in enumerate(self.events):
            if m.get("method") == method:
                return self.events.pop(i)
        end = time.time() + timeout
        while time.time() < end:
            m = self._read(end - time.time())
            if m.get("method") == method:
                return m
            self.events.append(m)
        raise TimeoutError(method)

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)


def main():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        print("report browser suite skipped: no chromium (scripts/bootstrap --browser installs it)")
        finish()
    tmp = tempfile.mkdtemp(prefix="autoperf-report.")
    try:
        run(exe, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


def run(exe, tmp):
    a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    writes = os.path.join(WORKLOADS, "writes")
    autoperf("profile", "-q", "-o", a, "-I", "10", "-r", "3", "-e", EVENTS, "--", writes, "200000")
    autoperf("profile", "-q", "-o", b, "-I", "10", "-r", "3", "-e", EVENTS, "--", writes, "400000")
    page = os.path.join(tmp, "report.html")
    out = autoperf("report", a, b, "-o", page)
    check("wrote " + page in out, "autoperf report writes the page", out)
    html = open(page, encoding="utf-8").read()
    check("http://" not in html and "https://" not in html and "src=" not in html,
          "the page names no network resource or other file")
    # where the write pair sits, from the CSV the analysis writes (not from the page)
    autoperf("analyze", "correlation", a, "-o", os.path.join(tmp, "corr"))
    order = {r["EVENT"]: int(r["POSITION"]) - 1
             for r in csv.DictReader(open(os.path.join(tmp, "corr", "correlation-order.csv")))}
    try:
        br = Browser(exe, os.path.join(tmp, "chromium"))
        target = br.send("Target.createTarget", {"url": "about:blank"}, session=False)
        br.session = br.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                             session=False)["sessionId"]
    except Exception as e:  # noqa: BLE001 - any failure to start is a skip, said once
        print("report browser suite skipped: chromium cannot start here (%s)" % e)
        return
    try:
        br.send("Page.enable")
        br.send("Runtime.enable")
        br.send("Log.enable")
        br.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 1600, "deviceScaleFactor": 1,
                                                        "mobile": False})
        br.send("Page.navigate", {"url": "file://" + page})
        br.wait_event("Page.loadEventFired")
        ready = br.eval("document.body.dataset.ready")
        check(ready == "yes", "the page's script ran to its end", str(ready))
        errors = [m for m in br.events
                  if m.get("method") == "Runtime.exceptionThrown"
                  or (m.get("method") == "Runtime.consoleAPICalled" and m["params"].get("type") in ("error", "assert"))
                  or (m.get("method") == "Log.entryAdded" and m["params"]["entry"].get("level") == "error")]
        check(not errors, "no console errors or exceptions", json.dumps(errors)[:500])
        # the pointer over (enter_write, exit_write) and over (task-clock, page-faults)
        for row, col in (("syscalls:sys_enter_write", "syscalls:sys_exit_write"), ("page-faults", "task-clock")):
            geo = br.eval("(function(){var c=document.getElementById('heatmap'),r=c.getBoundingClientRect();"
                          "return [r.left,r.top,r.width/c.width,+c.dataset.scale,+c.dataset.ox,+c.dataset.oy];})()")
            left, top, css, s, ox, oy = geo
            x = left + ((order[col] + 0.5 - ox) * s) * css
            y = top + ((order[row] + 0.5 - oy) * s) * css
            br.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
            got = br.eval("[document.getElementById('hover-row').textContent,"
                          "document.getElementById('hover-col').textContent]")
            check(got == [row, col], "hover over %s x %s names them" % (row, col), str(got))
        # zoomed in, the same cell still answers with the same names
        br.eval("document.getElementById('zoomin').click()")
        geo = br.eval("(function(){var c=document.getElementById('heatmap'),r=c.getBoundingClientRect();"
                      "return [r.left,r.top,r.width/c.width,+c.dataset.scale,+c.dataset.ox,+c.dataset.oy];})()")
        left, top, css, s, ox, oy = geo
        row, col = "task-clock", "syscalls:sys_enter_write"
        br.send("Input.dispatchMouseEvent", {"type": "mouseMoved",
                                             "x": left + (order[col] + 0.5 - ox) * s * css,
                                             "y": top + (order[row] + 0.5 - oy) * s * css})
        got = br.eval("[document.getElementById('hover-row').textContent,"
                      "document.getElementById('hover-col').textContent]")
        check(got == [row, col], "hover after zooming in names the cell under the pointer", str(got))
        br.eval("document.getElementById('reset').click()")
        # search: typed into the box, as a user would
        br.eval("document.getElementById('search').focus()")
        br.send("Input.insertText", {"text": "sys_e*"})
        shown = br.eval("Array.from(document.querySelectorAll('#events tbody tr'))"
                        ".filter(function(t){return t.style.display!=='none'}).map(function(t){return t.dataset.name})")
        want = sorted(n for n in EVENTS.split(",") if n.startswith("syscalls:sys_e"))
        check(sorted(shown) == [], "a glob matches whole names (sys_e* alone matches none)", str(shown))
        br.eval("(function(){var s=document.getElementById('search');s.value='';s.focus();})()")
        br.send("Input.insertText", {"text": "sys_e"})
        shown = br.eval("Array.from(document.querySelectorAll('#events tbody tr'))"
                        ".filter(function(t){return t.style.display!=='none'}).map(function(t){return t.dataset.name})")
        check(sorted(shown) == want, "search filters the events table", str(shown))
        diff_shown = br.eval("Array.from(document.querySelectorAll('#diff tbody tr'))"
                             ".filter(function(t){return t.style.display!=='none'}).length")
        check(diff_shown == len(want), "search filters the diff table too", str(diff_shown))
        count = br.eval("document.getElementById('count').textContent")
        check(count == "%d of 5 events" % len(want), "the count says how many are shown", count)
        diff_rows = br.eval("document.querySelectorAll('#diff tbody tr').length")
        check(diff_rows == 5, "the diff table has a row per event", str(diff_rows))
        # the search's events are marked on the heatmap's left edge: a
        # screenshot of the edge at the row of enter_write is dark, at
        # task-clock's (not found) it is not
        def shot_of_heatmap():
            rect = br.eval("(function(){var r=document.getElementById('heatmap').getBoundingClientRect();"
                           "return [r.left+window.scrollX,r.top+window.scrollY,r.width,r.height];})()")
            shot = br.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                      "clip": {"x": rect[0], "y": rect[1], "width": rect[2],
                                                               "height": rect[3], "scale": 1}})
            return base64.b64decode(shot["data"])
        w, h, px = png_pixels(shot_of_heatmap())
        s = w / 4.0
        hit = px[int((order["syscalls:sys_enter_write"] + 0.5) * s)][2]
        miss = px[int((order["task-clock"] + 0.5) * s)][2]
        check(max(hit) < 60 and max(miss) > 100, "the search marks its events on the heatmap's edge",
              "found %s, not found %s" % (hit, miss))
        br.eval("(function(){var s=document.getElementById('search');s.value='';"
                "s.dispatchEvent(new Event('input'));})()")
        # a screenshot of the heatmap
        rect = br.eval("(function(){var r=document.getElementById('heatmap').getBoundingClientRect();"
                       "return [r.left+window.scrollX,r.top+window.scrollY,r.width,r.height];})()")
        shot = br.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                  "clip": {"x": rect[0], "y": rect[1], "width": rect[2],
                                                           "height": rect[3], "scale": 1}})
        data = base64.b64decode(shot["data"])
        with open(os.path.join(os.environ.get("REPORT_SHOT_DIR", tmp), "report-heatmap.png"), "wb") as f:
            f.write(data)
        w, h, px = png_pixels(data)
        colours = {px[y][x] for y in range(0, h, 4) for x in range(0, w, 4)}
        # the cell of the write pair (r near 1): the palette's deep red
        s = w / 4.0
        cy = int((order["syscalls:sys_enter_write"] + 0.5) * s)
        cx = int((order["syscalls:sys_exit_write"] + 0.5) * s)
        r, g, bb = px[cy][cx]
        check(w >= 700 and len(colours) >= 4 and r > 150 and g < 60 and bb < 70,
              "a screenshot shows the heatmap (%dx%d, %d colours, write pair %s)" % (w, h, len(colours), (r, g, bb)))
    finally:
        br.close()


if __name__ == "__main__":
    main()
