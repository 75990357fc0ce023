/* A chunked container: "CHNK", a chunk count (u8), then for each chunk an offset and a size
 * (both i32 little-endian) into the payload that follows the table. A chunk is valid when it
 * ends inside the payload.
 *
 * The bug: chunk_end() adds offset and size as signed 32-bit integers. A large size overflows
 * (undefined behaviour, CWE-190); in practice it wraps negative and passes the bounds check
 * `end <= payload`, so the chunk is accepted. UndefinedBehaviorSanitizer reports the overflow. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int32_t le32(const unsigned char *p) {
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

static int chunk_end(int32_t offset, int32_t size, int32_t *end) {
    if (offset < 0 || size < 0)
        return -1;
    *end = offset + size; /* BUG: signed overflow */
    return 0;
}

static int check_chunks(const unsigned char *in, size_t n) {
    if (n < 5 || memcmp(in, "CHNK", 4) != 0)
        return -1;
    size_t count = in[4], table = 5 + 8 * count;
    if (table > n)
        return -1;
    int32_t payload = (int32_t)(n - table), end;
    for (size_t i = 0; i < count; i++) {
        const unsigned char *entry = in + 5 + 8 * i;
        if (chunk_end(le32(entry), le32(entry + 4), &end) != 0 || end > payload)
            return -1;
        printf("chunk %zu ends at %d of %d\n", i, end, payload);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    unsigned char in[4096];
    FILE *fp = fopen(argv[1], "rb");
    if (fp == NULL)
        return 2;
    size_t n = fread(in, 1, sizeof in, fp);
    fclose(fp);
    if (check_chunks(in, n) != 0) {
        puts("rejected");
        return 1;
    }
    puts("accepted");
    return 0;
}
