/* cli/compare_dir.c - `gilsim compare`'s output directory: one compare owns it at a time, and
 * nothing in it is touched unless it is a compare directory the user means to replace.
 *
 *  - Every path compare will write (traces and their partial, summary and result files, the
 *    plan, the index, the tables, their temporary names) is checked for length before the
 *    directory is made or anything runs.
 *  - The lock file DIR/.gilsim-compare (never followed as a symlink) is held with flock by the
 *    compare that plans, sweeps or collects in DIR, for its whole life: a second one is refused.
 *    `--run` (one run of the plan, many at once from --jobs or Slurm) writes only its own
 *    run's files and takes no lock. The file also marks DIR as a compare directory, saying
 *    whose.
 *  - A sweep or a plan needs DIR new or empty. One holding an earlier compare's plan or
 *    results is refused unless --force, which says what it replaces and removes the files the
 *    earlier plan and index list. A non-empty directory that is not a compare directory is
 *    always refused. */
#define _GNU_SOURCE /* O_NOFOLLOW, O_CLOEXEC, flock */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/compare.h"
#include "common/jparse.h"
#include "common/outfile.h"
#include "common/text.h"
#include "common/utc.h"

#define LOCK_NAME ".gilsim-compare"

/* what compare writes in DIR besides each run's files */
static const char *const dir_files[] = {"plan.json", "index.json", "runs.csv", "cells.csv",
                                        "table.txt", LOCK_NAME,    NULL};

/* DIR/name, checked like every output path. */
static int check_one(const struct cmp_plan *p, const char *name, struct err *e)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", p->dir, name);
    return outfile_check_path(path, e);
}

/* The plan records paths as JSON text and must give them back byte for byte to --run: a path
 * that is not UTF-8 is refused up front (docs/reliability.md, Output rules). */
static int check_utf8_paths(const struct cmp_plan *p, struct err *e)
{
    char cwd[PATH_MAX];
    const char *paths[] = {p->workload_abs, p->req->machine ? p->machine_abs : "", p->exe, p->dir,
                           p->dir[0] != '/' && getcwd(cwd, sizeof cwd) ? cwd : ""};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (!text_is_utf8(paths[i]))
            return err_set(e, ERR_INPUT,
                           "%s: not UTF-8; compare's plan keeps paths as JSON text (rename it "
                           "or work from another directory)",
                           paths[i]);
    return 0;
}

int cmp_check_paths(const struct cmp_plan *p, struct err *e)
{
    int rc = check_utf8_paths(p, e);
    for (const char *const *f = dir_files; *f && !rc; f++)
        rc = check_one(p, *f, e);
    static const char *const beside[] = {".summary.json", ".result.json"};
    for (size_t i = 0; i < p->nruns && !rc; i++) {
        char name[sizeof p->runs[i].trace + 32];
        snprintf(name, sizeof name, ".partial/%s", p->runs[i].trace);
        if (!(rc = check_one(p, p->runs[i].trace, e))) rc = check_one(p, name, e);
        for (size_t k = 0; k < 2 && !rc; k++) {
            cmp_file_beside(p->runs[i].trace, beside[k], name, sizeof name);
            rc = check_one(p, name, e);
        }
    }
    return rc;
}

/* What DIR holds besides its lock file: 0 nothing, 1 something. */
static int dir_has_entries(const char *dir, struct err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return -err_set(e, ERR_INPUT, "%s: cannot read the directory: %s", dir, strerror(errno));
    int found = 0;
    for (struct dirent *de; !found && (de = readdir(d));)
        found =
            strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, LOCK_NAME);
    closedir(d);
    return found;
}

/* DIR/name (an earlier compare's index or plan), parsed; NULL when absent or not JSON. */
static json_t *read_json(const char *dir, const char *name)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    json_t *doc = NULL;
    if (fd < 0) return NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (64 << 20)) {
        char *buf = malloc((size_t)st.st_size + 1);
        ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
        struct jp_error jerr;
        if (n >= 0 && jp_parse(buf, (size_t)n, 0, &doc, &jerr) != JP_OK) doc = NULL;
        free(buf);
    }
    close(fd);
    return doc;
}

/* Removes a file the earlier index names, when it is a plain name in DIR. */
static void remove_listed(const char *dir, json_t *name)
{
    const char *s = json_string_value(name);
    if (!s || !*s || s[0] == '.' || strchr(s, '/')) return;
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, s);
    unlink(path);
}

/* --force: says what is replaced, and removes the files of the earlier compare's index and
 * plan. */
static void replace_earlier(const struct cmp_plan *p, json_t *index, json_t *plan,
                            const char *owner)
{
    json_t *wl = json_object_get(json_object_get(index, "workload"), "name");
    json_t *created = json_object_get(index, "created_utc");
    size_t nruns = 0, i, k;
    json_t *cfg, *run;
    json_array_foreach(json_object_get(index, "configs"), i, cfg)
    {
        json_array_foreach(json_object_get(cfg, "runs"), k, run)
        {
            remove_listed(p->dir, json_object_get(run, "trace"));
            remove_listed(p->dir, json_object_get(run, "summary"));
            nruns++;
        }
    }
    json_array_foreach(json_object_get(plan, "runs"), i, run) /* a plan's: finished or not */
    {
        const char *trace = json_string_value(json_object_get(run, "trace"));
        static const char *const beside[] = {"", ".summary.json", ".result.json"};
        for (size_t b = 0; trace && b < 3; b++) {
            char name[PATH_MAX];
            if (b)
                cmp_file_beside(trace, beside[b], name, sizeof name);
            else
                snprintf(name, sizeof name, "%s", trace);
            json_t *jname = json_string(name);
            remove_listed(p->dir, jname);
            json_decref(jname);
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
    static const char *const own[] = {"index.json", "runs.csv", "cells.csv", "table.txt",
                                      "plan.json"};
    for (size_t f = 0; f < sizeof own / sizeof *own; f++) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/%s", p->dir, own[f]);
        unlink(path);
    }
}

/* The lock file, created (*created) or opened without following a symlink, then locked; owner
 * receives what an earlier compare wrote in it. */
static int take_lock(const struct cmp_plan *p, const char *path, int *lock_fd, bool *created,
                     char *owner, size_t size, struct err *e)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    *created = fd >= 0;
    if (fd < 0 && errno == EEXIST) fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = fd < 0 ? errno : EINVAL;
        if (fd >= 0) close(fd);
        return err_set(e, ERR_INPUT, "%s: cannot use it as compare's lock file: %s", path,
                       err == ELOOP    ? "a symlink"
                       : err == EINVAL ? "not a file"
                                       : strerror(err));
    }
    *lock_fd = fd;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        return err_set(e, ERR_INPUT,
                       "%s: another gilsim compare is writing into it; choose another -o", p->dir);
    ssize_t n = pread(fd, owner, size - 1, 0);
    owner[n > 0 ? n : 0] = '\0';
    owner[strcspn(owner, "\n")] = '\0';
    return 0;
}

/* This compare's line in the lock file, for the messages of the next one. */
static int sign_lock(const struct cmp_plan *p, int lock_fd, const char *path, struct err *e)
{
    char stamp[32], line[256];
    utc_stamp(stamp, sizeof stamp, UTC_EXTENDED, 0);
    int len = snprintf(line, sizeof line, "%s, started %s\n", p->wl->name, stamp);
    if (ftruncate(lock_fd, 0) != 0 || pwrite(lock_fd, line, (size_t)len, 0) != len)
        return err_set(e, ERR_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

/* The directory itself: made, or an existing one we may write into; *made tells. */
static int make_dir(const struct cmp_plan *p, bool *made, struct err *e)
{
    *made = mkdir(p->dir, 0777) == 0;
    if (!*made && errno != EEXIST)
        return err_set(e, ERR_INPUT, "%s: cannot create the directory: %s", p->dir,
                       strerror(errno));
    struct stat st;
    if (stat(p->dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(e, ERR_INPUT, "%s: not a directory", p->dir);
    if (access(p->dir, W_OK | X_OK) != 0)
        return err_set(e, ERR_INPUT, "%s: cannot write into the directory: %s", p->dir,
                       strerror(errno));
    return 0;
}

int cmp_claim_dir(const struct cmp_plan *p, bool force, int *lock_fd, struct err *e)
{
    bool made, created = false;
    int rc = make_dir(p, &made, e);
    if (rc) return rc;
    char lock[PATH_MAX + 32], owner[256] = "";
    snprintf(lock, sizeof lock, "%s/%s", p->dir, LOCK_NAME);
    struct stat ls;
    bool marked = lstat(lock, &ls) == 0;
    json_t *index = made ? NULL : read_json(p->dir, "index.json");
    json_t *plan = made ? NULL : read_json(p->dir, "plan.json");
    int busy = made ? 0 : dir_has_entries(p->dir, e);
    if (busy < 0)
        rc = -busy;
    else if (busy && !marked && !index && !plan)
        rc = err_set(e, ERR_INPUT, "%s: not empty and not a compare directory; choose another -o",
                     p->dir);
    else
        rc = take_lock(p, lock, lock_fd, &created, owner, sizeof owner, e);
    if (!rc && busy && !force) {
        rc = err_set(e, ERR_INPUT,
                     "%s: holds an earlier compare (%s); choose another -o, or --force to "
                     "replace it (gilsim compare --collect %s reads it)",
                     p->dir,
                     marked && *owner ? owner
                     : plan           ? "plan.json"
                                      : "index.json",
                     p->dir);
        if (created) unlink(lock); /* a directory without the lock file: left as it was */
    } else if (!rc && busy) {
        replace_earlier(p, index, plan, owner);
    }
    json_decref(index);
    json_decref(plan);
    return rc ? rc : sign_lock(p, *lock_fd, lock, e);
}

int cmp_lock_dir(const struct cmp_plan *p, int *lock_fd, struct err *e)
{
    char lock[PATH_MAX + 32], owner[256];
    bool created;
    snprintf(lock, sizeof lock, "%s/%s", p->dir, LOCK_NAME);
    return take_lock(p, lock, lock_fd, &created, owner, sizeof owner, e);
}

int cmp_partial_dir(const struct cmp_plan *p, char *buf, size_t size, struct err *e)
{
    snprintf(buf, size, "%s/.partial", p->dir);
    struct stat st;
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return err_set(e, ERR_RUNTIME, "%s: cannot create: %s", buf, strerror(errno));
    if (lstat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) /* a symlink planted there: not followed */
        return err_set(e, ERR_INPUT, "%s: not a directory (a symlink?); not writing through it",
                       buf);
    return 0;
}
