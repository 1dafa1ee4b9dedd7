/* cli/report.c - `gilsim report DIR`: the HTML report of a compare directory. The page and its
 * plots are made by tools/report (Python with Debian's matplotlib); this command finds that
 * script and the interpreter, tells the script which gilsim to read traces with, and hands
 * over. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"

/* Parsed by tools/report: listed here for the help. */
static const struct cli_opt report_opts[] = {
    {.name = "output",
     .letter = 'o',
     .kind = CLI_PASS,
     .value = "FILE",
     .help = "the page (default DIR/report.html)"},
    {.name = "timeline-ms",
     .kind = CLI_PASS,
     .value = "MS",
     .help = "length of each timeline window, centred in the run (default 20)"},
    {0},
};

static const struct cli_command report_cmd = {
    "report",
    "usage: gilsim report DIR [-o FILE.html] [--timeline-ms MS]\n"
    "\n"
    "Writes one self-contained HTML page for a `gilsim compare` directory: workload, policies\n"
    "and parameters, the metrics table, latency CDFs, sweep plots and a timeline per column\n"
    "(inlined), host information and links to the traces. Nothing is loaded from the network.\n",
    report_opts,
    "Runs tools/report with /usr/bin/python3 and python3-matplotlib (tools/install-deps\n"
    "installs it). GILSIM_TOOLS_DIR and GILSIM_REPORT_PYTHON override where they are found.\n"
    "Exit status: 0 ok, 1 runtime failure, 2 bad input.\n",
};

int cli_report(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_help(&report_cmd, stdout);
            return 0;
        }
    }
    if (argc < 2) return cli_usage_error("report", "%s", "expected a compare directory");

    struct err e = {0};
    char script[PATH_MAX], python[PATH_MAX];
    if (cli_find_tool("report", script, sizeof script, &e) != 0 ||
        cli_find_python("GILSIM_REPORT_PYTHON",
                        "the report needs Python with matplotlib: Debian's python3-matplotlib, "
                        "which tools/install-deps installs",
                        python, sizeof python, &e) != 0)
        return cli_fail(&e);
    /* The script reads traces through this very gilsim (summary --samples, export). */
    char exe[PATH_MAX];
    if (cli_self_exe(exe, sizeof exe, NULL) == 0) setenv("GILSIM", exe, 1);

    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) {
        err_set(&e, ERR_RUNTIME, "out of memory");
        return cli_fail(&e);
    }
    args[0] = python;
    args[1] = script;
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    fflush(NULL);
    /* SIGINT/SIGTERM stay blocked through exec until tools/report has its handler (one line and
     * 128 + the signal, never a traceback; tools/lib/gilsim_output.py unblocks them). */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    execv(python, args);
    sigprocmask(SIG_UNBLOCK, &stop, NULL);
    err_set(&e, ERR_RUNTIME, "cannot run %s %s", python, script);
    free(args);
    return cli_fail(&e);
}
