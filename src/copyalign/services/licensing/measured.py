"""Reading a logged scan's manifest for a measured usage report.

The manifest a scan writes is committed to by the scan's log entry (``scan.record``: ``manifest_sha256``), so a
usage report measured from it cannot rest on an edited file: the bytes given here must hash to the digest the
log holds, the entry must be a scan recorded for the notice's developer, and only then are its rows measured
(:func:`copyalign.core.licensing.measure.measure`). The scan's own files (``scan.json``, ``usage.json``) are
conveniences; the manifest and the log are the evidence.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from copyalign.errors import InvalidInputError, NotFoundError
from copyalign.store.models import LogEntry

MANIFEST_COLUMNS = ("kind", "tokens", "bytes", "decision", "reasons", "matched_works")


@dataclass(frozen=True, slots=True)
class ScanManifest:
    """A scan's manifest as given by the developer (its bytes) and the log entry it claims to be."""

    log_index: int
    data: bytes

    @classmethod
    def from_dir(cls, out: Path) -> ScanManifest:
        """The manifest of the scan written to ``out`` (``copyalign scan --out OUT``), with its log index."""
        try:
            record = json.loads((out / "scan.json").read_text("utf-8"))
            data = (out / "manifest.parquet").read_bytes()
        except OSError as exc:
            raise InvalidInputError(
                f"{out} is not a scan's output folder: {exc.strerror or exc}", field="scan"
            ) from exc
        except ValueError as exc:
            raise InvalidInputError(f"{out}/scan.json is not JSON", field="scan") from exc
        index = record.get("log_index") if isinstance(record, dict) else None
        if not isinstance(index, int):
            raise InvalidInputError(f"{out}/scan.json names no log entry", field="scan")
        return cls(index, data)


def verified_rows(session: Session, manifest: ScanManifest, *, developer_id: str) -> tuple[dict[str, Any], list[Any]]:
    """The scan's log payload and its manifest's rows, once the manifest is proven to be the one logged."""
    row = session.get(LogEntry, manifest.log_index)
    if row is None:
        raise NotFoundError(f"no log entry {manifest.log_index}", field="scan_log_index")
    if row.event != "scan.record" or row.payload is None:
        raise InvalidInputError(f"log entry {manifest.log_index} is not a recorded scan", field="scan_log_index")
    payload = json.loads(bytes(row.payload))
    if payload.get("developer") != developer_id:
        raise InvalidInputError(
            f"scan {payload.get('scan')} was not recorded for the notice's developer {developer_id}",
            field="scan_log_index",
        )
    digest = hashlib.sha256(manifest.data).hexdigest()
    if digest != payload.get("manifest_sha256"):
        raise InvalidInputError(
            f"the manifest given (sha256 {digest[:16]}…) is not the one scan {payload.get('scan')} logged "
            f"({str(payload.get('manifest_sha256'))[:16]}…)",
            field="manifest",
        )
    import pyarrow.lib
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(manifest.data), columns=list(MANIFEST_COLUMNS))
    except (pyarrow.lib.ArrowException, OSError) as exc:
        raise InvalidInputError(f"the manifest cannot be read: {exc}", field="manifest") from exc
    return payload, table.to_pylist()


__all__ = ["MANIFEST_COLUMNS", "ScanManifest", "verified_rows"]
