/* A raw image loader: "PIMG", width (u32 LE), height (u32 LE), channels (u8: 1, 3 or 4), then
 * the pixels, row by row.
 *
 * Fixed: the size is computed in size_t with an overflow check, and capped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct image {
    uint32_t width, height;
    uint8_t channels;
    uint8_t *pixels;
};

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t decode_pixels(struct image *img, FILE *fp) {
    size_t done = 0;
    int c;
    for (uint32_t y = 0; y < img->height; y++)
        for (uint32_t x = 0; x < img->width * img->channels; x++) {
            if ((c = fgetc(fp)) == EOF)
                return done;
            img->pixels[(size_t)y * img->width * img->channels + x] = (uint8_t)c;
            done++;
        }
    return done;
}

static int load_image(FILE *fp, struct image *img) {
    unsigned char hdr[13];
    if (fread(hdr, 1, sizeof hdr, fp) != sizeof hdr || memcmp(hdr, "PIMG", 4) != 0)
        return -1;
    img->width = le32(hdr + 4);
    img->height = le32(hdr + 8);
    img->channels = hdr[12];
    if (img->width == 0 || img->height == 0)
        return -1;
    if (img->channels != 1 && img->channels != 3 && img->channels != 4)
        return -1;
    size_t size;
    if (__builtin_mul_overflow((size_t)img->width, (size_t)img->height, &size) ||
        __builtin_mul_overflow(size, (size_t)img->channels, &size) || size > (64u << 20))
        return -1;
    img->pixels = malloc(size);
    if (img->pixels == NULL)
        return -1;
    size_t got = decode_pixels(img, fp);
    printf("%ux%u x%u: %zu bytes of pixels\n", img->width, img->height, img->channels, got);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    FILE *fp = fopen(argv[1], "rb");
    if (fp == NULL)
        return 2;
    struct image img = {0};
    int rc = load_image(fp, &img);
    fclose(fp);
    if (rc != 0) {
        puts("rejected");
        return 1;
    }
    free(img.pixels);
    return 0;
}
