"""HTTP load: ``POST /v1/guard/output`` and ``POST /v1/lookup`` with a 2 KB text, against a registry of 1,000
2 KB texts, from concurrent clients, served by ``copyalign serve --workers N`` as a user runs it.

The server is a real ``copyalign serve`` process (its workers, its parent's scheduled work); the client is
this process, one ``aiohttp.ClientSession`` on uvloop (``--client httpx``: one ``httpx.AsyncClient``) with
``--clients`` requests in flight (keep-alive, as many connections, the bodies encoded once beforehand), for
``--seconds`` per endpoint after an untimed warm-up. On two cores the client shares the CPU with the server:
httpx spends ~2.7 ms of CPU per request, more than the server, and aiohttp about a third of that, so with
aiohttp the latencies measure the server rather than the client's queue. With ``--pin`` (the default on
three cores or more) the client runs on the last core and the server on the others, so that neither steals
the other's CPU.

Reported per endpoint: requests per second, p50/p99 latency as the client sees it, errors (anything but a
2xx, and transport failures), and the CPU the server spent per request (its processes' user + system time
from ``/proc``, before and after the window, divided by the requests answered) beside the CPU the same
check costs in process (``ca.guard.check_output`` / ``ca.lookup.lookup``, ``time.process_time``), so that
"what HTTP adds" is the difference. The query texts are new (they match nothing), a third carry a passage of
a registered work, a third are copies: the guard's three paths in equal shares.

    python benchmarks/http_load.py [--works 1000] [--clients 32] [--seconds 20] [--workers 0] [--out PATH]
    python benchmarks/http_load.py --quick      # a small run that checks the script works (results to /tmp)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from copyalign.context import connect  # noqa: E402
from copyalign.policy import load_policy  # noqa: E402
from copyalign.services.registry.works import WorkInput  # noqa: E402
from copyalign.settings import Settings  # noqa: E402
from matching_speed import WordModel  # noqa: E402
from scan_throughput import shakespeare  # noqa: E402

SEED = 20261206
T = TypeVar("T")
TICKS = os.sysconf("SC_CLK_TCK")


def _tree_cpu(root: int) -> float:
    """User + system CPU seconds of ``root`` and every live descendant (from ``/proc``)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS)
    wanted, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, (ppid, _cpu) in stats.items():
            if ppid == pid and child not in wanted:
                wanted.add(child)
                frontier.append(child)
    return sum(stats[p][1] for p in wanted if p in stats)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _queries(model: WordModel, texts: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """``n`` 2 KB texts: new ones, ones carrying a 300-character passage of a registered work, and copies."""
    third = n // 3
    clean = model.generate(rng, third, model.words_for(2048))
    passages = []
    for filler in model.generate(rng, third, model.words_for(1700)):
        src = texts[int(rng.integers(0, len(texts)))]
        a = src.index(" ", int(rng.integers(0, len(src) - 320))) + 1
        cut = filler.index(" ", len(filler) // 2)
        passages.append(filler[:cut] + "\n" + textwrap.fill(src[a : a + 300].upper(), 50) + "\n" + filler[cut:])
    copies = [texts[int(i)] for i in rng.integers(0, len(texts), n - 2 * third)]
    return clean + passages + copies


def _pct(xs: list[float]) -> dict[str, float]:
    a = np.array(xs) * 1000 if xs else np.zeros(1)
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2)}


#: What went wrong, per kind (status and body, or the client error), for the endpoint being loaded.
ERROR_KINDS: dict[str, int] = {}


#: One request: the body in, (answered with a 2xx, what it was if not) out.
Send = Callable[[bytes], Awaitable[tuple[bool, str]]]


async def _drive(send: Send, bodies: list[bytes], clients: int, seconds: float) -> tuple[list[float], int, int, float]:
    """``clients`` requests in flight for ``seconds``; returns latencies, answers, errors, elapsed (what each
    error was: :data:`ERROR_KINDS`)."""
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def one_client(k: int) -> None:
        nonlocal errors
        i = k
        while time.monotonic() < stop:
            t = time.perf_counter()
            ok, kind = await send(bodies[i % len(bodies)])
            latencies.append(time.perf_counter() - t)
            errors += not ok
            if not ok:
                ERROR_KINDS[kind] = ERROR_KINDS.get(kind, 0) + 1
            i += clients

    t0 = time.perf_counter()
    await asyncio.gather(*(one_client(k) for k in range(clients)))
    return latencies, len(latencies), errors, time.perf_counter() - t0


async def _load_aiohttp(
    base: str, key: str, path: str, bodies: list[bytes], clients: int, seconds: float
) -> tuple[list[float], int, int, float]:
    import aiohttp

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(
        base_url=base, headers=headers, connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def send(body: bytes) -> tuple[bool, str]:
            try:
                async with session.post(path, data=body) as r:
                    text = await r.read()
                    return r.status < 300, f"HTTP {r.status}: {text[:200].decode(errors='replace')}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                return False, f"{type(exc).__name__}: {exc}"

        return await _drive(send, bodies, clients, seconds)


async def _load_httpx(
    base: str, key: str, path: str, bodies: list[bytes], clients: int, seconds: float
) -> tuple[list[float], int, int, float]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:

        async def send(body: bytes) -> tuple[bool, str]:
            try:
                r = await client.post(path, content=body)
                return r.status_code < 300, f"HTTP {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as exc:
                return False, f"{type(exc).__name__}: {exc}"

        return await _drive(send, bodies, clients, seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--works", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=0, help="server worker processes (0: one per server core)")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--pin", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--client", choices=["aiohttp", "httpx"], default="aiohttp" if _has("aiohttp") else "httpx")
    ap.add_argument("--quick", action="store_true", help="a small, short run: checks that the script works")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.works, args.clients, args.seconds, args.queries = 60, 8, 3.0, 30
    out = args.out or (
        Path(tempfile.gettempdir()) / "http_load-quick.json"
        if args.quick
        else Path(__file__).parent / "results" / "http_load.json"
    )
    cores = sorted(os.sched_getaffinity(0))
    pin = args.pin if args.pin is not None else len(cores) >= 3
    server_cores = cores[:-1] if pin else cores
    workers = args.workers or len(server_cores)

    tmp = Path(tempfile.mkdtemp(prefix="http-load-"))
    db, data = f"sqlite:///{tmp / 'registry.db'}", str(tmp / "data")
    real = shakespeare()
    model = WordModel.from_text(real, "bigram")
    rng = np.random.default_rng(SEED)
    texts = model.generate(rng, args.works, model.words_for(2000))
    ca = connect(Settings(database_url=db, data_dir=data, workers=2), policy=load_policy("cn"))
    op_party = ca.parties.create(None, name="Operator", role="operator")
    ca.parties.issue_key(None, op_party.id)
    op = ca.parties.operator()
    assert op is not None
    holder = ca.parties.create(op, name="Publisher", role="rights_holder")
    provider = ca.parties.create(op, name="Provider", role="provider")
    key = ca.parties.issue_key(op, provider.id).secret
    actor = ca.parties.authenticate(key)
    items = [WorkInput(data=t.encode(), title=f"text {i}", kind="text") for i, t in enumerate(texts)]
    ca.works.register_many(op, items, holder_id=holder.id, workers=2)
    ca.matching.refresh()
    queries = _queries(model, texts, args.queries, np.random.default_rng(SEED + 1))

    # -- in process: the CPU the same checks cost without HTTP -------------------------------------------
    calls = {
        "guard_output": lambda q: ca.guard.check_output(actor, q.encode(), kind="text"),
        "lookup": lambda q: ca.lookup.lookup(actor, q.encode(), kind="text"),
    }
    in_process: dict[str, dict] = {}
    for name, call in calls.items():
        for q in queries[:10]:  # warm-up: compiled statements, mapped index pages
            call(q)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for q in queries:
            call(q)
        in_process[name] = {
            "cpu_ms_per_request": round((time.process_time() - cpu0) / len(queries) * 1000, 3),
            "wall_ms_per_request": round((time.perf_counter() - wall0) / len(queries) * 1000, 3),
        }
    verdicts = [ca.guard.check_output(actor, q.encode(), kind="text").decision.value for q in queries]
    ca.close()
    print("in process", in_process, flush=True)

    # -- over HTTP: copyalign serve --workers N, a real process ------------------------------------------
    port = _free_port()
    cmd = [sys.executable, "-m", "copyalign", "--db", db, "--data-dir", data, "serve", "--port", str(port),
           "--workers", str(workers)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def server_affinity() -> None:
        if pin:
            os.sched_setaffinity(0, server_cores)

    server = subprocess.Popen(  # noqa: S603 - our own CLI, arguments built here
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=server_affinity
    )
    if pin:
        os.sched_setaffinity(0, {cores[-1]})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise SystemExit(f"the server exited: {server.stderr.read().decode() if server.stderr else ''}")
            try:
                if httpx.get(f"{base}/v1/log/checkpoint", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not come up")
            time.sleep(0.3)
        bodies = [json.dumps({"text": q, "kind": "text"}).encode() for q in queries]
        load = _load_aiohttp if args.client == "aiohttp" else _load_httpx
        run = _run_loop()
        http: dict[str, dict] = {}
        for name, path in (("guard_output", "/v1/guard/output"), ("lookup", "/v1/lookup")):
            # warm-up, untimed: every worker compiles its statements and maps the index
            run(load(base, key, path, bodies, args.clients, min(3.0, args.seconds)))
            ERROR_KINDS.clear()
            cpu0, client0 = _tree_cpu(server.pid), time.process_time()
            lat, n, errors, elapsed = run(load(base, key, path, bodies, args.clients, args.seconds))
            server_cpu, client_cpu = _tree_cpu(server.pid) - cpu0, time.process_time() - client0
            per_req = server_cpu / max(n, 1) * 1000
            http[name] = {
                "requests": n,
                "requests_per_s": round(n / elapsed, 1),
                **_pct(lat),
                "errors": errors,
                "error_kinds": dict(ERROR_KINDS),
                "server_cpu_ms_per_request": round(per_req, 3),
                "http_cpu_ms_per_request": round(per_req - in_process[name]["cpu_ms_per_request"], 3),
                "client_cpu_ms_per_request": round(client_cpu / max(n, 1) * 1000, 3),
            }
            print(name, http[name], flush=True)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()

    result = {
        "machine": machine_info(("copyalign", "uvicorn", "starlette", "fastapi", "httpx", "aiohttp", "sqlalchemy")),
        "client": args.client,
        "http_parser": "httptools" if _has("httptools") else "h11",
        "event_loop": "uvloop" if _has("uvloop") else "asyncio",
        "parameters": {
            "works": args.works,
            "text_bytes": 2048,
            "clients": args.clients,
            "seconds": args.seconds,
            "server_workers": workers,
            "pinned": pin,
            "server_cores": server_cores,
            "client_core": cores[-1] if pin else None,
            "quick": args.quick,
        },  # fmt: skip
        "decisions": {v: verdicts.count(v) for v in sorted(set(verdicts))},
        "in_process": in_process,
        "http": http,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


def _run_loop() -> Callable[[Coroutine[Any, Any, T]], T]:
    """``asyncio.run``, on uvloop where it is installed (the client's own CPU per request drops by a third)."""
    if _has("uvloop"):
        import uvloop

        return uvloop.run
    return asyncio.run


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    main()
