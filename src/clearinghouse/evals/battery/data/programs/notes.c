/* notes: a line-oriented note store. Commands: "add TEXT", "del", "show", "last". */
#include <string.h>
#include "common.h"
struct note { char text[32]; struct note *next; };
int main(int argc, char **argv) {
    size_t len; unsigned char *in = read_all(argv[1], &len);
    in = realloc(in, len + 1); in[len] = 0;
    struct note *head = NULL, *last = NULL;
    for (char *line = strtok((char *)in, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "add ", 4)) {
            struct note *n = calloc(1, sizeof *n);
            strncpy(n->text, line + 4, sizeof n->text - 1);
            n->next = head; head = last = n;
        } else if (!strcmp(line, "del") && head) {
            struct note *gone = head; head = head->next;
            free(gone);
            /*@@DANGLING@@*/
        } else if (!strcmp(line, "show")) {
            for (struct note *n = head; n; n = n->next) printf("note: %s\n", n->text);
        } else if (!strcmp(line, "last") && last) {
            printf("last: %s\n", last->text);
        }
    }
    while (head) { struct note *n = head->next; free(head); head = n; }
    free(in); return 0;
}
