/* tlv: prints the records of a type-length-value stream: 1-byte type, 1-byte length, value. */
#include <string.h>
#include "common.h"
int main(int argc, char **argv) {
    size_t len; unsigned char *in = read_all(argv[1], &len);
    unsigned char *copy = malloc(len ? len : 1);
    memcpy(copy, in, len);
    size_t i = 0; int records = 0; unsigned sum = 0;
    while (i + 2 <= len) {
        unsigned type = copy[i], vlen = copy[i + 1];
        /*@@BOUND@@*/
        for (unsigned j = 0; j < vlen; j++) sum += copy[i + 2 + j];
        printf("record type=%u len=%u\n", type, vlen);
        records++; i += 2 + vlen;
    }
    printf("%d records, checksum %u\n", records, sum);
    free(copy); free(in); return 0;
}
