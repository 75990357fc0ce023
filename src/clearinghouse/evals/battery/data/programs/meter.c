/* meter: totals meter readings, one command per line of the payload:
 *   unit NAME   the unit of the readings that follow: one of the known units (kWh, m3, l, kg),
 *               or "custom:NAME" for another (up to 15 characters are kept)
 *   NUMBER      a reading (a decimal integer) in the current unit
 *   total       print the sum of the readings and the current unit
 * Other lines are ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

static const char *const KNOWN[] = {"kWh", "m3", "l", "kg"};

static void print_total(long sum, const char *unit) {
    char shown[16];
    size_t n = 0;
    while (unit[n] && n < sizeof shown - 1) { shown[n] = unit[n]; n++; }
    shown[n] = 0;
    printf("total %ld %s\n", sum, shown);
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: meter FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *payload = read_container(argv[1], "MTR1", &len);
    char *text = payload_text(payload, len);
    static char saved[16];  /* a custom unit's name */
    const char *unit = "none";
    long sum = 0;
    int readings = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "unit ", 5)) {
            const char *name = line + 5;
            unit = "none";
            for (size_t k = 0; k < sizeof KNOWN / sizeof *KNOWN; k++)
                if (!strcmp(name, KNOWN[k])) unit = KNOWN[k];
            if (!strncmp(name, "custom:", 7)) {
                char custom[16];
                snprintf(custom, sizeof custom, "%s", name + 7);
                /*@@KEEP@@*/
            }
        } else if (!strcmp(line, "total")) {
            print_total(sum, unit);
        } else if ((line[0] >= '0' && line[0] <= '9') || line[0] == '-') {
            sum += strtol(line, NULL, 10);
            readings++;
        }
    }
    printf("%d readings\n", readings);
    free(text);
    free(payload);
    return 0;
}
