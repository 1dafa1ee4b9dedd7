/* common/utc.c - see utc.h. */
#include "utc.h"

#include <stdio.h>
#include <time.h>

void utc_stamp(char *buf, size_t size, enum utc_form form, unsigned decimals)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    const char *fmt = form == UTC_BASIC ? "%Y%m%dT%H%M%S" : "%Y-%m-%dT%H:%M:%S";
    size_t n = strftime(buf, size, fmt, &tm);
    if (decimals > 9) decimals = 9;
    long frac = ts.tv_nsec;
    for (unsigned d = decimals; d < 9; d++)
        frac /= 10;
    if (decimals)
        snprintf(buf + n, size - n, ".%0*ldZ", (int)decimals, frac);
    else
        snprintf(buf + n, size - n, "Z");
}
