/* cli/util.c - the helpers every command uses (see cli.h): messages and exit codes, value
 * parsers, CSV fields, JSON files, results/, and finding gilsim's binary, scripts and Python. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/outfile.h"
#include "common/text.h"
#include "sim/machine.h"

int cli_fail(const struct err *e)
{
    fputs("gilsim: ", stderr);
    text_put(stderr, e->msg); /* messages quote names and keys from files */
    fputc('\n', stderr);
    return (int)e->status;
}

int cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "gilsim %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'gilsim %s --help'.\n", cmd);
    return ERR_INPUT;
}

int cli_one_trace(const char *cmd, int argc, char **argv, int operand, const char **path)
{
    if (operand >= argc) return cli_usage_error(cmd, "%s", "expected a trace file");
    if (operand < argc - 1)
        return cli_usage_error(cmd, "expected one trace file, got also '%s'", argv[operand + 1]);
    *path = argv[operand];
    return 0;
}

bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-') return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v < min || v > max) return false;
    *out = v;
    return true;
}

void cli_csv_field(FILE *f, const char *s)
{
    /* A cell a spreadsheet would run as a formula gets a leading quote (the OWASP rule; a tab
     * or CR at the start is escaped as \x09, \x0d like any control character). */
    bool formula = s[0] && strchr("=+-@", s[0]);
    bool quoted = formula || strpbrk(s, ",\"");
    if (quoted) fputs(formula ? "\"'" : "\"", f);
    for (;;) {
        size_t n = strcspn(s, "\"");
        text_putn(f, s, n); /* control characters escaped: no line break to quote */
        if (!s[n]) break;
        fputs("\"\"", f);
        s += n + 1;
    }
    if (quoted) fputc('"', f);
}

void cli_json_string(FILE *f, const char *s)
{
    text_put_json(f, s); /* valid UTF-8 whatever s holds (common/text.h) */
}

static int dump_json(FILE *f, void *doc, struct err *e)
{
    int rc = json_dumpf(doc, f, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    fputc('\n', f);
    return rc ? err_set(e, ERR_RUNTIME, "out of memory") : 0;
}

int cli_write_json(const char *path, const char *const *inputs, json_t *doc, struct err *e)
{
    return outfile_write(path, 0, inputs, dump_json, doc, e);
}

int cli_results_dir(void)
{
    return mkdir("results", 0755) != 0 && errno != EEXIST ? -1 : 0;
}

void cli_note_host_calibration(const struct machine *m)
{
    char path[4200], name[256], shown[4200];
    text_escape(m->name, name, sizeof name);
    if (mach_host_calibrated(path, sizeof path))
        fprintf(stderr,
                "  the built-in machine %s is the development VM's; this host's own calibration "
                "is %s (--machine)\n",
                name, text_escape(path, shown, sizeof shown));
    else
        fprintf(stderr,
                "  warning: this host has never been calibrated: the built-in machine %s stands "
                "for the development VM, whose wake-ups may differ from this host's; "
                "tools/calibrate -o my-host.json measures this one (then --machine "
                "my-host.json)\n",
                name);
}

int cli_self_exe(char *buf, size_t size, struct err *e)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0 || (size_t)n >= size - 1)
        return err_set(e, ERR_RUNTIME, "cannot find the gilsim binary (/proc/self/exe): %s",
                       n < 0 ? strerror(errno) : "path too long");
    buf[n] = '\0';
    return 0;
}

#ifndef GILSIM_TOOLS_DIR
#define GILSIM_TOOLS_DIR "tools"
#endif

int cli_find_tool(const char *name, char *buf, size_t size, struct err *e)
{
    const char *tools = getenv("GILSIM_TOOLS_DIR");
    if (!tools || !*tools) tools = GILSIM_TOOLS_DIR;
    int n = snprintf(buf, size, "%s/%s", tools, name);
    if (n < 0 || (size_t)n >= size || access(buf, R_OK) != 0)
        return err_set(e, ERR_RUNTIME,
                       "cannot find %s/%s (set GILSIM_TOOLS_DIR to gilsim's tools/)", tools, name);
    return 0;
}

int cli_find_python(const char *var, const char *why, char *buf, size_t size, struct err *e)
{
    const char *py = getenv(var);
    if (!py || !*py) py = "/usr/bin/python3";
    if (strchr(py, '/')) {
        if ((size_t)snprintf(buf, size, "%s", py) < size && access(buf, X_OK) == 0) return 0;
    } else {
        /* a bare name (python3.12): the first executable of that name in PATH */
        const char *path = getenv("PATH");
        for (const char *p = path ? path : ""; *p;) {
            size_t len = strcspn(p, ":");
            int n = snprintf(buf, size, "%.*s/%s", (int)len, p, py);
            if (n > 0 && (size_t)n < size && access(buf, X_OK) == 0) return 0;
            p += len + (p[len] == ':');
        }
    }
    return err_set(e, ERR_RUNTIME, "cannot run %s (%s; %s names another interpreter)", py, why,
                   var);
}
