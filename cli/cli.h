/* cli/cli.h - what the command files share (cli/util.c, options.c, signals.c): messages and
 * the exit-code convention (0 ok, 1 runtime failure, 2 bad input; see common/err.h), option
 * tables, value parsers, CSV fields, finding gilsim's scripts, and signal handling. The
 * commands themselves are in cli/commands.h; nothing here calls back into a command. */
#ifndef GILSIM_CLI_H
#define GILSIM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/err.h"

/* --set NAME=VALUE options one command line may carry (run: repeated --set; compare: swept
 * parameters). */
#define CLI_MAX_SETS 32

/* Prints "gilsim: <message>" and returns the exit status for e. */
int cli_fail(const struct err *e);
/* Prints "gilsim CMD: <fmt with arg>" and a hint to --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, const char *arg);

/* ---- options (cli/options.c) ---------------------------------------------------------------- */

/* One option of a command: its long name, its letter (0: long only), whether it takes a value,
 * and what it does: apply stores the value in the command's argument struct and returns 0, or
 * prints why not and returns the exit status. Tables end with a {NULL} entry; --help and -h
 * are every command's, not in the table. */
struct cli_opt {
    const char *name;
    char letter;
    bool takes_value;
    int (*apply)(void *args, const char *value);
};

#define CLI_HELP_SHOWN (-1) /* cli_parse_options printed the help: exit 0 */

/* Parses argv's options with getopt_long (options and operands in any order, `--` ends the
 * options) and applies them in order. Returns 0 with *operand the index of the first operand
 * (operands are moved to the end), CLI_HELP_SHOWN after printing help on stdout, or the exit
 * status after printing a usage error (unknown option, missing value, or apply's). */
int cli_parse_options(const char *cmd, const char *help, const struct cli_opt *opts, void *args,
                      int argc, char **argv, int *operand);

/* ---- values and text (cli/util.c) ----------------------------------------------------------- */

/* Whole-string unsigned integer in [min, max]. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* --duration MS and --seed N, with the same range and message for every command: 0, or the
 * usage error's status after printing it. */
int cli_parse_duration(const char *cmd, const char *arg, uint64_t *ms);
int cli_parse_seed(const char *cmd, const char *arg, uint64_t *seed);
/* One CSV text field (RFC 4180): control characters escaped (common/text.h), quoted when it
 * holds a comma or quote, and a cell starting with = + - @ neutralised with a leading ' (a
 * spreadsheet would run it as a formula). Numbers are written by the caller, not through
 * this. */
void cli_csv_field(FILE *f, const char *s);
/* A JSON string literal of s, valid UTF-8 whatever s holds (common/text.h's text_put_json:
 * quote, backslash and controls escaped as JSON asks, bytes that are not UTF-8 as \\xNN). */
void cli_json_string(FILE *f, const char *s);
/* Creates results/, the default place of outputs, when missing: 0, or -1 with errno. */
int cli_results_dir(void);

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

/* SIGINT and SIGTERM: taken by a dedicated thread. The first calls on_signal (from that
 * thread; NULL: exit at once); a second exits at once with 128 + the signal after removing the
 * temporary file set with cli_signals_set_tmp. Call before creating threads. Returns 0 or an
 * errno value. */
int cli_signals_start(void (*on_signal)(void *ctx, int sig), void *ctx);
void cli_signals_set_tmp(const char *path); /* NULL: none */
/* Around creating a temporary file and naming it with cli_signals_set_tmp: a signal that
 * arrives in between waits for the name instead of leaving the file behind. */
void cli_signals_hold(void);
void cli_signals_release(void);
void cli_signals_set_child(pid_t pid); /* ended before a hard exit; 0: none */
int cli_signals_received(void);        /* the first signal taken, or 0 */
void cli_signals_stop(void);

#endif
