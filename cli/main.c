/* cli/main.c - the gilsim command line: the table of commands, the help generated from it, and
 * dispatch. Each command is its own file (cli/commands.h); exit codes: 0 ok, 1 runtime
 * failure, 2 bad input. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/err.h"
#include "common/version.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"policies", cli_policies, "list policies and their parameters"},
    {"check", cli_check, "validate workload files"},
    {"run", cli_run, "run a workload under a policy, write a trace"},
    {"summary", cli_summary, "latency, convoy and fairness metrics of a trace"},
    {"compare", cli_compare,
     "sweep a workload over policies, engines, parameters and variables; tabulate the metrics"},
    {"export", cli_export, "a trace as Chrome Trace Event JSON (Perfetto) or CSV"},
    {"report", cli_report, "a self-contained HTML report (table, plots) of a compare directory"},
    {"machines", cli_machines, "the virtual engine's machine model: parameters, defaults, units"},
    {"record", cli_record, "run a real CPython program and record its GIL as a trace"},
    {"model", cli_model, "a workload file derived from a trace, to replay under any policy"},
};

static void print_help(FILE *f)
{
    fputs("usage: gilsim COMMAND [options]\n"
          "\n"
          "GIL scheduling simulator: runs workload files under pluggable GIL policies, on real\n"
          "threads or in virtual time on a modelled machine, and writes JSON traces.\n"
          "\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\n`gilsim COMMAND --help` describes each. `gilsim --version` prints the version.\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return ERR_INPUT;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_help(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("gilsim %s\n", GILSIM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gilsim: unknown command '%s'\n\n", cmd);
    print_help(stderr);
    return ERR_INPUT;
}
