"""Both engines when a worker process dies mid-task (issue 23: a scan goes on after a worker is killed).

A corpus scan's shards, a bulk import's fingerprint batches and an index build's parts are the tasks an engine
maps. A worker killed by the OOM killer or a ``kill -9`` must not lose its task nor fail the job: the task runs
again (Ray's ``max_retries``; the local pool on a new pool, ``MAX_RETRIES`` times) and the map yields every
task's result exactly once. A task that kills every worker it runs in fails the map after as many retries,
with the engine's own error. The task here kills its own process with SIGKILL, which is what an outside
``kill -9`` does, at a moment the test chooses rather than by the clock.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from copyalign.engines import Executor, executor
from copyalign.engines.local import MAX_RETRIES

ENGINES = ["local", pytest.param("ray", marks=[pytest.mark.slow, pytest.mark.xdist_group("ray")])]


def _shard(config: tuple[str, frozenset[int]], task: int) -> tuple[int, int]:
    """A shard's work: its number squared, and the worker's pid. The shards in ``doomed`` kill their worker
    the first time they run (a marker file says a later run is a retry)."""
    folder, doomed = config
    marker = Path(folder) / f"died-{task}"
    if task in doomed and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return task * task, os.getpid()


def _always_dies(config: str, task: int) -> int:
    with open(Path(config) / "runs", "a") as fh:
        fh.write(f"{task}\n")
    os.kill(os.getpid(), signal.SIGKILL)
    return task


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[Executor]:
    if request.param == "ray":
        pytest.importorskip("ray")
        from ray import cloudpickle

        import tests.integration.test_worker_death as me

        cloudpickle.register_pickle_by_value(me)  # Ray's workers need not import the tests package
    ex = executor(request.param, workers=2)
    yield ex
    ex.close()


def test_a_task_whose_worker_is_killed_runs_again_and_every_result_comes_once(engine: Executor, tmp_path: Path) -> None:
    doomed = frozenset({2, 5})
    results = list(engine.map(_shard, (str(tmp_path), doomed), list(range(8))))
    assert sorted(i for i, _ in results) == list(range(8))  # each task once, none lost, none twice
    assert {i: r[0] for i, r in results} == {i: i * i for i in range(8)}
    for task in doomed:
        pid = int((tmp_path / f"died-{task}").read_text())
        assert dict(results)[task][1] != pid, "the retry ran in a new worker process: the first one is dead"
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_task_that_kills_every_worker_fails_the_map_after_its_retries(engine: Executor, tmp_path: Path) -> None:
    if engine.name == "ray":
        import ray

        expected: type[BaseException] = ray.exceptions.WorkerCrashedError
    else:
        expected = BrokenProcessPool
    with pytest.raises(expected):
        list(engine.map(_always_dies, str(tmp_path), [0]))
    assert (tmp_path / "runs").read_text().split() == ["0"] * (1 + MAX_RETRIES)  # the first run and each retry


def test_after_a_dead_worker_the_engine_still_serves_the_next_map(engine: Executor, tmp_path: Path) -> None:
    list(engine.map(_shard, (str(tmp_path), frozenset({0})), [0, 1]))
    again = list(engine.map(_shard, (str(tmp_path / "none"), frozenset()), [3, 4]))
    assert sorted(r[0] for _, r in again) == [9, 16]
