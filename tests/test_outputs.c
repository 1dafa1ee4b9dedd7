/* tests/test_outputs.c - the output rules of docs/reliability.md, on every writing command of
 * gilsim: each command of the table `writers` is driven through the same hostile situations
 * (output = input, a symlink at the output or at a temporary name, a directory, a FIFO,
 * /dev/null, a read-only directory, a full disk, paths at the length limits, a non-UTF-8 path,
 * standard output, the umask's mode). Adding a writing command is one line in `writers`; the
 * Python tools have the same table in tests/test_outputs.py. */
#define _GNU_SOURCE /* mkdtemp, asprintf */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

enum input { IN_WORKLOAD, IN_TRACE };
enum form { F_JSON, F_TEXT, F_DIR };

/* One writing command: its arguments ({IN} and {OUT} replaced), what it reads, what it writes,
 * whether "-o -" means standard output, and its flag to replace an earlier output. */
struct writer {
    const char *name;
    const char *args[12];
    enum input in;
    enum form form;
    bool to_stdout;
    const char *replace;
};

/* clang-format off */
static const struct writer writers[] = {
    {"run",               {"run", "{IN}", "-d", "20", "-q", "-o", "{OUT}"},           IN_WORKLOAD, F_JSON, true,  NULL},
    {"export chrome",     {"export", "{IN}", "-f", "chrome", "-o", "{OUT}"},          IN_TRACE,    F_JSON, true,  NULL},
    {"export csv",        {"export", "{IN}", "-f", "csv", "-o", "{OUT}"},             IN_TRACE,    F_TEXT, true,  NULL},
    {"summary",           {"summary", "{IN}", "-o", "{OUT}"},                         IN_TRACE,    F_TEXT, true,  NULL},
    {"summary --json",    {"summary", "{IN}", "--json", "-o", "{OUT}"},               IN_TRACE,    F_JSON, true,  NULL},
    {"summary --samples", {"summary", "{IN}", "--samples", "all", "-o", "{OUT}"},     IN_TRACE,    F_TEXT, true,  NULL},
    {"compare",           {"compare", "{IN}", "-p", "new", "-d", "20", "-o", "{OUT}"}, IN_WORKLOAD, F_DIR,  false, "--force"},
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

/* Runs gilsim with w's arguments (extra appended), stdout and stderr to files; the exit
 * status, or -1. */
static int run_writer(const struct writer *w, const char *in, const char *out, const char *extra)
{
    const char *argv[20];
    int n = 0;
    argv[n++] = GILSIM_BINARY_DIR "/gilsim";
    for (int i = 0; w->args[i]; i++)
        argv[n++] = strcmp(w->args[i], "{IN}") == 0    ? in
                    : strcmp(w->args[i], "{OUT}") == 0 ? out
                                                       : w->args[i];
    if (extra) argv[n++] = extra;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || chdir(GILSIM_SOURCE_DIR) != 0) _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Says which command and situation failed, with its stderr. */
static void explain(const struct writer *w, const char *situation, int got, int want)
{
    char *err = tu_slurp(err_file);
    fprintf(stderr, "\n  %s, %s: exit %d, expected %d; stderr: %s", w->name, situation, got,
            want, err ? err : "");
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
    static const char *const dir_tmps[] = {"%s/index.json.tmp", "%s/runs.csv.tmp",
                                           "%s/table.txt.tmp", "%s/.write-test", NULL};
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
        CU_ASSERT(expect_exit(w, "wrong kind at the output", run_writer(w, input_of(w), out, 0), 2));
        struct stat st;
        CU_ASSERT(stat(out, &st) == 0 && (w->form == F_DIR ? S_ISREG(st.st_mode)
                                                           : S_ISDIR(st.st_mode)));
        CU_ASSERT(!tmp_files(d));
    }
}

/* A FIFO: written in place while a reader reads it; it stays a FIFO. A directory writer
 * refuses it. */
static void test_fifo(void)
{
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        char d[PATH_MAX], fifo[PATH_MAX + 16], got[PATH_MAX + 16];
        fresh(d, sizeof d, "fifo");
        snprintf(fifo, sizeof fifo, "%s/fifo", d);
        snprintf(got, sizeof got, "%s/got", d);
        CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0666), 0);
        pid_t reader = -1;
        if (w->form != F_DIR) {
            reader = fork();
            if (reader == 0) { /* a reader for the FIFO, bounded: a writer that replaced it never opens it */
                char cmd[3 * PATH_MAX];
                snprintf(cmd, sizeof cmd, "exec timeout 20 cat '%s' > '%s'", fifo, got);
                execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
                _exit(127);
            }
        }
        int st = run_writer(w, input_of(w), fifo, NULL);
        if (reader > 0) waitpid(reader, NULL, 0);
        CU_ASSERT(expect_exit(w, "a FIFO at the output", st, w->form == F_DIR ? 2 : 0));
        struct stat fs;
        CU_ASSERT(lstat(fifo, &fs) == 0 && S_ISFIFO(fs.st_mode));
        if (w->form != F_DIR) CU_ASSERT(stat(got, &fs) == 0 && fs.st_size > 0);
    }
}

/* /dev/null: written in place, stays a character device; a directory writer refuses it. */
static void test_dev_null(void)
{
    for (size_t i = 0; i < NWRITERS; i++) {
        const struct writer *w = &writers[i];
        int st = run_writer(w, input_of(w), "/dev/null", NULL);
        CU_ASSERT(expect_exit(w, "/dev/null", st, w->form == F_DIR ? 2 : 0));
        struct stat ns;
        CU_ASSERT(lstat("/dev/null", &ns) == 0 && S_ISCHR(ns.st_mode));
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
        CU_ASSERT(expect_exit(w, "a name of NAME_MAX bytes", run_writer(w, input_of(w), out, 0),
                              0));
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
        CU_ASSERT(expect_exit(w, "non-UTF-8 paths", run_writer(w, in, out, NULL), 0));
        CU_ASSERT(output_ok(w, out));
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
        CU_TEST_INFO_NULL,
    };
    return tu_main("outputs", tests);
}
