/* logger: a transactional audit log driven by commands, one per line of the payload:
 *   BEGIN TEXT   open an entry holding TEXT (an entry still open is discarded first)
 *   APPEND TEXT  add " TEXT" to the open entry
 *   COMMIT       print the open entry, numbered, and close it
 *   ABORT        discard the open entry
 * Other lines are ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

static char *pending;
static int open_entry, committed;

static void begin_entry(const char *text) {
    if (pending) free(pending);
    pending = strdup(text);
    open_entry = 1;
}

static void append_entry(const char *text) {
    if (!open_entry) { puts("no open entry"); return; }
    size_t have = strlen(pending), more = strlen(text);
    pending = realloc(pending, have + more + 2);
    pending[have] = ' ';
    memcpy(pending + have + 1, text, more + 1);
}

static void commit_entry(void) {
    if (!open_entry) { puts("no open entry"); return; }
    printf("%d: %s\n", ++committed, pending);
    free(pending);
    pending = NULL;
    open_entry = 0;
}

static void abort_entry(void) {
    if (!open_entry) { puts("no open entry"); return; }
    free(pending);
    /*@@FORGET@@*/
    open_entry = 0;
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: logger FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *payload = read_container(argv[1], "LOG1", &len);
    char *text = payload_text(payload, len);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "BEGIN ", 6)) begin_entry(line + 6);
        else if (!strncmp(line, "APPEND ", 7)) append_entry(line + 7);
        else if (!strcmp(line, "COMMIT")) commit_entry();
        else if (!strcmp(line, "ABORT")) abort_entry();
    }
    printf("%d entries\n", committed);
    if (open_entry) free(pending);
    free(text);
    free(payload);
    return 0;
}
