/* cli/check.c - `gilsim check`: validates workload files, one line per file. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "sim/wl.h"

static const char check_help[] =
    "usage: gilsim check WORKLOAD.json... [--var NAME=VALUE]...\n"
    "\n"
    "Validates workload files. Prints a one-line summary of each valid file on stdout (with\n"
    "the effective value of every variable) and, for an invalid one,\n"
    "FILE:LINE:COL: JSON-PATH: what was expected, on stderr.\n"
    "\n"
    "      --var NAME=VALUE  set a workload variable (repeatable; docs/workload-format.md)\n"
    "\n"
    "Exit status: 0 all valid, 2 some file is invalid.\n";

struct check_args {
    const char *vars[WL_MAX_VARS];
    size_t nvars;
};

static int opt_var(void *args, const char *v)
{
    struct check_args *a = args;
    struct err e = {0};
    if (wl_var_arg(v, NULL, NULL, NULL, &e) != 0) return cli_usage_error("check", "%s", e.msg);
    if (a->nvars == WL_MAX_VARS) return cli_usage_error("check", "too many --var options: %s", v);
    a->vars[a->nvars++] = v;
    return 0;
}

static const struct cli_opt check_opts[] = {
    {"var", 0, true, opt_var},
    {NULL, 0, false, NULL},
};

int cli_check(int argc, char **argv)
{
    struct check_args a = {.nvars = 0};
    int operand, rc = cli_parse_options("check", check_help, check_opts, &a, argc, argv, &operand);
    if (rc) return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (operand >= argc) return cli_usage_error("check", "%s", "expected a workload file");
    int status = 0;
    for (int i = operand; i < argc; i++) {
        struct wl_workload *wl;
        struct err e = {0};
        if (wl_load_vars(argv[i], a.vars, a.nvars, &wl, &e) != 0) {
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
