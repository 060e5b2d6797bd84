"""Files written so that a crash never leaves a half report under its final name, with digests to log.

The protocol of the audit report (:mod:`copyalign.services.audit.report`), shared by the transparency report
and the dossier: every file is written and flushed to disk under ``<name>.partial``; its SHA-256 and a
``SHA256SUMS`` file (the format ``sha256sum -c`` reads) are computed from the bytes; the desk enters the
digest of ``SHA256SUMS`` — one digest that commits to every file — in the transparency log, and only then
:meth:`Staged.publish` renames them, ``SHA256SUMS`` last. So a file under its final name is always whole, and
anyone holding the files checks them against the log with ``sha256sum SHA256SUMS`` and ``sha256sum -c
SHA256SUMS``. A crash before publication leaves only ``.partial`` files, which :meth:`Staged.discard` (or the
next staging into the same folder) removes or replaces.

Example:
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> staged = stage(out, {"a.json": b"{}"})
    >>> sorted(p.name for p in out.iterdir())
    ['SHA256SUMS.partial', 'a.json.partial']
    >>> staged.publish()
    >>> sorted(p.name for p in out.iterdir())
    ['SHA256SUMS', 'a.json']
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from copyalign.errors import InvalidInputError

__all__ = ["SUMS", "Staged", "stage", "sums"]

SUMS = "SHA256SUMS"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Staged:
    """Files written under ``.partial`` names, not yet published.

    ``digests`` maps each file's name to its SHA-256 (hex); ``sha256`` is the SHA-256 of ``SHA256SUMS``, the
    one digest to seal into the log.
    """

    directory: Path
    digests: Mapping[str, str]
    sha256: str

    @property
    def names(self) -> tuple[str, ...]:
        return (*sorted(self.digests), SUMS)

    def publish(self) -> None:
        """Rename every file to its final name, ``SHA256SUMS`` last, and make the renames durable."""
        for name in self.names:
            os.replace(self.directory / f"{name}.partial", self.directory / name)
        _sync_dir(self.directory)

    def discard(self) -> None:
        for name in self.names:
            (self.directory / f"{name}.partial").unlink(missing_ok=True)


def sums(digests: Mapping[str, str]) -> bytes:
    """``SHA256SUMS``: one ``<hex>  <name>`` line per file, sorted by name."""
    return "".join(f"{digests[name]}  {name}\n" for name in sorted(digests)).encode("ascii")


def stage(directory: Path, files: Mapping[str, bytes]) -> Staged:
    """Write ``files`` under ``directory`` as ``<name>.partial`` (flushed to disk), with ``SHA256SUMS``."""
    if not files:
        raise InvalidInputError("nothing to write", field="files")
    for name in files:
        if not _NAME.match(name) or name == SUMS or name.endswith(".partial"):
            raise InvalidInputError(f"{name!r} is not a plain file name", field="files")
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    summary = sums(digests)
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in (*files.items(), (SUMS, summary)):
        _write_synced(directory / f"{name}.partial", data)
    return Staged(directory, dict(sorted(digests.items())), hashlib.sha256(summary).hexdigest())


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # a platform that cannot open directories (Windows): the renames stand as they are
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
