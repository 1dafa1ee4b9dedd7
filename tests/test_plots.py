#!/usr/bin/python3
"""tests/test_plots.py - the plot scripts and the HTML report, end to end.

  test_plots.py plots GILSIM    each tools/plot-* script on a small compare directory writes a
                                non-empty PNG and SVG; bad input exits 2 and writes nothing
  test_plots.py report GILSIM   `gilsim report` writes one self-contained page; headless
                                Chromium renders it: a screenshot is written, the page has the
                                metrics table and every image, and the plots are visible

Run by ctest with /usr/bin/python3 (python3-matplotlib). The report test exits 77 (skipped)
when Chromium is missing: tools/test installs it (tools/install-deps --test).
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(SRC, "tools")
SKIP = 77
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)


def run(args, env=None, expect=0):
    proc = subprocess.run(args, cwd=SRC, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env, timeout=600)
    if proc.returncode != expect:
        check(False, "%s: exit %d, expected %d\n%s%s" % (" ".join(args), proc.returncode,
                                                          expect, proc.stdout, proc.stderr))
    return proc


def small_compare(gilsim, tmp):
    """convoy under new and fifo at two intervals plus the none baseline, 2 repeats, short
    (disturbed runs kept: on a busy machine every run may be, and the plots need figures)."""
    d = os.path.join(tmp, "cmp")
    run([gilsim, "compare", "workloads/convoy.json", "-p", "new,fifo,none",
         "-s", "interval_us=1000,5000", "-r", "2", "-d", "150", "--keep-disturbed", "-o", d])
    if not os.path.exists(os.path.join(d, "index.json")):
        sys.exit("no compare directory: cannot go on")
    return d


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def is_svg(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return "<svg" in text and text.rstrip().endswith("</svg>")


def check_pair(base, what):
    for ext, ok in (("png", is_png), ("svg", is_svg)):
        path = "%s.%s" % (base, ext)
        exists = os.path.exists(path)
        check(exists and os.path.getsize(path) > 1000, "%s: %s missing or tiny" % (what, path))
        if exists:
            check(ok(path), "%s: %s is not a %s file" % (what, path, ext.upper()))


def test_plots(gilsim, tmp):
    env = dict(os.environ, GILSIM=gilsim)
    d = small_compare(gilsim, tmp)
    trace = os.path.join(d, "new-interval_us=5000-r1.json")
    out = os.path.join(tmp, "out")

    run(["/usr/bin/python3", os.path.join(TOOLS, "plot-timeline"), trace, "--from-ms", "20",
         "--to-ms", "60", "-o", os.path.join(out, "timeline")], env)
    check_pair(os.path.join(out, "timeline"), "plot-timeline")
    run(["/usr/bin/python3", os.path.join(TOOLS, "plot-cdf"), d, "-o",
         os.path.join(out, "cdf")], env)
    check_pair(os.path.join(out, "cdf"), "plot-cdf")
    run(["/usr/bin/python3", os.path.join(TOOLS, "plot-sweep"), d, "--param", "interval_us",
         "--metric", "io_response_p50_ns", "-o", os.path.join(out, "sweep")], env)
    check_pair(os.path.join(out, "sweep"), "plot-sweep")
    # defaults: next to the trace / in the directory
    run(["/usr/bin/python3", os.path.join(TOOLS, "plot-sweep"), d], env)
    check_pair(os.path.join(d, "sweep-convoy_factor-interval_us"), "plot-sweep defaults")

    # the timeline draws what the trace says: the CPU thread holds the GIL for most of the
    # window and the I/O thread waits (the convoy), so both colours fill much of the SVG
    with open(os.path.join(out, "timeline.svg"), encoding="utf-8") as f:
        svg = f.read()
    check("#2ca02c" in svg and "#d62728" in svg, "timeline: no GIL or wait spans drawn")

    # bad input: exit 2, a message, no file
    bad = os.path.join(out, "bad")
    p = run(["/usr/bin/python3", os.path.join(TOOLS, "plot-cdf"), os.path.join(tmp, "nope"),
             "-o", bad], env, expect=2)
    check("index.json" in p.stderr, "plot-cdf on a missing directory: no message")
    p = run(["/usr/bin/python3", os.path.join(TOOLS, "plot-sweep"), d, "--metric", "nonsense",
             "-o", bad], env, expect=2)
    check("nonsense" in p.stderr, "plot-sweep with a bad metric: no message")
    p = run(["/usr/bin/python3", os.path.join(TOOLS, "plot-timeline"), trace, "--from-ms", "9",
             "--to-ms", "3", "-o", bad], env, expect=2)
    run(["/usr/bin/python3", os.path.join(TOOLS, "plot-timeline"),
         os.path.join(SRC, "workloads", "convoy.json"), "-o", bad], env, expect=2)
    check(not glob.glob(bad + ".*"), "bad input left files behind: %s" % glob.glob(bad + ".*"))
    test_sweep(gilsim, tmp, env)


def test_sweep(gilsim, tmp, env):
    """A sweep of 12 virtual cells over a workload variable: plot-sweep against the variable,
    by another dimension, fixed by --where; `gilsim report` draws curves and links the runs,
    no per-cell timeline."""
    d = os.path.join(tmp, "sweep")
    run([gilsim, "compare", "workloads/convoy-n.json", "-p", "new,fifo,prio,none", "-e",
         "virtual", "--var", "cpu_threads=1,2,4", "-r", "2", "-d", "100", "-j", "2", "-o", d])
    out = os.path.join(tmp, "out")
    run(["/usr/bin/python3", os.path.join(TOOLS, "plot-sweep"), d, "--x", "cpu_threads",
         "--metric", "io_per_s", "-o", os.path.join(out, "sweep-x")], env)
    check_pair(os.path.join(out, "sweep-x"), "plot-sweep --x")
    run(["/usr/bin/python3", os.path.join(TOOLS, "plot-sweep"), d, "--by", "cpu_threads",
         "--x", "cpu_threads", "--where", "policy=new", "-o", os.path.join(out, "sweep-by")],
        env)
    check_pair(os.path.join(out, "sweep-by"), "plot-sweep --by --where")
    # the band: each point's median and its 95% interval as compare computed them
    sys.path.insert(0, os.path.join(TOOLS, "lib"))
    import gilsim_plots as gp
    index = gp.read_index(d)
    lines, _ = gp._sweep_lines(index, "cpu_threads", "io_per_s", "policy", {})
    want = {(c["policy"], c["vars"]["cpu_threads"]): c["metrics"]["io_per_s"]
            for c in index["configs"] if not c.get("baseline_only")}
    for label, pts in lines.items():
        for x, med, lo, hi, level in pts:
            st = want[(label, x)]
            check((med, lo, hi, level) == (st["median"], st["ci_low"], st["ci_high"],
                                            st["ci_level"]) and lo <= med <= hi,
                  "plot-sweep's band for %s at %s: %s, index %s" % (label, x, (lo, hi), st))
    p = run(["/usr/bin/python3", os.path.join(TOOLS, "plot-sweep"), d, "--x", "io_us", "-o",
             os.path.join(out, "bad")], env, expect=2)
    check("io_us" in p.stderr, "plot-sweep --x of an unswept variable: no message")
    run([gilsim, "report", d])
    with open(os.path.join(d, "report.html"), encoding="utf-8") as f:
        html = f.read()
    imgs = re.findall(r'<img alt="([^"]*)"', html)
    check(imgs == ["%s vs cpu_threads" % m for m in
                   ("convoy_factor", "io_response_p50_ns", "ticks_per_s")],
          "sweep report: images %s, expected three curves against cpu_threads" % imgs)
    rows = re.findall(r"<tr><td class=\"name\">(new|fifo|prio|none)</td>", html)
    check(len(rows) == 12, "sweep report: %d cell rows, expected 12" % len(rows))
    links = re.findall(r'href="([^"]*-r[12]\.json)"', html)
    check(len(links) == 24, "sweep report: %d run links, expected 24" % len(links))
    for href in links:
        check(os.path.exists(os.path.join(d, urllib.parse.unquote(href))),
              "sweep report links to a missing trace: " + href)


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report(gilsim, tmp):
    chromium = find_chromium()
    if not chromium:
        print("chromium not installed (tools/install-deps --test installs it): skipped")
        return SKIP
    d = small_compare(gilsim, tmp)
    page = os.path.join(d, "report.html")
    run([gilsim, "report", d])
    check(os.path.exists(page), "gilsim report wrote no %s" % page)
    with open(page, encoding="utf-8") as f:
        html = f.read()

    # self-contained: every image inline, nothing fetched, every link to a file that is there
    imgs = re.findall(r'<img [^>]*src="([^"]*)"', html)
    configs = 5  # new x2, fifo x2, none
    sweeps = 3   # convoy_factor, io_response_p50_ns, ticks_per_s against interval_us
    check(len(imgs) == 1 + 1 + sweeps + 1 + configs,
          "report: %d images, expected error bars + CDF + %d sweeps + wait attribution + %d "
          "timelines" % (len(imgs), sweeps, configs))
    check('alt="medians with error bars"' in html, "report: no error bars")
    # who made whom wait: the heatmaps and the top blocker row (the convoy: cpu.0 -> io.0)
    check('alt="wait attribution heatmaps"' in html, "report: no wait attribution heatmaps")
    check('<td class="name">top blocker</td><td>cpu.0&rarr;io.0 ' in html,
          "report: no top blocker row with cpu.0 -> io.0")
    check(all(s.startswith("data:image/png;base64,") for s in imgs), "report: an image not inline")
    check(not re.search(r'(src|href)="(https?:)?//', html) and "<link" not in html
          and "<script" not in html and "@import" not in html, "report loads something")
    for href in set(re.findall(r'href="([^"]*)"', html)):
        path = os.path.join(d, urllib.parse.unquote(href))
        check(os.path.exists(path), "report links to a missing file: " + href)
    for label in ("new interval_us=1000", "fifo interval_us=5000", "none"):
        check(label in html, "report: no column " + label)

    # a second run refuses nothing and replaces the page whole; -o elsewhere keeps links right
    other = os.path.join(tmp, "elsewhere.html")
    run([gilsim, "report", d, "-o", other])
    with open(other, encoding="utf-8") as f:
        check('href="cmp/index.json"' in f.read(), "report -o elsewhere: links not relative")
    p = run([gilsim, "report", os.path.join(tmp, "missing")], expect=2)
    check("index.json" in p.stderr, "report of a missing directory: no message")

    # headless Chromium, no network, a fresh profile
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--window-size=1280,7000"]
    shot = os.path.join(tmp, "report.png")
    url = "file://" + os.path.abspath(page)
    p = subprocess.run(flags + ["--user-data-dir=" + os.path.join(tmp, "profile1"),
                                "--screenshot=" + shot, url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=180)
    check(os.path.exists(shot) and os.path.getsize(shot) > 10000,
          "chromium wrote no screenshot (exit %d): %s" % (p.returncode, p.stderr[-2000:]))
    p = subprocess.run(flags + ["--user-data-dir=" + os.path.join(tmp, "profile2"),
                                "--dump-dom", url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=180)
    dom = p.stdout
    check('<table id="metrics">' in dom, "rendered page has no metrics table")
    check(len(re.findall(r"<tr>", dom)) >= 10, "rendered metrics table has too few rows")
    check(len(re.findall(r"<img ", dom)) == len(imgs), "rendered page lost images")

    if os.path.exists(shot):
        # the plots are on screen: the timelines' GIL green (#2ca02c) appears in quantity, and
        # the page's own styles use no green
        import matplotlib.image as mpimg
        px = mpimg.imread(shot)
        check(px.shape[1] == 1280, "screenshot is %d px wide" % px.shape[1])
        r, g, b = px[..., 0] * 255, px[..., 1] * 255, px[..., 2] * 255
        green = ((abs(r - 44) < 12) & (abs(g - 160) < 12) & (abs(b - 44) < 12)).sum()
        check(green > 20000, "screenshot: only %d px of the timelines' green" % green)
        print("screenshot %s: %dx%d, %d px of timeline green" % (shot, px.shape[1],
                                                                px.shape[0], green))
    return 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("plots", "report"):
        sys.exit("usage: test_plots.py plots|report GILSIM")
    gilsim = os.path.abspath(sys.argv[2])
    keep = os.environ.get("GILSIM_TEST_KEEP")  # a directory to keep the outputs in
    tmp = tempfile.mkdtemp(prefix="gilsim-%s-" % sys.argv[1], dir=keep or None)
    try:
        rc = (test_plots if sys.argv[1] == "plots" else test_report)(gilsim, tmp)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if rc == SKIP:
        return SKIP
    print("%s: %s" % (sys.argv[1], "%d failures" % len(failures) if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
