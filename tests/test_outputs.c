/* tests/test_outputs.c - the output rules of docs/reliability.md, on every writing command of
 * gilsim: each command of the table `writers` is driven through the same hostile situations
 * (output = input, a symlink at the output or at a temporary name, a directory, a FIFO,
 * /dev/null, a read-only directory, a full disk, paths at the length limits, a non-UTF-8 path,
 * standard output, the umask's mode). Adding a writing command is one line in `writers`; the
 * Python tools have the same table in tests/test_outputs.py. Then hostile text (escape
 * sequences, spreadsheet formulas, long multi-byte names: tests/data/traces/hostile-names.json)
 * and signals (no orphaned child, an exit status that agrees with the trace). */
#define _GNU_SOURCE /* mkdtemp, asprintf, F_SETPIPE_SZ */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

enum input { IN_WORKLOAD, IN_TRACE };
enum form { F_JSON, F_TEXT, F_DIR };

/* One writing command: its arguments ({IN} and {OUT} replaced), what it reads, what it writes,
 * whether "-o -" means standard output, its flag to replace an earlier output, and whether it
 * refuses paths that are not UTF-8 (compare: its plan must give paths back byte for byte). */
struct writer {
    const char *name;
    const char *args[12];
    enum input in;
    enum form form;
    bool to_stdout;
    const char *replace;
    bool utf8_only;
};

/* clang-format off */
static const struct writer writers[] = {
    {"run",               {"run", "{IN}", "-d", "20", "-q", "-o", "{OUT}"},           IN_WORKLOAD, F_JSON, true,  NULL, false},
    {"export chrome",     {"export", "{IN}", "-f", "chrome", "-o", "{OUT}"},          IN_TRACE,    F_JSON, true,  NULL, false},
    {"export speedscope", {"export", "{IN}", "-f", "speedscope", "-o", "{OUT}"},      IN_TRACE,    F_JSON, true,  NULL, false},
    {"export csv",        {"export", "{IN}", "-f", "csv", "-o", "{OUT}"},             IN_TRACE,    F_TEXT, true,  NULL, false},
    {"summary",           {"summary", "{IN}", "-o", "{OUT}"},                         IN_TRACE,    F_TEXT, true,  NULL, false},
    {"summary --json",    {"summary", "{IN}", "--json", "-o", "{OUT}"},               IN_TRACE,    F_JSON, true,  NULL, false},
    {"summary --samples", {"summary", "{IN}", "--samples", "all", "-o", "{OUT}"},     IN_TRACE,    F_TEXT, true,  NULL, false},
    {"model",             {"model", "{IN}", "-o", "{OUT}"},                           IN_TRACE,    F_JSON, true,  NULL, false},
    {"run, virtual engine", {"run", "{IN}", "-e", "virtual", "-d", "20", "-q", "-o", "{OUT}"},  IN_WORKLOAD, F_JSON, true,  NULL, false},
    {"compare",           {"compare", "{IN}", "-p", "new", "-d", "20", "-o", "{OUT}"}, IN_WORKLOAD, F_DIR,  false, "--force", true},
};
/* clang-format on */
#define NWRITERS (sizeof writers / sizeof *writers)

static char scratch[512], workload[PATH_MAX], trace[600], victim[600];
static char out_file[600], err_file[600];
static const char victim_text[] = "the victim: must never change\n";

/* ---- helpers ------------------------------------------------------------------------------- */

static const char *input_of(const struct writer *w)
{
    return w->in == IN_WORKLOAD ? workload : trace;
}

/* Starts gilsim with argv (argv[0] unused) from the source tree, stdout and stderr to files, in
 * its own process group (so that the test can signal it and what it started). */
static void start_gilsim(struct tu_proc *p, const char **argv)
{
    argv[0] = GILSIM_BINARY_DIR "/gilsim";
    *p = (struct tu_proc){.out = out_file, .err = err_file, .group = true};
    CU_ASSERT_FATAL(tu_spawn(p, argv));
}

/* Runs gilsim with argv (argv[0] unused): the exit status (128 + a signal that killed it), or
 * -1 after killing it when it had not ended within limit_s. */
static int run_gilsim(const char **argv, double limit_s)
{
    struct tu_proc p;
    start_gilsim(&p, argv);
    return tu_wait(&p, limit_s);
}

/* Runs gilsim with w's arguments (extra appended), reading fifo (when >= 0: a FIFO it writes)
 * into *got meanwhile; the exit status, or -1. */
static int run_writer_reading(const struct writer *w, const char *in, const char *out,
                              const char *extra, int fifo, char **got)
{
    const char *argv[20];
    int n = 1;
    for (int i = 0; w->args[i]; i++)
        argv[n++] = strcmp(w->args[i], "{IN}") == 0    ? in
                    : strcmp(w->args[i], "{OUT}") == 0 ? out
                                                       : w->args[i];
    if (extra) argv[n++] = extra;
    argv[n] = NULL;
    struct tu_proc p;
    start_gilsim(&p, argv);
    p.read_fd = fifo;
    int st = tu_wait(&p, 120);
    if (got)
        *got = p.output;
    else
        free(p.output);
    return st;
}

/* Runs gilsim with w's arguments (extra appended); the exit status, or -1. */
static int run_writer(const struct writer *w, const char *in, const char *out, const char *extra)
{
    return run_writer_reading(w, in, out, extra, -1, NULL);
}

/* Opens a FIFO to read what gilsim writes into it, without waiting for the writer; the test is
 * a writer too, so no read ever sees an end before gilsim has written (tu_wait reads until
 * gilsim has ended). Its buffer: one page, so that a writer of more blocks until the test
 * reads. */
static int open_fifo(const char *fifo)
{
    int fd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    CU_ASSERT_FATAL(fd >= 0);
    fcntl(fd, F_SETPIPE_SZ, 4096);
    return fd;
}

/* Says which command and situation failed, with its stderr. */
static void explain(const struct writer *w, const char *situation, int got, int want)
{
    char *err = tu_slurp(err_file);
    fprintf(stderr, "\n  %s, %s: exit %d, expected %d; stderr: %s", w->name, situation, got, want,
            err ? err : "");
    free(err);
}

static bool expect_exit(const struct writer *w, const char *situation, int got, int want)
{
    if (got != want) explain(w, situation, got, want);
    return got == want;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static bool file_is(const char *path, const char *text)
{
    char *s = tu_slurp(path);
    bool same = s && strcmp(s, text) == 0;
    if (!same) fprintf(stderr, "\n  %s changed\n", path);
    free(s);
    return same;
}

/* A fresh empty directory in the scratch area; path into buf. */
static void fresh(char *buf, size_t size, const char *name)
{
    char cmd[PATH_MAX + 32];
    snprintf(buf, size, "%s/%s", scratch, name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    CU_ASSERT_EQUAL(system(cmd), 0);
    CU_ASSERT_EQUAL(mkdir(buf, 0777), 0);
}

/* Files whose name has ".tmp" in dir (temporary files left behind). */
static int tmp_files(const char *dir)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q '\\.tmp'", dir);
    return system(cmd) == 0;
}

/* The output is there and looks like the command's format. */
static bool output_ok(const struct writer *w, const char *out)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s%s", out, w->form == F_DIR ? "/index.json" : "");
    if (w->form == F_TEXT) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
    }
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) fprintf(stderr, "\n  %s: %s: not JSON: %s\n", w->name, path, jerr.text);
    json_decref(doc);
    return doc != NULL;
}

/* ---- the situations ------------------------------------------------------------------------ */

/* The output is the input, by its name or by another name for the same file: refused, the
 * input unchanged. A directory writer: the input is the one file in the directory. */
static void test_output_is_input(void)
{
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char d[PATH_MAX], in[PATH_MAX + 16], hard[PATH_MAX + 16];
        fresh(d, sizeof d, "same");
        snprintf(in, sizeof in, "%s/in.json", d);
        char *orig = tu_slurp(input_of(w));
        write_file(in, orig);
        if (w->form == F_DIR) {
            CU_ASSERT(expect_exit(w, "output dir holds the input", run_writer(w, in, d, NULL), 2));
        } else {
            CU_ASSERT(expect_exit(w, "output = input", run_writer(w, in, in, NULL), 2));
            snprintf(hard, sizeof hard, "%s/link.json", d);
            CU_ASSERT_EQUAL(link(in, hard), 0);
            CU_ASSERT(expect_exit(w, "output = a hard link of the input",
                                  run_writer(w, in, hard, NULL), 2));
        }
        CU_ASSERT(file_is(in, orig));
        CU_ASSERT(tu_file_has(err_file, w->form == F_DIR ? "not a compare directory" : "input"));
        free(orig);
    }
}

/* A symlink at the output: replaced by the output, its target untouched. A directory writer
 * refuses a symlink to a file. */
static void test_symlink_at_output(void)
{
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char d[PATH_MAX], out[PATH_MAX + 16];
        fresh(d, sizeof d, "symlink");
        write_file(victim, victim_text);
        snprintf(out, sizeof out, "%s/out", d);
        CU_ASSERT_EQUAL(symlink(victim, out), 0);
        int st = run_writer(w, input_of(w), out, NULL);
        struct stat ls;
        if (w->form == F_DIR) {
            CU_ASSERT(expect_exit(w, "symlink to a file at the output dir", st, 2));
        } else {
            CU_ASSERT(expect_exit(w, "symlink at the output", st, 0));
            CU_ASSERT(lstat(out, &ls) == 0 && S_ISREG(ls.st_mode));
            CU_ASSERT(output_ok(w, out));
        }
        CU_ASSERT(file_is(victim, victim_text));
    }
}

/* Symlinks to the victim at each of the names (formats with the output path). */
static void plant(const char *const *names, const char *out)
{
    for (; *names; names++) {
        char tmp[PATH_MAX + 64];
        snprintf(tmp, sizeof tmp, *names, out);
        CU_ASSERT_EQUAL(symlink(victim, tmp), 0);
    }
}

/* Symlinks planted at every temporary name a command could use by a fixed name: none is
 * followed. A directory writer replaces an earlier output (its flag) with them planted inside. */
static void test_symlink_at_temporary_names(void)
{
    static const char *const file_tmps[] = {"%s.tmp", "%s.tmp.XXXXXX", "%s.tmp.0", NULL};
    static const char *const dir_tmps[] = {"%s/index.json.tmp",
                                           "%s/runs.csv.tmp",
                                           "%s/cells.csv.tmp",
                                           "%s/table.txt.tmp",
                                           "%s/plan.json.tmp",
                                           "%s/.write-test",
                                           NULL};
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char d[PATH_MAX], out[PATH_MAX + 16];
        fresh(d, sizeof d, "tmpnames");
        write_file(victim, victim_text);
        snprintf(out, sizeof out, "%s/out", d);
        const char *const *tmps = w->form == F_DIR ? dir_tmps : file_tmps;
        if (w->form == F_DIR) { /* a new directory holding only the planted links: refused */
            CU_ASSERT_EQUAL(mkdir(out, 0777), 0);
            plant(tmps, out);
            CU_ASSERT(expect_exit(w, "links only", run_writer(w, workload, out, NULL), 2));
            CU_ASSERT(file_is(victim, victim_text));
            char cmd[PATH_MAX + 32];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
            CU_ASSERT_EQUAL(system(cmd), 0);
            CU_ASSERT(expect_exit(w, "first", run_writer(w, workload, out, NULL), 0));
        }
        plant(tmps, out);
        CU_ASSERT(expect_exit(w, "symlinks at temporary names",
                              run_writer(w, input_of(w), out, w->replace), 0));
        CU_ASSERT(output_ok(w, out));
        CU_ASSERT(file_is(victim, victim_text));
    }
}

/* A directory where a file is expected (a file where a directory is): refused, untouched. */
static void test_wrong_kind_at_output(void)
{
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char d[PATH_MAX], out[PATH_MAX + 16];
        fresh(d, sizeof d, "kind");
        snprintf(out, sizeof out, "%s/out", d);
        if (w->form == F_DIR)
            write_file(out, victim_text);
        else
            CU_ASSERT_EQUAL(mkdir(out, 0777), 0);
        CU_ASSERT(
            expect_exit(w, "wrong kind at the output", run_writer(w, input_of(w), out, 0), 2));
        struct stat st;
        CU_ASSERT(stat(out, &st) == 0 &&
                  (w->form == F_DIR ? S_ISREG(st.st_mode) : S_ISDIR(st.st_mode)));
        CU_ASSERT(!tmp_files(d));
    }
}

/* A FIFO: written in place while a reader reads it; it stays a FIFO. A directory writer
 * refuses it. */
static void test_fifo(void)
{
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char d[PATH_MAX], fifo[PATH_MAX + 16];
        fresh(d, sizeof d, "fifo");
        snprintf(fifo, sizeof fifo, "%s/fifo", d);
        CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0666), 0);
        int reader = w->form != F_DIR ? open_fifo(fifo) : -1; /* a directory writer: refused */
        char *got = NULL;
        int st = run_writer_reading(w, input_of(w), fifo, NULL, reader, &got);
        if (reader >= 0) close(reader);
        CU_ASSERT(expect_exit(w, "a FIFO at the output", st, w->form == F_DIR ? 2 : 0));
        struct stat fs;
        CU_ASSERT(lstat(fifo, &fs) == 0 && S_ISFIFO(fs.st_mode));
        if (w->form != F_DIR) CU_ASSERT(got && strlen(got) > 0);
        free(got);
    }
}

/* /dev/null: written in place, stays a character device; a directory writer refuses it. As
 * root the test uses a node of its own (a broken writer would replace /dev/null itself). */
static void test_dev_null(void)
{
    char null[PATH_MAX + 16] = "/dev/null";
    if (geteuid() == 0) {
        snprintf(null, sizeof null, "%s/null", scratch);
        CU_ASSERT_EQUAL_FATAL(mknod(null, S_IFCHR | 0666, makedev(1, 3)), 0);
    }
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        int st = run_writer(w, input_of(w), null, NULL);
        CU_ASSERT(expect_exit(w, "/dev/null", st, w->form == F_DIR ? 2 : 0));
        struct stat ns;
        CU_ASSERT(lstat(null, &ns) == 0 && S_ISCHR(ns.st_mode));
    }
}

/* "-o -": standard output, for the commands whose format allows it. */
static void test_stdout(void)
{
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        int st = run_writer(w, input_of(w), "-", NULL);
        if (!w->to_stdout) {
            CU_ASSERT(expect_exit(w, "-o -", st, 2));
            continue;
        }
        CU_ASSERT(expect_exit(w, "-o -", st, 0));
        CU_ASSERT(output_ok(w, out_file));
    }
}

/* Mounts a tmpfs (options as for mount(8)) at dir; false, with the reason printed, when this
 * test may not mount (not root, or no CAP_SYS_ADMIN in a container). */
static bool mount_tmpfs(const char *dir, const char *opts, unsigned long flags)
{
    if (mount("gilsim-test", dir, "tmpfs", flags, opts) == 0) return true;
    fprintf(stderr, "\n  SKIPPED: cannot mount a tmpfs at %s (%s): %s", dir, opts,
            geteuid() ? "not root" : strerror(errno));
    return false;
}

/* A read-only directory: refused before anything runs, nothing created. As root, permissions
 * do not stop writes: the directory is a read-only tmpfs then. */
static void test_read_only_dir(void)
{
    char d[PATH_MAX];
    fresh(d, sizeof d, "readonly");
    bool mounted = geteuid() == 0 && mount_tmpfs(d, "size=64k", MS_RDONLY);
    if (geteuid() == 0 && !mounted) return;
    if (!mounted) CU_ASSERT_EQUAL(chmod(d, 0555), 0);
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char out[PATH_MAX + 16];
        snprintf(out, sizeof out, "%s/out", d);
        CU_ASSERT(expect_exit(w, "read-only directory", run_writer(w, input_of(w), out, 0), 2));
        CU_ASSERT(access(out, F_OK) != 0);
    }
    if (mounted) umount(d);
}

/* A full disk: the write fails with exit 1, the existing output unchanged, no temporary file
 * left. A small tmpfs filled up, where this test may mount one. */
static void test_full_disk(void)
{
    char d[PATH_MAX], fill[PATH_MAX + 16];
    fresh(d, sizeof d, "full");
    if (!mount_tmpfs(d, "size=256k", 0)) return;
    snprintf(fill, sizeof fill, "%s/filler", d);
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char out[PATH_MAX + 16];
        snprintf(out, sizeof out, "%s/out", d);
        if (w->form != F_DIR) write_file(out, victim_text);
        char cmd[3 * PATH_MAX];
        snprintf(cmd, sizeof cmd, "dd if=/dev/zero of='%s' bs=4k >/dev/null 2>&1", fill);
        CU_ASSERT_NOT_EQUAL(system(cmd), 0); /* stops at ENOSPC */
        int st = run_writer(w, input_of(w), out, NULL);
        CU_ASSERT(expect_exit(w, "full disk", st, 1));
        if (w->form != F_DIR) CU_ASSERT(file_is(out, victim_text));
        CU_ASSERT(!tmp_files(d));
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", fill, out);
        CU_ASSERT_EQUAL(system(cmd), 0);
    }
    umount(d);
}

/* Creates nested directories under the scratch area until the path is len bytes long minus
 * room; the deepest into buf. */
static void deep_dir(char *buf, size_t size, size_t len)
{
    snprintf(buf, size, "%s/deep", scratch);
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
    CU_ASSERT_EQUAL(system(cmd), 0);
    mkdir(buf, 0777);
    while (strlen(buf) + 201 < len) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "/%0200d", 0);
        CU_ASSERT_EQUAL_FATAL(mkdir(buf, 0777), 0);
    }
}

/* Paths at the limits: a name of NAME_MAX bytes works (the temporary name is shorter); a path
 * whose output or temporary name would pass PATH_MAX is refused before anything runs. */
static void test_path_limits(void)
{
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char d[PATH_MAX], out[2 * PATH_MAX];
        fresh(d, sizeof d, "limits");
        snprintf(out, sizeof out, "%s/%0*d", d, NAME_MAX, 0);
        CU_ASSERT(
            expect_exit(w, "a name of NAME_MAX bytes", run_writer(w, input_of(w), out, 0), 0));
        CU_ASSERT(output_ok(w, out));
        deep_dir(d, sizeof d, PATH_MAX - 30);
        size_t room = PATH_MAX - 1 - strlen(d) - 1; /* the longest name that still fits */
        snprintf(out, sizeof out, "%s/%0*d", d, (int)(room < 255 ? room : 255), 0);
        CU_ASSERT(expect_exit(w, "a path at PATH_MAX", run_writer(w, input_of(w), out, 0), 2));
        CU_ASSERT(access(out, F_OK) != 0);
    }
}

/* A path that is not UTF-8, at the output and at the input: works; every JSON written is
 * valid (the path recorded escaped). */
static void test_non_utf8_paths(void)
{
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char d[PATH_MAX], in[PATH_MAX + 16], out[PATH_MAX + 16];
        fresh(d, sizeof d, "utf8");
        snprintf(in, sizeof in, "%s/in-\xff\xfe.json", d);
        snprintf(out, sizeof out, "%s/out-\xff\xc3", d);
        char *orig = tu_slurp(input_of(w));
        write_file(in, orig);
        free(orig);
        int want = w->utf8_only ? 2 : 0;
        CU_ASSERT(expect_exit(w, "non-UTF-8 paths", run_writer(w, in, out, NULL), want));
        if (!w->utf8_only) CU_ASSERT(output_ok(w, out));
        if (w->utf8_only) CU_ASSERT(access(out, F_OK) != 0); /* refused before anything */
    }
}

/* The umask decides the mode of every file written, the same for all commands. */
static void test_umask_mode(void)
{
    mode_t old = umask(027);
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char d[PATH_MAX], out[PATH_MAX + 32];
        fresh(d, sizeof d, "mode");
        snprintf(out, sizeof out, "%s/out", d);
        CU_ASSERT(expect_exit(w, "umask 027", run_writer(w, input_of(w), out, NULL), 0));
        if (w->form == F_DIR) strcat(out, "/index.json");
        struct stat st;
        CU_ASSERT(stat(out, &st) == 0 && (st.st_mode & 0777) == 0640);
    }
    umask(old);
}

/* ---- hostile text -------------------------------------------------------------------------- */

static char hostile[PATH_MAX]; /* tests/data/traces/hostile-names.json */

/* No byte a terminal acts on: ESC, BEL, other C0 controls but newline, C1 (UTF-8 C2 80..9F). */
static bool terminal_safe(const char *path)
{
    char *s = tu_slurp(path);
    bool ok = s != NULL;
    for (const unsigned char *p = (const unsigned char *)s; ok && *p; p++)
        ok = (*p >= 0x20 && *p != 0x7f && !(p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0)) ||
             *p == '\n';
    if (!ok) fprintf(stderr, "\n  %s: a control character reaches the terminal\n", path);
    free(s);
    return ok;
}

static int gilsim_args(const char *a1, const char *a2, const char *a3, const char *a4,
                       const char *a5)
{
    const char *argv[] = {NULL, a1, a2, a3, a4, a5, NULL};
    return run_gilsim(argv, 120);
}

/* Names, descriptions and keys from files reach the terminal and text files escaped. */
static void test_terminal_escapes(void)
{
    CU_ASSERT_EQUAL(gilsim_args("summary", hostile, NULL, NULL, NULL), 0);
    CU_ASSERT(terminal_safe(out_file));
    CU_ASSERT(tu_file_has(out_file, "\\x1b]0;pwned\\x07")); /* shown, escaped */
    char bad[PATH_MAX + 16], cmp[PATH_MAX + 16], table[PATH_MAX + 32];
    snprintf(bad, sizeof bad, "%s/escape.json", scratch);
    write_file(bad, "{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": \"x\",\n"
                    " \"description\": \"\\u001b]2;title\\u0007\\u001b[2J\", \"duration_ms\": 20,\n"
                    " \"threads\": [{\"name\": \"t\", \"ops\": [{\"cpu\": {\"us\": 5}}]}],\n"
                    " \"\\u001b[2J\": 1}\n");
    CU_ASSERT_EQUAL(gilsim_args("check", bad, NULL, NULL, NULL), 2);
    CU_ASSERT(terminal_safe(err_file));
    CU_ASSERT(tu_file_has(err_file, "\\x1b[2J"));
    write_file(bad, "{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": \"x\",\n"
                    " \"description\": \"\\u001b]2;title\\u0007\\u001b[2J\", \"duration_ms\": 20,\n"
                    " \"threads\": [{\"name\": \"t\", \"ops\": [{\"cpu\": {\"us\": 5}}]}]}\n");
    snprintf(cmp, sizeof cmp, "%s/escape-cmp", scratch);
    CU_ASSERT_EQUAL(gilsim_args("compare", bad, "-p", "new", "-o"), 2); /* -o needs a value */
    const char *argv[] = {NULL, "compare", bad, "-p", "new", "-o", cmp, NULL};
    CU_ASSERT_EQUAL(run_gilsim(argv, 120), 0);
    snprintf(table, sizeof table, "%s/table.txt", cmp);
    CU_ASSERT(terminal_safe(out_file));
    CU_ASSERT(terminal_safe(table));
}

/* CSV cells a spreadsheet would run as formulas are neutralised; numbers stay numbers. */
static void test_csv_formulas(void)
{
    char csv[PATH_MAX + 16];
    snprintf(csv, sizeof csv, "%s/hostile.csv", scratch);
    CU_ASSERT_EQUAL(gilsim_args("export", hostile, "-f", "csv", "-o"), 2);
    const char *argv[] = {NULL, "export", hostile, "-f", "csv", "-o", csv, NULL};
    CU_ASSERT_EQUAL(run_gilsim(argv, 60), 0);
    CU_ASSERT(terminal_safe(csv));
    CU_ASSERT(tu_file_has(csv, ",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","));
    CU_ASSERT(tu_file_has(csv, "\n20,2,\"'+1\",")); /* t_ns and tid: numbers, as they were */
    CU_ASSERT(tu_file_has(csv, ",\"'-2\","));
    CU_ASSERT(tu_file_has(csv, ",\"'@SUM(A1)\","));
    CU_ASSERT(tu_file_has(csv, ",\\x09tab,")); /* a leading tab: escaped, inert */
    CU_ASSERT_EQUAL(gilsim_args("summary", hostile, "--samples", "all", NULL), 0);
    CU_ASSERT(tu_file_has(out_file, ",\"'=HYPERLINK("));
}

/* Every string of a Chrome export is valid UTF-8, long multi-byte names whole. */
static void test_chrome_utf8(void)
{
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/hostile.chrome.json", scratch);
    const char *argv[] = {NULL, "export", hostile, "-f", "chrome", "-o", out, NULL};
    CU_ASSERT_EQUAL_FATAL(run_gilsim(argv, 60), 0);
    json_error_t jerr;
    json_t *doc = json_load_file(out, 0, &jerr); /* jansson refuses invalid UTF-8 */
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    bool whole = false;
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(doc, "traceEvents"), i, ev)
    {
        const char *name = json_string_value(json_object_get(json_object_get(ev, "args"), "name"));
        whole |= name && strlen(name) == 600 && strncmp(name, "\xc3\xa9", 2) == 0;
    }
    CU_ASSERT(whole);
    json_decref(doc);
}

/* Equal values of one --set would share a trace file: refused before anything runs. */
static void test_duplicate_set_values(void)
{
    static const char *const sets[] = {"interval_us=1000,1000", "interval_us=1000,1e3"};
    for (size_t i = 0; i < 2; i++) {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s/dup", scratch);
        const char *argv[] = {NULL,    "compare", workload, "-p", "new",
                              "--set", sets[i],   "-o",     d,    NULL};
        CU_ASSERT_EQUAL(run_gilsim(argv, 60), 2);
        CU_ASSERT(access(d, F_OK) != 0);
        CU_ASSERT(tu_file_has(err_file, "given twice"));
    }
}

/* ---- signals -------------------------------------------------------------------------------- */

/* The process that runs with "-o DIR/..." among its arguments (/proc/PID/cmdline): compare's run
 * in progress writing its trace under DIR/.partial; 0 when there is none. */
static pid_t writing_into(const char *dir)
{
    DIR *proc = opendir("/proc");
    pid_t found = 0;
    size_t len = strlen(dir);
    for (struct dirent *de; proc && !found && (de = readdir(proc));) {
        char path[300], args[8192];
        snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(args, 1, sizeof args - 1, f) : 0;
        if (f) fclose(f);
        args[n] = '\0';
        for (size_t i = 0; i + 3 < n && !found; i += strlen(args + i) + 1)
            if (strcmp(args + i, "-o") == 0 && strncmp(args + i + 3, dir, len) == 0 &&
                args[i + 3 + len] == '/')
                found = (pid_t)atoi(de->d_name);
    }
    if (proc) closedir(proc);
    return found;
}

struct run_in {
    const char *dir;
    pid_t run;
};

/* Compare's run in progress, once it takes its signals itself (its signal thread exists, and
 * compare, which started it, takes them too). */
static bool run_in_progress(void *ctx)
{
    struct run_in *r = ctx;
    r->run = writing_into(r->dir);
    return r->run > 0 && tu_proc_has_signal(r->run, "SigBlk", SIGINT);
}

/* No process started by the test is left: reaps them (the test is their subreaper). */
static bool no_descendants(void *ctx)
{
    (void)ctx;
    pid_t w;
    while ((w = waitpid(-1, NULL, WNOHANG)) > 0)
        ;
    return w < 0 && errno == ECHILD;
}

static int not_dots(const struct dirent *de)
{
    return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

/* The names in dir, sorted, one a line (not what is under them); NULL when unreadable. */
static char *listing(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, not_dots, alphasort);
    if (n < 0) return NULL;
    size_t size = 1;
    for (int i = 0; i < n; i++)
        size += strlen(names[i]->d_name) + 1;
    char *s = calloc(size, 1);
    for (int i = 0; i < n; i++) {
        if (s) strcat(strcat(s, names[i]->d_name), "\n");
        free(names[i]);
    }
    free(names);
    return s;
}

/* A second SIGINT to compare: it exits at once, its run in progress ends with it, and nothing
 * appears in the directory afterwards. Killed outright, its child dies too (PDEATHSIG). The run
 * lasts ten minutes unless stopped; the test is the subreaper of whatever compare leaves, so an
 * orphan shows as a process of its own left after compare. The run is frozen (SIGSTOP) while
 * compare takes its two SIGINTs: compare is then surely still waiting for it, the state the
 * second one is for. */
static void test_no_orphans(void)
{
    CU_ASSERT_EQUAL_FATAL(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    for (int kill9 = 0; kill9 <= 1; kill9++) {
        char d[600];
        snprintf(d, sizeof d, "%s/orphans-%d", scratch, kill9);
        const char *argv[] = {NULL, "compare", workload, "-p", "new",
                              "-d", "600000",  "-o",     d,    NULL};
        struct tu_proc p;
        start_gilsim(&p, argv);
        struct run_in r = {d, 0};
        CU_ASSERT(tu_poll(run_in_progress, &r, 60.0 * TU_SLACK));
        if (kill9) {
            kill(p.pid, SIGKILL);
        } else {
            if (r.run > 0) kill(r.run, SIGSTOP);
            kill(p.pid, SIGINT);
            CU_ASSERT(tu_poll(tu_sigint_taken, &p.pid, 10.0 * TU_SLACK)); /* two would be one */
            kill(p.pid, SIGINT);
        }
        int st = tu_wait(&p, 10.0 * TU_SLACK);
        char *before = listing(d);
        if (r.run > 0) kill(r.run, SIGCONT);
        CU_ASSERT(kill9 ? st == 128 + SIGKILL : st == 130);
        if (!kill9) CU_ASSERT(tu_file_has(err_file, "exiting at once"));
        /* The kernel delivers PDEATHSIG down the chain (compare, its run child, gilsim run);
         * exiting takes a sanitizer build a while. */
        CU_ASSERT(tu_poll(no_descendants, NULL, 10.0 * TU_SLACK));
        CU_ASSERT(!writing_into(d)); /* no gilsim run left writing into d */
        kill(-p.pid, SIGKILL);       /* what was left (a failure): gone before the next test */
        tu_poll(no_descendants, NULL, 10.0 * TU_SLACK);
        char *after = listing(d);
        CU_ASSERT(before && after && strcmp(before, after) == 0);
        free(before);
        free(after);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* What gilsim wrote into the FIFO has begun: its run is over (the trace is written after it). */
static bool fifo_has_data(void *ctx)
{
    int n = 0;
    return ioctl(*(int *)ctx, FIONREAD, &n) == 0 && n > 0;
}

/* SIGINT during the run, or after it while the trace is written: the exit status and the trace
 * agree (130 and complete false, or 0 and complete true). During: a ten-minute run, signalled
 * once its threads exist. After: a 200 ms run whose trace goes into a FIFO of one page that the
 * test does not read until the signal, so the write is still going on when it comes. */
static void test_status_agrees_with_trace(void)
{
    static const char *const durations[] = {"600000", "200"};
    static const char *const messages[] = {"stopping, writing the partial trace",
                                           "the run is over, finishing its trace"};
    for (size_t i = 0; i < 2; i++) {
        char fifo[600];
        snprintf(fifo, sizeof fifo, "%s/agree.fifo", scratch);
        unlink(fifo);
        CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0666), 0);
        int reader = open_fifo(fifo);
        const char *argv[] = {
            NULL, "run", "workloads/convoy.json", "-p", "old", "-d", durations[i], "-q", "-o",
            fifo, NULL};
        struct tu_proc p;
        start_gilsim(&p, argv);
        bool ready = i == 0 ? tu_wait_run_started(p.pid, 2, 10.0 * TU_SLACK)
                            : tu_poll(fifo_has_data, &reader, 30.0 * TU_SLACK);
        CU_ASSERT(ready);
        kill(p.pid, SIGINT);
        p.read_fd = reader;
        int st = tu_wait(&p, 30.0 * TU_SLACK);
        close(reader);
        if (i == 1) TU_ASSERT_CMP(p.output_len, >, 4096); /* more than the FIFO holds */
        json_error_t jerr;
        json_t *doc = p.output ? json_loadb(p.output, p.output_len, 0, &jerr) : NULL;
        CU_ASSERT_PTR_NOT_NULL(doc);
        bool complete = json_is_true(json_object_get(doc, "complete"));
        if (complete != (st == 0) || (st != 0 && st != 130))
            fprintf(stderr, "\n  SIGINT %s the run: exit %d, complete %d\n",
                    i == 0 ? "during" : "after", st, complete);
        CU_ASSERT(st == 0 || st == 130);
        CU_ASSERT_EQUAL(complete, st == 0);
        CU_ASSERT_EQUAL(st, i == 0 ? 130 : 0);
        CU_ASSERT(tu_file_has(err_file, messages[i])); /* it came when the test meant it to */
        json_decref(doc);
        free(p.output);
    }
}

/* ---- set-up -------------------------------------------------------------------------------- */

static void test_setup(void)
{
    snprintf(scratch, sizeof scratch, "%s/outputs-%d", GILSIM_BINARY_DIR, (int)getpid());
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    CU_ASSERT_EQUAL(system(cmd), 0);
    CU_ASSERT_EQUAL_FATAL(mkdir(scratch, 0777), 0);
    snprintf(workload, sizeof workload, "%s/workloads/io-only.json", GILSIM_SOURCE_DIR);
    snprintf(trace, sizeof trace, "%s/trace.json", scratch);
    snprintf(victim, sizeof victim, "%s/victim", scratch);
    snprintf(out_file, sizeof out_file, "%s/stdout", scratch);
    snprintf(err_file, sizeof err_file, "%s/stderr", scratch);
    CU_ASSERT_EQUAL_FATAL(run_writer(&writers[0], workload, trace, NULL), 0);
    snprintf(hostile, sizeof hostile, "%s/tests/data/traces/hostile-names.json", GILSIM_SOURCE_DIR);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"set-up: a workload and a trace", test_setup},
        {"output = input: refused", test_output_is_input},
        {"symlink at the output: replaced, target untouched", test_symlink_at_output},
        {"symlinks at temporary names: never followed", test_symlink_at_temporary_names},
        {"directory (file) at the output: refused", test_wrong_kind_at_output},
        {"FIFO: written in place", test_fifo},
        {"/dev/null: written in place", test_dev_null},
        {"-o -: standard output", test_stdout},
        {"read-only directory: refused", test_read_only_dir},
        {"full disk: exit 1, old file kept", test_full_disk},
        {"paths at NAME_MAX and PATH_MAX", test_path_limits},
        {"non-UTF-8 paths: valid JSON", test_non_utf8_paths},
        {"the umask's mode", test_umask_mode},
        {"hostile names: escaped on terminals and in text files", test_terminal_escapes},
        {"hostile names: CSV formulas neutralised", test_csv_formulas},
        {"hostile names: Chrome export valid UTF-8", test_chrome_utf8},
        {"compare: equal --set values refused", test_duplicate_set_values},
        {"compare: no orphaned run after a second SIGINT or SIGKILL", test_no_orphans},
        {"run: the exit status agrees with the trace", test_status_agrees_with_trace},
        CU_TEST_INFO_NULL,
    };
    return tu_main("outputs", tests);
}
