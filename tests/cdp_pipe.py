"""tests/cdp_pipe.py - headless Chromium driven through the DevTools protocol over a pipe
(--remote-debugging-pipe), Python standard library only.

Why a pipe: the protocol's messages then travel over two file descriptors (3: to Chromium,
4: from it), each a JSON object ended by a NUL byte. No port to choose or leak, no WebSocket
client to write, no npm driver whose release must match the Debian Chromium: the handful of
protocol methods used here (Target, Page, Runtime, Log) have been stable for years.
"""
import base64
import fcntl
import json
import os
import select
import signal
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-pipe"]


class CdpError(Exception):
    """Chromium ended, answered with an error, or did not answer in time."""


class Browser:
    def __init__(self, chromium, profile_dir, log_path, width=1400, height=900):
        # Our ends and Chromium's, all close-on-exec and above 9, so that the two dup2 below
        # (done by posix_spawn in the child, not by Python code between fork and exec, which
        # is unsafe with threads running) collide with nothing and leave only 3 and 4 open.
        def high(fd):
            moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
            os.close(fd)
            return moved
        child_r, self._to_child = map(high, os.pipe())
        self._from_child, child_w = map(high, os.pipe())
        self._log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        argv = [chromium] + FLAGS + ["--user-data-dir=" + profile_dir,
                                     "--window-size=%d,%d" % (width, height), "about:blank"]
        self.pid = os.posix_spawn(chromium, argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_DUP2, self._log, 2),
            (os.POSIX_SPAWN_DUP2, child_r, 3),
            (os.POSIX_SPAWN_DUP2, child_w, 4)])
        for fd in (child_r, child_w, self._log):
            os.close(fd)
        self._buf = b""
        self._next_id = 0
        self.events = []  # every protocol event received, in order
        self.session = self.target = None

    def _exited(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return True
            time.sleep(0.05)
        return False

    def close(self):
        try:
            self.call("Browser.close", timeout=10, session=False)
        except (CdpError, OSError):
            pass
        if not self._exited(10):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        for fd in (self._to_child, self._from_child):
            os.close(fd)

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CdpError("no answer from Chromium in time")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 16)
                if not chunk:
                    raise CdpError("Chromium closed the pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, timeout=60, session=True):
        """Sends one command (to the page's session unless session=False) and returns its
        result; events that arrive meanwhile are kept in self.events."""
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CdpError("%s: %s" % (method, reply["error"].get("message")))
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def pump(self, seconds):
        """Collects events for a while."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                reply = self._read_message(deadline)
                if "method" in reply:
                    self.events.append(reply)
        except CdpError as e:
            if "in time" not in str(e):
                raise

    def open_page(self):
        """A new tab (closing the one before), attached, with console messages, log entries and
        exceptions reported; self.events starts empty."""
        if self.session:
            self.call("Target.closeTarget", {"targetId": self.target}, session=False)
            self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        self.target = target["targetId"]
        self.events = []
        attached = self.call("Target.attachToTarget",
                             {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")

    def evaluate(self, expression, timeout=30):
        result = self.call("Runtime.evaluate",
                           {"expression": expression, "returnByValue": True}, timeout=timeout)
        if "exceptionDetails" in result:
            raise CdpError("%s: %s" % (expression, result["exceptionDetails"].get("text")))
        return result["result"].get("value")

    def wait_for(self, expression, timeout=60):
        """Polls expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            self.pump(0.25)
        raise CdpError("timed out waiting for " + expression)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def console(self):
        """[(level, text)] of every console call, log entry and uncaught exception so far."""
        out = []
        for ev in self.events:
            p = ev.get("params", {})
            if ev["method"] == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                out.append((p["type"], text))
            elif ev["method"] == "Log.entryAdded":
                entry = p["entry"]
                out.append((entry["level"], "[%s] %s" % (entry["source"], entry["text"])))
            elif ev["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(("exception", d.get("exception", {}).get("description", d["text"])))
        return out
