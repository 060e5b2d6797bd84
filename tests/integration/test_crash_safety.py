"""Crash safety: SIGKILL the server in the middle of a bulk import, then check the store and the log.

Every committed work must have its log entry (and nothing may be half there: an import is all or nothing),
the log must verify against its signed checkpoints, and the restarted server must serve the same signed
history, consistent with what it had signed before the crash.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from copyalign.context import connect
from copyalign.core import merkle
from copyalign.services.logbundle import verify_store
from copyalign.settings import Settings
from copyalign.store.models import LogEntry, Work

pytestmark = pytest.mark.slow
CLI = str(Path(sys.executable).with_name("copyalign"))
WORKS = 1500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(base: list[str], port: int) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [*base, "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/log/checkpoint", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start")


def check_store(db_url: str, data_dir: str, before_works: int) -> int:
    ca = connect(Settings(database_url=db_url, data_dir=data_dir))
    try:
        with ca.store.read() as s:
            works = list(s.execute(select(Work.id, Work.log_index)))
            entries = {i: (e, sub) for i, e, sub in s.execute(select(LogEntry.idx, LogEntry.event, LogEntry.subject))}
        for work_id, index in works:
            assert entries[index] == ("work.registered", work_id), f"{work_id} lacks its log entry"
        registered = {sub for e, sub in entries.values() if e == "work.registered"}
        assert registered == {w for w, _ in works}, "a log entry without its work"
        assert sorted(entries) == list(range(len(entries))), "the log has a gap"
        assert len(works) in (before_works, before_works + WORKS), f"a partial import: {len(works)} works"
        ca.ledger.checkpoint()
        verify_store(ca.ledger)
        return len(works)
    finally:
        ca.close()


def test_kill_during_bulk_import(db_url: str, tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    base = [CLI, "--db", db_url, "--data-dir", data_dir]
    init = subprocess.run([*base, "init", "--json"], capture_output=True, check=True, text=True)
    key = json.loads(init.stdout)["operator_key"]
    headers = {"Authorization": f"Bearer {key}"}
    works = 0
    for attempt, delay in enumerate((0.4, 1.2, 30.0)):
        body = "\n".join(
            json.dumps({"title": f"w{attempt}-{i}", "text": f"attempt {attempt}, work {i}: " + "lorem ipsum " * 40})
            for i in range(WORKS)
        ).encode()
        port = free_port()
        proc, url = start(base, port)
        before = httpx.post(f"{url}/v1/log/checkpoint", headers=headers).json()

        def send(url: str = url, body: bytes = body) -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
                httpx.post(f"{url}/v1/works/import", content=body, headers=headers, timeout=120)

        sender = threading.Thread(target=send)
        sender.start()
        sender.join(timeout=delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        sender.join()
        works = check_store(db_url, data_dir, works)

        proc, url = start(base, port)
        try:
            again = httpx.get(f"{url}/v1/log/checkpoint", params={"size": before["size"]}).json()
            assert again["note"] == before["note"], "the restarted server changed a signed checkpoint"
            latest = httpx.get(f"{url}/v1/log/checkpoint").json()
            proof = httpx.get(
                f"{url}/v1/log/proof/consistency", params={"first": before["size"], "second": latest["size"]}
            ).json()["proof"]
            merkle.verify_consistency(
                before["size"],
                latest["size"],
                base64.b64decode(before["root"]),
                base64.b64decode(latest["root"]),
                [base64.b64decode(p) for p in proof],
            )
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert works > 0, "the last import, given time to finish, registered its works"
