/* tlv: prints the records of a type-length-value stream.
 * Payload: records of <type byte><length byte><length value bytes>. */
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

static unsigned parse_records(const unsigned char *p, size_t len, int *records) {
    size_t i = 0;
    unsigned sum = 0;
    while (i + 2 <= len) {
        unsigned type = p[i], vlen = p[i + 1];
        /*@@BOUND@@*/
        for (unsigned j = 0; j < vlen; j++) sum += p[i + 2 + j];
        printf("record type=%u len=%u\n", type, vlen);
        (*records)++;
        i += 2 + vlen;
    }
    return sum;
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: tlv FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *in = read_container(argv[1], "TLV1", &len);
    int records = 0;
    unsigned sum = parse_records(in, len, &records);
    printf("%d records, checksum %u\n", records, sum);
    free(in);
    return 0;
}
