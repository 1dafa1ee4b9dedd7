/* cli/machines.c - `gilsim machines`: the parameters of the virtual engine's machine model,
 * with defaults (or a machine file's values) and units. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/text.h"
#include "sim/machine.h"

struct machines_args {
    const char *file;
    struct cli_list sets;
    bool host_file;
};

#define F(f) offsetof(struct machines_args, f)
static const struct cli_opt machines_opts[] = {
    CLI_ROW_MACHINE(F(file), "a gilsim-machine file (default: the built-in machine)"),
    CLI_ROW_MACHINE_SET(F(sets), "override machine parameters (repeatable)"),
    CLI_ROW_FLAG("host-file", 0, F(host_file),
                 "print where tools/calibrate keeps this host's calibration; exit 0 when it is "
                 "there, 1 when this host has never been calibrated"),
    {0},
};
#undef F

static const struct cli_command machines_cmd = {
    "machines",
    "usage: gilsim machines [--machine FILE] [--machine-set NAME=VALUE,...]\n"
    "       gilsim machines --host-file\n"
    "\n"
    "Lists the parameters of the machine that the virtual engine (gilsim run --engine virtual)\n"
    "models: name, value, unit and meaning. The values are the built-in machine's (the\n"
    "development VM's calibration, workloads/machines/vm-2cpu.json), or those of a\n"
    "gilsim-machine FILE, with the --machine-set overrides applied (docs/virtual.md;\n"
    "tools/calibrate measures this host's into a file and keeps it as this host's).\n",
    machines_opts,
    NULL,
};

/* The wake-up distributions: at each idle time, p5 / p50 / p95 of the latency (and of the
 * waker's cost). */
static void print_dist(const struct mach_dist *d)
{
    if (!d->npoints) return;
    printf("  wake_dist_us       (%u quantiles: every wake-up is drawn from them, instead of the "
           "curve with wake_jitter) idle -> wake-up p5 / p50 / p95%s, us:\n",
           d->np, d->has_signal ? " (the waker's cost p5 / p50 / p95)" : "");
    for (unsigned i = 0; i < d->npoints; i++) {
        printf("                     %g -> %.3g / %.3g / %.3g", d->idle[i],
               mach_dist_quantile(d, i, false, 0.05), mach_dist_quantile(d, i, false, 0.5),
               mach_dist_quantile(d, i, false, 0.95));
        if (d->has_signal)
            printf(" (%.3g / %.3g / %.3g)", mach_dist_quantile(d, i, true, 0.05),
                   mach_dist_quantile(d, i, true, 0.5), mach_dist_quantile(d, i, true, 0.95));
        putchar('\n');
    }
}

int cli_machines(int argc, char **argv)
{
    struct machines_args a = {0};
    int operand, rc = cli_parse_options(&machines_cmd, &a, argc, argv, &operand);
    if (rc) return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (operand != argc)
        return cli_usage_error("machines", "unexpected argument '%s'", argv[operand]);
    struct err e = {0};
    if (a.host_file) {
        char path[4200], shown[4200];
        if (mach_host_calibration_path(path, sizeof path, &e) != 0) return cli_fail(&e);
        printf("%s\n", text_escape(path, shown, sizeof shown));
        return mach_host_calibrated(path, sizeof path) ? 0 : 1;
    }
    struct machine m;
    mach_defaults(&m);
    if (a.file && mach_load(&m, a.file, &e) != 0) return cli_fail(&e);
    for (unsigned i = 0; i < a.sets.n; i++)
        if (mach_set(&m, a.sets.v[i], &e) != 0) return cli_fail(&e);
    char name[256], source[1024]; /* from a machine file: escaped (common/text.h) */
    printf("machine %s (%s)\n", text_escape(m.name, name, sizeof name),
           text_escape(m.source, source, sizeof source));
    for (int i = 0; i < MACH_NPARAMS; i++) {
        const struct mach_param_desc *d = &mach_params[i];
        char value[32];
        snprintf(value, sizeof value, "%g", m.v[i]);
        printf("  %-18s %-9s %-8s %s\n", d->name, value, d->unit, d->doc);
    }
    if (m.ncurve) {
        printf("  wake_curve_us      (replaces wake_warm_us and wake_cold_us%s) idle -> wake-up%s:",
               m.curve_signal ? ", futex_wake_us and futex_wake_cold_us" : "",
               m.curve_signal ? " (the waker's cost)" : "");
        for (unsigned i = 0; i < m.ncurve; i++) {
            printf("%s %g -> %g", i ? "," : "", m.curve[i][0], m.curve[i][1]);
            if (m.curve_signal) printf(" (%g)", m.curve[i][2]);
        }
        printf(" us\n");
    }
    print_dist(&m.dist);
    return 0;
}
