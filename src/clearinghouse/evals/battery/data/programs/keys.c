/* keys: replays a keystroke log into a 64-byte line editor and prints each finished line.
 * Payload bytes: a printable character (0x20-0x7e) is typed at the cursor (ignored when the line
 * is full); '\n' prints the line and starts a new one. Editing keys are two bytes, escape (0x1b)
 * then a letter: ESC 'h' (backspace) erases the character before the cursor, ESC 'u' clears the
 * line; escape before another byte, and other bytes, are ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

#define LINE 64

static char *line;
static size_t cur;
static int lines, erased, escaped;

static void press(unsigned char k) {
    if (escaped) {
        escaped = 0;
        if (k == 'h') {
            /*@@START@@*/
            line[--cur] = 0;
            erased++;
        } else if (k == 'u') {
            memset(line, 0, LINE);
            cur = 0;
        }
    } else if (k == 0x1b) {
        escaped = 1;
    } else if (k >= 0x20 && k < 0x7f) {
        if (cur < LINE - 1) line[cur++] = (char)k;
    } else if (k == '\n') {
        line[cur] = 0;
        printf("line %d: %s\n", ++lines, line);
        memset(line, 0, LINE);
        cur = 0;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: keys FILE\n", stderr); return 2; }
    size_t len;
    unsigned char *in = read_container(argv[1], "KEY1", &len);
    line = calloc(LINE, 1);
    for (size_t i = 0; i < len; i++) press(in[i]);
    printf("%d lines, %d erased\n", lines, erased);
    free(line);
    free(in);
    return 0;
}
