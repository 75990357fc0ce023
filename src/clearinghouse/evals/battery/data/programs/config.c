/* config: parses "key=value" lines and greets the configured user. */
#include <string.h>
#include "common.h"
struct kv { char key[32]; char value[64]; };
static struct kv table[16]; static int count;
static const char *lookup(const char *key) {
    for (int i = 0; i < count; i++) if (!strcmp(table[i].key, key)) return table[i].value;
    return NULL;
}
int main(int argc, char **argv) {
    size_t len; unsigned char *in = read_all(argv[1], &len);
    in = realloc(in, len + 1); in[len] = 0;
    for (char *line = strtok((char *)in, "\n"); line && count < 16; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        strncpy(table[count].key, line, 31); strncpy(table[count].value, eq + 1, 63); count++;
    }
    const char *user = lookup("user");
    /*@@CHECK@@*/
    printf("hello %s (%zu chars), %d settings\n", user, strlen(user), count);
    free(in); return 0;
}
