/* sensor: converts raw sensor readings and prints each converted value.
 * Payload: one reading per line, "CHANNEL RAW" (two decimal numbers; RAW at most 65535).
 * Channels 0-7 exist; channels 0-3 are analog and get their calibration offset added, 4-7 are
 * digital (the raw value as is). A reading for another channel is skipped; other lines are
 * ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    char *text = payload_text(in, len);
    int records = 0, skipped = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned channel, raw;
        if (sscanf(line, "%u %u", &channel, &raw) != 2 || raw > 65535) continue;
        if (channel >= CHANNELS) { skipped++; continue; }
        printf("%s=%d\n", NAMES[channel], convert(channel, raw));
        records++;
    }
    printf("%d records, %d skipped\n", records, skipped);
    free(text);
    free(in);
    return 0;
}
