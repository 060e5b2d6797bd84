"""The pack blob store: crashes mid-append, recovery, compaction beside imports (issue 23).

The behaviour every blob store shares (leases, gc beside imports, re-puts) is tested over all stores in
``test_blob_gc.py``; this file holds what only packs have.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from copyalign.context import connect
from copyalign.errors import ConfigurationError, NotFoundError, StoreUnavailableError
from copyalign.settings import Settings
from copyalign.store.blobs import digest_of
from copyalign.store.packs import HEADER, MAGIC, PackBlobStore


def blobs(n: int, tag: str, size: int = 300) -> list[bytes]:
    return [(f"{tag} {i} ".encode() * size)[:size] for i in range(n)]


def packs(root: Path) -> list[Path]:
    return sorted((root / "packs").iterdir())


def recorded_ends(root: Path) -> dict[int, int]:
    with sqlite3.connect(root / "index.sqlite") as db:
        return dict(db.execute("SELECT pack, end_offset FROM packs").fetchall())


def none(batch: object) -> set[str]:
    return set()


def test_blobs_span_packs_and_survive_a_reopen(tmp_path: Path) -> None:
    store = PackBlobStore(tmp_path, fsync=False, pack_bytes=4096)
    data = blobs(60, "spanning")
    digests = store.put_many(data)
    assert digests == [digest_of(d) for d in data]
    assert store.put_many(data[:3]) == digests[:3]  # idempotent: no second copy
    assert len(packs(tmp_path)) > 3
    store.close()
    assert store.get(digests[0]) == data[0]  # a closed store opens its index and packs again when used
    again = PackBlobStore(tmp_path, fsync=False, pack_bytes=4096)
    assert [again.get(d) for d in digests] == data
    assert sum(p.stat().st_size for p in packs(tmp_path)) == sum(HEADER.size + len(d) for d in data)
    with pytest.raises(NotFoundError):
        again.get(digest_of(b"never written"))


def test_a_torn_append_harms_no_earlier_blob(tmp_path: Path) -> None:
    store = PackBlobStore(tmp_path, fsync=False)
    data = blobs(10, "before the tear")
    digests = store.put_many(data)
    [pack] = packs(tmp_path)
    committed = pack.stat().st_size
    torn = b"torn record " * 50
    with open(pack, "ab") as fh:  # a writer killed half-way through a record
        fh.write(HEADER.pack(MAGIC, bytes.fromhex(digest_of(torn)), len(torn)) + torn[:100])
    store.close()
    store = PackBlobStore(tmp_path, fsync=False)
    assert pack.stat().st_size == committed  # cut at the last whole record
    assert [store.get(d) for d in digests] == data
    with pytest.raises(NotFoundError):
        store.get(digest_of(torn))
    later = store.put(b"written after the tear")
    assert store.get(later) == b"written after the tear" and store.get(digests[-1]) == data[-1]


def test_whole_records_past_the_index_are_recovered(tmp_path: Path) -> None:
    """The packs are the truth: a record fsynced whose index row was lost (power cut) is found again."""
    store = PackBlobStore(tmp_path, fsync=False)
    store.put(b"indexed")
    lost = b"appended and synced, then the index commit was lost"
    [pack] = packs(tmp_path)
    with open(pack, "ab") as fh:
        fh.write(HEADER.pack(MAGIC, bytes.fromhex(digest_of(lost)), len(lost)) + lost)
        fh.write(HEADER.pack(MAGIC, b"\0" * 32, 5) + b"wrong")  # bytes that do not match their digest
    store.close()
    store = PackBlobStore(tmp_path, fsync=False)
    assert store.get(digest_of(lost)) == lost
    assert recorded_ends(tmp_path)[1] == pack.stat().st_size


def test_a_damaged_pack_is_reported_not_served(tmp_path: Path) -> None:
    store = PackBlobStore(tmp_path, fsync=False)
    d = store.put(b"a blob whose header will be overwritten")
    [pack] = packs(tmp_path)
    with open(pack, "r+b") as fh:
        fh.write(b"XXXX")
    with pytest.raises(StoreUnavailableError, match="damaged"):
        store.get(d)


CHILD = textwrap.dedent(
    """
    import json, sys, time
    from copyalign.store.packs import PackBlobStore

    store = PackBlobStore(sys.argv[1], pack_bytes=200_000)
    for n in range(3):
        batch = [f"committed {n} {i} ".encode() * 400 for i in range(40)]
        print(json.dumps(store.put_many(batch)), flush=True)

    class SlowSecondPass(list):
        passes = 0

        def __iter__(self):
            SlowSecondPass.passes += 1
            for i, item in enumerate(super().__iter__()):
                if SlowSecondPass.passes == 2 and i == 25:
                    print("mid-append", flush=True)
                    time.sleep(120)
                yield item

    store.put_many(SlowSecondPass(f"never committed {i} ".encode() * 400 for i in range(60)))
    """
)


def test_kill_9_mid_append_loses_nothing_committed(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root)], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    committed: list[str] = []
    for _ in range(3):
        committed += json.loads(child.stdout.readline())
    assert child.stdout.readline().strip() == "mid-append"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    ends = recorded_ends(root)
    assert sum(p.stat().st_size for p in packs(root)) > sum(ends.values())  # a tail no index row names
    store = PackBlobStore(root)
    for n, d in enumerate(committed):
        assert store.get(d) == f"committed {n // 40} {n % 40} ".encode() * 400
    assert {p.name: p.stat().st_size for p in packs(root)} == {
        f"pack-{p:08d}.pack": e for p, e in recorded_ends(root).items()
    }
    after = store.put_many([b"after the crash " * 100, b"and another"])
    assert store.get(after[0]) == b"after the crash " * 100
    # the records the killed writer finished are orphans: young now, collected once the grace period is over
    orphans = set(store.stale(timedelta(0))) - set(committed) - set(after)
    assert len(orphans) == 25
    assert set(store.collect(orphans, referenced=none)) == orphans


def test_compaction_rewrites_mostly_dead_packs(tmp_path: Path) -> None:
    store = PackBlobStore(tmp_path, fsync=False, pack_bytes=8192)
    data = blobs(100, "compacted")
    digests = store.put_many(data)
    before = sum(p.stat().st_size for p in packs(tmp_path))
    assert store.compact() == 0  # nothing dead yet
    keep = set(digests[::5])
    assert len(store.collect(digests, referenced=lambda batch: keep & set(batch))) == 80
    freed = store.compact()
    after = sum(p.stat().st_size for p in packs(tmp_path))
    assert freed > 0 and after < before / 2
    assert [store.get(d) for d in digests[::5]] == data[::5]
    assert not any(store.exists(d) for d in digests if d not in keep)
    store.close()
    again = PackBlobStore(tmp_path, fsync=False, pack_bytes=8192)
    assert [again.get(d) for d in digests[::5]] == data[::5]


def test_compaction_and_collection_beside_imports_lose_nothing(tmp_path: Path) -> None:
    """Importers lease, write and "commit" (into a set the collector consults); a collector with no grace
    period collects and compacts all the while. Every committed blob stays readable."""
    store = PackBlobStore(tmp_path, fsync=False, pack_bytes=16_384)
    committed: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def referenced(batch: list[str]) -> set[str]:
        with lock:
            return committed & set(batch)

    def collector() -> None:
        while not stop.is_set():
            try:
                store.collect(list(store.stale(timedelta(0))), referenced=referenced)
                store.compact()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    def importer(n: int) -> None:
        try:
            for round_ in range(15):
                data = blobs(20, f"import {n} round {round_ % 5}")  # rounds repeat: re-puts of collected blobs
                digests = [digest_of(d) for d in data]
                with store.lease(digests):
                    store.put_many(data)
                    if round_ % 3:  # some imports are refused and commit nothing
                        with lock:
                            committed.update(digests)
                for d, b in zip(digests, data, strict=True):
                    if round_ % 3:
                        assert store.get(d) == b
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=collector)] + [threading.Thread(target=importer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    assert errors == []
    for d in committed:
        assert digest_of(store.get(d)) == d


def test_a_collector_that_died_holding_blobs_loses_nothing(tmp_path: Path) -> None:
    store = PackBlobStore(tmp_path, fsync=False)
    held, other = store.put_many([b"held by a collector that was killed", b"also held"])
    with store._writing() as db:
        db.execute("UPDATE blobs SET held = 'dead-collector'")
    assert store.get(held) == b"held by a collector that was killed"  # a read takes it back
    assert set(store.stale(timedelta(0))) == {held, other}  # stale clears the rest
    with store._conn() as db:
        assert db.execute("SELECT COUNT(*) FROM blobs WHERE held IS NOT NULL").fetchone()[0] == 0


def test_the_setting_selects_the_pack_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="COPYALIGN_BLOB_STORE"):
        Settings.from_env({"COPYALIGN_BLOB_STORE": "tarball"})
    settings = Settings.from_env({"COPYALIGN_BLOB_STORE": "pack"}, database_url=f"sqlite:///{tmp_path / 'db'}")
    ca = connect(Settings(**{**settings.__dict__, "data_dir": str(tmp_path / "data")}))
    try:
        assert isinstance(ca.blobs, PackBlobStore)
        d = ca.blobs.put(b"kept in a pack")
        assert (tmp_path / "data" / "blobs" / "packs" / "pack-00000001.pack").exists()
        assert ca.blobs.get(d) == b"kept in a pack"
    finally:
        ca.close()


def test_a_put_while_the_collector_decides_keeps_the_blob(tmp_path: Path) -> None:
    """Rule 3: a writer that comes after the blob was taken out of reach (here: while the collector asks the
    database) takes it back, and the collector, whose hold is gone, deletes nothing."""
    store = PackBlobStore(tmp_path, fsync=False)
    d = store.put(b"an old orphan that an import writes again")

    def referenced_while_an_import_writes(batch: list[str]) -> set[str]:
        store.put(b"an old orphan that an import writes again")
        return set()

    assert store.collect([d], referenced=referenced_while_an_import_writes, older_than=timedelta(0)) == []
    assert store.collect([d], referenced=referenced_while_an_import_writes) == []
    assert store.get(d) == b"an old orphan that an import writes again"
    assert store.collect([d], referenced=none) == [d]
