/* cli/cli.h - what the command files share: the commands, argument helpers and the exit-code
 * convention (0 ok, 1 runtime failure, 2 bad input; see common/err.h). */
#ifndef GILSIM_CLI_H
#define GILSIM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

int cli_summary(int argc, char **argv);
int cli_compare(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_report(int argc, char **argv);

/* Prints "gilsim: <message>" and returns the exit status for e. */
int cli_fail(const struct err *e);
/* Prints "gilsim CMD: <fmt with arg>" and a hint to --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, const char *arg);
/* Whole-string unsigned integer in [min, max]. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
void cli_csv_field(FILE *f, const char *s);
/* A JSON string literal of s (UTF-8 passed through; quote, backslash, controls escaped). */
void cli_json_string(FILE *f, const char *s);
/* UTC time stamp for file names: 20261125T022334.123Z */
void cli_utc_stamp(char *buf, size_t size);

/* The path of one of gilsim's scripts in tools/ (GILSIM_TOOLS_DIR, else the source tree the
 * binary was built from) into buf; ERR_RUNTIME naming the missing file. */
int cli_find_tool(const char *name, char *buf, size_t size, struct err *e);
/* The interpreter named by the environment variable var (default /usr/bin/python3; a name
 * without a slash is looked up in PATH) into buf; ERR_RUNTIME with why it is needed. */
int cli_find_python(const char *var, const char *why, char *buf, size_t size, struct err *e);

/* SIGINT and SIGTERM (cli/signals.c): taken by a dedicated thread. The first calls on_signal
 * (from that thread; NULL: exit at once); a second exits at once with 128 + the signal after
 * removing the temporary file set with cli_signals_set_tmp. Call before creating threads.
 * Returns 0 or an errno value. */
int cli_signals_start(void (*on_signal)(void *ctx, int sig), void *ctx);
void cli_signals_set_tmp(const char *path); /* NULL: none */
int cli_signals_received(void);             /* the first signal taken, or 0 */
void cli_signals_stop(void);

#endif
