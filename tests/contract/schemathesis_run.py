"""Schemathesis over every operation of ``/v1/openapi.json``, against a real ``copyalign serve`` process.

Why a real server rather than the app in process: the contract a client sees is the one uvicorn serves (its
HTTP parsing, chunked bodies, the middleware on raw ASGI messages, 405s from the router), and Schemathesis's
``run`` command (the coverage phase with undeclared methods, ``--checks all``) takes a URL. One run per
database: the server is started on a fresh SQLite file or a fresh PostgreSQL schema, initialised, and driven
with the operator's key (every operation authorised, so the checks reach the routes' own validation).

Usage (``.ci/run`` calls it once per database)::

    python tests/contract/schemathesis_run.py --db sqlite --max-examples 8 --max-time 90

Exit status: Schemathesis's (0 when every check passed).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

PG_URL = os.environ.get("COPYALIGN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(name: str) -> str:
    here = Path(sys.executable).with_name(name)
    return str(here) if here.exists() else name


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--max-examples", type=int, default=8)
    ap.add_argument("--max-time", type=int, default=90, help="seconds for the whole Schemathesis run")
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--phases", default="examples,coverage,fuzzing")
    ap.add_argument("--report-dir", default=None)
    ap.add_argument("extra", nargs="*", help="more arguments for `schemathesis run`")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="copyalign-schemathesis-"))
    schema = None
    if args.db == "sqlite":
        db = f"sqlite:///{work / 'registry.db'}"
    else:
        import sqlalchemy as sa

        schema = f"st_{secrets.token_hex(5)}"
        with sa.create_engine(PG_URL).begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        db = f"{PG_URL}?options={quote(f'-csearch_path={schema}')}"
    env = {
        **os.environ,
        "COPYALIGN_DATABASE_URL": db,
        "COPYALIGN_DATA_DIR": str(work / "data"),
        "COPYALIGN_MAX_UPLOAD_BYTES": str(2 * 1024 * 1024),
        "COPYALIGN_MAX_IMAGE_PIXELS": "4000000",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p),
    }
    copyalign = [sys.executable, "-c", "from copyalign.cli.main import main; main()"]
    init = subprocess.run([*copyalign, "init", "--json"], env=env, capture_output=True, text=True, check=True)
    key = json.loads(init.stdout.splitlines()[-1])["operator_key"]
    port = _free_port()
    server = subprocess.Popen(
        [*copyalign, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}/v1/openapi.json"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a local server we started
                    break
            except OSError:
                time.sleep(0.1)
        cmd = [
            _bin("schemathesis"),
            "--config-file",
            str(CONFIG),
            "run",
            url,
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {key}",
            "--phases",
            args.phases,
            "--max-examples",
            str(args.max_examples),
            "--max-time",
            str(args.max_time),
            "--seed",
            str(args.seed),
            "--workers",
            "1",
            "--no-color",
            *args.extra,
        ]
        if args.report_dir:
            cmd += ["--report", "junit", "--report-dir", args.report_dir]
        started = time.monotonic()
        code = subprocess.call(cmd, cwd=work)
        print(f"schemathesis on {args.db}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        return code
    finally:
        server.terminate()
        try:
            _, errs = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, errs = server.communicate()
        tracebacks = errs.decode(errors="replace").count("Traceback")
        if tracebacks:
            print(errs.decode(errors="replace")[-6000:], file=sys.stderr)
        if schema is not None:
            import sqlalchemy as sa

            with sa.create_engine(PG_URL).begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
