"""The default executor: a local process pool (or this very process when one worker is asked for).

Workers are started with ``spawn``, never ``fork``: rensa's and pdqhash's native state does not survive a fork
(a forked pool was seen to hang once they had run in the parent), and a forked child would inherit the
parent's database connections. Workers die with their parent: on Linux the kernel kills them when the parent
goes (``PR_SET_PDEATHSIG``), and everywhere a watchdog thread exits a worker whose parent has changed, so a
``kill -9`` of ``copyalign works import`` or of a scan leaves no orphan burning CPU.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

_PR_SET_PDEATHSIG = 1
MAX_RETRIES = 2
"""How many times a task runs again after its worker process died (the OOM killer, a ``kill -9``): as the Ray
engine's ``max_retries``, so that both engines finish a scan that lost a worker, and fail alike on a task
that kills every worker it runs in."""
WATCH_SECONDS = 0.2
"""How often a worker's watchdog checks that its parent is still there."""


def _die_with_parent(parent: int) -> None:
    """Worker initialiser: end this process when ``parent`` ends, however it ends."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except OSError:  # no libc to call: the watchdog below still works
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="copyalign-parent-watch", daemon=True).start()


die_with_parent = _die_with_parent
"""The same guard for processes that other code starts (``copyalign serve --workers``' uvicorn workers)."""


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that die with this one: the only way copyalign starts one."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    )


_SHARED: dict[int, ProcessPoolExecutor] = {}
_SHARED_LOCK = threading.Lock()


def shared_pool(workers: int) -> ProcessPoolExecutor:
    """This process's pool of ``workers``, started on first use and kept until the process exits.

    A bulk import calls the registry batch after batch, and each batch's fingerprinting and index refresh
    asked for a pool of its own: starting spawned workers (each imports numpy, pdqhash, the kernels) and
    joining them took ~1-3 s a batch, about a tenth of a 10,000-work batch's time. A pool whose worker died
    is replaced.
    """
    with _SHARED_LOCK:
        pool = _SHARED.get(workers)
        if pool is None or getattr(pool, "_broken", False):
            pool = _SHARED[workers] = process_pool(workers)
        return pool


class LocalExecutor:
    """``shared``: borrow :func:`shared_pool` instead of starting a pool of one's own (closing the executor
    then cancels only its own queued tasks). For steps that run again and again in a long-lived process."""

    name = "local"

    def __init__(self, workers: int, *, shared: bool = False) -> None:
        self.workers = workers
        self.shared = shared
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[Any, Any], Any], config: Any, tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        if self.workers == 1:
            for i, task in enumerate(tasks):
                yield i, fn(config, task)
            return
        pending: dict[Future[Any], tuple[int, ProcessPoolExecutor]] = {}
        queue = list(enumerate(tasks))[::-1]
        retried: dict[int, int] = {}
        try:
            while queue or pending:
                pool = self._live_pool()
                while queue and len(pending) < 2 * self.workers:  # bounded: results are persisted as they come
                    i, task = queue.pop()
                    try:
                        pending[pool.submit(fn, config, task)] = (i, pool)
                    except BrokenProcessPool:  # it broke since it was looked at: the task waits for a new one
                        queue.append((i, task))
                        break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i, ran_on = pending.pop(fut)
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        # a worker died: every task the pool held fails with it, none by its own doing; each
                        # runs again on a new pool, at most MAX_RETRIES times
                        retried[i] = retried.get(i, 0) + 1
                        if retried[i] > MAX_RETRIES:
                            raise
                        self._drop(ran_on)
                        queue.append((i, tasks[i]))
                        continue
                    yield i, result
        finally:
            for fut in pending:  # a failure or an abandoned map: what is still queued is nobody's any more
                fut.cancel()

    def _live_pool(self) -> ProcessPoolExecutor:
        if self._pool is not None and getattr(self._pool, "_broken", False):
            self._drop(self._pool)
        if self._pool is None:
            self._pool = shared_pool(self.workers) if self.shared else process_pool(self.workers)
        return self._pool

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        """Stop using a pool that lost a worker (a shared one is replaced by :func:`shared_pool` on next use)."""
        if pool is self._pool:
            self._pool = None
            if not self.shared:
                pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            if not self.shared:
                self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
