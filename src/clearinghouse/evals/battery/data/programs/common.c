/* The input container of the clearinghouse PoC/patch programs (see common.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

#define MAX_FILE (10 + 65535)

unsigned fnv1a(const unsigned char *data, size_t len) {
    unsigned h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= data[i];
        h *= 16777619u;
    }
    return h;
}

static void reject(const char *why) {
    printf("invalid input: %s\n", why);
    exit(1);
}

unsigned char *read_container(const char *path, const char magic[4], size_t *len) {
    static unsigned char file[MAX_FILE + 1];
    FILE *f = fopen(path, "rb");
    if (!f) { perror("open"); exit(2); }
    size_t n = fread(file, 1, sizeof file, f);
    fclose(f);
    if (n > MAX_FILE) reject("too large");
    if (n < 10 || memcmp(file, magic, 4) != 0) reject("bad magic");
    size_t length = (size_t)file[4] | (size_t)file[5] << 8;
    if (n != 10 + length) reject("bad length");
    const unsigned char *c = file + 6 + length;
    unsigned check = (unsigned)c[0] | (unsigned)c[1] << 8 | (unsigned)c[2] << 16 | (unsigned)c[3] << 24;
    if (check != fnv1a(file + 6, length)) reject("bad checksum");
    unsigned char *payload = malloc(length ? length : 1);
    if (!payload) { perror("malloc"); exit(2); }
    memcpy(payload, file + 6, length);
    *len = length;
    return payload;
}

char *payload_text(const unsigned char *payload, size_t len) {
    char *text = malloc(len + 1);
    if (!text) { perror("malloc"); exit(2); }
    memcpy(text, payload, len);
    text[len] = 0;
    return text;
}
