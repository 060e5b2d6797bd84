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

from copyalign.engines.local import LocalExecutor
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


__all__ = ["Executor", "LocalExecutor", "RayExecutor", "executor"]
