/* cli/compare_dir.c - `gilsim compare`'s output directory: who may write in it when, what it may
 * replace, and what killed processes left in it.
 *
 *  - Every path compare will write (traces and their partial, summary and result files, the
 *    plan, the index, the tables, their temporary names) is checked for length, as given and in
 *    the absolute form the child runs get, before the directory is made or anything runs.
 *  - The lock file DIR/.gilsim-compare (never followed as a symlink) carries open file
 *    description locks (fcntl F_OFD_SETLK: per open file, and kept by NFS) on three kinds of
 *    byte: byte 0 is held by the owner, the compare that plans, sweeps or collects, for its
 *    whole life (a second one is refused); byte 1 by every `--run` of the plan, shared, and by
 *    the owner, exclusive, while it writes a plan (so a plan is never replaced under a run of
 *    it, and a run never reads a plan half replaced); byte 2 + I by `--run --index I` (the same
 *    run twice at once is refused). A lock dies with its process, SIGKILL included, so a lock
 *    that can be taken proves that nobody is working on what it guards: the temporary files of
 *    that run (or of the owner) are then stale and removed.
 *  - A compare directory is recognised by what compare wrote in it: its lock file's first line,
 *    a plan.json or index.json of compare's format and version; never by a file's name. A sweep
 *    or a plan needs DIR new or empty; one holding an earlier compare is refused unless --force
 *    (said, with what it replaces, when no run of its plan is running); anything else that is
 *    not empty is always refused. A claim that fails removes what it made. */
#define _GNU_SOURCE /* O_NOFOLLOW, O_CLOEXEC, F_OFD_SETLK, realpath */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/compare.h"
#include "common/jparse.h"
#include "common/outfile.h"
#include "common/text.h"
#include "common/utc.h"

#define LOCK_NAME   ".gilsim-compare"
#define LOCK_HEADER "gilsim-compare-dir 1\n" /* the first line: compare wrote this file */
#define BYTE_OWNER  0
#define BYTE_PLAN   1
#define BYTE_RUN0   2
#define TMP_TAIL    11 /* ".tmp.XXXXXX": common/outfile.c's temporary names */

/* what compare writes in DIR besides each run's files; the owner's files first */
static const char *const dir_files[] = {"plan.json", "index.json", "runs.csv", "cells.csv",
                                        "table.txt", LOCK_NAME,    NULL};
#define NOWNER 5

/* ---- paths ---------------------------------------------------------------------------------- */

int cmp_dir_abs(const struct cmp_plan *p, char *buf, size_t size, struct err *e)
{
    /* the real path (a symlink resolved: what the runs' command lines will say); DIR not made
     * yet: its parent's, which must exist */
    char parent[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(p->dir, '/');
    int n;
    snprintf(parent, sizeof parent, "%.*s",
             slash ? (slash == p->dir ? 1 : (int)(slash - p->dir)) : 1, slash ? p->dir : ".");
    if (realpath(p->dir, real))
        n = snprintf(buf, size, "%s", real);
    else if (realpath(parent, real))
        n = snprintf(buf, size, "%s/%s", strcmp(real, "/") ? real : "", slash ? slash + 1 : p->dir);
    else
        return err_set(e, ERR_INPUT, "%s: cannot tell its absolute path: %s", p->dir,
                       strerror(errno));
    if (n < 0 || (size_t)n >= size)
        return err_set(e, ERR_INPUT, "%s: its absolute path is too long", p->dir);
    return 0;
}

/* dir/name, checked like every output path. */
static int check_one(const char *dir, const char *name, struct err *e)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return outfile_check_path(path, e);
}

/* The plan records paths as JSON text and must give them back byte for byte to --run: a path
 * that is not UTF-8 (DIR's real one included, reached through a symlink) is refused up front
 * (docs/reliability.md, Output rules). */
static int check_utf8_paths(const struct cmp_plan *p, const char *abs, struct err *e)
{
    const char *paths[] = {
        p->workload_abs, p->req->machine ? p->machine_abs : "", p->exe, p->dir, abs, p->python,
        p->pyrun};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (!text_is_utf8(paths[i]))
            return err_set(e, ERR_INPUT,
                           "%s: not UTF-8; compare's plan keeps paths as JSON text (rename it "
                           "or work from another directory)",
                           paths[i]);
    return 0;
}

/* Every name compare writes in dir. */
static int check_names(const struct cmp_plan *p, const char *dir, struct err *e)
{
    int rc = 0;
    for (const char *const *f = dir_files; *f && !rc; f++)
        rc = check_one(dir, *f, e);
    static const char *const beside[] = {".summary.json", ".result.json"};
    for (size_t i = 0; i < p->nruns && !rc; i++) {
        char name[sizeof p->runs[i].trace + 32];
        snprintf(name, sizeof name, ".partial/%s", p->runs[i].trace);
        if (!(rc = check_one(dir, p->runs[i].trace, e))) rc = check_one(dir, name, e);
        for (size_t k = 0; k < 2 && !rc; k++) {
            cmp_file_beside(p->runs[i].trace, beside[k], name, sizeof name);
            rc = check_one(dir, name, e);
        }
    }
    return rc;
}

int cmp_check_paths(const struct cmp_plan *p, struct err *e)
{
    char abs[PATH_MAX + 1];
    int rc = cmp_dir_abs(p, abs, sizeof abs, e);
    if (!rc) rc = check_utf8_paths(p, abs, e);
    if (!rc) rc = check_names(p, p->dir, e);
    /* the runs' command lines name their output by the absolute path; said by DIR as given
     * (the absolute path itself would fill the message) */
    if (!rc && check_names(p, abs, e) != 0)
        rc = err_set(e, ERR_INPUT,
                     "%s: its absolute path (%zu bytes) is too long for the files compare writes "
                     "in it (paths of at most %d bytes here); choose a shorter -o or working "
                     "directory",
                     p->dir, strlen(abs), PATH_MAX - 1);
    return rc;
}

/* ---- locks ---------------------------------------------------------------------------------- */

/* An open file description lock on one byte: type F_RDLCK, F_WRLCK or F_UNLCK; 0 or errno. */
static int lock_byte(int fd, short type, off_t byte)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
    return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : errno;
}

static int lock_failed(const char *dir, int err, const char *busy, struct err *e)
{
    if (err == EAGAIN || err == EACCES) return err_set(e, ERR_INPUT, "%s: %s", dir, busy);
    return err_set(e, ERR_RUNTIME, "%s/%s: cannot lock: %s", dir, LOCK_NAME, strerror(err));
}

/* The lock file, opened (*created when made now), never through a symlink. */
static int open_lock(const char *dir, bool *created, int *fd, struct err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME);
    *fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    *created = *fd >= 0;
    if (*fd < 0 && errno == EEXIST) *fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (*fd >= 0 && fstat(*fd, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    int err = *fd < 0 ? errno : EINVAL;
    if (*fd >= 0) close(*fd);
    *fd = -1;
    return err_set(e, err == ELOOP || err == EINVAL ? ERR_INPUT : err_status_of_errno(err),
                   "%s: cannot use it as compare's lock file: %s", path,
                   err == ELOOP    ? "a symlink"
                   : err == EINVAL ? "not a regular file"
                                   : strerror(err));
}

void cmp_unlock(struct cmp_lock *l)
{
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
}

/* ---- what a directory holds ----------------------------------------------------------------- */

/* DIR/name parsed, when it is a document of compare's (format, with an integer version);
 * NULL otherwise. */
static json_t *read_doc(const char *dir, const char *name, const char *format)
{
    char *text;
    size_t len;
    json_t *doc = NULL;
    struct jp_error jerr;
    if (cmp_read_dir_file(dir, name, 256u << 20, &text, &len, NULL) != 0) return NULL;
    if (jp_parse(text, len, 0, &doc, &jerr) != JP_OK) doc = NULL;
    free(text);
    json_t *f = json_object_get(doc, "format");
    if (json_is_string(f) && strcmp(json_string_value(f), format) == 0 &&
        json_is_integer(json_object_get(doc, "version")))
        return doc;
    json_decref(doc);
    return NULL;
}

/* What the lock file says: 0 absent or empty (ours to take), 1 compare's (its owner line into
 * owner), -1 something else under that name. */
static int lock_says(const char *dir, char *owner, size_t size)
{
    char path[PATH_MAX + 32], *text;
    size_t len;
    struct stat st;
    owner[0] = '\0';
    snprintf(path, sizeof path, "%s/%s", dir, LOCK_NAME);
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISREG(st.st_mode) || cmp_read_dir_file(dir, LOCK_NAME, 4096, &text, &len, NULL) != 0)
        return -1;
    int says = len == 0 ? 0 : strncmp(text, LOCK_HEADER, strlen(LOCK_HEADER)) == 0 ? 1 : -1;
    if (says == 1) {
        const char *line = text + strlen(LOCK_HEADER);
        snprintf(owner, size, "%.*s", (int)strcspn(line, "\n"), line);
    }
    free(text);
    return says;
}

/* Whether DIR holds anything but the lock file (when that is compare's or empty). */
static int dir_has_entries(const char *dir, bool lock_ok, struct err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return -err_set(e, err_status_of_errno(errno), "%s: cannot read the directory: %s", dir,
                        strerror(errno));
    int found = 0;
    for (struct dirent *de; !found && (de = readdir(d));)
        found = strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
                (strcmp(de->d_name, LOCK_NAME) || !lock_ok);
    closedir(d);
    return found;
}

/* ---- stale temporary files ------------------------------------------------------------------ */

struct tally {
    unsigned files;
    long long bytes;
};

/* Whether entry is a temporary name of name (name.tmp.XXXXXX). */
static bool tmp_of(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && strncmp(entry + n, ".tmp.", 5) == 0 &&
           strlen(entry + n) == TMP_TAIL;
}

/* Removes dir/name (never a directory, never following a symlink), counted in t. */
static void remove_entry(const char *dir, const char *name, struct tally *t)
{
    char path[PATH_MAX + 700];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (lstat(path, &st) != 0 || S_ISDIR(st.st_mode) || unlink(path) != 0) return;
    t->files++;
    t->bytes += S_ISREG(st.st_mode) ? (long long)st.st_size : 0;
}

static void say_removed(const char *dir, const struct tally *t, const char *whose)
{
    if (!t->files) return;
    fprintf(stderr, "gilsim compare: removed %u temporary file%s (%.1f MiB) in ", t->files,
            t->files == 1 ? "" : "s", (double)t->bytes / 1048576.0);
    text_put(stderr, dir);
    fprintf(stderr, " that %s left\n", whose);
}

/* The run whose trace is name (without a temporary tail): its index, or p->nruns. */
static size_t run_named(const struct cmp_plan *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->nruns; i++)
        if (strlen(p->runs[i].trace) == len && strncmp(p->runs[i].trace, name, len) == 0) return i;
    return p->nruns;
}

/* The run an entry of DIR (a summary's or result's temporary file) or of DIR/.partial (a trace
 * or its temporary file) belongs to; p->nruns for none. */
static size_t run_of_entry(const struct cmp_plan *p, const char *entry, bool partial)
{
    size_t len = strlen(entry);
    const char *tmp = strstr(entry, ".tmp.");
    if (tmp && strlen(tmp) == TMP_TAIL)
        len = (size_t)(tmp - entry);
    else if (!partial)
        return p->nruns;
    if (partial) return run_named(p, entry, len);
    static const char *const beside[] = {".summary.json", ".result.json"};
    for (size_t k = 0; k < 2; k++) {
        size_t b = strlen(beside[k]);
        if (len <= b || strncmp(entry + len - b, beside[k], b) != 0) continue;
        char trace[700];
        snprintf(trace, sizeof trace, "%.*s.json", (int)(len - b), entry);
        return run_named(p, trace, strlen(trace));
    }
    return p->nruns;
}

/* Removes the stale temporary files of dir (DIR or DIR/.partial): those of the runs whose lock
 * this process holds or can take now (run: one run, already held; else every one, each taken
 * and given back), and with owner, those of the owner's files. */
static void clean_dir(const struct cmp_plan *p, int fd, const char *dir, bool partial, size_t run,
                      bool owner, struct tally *t)
{
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        bool stale = false;
        for (size_t k = 0; owner && !partial && k < NOWNER; k++)
            stale |= tmp_of(de->d_name, dir_files[k]);
        size_t i = stale ? p->nruns : run_of_entry(p, de->d_name, partial);
        if (i < p->nruns &&
            (run < p->nruns ? i == run : lock_byte(fd, F_WRLCK, BYTE_RUN0 + (off_t)i) == 0)) {
            stale = true;
            if (run >= p->nruns) lock_byte(fd, F_UNLCK, BYTE_RUN0 + (off_t)i);
        }
        if (stale) remove_entry(dir, de->d_name, t);
    }
    if (d) closedir(d);
}

void cmp_clean_run(const struct cmp_plan *p, size_t index)
{
    char partial[PATH_MAX + 16];
    struct tally t = {0, 0};
    snprintf(partial, sizeof partial, "%s/.partial", p->dir);
    clean_dir(p, -1, partial, true, index, false, &t);
    clean_dir(p, -1, p->dir, false, index, false, &t);
    say_removed(p->dir, &t, "a killed earlier attempt of this run");
}

/* Everything of DIR/.partial (no run of the plan is running: the plan's lock is ours). */
static void clean_partial(const char *dir, struct tally *t)
{
    char partial[PATH_MAX + 16];
    snprintf(partial, sizeof partial, "%s/.partial", dir);
    DIR *d = opendir(partial);
    for (struct dirent *de; d && (de = readdir(d));)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            remove_entry(partial, de->d_name, t);
    if (d) closedir(d);
}

/* ---- the owner ------------------------------------------------------------------------------ */

/* Removes a file the earlier index or plan names, when it is a plain name in DIR. */
static void remove_listed(const char *dir, const char *s, struct tally *t)
{
    if (!s || !*s || s[0] == '.' || strchr(s, '/')) return;
    remove_entry(dir, s, t);
}

/* --force: says what is replaced, and removes the files of the earlier compare's index and
 * plan, what its killed runs left in .partial and the temporary files of its outputs. */
static void replace_earlier(const struct cmp_plan *p, json_t *index, json_t *plan,
                            const char *owner)
{
    json_t *wl = json_object_get(json_object_get(index, "workload"), "name");
    json_t *created = json_object_get(index, "created_utc");
    struct tally t = {0, 0};
    size_t nruns = 0, i, k;
    json_t *cfg, *run;
    json_array_foreach(json_object_get(index, "configs"), i, cfg)
    {
        json_array_foreach(json_object_get(cfg, "runs"), k, run)
        {
            remove_listed(p->dir, json_string_value(json_object_get(run, "trace")), &t);
            remove_listed(p->dir, json_string_value(json_object_get(run, "summary")), &t);
            nruns++;
        }
    }
    json_array_foreach(json_object_get(plan, "runs"), i, run) /* a plan's: finished or not */
    {
        const char *trace = json_string_value(json_object_get(run, "trace"));
        static const char *const beside[] = {".summary.json", ".result.json"};
        char name[PATH_MAX];
        remove_listed(p->dir, trace, &t);
        for (size_t b = 0; trace && strlen(trace) > 5 && b < 2; b++) {
            cmp_file_beside(trace, beside[b], name, sizeof name);
            remove_listed(p->dir, name, &t);
        }
    }
    fprintf(stderr, "gilsim compare: --force: replacing the earlier compare in ");
    text_put(stderr, p->dir);
    fputs(" (", stderr);
    text_put(stderr, index ? json_is_string(wl) ? json_string_value(wl) : "?" : owner);
    if (index)
        fprintf(stderr, ", %zu runs, created %s", nruns,
                json_is_string(created) ? json_string_value(created) : "?");
    fputs(index ? ")\n" : "; no index: its traces are replaced one by one)\n", stderr);
    for (size_t f = 0; f < NOWNER; f++)
        remove_listed(p->dir, dir_files[f], &t);
    t = (struct tally){0, 0}; /* the stale ones, said apart */
    clean_partial(p->dir, &t);
    DIR *d = opendir(p->dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        const char *tmp = strstr(de->d_name, ".tmp.");
        bool owners = false;
        for (size_t f = 0; f < NOWNER; f++)
            owners |= tmp_of(de->d_name, dir_files[f]);
        if (owners || (tmp && strlen(tmp) == TMP_TAIL && tmp - de->d_name > 5 &&
                       strncmp(tmp - 5, ".json", 5) == 0))
            remove_entry(p->dir, de->d_name, &t);
    }
    if (d) closedir(d);
    say_removed(p->dir, &t, "killed runs and compares");
}

/* This compare's lines in the lock file: compare's header, then whose it is. */
static int sign_lock(const struct cmp_plan *p, int fd, struct err *e)
{
    char stamp[32], line[256];
    utc_stamp(stamp, sizeof stamp, UTC_EXTENDED, 0);
    int len = snprintf(line, sizeof line, LOCK_HEADER "%s, started %s\n", p->wl->name, stamp);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len)
        return err_set(e, ERR_RUNTIME, "%s/%s: cannot write: %s", p->dir, LOCK_NAME,
                       strerror(errno));
    return 0;
}

/* The directory itself: made, or an existing one we may write into; *made tells. */
static int make_dir(const struct cmp_plan *p, bool *made, struct err *e)
{
    *made = mkdir(p->dir, 0777) == 0;
    if (!*made && errno != EEXIST)
        return err_set(e, err_status_of_errno(errno), "%s: cannot create the directory: %s", p->dir,
                       strerror(errno));
    struct stat st;
    if (stat(p->dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(e, ERR_INPUT, "%s: not a directory", p->dir);
    if (access(p->dir, W_OK | X_OK) != 0)
        return err_set(e, ERR_INPUT, "%s: cannot write into the directory: %s", p->dir,
                       strerror(errno));
    return 0;
}

/* The owner's locks: byte 0 for its life, byte 1 until its plan is written. */
static int lock_owner(const struct cmp_plan *p, struct cmp_lock *l, bool plan, struct err *e)
{
    int rc = open_lock(p->dir, &l->made_file, &l->fd, e), err;
    if (rc) return rc;
    if ((err = lock_byte(l->fd, F_WRLCK, BYTE_OWNER)))
        return lock_failed(p->dir, err,
                           "another gilsim compare is writing into it; choose another -o", e);
    if (plan && (err = lock_byte(l->fd, F_WRLCK, BYTE_PLAN)))
        return lock_failed(p->dir, err,
                           "runs of its plan are running (gilsim compare --run, a Slurm array): "
                           "wait for them to end, or cancel them, before replacing the plan",
                           e);
    return 0;
}

int cmp_claim_dir(const struct cmp_plan *p, bool force, struct cmp_lock *l, struct err *e)
{
    char owner[256];
    int rc = make_dir(p, &l->made_dir, e);
    if (rc) return rc;
    int lock = lock_says(p->dir, owner, sizeof owner);
    json_t *index = read_doc(p->dir, "index.json", "gilsim-compare");
    json_t *plan = read_doc(p->dir, "plan.json", "gilsim-compare-plan");
    bool earlier = lock == 1 || index || plan; /* what compare wrote, never a mere name */
    int busy = l->made_dir ? 0 : dir_has_entries(p->dir, lock >= 0, e);
    if (busy < 0)
        rc = -busy;
    else if (busy && !earlier)
        rc = err_set(e, ERR_INPUT, "%s: not empty and not a compare directory; choose another -o",
                     p->dir);
    else
        rc = lock_owner(p, l, true, e);
    if (!rc && busy && !force)
        rc = err_set(e, ERR_INPUT,
                     "%s: holds an earlier compare (%s); choose another -o, or --force to "
                     "replace it (gilsim compare --collect %s reads it)",
                     p->dir,
                     *owner ? owner
                     : plan ? "plan.json"
                            : "index.json",
                     p->dir);
    else if (!rc && busy)
        replace_earlier(p, index, plan, owner);
    json_decref(index);
    json_decref(plan);
    if (!rc) rc = sign_lock(p, l->fd, e);
    if (rc) cmp_unclaim_dir(p, l);
    return rc;
}

void cmp_claim_done(struct cmp_lock *l)
{
    if (l->fd >= 0) lock_byte(l->fd, F_UNLCK, BYTE_PLAN);
}

void cmp_unclaim_dir(const struct cmp_plan *p, struct cmp_lock *l)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", p->dir, LOCK_NAME);
    if (l->made_file) unlink(path);
    if (l->made_dir) rmdir(p->dir); /* only when empty: a plan's temporary file is gone */
    l->made_file = l->made_dir = false;
    cmp_unlock(l);
}

int cmp_lock_dir(const struct cmp_plan *p, struct cmp_lock *l, struct err *e)
{
    int rc = lock_owner(p, l, false, e);
    if (rc) return rc;
    char partial[PATH_MAX + 16];
    struct tally t = {0, 0};
    snprintf(partial, sizeof partial, "%s/.partial", p->dir);
    clean_dir(p, l->fd, partial, true, p->nruns, false, &t);
    clean_dir(p, l->fd, p->dir, false, p->nruns, true, &t);
    say_removed(p->dir, &t, "killed runs and compares");
    return 0;
}

int cmp_lock_run(const char *dir, size_t index, struct cmp_lock *l, struct err *e)
{
    char plan[PATH_MAX + 32];
    struct stat st;
    snprintf(plan, sizeof plan, "%s/plan.json", dir);
    if (lstat(plan, &st) != 0) return 0; /* no plan: reading it says so, nothing made here */
    int rc = open_lock(dir, &l->made_file, &l->fd, e), err;
    if (rc) return rc;
    if ((err = lock_byte(l->fd, F_RDLCK, BYTE_PLAN)))
        return lock_failed(dir, err,
                           "its plan is being written or replaced by another gilsim compare; run "
                           "it again once that is done",
                           e);
    char busy[128];
    snprintf(busy, sizeof busy, "run %zu is running in another process; not running it twice",
             index);
    if ((err = lock_byte(l->fd, F_WRLCK, BYTE_RUN0 + (off_t)index)))
        return lock_failed(dir, err, busy, e);
    return 0;
}

int cmp_partial_dir(const struct cmp_plan *p, char *buf, size_t size, struct err *e)
{
    snprintf(buf, size, "%s/.partial", p->dir);
    struct stat st;
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return err_set(e, err_status_of_errno(errno), "%s: cannot create: %s", buf,
                       strerror(errno));
    if (lstat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) /* a symlink planted there: not followed */
        return err_set(e, ERR_INPUT, "%s: not a directory (a symlink?); not writing through it",
                       buf);
    return 0;
}
