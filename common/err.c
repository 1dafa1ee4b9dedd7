/* common/err.c - see err.h. */
#include "err.h"

#include <errno.h>
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

enum err_status err_status_of_errno(int errnum)
{
    switch (errnum) {
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case ENOBUFS:
    case EAGAIN:
    case EINTR:
    case ENOLCK:
        return ERR_RUNTIME;
    default:
        return ERR_INPUT;
    }
}
