/* A session table driven by a command script, one command a line:
 *   open ID NAME | rename ID NAME | show ID | close ID
 * `show` keeps a one-entry cache of the last session it looked up, so that repeated lookups
 * skip the table scan.
 *
 * Fixed: closing a session also drops it from the cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8

struct session {
    int id;
    char name[32];
    unsigned views;
};

static struct session *table[SLOTS];
static struct session *cached; /* the last session `show` found */

static struct session *lookup(int id) {
    if (cached != NULL && cached->id == id)
        return cached;
    for (int i = 0; i < SLOTS; i++)
        if (table[i] != NULL && table[i]->id == id)
            return cached = table[i];
    return NULL;
}

static void open_session(int id, const char *name) {
    for (int i = 0; i < SLOTS; i++)
        if (table[i] == NULL) {
            struct session *s = calloc(1, sizeof *s);
            s->id = id;
            snprintf(s->name, sizeof s->name, "%s", name);
            table[i] = s;
            return;
        }
}

static void close_session(int id) {
    for (int i = 0; i < SLOTS; i++)
        if (table[i] != NULL && table[i]->id == id) {
            free(table[i]);
            if (cached == table[i])
                cached = NULL;
            table[i] = NULL;
            return;
        }
}

static void show_session(int id) {
    struct session *s = lookup(id);
    if (s == NULL) {
        printf("%d: no such session\n", id);
        return;
    }
    s->views++;
    printf("%d: %s (%u views)\n", s->id, s->name, s->views);
}

static void rename_session(int id, const char *name) {
    for (int i = 0; i < SLOTS; i++)
        if (table[i] != NULL && table[i]->id == id)
            snprintf(table[i]->name, sizeof table[i]->name, "%s", name);
}

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    FILE *fp = fopen(argv[1], "r");
    if (fp == NULL)
        return 2;
    char line[128], cmd[16], name[32];
    int id;
    while (fgets(line, sizeof line, fp) != NULL) {
        int n = sscanf(line, "%15s %d %31s", cmd, &id, name);
        if (n >= 3 && strcmp(cmd, "open") == 0)
            open_session(id, name);
        else if (n >= 3 && strcmp(cmd, "rename") == 0)
            rename_session(id, name);
        else if (n >= 2 && strcmp(cmd, "show") == 0)
            show_session(id);
        else if (n >= 2 && strcmp(cmd, "close") == 0)
            close_session(id);
    }
    fclose(fp);
    return 0;
}
