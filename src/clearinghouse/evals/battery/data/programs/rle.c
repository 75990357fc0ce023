/* rle: decodes run-length records "<count byte><value byte>" into a 64-byte frame. */
#include <string.h>
#include "common.h"
#define FRAME 64
static int decode(const unsigned char *in, size_t len, unsigned char *out) {
    size_t o = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        unsigned count = in[i];
        /*@@BOUND@@*/
        memset(out + o, in[i + 1], count);
        o += count;
    }
    return (int)o;
}
int main(int argc, char **argv) {
    size_t len; unsigned char *in = read_all(argv[1], &len);
    unsigned char *frame = malloc(FRAME);
    int n = decode(in, len, frame);
    unsigned sum = 0;
    for (int i = 0; i < n; i++) sum += frame[i];
    printf("decoded %d bytes, checksum %u\n", n, sum);
    free(frame); free(in); return 0;
}
