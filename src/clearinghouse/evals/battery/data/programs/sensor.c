/* sensor: converts raw sensor readings and prints each converted value.
 * Payload: records of 3 bytes, <channel><raw value: 16-bit little-endian>. Channels 0-7 exist;
 * channels 0-3 are analog and get their calibration offset added, 4-7 are digital (the raw
 * value as is). A record for another channel is skipped; a trailing partial record is ignored. */
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

#define CHANNELS 8
#define ANALOG 4

static const char *const NAMES[CHANNELS] = {"temp", "humidity", "pressure", "light",
                                            "door", "window", "motion", "smoke"};
static int offsets[ANALOG] = {-40, 0, 900, 0};

static int convert(unsigned channel, unsigned raw) {
    int value = (int)raw;
    /*@@ANALOG@@*/
    return value;
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: sensor FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *in = read_container(argv[1], "SNS1", &len);
    int records = 0, skipped = 0;
    for (size_t i = 0; i + 3 <= len; i += 3) {
        unsigned channel = in[i], raw = in[i + 1] | in[i + 2] << 8;
        if (channel >= CHANNELS) { skipped++; continue; }
        printf("%s=%d\n", NAMES[channel], convert(channel, raw));
        records++;
    }
    printf("%d records, %d skipped\n", records, skipped);
    free(in);
    return 0;
}
