"""The HTTP server: the JSON API and the web portal in one FastAPI application, and its scheduled work.

The top of the HTTP interfaces: it joins :mod:`copyalign.api` (the ``/v1`` routers) and :mod:`copyalign.web`
(the portal, which renders the API's errors as pages), so that neither imports the other's app. Nothing is
built at import time: tests pass their own services.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import gc
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from copyalign import __version__
from copyalign.api import docs, errors, openapi
from copyalign.api.middleware import BodyLimit, Idempotency
from copyalign.api.routers import (
    conflicts,
    guard,
    journey,
    log,
    lookup,
    match,
    notices,
    parties,
    takedown,
    takedown_exports,
    works,
)
from copyalign.context import Copyalign
from copyalign.errors import ConfigurationError, CopyalignError
from copyalign.services.idempotency import IdempotencyStore
from copyalign.web.log_pages import router as log_pages
from copyalign.web.pages import STATIC, error_page
from copyalign.web.pages import router as web_router
from copyalign.web.review import router as review_pages
from copyalign.web.takedown_pages import router as takedown_pages

logger = logging.getLogger("copyalign.api")


REMIND_EVERY_SECONDS = 900.0
"""Overdue usage reports are looked for every 15 minutes, not on every checkpoint tick (one query per licence)."""


def _tick(ca: Copyalign, *, remind: bool = True) -> None:
    """The server's scheduled work: sign a checkpoint, finalise notices whose window has closed, the takedown
    desk's due work (restorations whose window opened; the same as ``copyalign takedown due``), and (``remind``)
    put a reminder of each overdue usage report in its developer's outbox (once per missing period)."""
    ca.ledger.checkpoint()
    idempotency_store(ca).purge()  # idempotency records past COPYALIGN_IDEMPOTENCY_TTL_SECONDS
    op = ca.parties.operator()
    if op is not None:
        done = ca.notices.close_due(op)
        if done:
            logger.info("finalised notices %s", ", ".join(done))
        due = ca.takedown.due(op)
        if due.restored:
            logger.info("restored takedown notices %s", ", ".join(due.restored))
        if remind:
            reminded = ca.reporting.remind(op)
            if reminded:
                logger.info("reminded of overdue usage reports: %s", ", ".join(r["subject"] for r in reminded))


async def _checkpoint_loop(ca: Copyalign) -> None:
    interval = ca.policy.log.checkpoint_interval_seconds
    last_remind = -REMIND_EVERY_SECONDS
    while True:
        remind = time.monotonic() - last_remind >= REMIND_EVERY_SECONDS
        try:
            await anyio.to_thread.run_sync(functools.partial(_tick, ca, remind=remind))
            if remind:
                last_remind = time.monotonic()
        except Exception:  # keep serving; the next tick retries
            logger.exception("scheduled work failed")
        await asyncio.sleep(interval)


def idempotency_store(ca: Copyalign) -> IdempotencyStore:
    return IdempotencyStore(ca.store, ca.clock, ttl=timedelta(seconds=ca.settings.idempotency_ttl_seconds))


def _party_of(ca: Copyalign) -> Callable[[str], str | None]:
    """The Idempotency middleware's authentication: the key's party, or ``None`` when it does not authenticate."""

    def party(token: str) -> str | None:
        try:
            return ca.parties.authenticate(token).party_id
        except CopyalignError:  # unknown, malformed or revoked: the route itself will answer
            return None

    return party


def create_app(ca: Copyalign, *, checkpoints: bool = True) -> FastAPI:
    """Build the API (and the web portal) over ``ca``.

    ``checkpoints`` runs the signing cadence of the policy profile in the background while serving.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_checkpoint_loop(ca)) if checkpoints else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="copyalign",
        version=__version__,
        description="Registry of works and AI-use preferences, with a verifiable transparency log.",
        lifespan=lifespan,
        openapi_url="/v1/openapi.json",
        docs_url=None,  # served from an installed package by api.docs, so that it works offline
        redoc_url=None,
    )
    app.state.ca = ca
    errors.install(app, html=error_page)
    openapi.document_errors(app)
    docs.install(app)
    # routes are tried in this order: the per-request checks of a provider's serving first (about 0.1 ms less
    # a request than behind fifty other routes)
    routers = (guard, lookup, match, parties, works, notices, log, takedown, takedown_exports, conflicts, journey)
    for r in routers:
        app.include_router(r.router, prefix="/v1")

    app.include_router(web_router)
    app.include_router(review_pages)
    app.include_router(takedown_pages)
    app.include_router(log_pages)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Idempotency, store=idempotency_store(ca), authenticate=_party_of(ca))
    app.add_middleware(BodyLimit, max_bytes=ca.settings.max_upload_bytes)
    return app


# -- serving with several worker processes (``copyalign serve --workers N``) -----------------------------------


def cpu_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_port(host: str, port: int) -> None:
    """Refuse at once, in words, a port another program holds (uvicorn would log a traceback-like error)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigurationError(
                    f"port {port} on {host} is already in use (another 'copyalign serve'?): stop that server or "
                    "choose another port with --port",
                    field="port",
                ) from None
            raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}", field="port") from None


def settle_heap() -> None:
    """Before serving: move everything built so far (modules, the app with its routes and models, the services)
    out of the garbage collector's reach. It lives as long as the process, and a full collection no longer walks
    it, so the request that happens to trigger one no longer waits tens of milliseconds for it (the load
    benchmark's p99). Not done for an app built in a test: there it would outlive the test."""
    gc.collect()
    gc.freeze()


def worker_app() -> FastAPI:
    """The application of one worker process, built from the environment the parent exported.

    Workers serve only: the parent runs the scheduled work (one signer, one reminder), and it refreshed the
    match index before starting them, so each worker maps the same index files read-only (``np.load(...,
    mmap_mode="r")``: one copy in the page cache for all of them) instead of building its own.
    """
    from copyalign.context import connect
    from copyalign.engines.local import die_with_parent
    from copyalign.settings import Settings

    parent = os.getppid()
    if parent == 1:  # the parent is already gone
        os._exit(1)
    die_with_parent(parent)  # a kill -9 of 'copyalign serve' leaves no worker holding the port
    app = create_app(connect(Settings.from_env()), checkpoints=False)
    settle_heap()
    return app


def export_settings(ca: Copyalign) -> None:
    """Put the parent's settings (flags included) into the environment the worker processes start with."""
    from copyalign.settings import SETTINGS

    for var, name, _default, _doc in SETTINGS:
        os.environ[var] = str(getattr(ca.settings, name))


def start_scheduler(ca: Copyalign) -> threading.Thread:
    """The scheduled work of :func:`_checkpoint_loop`, on a daemon thread of the parent process."""

    def loop() -> None:
        last_remind = -REMIND_EVERY_SECONDS
        while True:
            remind = time.monotonic() - last_remind >= REMIND_EVERY_SECONDS
            try:
                _tick(ca, remind=remind)
                if remind:
                    last_remind = time.monotonic()
            except Exception:  # keep serving; the next tick retries
                logger.exception("scheduled work failed")
            time.sleep(ca.policy.log.checkpoint_interval_seconds)

    thread = threading.Thread(target=loop, name="copyalign-scheduler", daemon=True)
    thread.start()
    return thread


def prepare_workers(ca: Copyalign) -> None:
    """Before forking workers: bring the match index up to date on disk (so no worker builds it), export the
    settings, and start the scheduled work here."""
    ca.matching.refresh()
    export_settings(ca)
    start_scheduler(ca)
