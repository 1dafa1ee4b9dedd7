/* cli/check.c - `gilsim check`: validates workload files, one line per file. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "sim/wl.h"

struct check_args {
    struct cli_list vars;
};

static const struct cli_opt check_opts[] = {
    CLI_ROW_VAR(offsetof(struct check_args, vars),
                "set a workload variable (repeatable; docs/workload-format.md)"),
    {0},
};

static const struct cli_command check_cmd = {
    "check",
    "usage: gilsim check WORKLOAD.json... [--var NAME=VALUE]...\n"
    "\n"
    "Validates workload files. Prints a one-line summary of each valid file on stdout (with\n"
    "the effective value of every variable) and, for an invalid one,\n"
    "FILE:LINE:COL: JSON-PATH: what was expected, on stderr.\n",
    check_opts,
    "Exit status: 0 all valid, 2 some file is invalid.\n",
};

int cli_check(int argc, char **argv)
{
    struct check_args a = {.vars.n = 0};
    int operand, rc = cli_parse_options(&check_cmd, &a, argc, argv, &operand);
    if (rc) return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (operand >= argc) return cli_usage_error("check", "%s", "expected a workload file");
    int status = 0;
    for (int i = operand; i < argc; i++) {
        struct wl_workload *wl;
        struct err e = {0};
        if (wl_load_vars(argv[i], a.vars.v, a.vars.n, &wl, &e) != 0) {
            status = cli_fail(&e) > status ? (int)e.status : status;
            continue;
        }
        char line[1024];
        wl_describe(wl, line, sizeof line);
        printf("%s: ok: %s\n", argv[i], line);
        wl_free(wl);
    }
    return status;
}
