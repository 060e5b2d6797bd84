"""What a generation trace's leaf commits to: one definition for the guard that seals traces and for the log
audit that checks them, so that a field added to the sealed record (the copyright notice of seed 004 ¶80(c))
cannot be sealed by one and forgotten by the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from copyalign.core.canonical import canonical

LEAF_FIELDS: tuple[str, ...] = (
    "id",
    "provider_id",
    "user_ref",
    "kind",
    "model",
    "prompt_sha256",
    "output_sha256",
    "delivered_sha256",
    "decision",
    "reasons",
)
"""The trace's columns every leaf commits to."""

OPTIONAL_LEAF_FIELDS: tuple[str, ...] = ("copyright_notice",)
"""Columns a leaf commits to when they hold a value (traces sealed before they existed stay verifiable)."""


def trace_leaf(columns: Mapping[str, Any], created_at: str) -> str:
    """The hex SHA-256 leaf of a trace: its :data:`LEAF_FIELDS`, the set :data:`OPTIONAL_LEAF_FIELDS` and its
    creation time (``format_time``), as canonical JSON."""
    fields = {f: columns.get(f) for f in LEAF_FIELDS}
    fields |= {f: columns[f] for f in OPTIONAL_LEAF_FIELDS if columns.get(f)}
    return hashlib.sha256(canonical({**fields, "created_at": created_at})).hexdigest()
