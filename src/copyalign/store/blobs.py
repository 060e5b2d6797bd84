"""The blob seam: content addressed by its SHA-256, on disk by default, in memory for tests.

A blob is written (to a temporary name, fsynced, renamed) *before* the database transaction that refers to it
commits, so a committed work always has its content. A crash in between leaves at worst an unreferenced blob,
which is harmless because the address is the content's digest, and which :meth:`BlobStore.collect` (``copyalign
blobs gc``) deletes once it is older than the grace period.

Collecting is safe against writers that run at the same time, by three rules that every store keeps:

1. **Writers lease.** A writer takes a :meth:`~BlobStore.lease` on the digests it is about to write *before* it
   writes them and holds it until its rows are committed (or refused). A lease whose process is gone (or, from
   another host, older than :data:`LEASE_MAX_AGE`) is a killed writer's and is ignored.
2. **A put refreshes the age.** Putting a blob that already exists touches it, so "older than the grace
   period" means "nobody wrote or re-put it within the grace period".
3. **Out of reach, then decide.** :meth:`~BlobStore.collect` first moves a candidate out of reach (a rename
   into a trash folder), *then* checks its age, the leases and the caller's ``referenced`` (the database), and
   puts it back if any of them keeps it. A writer that comes after the move finds no blob and writes it anew;
   one that came before holds a lease or touched the blob, which the check sees. A collector that dies between
   the move and the decision leaves the blob in the trash, from where :meth:`~BlobStore.get` and the next
   collection restore it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from copyalign.errors import InvalidInputError, NotFoundError

_DIGEST = re.compile(r"[0-9a-f]{64}")
#: A lease taken on another host is trusted this long (on this host, the writer's process being alive decides).
LEASE_MAX_AGE = timedelta(days=7)
#: How often a read follows a blob that collectors keep taking out of reach before it gives up.
_READ_TRIES = 8
#: How many candidates :meth:`BlobStore.collect` takes out of reach and decides at once.
COLLECT_BATCH = 500

#: Given a batch of digests, those the database still refers to (they must be kept).
Referenced = Callable[[Sequence[str]], set[str]]


def check_digest(digest: str) -> str:
    if not _DIGEST.fullmatch(digest):
        raise InvalidInputError(f"not a SHA-256 hex digest: {digest!r}", field="sha256")
    return digest


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256 hex digest (idempotent; re-putting refreshes the blob's age)."""
        ...

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        """Store several blobs, durable together when this returns."""
        ...

    def get(self, digest: str) -> bytes: ...

    def exists(self, digest: str) -> bool: ...

    def lease(self, digests: Iterable[str]) -> contextlib.AbstractContextManager[None]:
        """Keep :meth:`collect` away from ``digests`` while the block runs (write blobs, commit their rows)."""
        ...

    def stale(self, older_than: timedelta) -> Iterator[str]:
        """Digests of the blobs nobody has written or re-put within ``older_than`` (the candidates)."""
        ...

    def compact(self) -> int:
        """Give back the room that collected blobs leave inside larger files (a pack store rewrites its mostly
        dead packs); return the bytes freed. Stores that free room as they delete return 0."""
        ...

    def collect(
        self, digests: Iterable[str], *, referenced: Referenced, older_than: timedelta | None = None
    ) -> list[str]:
        """Delete those of ``digests`` that no lease holds, that ``referenced`` does not name and (when
        ``older_than`` is given) that nobody wrote within it; return the deleted digests. See the module's rules."""
        ...


def batches(items: Iterable[str], size: int = COLLECT_BATCH) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _alive(path: Path, writer: str, host: str) -> bool:
    """Whether the writer named ``writer`` (``host-pid``) may still be running; ``path`` is its lease or file.

    On this host the process decides; a writer on another host is trusted for :data:`LEASE_MAX_AGE`.
    """
    name, _, pid = writer.rpartition("-")
    if name == host and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, another user's
            return True
        return True
    return time.time() - path.stat().st_mtime < LEASE_MAX_AGE.total_seconds()


def _live(lease: Path, host: str) -> bool:
    """Whether the writer that holds ``lease`` (named ``host-pid-token.lease``) may still be running."""
    return _alive(lease, lease.name.rsplit("-", 1)[0], host)


@contextlib.contextmanager
def file_lease(folder: Path, digests: Iterable[str]) -> Iterator[None]:
    """A lease as a file in ``folder`` (one digest a line), named for its writer so that a killed writer's is
    recognised (rule 1); shared by the stores that keep blobs on disk."""
    folder.mkdir(exist_ok=True)
    path = folder / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}.lease"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{check_digest(d)}\n" for d in digests), "ascii")
    os.replace(tmp, path)  # a collector reads a whole lease or none
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def leased_in(folder: Path) -> set[str]:
    """The digests that the live leases in ``folder`` hold; removes the leases of writers that are gone."""
    out: set[str] = set()
    if not folder.is_dir():
        return out
    host = socket.gethostname()
    for lease in folder.glob("*.lease"):
        try:
            if not _live(lease, host):  # a writer that was killed holding it: its blobs age like any other
                lease.unlink(missing_ok=True)
                continue
            out.update(lease.read_text("ascii").split())
        except FileNotFoundError:  # released while we looked
            continue
    return out


class MemoryBlobStore:
    """Blobs in a dict; ``clock`` (seconds) dates the writes, so tests can age blobs without waiting."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._blobs: dict[str, bytes] = {}
        self._written: dict[str, float] = {}
        self._leases: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()
        self.clock = clock

    def put(self, data: bytes) -> str:
        digest = digest_of(data)
        with self._lock:
            self._blobs.setdefault(digest, bytes(data))
            self._written[digest] = self.clock()
        return digest

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        return [self.put(d) for d in items]

    def get(self, digest: str) -> bytes:
        try:
            return self._blobs[check_digest(digest)]
        except KeyError:
            raise NotFoundError(f"no blob {digest}") from None

    def exists(self, digest: str) -> bool:
        return check_digest(digest) in self._blobs

    @contextlib.contextmanager
    def lease(self, digests: Iterable[str]) -> Iterator[None]:
        token = uuid.uuid4().hex
        with self._lock:
            self._leases[token] = (self.clock(), frozenset(digests))
        try:
            yield
        finally:
            with self._lock:
                self._leases.pop(token, None)

    def _leased(self) -> set[str]:
        out: set[str] = set()
        for _taken, digests in self._leases.values():
            out |= digests
        return out

    def stale(self, older_than: timedelta) -> Iterator[str]:
        cutoff = self.clock() - older_than.total_seconds()
        with self._lock:
            found = [d for d, t in self._written.items() if t < cutoff]
        yield from found

    def compact(self) -> int:
        return 0  # a deleted entry frees its memory at once

    def collect(
        self, digests: Iterable[str], *, referenced: Referenced, older_than: timedelta | None = None
    ) -> list[str]:
        deleted: list[str] = []
        for batch in batches(digests):
            with self._lock:  # the lock is this store's "out of reach": no put or lease while deciding
                present = [d for d in batch if d in self._blobs]
                leased = self._leased()
                keep = referenced(present) | leased
                cutoff = None if older_than is None else self.clock() - older_than.total_seconds()
                for d in present:
                    if d in keep or (cutoff is not None and self._written.get(d, 0.0) >= cutoff):
                        continue
                    del self._blobs[d]
                    self._written.pop(d, None)
                    deleted.append(d)
        return deleted


class DirectoryBlobStore:
    """``root/ab/cd/abcd…`` files; ``fsync`` can be turned off for throwaway stores (benchmarks, tests).

    Leases are files under ``root/.leases`` (one digest a line), so that collectors and writers in other
    processes (``copyalign blobs gc`` beside a serving API) see each other; the trash is ``root/.trash``.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync

    @property
    def _lease_dir(self) -> Path:
        return self.root / ".leases"

    @property
    def _trash(self) -> Path:
        return self.root / ".trash"

    def _path(self, digest: str) -> Path:
        check_digest(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        return self._write(data, fsync=self.fsync)

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        """Write every blob, then make them durable with one ``sync`` instead of one ``fsync`` each.

        A bulk import of 10,000 works would otherwise wait for 10,000 journal commits.
        """
        if len(items) <= 1:
            return [self.put(d) for d in items]
        digests = [self._write(d, fsync=False) for d in items]
        if self.fsync:
            os.sync()
        return digests

    def _write(self, data: bytes, *, fsync: bool) -> str:
        digest = digest_of(data)
        path = self._path(digest)
        if path.exists():
            try:
                os.utime(path)  # rule 2: a re-put restarts the blob's age
                return digest
            except FileNotFoundError:  # a collector took it out of reach just now: write it anew
                pass
        path.parent.mkdir(parents=True, exist_ok=True)
        # a unique temporary name in the same directory, then an atomic rename: readers never see half a blob
        # named for its writer, so that a collector leaves it alone while that process lives (see stale)
        tmp = path.with_name(f".{digest}.{threading.get_ident()}.{socket.gethostname()}-{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                if fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str) -> bytes:
        path = self._path(digest)
        for _ in range(_READ_TRIES):
            try:
                return path.read_bytes()
            except FileNotFoundError:
                # out of reach: a collector is deciding on it (or died doing so). Put it back and read again;
                # a collector may have put it back itself between the read and the look into the trash, so
                # the blob is missing only when it is neither in its place nor in the trash.
                if not self._restore(digest) and not path.exists():
                    break
        raise NotFoundError(f"no blob {digest}")

    def exists(self, digest: str) -> bool:
        path = self._path(digest)
        return path.exists() or self._restore(digest) or path.exists()

    # -- leases and collection ---------------------------------------------------------------------------

    def lease(self, digests: Iterable[str]) -> contextlib.AbstractContextManager[None]:
        return file_lease(self._lease_dir, digests)

    def _leased(self) -> set[str]:
        return leased_in(self._lease_dir)

    def _blob_files(self) -> Iterator[Path]:
        for top in self.root.iterdir():
            if len(top.name) != 2 or not top.is_dir():
                continue
            for sub in top.iterdir():
                if sub.is_dir():
                    yield from sub.iterdir()

    def stale(self, older_than: timedelta) -> Iterator[str]:
        self._restore_all()
        cutoff = time.time() - older_than.total_seconds()
        host = socket.gethostname()
        for f in self._blob_files():
            try:
                mtime = f.stat().st_mtime
            except FileNotFoundError:
                continue
            if f.name.startswith("."):  # a temporary file: removed once its writer is gone and the grace is over
                writer = f.name.removesuffix(".tmp").split(".", 3)[-1]
                if mtime < cutoff and not _alive(f, writer, host):
                    f.unlink(missing_ok=True)
                continue
            if _DIGEST.fullmatch(f.name) and mtime < cutoff:
                yield f.name

    def compact(self) -> int:
        return 0  # a deleted file frees its room at once

    def collect(
        self, digests: Iterable[str], *, referenced: Referenced, older_than: timedelta | None = None
    ) -> list[str]:
        self._trash.mkdir(exist_ok=True)
        deleted: list[str] = []
        for batch in batches(digests):
            moved: dict[str, Path] = {}
            for d in batch:  # rule 3: out of reach first
                held = self._trash / f"{d}.{uuid.uuid4().hex}"
                try:
                    os.rename(self._path(d), held)
                except FileNotFoundError:
                    continue
                moved[d] = held
            if not moved:
                continue
            keep = self._leased() | referenced(list(moved))
            cutoff = None if older_than is None else time.time() - older_than.total_seconds()
            for d, held in moved.items():
                try:
                    young = cutoff is not None and held.stat().st_mtime >= cutoff  # re-put before the move
                    if d in keep or young:
                        self._put_back(d, held)
                    else:
                        held.unlink()
                        deleted.append(d)
                except FileNotFoundError:  # a reader restored it meanwhile: it stays
                    continue
        return deleted

    def _put_back(self, digest: str, held: Path) -> None:
        path = self._path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(held, path)  # a copy written meanwhile has the same bytes: either may win

    def _restore(self, digest: str) -> bool:
        if not self._trash.is_dir():
            return False
        found = False
        for held in self._trash.glob(f"{check_digest(digest)}.*"):
            with contextlib.suppress(FileNotFoundError):
                self._put_back(digest, held)
                found = True
        return found

    def _restore_all(self) -> None:
        """Put back whatever a collector that died mid-decision left in the trash."""
        if self._trash.is_dir():
            for held in list(self._trash.iterdir()):
                digest = held.name.split(".", 1)[0]
                if _DIGEST.fullmatch(digest):
                    with contextlib.suppress(FileNotFoundError):
                        self._put_back(digest, held)
