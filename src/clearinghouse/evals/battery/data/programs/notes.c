/* notes: a note store driven by commands, one per line of the payload:
 *   add TEXT   add a note (up to 31 characters are kept; the newest is listed first)
 *   del        delete the newest note
 *   show       print every note, newest first
 *   last       print the note added last
 * Other lines are ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

struct note {
    unsigned id;
    char text[32];
    struct note *next;
};

static struct note *head, *last;
static unsigned next_id = 1;

static void cmd_add(const char *text) {
    struct note *n = calloc(1, sizeof *n);
    n->id = next_id++;
    strncpy(n->text, text, sizeof n->text - 1);
    n->next = head;
    head = last = n;
}

static void cmd_del(void) {
    if (!head) { puts("nothing to delete"); return; }
    struct note *gone = head;
    head = head->next;
    free(gone);
    /*@@DANGLING@@*/
}

static void cmd_show(void) {
    for (struct note *n = head; n; n = n->next) printf("note #%u: %s\n", n->id, n->text);
}

static void cmd_last(void) {
    if (!last) { puts("no notes"); return; }
    printf("last: #%u %s\n", last->id, last->text);
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: notes FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *payload = read_container(argv[1], "NOTE", &len);
    char *text = payload_text(payload, len);
    int commands = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "add ", 4)) cmd_add(line + 4);
        else if (!strcmp(line, "del")) cmd_del();
        else if (!strcmp(line, "show")) cmd_show();
        else if (!strcmp(line, "last")) cmd_last();
        else continue;
        commands++;
    }
    printf("%d commands\n", commands);
    while (head) { struct note *n = head->next; free(head); head = n; }
    free(text);
    free(payload);
    return 0;
}
