"""The local executor: spawned workers, results in order when asked, and no worker outliving its parent.

A ``kill -9`` of ``copyalign works import`` once left its pool workers burning CPU 30 s later (issue 17). The
test starts a parent process that keeps two workers busy, SIGKILLs the parent, and looks for the workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from copyalign.engines import LocalExecutor, chunked, executor, in_order
from copyalign.errors import InvalidInputError


def _square(offset: int, x: int) -> int:
    return x * x + offset


def _pid(_config: None, _task: int) -> int:
    return os.getpid()


def test_in_order_lines_results_up_with_their_tasks_whatever_finishes_first() -> None:
    with LocalExecutor(2) as ex:
        assert list(in_order(ex, _square, 1, list(range(20)))) == [x * x + 1 for x in range(20)]


def test_one_worker_runs_in_this_process_and_more_run_in_spawned_ones() -> None:
    with LocalExecutor(1) as ex:
        assert set(in_order(ex, _pid, None, [0, 1])) == {os.getpid()}
    with LocalExecutor(2) as ex:
        assert os.getpid() not in set(in_order(ex, _pid, None, list(range(8))))


def _fail_on_three(_config: None, x: int) -> int:
    if x == 3:
        raise ValueError("task three fails")
    return x


def test_a_shared_pool_outlives_its_executors_and_survives_their_failures() -> None:
    """Batch after batch of a bulk import borrow one pool instead of starting (and joining) one each."""
    with LocalExecutor(2, shared=True) as ex:
        first = set(in_order(ex, _pid, None, list(range(8))))
    with LocalExecutor(2, shared=True) as ex, pytest.raises(ValueError, match="task three"):
        list(in_order(ex, _fail_on_three, None, list(range(40))))
    with LocalExecutor(2, shared=True) as ex:
        again = set(in_order(ex, _pid, None, list(range(8))))
        assert list(in_order(ex, _square, 0, list(range(10)))) == [x * x for x in range(10)]
    assert os.getpid() not in first and first & again  # the same workers serve, not new ones


def test_chunks_cover_every_item_once() -> None:
    items = list(range(23))
    assert [x for part in chunked(items, 5) for x in part] == items
    assert [len(p) for p in chunked(items, 5)] == [5, 5, 5, 5, 3]


def test_bad_engine_settings_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="workers"):
        executor("local", workers=0)
    with pytest.raises(InvalidInputError, match="engine"):
        executor("spark", workers=1)


PARENT = textwrap.dedent(
    """
    import sys, time
    from copyalign.engines import LocalExecutor

    def busy(folder, seconds):
        import os
        from pathlib import Path
        Path(folder, f"{os.getpid()}.tmp").write_text("busy")
        os.replace(Path(folder, f"{os.getpid()}.tmp"), Path(folder, f"{os.getpid()}.pid"))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
        return 0

    if __name__ == "__main__":
        ex = LocalExecutor(2)
        for _ in ex.map(busy, sys.argv[1], [600, 600]):
            pass
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the workers")
def test_workers_die_when_their_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    folder = tmp_path / "busy"
    folder.mkdir()
    parent = subprocess.Popen([sys.executable, str(script), str(folder)])
    # Each worker names a file after its pid once busy (a file each: two workers' lines on one pipe could mix).
    deadline = time.monotonic() + 120  # a bound for a loaded machine, not a speed claim
    while len(list(folder.glob("*.pid"))) < 2 and parent.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = sorted(int(f.stem) for f in folder.glob("*.pid"))
    if len(workers) != 2:
        parent.kill()
    assert len(workers) == 2, f"the parent ended with {parent.poll()} or its workers did not start"
    assert all(_alive(w) for w in workers)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30  # a bound for a loaded machine, not a speed claim
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [w for w in workers if _alive(w)] == []
