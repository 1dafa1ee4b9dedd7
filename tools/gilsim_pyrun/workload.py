"""Workload files: load_workload() reads and checks a gilsim-workload file as gilsim's reader
does (sim/wl.c), with its limits and messages; walk_ops() visits an op tree."""
import hashlib
import json
import math

from .base import MAX_DURATION_NS, NS_PER_US, InputError, llround

NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
MAX_THREADS = 10000
MAX_NEST = 16
MAX_COUNT = 10**15
OPS = ("cpu", "io", "sleep", "native", "hold", "loop", "serve", "send")


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise InputError("duplicate key %r" % k)
        seen[k] = v
    return seen


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class _Checker:
    def __init__(self, path):
        self.path = path
        self.nthreads = 0

    def fail(self, where, msg):
        raise InputError("%s: %s: %s" % (self.path, where, msg))

    def keys(self, obj, where, required, optional=()):
        if not isinstance(obj, dict):
            self.fail(where, "expected an object")
        for k in obj:
            if k not in required and k not in optional:
                self.fail(where, "unknown key %r; expected one of: %s"
                          % (k, ", ".join(list(required) + list(optional))))
        for k in required:
            if k not in obj:
                self.fail(where, "missing key %r" % k)

    def us(self, v, where, positive=False):
        if not _is_num(v) or v < 0 or v > MAX_DURATION_NS / NS_PER_US or (positive and v == 0):
            self.fail(where, "expected a number of microseconds in %s0, 8.64e+10], got %r"
                      % ("(" if positive else "[", v))
        return llround(v * NS_PER_US)

    def boolean(self, obj, key, where):
        v = obj.get(key, False)
        if not isinstance(v, bool):
            self.fail("%s.%s" % (where, key), "expected true or false, got %r" % (v,))
        return v

    def count(self, v, where, forever_ok):
        if forever_ok and v == "forever":
            return None
        if not _is_int(v) or v < 1 or v > MAX_COUNT:
            self.fail(where, "expected an integer in [1, 1e15]%s, got %r"
                      % (' or "forever"' if forever_ok else "", v))
        return v

    def ops(self, ops, where, depth):
        if depth > MAX_NEST + 1:
            self.fail(where, "expected loop/serve nesting of at most %d levels" % MAX_NEST)
        if not isinstance(ops, list) or not ops:
            self.fail(where, "expected a non-empty array of ops")
        return [self.op(op, "%s[%d]" % (where, i), depth) for i, op in enumerate(ops)]

    def op(self, op, where, depth):
        if not isinstance(op, dict) or len(op) != 1:
            self.fail(where, "expected an object with exactly one key: %s" % ", ".join(OPS))
        (kind, a), = op.items()
        w = "%s.%s" % (where, kind)
        if kind not in OPS:
            self.fail(w, "unknown key %r; expected one of: %s" % (kind, ", ".join(OPS)))
        if kind == "cpu":
            self.keys(a, w, (), ("ticks", "us"))
            if ("ticks" in a) == ("us" in a):
                self.fail(w, "expected exactly one of ticks and us")
            if "ticks" in a:
                return ("cpu", self.count(a["ticks"], w + ".ticks", False), None)
            return ("cpu", None, self.us(a["us"], w + ".us", positive=True))
        if kind == "io":
            self.keys(a, w, ("us",), ("dist", "max_us", "peer", "send"))
            ns = self.us(a["us"], w + ".us")
            dist = a.get("dist", "fixed")
            if dist not in ("fixed", "uniform", "exponential"):
                self.fail(w + ".dist", "expected fixed, uniform or exponential, got %r" % dist)
            max_ns = 0
            if "max_us" in a:
                max_ns = self.us(a["max_us"], w + ".max_us")
                if max_ns < ns:
                    self.fail(w + ".max_us", "expected at least us (%r)" % a["us"])
            peer, send = self.boolean(a, "peer", w), self.boolean(a, "send", w)
            if send and not peer:
                self.fail(w + ".send", 'expected "peer": true beside "send": true')
            return ("io", ns, dist, max_ns, peer, send)
        if kind == "send":
            self.keys(a, w, ())
            return ("send",)
        if kind in ("sleep", "native", "hold"):
            self.keys(a, w, ("us",))
            return (kind, self.us(a["us"], w + ".us"))
        if kind == "loop":
            self.keys(a, w, ("count", "ops"))
            return ("loop", self.count(a["count"], w + ".count", True),
                    self.ops(a["ops"], w + ".ops", depth + 1))
        self.keys(a, w, ("rate_hz", "ops"), ("arrivals", "count"))
        rate = a["rate_hz"]
        if not _is_num(rate) or rate < 0.001 or rate > 1e6:
            self.fail(w + ".rate_hz", "expected a number in [0.001, 1e6], got %r" % rate)
        arrivals = a.get("arrivals", "poisson")
        if arrivals not in ("poisson", "fixed"):
            self.fail(w + ".arrivals", "expected poisson or fixed, got %r" % arrivals)
        count = self.count(a.get("count", "forever"), w + ".count", True)
        return ("serve", float(rate), arrivals, count, self.ops(a["ops"], w + ".ops", depth + 1))

    def name(self, v, where):
        if not isinstance(v, str) or not 1 <= len(v) <= 64 or not set(v) <= NAME_CHARS:
            self.fail(where, "expected a name of 1-64 of A-Z a-z 0-9 _ -, got %r" % (v,))
        return v


def _finite_float(text):
    v = float(text)
    if v != v or v in (float("inf"), float("-inf")):
        raise InputError("invalid JSON: real number overflow: %s" % text)
    return v


def _no_constant(name):
    raise InputError("invalid JSON: %s is not JSON" % name)


def _strict_strings(v, depth=0):
    """What gilsim's reader refuses and Python's json takes: \\u0000 and lone surrogates in
    strings and keys; nesting deeper than gilsim's parser allows."""
    if depth > 512:
        raise InputError("invalid JSON: maximum parsing depth reached")
    if isinstance(v, str):
        if "\0" in v:
            raise InputError("invalid JSON: \\u0000 is not allowed")
        if any("\ud800" <= ch <= "\udfff" for ch in v):
            raise InputError("invalid JSON: invalid \\u surrogate pair")
    elif isinstance(v, dict):
        for k, x in v.items():
            _strict_strings(k, depth + 1)
            _strict_strings(x, depth + 1)
    elif isinstance(v, list):
        for x in v:
            _strict_strings(x, depth + 1)


def load_workload(path):
    """Reads and checks a gilsim-workload file: a dict with name, description, duration_ns,
    tick_ns, sha256 and groups (name, count, start_ns, ops as tuples). Raises InputError."""
    try:
        with open(path, "rb") as f:
            raw = f.read(16 * 2**20 + 1)
    except OSError as e:
        raise InputError("%s: cannot read: %s" % (path, e.strerror))
    if len(raw) > 16 * 2**20:
        raise InputError("%s: larger than 16 MiB" % path)
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates,
                         parse_float=_finite_float, parse_constant=_no_constant)
        _strict_strings(doc)
    except InputError as e:
        raise InputError("%s: %s" % (path, e))
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError("%s: invalid JSON: %s" % (path, e))
    except RecursionError:
        raise InputError("%s: invalid JSON: maximum parsing depth reached" % path)
    c = _Checker(path)
    c.keys(doc, "$", ("format", "version", "name", "threads"),
           ("description", "duration_ms", "tick_ns"))
    if doc["format"] != "gilsim-workload":
        c.fail("$.format", 'expected "gilsim-workload"')
    if doc["version"] != 1 or not _is_int(doc["version"]):
        c.fail("$.version", "expected 1")
    desc = doc.get("description", "")
    if not isinstance(desc, str):
        c.fail("$.description", "expected a string")
    dur = doc.get("duration_ms", 1000)
    if not _is_num(dur) or not 1 <= dur <= MAX_DURATION_NS / 1e6:
        c.fail("$.duration_ms", "expected milliseconds in [1, 86400000], got %r" % (dur,))
    tick = doc.get("tick_ns", 50)
    if not _is_int(tick) or not 5 <= tick <= 10**6:
        c.fail("$.tick_ns", "expected an integer in [5, 1000000], got %r" % (tick,))
    groups = doc["threads"]
    if not isinstance(groups, list) or not groups:
        c.fail("$.threads", "expected a non-empty array of thread groups")
    out, names, total = [], set(), 0
    for i, g in enumerate(groups):
        w = "$.threads[%d]" % i
        c.keys(g, w, ("name", "ops"), ("count", "start_ms"))
        name = c.name(g["name"], w + ".name")
        if name in names:
            c.fail(w + ".name", "group name %r given twice" % name)
        names.add(name)
        count = g.get("count", 1)
        if not _is_int(count) or not 1 <= count <= MAX_THREADS:
            c.fail(w + ".count", "expected an integer in [1, 10000], got %r" % (count,))
        total += count
        if total > MAX_THREADS:
            c.fail(w + ".count", "expected at most 10000 threads in all, this group brings "
                   "it to %d" % total)
        start = g.get("start_ms", 0)
        if not _is_num(start) or not 0 <= start <= dur:
            c.fail(w + ".start_ms", "expected milliseconds in [0, duration_ms], got %r"
                   % (start,))
        out.append({"name": name, "count": count, "start_ns": llround(start * 1e6),
                    "ops": c.ops(g["ops"], w + ".ops", 1)})
    return {"name": c.name(doc["name"], "$.name"), "description": desc,
            "duration_ns": llround(dur * 1e6), "tick_ns": tick, "groups": out,
            "sha256": hashlib.sha256(raw).hexdigest(), "path": path}


def walk_ops(ops):
    for op in ops:
        yield op
        if op[0] == "loop":
            yield from walk_ops(op[2])
        elif op[0] == "serve":
            yield from walk_ops(op[4])
