"""``copyalign signals fetch``: capture each site's opt-out files once, with their digests and fetch times.

A scan never goes to the network: it reads what was captured. This step is the crawler side of that: for
every host named by a corpus record's URL it fetches ``/robots.txt``, ``/.well-known/tdmrep.json``,
``/ai.txt`` and the RSL licence that robots.txt names (a ``License:`` line), and stores them under
``SITES/<host>/`` with ``fetch.json`` recording, per file, the URL, the HTTP status, the time and the
SHA-256 of what was stored — so that what a scan honoured can be shown later, byte for byte.

A 404 means the site says nothing (nothing is stored). Any other failure (a timeout, a 5xx, a refused
connection) is recorded as an error for that file, and the scan then *holds* the site's items rather than
treating the missing file as permission.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from copyalign.services.scan.pipeline import _host_folder

MAX_BYTES = 1 << 20  # RFC 9309 §2.5: crawlers must parse at least 500 KiB of robots.txt
PATHS = {"robots.txt": "/robots.txt", "tdmrep.json": "/.well-known/tdmrep.json", "ai.txt": "/ai.txt"}
_LICENSE = re.compile(r"^\s*license\s*:\s*(\S+)", re.I | re.M)


def hosts_of(urls: Iterable[str | None]) -> list[tuple[str, str]]:
    """(scheme, host) pairs of the URLs, each once, sorted."""
    seen: set[tuple[str, str]] = set()
    for url in urls:
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            seen.add((parts.scheme, parts.netloc.lower()))
    return sorted(seen, key=lambda p: (p[1], p[0]))


def _store(folder: Path, name: str, data: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{name}.partial"
    tmp.write_bytes(data)
    os.replace(tmp, folder / name)
    return hashlib.sha256(data).hexdigest()


def fetch_site(client: httpx.Client, scheme: str, host: str, sites: Path, *, now: datetime) -> dict[str, Any]:
    """Fetch one site's files into ``sites``; returns what ``fetch.json`` records for it."""
    folder = sites / _host_folder(host)
    base = f"{scheme}://{host}"
    record: dict[str, Any] = {"host": host, "files": {}}
    for name, path in PATHS.items():
        record["files"][name] = _get(client, base + path, folder, name, now)
    robots = folder / "robots.txt"
    if robots.is_file():
        m = _LICENSE.search(robots.read_text("utf-8", "replace"))
        if m:
            record["files"]["rsl.xml"] = _get(client, urljoin(base + "/", m.group(1)), folder, "rsl.xml", now)
    tmp = folder / "fetch.json.partial"
    folder.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, folder / "fetch.json")
    return record


def _get(client: httpx.Client, url: str, folder: Path, name: str, now: datetime) -> dict[str, Any]:
    entry: dict[str, Any] = {"url": url, "fetched_at": now.isoformat()}
    try:
        r = client.get(url, follow_redirects=True)
    except httpx.HTTPError as exc:
        entry["error"] = f"{type(exc).__name__}: {exc}"
        return entry
    entry["status"] = r.status_code
    if r.status_code in (404, 410):
        (folder / name).unlink(missing_ok=True)
        return entry
    if r.status_code >= 400:
        entry["error"] = f"HTTP {r.status_code}"
        return entry
    entry["sha256"] = _store(folder, name, r.content[:MAX_BYTES])
    entry["bytes"] = min(len(r.content), MAX_BYTES)
    return entry


__all__ = ["PATHS", "fetch_site", "hosts_of"]
