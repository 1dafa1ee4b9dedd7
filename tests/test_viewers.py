#!/usr/bin/python3
"""tests/test_viewers.py - gilsim's exports opened in Speedscope itself, in headless Chromium.

  test_viewers.py GILSIM [--shots DIR]

Speedscope's release build (the npm package `speedscope`, installed by
`tools/install-deps --test` into a cache: GILSIM_NPM_CACHE, else ~/.cache/gilsim/npm) and the
exports of two shipped workloads (convoy under new, server under fifo) are served from
127.0.0.1; Chromium
(Debian's /usr/bin/chromium) opens each with `#profileURL=`: the Chrome export as the object
`{"traceEvents": [...]}` (named *.trace.json, gilsim's default), the same events as a bare array,
and the speedscope export (checked against Speedscope's file-format-schema.json first). A load
fails on any error or warning Speedscope or the page logs (importer messages such as "Tried to
end ..." are console warnings), on an uncaught exception or a failed request, and when the
profile shown is not the trace's: Speedscope must show as many profiles as the trace has
threads, each named after its thread (and, for the Chrome forms, the process "gilsim:
<workload> under <policy>").

Two controls prove that the checks catch what they are for: the object form named
*.chrome.json (Speedscope takes it for a Chrome DevTools recording and fails) and the old
export's complete events (ts + dur in floating point: "Tried to end" warnings) must both be
reported as failures.

--shots DIR keeps screenshots of the convoy's I/O thread (time order and left heavy) there;
tools/dev/doc-figures uses it for docs/img/speedscope-*.png.

Exit 77 (skipped) when Chromium or Speedscope is missing. Chromium is driven through the
DevTools protocol over a pipe (tests/cdp_pipe.py): standard library only.
"""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp_pipe import Browser, CdpError  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = 77
RUNS = [("convoy", "new"), ("server", "fifo")]
# Chromium's own messages about its software GL, not the page's: headless without a GPU.
GPU_NOISE = ("WebGL", "GL Driver Message", "swiftshader", "SwiftShader")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return cond


def speedscope_dir():
    """Where tools/install-deps --test put Speedscope's release build, or None."""
    cache = os.environ.get("GILSIM_NPM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "gilsim", "npm")
    d = os.path.join(cache, "node_modules", "speedscope", "dist", "release")
    return d if os.path.exists(os.path.join(d, "index.html")) else None


def serve(root_of):
    """An HTTP server on 127.0.0.1 (a free port) serving /<prefix>/... from root_of[prefix]."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path):
            parts = urllib.parse.unquote(urllib.parse.urlsplit(path).path).split("/", 2)
            root = root_of.get(parts[1]) if len(parts) == 3 else None
            name = os.path.normpath("/" + parts[2]).lstrip("/") if root else ""
            return os.path.join(root, name) if root else "/nonexistent"

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def gilsim(binary, *args):
    subprocess.run([binary] + list(args), cwd=SRC, check=True, stdout=subprocess.DEVNULL)


def make_exports(binary, data):
    """[(file, trace document)]: per workload the three forms Speedscope must read."""
    loads = []
    for workload, policy in RUNS:
        base = os.path.join(data, "%s-%s" % (workload, policy))
        gilsim(binary, "run", "workloads/%s.json" % workload, "--policy", policy, "-d", "300",
               "-q", "-o", base + ".json")
        gilsim(binary, "export", base + ".json", "--format", "chrome")
        gilsim(binary, "export", base + ".json", "--format", "speedscope")
        with open(base + ".json") as f:
            trace = json.load(f)
        with open(base + ".trace.json") as f:
            events = json.load(f)["traceEvents"]
        with open(base + ".events.json", "w") as f:
            json.dump(events, f)
        for suffix in (".trace.json", ".events.json", ".speedscope.json"):
            loads.append((os.path.basename(base) + suffix, trace))
    return loads


def check_schema(path):
    """The speedscope export against the schema shipped with Speedscope (jsonschema)."""
    try:
        import jsonschema
    except ImportError:
        print("python3-jsonschema missing: schema not checked")
        return
    with open(os.path.join(speedscope_dir(), "file-format-schema.json")) as f:
        schema = json.load(f)
    with open(path) as f:
        doc = json.load(f)
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(doc))
    check(not errors, "%s: %d schema errors, first: %s" % (path, len(errors),
                                                          errors[0].message if errors else ""))


def problems(browser):
    """Console errors and warnings, exceptions and failed loads, less Chromium's GPU notes."""
    out = []
    for level, text in browser.console():
        if level in ("log", "info", "debug", "timeEnd", "time", "verbose", "dir"):
            continue
        if text.startswith("[rendering]") and any(n in text for n in GPU_NOISE):
            continue
        out.append("%s: %s" % (level, text[:300]))
    return out


def press(browser, key):
    """A key press as Speedscope's shortcuts see it ('n': next profile, '2': left heavy)."""
    code = ("Key" + key.upper()) if key.isalpha() else ("Digit" + key)
    for kind in ("keyDown", "char", "keyUp"):
        browser.call("Input.dispatchKeyEvent", {"type": kind, "text": key, "key": key,
                                                 "code": code,
                                                 "windowsVirtualKeyCode": ord(key.upper())})


TITLE = ("(() => { const t = document.body && document.body.innerText || '';"
         " if (/went wrong|Unrecognized format|Something/.test(t)) return 'ERROR: ' + t;"
         " const m = t.match(/^.*\\(\\d+\\/\\d+\\)$/m); return m ? m[0] : ''; })()")


def open_in_speedscope(browser, port, name, size=None):
    """Loads /data/name in a fresh tab (size: (width, height) of its viewport); the toolbar's
    title ('... (1/N)') or 'ERROR: ...'."""
    browser.open_page()
    if size:
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": size[0], "height": size[1], "deviceScaleFactor": 1,
                      "mobile": False})
    data = "http://127.0.0.1:%d/data/%s" % (port, urllib.parse.quote(name))
    browser.call("Page.navigate", {"url": "http://127.0.0.1:%d/speedscope/index.html#profileURL=%s"
                                   % (port, urllib.parse.quote(data, safe=""))})
    try:
        return browser.wait_for(TITLE, timeout=60)
    except CdpError as e:
        return "ERROR: " + str(e)


def expected_titles(name, trace):
    """What the toolbar must show for each of the trace's threads in turn."""
    threads = trace["threads"]
    run = "gilsim: %s under %s" % (trace["run"]["workload"]["name"], trace["run"]["policy"])
    n = len(threads)
    if name.endswith(".speedscope.json"):
        return ["%s (%d/%d)" % (t["name"], i + 1, n) for i, t in enumerate(threads)]
    return ["%s (pid 1), %s (tid %d) (%d/%d)" % (run, t["name"], i + 1, i + 1, n)
            for i, t in enumerate(threads)]


def load_and_check(browser, port, name, trace):
    """Failures of one load: importer messages, wrong profiles. Also steps through every
    thread's profile ('n')."""
    found = []
    want = expected_titles(name, trace)
    title = open_in_speedscope(browser, port, name)
    for i, expect in enumerate(want):
        if i:
            press(browser, "n")
            try:
                title = browser.wait_for(TITLE + " === %s && %s" % (json.dumps(expect),
                                                                  TITLE), timeout=10)
            except CdpError:
                title = browser.evaluate(TITLE)
        if title != expect:
            found.append("profile %d shows %r, expected %r" % (i + 1, title[:300], expect))
            break
    if name.endswith(".speedscope.json"):  # the document's name: the run's
        run = "gilsim: %s under %s" % (trace["run"]["workload"]["name"], trace["run"]["policy"])
        doc_title = browser.evaluate("document.title")
        if doc_title != run + " - speedscope":
            found.append("document title %r, expected %r" % (doc_title, run + " - speedscope"))
    browser.pump(0.5)
    found += problems(browser)
    return found


def old_complete_events(events):
    """The export as gilsim wrote it before: complete (X) events with ts and dur in µs."""
    out, open_ = [], {}
    for ev in events:
        if ev["ph"] == "B":
            open_.setdefault(ev["tid"], []).append(ev)
        elif ev["ph"] == "E":
            b = open_[ev["tid"]].pop()
            out.append(dict(b, ph="X", dur=float("%.3f" % (ev["ts"] - b["ts"]))))
        else:
            out.append(ev)
    return {"traceEvents": out}


def controls(browser, port, data, first):
    """The checks catch a DevTools misreading and the floating-point staircase."""
    base, trace = first
    stem = base[:-len(".trace.json")]
    shutil.copy(os.path.join(data, base), os.path.join(data, stem + ".chrome.json"))
    found = load_and_check(browser, port, stem + ".chrome.json", trace)
    check(found, "control: %s.chrome.json loaded without a complaint" % stem)
    print("control %s.chrome.json: %s" % (stem, found[0] if found else "no failure"))
    with open(os.path.join(data, base)) as f:
        events = json.load(f)["traceEvents"]
    with open(os.path.join(data, stem + ".x.json"), "w") as f:
        json.dump(old_complete_events(events), f)
    found = load_and_check(browser, port, stem + ".x.json", trace)
    check(any("Tried to end" in p for p in found),
          "control: complete events with float ends gave no 'Tried to end' warning")
    print("control %s.x.json (X events): %d problems, e.g. %s" % (
        stem, len(found), found[0] if found else "-"))


def shots(browser, port, name, out_dir):
    """The convoy's I/O thread in time order and left heavy, for docs/analysis.md."""
    os.makedirs(out_dir, exist_ok=True)
    open_in_speedscope(browser, port, name, (1200, 220))
    press(browser, "n")
    browser.wait_for(TITLE + ".startsWith('io.0')", timeout=10)
    browser.pump(1)
    browser.screenshot(os.path.join(out_dir, "speedscope-time-order.png"))
    press(browser, "2")
    browser.pump(1)
    browser.screenshot(os.path.join(out_dir, "speedscope-left-heavy.png"))
    print("screenshots in " + out_dir)


def main():
    args = sys.argv[1:]
    if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "--shots"):
        sys.exit("usage: test_viewers.py GILSIM [--shots DIR]")
    binary = os.path.abspath(args[0])
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    release = speedscope_dir()
    if not chromium or not release:
        print("%s missing (tools/install-deps --test installs it): skipped"
              % ("Chromium" if not chromium else "Speedscope"))
        return SKIP
    with open(os.path.join(release, "release.txt")) as f:
        print("Speedscope " + f.readline().strip() + ", " + chromium)
    tmp = tempfile.mkdtemp(prefix="gilsim-viewers-")
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    server = serve({"speedscope": release, "data": data})
    port = server.server_address[1]
    browser = None
    try:
        loads = make_exports(binary, data)
        for name, _ in loads:
            if name.endswith(".speedscope.json"):
                check_schema(os.path.join(data, name))
        browser = Browser(chromium, os.path.join(tmp, "profile"), os.path.join(tmp, "chromium.log"))
        for name, trace in loads:
            found = load_and_check(browser, port, name, trace)
            check(not found, "%s in Speedscope: %s" % (name, "; ".join(found)))
            print("%s: %s" % (name, "ok, %d profiles" % len(trace["threads"])
                                    if not found else "FAILED"))
        controls(browser, port, data, loads[0])
        if len(args) == 3:
            shots(browser, port, loads[2][0], os.path.abspath(args[2]))
    finally:
        if browser:
            browser.close()
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    print("viewers: %s" % ("%d failures" % len(failures) if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
