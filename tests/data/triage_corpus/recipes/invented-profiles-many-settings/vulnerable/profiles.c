/* A profile file: `profile NAME` starts a profile, `set KEY VALUE` adds a setting to it, and
 * `inherit NAME` copies every setting of an earlier profile into the current one.
 *
 * The bug: inherit_from() uses find_profile()'s result without checking it, so inheriting from
 * a profile that was never defined dereferences a NULL pointer (CWE-476). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROFILES 8
#define MAX_SETTINGS 16

struct setting {
    char key[24], value[48];
};

struct profile {
    char name[24];
    int count;
    struct setting settings[MAX_SETTINGS];
};

static struct profile profiles[MAX_PROFILES];
static int nprofiles;

static struct profile *find_profile(const char *name) {
    for (int i = 0; i < nprofiles; i++)
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}

static void add_setting(struct profile *p, const char *key, const char *value) {
    if (p->count == MAX_SETTINGS)
        return;
    snprintf(p->settings[p->count].key, sizeof p->settings[0].key, "%s", key);
    snprintf(p->settings[p->count].value, sizeof p->settings[0].value, "%s", value);
    p->count++;
}

static void inherit_from(struct profile *p, const char *parent_name) {
    struct profile *parent = find_profile(parent_name); /* BUG: NULL when undefined */
    for (int i = 0; i < parent->count; i++)
        add_setting(p, parent->settings[i].key, parent->settings[i].value);
}

static int parse_profiles(FILE *fp) {
    char line[128], word[16], a[48], b[48];
    struct profile *current = NULL;
    while (fgets(line, sizeof line, fp) != NULL) {
        int n = sscanf(line, "%15s %47s %47s", word, a, b);
        if (n >= 2 && strcmp(word, "profile") == 0 && nprofiles < MAX_PROFILES) {
            current = &profiles[nprofiles++];
            snprintf(current->name, sizeof current->name, "%s", a);
        } else if (current == NULL) {
            return -1;
        } else if (n == 3 && strcmp(word, "set") == 0) {
            add_setting(current, a, b);
        } else if (n == 2 && strcmp(word, "inherit") == 0) {
            inherit_from(current, a);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    FILE *fp = fopen(argv[1], "r");
    if (fp == NULL)
        return 2;
    int rc = parse_profiles(fp);
    fclose(fp);
    if (rc != 0) {
        puts("rejected");
        return 1;
    }
    for (int i = 0; i < nprofiles; i++)
        printf("%s: %d settings\n", profiles[i].name, profiles[i].count);
    return 0;
}
