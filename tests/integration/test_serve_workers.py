"""``copyalign serve --workers N`` as a real process: it starts, answers from several workers, and stops
cleanly; a busy port is refused in words (issue 20, finding 8)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from copyalign.cli.main import app
from copyalign.errors import ConfigurationError
from copyalign.server import check_port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[str], url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("the server did not come up")


def test_serve_with_two_workers_answers_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "copyalign", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--data-dir",
           str(tmp_path / "data"), "serve", "--workers", "2", "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        key = ""
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("operator key"):
                key = line.split()[2]
            if line.startswith("serving on"):
                assert "2 worker processes" in line
                break
        assert key.startswith("ca_")
        base = f"http://127.0.0.1:{port}"
        _wait_ready(proc, f"{base}/v1/log/checkpoint", time.monotonic() + 90)
        h = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=h, timeout=30) as c:
            text = "It was the best of times, it was the worst of times, it was the age of wisdom."
            r = c.post("/v1/works", json={"title": "Two Cities", "text": text})
            assert r.status_code == 201, r.text
            work = r.json()["id"]
            # every answer, whichever worker gives it, sees the work: the index is shared on disk
            for _ in range(12):
                found = c.post("/v1/lookup", json={"text": text})
                assert found.status_code == 200, found.text
                assert [m["work_id"] for m in found.json()["matches"]][:1] == [work]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        check_port("127.0.0.1", port)  # the workers are gone: nothing holds the port any more
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_busy_port_is_refused_in_words(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(ConfigurationError, match="already in use"):
            check_port("127.0.0.1", port)
        base = ["--db", f"sqlite:///{tmp_path / 'c.db'}", "--data-dir", str(tmp_path / "data")]
        r = CliRunner().invoke(app, [*base, "serve", "--port", str(port), "--workers", "2"])
    assert r.exit_code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "c.db").exists()  # refused before anything was written


def test_a_killed_server_leaves_no_worker_holding_the_port(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "copyalign", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--data-dir",
           str(tmp_path / "data"), "serve", "--workers", "2", "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}/v1/log/checkpoint", time.monotonic() + 90)
    finally:
        proc.kill()  # SIGKILL: no chance to stop its workers itself
        proc.wait()
    deadline = time.monotonic() + 10
    while True:  # the kernel (PR_SET_PDEATHSIG) or the workers' watchdog ends them
        try:
            check_port("127.0.0.1", port)
            break
        except ConfigurationError:
            assert time.monotonic() < deadline, "a worker outlived its killed parent"
            time.sleep(0.2)
