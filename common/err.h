/* common/err.h - error reports passed up by return code: a status and one message line.
 *
 * Library code never prints or exits; it fills a struct err and returns the status, and the CLI
 * decides what to print and which exit code to use. */
#ifndef GILSIM_ERR_H
#define GILSIM_ERR_H

enum err_status {
    ERR_OK = 0,
    ERR_RUNTIME = 1, /* the machine or the run failed: exit 1 */
    ERR_INPUT = 2,   /* the user's input is wrong: exit 2 */
};

struct err {
    enum err_status status;
    char msg[1024];
};

/* Sets e (when not NULL) and returns status, so callers can write `return err_set(...)`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int err_set(struct err *e, enum err_status status, const char *fmt, ...);

/* The status of a failed system call by its errno: ERR_RUNTIME (exit 1) when the machine ran
 * short (EMFILE, ENFILE, ENOMEM, ENOSPC, EDQUOT, EIO, ...: trying again later may work),
 * ERR_INPUT (exit 2) when the path or what is there is wrong (ENOENT, EACCES, EISDIR, ...). */
enum err_status err_status_of_errno(int errnum);

#endif
