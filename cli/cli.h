/* cli/cli.h - what the command files share (cli/util.c, options.c, signals.c): messages and
 * the exit-code convention (0 ok, 1 runtime failure, 2 bad input; see common/err.h), option
 * tables (parsing and --help generated from them), value parsers, CSV fields, JSON files,
 * finding gilsim's scripts, and signal handling. The
 * commands themselves are in cli/commands.h; nothing here calls back into a command. */
#ifndef GILSIM_CLI_H
#define GILSIM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/err.h"

/* --set NAME=VALUE options one command line may carry (run: repeated --set; compare: swept
 * parameters). */
#define CLI_MAX_SETS 32

/* Prints "gilsim: <message>" and returns the exit status for e. */
int cli_fail(const struct err *e);
/* Prints "gilsim CMD: <fmt with arg>" and a hint to --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, const char *arg);
/* The one operand of a command that reads one trace (summary, model): 0 with *path, or the
 * usage error's status when there is none or more than one. */
int cli_one_trace(const char *cmd, int argc, char **argv, int operand, const char **path);

/* ---- options (cli/options.c) ---------------------------------------------------------------- */

/* What an option's value becomes in the command's argument struct (at the option's field). */
enum cli_opt_kind {
    CLI_FLAG,     /* bool: true (takes no value) */
    CLI_STRING,   /* const char *: the value as given (it points into argv) */
    CLI_UNSIGNED, /* unsigned: an integer in [min, max] */
    CLI_U64,      /* uint64_t: an integer in [min, max] */
    CLI_ENUM,     /* int: the index of the value in names */
    CLI_CHOICES,  /* struct cli_choices: comma-separated names, each at most once, at most max */
    CLI_LIST,     /* struct cli_list: every use appends its value, at most max */
    CLI_CALL,     /* call parses the value into the field (compare's NAME=V1,V2,... lists) */
    CLI_PASS,     /* parsed by the script the command hands over to (report): in the help only */
};

#define CLI_MAX_LIST        64 /* values of a CLI_LIST option (WL_MAX_VARS) */
#define CLI_MAX_CHOICES     4
#define CLI_MAX_DURATION_MS 86400000u /* a day: WL_MAX_DURATION_NS */

struct cli_list {
    const char *v[CLI_MAX_LIST];
    unsigned n;
};

struct cli_choices {
    int v[CLI_MAX_CHOICES]; /* indices into the option's names, in the order given */
    unsigned n;
};

/* One option of a command, a row of its table. Tables end with {0}; --help and -h are every
 * command's, not in the table. The help lists the rows in table order. */
struct cli_opt {
    const char *name; /* the long name, without the dashes */
    char letter;      /* 0: long only */
    enum cli_opt_kind kind;
    size_t field;             /* offsetof the value in the command's argument struct */
    const char *value;        /* the value's name in the help (MS, NAME=VALUE); NULL for a flag */
    const char *help;         /* what it does and its default: one paragraph, wrapped by the help */
    uint64_t min, max;        /* numbers: the range; lists and choices: max is how many values */
    const char *what;         /* numbers: what the value is, in messages (default "an integer") */
    bool zero_off;            /* numbers: 0 (off) is allowed too */
    bool distinct;            /* CLI_LIST of NAME=VALUE[,NAME=VALUE...]: each NAME at most once */
    const char *const *names; /* enums and choices: the values, NULL-terminated */
    const char *const *names_help; /* CLI_ENUM: one help per value, listed one per line */
    /* Refuses a value (CLI_STRING, CLI_LIST; CLI_CALL may use it): 0, or the status with e's
     * message, printed as a usage error. */
    int (*check)(const char *value, struct err *e);
    /* CLI_CALL: the value into field: 0, or the status with e's message, printed as is. */
    int (*call)(const struct cli_opt *o, void *field, const char *value, struct err *e);
};

/* Rows of the common shapes (f: offsetof the field in the command's argument struct; h: the
 * help). Rows with more (a check, 0 for off, their own parser) are written out. */
#define CLI_ROW_FLAG(nm, let, f, h)                                                                \
    {                                                                                              \
        .name = nm, .letter = let, .kind = CLI_FLAG, .field = f, .help = h                         \
    }
#define CLI_ROW_STRING(nm, let, f, val, h)                                                         \
    {                                                                                              \
        .name = nm, .letter = let, .kind = CLI_STRING, .field = f, .value = val, .help = h         \
    }
#define CLI_ROW_NUMBER(nm, let, kd, f, val, lo, hi, h)                                             \
    {                                                                                              \
        .name = nm, .letter = let, .kind = kd, .field = f, .value = val, .help = h, .min = lo,     \
        .max = hi                                                                                  \
    }
#define CLI_ROW_ENUM(nm, let, f, val, nms, h)                                                      \
    {                                                                                              \
        .name = nm, .letter = let, .kind = CLI_ENUM, .field = f, .value = val, .help = h,          \
        .names = nms                                                                               \
    }
#define CLI_ROW_LIST(nm, let, f, val, most, h)                                                     \
    {                                                                                              \
        .name = nm, .letter = let, .kind = CLI_LIST, .field = f, .value = val, .help = h,          \
        .max = most                                                                                \
    }

/* The rows several commands share: the same name, value, bounds and messages everywhere.
 * --engine's names are in the order of sim/engine.h's enum eng_kind (a choice's index is an
 * enum eng_kind). */
extern const char *const cli_engine_names[];
#define CLI_ROW_ENGINE(f, most, val, h)                                                            \
    {                                                                                              \
        .name = "engine", .letter = 'e', .kind = CLI_CHOICES, .field = f, .value = val, .help = h, \
        .max = most, .names = cli_engine_names                                                     \
    }
#define CLI_ROW_MACHINE(f, h) CLI_ROW_STRING("machine", 0, f, "FILE", h)
#define CLI_ROW_MACHINE_SET(f, h)                                                                  \
    {                                                                                              \
        .name = "machine-set", .kind = CLI_LIST, .field = f, .value = "NAME=VALUE[,...]",          \
        .help = h, .max = CLI_MAX_SETS, .distinct = true                                           \
    }
#define CLI_ROW_VAR(f, h)                                                                          \
    {                                                                                              \
        .name = "var", .kind = CLI_LIST, .field = f, .value = "NAME=VALUE", .help = h,             \
        .max = CLI_MAX_LIST, .check = cli_check_var                                                \
    }
#define CLI_ROW_DURATION(f, h)                                                                     \
    {                                                                                              \
        .name = "duration", .letter = 'd', .kind = CLI_U64, .field = f, .value = "MS", .help = h,  \
        .min = 1, .max = CLI_MAX_DURATION_MS, .what = "milliseconds"                               \
    }
#define CLI_ROW_SEED(f, h)                                                                         \
    {                                                                                              \
        .name = "seed", .kind = CLI_U64, .field = f, .value = "N", .help = h, .max = UINT64_MAX,   \
        .what = "a non-negative integer"                                                           \
    }

/* --var NAME=VALUE: the form (sim/wl.h's wl_var_arg); the workload checks the name later. */
int cli_check_var(const char *value, struct err *e);

/* A command's options and its help: synopsis, the options from the table, epilogue. */
struct cli_command {
    const char *name;           /* in messages: "gilsim NAME: ..." */
    const char *synopsis;       /* usage lines and what the command does */
    const struct cli_opt *opts; /* NULL: none */
    const char *epilogue;       /* after the options (exit status ...); NULL: none */
};

#define CLI_HELP_SHOWN (-1) /* cli_parse_options printed the help: exit 0 */

/* Parses argv's options with getopt_long (options and operands in any order, `--` ends the
 * options) into args, in order. Returns 0 with *operand the index of the first operand
 * (operands are moved to the end), CLI_HELP_SHOWN after printing the help on stdout, or the
 * exit status after printing why a value was refused (an unknown option, a missing value, a
 * value out of range ...). */
int cli_parse_options(const struct cli_command *cmd, void *args, int argc, char **argv,
                      int *operand);
void cli_print_help(const struct cli_command *cmd, FILE *f);

/* ---- values and text (cli/util.c) ----------------------------------------------------------- */

/* Whole-string unsigned integer in [min, max]. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* One CSV text field (RFC 4180): control characters escaped (common/text.h), quoted when it
 * holds a comma or quote, and a cell starting with = + - @ neutralised with a leading ' (a
 * spreadsheet would run it as a formula). Numbers are written by the caller, not through
 * this. */
void cli_csv_field(FILE *f, const char *s);
/* A JSON string literal of s, valid UTF-8 whatever s holds (common/text.h's text_put_json:
 * quote, backslash and controls escaped as JSON asks, bytes that are not UTF-8 as \\xNN). */
void cli_json_string(FILE *f, const char *s);
/* A JSON document (indented, reals to 10 digits) to path under the output rules of
 * common/outfile.h (flags: its OUTFILE_*; inputs: the files it may not replace; NULL: none). */
int cli_write_json(const char *path, unsigned flags, const char *const *inputs, json_t *doc,
                   struct err *e);
/* Creates results/, the default place of outputs, when missing: 0, or -1 with errno. */
int cli_results_dir(void);
struct outfile;
/* A command's one output file, reserved before it reads its input (path "-": standard output),
 * under SIGINT/SIGTERM/SIGHUP when it is a file (they remove the temporary file and exit at
 * once); cli_output_close commits it (rc 0) or aborts it and ends the signal handling: rc, or
 * the status of a failed commit. */
int cli_output_open(struct outfile **of, const char *path, const char *const *inputs,
                    struct err *e);
int cli_output_close(struct outfile *of, int rc, struct err *e);

/* ---- the virtual engine's machine (cli/util.c) ---------------------------------------------- */

struct machine;
/* For a virtual run on the built-in machine (m): one line on stderr saying whether this host
 * has been calibrated (tools/calibrate keeps its file: sim/machine.h's mach_host_calibrated)
 * and what to do: a warning when never, else where its own calibration is. */
void cli_note_host_calibration(const struct machine *m);

/* ---- gilsim's own files (cli/util.c) -------------------------------------------------------- */

/* The running gilsim binary (/proc/self/exe) into buf; ERR_RUNTIME when unknown. */
int cli_self_exe(char *buf, size_t size, struct err *e);
/* The path of one of gilsim's scripts in tools/ (GILSIM_TOOLS_DIR, else the source tree the
 * binary was built from) into buf; ERR_RUNTIME naming the missing file. */
int cli_find_tool(const char *name, char *buf, size_t size, struct err *e);
/* The interpreter named by the environment variable var (default /usr/bin/python3; a name
 * without a slash is looked up in PATH) into buf; ERR_RUNTIME with why it is needed. */
int cli_find_python(const char *var, const char *why, char *buf, size_t size, struct err *e);

/* ---- signals (cli/signals.c) ---------------------------------------------------------------- */

/* SIGINT, SIGTERM and SIGHUP (a closed terminal: a stop like SIGTERM): taken by a dedicated
 * thread. The first calls on_signal (from that thread; NULL: exit at once); a second exits at
 * once with 128 + the signal after removing the temporary file set with cli_signals_set_tmp.
 * Call before creating threads. Returns 0 or an errno value. */
int cli_signals_start(void (*on_signal)(void *ctx, int sig), void *ctx);
/* What the first signal calls from now on (a command with phases: compare); waits for a call
 * of the previous function in progress, so that its ctx may be freed on return. */
void cli_signals_handle(void (*on_signal)(void *ctx, int sig), void *ctx);
/* "SIGINT", "SIGTERM", "SIGHUP"; the stop reason a trace records, "sigint" ...; the signal of
 * such a reason (0: none). */
const char *cli_signal_name(int signo);
const char *cli_signal_reason(int signo);
int cli_signal_of_reason(const char *reason);
void cli_signals_set_tmp(const char *path); /* NULL: none */
/* Around creating a temporary file and naming it with cli_signals_set_tmp: a signal that
 * arrives in between waits for the name instead of leaving the file behind. */
void cli_signals_hold(void);
void cli_signals_release(void);
void cli_signals_set_child(pid_t pid); /* ended before a hard exit; 0: none */
int cli_signals_received(void);        /* the first signal taken, or 0 */
void cli_signals_stop(void);

#endif
