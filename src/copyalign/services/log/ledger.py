"""The transparency log: appends in the caller's transaction, signed checkpoints, proofs.

Every service that changes state calls :meth:`Ledger.append` inside its own write transaction, so a domain
row and its log entry commit together or not at all. Appends lock the single ``log_state`` row (``FOR
UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the database write lock), read the tree's
frontier from it, and write the new leaves and every perfect subtree they complete. Proofs then read only
the O(log n) stored nodes they need, in one query, so they stay sub-millisecond at millions of entries.

The entry format (and what a verifier checks of it) is :mod:`copyalign.core.log.entry`; the payload is
stored beside the entry, outside the tree, so it can be erased without breaking any proof.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from copyalign.clock import Clock
from copyalign.core.canonical import canonical, format_time
from copyalign.core.log import merkle
from copyalign.core.log.checkpoint import Checkpoint, NoteVerifier, Signer, open_note, sign_note
from copyalign.core.log.entry import entry_bytes, make_entry
from copyalign.errors import InvalidInputError, NotFoundError, VerificationError
from copyalign.store.bulk import insert_rows
from copyalign.store.db import Store
from copyalign.store.models import Checkpoint as CheckpointRow
from copyalign.store.models import LogEntry, LogNode, LogState


@dataclass(frozen=True, slots=True)
class Event:
    """A state change to record. ``payload`` is hashed into the entry and stored beside it."""

    event: str
    actor: str
    subject: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a write returns: the entry, its leaf index and, once a checkpoint covers it, its proof."""

    index: int
    entry: Mapping[str, Any]
    leaf_hash: str
    checkpoint_size: int | None = None
    inclusion_proof: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "entry": dict(self.entry), "leaf_hash": self.leaf_hash}
        if self.checkpoint_size is not None:
            out["checkpoint_size"] = self.checkpoint_size
            out["inclusion_proof"] = list(self.inclusion_proof or ())
        return out


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str
    created_at: datetime


def blob(value: object, what: str, *, index: int | None = None) -> bytes:
    """A BLOB column's value as bytes. SQLite keeps whatever type an ``UPDATE`` wrote (text, an integer), so a
    tampered row is refused by name here instead of failing later in ``bytes(...)`` with a traceback."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise VerificationError(f"{what} is stored as {type(value).__name__}, not bytes: the row was altered", index=index)


def db_nodes(conn: Connection) -> merkle.NodeReader:
    """The store's tree nodes, read through ``conn``, as a :class:`merkle.NodeReader`."""
    return _DbNodes(conn)


class _DbNodes:
    """The store's perfect-subtree nodes as a :class:`merkle.NodeReader`.

    One hand-written query per proof, sent straight to the driver (building the equivalent SQLAlchemy
    expression costs more than running it): on SQLite grouped by level (``level = ? AND idx IN (...)`` uses
    the primary key, where a row-value ``(level, idx) IN`` scans the table); on PostgreSQL a join against two
    ``unnest``-ed arrays, whose plan does not depend on how many keys there are.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"

    def get_nodes(self, keys: Collection[merkle.NodeKey]) -> Mapping[merkle.NodeKey, bytes]:
        if not keys:
            return {}
        if self.mark == "%s":  # PostgreSQL: two arrays joined against the primary key, one cached plan
            rows = self.conn.exec_driver_sql(
                "SELECT n.level, n.idx, n.hash FROM log_nodes n"
                " JOIN unnest(%s::int[], %s::bigint[]) AS k(level, idx) ON n.level = k.level AND n.idx = k.idx",
                ([k[0] for k in keys], [k[1] for k in keys]),
            )
            return {(r[0], r[1]): bytes(r[2]) for r in rows if isinstance(r[2], bytes | bytearray | memoryview)}
        by_level: dict[int, list[int]] = {}
        for level, idx in keys:
            by_level.setdefault(level, []).append(idx)
        clauses, params = [], []
        for level, members in by_level.items():
            clauses.append(f"(level = {self.mark} AND idx IN ({', '.join([self.mark] * len(members))}))")
            params.append(level)
            params.extend(members)
        sql = "SELECT level, idx, hash FROM log_nodes WHERE " + " OR ".join(clauses)  # noqa: S608 - placeholders only
        rows = self.conn.exec_driver_sql(sql, tuple(params))
        # a node some UPDATE turned into text is as good as missing: proofs then fail by name, not by TypeError
        return {(r[0], r[1]): bytes(r[2]) for r in rows if isinstance(r[2], bytes | bytearray | memoryview)}


class Ledger:
    def __init__(self, store: Store, *, signer: Signer, clock: Clock, origin: str) -> None:
        self.store = store
        self.signer = signer
        self.clock = clock
        self.origin = origin
        self._checkpoint_lock = threading.Lock()
        self._signed_sizes: set[int] = set()

    # -- appends ---------------------------------------------------------------------------------------

    def _lock_state(self, session: Session) -> tuple[int, list[bytes]]:
        stmt = select(LogState.size, LogState.frontier).where(LogState.id == 1)
        if not self.store.is_sqlite:
            stmt = stmt.with_for_update()
        size, raw = session.execute(stmt).one()
        data = blob(raw, "the log state's frontier")
        return size, [data[i : i + 32] for i in range(0, len(data), 32)]

    def append(self, session: Session, events: Sequence[Event], *, at: datetime | None = None) -> list[Receipt]:
        """Append ``events`` in ``session``'s transaction; returns one receipt per event, in order."""
        if not events:
            return []
        now = at or self.clock.now()
        stamp = format_time(now)
        size, frontier = self._lock_state(session)
        entries: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        leaves: list[bytes] = []
        for i, ev in enumerate(events):
            payload = canonical(dict(ev.payload))
            entry = make_entry(ev.event, stamp, ev.actor, ev.subject, payload)
            data = entry_bytes(entry)
            entries.append(entry)
            leaves.append(merkle.leaf_hash(data))
            rows.append(
                {
                    "idx": size + i,
                    "event": ev.event,
                    "subject": ev.subject,
                    "recorded_at": now,
                    "entry": data,
                    "payload": payload,
                }
            )
        result = merkle.append_leaves(size, frontier, leaves)
        # Core inserts (not ORM bulk): the ORM's per-row bookkeeping costs more than SQLite's own work here; a
        # bulk append is a COPY on PostgreSQL (store.bulk)
        conn = session.connection()
        insert_rows(conn, LogEntry, rows)
        nodes = [{"level": k[0], "idx": k[1], "hash": h} for k, h in result.nodes.items()]
        insert_rows(conn, LogNode, nodes)
        session.execute(
            update(LogState).where(LogState.id == 1).values(size=result.new_size, frontier=b"".join(result.frontier))
        )
        return [Receipt(index=size + i, entry=entries[i], leaf_hash=leaves[i].hex()) for i in range(len(events))]

    # -- checkpoints -----------------------------------------------------------------------------------

    def size(self) -> int:
        with self.store.read() as s:
            return int(s.execute(select(LogState.size).where(LogState.id == 1)).scalar_one())

    def checkpoint(self) -> SignedCheckpoint:
        """Sign the current tree if it grew since the last checkpoint; return the latest either way."""
        with self._checkpoint_lock, self.store.write() as s:
            size, frontier = self._lock_state(s)
            last = s.execute(select(CheckpointRow).order_by(CheckpointRow.size.desc()).limit(1)).scalar()
            if last is not None and last.size == size:
                # A checkpoint of this size exists; re-signing it would add nothing (sizes are unique).
                return SignedCheckpoint(
                    last.size, blob(last.root, f"the checkpoint of size {last.size}"), last.note, last.created_at
                )
            root = merkle.root_from_frontier(size, frontier)
            note = sign_note(Checkpoint(self.origin, size, root).body(), [self.signer]).decode()
            now = self.clock.now()
            s.add(CheckpointRow(size=size, root=root, note=note, created_at=now))
            return SignedCheckpoint(size, root, note, now)

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        with self.store.read() as s:
            row = s.execute(select(CheckpointRow).order_by(CheckpointRow.size.desc()).limit(1)).scalar()
            return (
                None
                if row is None
                else SignedCheckpoint(
                    row.size, blob(row.root, f"the checkpoint of size {row.size}"), row.note, row.created_at
                )
            )

    def checkpoint_at(self, size: int) -> SignedCheckpoint:
        with self.store.read() as s:
            row = s.get(CheckpointRow, size)
            if row is None:
                raise NotFoundError(f"no checkpoint of size {size}", field="size")
            return SignedCheckpoint(
                row.size, blob(row.root, f"the checkpoint of size {row.size}"), row.note, row.created_at
            )

    def checkpoint_covering(self, index: int) -> SignedCheckpoint | None:
        """The latest checkpoint, if it covers leaf ``index``."""
        latest = self.latest_checkpoint()
        return latest if latest is not None and latest.size > index else None

    # -- reads and proofs ------------------------------------------------------------------------------

    def _proof_connection(self) -> Connection:
        """A connection in autocommit: proofs read immutable rows, so no BEGIN/ROLLBACK round trips."""
        return self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def _check_size(self, conn: Connection, size: int) -> None:
        # Signed checkpoints never change, so a size once seen needs no second query.
        if size in self._signed_sizes:
            return
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        found = conn.exec_driver_sql(f"SELECT 1 FROM checkpoints WHERE size = {mark}", (size,)).first()  # noqa: S608
        if found is None:
            raise NotFoundError(
                f"no signed checkpoint of size {size}: proofs are served at signed tree sizes only",
                field="size",
            )
        self._signed_sizes.add(size)

    def entries(self, start: int, end: int, *, limit: int = 1000) -> list[tuple[int, bytes]]:
        if start < 0 or end < start:
            raise InvalidInputError("need 0 <= start <= end", field="start")
        end = min(end, start + limit)
        with self.store.read() as s:
            rows = s.execute(
                select(LogEntry.idx, LogEntry.entry)
                .where(LogEntry.idx >= start, LogEntry.idx < end)
                .order_by(LogEntry.idx)
            )
            return [(r[0], blob(r[1], f"entry {r[0]}", index=r[0])) for r in rows]

    def payload(self, index: int) -> bytes | None:
        with self.store.read() as s:
            row = s.get(LogEntry, index)
            if row is None:
                raise NotFoundError(f"no log entry {index}", field="index")
            return None if row.payload is None else blob(row.payload, f"the payload of entry {index}", index=index)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        if not 0 <= index < size:
            raise InvalidInputError(f"index {index} is not in a tree of size {size}", field="index")
        with self._proof_connection() as conn:
            self._check_size(conn, size)
            return merkle.inclusion_proof(index, size, _DbNodes(conn))

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        if not 0 <= old_size <= new_size:
            raise InvalidInputError("need 0 <= old size <= new size", field="first")
        with self._proof_connection() as conn:
            self._check_size(conn, old_size)
            self._check_size(conn, new_size)
            return merkle.consistency_proof(old_size, new_size, _DbNodes(conn))

    def receipt(self, index: int) -> Receipt:
        """The receipt of entry ``index``, with its proof against the latest checkpoint that covers it."""
        with self.store.read() as s:
            row = s.get(LogEntry, index)
            if row is None:
                raise NotFoundError(f"no log entry {index}", field="index")
            data = blob(row.entry, f"entry {index}", index=index)
        cp = self.checkpoint_covering(index)
        leaf = merkle.leaf_hash(data)
        entry = _loads(data)
        if cp is None:
            return Receipt(index=index, entry=entry, leaf_hash=leaf.hex())
        proof = self.inclusion_proof(index, cp.size)
        return Receipt(index, entry, leaf.hex(), cp.size, tuple(p.hex() for p in proof))

    def verifier(self) -> NoteVerifier:
        return NoteVerifier.from_vkey(self.verifier_key)

    @property
    def verifier_key(self) -> str:
        return str(self.signer.verifier_key)

    def open_checkpoint(self, note: str) -> Checkpoint:
        return open_note(note.encode(), [self.verifier()])


def _loads(data: bytes) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(data)
    return out
