"""``copyalign signals fetch``: capture each site's opt-out files once, with their digests and fetch times.

A scan never goes to the network: it reads what was captured. This step is the crawler side of that: for
every host named by a corpus record's URL it fetches ``/robots.txt``, ``/.well-known/tdmrep.json``,
``/ai.txt`` and the RSL licence that robots.txt names (a ``License:`` line), and stores them under
``SITES/<host>/`` with ``fetch.json`` recording, per file, the URL, the HTTP status, the time and the
SHA-256 of what was stored — so that what a scan honoured can be shown later, byte for byte.

A 404 means the site says nothing (nothing is stored). Any other failure (a timeout, a 5xx, a refused
connection) is recorded as an error for that file, and the scan then *holds* the site's items rather than
treating the missing file as permission. A site never fetched at all holds its items too
(``signals:not-captured``).

:class:`SiteFetcher` is the one way both ``signals fetch`` and ``scan --fetch-signals`` go to the network:

* **politeness** — one request at a time, identified by the user-agent the caller names, at least ``delay``
  seconds between two requests to the same site (and more when its robots.txt asks for a ``Crawl-delay``, up to
  ``max_delay``), redirects limited, every request with a timeout;
* **caching** — a site whose capture is younger than ``max_age`` (24 hours by default, RFC 9309 §2.4: a crawler
  should not use a cached robots.txt for longer) is not fetched again; a capture that recorded an error is
  retried.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from copyalign.clock import Clock
from copyalign.errors import CorruptShardError
from copyalign.services.scan.pipeline import _host_folder
from copyalign.services.scan.readers import Listing, read_shard

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


def fetch_site(
    client: httpx.Client,
    scheme: str,
    host: str,
    sites: Path,
    *,
    now: datetime,
    pause: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fetch one site's files into ``sites``; returns what ``fetch.json`` records for it. ``pause`` is called
    with the host before every request after the first (the fetcher's politeness)."""
    folder = sites / _host_folder(host)
    base = f"{scheme}://{host}"
    record: dict[str, Any] = {"host": host, "scheme": scheme, "files": {}}
    first = True
    for name, path in PATHS.items():
        if pause is not None and not first:
            pause(host)
        first = False
        record["files"][name] = _get(client, base + path, folder, name, now)
    robots = folder / "robots.txt"
    if robots.is_file():
        m = _LICENSE.search(robots.read_text("utf-8", "replace"))
        if m:
            if pause is not None:
                pause(host)
            record["files"]["rsl.xml"] = _get(client, urljoin(base + "/", m.group(1)), folder, "rsl.xml", now)
    tmp = folder / "fetch.json.partial"
    folder.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, folder / "fetch.json")
    return record


def _get(client: httpx.Client, url: str, folder: Path, name: str, now: datetime) -> dict[str, Any]:
    entry: dict[str, Any] = {"url": url, "fetched_at": now.isoformat()}
    try:
        with client.stream("GET", url, follow_redirects=True) as r:
            entry["status"] = r.status_code
            body = b""
            if r.status_code < 400:
                for chunk in r.iter_bytes():  # read no more than the limit, however much the site sends
                    body += chunk
                    if len(body) >= MAX_BYTES:
                        break
    except httpx.HTTPError as exc:
        entry["error"] = f"{type(exc).__name__}: {exc}"
        return entry
    if entry["status"] in (404, 410):
        (folder / name).unlink(missing_ok=True)
        return entry
    if entry["status"] >= 400:
        entry["error"] = f"HTTP {entry['status']}"
        return entry
    entry["sha256"] = _store(folder, name, body[:MAX_BYTES])
    entry["bytes"] = min(len(body), MAX_BYTES)
    return entry


_CRAWL_DELAY = re.compile(r"^\s*crawl-delay\s*:\s*([0-9]+(?:\.[0-9]+)?)", re.I | re.M)


def crawl_delay(robots: str) -> float | None:
    """The largest ``Crawl-delay`` a robots.txt asks for (a common extension, not RFC 9309), or None."""
    found = [float(m.group(1)) for m in _CRAWL_DELAY.finditer(robots)]
    return max(found) if found else None


def capture_age(sites: Path, host: str, now: datetime) -> timedelta | None:
    """How old the site's capture is (its oldest fetch); None when it has none, or when it recorded an error
    (to be retried) or cannot be read. A capture made by hand (files without ``fetch.json``) counts as fresh."""
    folder = sites / _host_folder(host)
    if not folder.is_dir():
        return None
    record = folder / "fetch.json"
    if not record.is_file():
        present = any((folder / name).is_file() for name in (*PATHS, "rsl.xml"))
        return timedelta(0) if present else None
    try:
        files = json.loads(record.read_text()).get("files", {})
        if not files or any(e.get("error") for e in files.values()):
            return None
        oldest = min(datetime.fromisoformat(e["fetched_at"]) for e in files.values())
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return now - oldest


@dataclass
class SiteFetcher:
    """Captures sites' opt-out files politely and reuses fresh captures (see the module docstring).

    Example (in tests, an in-memory transport and no sleeping)::

        fetcher = SiteFetcher(httpx.Client(transport=httpx.MockTransport(handler)), clock, sleep=lambda s: None)
        fetcher.capture([("https", "example.org")], Path("sites"))
    """

    client: httpx.Client
    clock: Clock
    delay: float = 1.0
    max_delay: float = 30.0
    max_age: timedelta = timedelta(hours=24)
    sleep: Callable[[float], None] = time.sleep
    _last: dict[str, float] = field(default_factory=dict)
    _waits: dict[str, float] = field(default_factory=dict)

    @classmethod
    def over_http(
        cls, *, clock: Clock, agent: str, timeout: float = 10.0, delay: float = 1.0, max_age_hours: float = 24.0
    ) -> SiteFetcher:
        """The production fetcher: a real HTTP client naming ``agent``, at most 5 redirects."""
        client = httpx.Client(timeout=timeout, headers={"User-Agent": agent}, max_redirects=5)
        return cls(client, clock, delay=delay, max_age=timedelta(hours=max_age_hours))

    def close(self) -> None:
        self.client.close()

    def _pause(self, host: str) -> None:
        wait = self._waits.get(host, self.delay)
        last = self._last.get(host)
        if last is not None:
            left = wait - (time.monotonic() - last)
            if left > 0:
                self.sleep(left)
        self._last[host] = time.monotonic()

    def capture(self, hosts: Iterable[tuple[str, str]], sites: Path, *, refresh: bool = False) -> list[dict[str, Any]]:
        """Fetch every site of ``hosts`` whose capture is missing, failed or older than ``max_age`` (all of them
        with ``refresh``); returns one record per site, ``cached: true`` for those reused."""
        out: list[dict[str, Any]] = []
        now = self.clock.now()
        for scheme, host in hosts:
            age = capture_age(sites, host, now)
            if not refresh and age is not None and age <= self.max_age:
                out.append({"host": host, "cached": True, "age_seconds": int(age.total_seconds())})
                continue
            self._last[host] = time.monotonic()
            self._waits[host] = self.delay
            rec = fetch_site(self.client, scheme, host, sites, now=now, pause=self._polite(sites))
            out.append({**rec, "cached": False})
        return out

    def _polite(self, sites: Path) -> Callable[[str], None]:
        def pause(host: str) -> None:
            robots = sites / _host_folder(host) / "robots.txt"
            if robots.is_file():
                asked = crawl_delay(robots.read_text("utf-8", "replace"))
                if asked is not None:
                    self._waits[host] = min(self.max_delay, max(self.delay, asked))
            self._pause(host)

        return pause


def corpus_hosts(root: Path, listing: Listing, *, text_field: str = "text") -> list[tuple[str, str]]:
    """The (scheme, host) of every web URL in the corpus (shards that cannot be read are skipped: the scan
    reports them)."""
    urls: set[str] = set()
    for shard in listing.shards:
        try:
            urls.update(r.url for r in read_shard(root, shard, text_field=text_field) if r.url)
        except CorruptShardError:
            continue
    return hosts_of(urls)


__all__ = ["PATHS", "SiteFetcher", "capture_age", "corpus_hosts", "crawl_delay", "fetch_site", "hosts_of"]
