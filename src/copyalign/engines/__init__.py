"""Executors for batch steps: the same picklable step function runs on a local process pool or on Ray.

A step is a module-level function ``fn(config, task) -> result``; an executor only schedules it, in the
habit of datatrove's executors, so a pipeline is written once. Results are yielded as tasks finish (in
completion order, each with its task's position) so the caller can drive a progress bar and persist each
result at once; a failure in one task is raised with the task named, after the tasks already finished
were yielded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from copyalign.engines.local import LocalExecutor, process_pool
from copyalign.engines.ray import RayExecutor
from copyalign.errors import InvalidInputError


class Executor(Protocol):
    name: str
    workers: int

    def map(self, fn: Callable[[Any, Any], Any], config: Any, tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]: ...

    def close(self) -> None: ...


def executor(engine: str, *, workers: int = 1, address: str | None = None) -> Executor:
    """``local`` (a process pool of ``workers``; 1 runs in this process) or ``ray`` (``address`` for a cluster)."""
    if workers < 1:
        raise InvalidInputError(f"workers must be at least 1, not {workers}", field="workers")
    if engine == "local":
        return LocalExecutor(workers)
    if engine == "ray":
        return RayExecutor(workers, address=address)
    raise InvalidInputError(f"unknown engine {engine!r}; expected local or ray", field="engine")


def in_order(ex: Executor, fn: Callable[[Any, Any], Any], config: Any, tasks: Sequence[Any]) -> Iterator[Any]:
    """``fn(config, task)`` for every task, yielded in the tasks' order as soon as each is ready (the
    executor may finish them in any order): for callers whose results must line up with their inputs."""
    ready: dict[int, Any] = {}
    nxt = 0
    for i, result in ex.map(fn, config, tasks):
        ready[i] = result
        while nxt in ready:
            yield ready.pop(nxt)
            nxt += 1


def chunked(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """``items`` in consecutive slices of at most ``size``: one task per slice keeps the per-task cost of a
    process pool (pickling, a round trip) small next to the work."""
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


__all__ = ["Executor", "LocalExecutor", "RayExecutor", "chunked", "executor", "in_order", "process_pool"]
