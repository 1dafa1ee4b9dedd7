"""tests/trace_checks.py - what every trace of a real interpreter must be, checked the same way
for tools/pyrun's (test_pyrun.py) and gilsim record's (test_record.py): events sorted by time,
each thread's request -> acquire -> release -> ... in order (thread_exit never while holding),
and holdings of different threads that never overlap."""


import json
import os
import sys

# an event of these types: the thread's state before it, and after
STEPS = {"request": ("out", "wait"), "acquire": ("wait", "hold"), "release": ("hold", "out")}


def holdings(doc):
    """Per thread: [(acquire, release)] from the event stream."""
    out, open_ = {}, {}
    for e in doc["events"]:
        if e["ev"] == "acquire":
            open_[e["tid"]] = e["t"]
        elif e["ev"] == "release":
            out.setdefault(e["tid"], []).append((open_.pop(e["tid"]), e["t"]))
    return out


def check_order(tc, doc):
    """Asserts the order and exclusion on tc (a unittest.TestCase); returns each thread's last
    state: out, wait, hold or ended."""
    ts = [e["t"] for e in doc["events"]]
    tc.assertEqual(ts, sorted(ts))
    state = {}
    for e in doc["events"]:
        tid, ev = e["tid"], e["ev"]
        s = state.get(tid, "out")
        if ev in STEPS:
            tc.assertEqual(s, STEPS[ev][0], e)
            state[tid] = STEPS[ev][1]
        elif ev == "thread_exit":
            tc.assertNotEqual(s, "hold", e)
            state[tid] = "ended"
    # mutual exclusion, inferred edges included
    spans = sorted((a, r, tid) for tid, iv in holdings(doc).items() for a, r in iv)
    for (a1, r1, t1), (a2, r2, t2) in zip(spans, spans[1:]):
        tc.assertLessEqual(r1, a2, "holdings overlap: %r %r" % ((a1, r1, t1), (a2, r2, t2)))
    return state


def check_schema(tc, doc, src):
    """The trace against docs/trace.schema.json (skipped, visibly, without jsonschema)."""
    try:
        import jsonschema
    except ImportError:
        print("\nnote: no jsonschema module: schema check skipped", file=sys.stderr)
        return
    with open(os.path.join(src, "docs", "trace.schema.json")) as f:
        schema = json.load(f)
    tc.assertEqual(list(jsonschema.Draft202012Validator(schema).iter_errors(doc))[:3], [])
