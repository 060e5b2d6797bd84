"""The HTTP server: the JSON API and the web portal in one FastAPI application, and its scheduled work.

The top of the HTTP interfaces: it joins :mod:`copyalign.api` (the ``/v1`` routers) and :mod:`copyalign.web`
(the portal, which renders the API's errors as pages), so that neither imports the other's app. Nothing is
built at import time: tests pass their own services.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from copyalign import __version__
from copyalign.api import docs, errors
from copyalign.api.middleware import BodyLimit, Idempotency
from copyalign.api.routers import conflicts, guard, log, lookup, match, notices, parties, works
from copyalign.context import Copyalign
from copyalign.services.idempotency import IdempotencyStore
from copyalign.web.log_pages import router as log_pages
from copyalign.web.pages import STATIC, error_page
from copyalign.web.pages import router as web_router
from copyalign.web.review import router as review_pages

logger = logging.getLogger("copyalign.api")


def _tick(ca: Copyalign) -> None:
    """The server's scheduled work: sign a checkpoint, then finalise notices whose window has closed."""
    ca.ledger.checkpoint()
    op = ca.parties.operator()
    if op is not None:
        done = ca.notices.close_due(op)
        if done:
            logger.info("finalised notices %s", ", ".join(done))


async def _checkpoint_loop(ca: Copyalign) -> None:
    interval = ca.policy.log.checkpoint_interval_seconds
    while True:
        try:
            await anyio.to_thread.run_sync(_tick, ca)
        except Exception:  # keep serving; the next tick retries
            logger.exception("scheduled work failed")
        await asyncio.sleep(interval)


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
    docs.install(app)
    for r in (parties.router, works.router, lookup.router, match.router, notices.router, log.router, guard.router):
        app.include_router(r, prefix="/v1")
    app.include_router(conflicts.router, prefix="/v1")

    app.include_router(web_router)
    app.include_router(review_pages)
    app.include_router(log_pages)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Idempotency, store=IdempotencyStore(ca.store, ca.clock))
    app.add_middleware(BodyLimit, max_bytes=ca.settings.max_upload_bytes)
    return app
