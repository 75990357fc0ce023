"""Object identifiers.

Ids are `<prefix>_<26 chars>`: 48 bits of millisecond time then 80 random bits, in Crockford
base32 (the ULID layout). They sort by creation time, which cursor pagination relies on, and
cannot be enumerated, so a guessed id reveals nothing.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """A fresh, time-ordered, unguessable id such as `sub_01JD3...`."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
