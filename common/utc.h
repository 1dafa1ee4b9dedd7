/* common/utc.h - UTC time stamps in ISO 8601: the one formatter behind a trace's start_utc,
 * the default output names (results/...-<stamp>.json) and the created_utc of indexes. */
#ifndef GILSIM_UTC_H
#define GILSIM_UTC_H

#include <stdbool.h>
#include <stddef.h>

enum utc_form {
    UTC_EXTENDED, /* 2026-11-25T02:23:34.123Z: for documents */
    UTC_BASIC,    /* 20261125T022334.123Z: for file names (no colons) */
};

/* The current time (CLOCK_REALTIME) in UTC with `decimals` fractional digits of the second
 * (0 to 9; 0 omits the point), ending in Z. A buffer of 32 bytes holds every form. */
void utc_stamp(char *buf, size_t size, enum utc_form form, unsigned decimals);

#endif
