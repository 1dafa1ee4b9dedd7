/* cli/options.c - a command's options from its table (struct cli_opt, see cli.h): getopt_long
 * built from the table, each value parsed by its kind into the command's argument struct with
 * the same messages for every command, and the options part of --help written from the same
 * rows. --help and -h are every command's. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "sim/engine.h"
#include "sim/wl.h"

#define MAX_OPTS   32
#define LONG_ONLY  256 /* getopt value of a long-only option: LONG_ONLY + its index */
#define HELP_VALUE 'h'
#define HELP_WIDTH 90 /* the help's lines */
#define HELP_LEFT  28 /* an option and its value wider than this: its help on the next line */

_Static_assert(CLI_MAX_LIST >= WL_MAX_VARS && CLI_MAX_LIST >= CLI_MAX_SETS, "CLI_MAX_LIST");
_Static_assert(CLI_MAX_DURATION_MS == WL_MAX_DURATION_NS / 1000000, "CLI_MAX_DURATION_MS");

const char *const cli_engine_names[] = {[ENG_REAL] = "real", [ENG_VIRTUAL] = "virtual", NULL};

int cli_check_var(const char *value, struct err *e)
{
    return wl_var_arg(value, NULL, NULL, NULL, e);
}

/* ---- values ----------------------------------------------------------------------------- */

static int name_index(const char *const *names, const char *s, size_t len)
{
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0) return i;
    return -1;
}

/* "a, b or c"; for a list of up to max > 1 names, "a, b or a,b" (the names together). */
static void expected_names(const struct cli_opt *o, bool list, char *buf, size_t size)
{
    size_t n = 0, count = 0;
    while (o->names[count])
        count++;
    buf[0] = '\0';
    for (size_t i = 0; i < count && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s",
                              i == 0                    ? ""
                              : i + 1 == count && !list ? " or "
                                                        : ", ",
                              o->names[i]);
    for (size_t i = 0; list && i < count && i < o->max && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "," : " or ", o->names[i]);
}

static int refuse_names(const char *cmd, const struct cli_opt *o, bool list, const char *v)
{
    char names[200], fmt[300];
    expected_names(o, list, names, sizeof names);
    snprintf(fmt, sizeof fmt, "--%s: expected %s, got '%%s'", o->name, names);
    return cli_usage_error(cmd, fmt, v);
}

/* Comma-separated names, each once, at most o->max: all or nothing. */
static int parse_choices(const char *cmd, const struct cli_opt *o, struct cli_choices *out,
                         const char *v)
{
    struct cli_choices c = {.n = 0};
    for (const char *p = v;; p++) {
        size_t len = strcspn(p, ",");
        int k = name_index(o->names, p, len);
        for (unsigned i = 0; k >= 0 && i < c.n; i++)
            if (c.v[i] == k) k = -1;
        if (k < 0 || c.n == o->max || c.n == CLI_MAX_CHOICES)
            return refuse_names(cmd, o, o->max > 1, v);
        c.v[c.n++] = k;
        p += len;
        if (!*p) break;
    }
    *out = c;
    return 0;
}

static int parse_number(const char *cmd, const struct cli_opt *o, void *field, const char *v)
{
    uint64_t n;
    if (cli_parse_u64(v, o->zero_off ? 0 : o->min, o->max, &n) && (n >= o->min || n == 0)) {
        if (o->kind == CLI_UNSIGNED)
            *(unsigned *)field = (unsigned)n;
        else
            *(uint64_t *)field = n;
        return 0;
    }
    char fmt[200];
    const char *what = o->what ? o->what : "an integer";
    if (o->max == UINT64_MAX) /* no range worth saying */
        snprintf(fmt, sizeof fmt, "--%s: expected %s, got '%%s'", o->name, what);
    else
        snprintf(fmt, sizeof fmt, "--%s: expected %s%s in [%llu, %llu], got '%%s'", o->name,
                 o->zero_off ? "0 (off) or " : "", what, (unsigned long long)o->min,
                 (unsigned long long)o->max);
    return cli_usage_error(cmd, fmt, v);
}

/* The value v of option o into args: 0, or the exit status after saying why not. */
static int apply(const char *cmd, const struct cli_opt *o, void *args, const char *v)
{
    void *field = (char *)args + o->field;
    struct err e = {0};
    if (o->check && o->kind != CLI_CALL && o->check(v, &e) != 0)
        return cli_usage_error(cmd, "%s", e.msg);
    switch (o->kind) {
    case CLI_FLAG:
        *(bool *)field = true;
        return 0;
    case CLI_STRING:
        *(const char **)field = v;
        return 0;
    case CLI_UNSIGNED:
    case CLI_U64:
        return parse_number(cmd, o, field, v);
    case CLI_ENUM: {
        int k = name_index(o->names, v, strlen(v));
        if (k < 0) return refuse_names(cmd, o, false, v);
        *(int *)field = k;
        return 0;
    }
    case CLI_CHOICES:
        return parse_choices(cmd, o, field, v);
    case CLI_LIST: {
        struct cli_list *l = field;
        if (l->n == o->max || l->n == CLI_MAX_LIST) {
            char fmt[120];
            snprintf(fmt, sizeof fmt, "too many --%s options (at most %%s)", o->name);
            char most[24];
            snprintf(most, sizeof most, "%llu", (unsigned long long)o->max);
            return cli_usage_error(cmd, fmt, most);
        }
        l->v[l->n++] = v;
        return 0;
    }
    case CLI_CALL:
        return o->call(o, field, v, &e) ? cli_fail(&e) : 0;
    case CLI_PASS:
        break;
    }
    return 0;
}

/* ---- getopt ----------------------------------------------------------------------------- */

/* The getopt_long tables for opts: long options (help last) and the short option string. */
static size_t build_tables(const struct cli_opt *opts, struct option *longs, char *shorts)
{
    size_t n = 0, s = 0;
    shorts[s++] = ':'; /* a missing value is reported as ':', not '?' */
    for (; opts && opts[n].name && n < MAX_OPTS; n++) {
        bool takes_value = opts[n].kind != CLI_FLAG;
        longs[n] = (struct option){opts[n].name, takes_value ? required_argument : no_argument,
                                   NULL, opts[n].letter ? opts[n].letter : LONG_ONLY + (int)n};
        if (opts[n].letter) {
            shorts[s++] = opts[n].letter;
            if (takes_value) shorts[s++] = ':';
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

int cli_parse_options(const struct cli_command *cmd, void *args, int argc, char **argv,
                      int *operand)
{
    struct option longs[MAX_OPTS + 2];
    char shorts[3 * MAX_OPTS + 3];
    size_t n = build_tables(cmd->opts, longs, shorts);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        if (c == HELP_VALUE) {
            cli_print_help(cmd, stdout);
            return CLI_HELP_SHOWN;
        }
        if (c == ':')
            return cli_usage_error(cmd->name, "option '%s' needs a value", argv[optind - 1]);
        const struct cli_opt *o = find_opt(cmd->opts, n, c);
        if (!o) return cli_usage_error(cmd->name, "unknown option '%s'", argv[optind - 1]);
        int rc = apply(cmd->name, o, args, optarg);
        if (rc) return rc;
    }
    *operand = optind;
    return 0;
}

/* ---- --help ----------------------------------------------------------------------------- */

/* "  -p, --policy NAME" (value: the option's, or one of an enum's names). */
static void left_part(const struct cli_opt *o, const char *value, char *buf, size_t size)
{
    if (o->letter)
        snprintf(buf, size, "  -%c, --%s%s%s", o->letter, o->name, value ? " " : "",
                 value ? value : "");
    else
        snprintf(buf, size, "      --%s%s%s", o->name, value ? " " : "", value ? value : "");
}

/* One option line: the left part, then the help wrapped at HELP_WIDTH from column col. */
static void print_item(FILE *f, const char *left, const char *help, int col)
{
    int at = fprintf(f, "%s", left);
    if (at + 2 > col) { /* too wide: the help starts on the next line */
        fputc('\n', f);
        at = 0;
    }
    for (const char *p = help + strspn(help, " "); *p;) {
        size_t len = strcspn(p, " ");
        if (at > col && at + 1 + (int)len > HELP_WIDTH) {
            fputc('\n', f);
            at = 0;
        }
        if (at < col) {
            at += fprintf(f, "%*s", col - at, "");
        } else {
            fputc(' ', f);
            at++;
        }
        at += fprintf(f, "%.*s", (int)len, p);
        p += len + strspn(p + len, " ");
    }
    fputc('\n', f);
}

/* An option's lines in the help: one, or an enum's one per value (names_help). */
static size_t help_items(const struct cli_opt *o)
{
    size_t n = 0;
    while (o->names_help && o->names[n])
        n++;
    return o->names_help ? n : 1;
}

static void item_left(const struct cli_opt *o, size_t i, char *buf, size_t size)
{
    left_part(o, o->names_help ? o->names[i] : o->value, buf, size);
}

void cli_print_help(const struct cli_command *cmd, FILE *f)
{
    char left[128];
    int col = 0; /* where the helps start: past the widest left part that is not too wide */
    for (const struct cli_opt *o = cmd->opts; o && o->name; o++)
        for (size_t i = 0; i < help_items(o); i++) {
            item_left(o, i, left, sizeof left);
            int w = (int)strlen(left);
            if (w <= HELP_LEFT && w + 2 > col) col = w + 2;
        }
    fputs(cmd->synopsis, f);
    if (cmd->opts && cmd->opts->name) fputc('\n', f);
    for (const struct cli_opt *o = cmd->opts; o && o->name; o++)
        for (size_t i = 0; i < help_items(o); i++) {
            item_left(o, i, left, sizeof left);
            print_item(f, left, o->names_help ? o->names_help[i] : o->help, col);
        }
    if (cmd->epilogue) {
        fputc('\n', f);
        fputs(cmd->epilogue, f);
    }
}
