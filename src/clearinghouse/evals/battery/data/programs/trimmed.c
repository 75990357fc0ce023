/* trimmed: prints the trimmed mean of each group of samples (the mean once the smallest and the
 * largest sample are left out), in integer arithmetic.
 * Payload: one command per line:
 *   group NAME   start a new group (up to 64 samples each; more are ignored)
 *   NUMBER       add a sample (a decimal integer) to the current group
 *   mean         print the current group's trimmed mean
 * Other lines, and samples before the first group, are ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

#define SAMPLES 64

static long samples[SAMPLES];
static int n;
static char group[32];

static void trimmed_mean(void) {
    long sum = 0, lo = samples[0], hi = samples[0];
    /*@@ENOUGH@@*/
    for (int i = 0; i < n; i++) {
        sum += samples[i];
        if (samples[i] < lo) lo = samples[i];
        if (samples[i] > hi) hi = samples[i];
    }
    printf("%s: trimmed mean %ld of %d samples\n", group, (sum - lo - hi) / (n - 2), n);
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: trimmed FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *payload = read_container(argv[1], "TRM1", &len);
    char *text = payload_text(payload, len);
    int groups = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "group ", 6)) {
            snprintf(group, sizeof group, "%s", line + 6);
            n = 0;
            groups++;
        } else if (!groups) {
            continue;
        } else if (!strcmp(line, "mean")) {
            trimmed_mean();
        } else if (((line[0] >= '0' && line[0] <= '9') || line[0] == '-') && n < SAMPLES) {
            samples[n++] = strtol(line, NULL, 10);
        }
    }
    printf("%d groups\n", groups);
    free(text);
    free(payload);
    return 0;
}
