/* common/host.h - facts about the machine gilsim runs on (online CPUs, CPU model, kernel,
 * hostname), for the records that say where a figure was measured: a trace's run.host,
 * gilsim-bench's and gilsim-calibrate's output. */
#ifndef GILSIM_HOST_H
#define GILSIM_HOST_H

#include <jansson.h>

/* {"cpus": N, "cpu_model": "...", "kernel": "sysname release machine", "hostname": "..."}
 * (a new reference; NULL when out of memory). What cannot be found is "unknown". */
json_t *host_info_json(void);

/* A name for this host that stays the same across reboots and differs between hosts: its
 * /etc/machine-id, or, without one, its hostname; only [A-Za-z0-9._-] (a file name). */
void host_id(char *buf, size_t size);

#endif
