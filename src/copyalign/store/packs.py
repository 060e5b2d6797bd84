"""Blobs appended to large pack files with a SQLite index: the blob store for registries of millions of works.

A file per blob costs a create, a rename and a directory entry each (~0.5 ms on the benchmark disk, the largest
part of a bulk import after fingerprinting) and millions of inodes. :class:`PackBlobStore` appends blobs to
``packs/pack-NNNNNNNN.pack`` instead, each as a record ``magic | SHA-256 | length | bytes``, and keeps
``index.sqlite`` (WAL) mapping each digest to its pack, offset and length, its last write time and, while a
collector decides on it, the collector's hold.

Durability and crashes. A writer appends under the index's write lock (``BEGIN IMMEDIATE``: one writer at a
time across threads and processes), fsyncs each pack it touched **once**, then records the new ends and rows.
The packs are the truth and the index a cache of them: a writer killed mid-append leaves a torn tail past the
recorded end, which the next writer (or the next open) reads back record by record, indexing every record
whose bytes match its digest and cutting the file at the first that does not. So a torn append never harms an
earlier blob, and a ``put_many`` that returned is never lost, even if the index's last commit is (the index
is not fsynced on every write; compaction's commit, which must outlive the packs it deletes, is).

Collection keeps the three rules of :mod:`copyalign.store.blobs`: leases are the same files under ``.leases``;
a put of a present blob refreshes its ``written`` time (and takes back a blob a collector holds); "out of
reach" is a hold, a collector's token written into the row, and a collector deletes a row only while its own
token is still there (a re-put, a read or another collection clears or replaces it). A collector that dies
leaves its holds, which the next :meth:`~PackBlobStore.stale` and any read clear. Deleting a row leaves dead
bytes in its pack; :meth:`~PackBlobStore.compact` (run by ``copyalign blobs gc``) copies the live records of a
pack that is mostly dead to the pack being filled, commits the new places durably, then deletes the old pack.
A reader that looked a blob up in the old pack just before reads it through its open file or looks it up again.

Example:
    >>> store = PackBlobStore(tmp / "blobs")  # doctest: +SKIP
    >>> digests = store.put_many([b"one", b"two"])  # doctest: +SKIP
    >>> store.get(digests[0])  # doctest: +SKIP
    b'one'
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sqlite3
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from copyalign.errors import NotFoundError, StoreUnavailableError
from copyalign.store.blobs import Referenced, batches, check_digest, file_lease, leased_in

log = logging.getLogger("copyalign.blobs")

MAGIC = b"CAB1"
#: A record's header: magic, the raw SHA-256 of the bytes that follow, their length.
HEADER = struct.Struct(">4s32sQ")
#: A pack is closed for appends once it holds this many bytes (one larger blob gets a pack of its own).
PACK_BYTES = 256 * 1024 * 1024
#: :meth:`PackBlobStore.compact` rewrites a closed pack whose live records fill less than this share of it.
COMPACT_BELOW = 0.5
_SET_END = (
    "INSERT INTO packs (pack, end_offset) VALUES (?, ?) "
    "ON CONFLICT (pack) DO UPDATE SET end_offset = excluded.end_offset"
)
_PACK = re.compile(r"pack-(\d{8})\.pack")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS packs (pack INTEGER PRIMARY KEY, end_offset INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS blobs (digest BLOB PRIMARY KEY, pack INTEGER NOT NULL, offset INTEGER NOT NULL,"
    " length INTEGER NOT NULL, written REAL NOT NULL, held TEXT) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS blobs_held ON blobs (held) WHERE held IS NOT NULL",
)


class _Appender:
    """Appends records inside one write transaction; :meth:`finish` fsyncs each touched pack once."""

    def __init__(self, store: PackBlobStore, db: sqlite3.Connection) -> None:
        self.store, self.db = store, db
        row = db.execute("SELECT pack, end_offset FROM packs ORDER BY pack DESC LIMIT 1").fetchone()
        self.pack, self.end = (int(row[0]), int(row[1])) if row else (0, store.pack_bytes)
        self.fh: BinaryIO | None = None
        self.touched: dict[int, tuple[BinaryIO, int]] = {}

    def add(self, raw: bytes, data: bytes) -> tuple[int, int]:
        size = HEADER.size + len(data)
        fh = self.fh
        if fh is None or (self.end > 0 and self.end + size > self.store.pack_bytes):
            if fh is None and self.end + size <= self.store.pack_bytes and self.pack > 0:
                fh = self._open(self.pack, create=False)  # the last pack has room
            else:
                fh = self._open(self.pack + 1, create=True)
        offset = self.end
        fh.write(HEADER.pack(MAGIC, raw, len(data)))
        fh.write(data)
        self.end += size
        self.touched[self.pack] = (fh, self.end)
        return self.pack, offset

    def _open(self, pack: int, *, create: bool) -> BinaryIO:
        path = self.store._pack_path(pack)
        if create:
            self.end = 0
            fh: BinaryIO = open(path, "xb")  # noqa: SIM115 -- closed in finish
            self.store._sync_dir()
        else:
            fh = open(path, "r+b")  # noqa: SIM115 -- closed in finish
            fh.seek(self.end)
        self.fh, self.pack = fh, pack
        self.touched[pack] = (fh, self.end)
        return fh

    def finish(self) -> None:
        try:
            for fh, _end in self.touched.values():
                fh.flush()
                if self.store.fsync:
                    os.fsync(fh.fileno())  # one fsync per pack, before any row names its bytes
        finally:
            for fh, _end in self.touched.values():
                fh.close()
        self.db.executemany(_SET_END, [(p, end) for p, (_fh, end) in self.touched.items()])

    def abandon(self) -> None:
        for fh, _end in self.touched.values():
            fh.close()


class PackBlobStore:
    """Blobs in append-only packs under ``root/packs`` with the index ``root/index.sqlite`` (module docstring).

    ``fsync`` can be turned off for throwaway stores (benchmarks, tests); ``clock`` (seconds) dates the writes.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        fsync: bool = True,
        pack_bytes: int = PACK_BYTES,
        compact_below: float = COMPACT_BELOW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        (self.root / "packs").mkdir(parents=True, exist_ok=True)
        self.fsync, self.pack_bytes, self.compact_below, self.clock = fsync, pack_bytes, compact_below, clock
        self._lock = threading.Lock()
        self._reset()
        with self._conn() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            if self._torn(db):
                with self._writing() as wdb:
                    self._recover(wdb)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._pool: list[sqlite3.Connection] = []
        self._fds: dict[int, int] = {}

    # -- the index -----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: never share the parent's connections or files
                self._reset()
            db = self._pool.pop() if self._pool else None
        if db is None:
            db = sqlite3.connect(self.root / "index.sqlite", timeout=600, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # the packs are fsynced; the index is rebuilt from them
        try:
            yield db
        finally:
            with self._lock:
                self._pool.append(db)

    @contextlib.contextmanager
    def _writing(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        with self._conn() as db:
            if durable:
                db.execute("PRAGMA synchronous=FULL")
            db.execute("BEGIN IMMEDIATE")  # the one writer, across threads and processes
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            else:
                db.execute("COMMIT")
            finally:
                if durable:
                    db.execute("PRAGMA synchronous=NORMAL")

    # -- packs on disk -------------------------------------------------------------------------------------

    def _pack_path(self, pack: int) -> Path:
        return self.root / "packs" / f"pack-{pack:08d}.pack"

    def _sync_dir(self) -> None:
        if self.fsync:
            fd = os.open(self.root / "packs", os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _on_disk(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for f in (self.root / "packs").iterdir():
            m = _PACK.fullmatch(f.name)
            if m:
                with contextlib.suppress(FileNotFoundError):
                    out[int(m.group(1))] = f.stat().st_size
        return out

    def _torn(self, db: sqlite3.Connection) -> bool:
        ends = dict(db.execute("SELECT pack, end_offset FROM packs").fetchall())
        return any(ends.get(p, 0) != size for p, size in self._on_disk().items())

    def _recover(self, db: sqlite3.Connection) -> None:
        """Inside the write lock: index the whole records past each pack's recorded end, cut the rest."""
        ends = dict(db.execute("SELECT pack, end_offset FROM packs").fetchall())
        for pack, size in sorted(self._on_disk().items()):
            end = int(ends.get(pack, 0))
            if pack in ends and size == end:
                continue
            if size < end:
                raise StoreUnavailableError(f"pack {self._pack_path(pack)} is shorter than its index records")
            found: list[tuple[bytes, int, int, int, float]] = []
            with open(self._pack_path(pack), "r+b") as fh:
                fh.seek(end)
                while True:
                    head = fh.read(HEADER.size)
                    if len(head) < HEADER.size:
                        break
                    magic, raw, length = HEADER.unpack(head)
                    data = fh.read(length) if magic == MAGIC and length <= size - end else b""
                    if magic != MAGIC or len(data) != length or hashlib.sha256(data).digest() != raw:
                        break
                    found.append((raw, pack, end, length, self.clock()))
                    end += HEADER.size + length
                fh.truncate(end)
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
            log.warning("pack %d: recovered %d records past its recorded end, cut at %d", pack, len(found), end)
            db.executemany(
                "INSERT OR IGNORE INTO blobs (digest, pack, offset, length, written) VALUES (?, ?, ?, ?, ?)", found
            )
            db.execute(_SET_END, (pack, end))

    def _fd(self, pack: int) -> int:
        with self._lock:
            fd = self._fds.get(pack)
            if fd is None:
                for old, ofd in list(self._fds.items()):  # packs compacted away: let their room go
                    if os.fstat(ofd).st_nlink == 0:
                        os.close(ofd)
                        del self._fds[old]
                fd = self._fds[pack] = os.open(self._pack_path(pack), os.O_RDONLY)
            return fd

    def _read(self, pack: int, offset: int, length: int, raw: bytes) -> bytes:
        buf = os.pread(self._fd(pack), HEADER.size + length, offset)
        magic, found, size = HEADER.unpack_from(buf) if len(buf) >= HEADER.size else (b"", b"", -1)
        if magic != MAGIC or found != raw or size != length or len(buf) != HEADER.size + length:
            raise StoreUnavailableError(f"pack {self._pack_path(pack)} is damaged at offset {offset}")
        return buf[HEADER.size :]

    # -- the BlobStore interface ---------------------------------------------------------------------------

    def put(self, data: bytes) -> str:
        return self.put_many([data])[0]

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        """Append the blobs not yet present, fsync each touched pack once, then index them; a present blob is
        touched instead (rule 2), and taken back from a collector that holds it."""
        raws = [hashlib.sha256(d).digest() for d in items]
        if not raws:
            return []
        now = self.clock()
        with self._writing() as db:
            self._recover(db)
            present: set[bytes] = set()
            unique = list(dict.fromkeys(raws))
            for part in _chunks(unique):
                marks = ",".join("?" * len(part))
                present.update(r for (r,) in db.execute(f"SELECT digest FROM blobs WHERE digest IN ({marks})", part))  # noqa: S608
            appender = _Appender(self, db)
            rows: list[tuple[bytes, int, int, int, float]] = []
            try:
                for raw, data in zip(raws, items, strict=True):
                    if raw in present:
                        continue
                    present.add(raw)
                    pack, offset = appender.add(raw, data)
                    rows.append((raw, pack, offset, len(data), now))
            except BaseException:
                appender.abandon()  # the torn tail is cut by the next writer
                raise
            appender.finish()
            db.executemany("INSERT INTO blobs (digest, pack, offset, length, written) VALUES (?, ?, ?, ?, ?)", rows)
            fresh = {r[0] for r in rows}
            db.executemany(
                "UPDATE blobs SET written = ?, held = NULL WHERE digest = ?",
                [(now, r) for r in unique if r not in fresh],
            )
        return [r.hex() for r in raws]

    def _lookup(self, raw: bytes) -> tuple[int, int, int] | None:
        with self._conn() as db:
            row = db.execute("SELECT pack, offset, length, held FROM blobs WHERE digest = ?", (raw,)).fetchone()
        if row is None:
            return None
        if row[3] is not None:  # a collector holds it (or died holding it): a reader takes it back
            with self._writing() as db:
                db.execute("UPDATE blobs SET held = NULL WHERE digest = ?", (raw,))
        return int(row[0]), int(row[1]), int(row[2])

    def get(self, digest: str) -> bytes:
        raw = bytes.fromhex(check_digest(digest))
        for _ in range(3):
            where = self._lookup(raw)
            if where is None:
                break
            try:
                return self._read(*where, raw)
            except FileNotFoundError:  # compacted into another pack since the look-up: look again
                continue
        raise NotFoundError(f"no blob {digest}")

    def exists(self, digest: str) -> bool:
        return self._lookup(bytes.fromhex(check_digest(digest))) is not None

    def lease(self, digests: Iterable[str]) -> contextlib.AbstractContextManager[None]:
        return file_lease(self.root / ".leases", digests)

    def stale(self, older_than: timedelta) -> Iterator[str]:
        cutoff = self.clock() - older_than.total_seconds()
        with self._writing() as db:  # holds left by a collector that died mid-decision
            db.execute("UPDATE blobs SET held = NULL WHERE held IS NOT NULL")
        with self._conn() as db:
            found = [r.hex() for (r,) in db.execute("SELECT digest FROM blobs WHERE written < ?", (cutoff,))]
        yield from found

    def collect(
        self, digests: Iterable[str], *, referenced: Referenced, older_than: timedelta | None = None
    ) -> list[str]:
        deleted: list[str] = []
        for batch in batches(digests):
            token = uuid.uuid4().hex
            raws = [bytes.fromhex(check_digest(d)) for d in batch]
            try:
                with self._writing() as db:  # rule 3: out of reach first (a hold no other collector has)
                    db.executemany(
                        "UPDATE blobs SET held = ? WHERE digest = ? AND held IS NULL", [(token, r) for r in raws]
                    )
                    marks = ",".join("?" * len(raws))
                    held = [
                        r
                        for (r,) in db.execute(
                            f"SELECT digest FROM blobs WHERE held = ? AND digest IN ({marks})",  # noqa: S608
                            [token, *raws],
                        )
                    ]
                if not held:
                    continue
                keep = leased_in(self.root / ".leases") | referenced([r.hex() for r in held])
                cutoff = float("inf") if older_than is None else self.clock() - older_than.total_seconds()
                with self._writing() as db:
                    for r in held:
                        if r.hex() in keep:
                            continue
                        gone = db.execute(
                            "DELETE FROM blobs WHERE digest = ? AND held = ? AND written < ?", (r, token, cutoff)
                        )
                        if gone.rowcount:
                            deleted.append(r.hex())
            finally:
                with self._writing() as db:
                    db.execute("UPDATE blobs SET held = NULL WHERE held = ?", (token,))
        return deleted

    def compact(self) -> int:
        """Rewrite every closed pack whose live records fill less than ``compact_below`` of it; return the bytes
        freed. Runs under the write lock, so an import waits for it rather than racing it."""
        freed = 0
        victims: list[int] = []
        with self._writing(durable=True) as db:  # the new places must outlive the packs deleted below
            self._recover(db)
            ends = {int(p): int(e) for p, e in db.execute("SELECT pack, end_offset FROM packs")}
            if len(ends) < 2:
                return 0
            live = {
                int(p): int(n)
                for p, n in db.execute(
                    "SELECT pack, SUM(length) + COUNT(*) * ? FROM blobs GROUP BY pack", (HEADER.size,)
                )
            }
            newest = max(ends)
            victims = [p for p, end in ends.items() if p != newest and live.get(p, 0) < self.compact_below * end]
            if not victims:
                return 0
            appender = _Appender(self, db)
            try:
                for p in victims:
                    rows = db.execute("SELECT digest, offset, length FROM blobs WHERE pack = ?", (p,)).fetchall()
                    moves = []
                    for raw, offset, length in rows:
                        pack, new_offset = appender.add(raw, self._read(p, offset, length, raw))
                        moves.append((pack, new_offset, raw))
                    db.executemany("UPDATE blobs SET pack = ?, offset = ? WHERE digest = ?", moves)
                    freed += ends[p] - live.get(p, 0)
            except BaseException:
                appender.abandon()
                raise
            appender.finish()
            db.executemany("DELETE FROM packs WHERE pack = ?", [(p,) for p in victims])
        for p in victims:  # committed durably above: the old packs hold nothing the index names
            self._pack_path(p).unlink(missing_ok=True)
            with self._lock:
                fd = self._fds.pop(p, None)
                if fd is not None:
                    os.close(fd)
        self._sync_dir()
        log.info("compacted %d packs, %d bytes freed", len(victims), freed)
        return freed

    def close(self) -> None:
        with self._lock:
            for db in self._pool:
                db.close()
            for fd in self._fds.values():
                os.close(fd)
            self._reset()


def _chunks(items: list[bytes], size: int = 500) -> Iterator[list[bytes]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
