/* headers: reads "Name: value" header lines (up to 16 names of up to 31 characters) and prints
 * the final value of each, in the order first seen. A header set again replaces its value;
 * blanks after the colon are not part of the value. Lines without ':' are ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

#define HEADERS 16

struct header {
    char name[32];
    char *value;  /* points `skip` bytes into its heap copy */
    size_t skip;
};

static struct header headers[HEADERS];
static int count;

static void set_header(const char *name, const char *raw) {
    struct header *h = NULL;
    for (int i = 0; i < count; i++)
        if (!strcmp(headers[i].name, name)) h = &headers[i];
    if (h) {
        /*@@RELEASE@@*/
    } else {
        if (count == HEADERS) { puts("too many headers"); return; }
        h = &headers[count++];
        strncpy(h->name, name, sizeof h->name - 1);
    }
    char *copy = strdup(raw);
    h->skip = strspn(copy, " \t");
    h->value = copy + h->skip;
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: headers FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *payload = read_container(argv[1], "HDR1", &len);
    char *text = payload_text(payload, len);
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = 0;
        set_header(line, colon + 1);
        lines++;
    }
    for (int i = 0; i < count; i++) {
        printf("%s = [%s]\n", headers[i].name, headers[i].value);
        free(headers[i].value - headers[i].skip);
    }
    printf("%d lines, %d headers\n", lines, count);
    free(text);
    free(payload);
    return 0;
}
