/* sim/rng.c - see rng.h. */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rng_seed(uint64_t r[4], uint64_t seed, int stream)
{
    uint64_t s = seed ^ (0xd1342543de82ef95ull * (uint64_t)(stream + 1));
    for (int i = 0; i < 4; i++)
        r[i] = splitmix64(&s);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(uint64_t r[4])
{
    uint64_t result = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;
    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = rotl(r[3], 45);
    return result;
}

double rng_unit(uint64_t r[4])
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

double rng_exponential(uint64_t r[4], double mean)
{
    return -log1p(-rng_unit(r)) * mean;
}
