/* csv: splits comma-separated rows and prints, per row, its number of fields and the widest.
 * Payload: rows separated by '\n'; a row has at most 8 fields (more is an error for that row);
 * an empty row is skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

#define MAX_FIELDS 8

static int split_fields(char *row, size_t *widths) {
    int nfields = 0;
    char *field = row;
    for (;;) {
        char *comma = strchr(field, ',');
        size_t width = comma ? (size_t)(comma - field) : strlen(field);
        /*@@LIMIT@@*/
        widths[nfields++] = width;
        if (!comma) return nfields;
        field = comma + 1;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: csv FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *payload = read_container(argv[1], "CSV1", &len);
    char *text = payload_text(payload, len);
    size_t *widths = malloc(MAX_FIELDS * sizeof *widths);
    int rows = 0;
    for (char *row = strtok(text, "\n"); row; row = strtok(NULL, "\n")) {
        int n = split_fields(row, widths);
        rows++;
        if (n < 0) { printf("row %d: too many fields\n", rows); continue; }
        size_t widest = 0;
        for (int i = 0; i < n; i++) if (widths[i] > widest) widest = widths[i];
        printf("row %d: %d fields, widest %zu\n", rows, n, widest);
    }
    printf("%d rows\n", rows);
    free(widths);
    free(text);
    free(payload);
    return 0;
}
