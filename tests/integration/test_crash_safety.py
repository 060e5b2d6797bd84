"""Crash safety: SIGKILL ``copyalign works import`` part-way through, then check the store and the log.

Each backend gets one registry and a series of imports, each of a fresh 3,000-work manifest. The first is
left to finish. The others run as real subprocesses (the console script) and are killed, whole process group and
fingerprinting pool included, as the OOM killer would: at fixed early moments (start-up, manifest parsing,
fingerprinting), and inside the single write transaction (works, revisions, log entries, tree nodes).

The kills inside the transaction are not aimed by the clock: a probe watches the database for the import's
write transaction (SQLite: its write lock, which ``BEGIN IMMEDIATE`` on another connection cannot take;
PostgreSQL: the import's backend, found by its ``application_name``, holding a transaction id, i.e. having
written). Once it is seen, the import runs on for a random moment, its process group is frozen (SIGSTOP), the
probe asks again, and the group is killed. The test fails unless some kill is proven to have landed inside the
write transaction, and every such kill must leave none of the import's works.

After every import the store is reopened, as a restarted server opens it, and must show:

* all or nothing: the manifest's works are all there or none are;
* every work has its ``work.registered`` entry at its ``log_index``, with the work's id as subject, and its
  content blob on disk with the right hash; no ``work.registered`` entry lacks its work;
* a gapless log, as long as ``log_state`` says, that ``copyalign log verify --json`` reports ok;
* the same signed history: the latest signed checkpoint is, note for note, the one signed before the kill,
  and the next checkpoint is provably consistent with it.

Set ``COPYALIGN_CRASH_SEED`` to replay other kill moments.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from typer.testing import CliRunner

from copyalign.cli.main import app
from copyalign.context import connect
from copyalign.core.log import merkle
from copyalign.services.log.ledger import SignedCheckpoint
from copyalign.settings import Settings
from copyalign.store.models import LogEntry, LogState, Work
from tests.conftest import PG_URL

pytestmark = pytest.mark.slow  # ~15 s per backend: seven imports of 3,000 works, most of them killed

WORKS = 3000
CLI = shutil.which("copyalign", path=str(Path(sys.executable).parent)) or str(
    Path(sys.executable).with_name("copyalign")
)
HANG_SECONDS = 600
EARLY_KILLS = (0.2, 0.5, 1.0)  # seconds after launch: start-up, manifest parsing, fingerprinting
LINGER = ((0.0, 0.0), (0.0, 0.15), (0.1, 0.3))  # seconds the import writes on after the probe first sees it


def _start(base: list[str], manifest: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*base, "works", "import", str(manifest), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so the fingerprinting pool dies with it
        env=env,
    )


def import_(base: list[str], manifest: Path, kill_after: float | None) -> float:
    """Run ``works import`` as a subprocess; SIGKILL its process group after ``kill_after`` s. Returns its runtime."""
    proc = _start(base, manifest)
    started = time.monotonic()
    try:
        # without a kill, the bound is on a hung import only (a loaded machine may take minutes: no failure)
        _, stderr = proc.communicate(timeout=kill_after if kill_after is not None else HANG_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        assert kill_after is not None, f"the import did not finish in {HANG_SECONDS} s"
    ran = time.monotonic() - started
    assert proc.returncode in (0, -signal.SIGKILL), stderr.decode()
    return ran


def sqlite_writing(path: str) -> Callable[[], bool]:
    """Whether a connection holds the SQLite database's write lock (WAL mode: one writer; the store's write
    transactions start with ``BEGIN IMMEDIATE``)."""

    def probe() -> bool:
        con = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc) or "busy" in str(exc), exc
            return True
        else:
            con.execute("ROLLBACK")
            return False
        finally:
            con.close()

    return probe


def postgres_writing(engine: sa.Engine, app_name: str) -> Callable[[], bool]:
    """Whether the backend of the connection named ``app_name`` is in a transaction that has written (it holds a
    transaction id only after its first write) and has not been asked to commit it: a backend keeps its id while
    it carries out a COMMIT, which it finishes whatever becomes of the client (a loaded machine once showed a
    kill "inside" a transaction whose COMMIT was already running)."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :app AND backend_xid IS NOT NULL "
        "AND NOT (state = 'active' AND query ILIKE 'COMMIT%')"
    )

    def probe() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(query, {"app": app_name}).scalar_one())

    return probe


def import_killed_while_writing(
    base: list[str], manifest: Path, env: dict[str, str], writing: Callable[[], bool], linger: float
) -> bool:
    """Run ``works import``; when ``writing`` first sees its write transaction, let it write on for ``linger`` s,
    freeze its process group, ask ``writing`` again and SIGKILL the group. True when the kill is proven to have
    landed inside the transaction: it was still open, frozen, at the moment of the kill."""
    proc = _start(base, manifest, env)
    inside = False
    try:
        deadline = time.monotonic() + HANG_SECONDS  # a bound on a hung import, not a timing claim
        while proc.poll() is None and not writing():
            assert time.monotonic() < deadline, "the import never began its write transaction"
            time.sleep(0.005)
        if proc.poll() is None:
            time.sleep(linger)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGSTOP)
                # a COMMIT sent just before the freeze may still wait in the server's socket: give the server
                # time to read it (then the transaction is gone, or shows as committing) before asking
                time.sleep(0.2)
                inside = proc.poll() is None and writing()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
    assert proc.returncode in (0, -signal.SIGKILL), stderr.decode()
    return inside and proc.returncode == -signal.SIGKILL


def write_manifest(root: Path, tag: str) -> Path:
    path = root / f"{tag}.jsonl"
    lines = (
        json.dumps({"title": f"{tag} {i}", "text": f"{tag}, work {i}: a short poem about the number {i * 7919}."})
        for i in range(WORKS)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def check_restart(db_url: str, data_dir: str, tag: str, signed: SignedCheckpoint) -> tuple[int, SignedCheckpoint]:
    """Reopen the store after an import, killed or not: how many of ``tag``'s works it holds, and a new checkpoint."""
    ca = connect(Settings(database_url=db_url, data_dir=data_dir))
    try:
        latest = ca.ledger.latest_checkpoint()
        assert latest is not None
        assert (latest.size, latest.note) == (signed.size, signed.note), "the restart serves another signed history"
        with ca.store.read() as s:
            works = s.execute(select(Work.id, Work.title, Work.sha256, Work.log_index)).all()
            entries = {
                idx: (event, subject)
                for idx, event, subject in s.execute(select(LogEntry.idx, LogEntry.event, LogEntry.subject))
            }
            log_size = s.execute(select(LogState.size)).scalar_one()
            assert s.execute(select(func.count()).select_from(LogEntry)).scalar_one() == len(entries)
        assert sorted(entries) == list(range(log_size)), "the log has a gap, or rows beyond its size"
        for work_id, _, sha, index in works:
            assert entries.get(index) == ("work.registered", work_id), f"{work_id} lacks its entry at {index}"
            assert hashlib.sha256(ca.blobs.get(sha)).hexdigest() == sha, f"{work_id}'s content is damaged"
        registered = {subject for event, subject in entries.values() if event == "work.registered"}
        assert registered == {w[0] for w in works}, "a work.registered entry without its work"
        mine = sum(1 for w in works if w[1].startswith(f"{tag} "))
        assert mine in (0, WORKS), f"a partial import: {mine} of {WORKS} works of {tag}"

        new = ca.ledger.checkpoint()
        proof = ca.ledger.consistency_proof(signed.size, new.size)
        merkle.verify_consistency(signed.size, new.size, signed.root, new.root, proof)
    finally:
        ca.close()
    # The CLI command itself, in-process: a subprocess would add ~1.3 s of imports per check.
    result = CliRunner().invoke(app, ["--db", db_url, "--data-dir", data_dir, "log", "verify", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["ok"] is True
    assert report["entries"] == log_size
    return mine, new


def test_kill_during_bulk_import(db_url: str, tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    base = [CLI, "--db", db_url, "--data-dir", data_dir]
    subprocess.run([*base, "init", "--json"], capture_output=True, check=True)
    ca = connect(Settings(database_url=db_url, data_dir=data_dir))
    signed = ca.ledger.checkpoint()
    ca.close()
    rng = random.Random(os.environ.get("COPYALIGN_CRASH_SEED", "9162"))

    full = import_(base, write_manifest(tmp_path, "complete"), None)
    mine, signed = check_restart(db_url, data_dir, "complete", signed)
    assert mine == WORKS
    outcomes = [f"complete in {full:.2f} s"]

    for n, when in enumerate(EARLY_KILLS):
        tag = f"early{n}"
        ran = import_(base, write_manifest(tmp_path, tag), when)
        mine, signed = check_restart(db_url, data_dir, tag, signed)
        outcomes.append(f"{'killed' if ran >= when else 'done'} at {ran:.2f} s: {mine}")

    app_name = f"copyalign-crash-{os.getpid()}-{rng.randrange(10**9)}"
    env = {**os.environ, "PGAPPNAME": app_name}
    if db_url.startswith("sqlite"):
        writing = sqlite_writing(db_url.removeprefix("sqlite:///"))
    else:
        admin = sa.create_engine(PG_URL)
        writing = postgres_writing(admin, app_name)
    inside_kills = 0
    try:
        for n, span in enumerate(LINGER):
            tag = f"writing{n}"
            inside = import_killed_while_writing(base, write_manifest(tmp_path, tag), env, writing, rng.uniform(*span))
            mine, signed = check_restart(db_url, data_dir, tag, signed)
            if inside:
                inside_kills += 1
                assert mine == 0, f"{tag} was killed inside its write transaction, yet {mine} works were kept"
            outcomes.append(f"{'killed inside the write transaction' if inside else 'committed first'}: {mine}")
    finally:
        if not db_url.startswith("sqlite"):
            admin.dispose()
    print(f"\n{db_url.split(':', 1)[0]} ({WORKS} works per import): {'; '.join(outcomes)}")
    assert inside_kills >= 1, f"no kill was proven to land inside the write transaction: {outcomes}"
