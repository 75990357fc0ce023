/* frames: checks a stream of framed records and prints each record's header and body sums.
 * Payload: records of <'R'><total length><header length><header bytes ...><body bytes ...>,
 * where both lengths count from the record's first byte: the header is bytes 3 to (header
 * length - 1) of the record, the body the rest of it. A record that does not start with 'R',
 * or whose total length is under 3 or runs past the payload, ends the stream. */
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

static unsigned sum(const unsigned char *p, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += p[i];
    return s;
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: frames FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *in = read_container(argv[1], "FRM1", &len);
    size_t i = 0;
    int records = 0;
    while (i + 3 <= len) {
        if (in[i] != 'R') { puts("bad record tag"); break; }
        size_t total = in[i + 1], hlen = in[i + 2];
        if (total < 3 || total > len - i) { puts("truncated record"); break; }
        /*@@HEADER@@*/
        size_t body = total - hlen;
        unsigned hs = sum(in + i + 3, hlen - 3);
        unsigned bs = sum(in + i + hlen, body);
        printf("record %d: header %zu bytes (sum %u), body %zu bytes (sum %u)\n", ++records,
               hlen - 3, hs, body, bs);
        i += total;
    }
    printf("%d records\n", records);
    free(in);
    return 0;
}
