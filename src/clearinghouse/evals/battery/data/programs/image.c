/* image: reads "W H" (decimal, up to 65535 each) then pixel bytes, and inverts the image. */
#include <stdint.h>
#include <string.h>
#include "common.h"
int main(int argc, char **argv) {
    size_t len; unsigned char *in = read_all(argv[1], &len);
    unsigned w = 0, h = 0; int used = 0;
    in = realloc(in, len + 1); in[len] = 0;
    if (sscanf((char *)in, "%u %u%n", &w, &h, &used) != 2 || w > 65535 || h > 65535) { puts("bad header"); return 1; }
    /*@@SIZE@@*/
    unsigned char *px = malloc(size ? size : 1);
    const unsigned char *src = in + used + 1;
    size_t avail = len > (size_t)used + 1 ? len - used - 1 : 0;
    unsigned long total = (unsigned long)w * h, sum = 0;
    for (unsigned long i = 0; i < total; i++) px[i] = 255 - (i < avail ? src[i] : 0);
    for (unsigned long i = 0; i < total; i++) sum += px[i];
    printf("image %ux%u, inverted sum %lu\n", w, h, sum);
    free(px); free(in); return 0;
}
