"""The default executor: a local process pool (or this very process when one worker is asked for)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[Any, Any], Any], config: Any, tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        if self.workers == 1:
            for i, task in enumerate(tasks):
                yield i, fn(config, task)
            return
        if self._pool is None:
            # spawn, not fork: rensa's and pdqhash's native state does not survive a fork
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        pending: dict[Future[Any], int] = {}
        queue = list(enumerate(tasks))[::-1]
        while queue or pending:
            while queue and len(pending) < 2 * self.workers:  # bounded: results are persisted as they come
                i, task = queue.pop()
                pending[self._pool.submit(fn, config, task)] = i
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield pending.pop(fut), fut.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
