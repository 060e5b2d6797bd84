"""A refresh and a registration's conflict check send only images to the worker pool: texts are computed in
the calling process (a text's query or index entry costs less than sending its arrays back), and the answers
come back in the items' order whatever the mix."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from copyalign.core.content import Limits
from copyalign.engines import LocalExecutor
from copyalign.services.matching import service


def tag(limits: Limits, items: Sequence[tuple[str, int]]) -> list[str]:
    return [f"{kind}{n}" for kind, n in items]


@pytest.mark.parametrize("images", [0, 10, 63, 64, 200])
def test_answers_keep_the_items_order(images: int) -> None:
    items = [("image" if i % 3 == 0 and i // 3 < images else "text", i) for i in range(3 * max(images, 30))]
    kinds = [kind for kind, _ in items]
    used: list[int] = []

    def pool() -> LocalExecutor:
        used.append(1)
        return LocalExecutor(1)  # one worker: the pool's code path, run in this process

    assert service._images_on_pool(pool, tag, Limits(), items, kinds, 16) == tag(Limits(), items)
    assert bool(used) == (kinds.count("image") >= 64)  # a pool only for enough images
    assert service._images_on_pool(None, tag, Limits(), items, kinds, 16) == tag(Limits(), items)
