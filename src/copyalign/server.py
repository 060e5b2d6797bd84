"""The HTTP server: the JSON API and the web portal in one FastAPI application, and its scheduled work.

The top of the HTTP interfaces: it joins :mod:`copyalign.api` (the ``/v1`` routers) and :mod:`copyalign.web`
(the portal, which renders the API's errors as pages), so that neither imports the other's app. Nothing is
built at import time: tests pass their own services.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
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
from copyalign.errors import CopyalignError
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
    routers = (parties, works, lookup, match, notices, log, guard, takedown, takedown_exports, conflicts, journey)
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
