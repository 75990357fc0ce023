/* image: inverts a greyscale image and prints the sum of its pixels.
 * Payload: width (2 bytes, little-endian), height (2 bytes), then up to width*height pixel
 * bytes, row by row; missing pixels are black (0). Width and height are 1 to 4096. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

#define MAX_SIDE 4096

static void invert(unsigned char *px, unsigned long total, const unsigned char *src, size_t avail) {
    for (unsigned long i = 0; i < total; i++) px[i] = 255 - (i < avail ? src[i] : 0);
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: image FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *in = read_container(argv[1], "IMG1", &len);
    if (len < 4) { puts("no header"); free(in); return 1; }
    unsigned w = in[0] | in[1] << 8, h = in[2] | in[3] << 8;
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE) { puts("bad size"); free(in); return 1; }
    /*@@SIZE@@*/
    unsigned char *px = malloc(size ? size : 1);
    unsigned long total = (unsigned long)w * h, sum = 0;
    invert(px, total, in + 4, len - 4);
    for (unsigned long i = 0; i < total; i++) sum += px[i];
    printf("image %ux%u, inverted sum %lu\n", w, h, sum);
    free(px);
    free(in);
    return 0;
}
