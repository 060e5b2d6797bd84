"""The blob seam: content addressed by its SHA-256, on disk by default, in memory for tests.

A blob is written (to a temporary name, fsynced, renamed) *before* the database transaction that refers to it
commits, so a committed work always has its content. A crash in between leaves at worst an unreferenced blob,
which is harmless because the address is the content's digest.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from copyalign.errors import InvalidInputError, NotFoundError

_DIGEST = re.compile(r"[0-9a-f]{64}")


def _check(digest: str) -> str:
    if not _DIGEST.fullmatch(digest):
        raise InvalidInputError(f"not a SHA-256 hex digest: {digest!r}", field="sha256")
    return digest


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256 hex digest (idempotent)."""
        ...

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        """Store several blobs, durable together when this returns."""
        ...

    def get(self, digest: str) -> bytes: ...

    def exists(self, digest: str) -> bool: ...


class MemoryBlobStore:
    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self._blobs.setdefault(digest, bytes(data))
        return digest

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        return [self.put(d) for d in items]

    def get(self, digest: str) -> bytes:
        try:
            return self._blobs[_check(digest)]
        except KeyError:
            raise NotFoundError(f"no blob {digest}") from None

    def exists(self, digest: str) -> bool:
        return _check(digest) in self._blobs


class DirectoryBlobStore:
    """``root/ab/cd/abcd…`` files; ``fsync`` can be turned off for throwaway stores (benchmarks, tests)."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync

    def _path(self, digest: str) -> Path:
        _check(digest)
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
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        # a unique temporary name in the same directory, then an atomic rename: readers never see half a blob
        tmp = path.with_name(f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
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
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no blob {digest}") from None

    def exists(self, digest: str) -> bool:
        return self._path(digest).exists()
