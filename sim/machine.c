/* sim/machine.c - see machine.h. Everything per parameter is generated from MACH_PARAM_TABLE:
 * the descriptions, the model's fields and their conversion; machine files are read with the
 * toolkit of common/jcheck.h. */
#include "machine.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/host.h"
#include "../common/jcheck.h"
#include "machine_dist.h"

#define MACH_MAX_FILE_BYTES (1u << 20)

#define MACH_X_DESC(field, kind, unit, min, max, drops, doc)                                       \
    [MACH_##field] = {MACH_NAME_##kind(field), unit, min, max, MACH_INTEGER_##kind,                \
                      MACH_DROPS_##drops,      doc},
const struct mach_param_desc mach_params[MACH_NPARAMS] = {MACH_PARAM_TABLE(MACH_X_DESC)};
#undef MACH_X_DESC

static int find_param(const char *name, size_t len)
{
    for (int i = 0; i < MACH_NPARAMS; i++)
        if (strlen(mach_params[i].name) == len && memcmp(mach_params[i].name, name, len) == 0)
            return i;
    return -1;
}

static void param_list(char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < MACH_NPARAMS && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", mach_params[i].name);
}

/* ---- machine files -------------------------------------------------------------------------- */

#define CURVE_KEY "wake_curve_us"

/* One point of the wake-up curve: [idle_us, wake_us] or [idle_us, wake_us, signal_us], idle
 * above the previous point's. */
static int parse_point(struct jc_ctx *c, json_t *pt, size_t i, struct machine *m)
{
    int rc = jc_push_index(c, i);
    if (rc) return rc;
    double idle = NAN, wake = NAN, signal = NAN;
    size_t n = json_array_size(pt);
    if (json_is_array(pt) && (n == 2 || n == 3)) {
        idle = json_number_value(json_array_get(pt, 0));
        wake = json_number_value(json_array_get(pt, 1));
        for (size_t k = 0; k < n; k++)
            if (!json_is_number(json_array_get(pt, k))) idle = NAN;
        if (n == 3) {
            signal = json_number_value(json_array_get(pt, 2));
            if (!(signal >= 0 && signal <= 1e6)) idle = NAN;
        }
    }
    if (!(idle >= 0 && idle <= 1e8 && wake >= 0 && wake <= 1e6))
        rc = jc_fail(c, "expected [idle_us, wake_us] or [idle_us, wake_us, signal_us]: numbers, "
                        "idle in [0, 1e8], wake and signal in [0, 1e6] microseconds");
    else if (i > 0 && idle <= m->curve[i - 1][0])
        rc = jc_fail(c, "expected an idle time above the previous point's (%g us), got %g",
                     m->curve[i - 1][0], idle);
    if (!rc) {
        m->curve[i][0] = idle;
        m->curve[i][1] = wake;
        m->curve[i][2] = signal;
    }
    jc_pop(c);
    return rc;
}

static int parse_curve(struct jc_ctx *c, json_t *arr, struct machine *m)
{
    int rc = jc_push_key(c, CURVE_KEY);
    if (rc) return rc;
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n < 2 || n > MACH_MAX_CURVE)
        rc = jc_fail(c, "expected an array of 2 to %d points [idle_us, wake_us(, signal_us)]",
                     MACH_MAX_CURVE);
    bool signal = true;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = parse_point(c, json_array_get(arr, i), i, m);
        signal = signal && !isnan(m->curve[i][2]);
    }
    if (!rc) {
        m->ncurve = (unsigned)n;
        m->curve_signal = signal;
    }
    jc_pop(c);
    return rc;
}

/* What a parameter set by name takes from the machine it changes (--machine-set, or a file
 * without a curve of its own). */
static void apply_drops(struct machine *m, const struct mach_param_desc *d)
{
    if (d->drops == MACH_DROPS_CURVE) m->ncurve = m->dist.npoints = 0;
    if (d->drops == MACH_DROPS_SIGNAL) m->curve_signal = m->dist.has_signal = false;
    if (d->drops == MACH_DROPS_DIST) m->dist.npoints = 0;
}

static int parse_params(struct jc_ctx *c, json_t *params, struct machine *m)
{
    int rc = jc_want_object(c, params, "the machine's parameters");
    if (rc) return rc;
    /* the machine read over keeps its curve unless the file's values replace it, and its
     * distributions unless the file has a curve of its own (they belong to the other curve) */
    bool curve = json_object_get(params, CURVE_KEY) != NULL,
         dist = json_object_get(params, MACH_DIST_KEY) != NULL;
    if (!curve) {
        for (int i = 0; i < MACH_NPARAMS; i++)
            if (json_object_get(params, mach_params[i].name)) apply_drops(m, &mach_params[i]);
    } else if (!dist) {
        m->dist.npoints = 0;
    }
    if (dist && !curve)
        return jc_fail_key(c, MACH_DIST_KEY, true,
                           "expected " CURVE_KEY " beside it (its medians: the curve the "
                           "distributions spread)");
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v)
    {
        if (rc) break;
        if (strcmp(key, CURVE_KEY) == 0 || strcmp(key, MACH_DIST_KEY) == 0) {
            rc = strcmp(key, CURVE_KEY) == 0 ? parse_curve(c, v, m)
                                             : mach_dist_parse(c, v, &m->dist);
            continue;
        }
        int i = find_param(key, strlen(key));
        if (i < 0) {
            char list[512];
            param_list(list, sizeof list);
            return jc_fail_key(c, key, true,
                               "unknown machine parameter \"%s\"; expected " CURVE_KEY
                               ", " MACH_DIST_KEY " or one of: %s",
                               key, list);
        }
        const struct mach_param_desc *d = &mach_params[i];
        if (d->integer) {
            int64_t n = 0;
            rc =
                jc_get_integer(c, params, key, true, (int64_t)d->min, (int64_t)d->max, d->unit, &n);
            m->v[i] = (double)n;
        } else {
            rc = jc_get_number(c, params, key, true, d->min, d->max, d->unit, &m->v[i]);
        }
    }
    return rc;
}

static int parse_machine(struct jc_ctx *c, json_t *root, struct machine *m)
{
    static const char *const keys[] = {"format",   "version", "name", "description",
                                       "measured", "params",  NULL};
    int rc = jc_check_document(c, root, "gilsim-machine", keys, JC_FORMAT_AS_NAME);
    if (rc) return rc;
    char *name = NULL, *description = NULL;
    rc = jc_get_string(c, root, "name", true, true, &name);
    if (!rc) rc = jc_get_string(c, root, "description", false, false, &description);
    if (!rc) snprintf(m->name, sizeof m->name, "%s", name);
    free(name);
    free(description);
    if (rc) return rc;
    json_t *measured = json_object_get(root, "measured");
    if (measured && !json_is_object(measured))
        return jc_fail_key(c, "measured", false,
                           "expected an object (how and when the values were measured)");
    json_t *params = json_object_get(root, "params");
    if (!params) return jc_fail(c, "missing field \"params\" (an object of machine parameters)");
    if ((rc = jc_push_key(c, "params"))) return rc;
    rc = parse_params(c, params, m);
    jc_pop(c);
    return rc;
}

/* A machine file's text over m; path names it in messages. */
static int load_text(struct machine *m, const char *path, const char *text, size_t len,
                     struct err *e)
{
    struct jc_ctx c = {.path = path, .text = text, .len = len, .e = e};
    json_t *root = NULL;
    struct machine next = *m;
    int rc;
    if (!(rc = jc_parse(&c, &root)) && !(rc = parse_machine(&c, root, &next))) {
        *m = next;
        m->builtin = false;
        snprintf(m->source, sizeof m->source, "%s", path);
    }
    json_decref(root);
    return rc;
}

int mach_load(struct machine *m, const char *path, struct err *e)
{
    char *text = NULL;
    size_t len = 0;
    int rc = jc_read_file(path, MACH_MAX_FILE_BYTES, "machine file", &text, &len, e);
    if (rc) return rc;
    rc = load_text(m, path, text, len, e);
    free(text);
    return rc;
}

/* ---- the built-in machine ------------------------------------------------------------------- */

/* Generated by CMakeLists.txt (machine_default.c in the build tree): the shipped file's bytes. */
extern const char mach_default_path[];
extern const unsigned char mach_default_bytes[];
extern const size_t mach_default_len;

static struct machine builtin;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

/* Every parameter must come from the file: a parameter the file lacks would have no value. */
static void load_builtin(void)
{
    struct err e = {0};
    for (int i = 0; i < MACH_NPARAMS; i++)
        builtin.v[i] = NAN;
    int rc = load_text(&builtin, mach_default_path, (const char *)mach_default_bytes,
                       mach_default_len, &e);
    for (int i = 0; !rc && i < MACH_NPARAMS; i++)
        if (isnan(builtin.v[i]))
            rc = err_set(&e, ERR_INPUT, "%s: no value for %s", mach_default_path,
                         mach_params[i].name);
    if (rc) {
        /* A build defect (tests/test_virtual.c loads it), not an input error. */
        fprintf(stderr, "gilsim: the built-in machine does not load: %s\n", e.msg);
        abort();
    }
    builtin.builtin = true;
    snprintf(builtin.source, sizeof builtin.source, "built in (%s)", mach_default_path);
}

void mach_defaults(struct machine *m)
{
    pthread_once(&builtin_once, load_builtin);
    *m = builtin;
}

/* ---- this host's calibration ---------------------------------------------------------------- */

int mach_host_calibration_path(char *buf, size_t size, struct err *e)
{
    const char *dir = getenv("GILSIM_MACHINES_DIR"), *data = getenv("XDG_DATA_HOME"),
               *home = getenv("HOME");
    char id[128];
    host_id(id, sizeof id);
    int n;
    if (dir && *dir)
        n = snprintf(buf, size, "%s/%s.json", dir, id);
    else if (data && *data)
        n = snprintf(buf, size, "%s/gilsim/machines/%s.json", data, id);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.local/share/gilsim/machines/%s.json", home, id);
    else
        return err_set(e, ERR_RUNTIME,
                       "no directory for this host's calibration: set GILSIM_MACHINES_DIR or HOME");
    if (n < 0 || (size_t)n >= size)
        return err_set(e, ERR_RUNTIME, "the path of this host's calibration is too long");
    return 0;
}

bool mach_host_calibrated(char *path, size_t size)
{
    struct err e = {0};
    return mach_host_calibration_path(path, size, &e) == 0 && access(path, R_OK) == 0;
}

/* ---- --machine-set -------------------------------------------------------------------------- */

static int set_one(struct machine *m, const char *item, size_t len, struct err *e)
{
    const char *eq = memchr(item, '=', len);
    if (!eq)
        return err_set(e, ERR_INPUT, "--machine-set %.*s: expected name=value", (int)len, item);
    int i = find_param(item, (size_t)(eq - item));
    if (i < 0) {
        char list[512];
        param_list(list, sizeof list);
        return err_set(e, ERR_INPUT, "--machine-set %.*s: no such machine parameter (have: %s)",
                       (int)(eq - item), item, list);
    }
    const struct mach_param_desc *d = &mach_params[i];
    char value[64];
    size_t vlen = len - (size_t)(eq + 1 - item);
    if (vlen == 0 || vlen >= sizeof value)
        return err_set(e, ERR_INPUT, "--machine-set %s: expected a number of %s", d->name, d->unit);
    memcpy(value, eq + 1, vlen);
    value[vlen] = 0;
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (*end || errno || !isfinite(v) || (d->integer && v != floor(v)))
        return err_set(e, ERR_INPUT, "--machine-set %s=%s: expected %s number of %s", d->name,
                       value, d->integer ? "an integer" : "a", d->unit);
    if (v < d->min || v > d->max)
        return err_set(e, ERR_INPUT, "--machine-set %s=%s: expected a value in [%g, %g] %s",
                       d->name, value, d->min, d->max, d->unit);
    m->v[i] = v;
    apply_drops(m, d); /* a value asked for by name replaces what the curve said about it */
    return 0;
}

int mach_set(struct machine *m, const char *assignments, struct err *e)
{
    struct machine next = *m;
    const char *p = assignments;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int rc = set_one(&next, p, len, e);
        if (rc) return rc;
        if (!comma) break;
        p = comma + 1;
    }
    *m = next;
    return 0;
}

/* ---- use ------------------------------------------------------------------------------------ */

static int64_t us_to_ns(double us)
{
    return (int64_t)llround(us * 1000.0);
}

/* One parameter's value into its model field, by kind (MACH_FIELD_<kind>). */
#define MACH_CONVERT_US(out, field, v)       (out)->field##_ns = us_to_ns(v);
#define MACH_CONVERT_COUNT(out, field, v)    (out)->field = (unsigned)(v);
#define MACH_CONVERT_FLAG(out, field, v)     (out)->field = (v) != 0;
#define MACH_CONVERT_FRACTION(out, field, v) (out)->field = (v);
#define MACH_X_CONVERT(field, kind, unit, min, max, drops, doc)                                    \
    MACH_CONVERT_##kind(out, field, m->v[MACH_##field])

void mach_model_of(const struct machine *m, struct mach_model *out)
{
    MACH_PARAM_TABLE(MACH_X_CONVERT)
    out->ncurve = m->ncurve;
    for (unsigned i = 0; i < m->ncurve; i++) {
        out->curve_idle_ns[i] = us_to_ns(m->curve[i][0]);
        out->curve_wake_ns[i] = us_to_ns(m->curve[i][1]);
        out->curve_signal_ns[i] = m->curve_signal ? us_to_ns(m->curve[i][2]) : 0;
    }
    out->curve_signal = m->ncurve && m->curve_signal;
    mach_dist_to_ns(&m->dist, &out->dist);
}
#undef MACH_X_CONVERT

/* The curve's values (ys) at idle_ns: linear between its points, flat beyond its ends. */
static int64_t on_curve(const struct mach_model *m, const int64_t *ys, int64_t idle_ns)
{
    if (idle_ns <= m->curve_idle_ns[0]) return ys[0];
    for (unsigned i = 1; i < m->ncurve; i++)
        if (idle_ns <= m->curve_idle_ns[i]) {
            double f = (double)(idle_ns - m->curve_idle_ns[i - 1]) /
                       (double)(m->curve_idle_ns[i] - m->curve_idle_ns[i - 1]);
            return ys[i - 1] + llround(f * (double)(ys[i] - ys[i - 1]));
        }
    return ys[m->ncurve - 1];
}

int64_t mach_wake_latency(const struct mach_model *m, int64_t idle_ns)
{
    if (m->ncurve == 0) return idle_ns <= m->idle_poll_ns ? m->wake_warm_ns : m->wake_cold_ns;
    return on_curve(m, m->curve_wake_ns, idle_ns);
}

int64_t mach_wake_cost(const struct mach_model *m, int64_t idle_ns)
{
    if (m->curve_signal) return on_curve(m, m->curve_signal_ns, idle_ns);
    return idle_ns <= m->idle_poll_ns ? m->futex_wake_ns : m->futex_wake_cold_ns;
}

json_t *mach_to_json(const struct machine *m)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = json_object_set_new(o, "name", json_string(m->name));
    bad |= json_object_set_new(o, "source", json_string(m->source));
    for (int i = 0; i < MACH_NPARAMS; i++) {
        const struct mach_param_desc *d = &mach_params[i];
        bad |= json_object_set_new(
            o, d->name, d->integer ? json_integer((json_int_t)m->v[i]) : json_real(m->v[i]));
    }
    if (m->ncurve) {
        json_t *curve = json_array();
        for (unsigned i = 0; curve && i < m->ncurve; i++)
            bad |= json_array_append_new(
                curve, m->curve_signal
                           ? json_pack("[f, f, f]", m->curve[i][0], m->curve[i][1], m->curve[i][2])
                           : json_pack("[f, f]", m->curve[i][0], m->curve[i][1]));
        bad |= json_object_set_new(o, CURVE_KEY, curve);
    }
    if (m->dist.npoints) bad |= json_object_set_new(o, MACH_DIST_KEY, mach_dist_json(&m->dist));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
