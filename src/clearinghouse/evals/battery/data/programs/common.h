/* Shared by the clearinghouse PoC/patch programs: read a whole file into memory. */
#include <stdio.h>
#include <stdlib.h>
static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror("open"); exit(2); }
    unsigned char *buf = NULL; size_t cap = 0, n = 0, r;
    do {
        if (n == cap) { cap = cap ? cap * 2 : 256; buf = realloc(buf, cap); }
        r = fread(buf + n, 1, cap - n, f); n += r;
    } while (r > 0);
    fclose(f); *len = n; return buf;
}
