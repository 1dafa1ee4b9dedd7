/* common/host.c - see host.h. Linux: the CPU model from /proc/cpuinfo. */
#define _GNU_SOURCE /* gethostname, sysconf(_SC_NPROCESSORS_ONLN) */
#include "host.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "text.h"

/* /proc/cpuinfo's first "model name", or "unknown". */
static void host_cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) {
                v += 1 + (v[1] == ' ');
                v[strcspn(v, "\n")] = 0;
                snprintf(buf, size, "%s", v);
            }
            break;
        }
    }
    fclose(f);
}

json_t *host_info_json(void)
{
    char model[256], kernel[300] = "unknown", host[256] = "unknown";
    struct utsname u;
    host_cpu_model(model, sizeof model);
    if (uname(&u) == 0)
        snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release, u.machine);
    gethostname(host, sizeof host - 1);
    /* text_json: the host's strings are not ours, and JSON must be valid UTF-8 */
    return json_pack("{s:i, s:o, s:o, s:o}", "cpus", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
                     "cpu_model", text_json(model), "kernel", text_json(kernel), "hostname",
                     text_json(host));
}

void host_id(char *buf, size_t size)
{
    char id[128] = "";
    FILE *f = fopen("/etc/machine-id", "r");
    if (f) {
        if (!fgets(id, sizeof id, f)) id[0] = 0;
        fclose(f);
    }
    id[strcspn(id, "\n")] = 0;
    if (!id[0] && gethostname(id, sizeof id - 1) != 0) snprintf(id, sizeof id, "unknown");
    id[sizeof id - 1] = 0;
    for (char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-'))
            *p = '_';
    snprintf(buf, size, "%s", id);
}
