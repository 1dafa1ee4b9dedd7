/* cli/commands.h - the commands of gilsim, one file each; cli/main.c dispatches to them. Each
 * takes the arguments after `gilsim` (argv[0] is the command's name) and returns the exit
 * status. */
#ifndef GILSIM_COMMANDS_H
#define GILSIM_COMMANDS_H

int cli_policies(int argc, char **argv); /* cli/policies.c */
int cli_check(int argc, char **argv);    /* cli/check.c */
int cli_run(int argc, char **argv);      /* cli/run.c */
int cli_summary(int argc, char **argv);  /* cli/summary.c */
int cli_compare(int argc, char **argv);  /* cli/compare.c */
int cli_export(int argc, char **argv);   /* cli/export.c */
int cli_report(int argc, char **argv);   /* cli/report.c */
int cli_machines(int argc, char **argv); /* cli/machines.c */
int cli_record(int argc, char **argv);   /* cli/record.c */
int cli_model(int argc, char **argv);    /* cli/model.c */

#endif
