/* common/outfile.c - see outfile.h. */
#define _DEFAULT_SOURCE /* realpath */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio_ext.h> /* __fpending */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_SUFFIX ".tmp.XXXXXX"
#define TMP_SHORT  ".gilsim.tmp.XXXXXX" /* when the name leaves no room for the suffix */

struct outfile {
    FILE *f;
    char *path;
    char *tmp; /* NULL: written in place (a character device, a FIFO, standard output) */
    bool is_stdout;
    bool sync; /* fsync the file and its directory */
};

/* The temporary name for path into buf (mkstemp's template), or -1 when it would be too long. */
static int tmp_name(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int n;
    if (strlen(base) + strlen(TMP_SUFFIX) <= NAME_MAX)
        n = snprintf(buf, size, "%s" TMP_SUFFIX, path);
    else
        n = snprintf(buf, size, "%.*s" TMP_SHORT, (int)(base - path), path);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int outfile_check_path(const char *path, struct err *e)
{
    char tmp[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0) return err_set(e, ERR_INPUT, "an empty output path");
    for (const char *p = path; *p;) {
        size_t part = strcspn(p, "/");
        if (part > NAME_MAX)
            return err_set(e, ERR_INPUT, "%s: a name in the path is longer than %d bytes", path,
                           NAME_MAX);
        p += part + (p[part] == '/');
    }
    if (len >= PATH_MAX || tmp_name(path, tmp, sizeof tmp) != 0)
        return err_set(e, ERR_INPUT, "%s: the path is too long (%zu bytes; at most %zu here)", path,
                       len, (size_t)PATH_MAX - 1 - strlen(TMP_SHORT));
    return 0;
}

/* Refuses an output that is one of the inputs (standard output included: `> input`). */
static int check_inputs(const char *path, bool is_stdout, const char *const *inputs, struct err *e)
{
    struct stat so;
    if (is_stdout ? fstat(STDOUT_FILENO, &so) != 0 : stat(path, &so) != 0) return 0;
    for (; inputs && *inputs; inputs++) {
        struct stat si;
        if (stat(*inputs, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return err_set(e, ERR_INPUT, "%s: is the input %s; choose another output",
                           is_stdout ? "standard output" : path, *inputs);
    }
    return 0;
}

static mode_t umask_mode(void)
{
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

static void outfile_free(struct outfile *of)
{
    free(of->path);
    free(of->tmp);
    free(of);
}

/* A character device or a FIFO: opened as it is, written in place. */
static int open_in_place(struct outfile *of, struct err *e)
{
    int fd = open(of->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 || !(of->f = fdopen(fd, "w"))) {
        int err = errno;
        if (fd >= 0) close(fd);
        return err_set(e, err_status_of_errno(err), "%s: cannot write here: %s", of->path,
                       strerror(err));
    }
    return 0;
}

/* A regular file, or nothing yet: a temporary file beside it. */
static int open_tmp(struct outfile *of, struct err *e)
{
    char tmp[PATH_MAX];
    tmp_name(of->path, tmp, sizeof tmp); /* fits: checked by outfile_check_path */
    if (!(of->tmp = strdup(tmp))) return err_set(e, ERR_RUNTIME, "out of memory");
    int fd = mkstemp(of->tmp);
    if (fd < 0) {
        int err = errno;
        free(of->tmp);
        of->tmp = NULL;
        return err_set(e, err_status_of_errno(err), "%s: cannot write here: %s", of->path,
                       strerror(err));
    }
    fchmod(fd, umask_mode());
    if (!(of->f = fdopen(fd, "w"))) {
        int err = errno;
        close(fd);
        unlink(of->tmp);
        return err_set(e, ERR_RUNTIME, "%s: %s", of->tmp, strerror(err));
    }
    return 0;
}

/* Which kind of output the path is: 0 a file to replace (or create), 1 one to write in place.
 * replace: whatever is there but a directory is replaced (OUTFILE_REPLACE). */
static int classify(const char *path, bool replace, struct err *e)
{
    struct stat st;
    if (replace ? lstat(path, &st) != 0 : stat(path, &st) != 0) {
        if (errno == ENOENT) return 0; /* a dangling symlink too: rename replaces the link */
        return -err_set(e, err_status_of_errno(errno), "%s: cannot write here: %s", path,
                        strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) return -err_set(e, ERR_INPUT, "%s: is a directory", path);
    if (replace) return 0;
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return 1;
    if (!S_ISREG(st.st_mode))
        return -err_set(e, ERR_INPUT,
                        "%s: not a regular file, character device or FIFO; not replacing it", path);
    return 0;
}

/* path with its directory resolved (realpath: symlinks, "." and ".."), into buf; the path as
 * given when the directory does not resolve. */
static void canonical(const char *path, char *buf, size_t size)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (slash == path ? 1 : (int)(slash - path)) : 1,
             slash ? path : ".");
    if (realpath(dir, real))
        snprintf(buf, size, "%s/%s", strcmp(real, "/") ? real : "", slash ? slash + 1 : path);
    else
        snprintf(buf, size, "%s", path);
}

int outfile_check_distinct(const char *const *paths, const char *const *what, size_t n,
                           struct err *e)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; paths[i] && k < n; k++) {
            char a[2 * PATH_MAX], b[2 * PATH_MAX];
            if (!paths[k]) continue;
            canonical(paths[i], a, sizeof a);
            canonical(paths[k], b, sizeof b);
            if (strcmp(a, b) == 0)
                return err_set(e, ERR_INPUT, "%s %s and %s %s: the same file; choose two", what[i],
                               paths[i], what[k], paths[k]);
        }
    return 0;
}

int outfile_open(struct outfile **out, const char *path, unsigned flags, const char *const *inputs,
                 struct err *e)
{
    *out = NULL;
    bool is_stdout = (flags & OUTFILE_STDOUT) && strcmp(path, "-") == 0;
    int rc = is_stdout ? 0 : outfile_check_path(path, e);
    if (!rc) rc = check_inputs(path, is_stdout, inputs, e);
    int kind = rc || is_stdout ? 1 : classify(path, flags & OUTFILE_REPLACE, e);
    if (rc || kind < 0) return rc ? rc : -kind;
    struct outfile *of = calloc(1, sizeof *of);
    if (!of || !(of->path = strdup(path))) {
        free(of);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    of->is_stdout = is_stdout;
    of->sync = !(flags & OUTFILE_NO_SYNC);
    if (is_stdout)
        of->f = stdout;
    else
        rc = kind == 1 ? open_in_place(of, e) : open_tmp(of, e);
    if (rc) {
        outfile_free(of);
        return rc;
    }
    if (!is_stdout) setvbuf(of->f, NULL, _IOFBF, 1 << 20);
    *out = of;
    return 0;
}

FILE *outfile_stream(const struct outfile *of)
{
    return of->f;
}

const char *outfile_tmp_path(const struct outfile *of)
{
    return of->tmp;
}

void outfile_abort(struct outfile *of)
{
    if (!of) return;
    if (of->f && !of->is_stdout) fclose(of->f);
    if (of->tmp) unlink(of->tmp);
    outfile_free(of);
}

int outfile_sync_dir(const char *path, struct err *e)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 || (fsync(fd) != 0 && errno != EINVAL) ? -1 : 0;
    int err = errno;
    if (fd >= 0) close(fd);
    return rc ? err_set(e, ERR_RUNTIME, "%s: cannot sync the directory: %s", dir, strerror(err))
              : 0;
}

int outfile_commit(struct outfile *of, struct err *e)
{
    int rc = 0;
    bool failed = fflush(of->f) != 0 || ferror(of->f);
    int err = errno;
    /* the data on disk before the name points at it (NFS reports a full disk only here) */
    if (!failed && of->tmp && of->sync && fsync(fileno(of->f)) != 0) failed = true, err = errno;
    if (!of->is_stdout && fclose(of->f) != 0 && !failed) failed = true, err = errno;
    of->f = NULL;
    const char *name = of->is_stdout ? "standard output" : of->path;
    if (failed)
        rc = err_set(e, ERR_RUNTIME, "%s: cannot write: %s%s", name, strerror(err),
                     of->tmp ? " (nothing replaced)" : "");
    else if (of->tmp && rename(of->tmp, of->path) != 0)
        rc =
            err_set(e, ERR_RUNTIME, "cannot move %s to %s: %s", of->tmp, of->path, strerror(errno));
    else if (of->tmp && of->sync)
        rc = outfile_sync_dir(of->path, e);
    if (rc && of->tmp) unlink(of->tmp);
    outfile_free(of);
    return rc;
}

int outfile_write(const char *path, unsigned flags, const char *const *inputs,
                  int (*fn)(FILE *f, void *ctx, struct err *e), void *ctx, struct err *e)
{
    struct outfile *of;
    int rc = outfile_open(&of, path, flags, inputs, e);
    if (rc) return rc;
    if ((rc = fn(of->f, ctx, e)) != 0) {
        outfile_abort(of);
        return rc;
    }
    return outfile_commit(of, e);
}

int outfile_close_stdout(const char *prog, int status)
{
    bool pending = __fpending(stdout) != 0;
    bool failed = ferror(stdout) != 0; /* an earlier write failed: errno is long gone */
    errno = 0;
    if (fflush(stdout) != 0) failed = true;
    int err = errno;
    /* stdout closed by the caller (>&-) with nothing written to it is not an error */
    if (fclose(stdout) != 0 && (pending || errno != EBADF) && !err) failed = true, err = errno;
    if (!failed) return status;
    if (status == 0 || err) /* a command that failed on it said so already */
        fprintf(stderr, "%s: standard output: cannot write%s%s\n", prog, err ? ": " : "",
                err ? strerror(err) : "");
    return status ? status : ERR_RUNTIME;
}
