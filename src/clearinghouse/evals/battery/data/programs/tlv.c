/* tlv: prints the records of a type-length-value stream.
 * Payload: a four-byte header <version><records><value bytes, 2 bytes little-endian>
 * (version 1; the number of records; the total of their value lengths), then the records, each
 * <type byte><length byte><length value bytes>. A payload whose header is not version 1, or
 * whose size is not 4 + 2 * records + value bytes, is refused before any record is read. */
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

#define VERSION 1

static unsigned parse_records(const unsigned char *p, size_t len, unsigned count, int *records) {
    size_t i = 0;
    unsigned sum = 0;
    while (i + 2 <= len && (unsigned)*records < count) {
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
    if (len < 4 || in[0] != VERSION) { puts("bad header"); free(in); return 1; }
    unsigned count = in[1];
    size_t values = (size_t)in[2] | (size_t)in[3] << 8;
    if (len != 4 + 2 * (size_t)count + values) {
        puts("header does not match the payload size");
        free(in);
        return 1;
    }
    int records = 0;
    unsigned sum = parse_records(in + 4, len - 4, count, &records);
    printf("%d of %u records, checksum %u\n", records, count, sum);
    free(in);
    return 0;
}
