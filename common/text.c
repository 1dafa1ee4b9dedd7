/* common/text.c - see text.h. */
#include "text.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jlex.h"

/* Whether the valid UTF-8 character p of n bytes is a bidirectional control: U+061C, U+200E,
 * U+200F, U+202A..U+202E, U+2066..U+2069. They reorder what a terminal or an editor shows
 * after them (a name that reads differently from what it is: CVE-2021-42574). */
static bool bidi_control(const unsigned char *p, size_t n)
{
    if (n == 2) return p[0] == 0xd8 && p[1] == 0x9c;
    if (n != 3 || p[0] != 0xe2) return false;
    if (p[1] == 0x80) return p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae);
    return p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9;
}

/* The character at p (p < end): its length in bytes, 0 when p[0] is not the start of valid
 * UTF-8; *control tells a control character (C0, DEL, C1) or a bidirectional control. */
static size_t char_at(const unsigned char *p, const unsigned char *end, bool *control)
{
    if (p[0] < 0x80) {
        *control = p[0] < 0x20 || p[0] == 0x7f;
        return 1;
    }
    size_t n = jlex_utf8_len(p, end);
    *control = (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) /* U+0080..U+009F */ || bidi_control(p, n);
    return n;
}

/* Calls put(ctx, bytes, n, escape) for each character of s: escape tells a control character or
 * an invalid byte (n is then 1 for an invalid byte). */
static void walk(const char *s, size_t len,
                 void (*put)(void *ctx, const char *p, size_t n, bool escape), void *ctx)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        bool control;
        size_t n = char_at(p, end, &control);
        put(ctx, (const char *)p, n ? n : 1, control || !n);
        p += n ? n : 1;
    }
}

static void put_hex(char *out, const char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        out[4 * i] = '\\', out[4 * i + 1] = 'x', out[4 * i + 2] = hex[c >> 4];
        out[4 * i + 3] = hex[c & 15];
    }
}

/* Text being built: cut where a fixed buffer is full, or grown (text_json). */
struct buf {
    char *p;
    size_t len, size;
    bool grows;         /* realloc as needed */
    bool keep_controls; /* for JSON: only bytes that are not UTF-8 are escaped */
    bool stopped;       /* full, or out of memory */
};

static bool grow(struct buf *b, size_t need)
{
    size_t size = (b->len + need + 1) * 2;
    char *q = realloc(b->p, size);
    if (q) b->p = q, b->size = size;
    return q != NULL;
}

static void buf_put(void *ctx, const char *p, size_t n, bool escape)
{
    struct buf *b = ctx;
    if (b->keep_controls) escape = escape && n == 1 && (unsigned char)p[0] >= 0x80;
    size_t need = escape ? 4 * n : n;
    if (!b->stopped && b->len + need >= b->size) b->stopped = !b->grows || !grow(b, need);
    if (b->stopped) return;
    if (escape)
        put_hex(b->p + b->len, p, n);
    else
        memcpy(b->p + b->len, p, n);
    b->len += need;
}

const char *text_escape(const char *s, char *buf, size_t size)
{
    if (!size) return buf;
    struct buf b = {buf, 0, size, false, false, false};
    walk(s, strlen(s), buf_put, &b);
    buf[b.len] = '\0';
    return buf;
}

static void file_put(void *ctx, const char *p, size_t n, bool escape)
{
    char hex[16];
    if (escape) {
        put_hex(hex, p, n);
        fwrite(hex, 1, 4 * n, ctx);
    } else {
        fwrite(p, 1, n, ctx);
    }
}

void text_put(FILE *f, const char *s)
{
    walk(s, strlen(s), file_put, f);
}

void text_putn(FILE *f, const char *s, size_t n)
{
    walk(s, n, file_put, f);
}

static void json_put(void *ctx, const char *p, size_t n, bool escape)
{
    FILE *f = ctx;
    unsigned char c = (unsigned char)p[0];
    if (!escape || (n == 1 && c >= 0x80)) { /* kept, or an invalid byte: the text \xNN */
        if (c == '"' || c == '\\') fputc('\\', f);
        if (escape)
            fprintf(f, "\\\\x%02x", c);
        else
            fwrite(p, 1, n, f);
    } else if (n == 1) { /* C0 or DEL */
        fprintf(f, "\\u%04x", c);
    } else if (n == 2) { /* C1, U+061C: valid UTF-8, JSON allows them raw; escaped so a
                          * terminal never sees them */
        fprintf(f, "\\u%04x", ((c & 0x1f) << 6) | ((unsigned char)p[1] & 0x3f));
    } else { /* the other bidirectional controls: three bytes */
        fprintf(f, "\\u%04x",
                ((c & 0x0f) << 12) | (((unsigned char)p[1] & 0x3f) << 6) |
                    ((unsigned char)p[2] & 0x3f));
    }
}

void text_put_json(FILE *f, const char *s)
{
    fputc('"', f);
    walk(s, strlen(s), json_put, f);
    fputc('"', f);
}

json_t *text_json(const char *s)
{
    struct buf b = {NULL, 0, 0, true, true, false};
    if (!grow(&b, 0)) return NULL;
    walk(s, strlen(s), buf_put, &b);
    json_t *v = b.stopped ? NULL : json_stringn(b.p, b.len);
    free(b.p);
    return v;
}

bool text_is_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    while (p < end) {
        bool control;
        size_t n = char_at(p, end, &control);
        if (!n) return false;
        p += n;
    }
    return true;
}

size_t text_utf8_cut(const char *s, size_t n)
{
    size_t i = n; /* a cut before s[i] is on a boundary unless s[i] continues a character */
    while (i > 0 && n - i < 3 && ((unsigned char)s[i] & 0xc0) == 0x80)
        i--;
    return ((unsigned char)s[i] & 0xc0) == 0x80 ? n : i;
}
