/* config: parses "key=value" lines (up to 16; keys up to 31 characters, values up to 63) and,
 * when the setting greet=yes is present, greets the configured user. Lines without '=' are
 * ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

struct entry {
    char key[32];
    size_t value_len;
    char value[64];
};

static struct entry table[16];
static int count;

static struct entry *lookup(const char *key) {
    for (int i = 0; i < count; i++)
        if (!strcmp(table[i].key, key)) return &table[i];
    return NULL;
}

static void greet(void) {
    struct entry *user = lookup("user");
    /*@@CHECK@@*/
    printf("hello %s (%zu chars)\n", user->value, user->value_len);
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: config FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *payload = read_container(argv[1], "CFG1", &len);
    char *text = payload_text(payload, len);
    for (char *line = strtok(text, "\n"); line && count < 16; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        struct entry *e = &table[count++];
        strncpy(e->key, line, sizeof e->key - 1);
        strncpy(e->value, eq + 1, sizeof e->value - 1);
        e->value_len = strlen(e->value);
    }
    struct entry *g = lookup("greet");
    if (g && !strcmp(g->value, "yes")) greet();
    printf("%d settings\n", count);
    free(text);
    free(payload);
    return 0;
}
