/* cli/record.c - `gilsim record [options] -- COMMAND [ARGS...]`: runs a real, unmodified CPython
 * program with the recorder's preload library and writes its GIL as a trace (docs/record.md).
 * The work is record/record.h's; this file is the options, the output and the messages. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/outfile.h"
#include "common/utc.h"
#include "record/record.h"

#define LIB_NAME   "libgilsim-record.so"
#define NAMES_NAME "gilsim-record-names"

struct record_args {
    const char *output;
    uint64_t max_events;
    bool no_names, quiet;
};

#define F(f) offsetof(struct record_args, f)
static const struct cli_opt record_opts[] = {
    CLI_ROW_STRING("output", 'o', F(output), "TRACE",
                   "the trace (default results/<script>-recorded-<UTC stamp>.json; - for stdout); "
                   "reserved before the command starts, written when it has ended"),
    CLI_ROW_FLAG("no-names", 0, F(no_names),
                 "do not load the names hook (threads are then named by their native ids)"),
    CLI_ROW_FLAG("quiet", 'q', F(quiet), "no summary line on stderr"),
    CLI_ROW_NUMBER("max-events", 0, CLI_U64, F(max_events), "N", 16, 1u << 26,
                   "room for events per thread (default 4194304, 96 MiB of address space and only "
                   "what is written in memory); a thread's further events are counted, not kept"),
    {0},
};
#undef F

static const struct cli_command record_cmd = {
    "record",
    "usage: gilsim record [-o TRACE] [--max-events N] [--no-names] [-q] -- COMMAND [ARGS...]\n"
    "\n"
    "Runs COMMAND (a CPython 3.11 program, directly or through a shell or env) as usual, with\n"
    "gilsim's recorder preloaded, and writes every GIL request, acquire and release of its\n"
    "threads, with their reasons and the blocking calls between, as a gilsim trace that every\n"
    "trace reader takes (summary, export, plot-timeline, model). The first CPython process\n"
    "of the command is recorded; its children (subprocess, multiprocessing) run unrecorded.\n"
    "SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to the program; the trace keeps\n"
    "everything up to its end; a third SIGINT or SIGTERM kills it. Put the command after --.\n"
    "Details: docs/record.md.\n",
    record_opts,
    "Exit status: the program's (its code, or 128 + the signal that ended it); 2 when COMMAND\n"
    "cannot be run, runs no CPython the recorder knows (only 3.11), or an option is wrong; 1\n"
    "when the recording could not be read or written.\n",
};

/* The library and the names hook, beside the gilsim binary (GILSIM_RECORD_LIB overrides the
 * library). */
static int find_parts(char *lib, char *names, size_t size, struct err *e)
{
    char exe[PATH_MAX];
    int rc = cli_self_exe(exe, sizeof exe, e);
    if (rc) return rc;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    const char *env = getenv(REC_ENV_LIB);
    bool fits = strlen(exe) + sizeof "/" NAMES_NAME < size;
    int n = env && *env ? snprintf(lib, size, "%s", env)
                        : snprintf(lib, size, "%.*s/" LIB_NAME, fits ? (int)strlen(exe) : 0, exe);
    snprintf(names, size, "%.*s/" NAMES_NAME, fits ? (int)strlen(exe) : 0, exe);
    if (!fits || n < 0 || (size_t)n >= size)
        return err_set(e, ERR_RUNTIME, "the recorder library's path is too long");
    if (lib[0] != '/' || access(lib, R_OK) != 0)
        return err_set(e, ERR_RUNTIME, "the recorder library %s: %s (an absolute path expected)",
                       lib, lib[0] != '/' ? "not absolute" : strerror(errno));
    return 0;
}

/* The default output, results/<script>-recorded-<stamp>.json. */
static int default_output(char *const *argv, char *buf, size_t size, struct err *e)
{
    char name[72], stamp[40];
    rec_command_name(argv, name, sizeof name);
    utc_stamp(stamp, sizeof stamp, UTC_BASIC, 3);
    if (cli_results_dir() != 0)
        return err_set(e, ERR_INPUT, "results: cannot create the results directory: %s",
                       strerror(errno));
    snprintf(buf, size, "results/%s-recorded-%s.json", name, stamp);
    return 0;
}

static void summary_line(const struct rec_data *d, const struct rec_child *c, const char *path)
{
    size_t events = 0;
    for (size_t i = 0; i < d->nthreads; i++)
        events += d->threads[i].n;
    fprintf(stderr, "gilsim record: %zu threads, %zu events%s, interval %llu us, exit status %d\n",
            d->nthreads, events, d->events_dropped ? " (some dropped: complete false)" : "",
            (unsigned long long)d->proc.interval_us, rec_exit_status(c));
    fprintf(stderr, "  trace: %s\n", path);
}

/* Runs the command into the session, then the trace into the reserved output. */
static int record(const struct record_args *a, struct rec_options *o, struct outfile *of,
                  const char *path, struct err *e)
{
    struct rec_session *s = NULL;
    struct rec_child c = {0};
    struct rec_data d = {0};
    int rc = rec_session_open(&s, e);
    if (rc == 0) rc = rec_run(s, o, &c, e);
    if (rc == 0) rc = rec_read(s, &c, &d, e);
    if (rc == 0) rc = rec_write_trace(outfile_stream(of), &d, &c, o, e);
    rc = rc ? (outfile_abort(of), rc) : outfile_commit(of, e);
    if (rc == 0 && !a->quiet) summary_line(&d, &c, path);
    rec_data_free(&d);
    rec_session_close(s);
    if (rc == 0) return rec_exit_status(&c);
    if (s && c.end_ns)
        fprintf(stderr, "gilsim record: the command ended with exit status %d\n",
                rec_exit_status(&c));
    return cli_fail(e);
}

int cli_record(int argc, char **argv)
{
    struct record_args a = {.max_events = 1u << 22};
    int operand, rc = cli_parse_options(&record_cmd, &a, argc, argv, &operand);
    if (rc) return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (operand >= argc)
        return cli_usage_error("record", "%s", "expected a command to run (after --)");
    struct err e = {0};
    char lib[PATH_MAX], names[PATH_MAX], path[PATH_MAX];
    if ((rc = find_parts(lib, names, sizeof lib, &e))) return cli_fail(&e);
    struct rec_options o = {.argv = argv + operand,
                            .lib = lib,
                            .names_dir = a.no_names ? NULL : names,
                            .max_events = a.max_events};
    if (!a.output) {
        if ((rc = default_output(o.argv, path, sizeof path, &e))) return cli_fail(&e);
        a.output = path;
    }
    /* the output is reserved first: an unwritable path fails before the program runs */
    struct outfile *of = NULL;
    if ((rc = outfile_open(&of, a.output, OUTFILE_STDOUT, NULL, &e))) return cli_fail(&e);
    return record(&a, &o, of, a.output, &e);
}
