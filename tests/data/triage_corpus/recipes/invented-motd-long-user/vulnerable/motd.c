/* A message-of-the-day renderer. The configuration is INI-like; in the [motd] section,
 * `banner = TEXT` sets the banner and `user = NAME` the user it greets. The banner is rendered
 * into a fixed line buffer and printed.
 *
 * The bug: render_banner() passes the configured banner to sprintf() as the format string
 * (CWE-134). A banner with conversion specifications makes sprintf() read arguments that were
 * never passed, and a field width writes past the end of the stack buffer (CWE-121). */
#include <stdio.h>
#include <string.h>

static void render_banner(const char *banner, const char *user) {
    char line[96];
    sprintf(line, banner); /* BUG: the banner is data, not a format */
    printf("%s, %s\n", line, user);
}

static int load_config(FILE *fp) {
    char raw[256], banner[128] = "", user[32] = "guest";
    int in_motd = 0;
    while (fgets(raw, sizeof raw, fp) != NULL) {
        raw[strcspn(raw, "\r\n")] = '\0';
        if (raw[0] == '[') {
            in_motd = strcmp(raw, "[motd]") == 0;
            continue;
        }
        char *eq = strstr(raw, " = ");
        if (!in_motd || eq == NULL)
            continue;
        *eq = '\0';
        if (strcmp(raw, "banner") == 0)
            snprintf(banner, sizeof banner, "%s", eq + 3);
        else if (strcmp(raw, "user") == 0)
            snprintf(user, sizeof user, "%s", eq + 3);
    }
    if (banner[0] == '\0')
        return -1;
    render_banner(banner, user);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    FILE *fp = fopen(argv[1], "r");
    if (fp == NULL)
        return 2;
    int rc = load_config(fp);
    fclose(fp);
    if (rc != 0)
        puts("no banner");
    return rc == 0 ? 0 : 1;
}
