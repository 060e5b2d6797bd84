"""Exporting the log as a self-contained bundle, and verifying a bundle or the live store.

A bundle is JSON Lines: a header ``{"format": "copyalign-log-bundle/1", "origin", "verifier_key",
"checkpoints": [signed notes], "nodes": [per level, base64 of its node hashes]}`` and then one
``{"index", "entry"}`` line per entry (``entry`` base64 of the exact bytes in the tree). It needs no server to
check: ``copyalign log verify BUNDLE --key VKEY``. ``nodes`` (the tree's stored perfect-subtree hashes, level
0 first, each level's hashes concatenated in index order) is optional and trusted only as far as it hashes to a
signed root: with it, an entry that no longer hashes to its root is named exactly rather than by its range.

Every BLOB the database hands back is checked to be bytes: SQLite keeps whatever type an ``UPDATE`` wrote, and a
tampered row is a finding at its index, never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from copyalign.core.log import merkle
from copyalign.core.log.checkpoint import NoteVerifier
from copyalign.core.log.verify import LogReport, first_divergence, locate_bad_leaf, located, verify_log
from copyalign.errors import InvalidInputError, VerificationError
from copyalign.services.log.ledger import Ledger, blob, db_nodes
from copyalign.store.models import Checkpoint as CheckpointRow
from copyalign.store.models import LogEntry, LogNode, LogState

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
            yield idx, blob(data, f"entry {idx}", index=idx)
        start = rows[-1][0] + 1


def _notes(ledger: Ledger) -> list[str]:
    with ledger.store.read() as s:
        return list(s.execute(select(CheckpointRow.note).order_by(CheckpointRow.size)).scalars())


def _levels(ledger: Ledger, size: int) -> list[str]:
    """The stored nodes of the tree of ``size``, per level: base64 of the hashes concatenated in index order."""
    out: list[str] = []
    level = 0
    while size >> level:
        count = size >> level
        with ledger.store.read() as s:
            rows = dict(
                s.execute(select(LogNode.idx, LogNode.hash).where(LogNode.level == level, LogNode.idx < count)).all()
            )
        # a missing or altered node is written as zeros: it will not authenticate, and costs only the exact index
        hashes = (rows.get(i) for i in range(count))
        data = b"".join(bytes(h) if isinstance(h, bytes | memoryview) and len(h) == 32 else bytes(32) for h in hashes)
        out.append(base64.b64encode(data).decode())
        level += 1
    return out


class _BundleNodes:
    """A bundle's ``nodes`` as a :class:`merkle.NodeReader` (untrusted until they hash to a signed root)."""

    def __init__(self, levels: list[bytes]) -> None:
        self.levels = levels

    def get_nodes(self, keys: Collection[merkle.NodeKey]) -> Mapping[merkle.NodeKey, bytes]:
        out = {}
        for level, idx in keys:
            if level < len(self.levels) and idx >= 0 and (idx + 1) * 32 <= len(self.levels[level]):
                out[(level, idx)] = self.levels[level][idx * 32 : (idx + 1) * 32]
        return out


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
        "nodes": _levels(ledger, size),
    }
    out.write(json.dumps(header) + "\n")
    n = 0
    for idx, data in _db_entries(ledger, upto=size):
        out.write(json.dumps({"index": idx, "entry": base64.b64encode(data).decode()}) + "\n")
        n += 1
    return n


def verify_store(ledger: Ledger) -> LogReport:
    """Check the database's log against its stored leaf hashes, every signed checkpoint, and the stored
    frontier (which covers the entries after the last checkpoint: an edit there, its leaf row rewritten to
    match, no longer hashes to the frontier that appends have kept)."""

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
                leaves.update({i: blob(h, f"the leaf node of entry {i}", index=i) for i, h in rows})
            yield idx, data

    notes = [n.encode() for n in _notes(ledger)]
    with ledger.store.engine.connect() as conn:
        nodes = db_nodes(conn)
        report = verify_log(entries(), notes, [ledger.verifier()], expected_leaf=expected, nodes=nodes)
        with ledger.store.read() as s:
            size, raw = s.execute(select(LogState.size, LogState.frontier).where(LogState.id == 1)).one()
        frontier = blob(raw, "the log state's frontier", index=report.entries)
        if size != report.entries:
            raise VerificationError(
                f"the log state says {size} entries, but {report.entries} are stored", index=min(size, report.entries)
            )
        hashes = [frontier[i : i + 32] for i in range(0, len(frontier), 32)]
        if len(hashes) != bin(size).count("1") or merkle.root_from_frontier(size, hashes) != report.root:
            last = report.checkpoints[-1].size if report.checkpoints else 0
            what = f"the stored frontier of size {size} (an edit after the last signed checkpoint, of size {last})"
            bad = _past_checkpoint(ledger, size, hashes, nodes)
            raise located(bad or (last, size - 1), what)
    return report


def _past_checkpoint(
    ledger: Ledger, size: int, frontier: list[bytes], nodes: merkle.NodeReader
) -> tuple[int, int] | None:
    """Bisect the entries against the stored frontier (see :func:`copyalign.core.log.verify.locate_bad_leaf`)."""
    if len(frontier) != bin(size).count("1"):
        return None
    leaves = [merkle.leaf_hash(data) for _i, data in _db_entries(ledger)]
    return locate_bad_leaf(size, merkle.root_from_frontier(size, frontier), leaves, nodes)


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
    return verify_log(entries, notes, [verifier], nodes=_bundle_nodes(header))


def _bundle_nodes(header: dict[str, Any]) -> _BundleNodes | None:
    raw = header.get("nodes")
    if not isinstance(raw, list):
        return None
    try:
        return _BundleNodes([base64.b64decode(str(level), validate=True) for level in raw])
    except (binascii.Error, ValueError):
        return None  # unusable nodes only cost the exact index, never the verdict


def bundle_entries(path: Path, indices: set[int]) -> dict[int, bytes]:
    """The bytes of the entries at ``indices`` in a bundle (those it holds): what a document built on log
    entries, such as a model card, is checked against offline."""
    _header, entries = _read_bundle(path)
    return {i: data for i, data in entries if i in indices}
