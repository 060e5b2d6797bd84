"""Exporting the log as a self-contained bundle, and verifying a bundle or the live store.

A bundle is JSON Lines: a header ``{"format": "copyalign-log-bundle/1", "origin", "verifier_key",
"checkpoints": [signed notes]}`` and then one ``{"index", "entry"}`` line per entry (``entry`` base64 of the
exact bytes in the tree). It needs no server to check: ``copyalign log verify BUNDLE --key VKEY``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from copyalign.core.log.checkpoint import NoteVerifier
from copyalign.core.log.verify import LogReport, first_divergence, verify_log
from copyalign.errors import InvalidInputError, VerificationError
from copyalign.services.log.ledger import Ledger
from copyalign.store.models import Checkpoint as CheckpointRow
from copyalign.store.models import LogEntry, LogNode

FORMAT = "copyalign-log-bundle/1"
_CHUNK = 5000


def _db_entries(ledger: Ledger, upto: int | None = None) -> Iterator[tuple[int, bytes]]:
    start = 0
    while True:
        with ledger.store.read() as s:
            stmt = select(LogEntry.idx, LogEntry.entry).where(LogEntry.idx >= start).order_by(LogEntry.idx)
            if upto is not None:
                stmt = stmt.where(LogEntry.idx < upto)
            rows = s.execute(stmt.limit(_CHUNK)).all()
        if not rows:
            return
        for idx, data in rows:
            yield idx, bytes(data)
        start = rows[-1][0] + 1


def _notes(ledger: Ledger) -> list[str]:
    with ledger.store.read() as s:
        return list(s.execute(select(CheckpointRow.note).order_by(CheckpointRow.size)).scalars())


def export_bundle(ledger: Ledger, out: TextIO) -> int:
    """Write the bundle up to the latest checkpoint; returns the number of entries written."""
    notes = _notes(ledger)
    latest = ledger.latest_checkpoint()
    size = latest.size if latest else 0
    header = {
        "format": FORMAT,
        "origin": ledger.origin,
        "verifier_key": ledger.verifier_key,
        "checkpoints": notes,
    }
    out.write(json.dumps(header) + "\n")
    n = 0
    for idx, data in _db_entries(ledger, upto=size):
        out.write(json.dumps({"index": idx, "entry": base64.b64encode(data).decode()}) + "\n")
        n += 1
    return n


def verify_store(ledger: Ledger) -> LogReport:
    """Check the database's log against its stored leaf hashes and every signed checkpoint."""

    def expected(index: int) -> bytes | None:
        return leaves.get(index)

    leaves: dict[int, bytes] = {}

    def entries() -> Iterator[tuple[int, bytes]]:
        for idx, data in _db_entries(ledger):
            if idx not in leaves:
                leaves.clear()
                with ledger.store.read() as s:
                    rows = s.execute(
                        select(LogNode.idx, LogNode.hash).where(
                            LogNode.level == 0, LogNode.idx >= idx, LogNode.idx < idx + _CHUNK
                        )
                    ).all()
                leaves.update({i: bytes(h) for i, h in rows})
            yield idx, data

    notes = [n.encode() for n in _notes(ledger)]
    return verify_log(entries(), notes, [ledger.verifier()], expected_leaf=expected)


def _read_bundle(path: Path) -> tuple[dict[str, Any], Iterator[tuple[int, bytes]]]:
    fh = path.open("r", encoding="utf-8")
    try:
        header = json.loads(fh.readline())
    except json.JSONDecodeError:
        fh.close()
        raise InvalidInputError(f"{path} is not a log bundle (bad header line)", field="bundle") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        fh.close()
        raise InvalidInputError(f"{path} is not a {FORMAT} file", field="bundle")

    def entries() -> Iterator[tuple[int, bytes]]:
        with fh:
            for n, line in enumerate(fh, start=2):
                try:
                    obj = json.loads(line)
                    yield int(obj["index"]), base64.b64decode(obj["entry"], validate=True)
                except (json.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error):
                    raise VerificationError(f"bundle line {n} is not an entry") from None

    return header, entries()


def verify_bundle(path: Path, *, key: str | None = None, against: Path | None = None) -> LogReport:
    """Verify a bundle offline. ``key`` pins the verifier key (else the bundle's own key is used);
    ``against`` is an earlier bundle the auditor kept: a fork is reported at its first differing entry."""
    header, entries = _read_bundle(path)
    vkey = key or str(header.get("verifier_key", ""))
    try:
        verifier = NoteVerifier.from_vkey(vkey)
    except (ValueError, VerificationError) as exc:
        raise InvalidInputError(f"invalid verifier key: {exc}", field="key") from None
    if against is not None:
        _old_header, old_entries = _read_bundle(against)
        _h, new_entries = _read_bundle(path)
        bad = first_divergence(old_entries, new_entries)
        if bad is not None:
            raise VerificationError(f"the log forked: entry {bad} differs from the earlier bundle", index=bad)
    notes = [str(n).encode() for n in header.get("checkpoints", [])]
    return verify_log(entries, notes, [verifier])


def bundle_entries(path: Path, indices: set[int]) -> dict[int, bytes]:
    """The bytes of the entries at ``indices`` in a bundle (those it holds): what a document built on log
    entries, such as a model card, is checked against offline."""
    _header, entries = _read_bundle(path)
    return {i: data for i, data in entries if i in indices}
