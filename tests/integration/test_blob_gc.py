"""``copyalign blobs gc`` and the clean-up after a refused import (issue 20 finding 11)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from copyalign.clock import FakeClock
from copyalign.context import Copyalign, connect
from copyalign.core.log.checkpoint import Ed25519Signer
from copyalign.errors import ItemError, NotFoundError, PermissionDeniedError
from copyalign.policy import load_policy
from copyalign.services.registry.blobgc import BLOB_REFERENCES
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.works import BULK, WorkInput
from copyalign.settings import Settings
from copyalign.store.blobs import BlobStore, DirectoryBlobStore, MemoryBlobStore, digest_of
from copyalign.store.packs import PackBlobStore
from tests.conftest import make_party

HOUR = timedelta(hours=1)


class Ticker:
    """Seconds for the memory blob store, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["directory", "pack", "memory"])
def gca(request, db_url: str, clock: FakeClock, signer: Ed25519Signer, tmp_path: Path) -> Iterator[Copyalign]:
    settings = Settings(database_url=db_url, data_dir=str(tmp_path / "data"), log_origin="test.copyalign/log")
    blobs: BlobStore
    if request.param == "directory":
        blobs = DirectoryBlobStore(tmp_path / "blobs", fsync=False)
    elif request.param == "pack":
        blobs = PackBlobStore(tmp_path / "blobs", fsync=False, pack_bytes=4096)  # small packs: many of them
    else:
        blobs = MemoryBlobStore(clock=Ticker())
    ca = connect(settings, clock=clock, signer=signer, blobs=blobs, policy=load_policy("cn"))
    yield ca
    ca.close()


def age(ca: Copyalign, digests: list[str], by: timedelta) -> None:
    """Make ``digests`` look written ``by`` ago (leases too, for the directory store)."""
    if isinstance(ca.blobs, MemoryBlobStore):
        ticker = ca.blobs.clock
        assert isinstance(ticker, Ticker)
        ticker.now += by.total_seconds()
        for d in set(ca.blobs._written) - set(digests):  # only ``digests`` age: the others are rewritten now
            ca.blobs._written[d] = ticker.now
        return
    store = ca.blobs
    then = time.time() - by.total_seconds()
    if isinstance(store, PackBlobStore):
        with store._writing() as db:
            db.executemany("UPDATE blobs SET written = ? WHERE digest = ?", [(then, bytes.fromhex(d)) for d in digests])
        return
    assert isinstance(store, DirectoryBlobStore)
    for d in digests:
        os.utime(store._path(d), (then, then))


def blob_count(ca: Copyalign) -> int:
    if isinstance(ca.blobs, MemoryBlobStore):
        return len(ca.blobs._blobs)
    if isinstance(ca.blobs, PackBlobStore):
        with ca.blobs._conn() as db:
            return int(db.execute("SELECT COUNT(*) FROM blobs").fetchone()[0])
    assert isinstance(ca.blobs, DirectoryBlobStore)
    return sum(1 for _ in ca.blobs._blob_files())


@pytest.fixture
def op(gca: Copyalign) -> Principal:
    party = gca.parties.create(None, name="CMO", role="operator")
    gca.parties.issue_key(None, party.id)
    principal = gca.parties.operator()
    assert principal is not None
    return principal


def items(n: int, tag: str) -> list[WorkInput]:
    return [WorkInput(data=f"{tag} work number {i}, a text of its own".encode(), title=f"{tag} {i}") for i in range(n)]


def test_refused_bulk_import_leaves_no_blobs(gca: Copyalign, op: Principal) -> None:
    """Issue 20 finding 11: a refused bulk import left its blobs (13,000-20,000 files after one)."""
    kept = gca.works.register(op, WorkInput(data=b"an earlier registered work", title="Earlier"))
    batch = items(BULK + 6, "refused") + [WorkInput(data=b"an earlier registered work", title="Again")]
    with pytest.raises(ItemError):
        gca.works.register_many(op, batch)
    assert blob_count(gca) == 1  # the earlier work's blob, which a row refers to, stays
    assert gca.works.content(op, kept.id)[0] == b"an earlier registered work"
    small = items(3, "small") + [WorkInput(data=b"", title="empty")]  # refused while fingerprinting
    with pytest.raises(ItemError):
        gca.works.register_many(op, small)
    assert blob_count(gca) == 1


def test_gc_deletes_only_unreferenced_blobs_older_than_the_grace_period(gca: Copyalign, op: Principal) -> None:
    work = gca.works.register(op, WorkInput(data=b"a registered work keeps its blob", title="Kept"))
    old_orphans = [gca.blobs.put(f"orphan {i}".encode()) for i in range(5)]
    age(gca, [*old_orphans, work.sha256], 2 * HOUR)
    young = gca.blobs.put(b"a young orphan, maybe an import about to commit")
    dry = gca.blob_gc.collect(op, grace=HOUR, dry_run=True)
    assert (dry.candidates, dry.deleted) == (6, 5) and blob_count(gca) == 7
    report = gca.blob_gc.collect(op, grace=HOUR)
    assert (report.candidates, report.deleted, report.kept) == (6, 5, 1)
    assert not any(gca.blobs.exists(d) for d in old_orphans)
    assert gca.blobs.exists(young) and gca.blobs.exists(work.sha256)


def test_a_re_put_blob_is_young_again(gca: Copyalign, op: Principal) -> None:
    """An import that writes content an old orphan already holds must not lose it before it commits."""
    d = gca.blobs.put(b"content first left behind by a refused import")
    age(gca, [d], 2 * HOUR)
    gca.blobs.put(b"content first left behind by a refused import")
    assert gca.blob_gc.collect(op, grace=HOUR).deleted == 0 and gca.blobs.exists(d)


def test_gc_is_for_the_operator_only(gca: Copyalign, op: Principal) -> None:
    for role in ("rights_holder", "developer", "provider", "auditor"):
        who, _ = make_party(gca, op, role)
        with pytest.raises(PermissionDeniedError):
            gca.blob_gc.collect(who)


def test_gc_never_takes_a_blob_from_an_import_in_progress(gca: Copyalign, op: Principal) -> None:
    """The import writes its blobs, then stops before its rows commit; a collection with no grace at all runs
    then, more than once; the import commits and every work still has its content."""
    batch = items(BULK + 2, "in flight")
    old = [gca.blobs.put(batch[0].data)]  # an old orphan with the same content as the import's first item
    age(gca, old, 2 * HOUR)
    written = threading.Event()
    go_on = threading.Event()
    real_append = gca.ledger.append

    def paused_append(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        written.set()  # the blobs are written: this runs inside the transaction that inserts the rows
        assert go_on.wait(600)  # bounds on a hung thread, never a timing claim (the machine may be loaded)
        return real_append(*args, **kwargs)

    gca.ledger.append = paused_append  # type: ignore[method-assign]
    result: list[object] = []
    t = threading.Thread(target=lambda: result.append(gca.works.register_many(op, batch)))
    t.start()
    try:
        assert written.wait(600)
        for _ in range(2):
            report = gca.blob_gc.collect(op, grace=timedelta(0))
            assert report.deleted == 0
    finally:
        go_on.set()
        t.join(600)
        gca.ledger.append = real_append  # type: ignore[method-assign]
    [views] = result
    assert len(views) == len(batch)  # type: ignore[arg-type]
    for v in views:  # type: ignore[attr-defined]
        assert gca.blobs.get(v.sha256)
    assert gca.blob_gc.collect(op, grace=timedelta(0)).deleted == 0  # committed: referenced now


def test_concurrent_imports_and_collections_lose_nothing(gca: Copyalign, op: Principal) -> None:
    """Imports (some refused, some not) and collections with no grace period, all at once."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def collector() -> None:
        while not stop.is_set():
            try:
                gca.blob_gc.collect(op, grace=timedelta(0))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    def importer(n: int) -> None:
        try:
            gca.works.register_many(op, items(BULK + 1, f"batch {n}"))
        except ItemError:
            pass
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=collector)]
    threads += [threading.Thread(target=importer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()  # no time limit: on a loaded machine an import may take minutes, and that is no failure
    stop.set()
    threads[0].join()
    import traceback

    assert errors == [], "\n".join("".join(traceback.format_exception(e)) for e in errors)
    works = gca.works.list(op, limit=1000)
    assert len(works) == 4 * (BULK + 1)
    for w in works:
        assert gca.blobs.get(w.sha256)


@pytest.mark.parametrize("kind", ["directory", "pack"])
def test_a_killed_writers_lease_is_ignored(tmp_path: Path, kind: str) -> None:
    """A lease whose process is gone (an import killed with ``kill -9``) no longer keeps its blobs."""
    import socket
    import subprocess
    import sys

    store: BlobStore
    if kind == "directory":
        store = DirectoryBlobStore(tmp_path / "blobs", fsync=False)
    else:
        store = PackBlobStore(tmp_path / "blobs", fsync=False)
    d = store.put(b"written by an import that was killed")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leases = tmp_path / "blobs" / ".leases"
    leases.mkdir()

    def none(batch) -> set[str]:  # noqa: ANN001
        return set()

    live = leases / f"{socket.gethostname()}-{os.getpid()}-live.lease"
    live.write_text(d + "\n")
    assert store.collect([d], referenced=none) == []  # a live writer's lease keeps it
    live.rename(leases / f"{socket.gethostname()}-{dead.stdout.strip()}-dead.lease")
    assert store.collect([d], referenced=none) == [d]
    assert list(leases.iterdir()) == []


def test_a_live_writers_temporary_file_survives_a_collection_without_grace(tmp_path: Path) -> None:
    """A collection with no grace period removed a writer's half-written temporary file, and the writer's
    rename then failed (``FileNotFoundError`` in a bulk import running beside ``blobs gc --grace 0``)."""
    import socket
    import subprocess
    import sys

    store = DirectoryBlobStore(tmp_path / "blobs", fsync=False)
    d = store.put(b"a blob, so that its folder exists")
    folder = store._path(d).parent
    live = folder / f".{'a' * 64}.1.{socket.gethostname()}-{os.getpid()}.tmp"
    live.write_bytes(b"half written")
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = folder / f".{'b' * 64}.1.{socket.gethostname()}-{dead_pid.stdout.strip()}.tmp"
    dead.write_bytes(b"left by a writer that was killed")
    assert list(store.stale(timedelta(0))) == [d]
    assert live.exists() and not dead.exists()


def test_a_read_racing_a_collector_that_puts_the_blob_back_finds_it(tmp_path: Path) -> None:
    """A reader missed a blob a collector had out of reach, and the collector put it back (kept: leased or
    referenced) before the reader looked into the trash: the reader said "no blob" for a blob in its place
    (a bulk import's index refresh failed beside ``blobs gc --grace 0``)."""
    store = DirectoryBlobStore(tmp_path / "blobs", fsync=False)
    d = store.put(b"a registered work's content")
    held = tmp_path / "held"
    real_restore = store._restore

    def collector_puts_it_back_first(digest: str) -> bool:
        os.replace(held, store._path(digest))  # the collector's decision: keep it
        return real_restore(digest)  # the trash is empty by now

    store._restore = collector_puts_it_back_first  # type: ignore[method-assign]
    os.rename(store._path(d), held)  # out of reach while the collector decides
    assert store.get(d) == b"a registered work's content"
    os.rename(store._path(d), held)
    assert store.exists(d)
    store._restore = real_restore  # type: ignore[method-assign]
    os.rename(store._path(d), held)  # and a blob that is truly gone is still "no blob"
    held.unlink()
    with pytest.raises(NotFoundError):
        store.get(d)
    assert not store.exists(d)


def test_a_collector_that_died_mid_decision_loses_nothing(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs", fsync=False)
    d = store.put(b"taken out of reach, then the collector was killed")
    (tmp_path / "blobs" / ".trash").mkdir()
    os.rename(store._path(d), tmp_path / "blobs" / ".trash" / f"{d}.dead")
    assert store.get(d) == b"taken out of reach, then the collector was killed"


def test_every_digest_column_is_known(gca: Copyalign) -> None:
    """A new table that keeps content in the blob store must be in BLOB_REFERENCES, or gc would take it."""
    from copyalign.store.models import Base

    not_blobs = {
        "exclusion_lists.sha256",  # the digest of the list's canonical JSON, kept in the row itself
        "takedown_exports.sha256",  # a sealed report's SHA256SUMS digest: its files are rendered again from rows
        "takedown_sent_statements.sha256",  # the digest of a statement of reasons kept in its decision row
    }
    listed = {f"{c.class_.__tablename__}.{c.key}" for c in BLOB_REFERENCES}
    columns = {f"{t.name}.{c.name}" for t in Base.metadata.tables.values() for c in t.columns if c.name == "sha256"}
    assert columns - not_blobs == listed


def test_cli_blobs_gc(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    from copyalign.cli.main import app

    base = ["--db", db_url, "--data-dir", str(tmp_path / "data")]
    assert runner.invoke(app, [*base, "init"]).exit_code == 0
    orphan = DirectoryBlobStore(tmp_path / "data" / "blobs").put(b"left behind by a killed import")
    r = runner.invoke(app, [*base, "blobs", "gc", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["deleted"] == 0  # younger than the default day
    r = runner.invoke(app, [*base, "blobs", "gc", "--grace", "0", "--json"])
    assert r.exit_code == 0, r.stdout
    assert json.loads(r.stdout) | {"deleted": 1, "dry_run": False} == json.loads(r.stdout)
    assert not (tmp_path / "data" / "blobs" / orphan[:2] / orphan[2:4] / orphan).exists()
    assert digest_of(b"left behind by a killed import") == orphan
