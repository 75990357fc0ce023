/* escape: prints its payload as a C string literal.
 * '"' and '\\' are escaped with a backslash, newline, tab and carriage return as \n, \t and \r,
 * and every other byte outside 0x20-0x7e as \xNN (two lower-case hex digits). */
#include <stdio.h>
#include <stdlib.h>
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

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: escape FILE\n", stderr); return 2; }
    size_t len, n;
    unsigned char *in = read_container(argv[1], "ESC1", &len);
    char *lit = escape(in, len, &n);
    printf("%s\n%zu bytes in, %zu characters out\n", lit, len, n);
    free(lit);
    free(in);
    return 0;
}
