/* cli/policies.c - `gilsim policies`: every GIL policy of the registry with its parameters. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "policies/registry.h"

static const char policies_help[] =
    "usage: gilsim policies\n"
    "\n"
    "Lists every GIL policy with its parameters: name, default, unit and meaning.\n"
    "Set a parameter for a run with `gilsim run ... --set name=value`.\n";

int cli_policies(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            fputs(policies_help, stdout);
            return 0;
        }
        return cli_usage_error("policies", "unexpected argument '%s'", argv[1]);
    }
    const struct gil_policy *p;
    for (size_t i = 0; (p = gil_policy_at(i)); i++) {
        printf("%-6s %s\n", p->name, p->summary);
        for (const struct gil_param *d = p->params; d->name; d++)
            printf("       %-16s default %-6g %-6s %s\n", d->name, d->def, d->unit, d->doc);
        if (!p->params->name) printf("       (no parameters)\n");
    }
    return 0;
}
