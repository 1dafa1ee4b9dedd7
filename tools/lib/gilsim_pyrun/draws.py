"""Random draws: exactly gilsim's (sim/engine.c), so the same seed gives the same latencies."""
import math

from .base import llround

M64 = (1 << 64) - 1


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Rng:
    """xoshiro256** seeded by splitmix64 from (seed, tid), as gilsim run seeds each thread."""

    def __init__(self, seed, tid):
        s = (seed ^ ((0xd1342543de82ef95 * (tid + 1)) & M64)) & M64
        self.r = []
        for _ in range(4):
            s = (s + 0x9e3779b97f4a7c15) & M64
            z = s
            z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
            z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
            self.r.append(z ^ (z >> 31))

    def next(self):
        r = self.r
        result = (_rotl((r[1] * 5) & M64, 7) * 9) & M64
        t = (r[1] << 17) & M64
        r[2] ^= r[0]
        r[3] ^= r[1]
        r[1] ^= r[2]
        r[0] ^= r[3]
        r[2] ^= t
        r[3] = _rotl(r[3], 45)
        return result

    def unit(self):
        return (self.next() >> 11) * 2.0**-53


def sample_latency(rng, mean_ns, dist, max_ns):
    ns = float(mean_ns)
    if dist == "uniform":
        ns = rng.unit() * 2.0 * mean_ns
    elif dist == "exponential":
        ns = -math.log1p(-rng.unit()) * mean_ns
    if max_ns > 0 and ns > max_ns:
        ns = float(max_ns)
    return llround(ns)
