/* common/err.c - see err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

int err_set(struct err *e, enum err_status status, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->status = status;
    }
    return (int)status;
}
