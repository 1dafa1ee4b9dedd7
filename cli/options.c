/* cli/options.c - a command's options from its table (struct cli_opt, see cli.h): getopt_long
 * built from the table, the same messages for every command, --help and -h for all. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define MAX_OPTS   32
#define LONG_ONLY  256 /* getopt value of a long-only option: LONG_ONLY + its index */
#define HELP_VALUE 'h'

/* The getopt_long tables for opts: long options (help last) and the short option string. */
static size_t build_tables(const struct cli_opt *opts, struct option *longs, char *shorts)
{
    size_t n = 0, s = 0;
    shorts[s++] = ':'; /* a missing value is reported as ':', not '?' */
    for (; opts[n].name && n < MAX_OPTS; n++) {
        longs[n] = (struct option){opts[n].name, opts[n].takes_value ? required_argument : 0, NULL,
                                   opts[n].letter ? opts[n].letter : LONG_ONLY + (int)n};
        if (opts[n].letter) {
            shorts[s++] = opts[n].letter;
            if (opts[n].takes_value) shorts[s++] = ':';
        }
    }
    longs[n] = (struct option){"help", no_argument, NULL, HELP_VALUE};
    longs[n + 1] = (struct option){NULL, 0, NULL, 0};
    shorts[s++] = HELP_VALUE;
    shorts[s] = '\0';
    return n;
}

static const struct cli_opt *find_opt(const struct cli_opt *opts, size_t n, int value)
{
    if (value >= LONG_ONLY && (size_t)(value - LONG_ONLY) < n) return &opts[value - LONG_ONLY];
    for (size_t i = 0; i < n; i++)
        if (opts[i].letter && opts[i].letter == value) return &opts[i];
    return NULL;
}

int cli_parse_options(const char *cmd, const char *help, const struct cli_opt *opts, void *args,
                      int argc, char **argv, int *operand)
{
    struct option longs[MAX_OPTS + 2];
    char shorts[3 * MAX_OPTS + 3];
    size_t n = build_tables(opts, longs, shorts);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        if (c == HELP_VALUE) {
            fputs(help, stdout);
            return CLI_HELP_SHOWN;
        }
        if (c == ':') return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        const struct cli_opt *o = find_opt(opts, n, c);
        if (!o) return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        int rc = o->apply(args, optarg);
        if (rc) return rc;
    }
    *operand = optind;
    return 0;
}
