"""The Ray executor: the same step functions as Ray tasks, on a local Ray instance or a cluster.

On a cluster every node needs copyalign installed and the corpus, the match index and the output folder
mounted at the same paths (the steps read and write files; only small summaries travel through Ray).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from copyalign.engines.local import MAX_RETRIES
from copyalign.errors import MissingExtraError


class RayExecutor:
    name = "ray"

    def __init__(self, workers: int, *, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise MissingExtraError("the Ray engine", "ray") from None
        self.workers = workers
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            self._started = True

    def map(self, fn: Callable[[Any, Any], Any], config: Any, tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(fn)
        conf = ray.put(config)
        pending: dict[Any, int] = {}
        queue = list(enumerate(tasks))[::-1]
        while queue or pending:
            while queue and len(pending) < 2 * self.workers:
                i, task = queue.pop()
                pending[remote.remote(conf, task)] = i
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), ray.get(ref)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False
