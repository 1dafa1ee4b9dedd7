/* sim/rng.h - the engine's random draws: xoshiro256** seeded by splitmix64, one stream per
 * workload thread (and one per modelled machine), so that a run's draws depend only on the
 * seed and the thread, never on timing. tools/pyrun reproduces the same streams. */
#ifndef GILSIM_RNG_H
#define GILSIM_RNG_H

#include <stdint.h>

/* Seeds state r for stream `stream` (a thread id; other users pick their own). */
void rng_seed(uint64_t r[4], uint64_t seed, int stream);
uint64_t rng_next(uint64_t r[4]);
/* Uniform on [0, 1). */
double rng_unit(uint64_t r[4]);
/* Exponentially distributed with the given mean. */
double rng_exponential(uint64_t r[4], double mean);

#endif
