"""The I/O peer: a process per I/O thread that answers each io request after its latency, as
the device at the other end of a gilsim `io` op. peer_main() is the process (`pyrun --peer`);
Peer is the thread's side; Peers starts and ends them all."""
import functools
import mmap
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from .base import PYRUN
from .ticks import stamped

REQ = struct.Struct("<q")
END = -1        # a request that ends the peer
NO_ANSWER = -2  # a `send` op's request: read and dropped
WORKS = 1 << 62  # set in a request: the peer spends the latency working, not sleeping


def work(ns):
    """Spends ns on the CPU (a peer whose answer is its own work: a query, Python code)."""
    until = time.monotonic_ns() + ns
    while time.monotonic_ns() < until:
        pass


def recv_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            return None
        got += k
    return bytes(buf)


IO_REQUESTS = ("signal", "send")
MODES = ("signal", "send", "mixed")


def _requests(sock, shm, wake_r):
    """The peer's requests, as latencies: from the shared page on SIGUSR1 (signal), from the
    socket (send), or from either, whichever comes (mixed: the signal wakes a select through
    signal.set_wakeup_fd, whose pipe's end is wake_r)."""
    mixed = wake_r is not None
    if shm is not None and not mixed:
        while True:
            signal.sigwait({signal.SIGUSR1})
            yield REQ.unpack_from(shm, 0)[0]
    while True:
        ready = select.select([sock, wake_r], [], [])[0] if mixed else [sock]
        if wake_r in ready:
            os.read(wake_r, 64)
            yield REQ.unpack_from(shm, 0)[0]
        if sock in ready:
            data = recv_exact(sock, 8)
            if data is None:
                return
            yield REQ.unpack(data)[0]


def peer_main(fd, shm_fd=None, mixed=False):
    """Peer process: answers each I/O request after its latency (time.sleep, a real blocking
    wait like gilsim's ppoll; or, with the WORKS bit, a busy loop) by sending a CLOCK_MONOTONIC
    stamp, taken just before, back over the socketpair: that is the I/O's io_end. A negative
    latency ends the peer.

    Requests come one of two ways. With shm_fd (--io-request signal, the default) the thread
    writes the latency into a shared 8-byte page and sends SIGUSR1, which the peer takes with
    sigwait: neither releases the thread's GIL, so the I/O releases it once, in the blocking
    recv, as a gilsim `io` op does. Without it (--io-request send, io ops with "send": true,
    send ops) the latency comes as 8 bytes over the socket: an echo client's send + recv, two
    GIL releases. A thread that does both kinds has a mixed peer, which takes either."""
    sock = socket.socket(fileno=fd)
    mono = time.monotonic_ns
    shm = wake_r = None
    if shm_fd is not None:
        if mixed:  # before "ready": no signal may come before the wake-up fd is set
            wake_r, wake_w = os.pipe()
            os.set_blocking(wake_w, False)
            signal.set_wakeup_fd(wake_w)
            signal.signal(signal.SIGUSR1, lambda signum, frame: None)
        else:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        shm = mmap.mmap(shm_fd, 8)
    sock.sendall(REQ.pack(0))  # ready
    for lat in _requests(sock, shm, wake_r):
        if lat == NO_ANSWER:
            continue
        if lat < 0:
            return 0
        if lat & WORKS:
            work(lat & ~WORKS)
        elif lat > 0:
            time.sleep(lat / 1e9)
        sock.sendall(REQ.pack(mono()))


class Peer:
    """The thread's side of one peer process."""

    def __init__(self, mode):
        self.mode = mode
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        args, fds = [sys.executable, PYRUN, "--peer", str(b.fileno())], [b.fileno()]
        self.shm_file = self.shm = None
        if mode in ("signal", "mixed"):
            self.shm_file = tempfile.TemporaryFile()
            self.shm_file.truncate(8)
            self.shm = mmap.mmap(self.shm_file.fileno(), 8)
            args.append(str(self.shm_file.fileno()))
            fds.append(self.shm_file.fileno())
            if mode == "mixed":
                args.append("mixed")
        self.proc = subprocess.Popen(args, pass_fds=fds, stdin=subprocess.DEVNULL)
        b.close()
        self.sock = a
        if recv_exact(a, 8) is None:  # ready: SIGUSR1 is blocked there
            raise RuntimeError("the I/O peer process did not start")
        self.kill = functools.partial(os.kill, self.proc.pid)

    def round_trip(self, lat):
        """[t0, _, t1, answer, t2]: t1 just before the blocking recv (the GIL's release), t2
        as it returned; t0 before the request (send mode: the send releases the GIL too)."""
        if self.mode != "send":
            REQ.pack_into(self.shm, 0, lat)  # a memcpy: keeps the GIL
            return stamped((self.kill, signal.SIGUSR1), (self.sock.recv, 8))
        return self.send_round_trip(lat)

    def send_round_trip(self, lat):
        """The same with the request sent over the socket (send releases the GIL): t0 is the
        send's release, t1 the recv's."""
        return stamped((self.sock.send, REQ.pack(lat)), (self.sock.recv, 8))

    def send_only(self):
        """A send op: [t0, _, t1] around one send the peer drops."""
        return stamped((self.sock.send, REQ.pack(NO_ANSWER)))

    def close(self):
        try:
            if self.mode == "signal":
                REQ.pack_into(self.shm, 0, END)
                self.kill(signal.SIGUSR1)
            else:
                self.sock.sendall(REQ.pack(END))
        except OSError:
            pass
        self.sock.close()

    def wait(self):
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.shm is not None:
            self.shm.close()
            self.shm_file.close()


class Peers:
    """Every peer process of a run: started one per I/O thread, ended together."""

    def __init__(self):
        self.all = []

    def start(self, mode):
        peer = Peer(mode)
        self.all.append(peer)
        return peer

    def close(self):
        for peer in self.all:
            peer.close()
        for peer in self.all:
            peer.wait()

    def __len__(self):
        return len(self.all)
