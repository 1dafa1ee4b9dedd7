"""Workload files: load_workload() reads and checks a gilsim-workload file as gilsim's reader
does (sim/wl.c), with its limits and messages, variables included; walk_ops() visits an op
tree."""
import hashlib
import json
import math
import re

from .base import MAX_DURATION_NS, NS_PER_US, InputError, llround

NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
MAX_THREADS = 10000
MAX_NEST = 16
MAX_COUNT = 10**15
OPS = ("cpu", "io", "sleep", "native", "hold", "loop", "serve", "send")
VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z")
MAX_VARS = 64


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


def parse_var_arg(arg):
    """--var NAME=NUMBER: (name, value); an int when written without a point or exponent."""
    name, eq, text = arg.partition("=")
    if not eq or not name:
        raise InputError("--var %s: expected NAME=NUMBER" % arg)
    if not VAR_NAME.match(name):
        raise InputError("--var %s: expected a name of 1 to 64 letters, digits or '_' (not "
                         "starting with a digit)" % arg)
    if not NUMBER.match(text):
        raise InputError("--var %s: expected a number after '=', got '%s'" % (arg, text))
    value = int(text) if re.match(r"[-+]?\d+\Z", text) else float(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError("--var %s: expected a number after '=', got '%s'" % (arg, text))
    return name, value


class _Checker:
    def __init__(self, path, variables=None):
        self.path = path
        self.nthreads = 0
        self.vars = variables  # name -> [value, set by --var]; None: no "$name" at all
        self.used = set()
        self.via = None  # (where, name) of the variable read last

    def fail(self, where, msg):
        if self.via and self.via[0] == where:
            value, from_option = self.vars[self.via[1]]
            msg += " (the value of $%s = %r, %s)" % (
                self.via[1], value, "set by --var" if from_option else 'its default in "vars"')
        raise InputError("%s: %s: %s" % (self.path, where, msg))

    def num(self, v, where):
        """A number field's value with a variable resolved."""
        self.via = None
        if self.vars is None or not isinstance(v, str) or not v.startswith("$"):
            return v
        name = v[1:]
        if name.startswith("("):
            self.fail(where, "expressions $(...) are gilsim's: pyrun does not read them yet "
                      "(write the value, or a variable)")
        if name not in self.vars:
            self.fail(where, 'undeclared variable "$%s" ("vars" declares: %s)'
                      % (name, ", ".join(self.vars) or "none"))
        self.used.add(name)
        self.via = (where, name)
        return self.vars[name][0]

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
        v = self.num(v, where)
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
        v = self.num(v, where)
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
            self.keys(a, w, ("us",), ("dist", "max_us", "peer", "send", "peer_works"))
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
            works = self.boolean(a, "peer_works", w)
            if works and not peer:
                self.fail(w + ".peer_works", 'expected "peer": true beside "peer_works": true')
            return ("io", ns, dist, max_ns, peer, send, works)
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
        rate = self.num(a["rate_hz"], w + ".rate_hz")
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


def _read(path):
    """The file's bytes and its JSON, parsed as strictly as gilsim's reader."""
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
    return raw, doc


def _variables(c, doc, assign):
    """"vars" with every --var applied: name -> [value, set by --var]."""
    declared = doc.get("vars", {}) if isinstance(doc, dict) else {}
    if not isinstance(declared, dict):
        c.fail("$.vars", "expected variables: {\"name\": number, ...}")
    if len(declared) > MAX_VARS:
        c.fail("$.vars", "expected at most %d variables" % MAX_VARS)
    out = {}
    for name, v in declared.items():
        if not VAR_NAME.match(name):
            c.fail("$.vars.%s" % name, "expected a variable name of 1 to 64 letters, digits "
                   "or '_' (not starting with a digit), got %r" % name)
        if name in ("index", "count"):
            c.fail("$.vars.%s" % name, '"%s" is reserved (gilsim\'s expressions read it)' % name)
        if not _is_num(v):
            c.fail("$.vars.%s" % name, "expected the variable's default value, a number, got %r"
                   % (v,))
        out[name] = [v, False]
    for arg in assign:
        name, value = parse_var_arg(arg)
        if name not in out:
            c.fail("$.vars" if "vars" in doc else "$",
                   '--var %s: the workload has no variable "%s" ("vars" declares: %s)'
                   % (arg, name, ", ".join(out) or "none"))
        if out[name][1]:
            raise InputError("--var %s: given twice" % name)
        out[name] = [value, True]
    return out


def _groups(c, groups, dur):
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
        count = c.num(g.get("count", 1), w + ".count")
        if not _is_int(count) or not 1 <= count <= MAX_THREADS:
            c.fail(w + ".count", "expected an integer in [1, 10000], got %r" % (count,))
        total += count
        if total > MAX_THREADS:
            c.fail(w + ".count", "expected at most 10000 threads in all, this group brings "
                   "it to %d" % total)
        start = c.num(g.get("start_ms", 0), w + ".start_ms")
        if not _is_num(start) or not 0 <= start <= dur:
            c.fail(w + ".start_ms", "expected milliseconds in [0, duration_ms], got %r"
                   % (start,))
        out.append({"name": name, "count": count, "start_ns": llround(start * 1e6),
                    "ops": c.ops(g["ops"], w + ".ops", 1)})
    return out


def load_workload(path, assign=()):
    """Reads and checks a gilsim-workload file, with the variables of assign ("name=value",
    as --var gives them) set: a dict with name, description, duration_ns, tick_ns, sha256,
    vars (name -> effective value) and groups (name, count, start_ns, ops as tuples). Raises
    InputError."""
    raw, doc = _read(path)
    c = _Checker(path)
    if isinstance(doc, dict) and "objects" in doc:
        c.fail("$.objects", "threading objects are gilsim's: pyrun does not run them yet "
               "(docs/pyrun.md)")
    c.vars = _variables(c, doc, assign)
    c.keys(doc, "$", ("format", "version", "name", "threads"),
           ("description", "duration_ms", "tick_ns", "vars"))
    if doc["format"] != "gilsim-workload":
        c.fail("$.format", 'expected "gilsim-workload"')
    if doc["version"] != 1 or not _is_int(doc["version"]):
        c.fail("$.version", "expected 1")
    desc = doc.get("description", "")
    if not isinstance(desc, str):
        c.fail("$.description", "expected a string")
    dur = c.num(doc.get("duration_ms", 1000), "$.duration_ms")
    if not _is_num(dur) or not 1 <= dur <= MAX_DURATION_NS / 1e6:
        c.fail("$.duration_ms", "expected milliseconds in [1, 86400000], got %r" % (dur,))
    tick = c.num(doc.get("tick_ns", 50), "$.tick_ns")
    if not _is_int(tick) or not 5 <= tick <= 10**6:
        c.fail("$.tick_ns", "expected an integer in [5, 1000000], got %r" % (tick,))
    groups = _groups(c, doc["threads"], dur)
    for name in c.vars:
        if name not in c.used:
            c.via = None
            c.fail("$.vars.%s" % name, 'variable "%s" is declared but never used (write "$%s" '
                   "in place of a number)" % (name, name))
    return {"name": c.name(doc["name"], "$.name"), "description": desc,
            "duration_ns": llround(dur * 1e6), "tick_ns": tick, "groups": groups,
            "vars": {k: v[0] for k, v in c.vars.items()},
            "sha256": hashlib.sha256(raw).hexdigest(), "path": path}


def walk_ops(ops):
    for op in ops:
        yield op
        if op[0] == "loop":
            yield from walk_ops(op[2])
        elif op[0] == "serve":
            yield from walk_ops(op[4])
