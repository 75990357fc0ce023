/* tree: reads an s-expression and prints how many atoms and lists it has and how deep it nests.
 * Payload: atoms (runs of characters other than blanks and parentheses; up to 63 are kept) and
 * lists in parentheses, separated by blanks. A ')' without its '(' or a '(' without its ')' is
 * an error. */
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

#define MAX_DEPTH 200

static const unsigned char *text;
static size_t len, pos;
static unsigned atoms, lists, deepest;
static int error;
static char longest[64];

static void parse_list(unsigned depth) {
    char atom[64];
    if (depth > deepest) deepest = depth;
    /*@@DEPTH@@*/
    while (pos < len && !error) {
        unsigned char c = text[pos];
        if (c == ' ' || c == '\n' || c == '\t') { pos++; continue; }
        if (c == '(') { pos++; lists++; parse_list(depth + 1); continue; }
        if (c == ')') { if (!depth) error = 1; else pos++; return; }
        size_t n = 0;
        while (pos < len && text[pos] != ' ' && text[pos] != '\n' && text[pos] != '\t'
               && text[pos] != '(' && text[pos] != ')') {
            if (n < sizeof atom - 1) atom[n++] = (char)text[pos];
            pos++;
        }
        atom[n] = 0;
        atoms++;
        size_t have = 0;
        while (longest[have]) have++;
        if (n > have) for (size_t k = 0; k <= n; k++) longest[k] = atom[k];
    }
    if (depth && !error) error = 2;
}

int main(int argc, char **argv) {
    if (argc != 2) { fputs("usage: tree FILE\n", stderr); return 2; }
    unsigned char *in = read_container(argv[1], "TRE1", &len);
    text = in;
    parse_list(0);
    if (error == 1) puts("unbalanced ')'");
    else if (error == 2) puts("unclosed '('");
    else if (error == 3) puts("too deep");
    else printf("%u atoms, %u lists, depth %u, longest atom '%s'\n", atoms, lists, deepest, longest);
    free(in);
    return error ? 1 : 0;
}
