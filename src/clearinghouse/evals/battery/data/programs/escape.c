/* escape: prints text quoted in one of two styles.
 * Payload: the style's name on the first line, then the text (the rest of the payload).
 * Style "c": a C string literal: '"' and '\\' are escaped with a backslash, newline, tab and
 * carriage return as \n, \t and \r, every other byte outside 0x20-0x7e as \xNN (two lower-case
 * hex digits). Style "plain": the text in double quotes, each byte outside 0x20-0x7e as '?'.
 * Another style, or no first line, is an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

static const char HEX[] = "0123456789abcdef";

static char *escape(const unsigned char *s, size_t len, size_t *out_len) {
    size_t size = len + 3;  /* the quotes and the NUL */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\' || c == '\n' || c == '\t' || c == '\r') size += 1;
        /*@@SIZE@@*/
    }
    char *out = malloc(size), *o = out;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') { *o++ = '\\'; *o++ = (char)c; }
        else if (c == '\n') { *o++ = '\\'; *o++ = 'n'; }
        else if (c == '\t') { *o++ = '\\'; *o++ = 't'; }
        else if (c == '\r') { *o++ = '\\'; *o++ = 'r'; }
        else if (c < 0x20 || c > 0x7e) { *o++ = '\\'; *o++ = 'x'; *o++ = HEX[c >> 4]; *o++ = HEX[c & 15]; }
        else *o++ = (char)c;
    }
    *o++ = '"';
    *o = 0;
    *out_len = (size_t)(o - out);
    return out;
}

static char *plain(const unsigned char *s, size_t len, size_t *out_len) {
    char *out = malloc(len + 3);
    out[0] = '"';
    for (size_t i = 0; i < len; i++) out[i + 1] = s[i] >= 0x20 && s[i] <= 0x7e ? (char)s[i] : '?';
    out[len + 1] = '"';
    out[len + 2] = 0;
    *out_len = len + 2;
    return out;
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: escape FILE\n", stderr); return 2; }
    size_t len, n;
    unsigned char *in = read_container(argv[1], "ESC1", &len);
    const unsigned char *nl = memchr(in, '\n', len);
    size_t style = nl ? (size_t)(nl - in) : len, rest = nl ? len - style - 1 : 0;
    char *lit;
    if (nl && style == 1 && in[0] == 'c') lit = escape(nl + 1, rest, &n);
    else if (nl && style == 5 && !memcmp(in, "plain", 5)) lit = plain(nl + 1, rest, &n);
    else { puts("unknown style"); free(in); return 1; }
    printf("%s\n%zu bytes in, %zu characters out\n", lit, rest, n);
    free(lit);
    free(in);
    return 0;
}
