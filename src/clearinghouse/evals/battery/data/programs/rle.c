/* rle: decodes a run-length payload into a 64-byte frame and prints a summary.
 * Payload: records of two bytes, <count><value>, each meaning `count` copies of `value`;
 * a trailing odd byte is ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

#define FRAME 64

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
    unsigned char *frame = malloc(FRAME);
    size_t n = decode(in, len, frame);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) sum += frame[i];
    printf("decoded %zu bytes, checksum %u\n", n, sum);
    free(frame);
    free(in);
    return 0;
}
