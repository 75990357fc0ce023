/* Shared by the clearinghouse PoC/patch programs: the input container.
 *
 * Every input file is one container (integers little-endian):
 *
 *     offset 0           magic    4 bytes, the program's own ("RLE1", "TLV1", ...)
 *     offset 4           length   2 bytes, the payload's length in bytes
 *     offset 6           payload  `length` bytes: what the program reads
 *     offset 6 + length  check    4 bytes, the 32-bit FNV-1a hash of the payload
 *
 * and nothing after it. FNV-1a: h = 2166136261; for each byte b: h = (h ^ b) * 16777619
 * (mod 2^32). read_container() checks all of this before the program looks at the payload; a
 * file that is not a valid container makes the program print one "invalid input: ..." line
 * and exit with status 1.
 */
#ifndef CLEARINGHOUSE_COMMON_H
#define CLEARINGHOUSE_COMMON_H
#include <stddef.h>

/* The payload of the container in `path` (exactly `*len` bytes, in a fresh heap block), or exit. */
unsigned char *read_container(const char *path, const char magic[4], size_t *len);

/* A NUL-terminated heap copy of a payload, for the programs that read text. */
char *payload_text(const unsigned char *payload, size_t len);

unsigned fnv1a(const unsigned char *data, size_t len);
#endif
