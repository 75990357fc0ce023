/* chunks: reassembles a message from typed, length-prefixed chunks and prints it.
 * Payload: chunks of <type><length: signed 16-bit, little-endian><length bytes>. Type 'd' is
 * data, appended to the message (at most 256 bytes); type 'e' ends the message; another type
 * stops with "unknown chunk type". A chunk longer than the bytes left is "truncated"; one that
 * does not fit in the message is "message too long". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

#define MESSAGE 256

static size_t reassemble(const unsigned char *p, size_t len, char *msg, int *chunks) {
    size_t i = 0, used = 0;
    while (i + 3 <= len) {
        unsigned char type = p[i];
        int n = (int16_t)(p[i + 1] | p[i + 2] << 8);
        i += 3;
        if (type == 'e') break;
        if (type != 'd') { puts("unknown chunk type"); break; }
        if (n > (int)(len - i)) { puts("truncated"); break; }
        if (n > (int)(MESSAGE - used)) { puts("message too long"); break; }
        /*@@SIGN@@*/
        memcpy(msg + used, p + i, n);
        used += n;
        i += n;
        (*chunks)++;
    }
    return used;
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: chunks FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *in = read_container(argv[1], "CHK1", &len);
    char *msg = malloc(MESSAGE + 1);
    int chunks = 0;
    size_t used = reassemble(in, len, msg, &chunks);
    msg[used] = 0;
    for (size_t i = 0; i < used; i++) if (msg[i] < 0x20 || msg[i] > 0x7e) msg[i] = '.';
    printf("%d chunks, %zu bytes: %s\n", chunks, used, msg);
    free(msg);
    free(in);
    return 0;
}
