/* tests/fuzz/fuzz_workload.c - libFuzzer target for the workload reader: any bytes must give a
 * workload or an error (ERR_INPUT with path:line:col, ERR_RUNTIME out of memory), never a crash,
 * a leak or undefined behaviour. Built by tools/dev/fuzz (clang, -DGILSIM_FUZZ=ON). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/wl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Once as it is, once with a variable set (--var n=3), as `gilsim run --var` reads it. */
static void parse(const uint8_t *data, size_t size, const char *const *assign, size_t nassign)
{
    struct wl_workload *wl = NULL;
    struct err e = {0};
    int rc = wl_parse_vars((const char *)data, size, "fuzz.json", assign, nassign, &wl, &e);
    if (rc == 0) {
        char line[512];
        wl_describe(wl, line, sizeof line);
        wl_free(wl);
    } else if (wl || (rc == ERR_INPUT && strncmp(e.msg, "fuzz.json:", 10) != 0)) {
        abort(); /* an error must name the file (and, for bad input, line and column) */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const assign[] = {"n=3"};
    parse(data, size, NULL, 0);
    parse(data, size, assign, 1);
    return 0;
}
