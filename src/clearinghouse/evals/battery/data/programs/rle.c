/* rle: decodes a run-length payload into a 64-byte frame and prints a summary.
 * Payload: a two-byte header <version><records> (version 1; `records` is the number of records
 * that follow), then exactly that many records of two bytes, <count><value>, each meaning
 * `count` copies of `value`. A payload whose header is not version 1, or whose size is not
 * 2 + 2 * records, is refused before anything is decoded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

#define FRAME 64
#define VERSION 1

static size_t decode(const unsigned char *in, size_t len, unsigned char *out) {
    size_t o = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        size_t count = in[i];
        /*@@BOUND@@*/
        memset(out + o, in[i + 1], count);
        o += count;
    }
    return o;
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: rle FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *in = read_container(argv[1], "RLE1", &len);
    if (len < 2 || in[0] != VERSION) { puts("bad header"); free(in); return 1; }
    if (len != 2 + 2 * (size_t)in[1]) { puts("record count does not match"); free(in); return 1; }
    unsigned char *frame = malloc(FRAME);
    size_t n = decode(in + 2, len - 2, frame);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) sum += frame[i];
    printf("decoded %zu bytes from %u records, checksum %u\n", n, in[1], sum);
    free(frame);
    free(in);
    return 0;
}
