/* common/text.h - untrusted text on its way out: names, descriptions, keys and paths that come
 * from files or command lines, written to a terminal, a text file or JSON. One convention
 * everywhere: a byte of a control character (C0, DEL, a C1 character U+0080..U+009F, or a
 * bidirectional control: U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) or a byte
 * that is not part of valid UTF-8 is written as the four characters \xNN; other valid UTF-8
 * stays as it is. So an escape sequence in a thread name cannot clear a screen or set a window
 * title, a bidirectional override cannot make a name read as something else, and every string
 * written as JSON is valid UTF-8. */
#ifndef GILSIM_TEXT_H
#define GILSIM_TEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* s with control characters and invalid bytes escaped, into buf; cut on a character boundary
 * when it does not fit, always terminated. Returns buf. */
const char *text_escape(const char *s, char *buf, size_t size);
/* The same, written to f; text_putn for the first n bytes of s. */
void text_put(FILE *f, const char *s);
void text_putn(FILE *f, const char *s, size_t n);
/* s as a JSON string literal, quotes included, written to f: valid UTF-8 kept, '"', '\\' and
 * control characters escaped as JSON requires, other bytes as \\xNN (the text \xNN). */
void text_put_json(FILE *f, const char *s);
/* s as a new jansson string (invalid bytes as the text \xNN); NULL only when out of memory. */
json_t *text_json(const char *s);
/* Whether s is valid UTF-8 (control characters allowed). */
bool text_is_utf8(const char *s);
/* Where to cut s to at most n bytes (n <= strlen(s)) on a character boundary: the largest
 * i <= n such that s[i] does not continue a UTF-8 character. */
size_t text_utf8_cut(const char *s, size_t n);

#endif
