/* A record file reader: "REC1", a record count, then records of
 * (type: u8, length: u16 big-endian, bytes). Type 1 is a name (at most 16 bytes), type 2 a
 * comment (at most 64 bytes). Each field is stored NUL-terminated in a buffer of its size.
 *
 * Fixed: a value must leave room for the terminating NUL. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct field {
    char *buf;
    size_t cap;
};

static int store_field(struct field *f, const unsigned char *data, size_t len) {
    if (len >= f->cap) /* room for the terminating NUL */
        return -1;
    memcpy(f->buf, data, len);
    f->buf[len] = '\0';
    return 0;
}

static int parse_records(const unsigned char *in, size_t n, struct field *name,
                         struct field *comment) {
    if (n < 5 || memcmp(in, "REC1", 4) != 0)
        return -1;
    size_t count = in[4], pos = 5;
    for (size_t i = 0; i < count; i++) {
        if (pos + 3 > n)
            return -1;
        unsigned type = in[pos];
        size_t len = ((size_t)in[pos + 1] << 8) | in[pos + 2];
        pos += 3;
        if (pos + len > n)
            return -1;
        struct field *f = type == 1 ? name : type == 2 ? comment : NULL;
        if (f == NULL || store_field(f, in + pos, len) != 0)
            return -1;
        pos += len;
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
    struct field name = {malloc(16), 16}, comment = {malloc(64), 64};
    name.buf[0] = comment.buf[0] = '\0';
    if (parse_records(in, n, &name, &comment) != 0) {
        puts("rejected");
        return 1;
    }
    printf("name=%s comment=%s\n", name.buf, comment.buf);
    free(name.buf);
    free(comment.buf);
    return 0;
}
