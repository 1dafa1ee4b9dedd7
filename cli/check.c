/* cli/check.c - `gilsim check`: validates workload files, one line per file. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "sim/wl.h"

static const char check_help[] =
    "usage: gilsim check WORKLOAD.json...\n"
    "\n"
    "Validates workload files. Prints a one-line summary of each valid file on stdout and,\n"
    "for an invalid one, FILE:LINE:COL: JSON-PATH: what was expected, on stderr.\n"
    "Exit status: 0 all valid, 2 some file is invalid.\n";

int cli_check(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("check", "%s", "expected a workload file");
    int status = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(check_help, stdout);
            return 0;
        }
    }
    for (int i = 1; i < argc; i++) {
        struct wl_workload *wl;
        struct err e = {0};
        if (wl_load(argv[i], &wl, &e) != 0) {
            status = cli_fail(&e) > status ? (int)e.status : status;
            continue;
        }
        char line[512];
        wl_describe(wl, line, sizeof line);
        printf("%s: ok: %s\n", argv[i], line);
        wl_free(wl);
    }
    return status;
}
