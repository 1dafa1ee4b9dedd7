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
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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

/* Starts writer w into p: its arguments with extra (NULL-terminated) appended. */
static void start_writer(struct tu_proc *p, const struct writer *w, const char *in, const char *out,
                         const char *const *extra)
{
    const char *argv[24];
    int n = 1;
    for (int i = 0; w->args[i]; i++)
        argv[n++] = strcmp(w->args[i], "{IN}") == 0    ? in
                    : strcmp(w->args[i], "{OUT}") == 0 ? out
                                                       : w->args[i];
    for (; extra && *extra; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    start_gilsim(p, argv);
}

/* Runs gilsim with w's arguments (extra appended), reading fifo (when >= 0: a FIFO it writes)
 * into *got meanwhile; the exit status, or -1. */
static int run_writer_reading(const struct writer *w, const char *in, const char *out,
                              const char *extra, int fifo, char **got)
{
    const char *more[] = {extra, NULL};
    struct tu_proc p;
    start_writer(&p, w, in, out, more);
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
        if (w->form == F_DIR) CU_ASSERT(access(out, F_OK) != 0); /* no empty DIR and lock left */
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

/* Whether p starts a bidirectional control in UTF-8: U+061C, U+200E, U+200F, U+202A..U+202E,
 * U+2066..U+2069. */
static bool bidi_at(const unsigned char *p)
{
    if (p[0] == 0xd8 && p[1] == 0x9c) return true;
    if (p[0] != 0xe2 || !p[1]) return false;
    if (p[1] == 0x80) return p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae);
    return p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9;
}

/* No byte a terminal acts on: ESC, BEL, other C0 controls but newline, C1 (UTF-8 C2 80..9F),
 * and no bidirectional control (which reorders what a terminal shows). */
static bool terminal_safe(const char *path)
{
    char *s = tu_slurp(path);
    bool ok = s != NULL;
    for (const unsigned char *p = (const unsigned char *)s; ok && *p; p++)
        ok = ((*p >= 0x20 && *p != 0x7f && !(p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0)) ||
              *p == '\n') &&
             !bidi_at(p);
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
                    " \"description\": \"\\u001b]2;title\\u0007\\u001b[2J\\u202e\\u2066\", "
                    "\"duration_ms\": 20,\n"
                    " \"threads\": [{\"name\": \"t\", \"ops\": [{\"cpu\": {\"us\": 5}}]}]}\n");
    snprintf(cmp, sizeof cmp, "%s/escape-cmp", scratch);
    CU_ASSERT_EQUAL(gilsim_args("compare", bad, "-p", "new", "-o"), 2); /* -o needs a value */
    const char *argv[] = {NULL, "compare", bad, "-p", "new", "-o", cmp, NULL};
    CU_ASSERT_EQUAL(run_gilsim(argv, 120), 0);
    snprintf(table, sizeof table, "%s/table.txt", cmp);
    CU_ASSERT(terminal_safe(out_file));
    CU_ASSERT(terminal_safe(table));
}

/* Bidirectional controls (a name that reads as something else) from a trace, a workload, a
 * machine file and a command line: escaped on the terminal, in CSV and in messages, whole in
 * JSON. */
static void test_bidi(void)
{
    CU_ASSERT_EQUAL(gilsim_args("summary", hostile, NULL, NULL, NULL), 0);
    CU_ASSERT(terminal_safe(out_file));
    CU_ASSERT(tu_file_has(out_file, "\\xe2\\x80\\xaegnp.exe\\xe2\\x80\\xac"));
    char csv[PATH_MAX + 16], bad[PATH_MAX + 16], mach[PATH_MAX + 16];
    snprintf(csv, sizeof csv, "%s/bidi.csv", scratch);
    const char *exp[] = {NULL, "export", hostile, "-f", "csv", "-o", csv, NULL};
    CU_ASSERT_EQUAL(run_gilsim(exp, 60), 0);
    CU_ASSERT(terminal_safe(csv));
    CU_ASSERT(tu_file_has(csv, "\\xe2\\x81\\xa6\\xe2\\x80\\x8f\\xd8\\x9c"));
    /* a workload's unknown key, in the message of check */
    snprintf(bad, sizeof bad, "%s/bidi.json", scratch);
    write_file(bad, "{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": \"x\",\n"
                    " \"duration_ms\": 20, \"threads\": [{\"name\": \"t\", \"ops\": "
                    "[{\"cpu\": {\"us\": 5}}]}],\n \"\\u202eyek\": 1}\n");
    CU_ASSERT_EQUAL(gilsim_args("check", bad, NULL, NULL, NULL), 2);
    CU_ASSERT(terminal_safe(err_file));
    CU_ASSERT(tu_file_has(err_file, "\\xe2\\x80\\xaeyek"));
    /* a machine's name (names are refused unless plain: the message shows it) */
    snprintf(mach, sizeof mach, "%s/bidi-machine.json", scratch);
    write_file(mach, "{\"format\": \"gilsim-machine\", \"version\": 1, \"name\": "
                     "\"\\u2066m\\u2069\\u200e\", \"params\": {}}\n");
    CU_ASSERT_EQUAL(gilsim_args("machines", "--machine", mach, NULL, NULL), 2);
    CU_ASSERT(terminal_safe(err_file));
    CU_ASSERT(tu_file_has(err_file, "\"\\xe2\\x81\\xa6m\\xe2\\x81\\xa9\\xe2\\x80\\x8e\""));
    /* a command line: an unknown command, a usage error */
    CU_ASSERT_EQUAL(gilsim_args("\xe2\x80\xae"
                                "export",
                                NULL, NULL, NULL, NULL),
                    2);
    CU_ASSERT(terminal_safe(err_file));
    CU_ASSERT_EQUAL(gilsim_args("run", workload, "--engine", "\x1b[2J\xe2\x80\xae", NULL), 2);
    CU_ASSERT(terminal_safe(err_file));
    CU_ASSERT(tu_file_has(err_file, "got '\\x1b[2J\\xe2\\x80\\xae'"));
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

/* Counts the lines of path that hold text. */
static int lines_with(const char *path, const char *text)
{
    char *s = tu_slurp(path);
    int n = 0;
    for (char *line = s ? strtok(s, "\n") : NULL; line; line = strtok(NULL, "\n"))
        n += strstr(line, text) != NULL;
    free(s);
    return n;
}

/* Options of NAME=VALUE: a name given twice (in one value or two) is refused, never the last
 * silently kept; a list's error is said once; an integer spelled 1e3 is the integer 1000. */
static void test_list_options(void)
{
    char out[PATH_MAX + 16], d[PATH_MAX];
    fresh(d, sizeof d, "lists");
    snprintf(out, sizeof out, "%s/t.json", d);
    static const struct {
        const char *opt, *v1, *v2, *says;
    } twice[] = {
        {"--machine-set", "cores=2,cores=3", NULL, "--machine-set cores: given twice"},
        {"--machine-set", "cores=2", "cores=3", "--machine-set cores: given twice"},
        {"--set", "interval_us=5", "interval_us=6", "--set interval_us: given twice"},
        {"--var", "cpu_threads=1", "cpu_threads=2", "--var cpu_threads: given twice"},
    };
    for (size_t i = 0; i < sizeof twice / sizeof *twice; i++) {
        const char *argv[] = {NULL,         "run",       tu_src("workloads/convoy-n.json"),
                              "-p",         "new",       "-e",
                              "virtual",    "-d",        "20",
                              "-q",         "-o",        out,
                              twice[i].opt, twice[i].v1, twice[i].v2 ? twice[i].opt : NULL,
                              twice[i].v2,  NULL};
        tu_context("%s %s %s", twice[i].opt, twice[i].v1, twice[i].v2 ? twice[i].v2 : "");
        TU_ASSERT_CMP(run_gilsim(argv, 60), ==, 2);
        TU_ASSERT_CMP(lines_with(err_file, twice[i].says), ==, 1);
        CU_ASSERT(access(out, F_OK) != 0);
    }
    static const char *const bad[][2] = {{"--var", "cpu_threads=1,x"},
                                         {"--set", "interval_us=a,3"},
                                         {"--var", "cpu_threads"},
                                         {"--set", "interval_us"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char cmp[PATH_MAX + 16];
        snprintf(cmp, sizeof cmp, "%s/cmp", d);
        const char *argv[] = {NULL,      "compare", tu_src("workloads/convoy-n.json"),
                              "-p",      "new",     "-e",
                              "virtual", "-d",      "20",
                              bad[i][0], bad[i][1], "-o",
                              cmp,       NULL};
        tu_context("compare %s %s", bad[i][0], bad[i][1]);
        TU_ASSERT_CMP(run_gilsim(argv, 60), ==, 2);
        TU_ASSERT_CMP(lines_with(err_file, bad[i][0]), ==, 1); /* said once */
        CU_ASSERT(access(cmp, F_OK) != 0);
    }
    const char *argv[] = {NULL, "run",     tu_src("workloads/convoy-n.json"),
                          "-e", "virtual", "-d",
                          "20", "--var",   "cpu_threads=1e3",
                          "-q", "-o",      out,
                          NULL};
    TU_ASSERT_CMP(run_gilsim(argv, 60), ==, 0);
}

/* The machine file is an input too: no output may replace it (gilsim run, compare); the
 * outputs of gilsim-calibrate are three different files, under any spelling. */
static void test_machine_is_input(void)
{
    char d[PATH_MAX], m[PATH_MAX + 16], m2[PATH_MAX + 16];
    fresh(d, sizeof d, "machine");
    snprintf(m, sizeof m, "%s/m.json", d);
    snprintf(m2, sizeof m2, "%s/./m.json", d);
    char *orig = tu_slurp(tu_src("workloads/machines/vm-2cpu.json"));
    write_file(m, orig);
    for (int spelling = 0; spelling < 2; spelling++) {
        const char *argv[] = {NULL, "run", workload, "-e", "virtual",         "--machine", m,
                              "-d", "20",  "-q",     "-o", spelling ? m2 : m, NULL};
        TU_ASSERT_CMP(run_gilsim(argv, 60), ==, 2);
        CU_ASSERT(tu_file_has(err_file, "is the input"));
        CU_ASSERT(file_is(m, orig));
    }
    static const char *const pairs[] = {"-o x.json --raw x.json", "-o x.json --slow-wake ./x.json",
                                        "-o z.json --raw y.json --slow-wake sub/../y.json"};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        char cmd[2 * PATH_MAX];
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && mkdir -p sub && '%s/gilsim-calibrate' %s >/dev/null 2>'%s'", d,
                 GILSIM_BINARY_DIR, pairs[i], err_file);
        int st = system(cmd);
        tu_context("gilsim-calibrate %s", pairs[i]);
        TU_ASSERT_CMP(WEXITSTATUS(st), ==, 2);
        CU_ASSERT(tu_file_has(err_file, "the same file"));
    }
    free(orig);
}

/* For tu_poll: the process *(pid_t *)pid waits in open() for a FIFO's other end. */
static bool opening_fifo(void *pid)
{
    char path[64], wchan[64];
    snprintf(path, sizeof path, "/proc/%d/wchan", (int)*(pid_t *)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(wchan, 1, sizeof wchan - 1, f) : 0;
    if (f) fclose(f);
    wchan[n] = '\0';
    return strcmp(wchan, "wait_for_partner") == 0;
}

/* No descriptor left when the output is reserved (EMFILE): the machine ran short, not the
 * input: exit 1 with the reason, never "cannot write here" with 2, never an abort. The run reads
 * its workload from a FIFO; while it waits there, its limit drops to the descriptors it has. */
static void test_emfile(void)
{
    char d[PATH_MAX], fifo[PATH_MAX + 16], out[PATH_MAX + 16];
    fresh(d, sizeof d, "emfile");
    snprintf(fifo, sizeof fifo, "%s/w.fifo", d);
    snprintf(out, sizeof out, "%s/out.json", d);
    CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0666), 0);
    const char *argv[] = {NULL, "run", fifo, "-d", "20", "-q", "-o", out, NULL};
    struct tu_proc proc;
    start_gilsim(&proc, argv);
    pid_t pid = proc.pid;
    CU_ASSERT(tu_poll(opening_fifo, &pid, 10.0 * TU_SLACK)); /* fd 3 taken by the FIFO */
    struct rlimit three = {3, 3};
    CU_ASSERT_EQUAL(prlimit(pid, RLIMIT_NOFILE, &three, NULL), 0);
    char *text = tu_slurp(workload);
    write_file(fifo, text);
    free(text);
    TU_ASSERT_CMP(tu_wait(&proc, 60), ==, 1);
    CU_ASSERT(tu_file_has(err_file, "Too many open files"));
    CU_ASSERT(access(out, F_OK) != 0);
}

/* ---- durability ----------------------------------------------------------------------------- */

/* Runs argv (argv[0] the program) under `strace -f -y` into log, tracing fsync and rename: the
 * exit status, or -1 when strace cannot trace here (printed as skipped). */
static int straced(const char *log, const char *const *argv)
{
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd,
                     /* LeakSanitizer cannot work under ptrace: its leak check off here */
                     "cd '%s' && ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" "
                     "strace -f -y -qq -e trace=fsync,rename -o '%s' '%s/gilsim'",
                     GILSIM_SOURCE_DIR, log, GILSIM_BINARY_DIR);
    for (; *argv; argv++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", *argv);
    snprintf(cmd + n, sizeof cmd - (size_t)n, " >/dev/null 2>'%s'", err_file);
    if (system("strace -qq -e trace=none true 2>/dev/null") != 0) {
        fprintf(stderr, "\n  SKIPPED: strace cannot trace here");
        return -1;
    }
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Checks the strace log: every rename of a temporary file (".tmp." in its name) follows an
 * fsync of that file by the same process and is followed by an fsync of a directory, unless
 * its name ends with unsynced (NULL: none may skip). Returns how many renames it saw. */
static int check_syncs(const char *log, const char *unsynced)
{
    FILE *f = fopen(log, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char lines[4096][512];
    int n = 0, renames = 0;
    while (n < 4096 && fgets(lines[n], sizeof lines[n], f))
        n++;
    fclose(f);
    for (int i = 0; i < n; i++) {
        char from[512], to[512];
        int pid;
        if (sscanf(lines[i], "%d rename(\"%511[^\"]\", \"%511[^\"]\")", &pid, from, to) != 3 ||
            !strstr(from, ".tmp."))
            continue;
        renames++;
        const char *base = strrchr(from, '/') ? strrchr(from, '/') + 1 : from;
        int before = -1, after = -1;
        for (int k = i - 1; k >= 0 && before < 0; k--)
            if (atoi(lines[k]) == pid) before = k;
        for (int k = i + 1; k < n && after < 0; k++)
            if (atoi(lines[k]) == pid) after = k;
        bool skip = unsynced && strlen(to) >= strlen(unsynced) &&
                    strcmp(to + strlen(to) - strlen(unsynced), unsynced) == 0;
        bool synced = before >= 0 && strstr(lines[before], "fsync(") &&
                      strstr(lines[before], base) && after >= 0 && strstr(lines[after], "fsync(") &&
                      !strstr(lines[after], ".tmp.");
        bool any = (before >= 0 && strstr(lines[before], "fsync(")) ||
                   (after >= 0 && strstr(lines[after], "fsync("));
        tu_context("rename %s -> %s: %s", from, to, skip ? "--no-fsync" : "synced");
        CU_ASSERT(skip ? !any : synced);
    }
    return renames;
}

/* fsync before rename and of the directory after it (a crash on NFS or Lustre scratch must not
 * leave an empty file under the final name): a compare's plan, traces, summaries, results and
 * index, a run's trace; `run --no-fsync` skips its trace's. */
static void test_fsync(void)
{
    char d[PATH_MAX], log[PATH_MAX + 16], out[PATH_MAX + 16];
    fresh(d, sizeof d, "fsync");
    snprintf(log, sizeof log, "%s/strace.log", d);
    snprintf(out, sizeof out, "%s/cmp", d);
    const char *cmp[] = {"compare", workload, "-p", "new", "-e", "virtual",
                         "-d",      "20",     "-o", out,   NULL};
    int st = straced(log, cmp);
    if (st < 0) return;
    CU_ASSERT_EQUAL(st, 0);
    TU_ASSERT_CMP(check_syncs(log, NULL), >=, 11); /* plan, 2 x (trace, summary, result), 4 */
    CU_ASSERT(tu_file_has(log, "rename(\"") && tu_file_has(log, "/.partial/"));
    snprintf(out, sizeof out, "%s/t.json", d);
    const char *run[] = {"run", workload, "-e", "virtual", "-d", "20", "-q", "-o", out, NULL};
    CU_ASSERT_EQUAL(straced(log, run), 0);
    TU_ASSERT_CMP(check_syncs(log, NULL), ==, 1);
    const char *nosync[] = {"run", workload, "-e", "virtual",    "-d", "20",
                            "-q",  "-o",     out,  "--no-fsync", NULL};
    CU_ASSERT_EQUAL(straced(log, nosync), 0);
    TU_ASSERT_CMP(check_syncs(log, "t.json"), ==, 1);
}

/* ---- standard output ----------------------------------------------------------------------- */

/* Runs gilsim with args (NULL-terminated, {IN} the workload, {TRACE} the trace, {DIR} a finished
 * compare directory, {PLAN} a fresh one) and standard output on /dev/full: the exit status. */
static int to_dev_full(const char *const *args, const char *cmp, const char *plan)
{
    const char *argv[16] = {GILSIM_BINARY_DIR "/gilsim"};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = strcmp(args[n - 1], "{IN}") == 0      ? workload
                  : strcmp(args[n - 1], "{TRACE}") == 0 ? trace
                  : strcmp(args[n - 1], "{DIR}") == 0   ? cmp
                  : strcmp(args[n - 1], "{PLAN}") == 0  ? plan
                                                        : args[n - 1];
    argv[n] = NULL;
    struct tu_proc p = {.out = "/dev/full", .err = err_file};
    CU_ASSERT_FATAL(tu_spawn(&p, argv));
    return tu_wait(&p, 120);
}

/* Every command that prints, standard output a full disk (/dev/full): exit 1 and one line
 * saying so, as coreutils do; never 0 with a table silently lost. */
static void test_stdout_full(void)
{
    static const char *const printers[][14] = {
        {"--help", NULL},
        {"--version", NULL},
        {"policies", NULL},
        {"policies", "--help", NULL},
        {"machines", NULL},
        {"check", "{IN}", NULL},
        {"run", "--help", NULL},
        {"run", "{IN}", "-e", "virtual", "-d", "20", "-q", "-o", "-", NULL},
        {"summary", "{TRACE}", NULL},
        {"summary", "{TRACE}", "--json", NULL},
        {"summary", "{TRACE}", "--samples", "all", NULL},
        {"export", "{TRACE}", "-f", "csv", "-o", "-", NULL},
        {"compare", "--collect", "{DIR}", NULL},
        {"compare", "--collect", "{DIR}", "-f", "csv", NULL},
        {"compare", "--collect", "{DIR}", "-f", "json", NULL},
        {"compare", "{IN}", "-p", "new", "-e", "virtual", "-d", "20", "--plan", "-o", "{PLAN}",
         NULL},
        {"compare", "{IN}", "-p", "new", "-e", "virtual", "-d", "20", "-o", "{PLAN}", NULL},
        {"compare", "{IN}", "-p", "new", "-e", "virtual", "-d", "20", "-f", "csv", "-o", "{PLAN}",
         NULL},
        {"compare", "{IN}", "-p", "new", "-e", "virtual", "-d", "20", "-f", "json", "-o", "{PLAN}",
         NULL},
    };
    char cmp[PATH_MAX], plan[PATH_MAX];
    fresh(cmp, sizeof cmp, "full-stdout");
    strcat(cmp, "/cmp");
    const char *argv[] = {NULL,      "compare", workload, "-p", "new", "-e",
                          "virtual", "-d",      "20",     "-o", cmp,   NULL};
    CU_ASSERT_EQUAL_FATAL(run_gilsim(argv, 60), 0);
    for (size_t i = 0; i < sizeof printers / sizeof *printers; i++) {
        fresh(plan, sizeof plan, "full-stdout-plan");
        strcat(plan, "/p");
        int st = to_dev_full(printers[i], cmp, plan);
        char *err = tu_slurp(err_file);
        tu_context("gilsim %s %s %s > /dev/full: exit %d, stderr: %s", printers[i][0],
                   printers[i][1] ? printers[i][1] : "", printers[i][2] ? printers[i][2] : "", st,
                   err);
        TU_ASSERT_CMP(st, ==, 1);
        TU_ASSERT_HAS(err, "standard output: cannot write");
        CU_ASSERT_PTR_NULL(strstr(err, "index.json in")); /* no claim of success */
        free(err);
    }
}

/* ---- signals -------------------------------------------------------------------------------- */

/* Whether dir (and, for a compare directory, dir/.partial; only_partial: only that) holds a
 * temporary file (".tmp" in its name). */
static bool tmp_in(const char *dir, bool only_partial)
{
    char part[PATH_MAX + 16];
    snprintf(part, sizeof part, "%s/.partial", dir);
    const char *dirs[] = {part, dir};
    bool found = false;
    for (size_t i = 0; i < 2u - only_partial && !found; i++) {
        DIR *d = opendir(dirs[i]);
        for (struct dirent *de; d && !found && (de = readdir(d));)
            found = strstr(de->d_name, ".tmp") != NULL;
        if (d) closedir(d);
    }
    return found;
}

static bool has_tmp(const char *dir)
{
    return tmp_in(dir, false);
}

struct tmp_wait {
    const char *dir;
    bool compare_run;
};

static bool tmp_appeared(void *ctx)
{
    const struct tmp_wait *t = ctx;
    return tmp_in(t->dir, t->compare_run);
}

/* Polls until dir holds a temporary file (a compare directory: a run's, in .partial): whether
 * it did within limit_s. */
static bool wait_tmp(const char *dir, bool compare_run, double limit_s)
{
    struct tmp_wait t = {dir, compare_run};
    return tu_poll(tmp_appeared, &t, limit_s);
}

/* SIGHUP (a closed terminal, a dropped ssh session) to every writing command while it writes:
 * taken like SIGTERM, never the default death. A run stops and writes its partial trace
 * (stop_reason sighup); export and summary remove their temporary file; compare stops its run
 * and writes the index of what ran. Exit 129, no temporary file left, an old output kept. The
 * signal comes once the command holds its temporary file: a run's reserved output, a reader's
 * output while its trace (a FIFO nobody writes) is read, compare's run's partial trace. */
static void test_sighup(void)
{
    static const char *const longer[] = {"-d", "60000", NULL};
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char d[PATH_MAX], out[PATH_MAX + 16], in[PATH_MAX + 16];
        fresh(d, sizeof d, "sighup");
        snprintf(in, sizeof in, "%s/in.fifo", d);
        if (w->in == IN_TRACE) CU_ASSERT_EQUAL_FATAL(mkfifo(in, 0666), 0);
        snprintf(out, sizeof out, "%s/out", d);
        if (w->form != F_DIR) write_file(out, victim_text); /* the old output, to be kept */
        struct tu_proc proc;
        start_writer(&proc, w, w->in == IN_TRACE ? in : workload, out,
                     w->in == IN_WORKLOAD ? longer : NULL);
        pid_t pid = proc.pid;
        bool ready = wait_tmp(w->form == F_DIR ? out : d, w->form == F_DIR, 30.0 * TU_SLACK);
        kill(pid, SIGHUP);
        int st = tu_wait(&proc, 60);
        tu_context("%s: SIGHUP once it held its temporary file (%s)", w->name,
                   ready ? "it did" : "never seen");
        CU_ASSERT(ready);
        CU_ASSERT(expect_exit(w, "SIGHUP", st, 128 + SIGHUP));
        CU_ASSERT(!has_tmp(d));
        if (w->in == IN_TRACE) CU_ASSERT(file_is(out, victim_text));
        if (w->form == F_JSON && w->in == IN_WORKLOAD) {
            struct trace *t = NULL;
            struct err e = {0};
            CU_ASSERT_EQUAL(trace_read(out, &t, &e), 0);
            if (t)
                CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(t->run, "stop_reason")),
                                       "sighup");
            if (t) CU_ASSERT_FALSE(t->complete);
            trace_free(t);
        }
        if (w->form == F_DIR) {
            CU_ASSERT(!has_tmp(out));
            CU_ASSERT(output_ok(w, out)); /* the index of what ran */
            CU_ASSERT(tu_file_has(err_file, "SIGHUP"));
        }
    }
}

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

/* A signal to `compare --collect` while it writes index.json (inotify tells the moment its
 * temporary file appears): the outputs being written are finished, then it exits with 128 + the
 * signal; no temporary file is left (its default death left index.json.tmp.* 7 times in 10). */
static void test_collect_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    char d[PATH_MAX], plan[PATH_MAX + 16];
    fresh(d, sizeof d, "collect-signals");
    snprintf(plan, sizeof plan, "%s/plan", d);
    const char *mk[] = {NULL, "compare", workload, "-p", "new", "-e", "virtual",
                        "-r", "1000",    "--plan", "-o", plan,  NULL};
    CU_ASSERT_EQUAL_FATAL(run_gilsim(mk, 60), 0);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        int in = inotify_init1(IN_CLOEXEC);
        CU_ASSERT_FATAL(in >= 0 && inotify_add_watch(in, plan, IN_CREATE) >= 0);
        const char *argv[] = {NULL, "compare", "--collect", plan, NULL};
        struct tu_proc proc;
        start_gilsim(&proc, argv);
        pid_t pid = proc.pid;
        bool seen = false;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        while (!seen) {
            struct pollfd pfd = {in, POLLIN, 0};
            if (poll(&pfd, 1, 30000 * TU_SLACK) <= 0) break;
            ssize_t n = read(in, buf, sizeof buf);
            for (char *p = buf; n > 0 && p < buf + n && !seen;) {
                const struct inotify_event *ev = (const void *)p;
                seen = ev->len && strncmp(ev->name, "index.json.tmp", 14) == 0;
                p += sizeof *ev + ev->len;
            }
        }
        if (seen) kill(pid, sigs[i]);
        int st = tu_wait(&proc, 60);
        close(in);
        tu_context("--collect, %s while index.json is written", strsignal(sigs[i]));
        CU_ASSERT(seen);
        TU_ASSERT_CMP(st, ==, 128 + sigs[i]);
        CU_ASSERT(!has_tmp(plan));
        CU_ASSERT(output_ok(&writers[NWRITERS - 1], plan)); /* the index: whole */
    }
}

/* ---- compare directories ------------------------------------------------------------------- */

/* A fresh plan (no run run) of the workload in scratch/name/cmp: -p new -e virtual -d 20, or
 * the policy, engine and duration given. Its path into d. */
static void make_plan(char *d, size_t size, const char *name, const char *engine, const char *ms)
{
    char base[PATH_MAX - 8];
    fresh(base, sizeof base, name);
    snprintf(d, size, "%s/cmp", base);
    const char *argv[] = {
        NULL, "compare",      workload, "-p", "new", "-e", engine ? engine : "virtual",
        "-d", ms ? ms : "20", "--plan", "-o", d,     NULL};
    CU_ASSERT_EQUAL_FATAL(run_gilsim(argv, 60), 0);
}

/* The plan's run index's trace name (NAME.json) and its plan id, from d/plan.json. */
static void plan_facts(const char *d, size_t index, char *trace, size_t tsize, char *id,
                       size_t isize)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/plan.json", d);
    json_error_t jerr;
    json_t *plan = json_load_file(path, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    json_t *run = json_array_get(json_object_get(plan, "runs"), index);
    snprintf(trace, tsize, "%s", json_string_value(json_object_get(run, "trace")));
    const char *pid = json_string_value(json_object_get(plan, "id"));
    snprintf(id, isize, "%s", pid ? pid : "");
    json_decref(plan);
}

/* `gilsim compare --run d --index index` or `--collect d`, bounded: a FIFO must never hang. */
static int dir_command(const char *cmd, const char *d, const char *index)
{
    const char *run[] = {NULL, "compare", "--run", d, "--index", index, NULL};
    const char *collect[] = {NULL, "compare", "--collect", d, NULL};
    return run_gilsim(strcmp(cmd, "run") == 0 ? run : collect, 30 * TU_SLACK);
}

/* What a hostile directory holds at one of compare's names, and what a command must do. */
enum hazard_kind { H_FIFO, H_LINK, H_LINK_RESULT, H_LINK_FIFO };
struct hazard {
    const char *what;
    const char *name; /* "%s": the stem of run 0's trace */
    enum hazard_kind kind;
    const char *cmd; /* "run" (run 0) or "collect" */
    int want;        /* exit status */
    bool replaced;   /* the name holds a regular file afterwards */
};

static void plant_hazard(const struct hazard *h, const char *path, const char *d, const char *id)
{
    char outside[PATH_MAX + 16], text[2048];
    snprintf(outside, sizeof outside, "%s/../outside.fifo", d);
    if (h->kind == H_FIFO) CU_ASSERT_EQUAL(mkfifo(path, 0666), 0);
    if (h->kind == H_LINK_FIFO)
        CU_ASSERT(mkfifo(outside, 0666) == 0 && symlink(outside, path) == 0);
    if (h->kind == H_LINK || h->kind == H_LINK_RESULT) {
        snprintf(text, sizeof text,
                 "{\"format\": \"gilsim-compare-result\", \"plan\": \"%s\", \"index\": 0, "
                 "\"status\": 0, \"metrics\": {}}\n",
                 id);
        write_file(victim, h->kind == H_LINK ? victim_text : text);
        CU_ASSERT_EQUAL(symlink(victim, path), 0);
    }
}

/* FIFOs and symlinks planted at the names of a compare directory: never waited on, never
 * followed. A read (--run's plan, --collect's results) refuses or ignores them; a write of
 * compare's own file (a result, a summary, the index) replaces them. */
static void test_dir_hazards(void)
{
    static const struct hazard hazards[] = {
        {"a FIFO at plan.json: --run", "plan.json", H_FIFO, "run", 2, false},
        {"a FIFO at plan.json: --collect", "plan.json", H_FIFO, "collect", 2, false},
        {"a symlink at plan.json: --run", "plan.json", H_LINK, "run", 2, false},
        {"a FIFO at a result: --collect", "%s.result.json", H_FIFO, "collect", 1, false},
        {"a FIFO at a result: --run", "%s.result.json", H_FIFO, "run", 0, true},
        {"a FIFO at a summary: --run", "%s.summary.json", H_FIFO, "run", 0, true},
        {"a symlink at a result: --run", "%s.result.json", H_LINK, "run", 0, true},
        {"a symlink to a finished result: --collect", "%s.result.json", H_LINK_RESULT, "collect", 1,
         false},
        {"a FIFO at index.json: --collect", "index.json", H_FIFO, "collect", 1, true},
        {"a symlink to a FIFO at index.json: --collect", "index.json", H_LINK_FIFO, "collect", 1,
         true},
        {"a FIFO at the lock file: --collect", ".gilsim-compare", H_FIFO, "collect", 2, false},
    };
    for (size_t i = 0; i < sizeof hazards / sizeof *hazards; i++) {
        const struct hazard *h = &hazards[i];
        char d[PATH_MAX], trace[600], id[64], name[700], path[PATH_MAX + 700];
        make_plan(d, sizeof d, "hazard", NULL, NULL);
        plan_facts(d, 0, trace, sizeof trace, id, sizeof id);
        trace[strlen(trace) - 5] = '\0';
        snprintf(name, sizeof name, h->name, trace);
        snprintf(path, sizeof path, "%s/%s", d, name);
        if (strcmp(name, "plan.json") == 0) {
            char keep[PATH_MAX + 32];
            snprintf(keep, sizeof keep, "%s/../plan-copy.json", d);
            CU_ASSERT_EQUAL(rename(path, keep), 0);
            if (h->kind == H_LINK) /* the plan, moved aside, is what must stay unwritten */
                CU_ASSERT((size_t)snprintf(victim, sizeof victim, "%s", keep) < sizeof victim);
        }
        if (!(strcmp(name, "plan.json") == 0 && h->kind == H_LINK)) unlink(path);
        if (strcmp(name, "plan.json") == 0 && h->kind == H_LINK) {
            CU_ASSERT_EQUAL(symlink(victim, path), 0);
        } else {
            plant_hazard(h, path, d, id);
        }
        char *before = tu_slurp(victim);
        int st = dir_command(h->cmd, d, "0");
        tu_context("%s", h->what);
        TU_ASSERT_CMP(st, ==, h->want); /* -1: it hung */
        struct stat ls;
        CU_ASSERT(lstat(path, &ls) == 0);
        if (h->replaced) CU_ASSERT(S_ISREG(ls.st_mode));
        char *after = tu_slurp(victim);
        CU_ASSERT_STRING_EQUAL(after, before); /* never written through */
        free(before);
        free(after);
        if (h->kind == H_LINK_RESULT) CU_ASSERT(tu_file_has(out_file, "2 of 2 runs not finished"));
        snprintf(victim, sizeof victim, "%s/victim", scratch);
    }
}

/* A directory holding files named index.json, plan.json or .gilsim-compare that compare did not
 * write is not a compare directory: refused, with --force too, the files untouched. */
static void test_dir_by_content(void)
{
    static const char *const names[] = {"index.json", "plan.json", ".gilsim-compare"};
    for (size_t i = 0; i < 3; i++) {
        char d[PATH_MAX], file[PATH_MAX + 32];
        fresh(d, sizeof d, "mine");
        snprintf(file, sizeof file, "%s/%s", d, names[i]);
        write_file(file, "{\"my\": \"own data\"}\n");
        for (int force = 0; force <= 1; force++) {
            const char *argv[] = {NULL,  "compare", workload,  "-p",
                                  "new", "-e",      "virtual", "-d",
                                  "20",  "-o",      d,         force ? "--force" : NULL,
                                  NULL};
            tu_context("a file of my own named %s%s", names[i], force ? ", --force" : "");
            TU_ASSERT_CMP(run_gilsim(argv, 60), ==, 2);
            CU_ASSERT(tu_file_has(err_file, "not a compare directory"));
            CU_ASSERT(file_is(file, "{\"my\": \"own data\"}\n"));
        }
    }
}

/* Plans that gilsim would not write: refused by --run (nothing run) and --collect, exit 2, one
 * message, escaped (a plan's option values reach usage errors). */
static void test_plan_tampering(void)
{
    static const struct {
        const char *what, *from, *to;
    } edits[] = {
        {"--help among the options", "\"--policies\",", "\"--help\", \"x\", \"--policies\","},
        {"--run among the options", "\"--policies\",", "\"--run\", \"/tmp\", \"--policies\","},
        {"-o among the options", "\"--policies\",", "\"-o\", \"/tmp/x\", \"--policies\","},
        {"no workload SHA-256", "\"sha256\":", "\"sha257\":"},
        {"another version", "\"version\": 2,", "\"version\": 1,"},
        {"no id", "\"id\":", "\"ids\":"},
        {"an escape sequence in a value", "\"virtual\"", "\"\\u001b]0;x\\u0007\\u202evirtual\""},
        {"a key twice", "\"version\": 2,", "\"version\": 2, \"version\": 2,"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        char d[PATH_MAX], path[PATH_MAX + 16], trace[600], id[64], res[PATH_MAX + 700];
        make_plan(d, sizeof d, "tamper", NULL, NULL);
        plan_facts(d, 0, trace, sizeof trace, id, sizeof id);
        snprintf(path, sizeof path, "%s/plan.json", d);
        char *text = tu_slurp(path), *at = strstr(text, edits[i].from);
        tu_context("a plan with %s", edits[i].what);
        CU_ASSERT_PTR_NOT_NULL_FATAL(at);
        FILE *f = fopen(path, "w");
        fprintf(f, "%.*s%s%s", (int)(at - text), text, edits[i].to, at + strlen(edits[i].from));
        fclose(f);
        free(text);
        TU_ASSERT_CMP(dir_command("run", d, "0"), ==, 2);
        CU_ASSERT(terminal_safe(err_file));
        trace[strlen(trace) - 5] = '\0';
        snprintf(res, sizeof res, "%s/%s.result.json", d, trace);
        CU_ASSERT(access(res, F_OK) != 0); /* nothing ran */
        TU_ASSERT_CMP(dir_command("collect", d, NULL), ==, 2);
    }
}

/* Waits until a run of d holds its partial trace (its temporary file in d/.partial). */
static bool run_under_way(const char *d)
{
    return wait_tmp(d, true, 30.0 * TU_SLACK);
}

/* For tu_poll: no process writes into the directory (const char *) dir. */
static bool nobody_writes(void *dir)
{
    return writing_into(dir) == 0;
}

/* A --run killed with SIGKILL (Slurm's KillWait, the OOM killer) leaves its partial trace's
 * temporary file: the next --run of it, a --collect or a --force over the plan removes it (and
 * says so). Two --run of
 * one run at once: the second is refused, once, and the first finishes. */
static void test_killed_run_then(void)
{
    static const char *const then[] = {"collect", "run", "force"};
    char d[PATH_MAX];
    make_plan(d, sizeof d, "killed", "real", "3000");
    for (int k = 0; k < 3; k++) {
        const char *index = k < 2 ? "0" : "1"; /* run 0 has finished after the rerun */
        const char *argv[] = {NULL, "compare", "--run", d, "--index", index, NULL};
        struct tu_proc proc;
        start_gilsim(&proc, argv);
        pid_t pid = proc.pid;
        CU_ASSERT_FATAL(run_under_way(d));
        if (k == 0) { /* the same run again meanwhile */
            TU_ASSERT_CMP(dir_command("run", d, "0"), ==, 2);
            CU_ASSERT(tu_file_has(err_file, "run 0 is running in another process"));
            char *err = tu_slurp(err_file);
            CU_ASSERT_PTR_NULL(strstr(strstr(err, "running in another") + 1, "running in another"));
            free(err);
        }
        kill(pid, SIGKILL);
        tu_wait(&proc, 10);
        CU_ASSERT(tu_poll(nobody_writes, d, 10.0 * TU_SLACK)); /* its child dies with it */
        CU_ASSERT(tmp_in(d, true));                            /* what SIGKILL leaves */
        const char *replan[] = {NULL, "compare", workload, "-p",      "new", "-e", "real",
                                "-d", "3000",    "--plan", "--force", "-o",  d,    NULL};
        int st = k == 2 ? run_gilsim(replan, 60) : dir_command(then[k], d, index);
        tu_context("--%s after SIGKILL", then[k]);
        TU_ASSERT_CMP(st, ==, k == 0 ? 1 : 0);
        CU_ASSERT(!tmp_in(d, true));
        CU_ASSERT(tu_file_has(err_file, "removed 1 temporary file"));
    }
}

/* A plan replaced (--plan --force) while a --run of it runs: refused until the run has ended;
 * then a result the old plan's run left is never taken for the new plan's (results carry their
 * plan's id). */
static void test_replaced_plan(void)
{
    char d[PATH_MAX], trace[600], id[64], res[PATH_MAX + 700], keep[PATH_MAX + 32];
    make_plan(d, sizeof d, "replaced", "real", "2000");
    const char *run[] = {NULL, "compare", "--run", d, "--index", "0", NULL};
    struct tu_proc proc;
    start_gilsim(&proc, run);
    CU_ASSERT_FATAL(run_under_way(d));
    const char *replan[] = {NULL, "compare", workload, "-p",      "new", "-e", "real",
                            "-d", "2000",    "--plan", "--force", "-o",  d,    NULL};
    TU_ASSERT_CMP(run_gilsim(replan, 60), ==, 2); /* not under a running run */
    CU_ASSERT(tu_file_has(err_file, "runs of its plan are running"));
    TU_ASSERT_CMP(tu_wait(&proc, 60), ==, 0);
    plan_facts(d, 0, trace, sizeof trace, id, sizeof id);
    trace[strlen(trace) - 5] = '\0';
    snprintf(res, sizeof res, "%s/%s.result.json", d, trace);
    snprintf(keep, sizeof keep, "%s/../old-result.json", d);
    CU_ASSERT_EQUAL(rename(res, keep), 0);
    TU_ASSERT_CMP(run_gilsim(replan, 60), ==, 0); /* now it may */
    CU_ASSERT_EQUAL(rename(keep, res), 0);        /* the old run's result, back under its name */
    TU_ASSERT_CMP(dir_command("collect", d, NULL), ==, 1);
    CU_ASSERT(tu_file_has(out_file, "2 of 2 runs not finished"));
}

/* Paths: DIR whose real path is not UTF-8 (reached through a UTF-8 symlink), a relative DIR
 * under a working directory so long that the runs' absolute paths would pass PATH_MAX: refused
 * before anything is made. A --var list longer than 4 KiB: planned and run whole. */
static void test_dir_paths(void)
{
    char base[PATH_MAX], real[PATH_MAX + 16], link_[PATH_MAX + 16], d[PATH_MAX + 32];
    fresh(base, sizeof base, "paths");
    snprintf(real, sizeof real, "%s/real-\xff", base);
    snprintf(link_, sizeof link_, "%s/link", base);
    CU_ASSERT(mkdir(real, 0777) == 0 && symlink(real, link_) == 0);
    snprintf(d, sizeof d, "%s/cmp", link_);
    const char *argv[] = {NULL,      "compare", workload, "-p", "new", "-e",
                          "virtual", "-d",      "20",     "-o", d,     NULL};
    TU_ASSERT_CMP(run_gilsim(argv, 60), ==, 2);
    CU_ASSERT(tu_file_has(err_file, "not UTF-8"));
    CU_ASSERT(access(d, F_OK) != 0);
    deep_dir(base, sizeof base, PATH_MAX - 40);
    size_t n = strlen(base); /* then one name more, to the 4,065 bytes */
    snprintf(base + n, sizeof base - n, "/%0*d", (int)(4065 - n - 1), 0);
    CU_ASSERT_EQUAL_FATAL(mkdir(base, 0777), 0);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s/gilsim' compare '%s' -p new -e virtual -d 20 -o cmp-of-a-long-name "
             ">/dev/null 2>'%s'",
             base, GILSIM_BINARY_DIR, workload, err_file);
    int st = system(cmd);
    TU_ASSERT_CMP(WEXITSTATUS(st), ==, 2);
    CU_ASSERT(tu_file_has(err_file, "too long"));
    snprintf(d, sizeof d, "%s/cmp-of-a-long-name", base);
    CU_ASSERT(access(d, F_OK) != 0);
    char vals[8192] = "cpu_threads=1";
    for (int i = 2; strlen(vals) < 5000; i++) /* 1,2.000...0,3.000...0 */
        snprintf(vals + strlen(vals), sizeof vals - strlen(vals), ",%d.%0150d",
                 i % 16 + 1 + 16 * (i / 16), 0);
    char dp[PATH_MAX];
    fresh(dp, sizeof dp, "longvar");
    strcat(dp, "/cmp");
    const char *mk[] = {NULL,      "compare", tu_src("workloads/convoy-n.json"),
                        "-p",      "none",    "-e",
                        "virtual", "--var",   vals,
                        "-d",      "20",      "--plan",
                        "-o",      dp,        NULL};
    TU_ASSERT_CMP(run_gilsim(mk, 60), ==, 0);
    TU_ASSERT_CMP(dir_command("run", dp, "0"), ==, 0);
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
        {"bidirectional controls: escaped on terminals, in CSV and messages", test_bidi},
        {"hostile names: Chrome export valid UTF-8", test_chrome_utf8},
        {"compare: equal --set values refused", test_duplicate_set_values},
        {"standard output on a full disk: exit 1 for every command that prints", test_stdout_full},
        {"fsync before rename, the directory after: compare's files, traces", test_fsync},
        {"no descriptor left (EMFILE): exit 1, not an input error", test_emfile},
        {"NAME=VALUE options: a name twice refused, errors said once, 1e3", test_list_options},
        {"the machine is an input; calibrate's outputs distinct", test_machine_is_input},
        {"SIGHUP to every writing command: taken like SIGTERM", test_sighup},
        {"compare --collect: a signal leaves no temporary file", test_collect_signals},
        {"compare directory: FIFOs and symlinks at its names never hang or redirect",
         test_dir_hazards},
        {"compare directory: recognised by content, never by a name", test_dir_by_content},
        {"compare directory: plan tampering refused", test_plan_tampering},
        {"compare directory: SIGKILL then rerun or collect; one run twice", test_killed_run_then},
        {"compare directory: a replaced plan under a running --run", test_replaced_plan},
        {"compare directory: real path not UTF-8, long cwd, long --var list", test_dir_paths},
        {"compare: no orphaned run after a second SIGINT or SIGKILL", test_no_orphans},
        {"run: the exit status agrees with the trace", test_status_agrees_with_trace},
        CU_TEST_INFO_NULL,
    };
    return tu_main("outputs", tests);
}
