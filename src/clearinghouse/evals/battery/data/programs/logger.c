/* logger: prints each line of an audit log, tagged with its line number. */
#include <string.h>
#include "common.h"
int main(int argc, char **argv) {
    size_t len; unsigned char *in = read_all(argv[1], &len);
    in = realloc(in, len + 1); in[len] = 0;
    int n = 0;
    for (char *line = strtok((char *)in, "\n"); line; line = strtok(NULL, "\n")) {
        n++;
        /*@@PRINT@@*/
    }
    printf("%d lines\n", n);
    free(in); return 0;
}
