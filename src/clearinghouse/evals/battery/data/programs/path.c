/* path: normalises a '/'-separated path and prints it with its depth.
 * Payload: the path. Empty components and "." are skipped, ".." drops the last kept component
 * (never above the root); at most 8 components are kept, each a name of at most 15 characters.
 * A component "~USER" names USER's directory and is kept as "home.USER". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

#define DEPTH 8
#define NAME 16

static char kept[DEPTH][NAME];
static int depth;

static int push_component(const unsigned char *s, size_t n) {
    char name[NAME];
    size_t used = n;
    if (n >= NAME) { puts("name too long"); return -1; }
    if (n > 1 && s[0] == '~') {
        /*@@LENGTH@@*/
        memcpy(name, "home.", 5);
        memcpy(name + 5, s + 1, n - 1);
        used = n + 4;
    } else {
        memcpy(name, s, n);
    }
    name[used] = 0;
    if (n == 0 || !strcmp(name, ".")) return 0;
    if (!strcmp(name, "..")) { if (depth) depth--; return 0; }
    if (depth == DEPTH) { puts("too deep"); return -1; }
    strcpy(kept[depth++], name);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: path FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *in = read_container(argv[1], "PTH1", &len);
    size_t start = 0;
    int status = 0;
    for (size_t i = 0; i <= len && !status; i++) {
        if (i < len && in[i] != '/') continue;
        status = push_component(in + start, i - start);
        start = i + 1;
    }
    if (!status) {
        if (!depth) putchar('/');
        for (int d = 0; d < depth; d++) printf("/%s", kept[d]);
        printf("\ndepth %d\n", depth);
    }
    free(in);
    return status ? 1 : 0;
}
