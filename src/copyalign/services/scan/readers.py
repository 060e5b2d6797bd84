"""Reading a training corpus as shards of records, and writing back the records a scan kept.

A corpus is a folder. Inside it, each JSONL, Parquet or WebDataset ``.tar`` file is a shard; loose text and
image files are grouped into shards of :data:`FILES_PER_SHARD` files in sorted order. A shard is the unit of
parallel work and of resumption, and its id (its path inside the corpus, plus a number for file groups) is
stable across runs of the same corpus.

Nothing outside the corpus root is ever read: a symlink that resolves outside it, a tar member named with
``..`` or an absolute path, a tar member that is a symbolic or hard link or a device, is refused and listed in
the report's ``refused_paths`` with why, never followed and never an item.

Record fields, by format (missing ones are ``None``):

* JSONL / Parquet: ``text`` (configurable), ``url``, ``fetched_at`` (or ``fetch_time``, ``date``,
  ``timestamp``), ``headers`` (an object of captured HTTP response headers), ``license`` (or ``licence``),
  ``html`` (the page before text extraction), ``id``;
* loose files: the file itself (``.html`` pages have their text extracted), and an optional sidecar
  ``NAME.meta.json`` with the same fields as a JSONL record;
* WebDataset: samples grouped by key; the image member (``jpg``, ``png``, ``webp``…), the caption (``txt``)
  and metadata (``json``, fields as above).
"""

from __future__ import annotations

import html as htmllib
import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copyalign.errors import CorruptShardError, InvalidInputError

FILES_PER_SHARD = 1000
TEXT_SUFFIXES = frozenset({".txt", ".md", ".html", ".htm", ".xml", ".json"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp"})
WDS_IMAGE = ("jpg", "jpeg", "png", "webp", "gif", "tif", "tiff", "bmp")
SKIP_DIRS = frozenset({".copyalign-sites", ".git"})
_TIME_FIELDS = ("fetched_at", "fetch_time", "date", "timestamp")


@dataclass(frozen=True, slots=True)
class Shard:
    id: str  # stable across runs: the path inside the corpus, ``#n`` for the n-th group of loose files
    format: str  # jsonl | parquet | wds | files
    path: str  # relative to the corpus root (the folder, for loose files)
    members: tuple[str, ...] = ()  # loose files: their paths relative to the root


@dataclass(slots=True)
class Record:
    id: str
    kind: str  # text | image
    data: bytes
    url: str | None = None
    fetched_at: str | None = None
    headers: dict[str, str] | None = None
    licence: str | None = None
    html: str | None = None
    caption: str | None = None
    error: str | None = None  # why the record could not be read; it is then dropped as unreadable
    source_id: str | None = None  # the record's own id field, kept in the manifest
    refused: str | None = None  # why the member was refused (not a record: listed in refused_paths)


@dataclass(frozen=True, slots=True)
class Listing:
    shards: list[Shard]
    refused: list[tuple[str, str]]  # (path, why)


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def list_corpus(root: Path, *, files_per_shard: int = FILES_PER_SHARD) -> Listing:
    """The corpus's shards in a stable order, and the paths refused (outside the root, unknown kinds)."""
    root = root.resolve()
    if not root.is_dir():
        raise InvalidInputError(f"corpus {root} is not a folder", field="corpus")
    shards: list[Shard] = []
    refused: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        kept_dirs = []
        for d in sorted(dirnames):
            if d in SKIP_DIRS:
                continue
            full = here / d
            if full.is_symlink():
                if not _inside(root, full):
                    refused.append((str(full.relative_to(root)), "symlink to a folder outside the corpus root"))
                    continue
                refused.append((str(full.relative_to(root)), "symlinked folder (not followed; list its target)"))
                continue
            kept_dirs.append(d)
        dirnames[:] = kept_dirs
        loose: list[str] = []
        for name in sorted(filenames):
            full = here / name
            rel = str(full.relative_to(root))
            if full.is_symlink() and not _inside(root, full):
                refused.append((rel, "symlink to a file outside the corpus root"))
                continue
            lower = name.lower()
            if lower.endswith(".meta.json"):
                continue
            if lower.endswith(".jsonl"):
                shards.append(Shard(rel, "jsonl", rel))
            elif lower.endswith(".parquet"):
                shards.append(Shard(rel, "parquet", rel))
            elif lower.endswith(".tar"):
                shards.append(Shard(rel, "wds", rel))
            elif Path(lower).suffix in TEXT_SUFFIXES | IMAGE_SUFFIXES:
                loose.append(rel)
            else:
                refused.append((rel, f"unknown kind of file ({Path(name).suffix or 'no suffix'})"))
        folder = str(here.relative_to(root))
        for n, i in enumerate(range(0, len(loose), files_per_shard)):
            shards.append(Shard(f"{folder}#{n}", "files", folder, tuple(loose[i : i + files_per_shard])))
    shards.sort(key=lambda s: s.id)
    return Listing(shards, refused)


# -- reading ------------------------------------------------------------------------------------------------

_SCRIPT = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"<(?:br|p|div|li|h[1-6]|tr|section|article)\b[^>]*>", re.I)
_SPACES = re.compile(r"[ \t\r\f\v]+")


def html_text(page: str) -> str:
    """The visible text of an HTML page, good enough to find registered passages in (not a renderer)."""
    body = _SCRIPT.sub(" ", page)
    body = _BLOCK.sub("\n", body)
    body = htmllib.unescape(_TAG.sub(" ", body))
    return "\n".join(line.strip() for line in _SPACES.sub(" ", body).splitlines() if line.strip())


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


def _fields(rec: Record, meta: Mapping[str, Any]) -> None:
    rec.url = _str(meta.get("url"))
    rec.fetched_at = next((_str(meta[k]) for k in _TIME_FIELDS if meta.get(k) is not None), None)
    headers = meta.get("headers")
    if isinstance(headers, str):  # Parquet writers often store the headers object as a JSON string
        try:
            headers = json.loads(headers)
        except ValueError:
            headers = None
    if isinstance(headers, Mapping):
        rec.headers = {
            str(k): str(v) if not isinstance(v, list) else ", ".join(map(str, v)) for k, v in headers.items()
        }
    rec.licence = _str(meta.get("license", meta.get("licence")))
    html = meta.get("html")
    rec.html = html if isinstance(html, str) else None


def _from_mapping(rid: str, obj: Mapping[str, Any], text_field: str) -> Record:
    text = obj.get(text_field)
    html = obj.get("html")
    if not isinstance(text, str) and isinstance(html, str):
        text = html_text(html)
    if not isinstance(text, str):
        return Record(rid, "text", b"", error=f"no {text_field!r} string field")
    rec = Record(rid, "text", text.encode("utf-8", "surrogatepass"))
    _fields(rec, obj)
    if obj.get("id") is not None:
        rec.source_id = str(obj["id"])
    return rec


def _read_jsonl(path: Path, shard: Shard, text_field: str) -> Iterator[Record]:
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            rid = f"{shard.id}#{n}"
            try:
                obj = json.loads(line)
            except (ValueError, UnicodeDecodeError) as exc:
                yield Record(rid, "text", b"", error=f"line {n} is not JSON: {exc}")
                continue
            if not isinstance(obj, dict):
                yield Record(rid, "text", b"", error=f"line {n} is not a JSON object")
                continue
            yield _from_mapping(rid, obj, text_field)


def _read_parquet(path: Path, shard: Shard, text_field: str) -> Iterator[Record]:
    import pyarrow.lib
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        if text_field not in pf.schema_arrow.names and "html" not in pf.schema_arrow.names:
            raise CorruptShardError(f"shard {shard.id} has no {text_field!r} column", field="corpus")
        n = 0
        for batch in pf.iter_batches(batch_size=2048):
            for row in batch.to_pylist():
                yield _from_mapping(f"{shard.id}#{n}", row, text_field)
                n += 1
    except (OSError, pyarrow.lib.ArrowException) as exc:
        raise CorruptShardError(f"shard {shard.id} is not a readable Parquet file: {exc}", field="corpus") from None


def _safe_member(name: str) -> bool:
    parts = Path(name).parts
    return not name.startswith("/") and ".." not in parts


def _refusal(member: tarfile.TarInfo) -> str | None:
    """Why a tar member is refused, or None for a regular file or a folder (which holds no content)."""
    if member.issym():
        return f"symbolic link member (to {member.linkname[:120]!r}): not followed"
    if member.islnk():
        return f"hard link member (to {member.linkname[:120]!r}): not followed"
    if not (member.isfile() or member.isdir()):
        return "not a regular file (a device, FIFO or other special member)"
    if not _safe_member(member.name):
        return "member path leaves the shard (absolute or with ..)"
    return None


def _wds_key(name: str) -> tuple[str, str]:
    base = name.rsplit("/", 1)[-1]
    prefix = name[: len(name) - len(base)]
    stem, _, ext = base.partition(".")
    return prefix + stem, ext.lower()


def _read_wds(path: Path, shard: Shard) -> Iterator[Record]:
    try:
        with tarfile.open(path, "r:") as tar:
            group: dict[str, bytes] = {}
            key: str | None = None
            bad: list[tuple[str, str]] = []
            for member in tar:
                why = _refusal(member)
                if why is not None:
                    bad.append((member.name, why))
                    continue
                if member.isdir():
                    continue
                k, ext = _wds_key(member.name)
                if key is not None and k != key:
                    yield _wds_record(shard, key, group)
                    group = {}
                key = k
                fh = tar.extractfile(member)
                group[ext] = fh.read() if fh else b""
            if key is not None:
                yield _wds_record(shard, key, group)
            for name, why in bad:
                yield Record(f"{shard.id}:{name}", "image", b"", refused=why)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CorruptShardError(f"shard {shard.id} is not a readable tar file: {exc}", field="corpus") from None


def _wds_record(shard: Shard, key: str, group: dict[str, bytes]) -> Record:
    rid = f"{shard.id}:{key}"
    image = next((group[e] for e in WDS_IMAGE if e in group), None)
    caption = group.get("txt")
    rec = Record(rid, "image", image or b"")
    if image is None:
        if caption is None:
            rec.error = "sample has neither an image nor a caption"
        else:
            rec.kind, rec.data = "text", caption
    if caption is not None and image is not None:
        rec.caption = caption.decode("utf-8", "replace")
    if "json" in group:
        try:
            meta = json.loads(group["json"])
        except ValueError:
            meta = None
        if isinstance(meta, dict):
            _fields(rec, meta)
        else:
            rec.error = rec.error or "sample metadata (json) is not a JSON object"
    return rec


def _read_files(root: Path, shard: Shard) -> Iterator[Record]:
    for rel in shard.members:
        full = root / rel
        suffix = full.suffix.lower()
        kind = "image" if suffix in IMAGE_SUFFIXES else "text"
        try:
            data = full.read_bytes()
        except OSError as exc:
            yield Record(rel, kind, b"", error=f"cannot read: {exc.strerror or exc}")
            continue
        rec = Record(rel, kind, data)
        side = full.with_name(full.name + ".meta.json")
        if not side.exists():
            side = full.with_suffix(".meta.json")
        if side.exists() and _inside(root, side):
            try:
                meta = json.loads(side.read_text())
                if isinstance(meta, dict):
                    _fields(rec, meta)
            except (ValueError, OSError):
                rec.error = f"sidecar {side.name} is not a JSON object"
        if suffix in (".html", ".htm"):
            page = data.decode("utf-8", "replace")
            rec.html = page
            rec.data = html_text(page).encode()
        yield rec


def read_shard(root: Path, shard: Shard, *, text_field: str = "text") -> Iterator[Record]:
    """The records of one shard in a stable order.

    Raises:
        CorruptShardError: the shard cannot be read as a whole; the scan records it and goes on.
    """
    path = root / shard.path
    if shard.format == "jsonl":
        return _read_jsonl(path, shard, text_field)
    if shard.format == "parquet":
        return _read_parquet(path, shard, text_field)
    if shard.format == "wds":
        return _read_wds(path, shard)
    return _read_files(root, shard)


# -- writing what was kept ------------------------------------------------------------------------------


def _tmp(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(path.name + ".partial")


def write_kept(root: Path, shard: Shard, keep: set[str], out: Path) -> int:
    """Write the shard's kept records under ``out`` in the input's own format; returns how many.

    Each file is written beside its final name and renamed into place, so an interrupted run never leaves a
    half shard that looks finished.
    """
    src = root / shard.path
    if shard.format == "jsonl":
        dest = out / shard.path
        tmp, n = _tmp(dest), 0
        with open(src, "rb") as fh, open(tmp, "wb") as w:
            for i, line in enumerate(fh, 1):
                if f"{shard.id}#{i}" in keep:
                    w.write(line if line.endswith(b"\n") else line + b"\n")
                    n += 1
        os.replace(tmp, dest)
        return n
    if shard.format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(src)
        mask = pa.array([f"{shard.id}#{i}" in keep for i in range(table.num_rows)])
        kept = table.filter(mask)
        dest = out / shard.path
        tmp = _tmp(dest)
        pq.write_table(kept, tmp)
        os.replace(tmp, dest)
        return int(kept.num_rows)
    if shard.format == "wds":
        dest = out / shard.path
        tmp, keys = _tmp(dest), set()
        with tarfile.open(src, "r:") as tar, tarfile.open(tmp, "w:") as w:
            for member in tar:
                if not member.isfile() or not _safe_member(member.name):
                    continue
                key, _ = _wds_key(member.name)
                if f"{shard.id}:{key}" in keep:
                    member_fh = tar.extractfile(member)
                    w.addfile(member, io.BytesIO(member_fh.read() if member_fh else b""))
                    keys.add(key)
        os.replace(tmp, dest)
        return len(keys)
    n = 0
    for rel in shard.members:
        if rel in keep:
            dest = out / rel
            tmp = _tmp(dest)
            shutil.copyfile(root / rel, tmp)
            os.replace(tmp, dest)
            n += 1
    return n
