"""The log entry: what every state change commits to, and the rules a verifier holds each entry to.

An entry is RFC 8785 canonical JSON with exactly these fields::

    {"actor": "pty_…", "event": "work.registered", "payload_sha256": "…", "subject": "wrk_…",
     "time": "2026-11-22T14:00:00.000000Z", "v": 1}

The payload itself (which may hold names) is kept beside the entry, outside the tree, so it can be erased
without breaking any proof; personal data never enters the tree in clear. Only its SHA-256 is committed.

Example:
    >>> e = make_entry("work.registered", "2026-01-01T00:00:00.000000Z", "pty_a", "wrk_b", b"{}")
    >>> check_entry(0, entry_bytes(e))["event"]
    'work.registered'
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from copyalign.core.canonical import dumps_plain, is_canonical
from copyalign.errors import VerificationError

ENTRY_VERSION = 1
FIELDS = frozenset({"v", "event", "time", "actor", "subject", "payload_sha256"})


def make_entry(event: str, time: str, actor: str, subject: str, payload: bytes) -> dict[str, Any]:
    """The entry recording ``event`` by ``actor`` on ``subject`` at ``time`` (RFC 3339), committing to the
    canonical ``payload`` bytes by digest."""
    return {
        "v": ENTRY_VERSION,
        "event": event,
        "time": time,
        "actor": actor,
        "subject": subject,
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }


def entry_bytes(entry: dict[str, Any]) -> bytes:
    """The entry as it is hashed into the tree (fixed ASCII keys, str and int values: canonical as it stands)."""
    return dumps_plain(entry)


def check_entry(index: int, data: bytes) -> dict[str, Any]:
    """An entry must be an RFC 8785 canonical JSON object with the fields the log writes, and no other."""
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VerificationError(f"entry {index} is not JSON", index=index) from None
    if not isinstance(obj, dict) or not is_canonical(obj, data):
        raise VerificationError(f"entry {index} is not canonical JSON (RFC 8785)", index=index)
    missing = FIELDS - obj.keys()
    if missing:
        raise VerificationError(f"entry {index} lacks {', '.join(sorted(missing))}", index=index)
    return obj


def payload_matches(entry: dict[str, Any], payload: bytes) -> bool:
    """Whether a stored payload is the one the entry committed to."""
    return hashlib.sha256(payload).hexdigest() == entry.get("payload_sha256")


__all__ = ["ENTRY_VERSION", "FIELDS", "check_entry", "entry_bytes", "make_entry", "payload_matches"]
