"""Public identifiers: a type prefix and 26 Crockford base-32 characters (48-bit time + 80 random bits).

Time-ordered like ULIDs, so listings sort by creation without an extra index, and unguessable, so knowing one
work's id says nothing about the next.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
