from __future__ import annotations

from collections.abc import Iterator

import pytest

from copyalign.services.audit.model import deterministic


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread, deterministic algorithms: bit-identical results, and no thread contention on a
    shared machine (the tiny model's many small forward passes would pay for every synchronisation)."""
    with deterministic(1):
        yield
