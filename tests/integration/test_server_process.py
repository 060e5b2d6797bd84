"""The real server: ``copyalign serve`` as a process, its own background loop, and its shutdown.

Every other API test builds the app in process with ``checkpoints=False``; this one starts the command a CMO runs
and watches the loop of ``copyalign.server`` do its scheduled work without being asked: sign a checkpoint that
covers the log, and finalise a training notice whose objection window has closed. The loop's cadence comes from
the policy profile (``[log] checkpoint_interval_seconds = 1``); the notice was published 40 days ago on a fake
clock, before the server started, so it is due the moment the server looks.

The checkpoint is verified with the signed-note reader that the Go known-answer vectors pin
(``tests/unit/core/test_checkpoint.py``) under the key the server publishes.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from copyalign.clock import FakeClock, SystemClock
from copyalign.context import connect
from copyalign.core.log.checkpoint import NoteVerifier, open_note
from copyalign.settings import Settings
from tests.conftest import make_party

ROOT = Path(__file__).resolve().parents[2]
# A bound on waiting, so that a broken loop fails the test instead of hanging it; never a timing claim.
PATIENCE_SECONDS = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, key: str | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - the local server this test started
            body = r.read().decode()
            return r.status, json.loads(body) if r.headers.get_content_type() == "application/json" else body
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _until(what: str, probe: Any, server: subprocess.Popen[bytes]) -> Any:
    """Poll ``probe`` until it returns something true; fail if the server dies or patience runs out."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the server exited ({server.returncode}) while waiting for {what}"
        try:
            found = probe()
        except OSError:  # not listening yet
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"the server's own loop never did this: {what}")


def test_copyalign_serve_signs_checkpoints_closes_due_notices_and_stops_cleanly(db_url: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[profile]\nname = "fast-ticks"\njurisdiction = "CN"\n\n[log]\ncheckpoint_interval_seconds = 1\n')
    env = {
        **os.environ,
        "COPYALIGN_DATABASE_URL": db_url,
        "COPYALIGN_DATA_DIR": str(tmp_path / "data"),
        "COPYALIGN_POLICY": str(policy),
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p),
    }
    copyalign = [sys.executable, "-c", "from copyalign.cli.main import main; main()"]
    init = subprocess.run([*copyalign, "init", "--json"], env=env, capture_output=True, text=True, check=True)
    op_key = json.loads(init.stdout.splitlines()[-1])["operator_key"]

    # Before the server runs: a work, and a notice over it published 40 days ago (its 30-day window has closed).
    # Same database, same data directory (so the same log key) as the server.
    settings = Settings(database_url=db_url, data_dir=str(tmp_path / "data"), policy=str(policy))
    past = FakeClock(SystemClock().now() - timedelta(days=40))
    ca = connect(settings, clock=past)
    try:
        from copyalign.services.licensing.notices import NoticeInput
        from copyalign.services.registry.works import WorkInput

        op = ca.parties.authenticate(op_key)
        holder, _ = make_party(ca, op, "rights_holder", "Alice Author")
        developer, _ = make_party(ca, op, "developer", "Model Maker")
        work = ca.works.register(holder, WorkInput(data=b"a poem the server will see licensed", title="Poem"))
        notice = ca.notices.create(developer, NoticeInput("Model", "train-ai", "commercial", "default", [work.id]))
        ca.notices.publish(developer, notice.id)
        assert ca.notices.get(None, notice.id).status == "open"
        entries = ca.ledger.size()
        signed_before = ca.ledger.latest_checkpoint()  # `init` signed the empty-ish log; nothing since
        assert signed_before is not None and signed_before.size < entries
    finally:
        ca.close()

    port = _free_port()
    base = f"http://127.0.0.1:{port}/v1"
    server = subprocess.Popen(
        [*copyalign, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        # the notice is finalised by the loop, as the operator; nobody called close-due
        def finalised() -> dict | None:
            status, body = _get(f"{base}/notices/{notice.id}")
            return body if status == 200 and body["status"] == "finalised" else None

        board = _until(f"finalise notice {notice.id}", finalised, server)
        assert board["id"] == notice.id

        # a checkpoint the loop signed, covering every entry written before the server started and the finalisation
        def covering() -> dict | None:
            status, body = _get(f"{base}/log/checkpoint")
            return body if status == 200 and body["size"] > entries else None

        cp = _until(f"sign a checkpoint over more than {entries} entries", covering, server)
        _, vkey = _get(f"{base}/log/key")
        signed = open_note(cp["note"].encode(), [NoteVerifier.from_vkey(vkey.strip())])
        assert signed.size == cp["size"]
        _, raw = _get(f"{base}/log/entries?start=0&end={cp['size']}")
        logged = [json.loads(base64.b64decode(e["entry"])) for e in raw["entries"]]
        finalise = [e for e in logged if e["event"] == "notice.finalise" and e["subject"] == notice.id]
        assert len(finalise) == 1, [e["event"] for e in logged]
        assert finalise[0]["actor"] == op.party_id  # the operator, in whose name the server's loop acts
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, errs = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            _, errs = server.communicate()
            raise AssertionError("the server did not stop on SIGTERM") from None
    log = errs.decode(errors="replace")
    assert server.returncode == 0, log[-4000:]
    assert "Traceback" not in log, log[-4000:]
    assert "scheduled work failed" not in log, log[-4000:]
    assert "Application shutdown complete" in log, log[-4000:]
