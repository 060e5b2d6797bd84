"""Matching and the guard's output check served from index shards over a local Ray cluster (issue 23).

The registry sits in PostgreSQL; the index has four shards served by two shard groups of two replicas each.
Every answer over Ray must be the in-process answer, also while a replica is killed under load.
"""

from __future__ import annotations

import io
import random
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from copyalign.context import Copyalign, connect
from copyalign.core.matching.query import TextQuery
from copyalign.errors import ConfigurationError, StoreUnavailableError
from copyalign.policy import load_policy
from copyalign.services.matching.distributed import RayShards
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.works import WorkInput
from copyalign.settings import Settings
from copyalign.store.blobs import MemoryBlobStore

ray = pytest.importorskip("ray")

# one Ray instance for the module, in one xdist worker (pytest -n 2 --dist loadgroup keeps the group together)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

TEXT_WORKS = 240
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "moon", "coins", "page")
IMAGE_WORKS = len(PHOTOS)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


@pytest.fixture
def served(
    request: pytest.FixtureRequest, db_url: str, clock: object, signer: object, tmp_path: Path
) -> Iterator[tuple[Copyalign, Principal, list[tuple[str, bytes]], list[tuple[str, bytes]]]]:
    request.getfixturevalue("ray_cluster")
    settings = Settings(
        database_url=db_url,
        data_dir=str(tmp_path / "data"),
        log_origin="test.copyalign/log",
        index_shards=4,
        index_refresh_seconds=3600,
        matching_backend="ray",
        ray_shard_groups=2,
        ray_replicas=2,
        ray_replica_cpus=0.4,  # four replicas and a replacement on a two-CPU cluster
    )
    ca = connect(settings, clock=clock, signer=signer, blobs=MemoryBlobStore(), policy=load_policy("cn"))  # type: ignore[arg-type]
    try:
        ca.parties.create(None, name="CMO", role="operator")
        op = ca.parties.operator()
        assert op is not None
        texts = [(f"t{i}", _text(i).encode()) for i in range(TEXT_WORKS)]
        images = [(f"i{i}", _png(_image(i))) for i in range(IMAGE_WORKS)]
        views = ca.works.register_many(
            op,
            [WorkInput(data=d, title=t, kind="text") for t, d in texts]
            + [WorkInput(data=d, title=t, kind="image") for t, d in images],
        )
        assert len(views) == TEXT_WORKS + IMAGE_WORKS
        assert ca.matching.refresh() == TEXT_WORKS + IMAGE_WORKS
        assert ca.matching.remote is not None
        yield ca, op, texts, images
    finally:
        ca.close()


WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "su", "tra", "vel", "pon", "dar", "gim") for b in
         ("ber", "cot", "dun", "fal", "gor", "hil", "jam", "kel", "mun", "ros", "sat", "wen")]  # fmt: skip


def _text(seed: int, words: int = 180) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


def _image(k: int) -> Image.Image:
    """The scikit-image sample photos, then random colour fields (never a copy of a photo) past them."""
    if k < len(PHOTOS):
        return Image.fromarray(getattr(skimage.data, PHOTOS[k])()).convert("RGB")
    rng = np.random.default_rng(k)
    return Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8)).resize((160, 128), Image.Resampling.BICUBIC)


def _png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def _text_queries(texts: list[tuple[str, bytes]]) -> list[tuple[str, str | None]]:
    """(query, the work it must find or None): passages inside other text, near duplicates, copies, unrelated."""
    rng = random.Random(23)
    out: list[tuple[str, str | None]] = []
    for k in rng.sample(range(TEXT_WORKS), 24):
        body = texts[k][1].decode()
        at = rng.randrange(0, len(body) - 700)
        out.append((f"{_text(10_000 + k, 40)} {body[at : at + 600]} {_text(20_000 + k, 40)}", texts[k][0]))
    for k in rng.sample(range(TEXT_WORKS), 12):
        words = texts[k][1].decode().split(" ")
        for j in rng.sample(range(len(words)), 4):
            words[j] = "zzz"
        out.append((" ".join(words), texts[k][0]))
    for k in rng.sample(range(TEXT_WORKS), 6):
        out.append((texts[k][1].decode(), texts[k][0]))
    out += [(_text(50_000 + k), None) for k in range(6)]
    return out


def _image_queries(images: list[tuple[str, bytes]]) -> list[tuple[bytes, str | None]]:
    out: list[tuple[bytes, str | None]] = []
    for k, (title, data) in enumerate(images):
        img = _image(k)
        out.append((data, title))  # the file itself
        w, h = img.size
        out.append((_png(img.resize((w * 3 // 4, h * 3 // 4)), "JPEG"), title))  # smaller, re-encoded
    out += [(_png(_image(900 + k)), None) for k in range(3)]
    return out


def _answer(ca: Copyalign, kind: str, data: str | bytes) -> dict[str, object]:
    from copyalign.core.content import open_image

    if kind == "text":
        assert isinstance(data, str)
        return ca.matching.search_text(data, data.encode(), limit=50).to_dict()
    assert isinstance(data, bytes)
    img, _ = open_image(data, ca.settings.limits)
    return ca.matching.search_image(img, data, limit=50).to_dict()


def _local(ca: Copyalign, queries: list[tuple[str, str | bytes]]) -> list[dict[str, object]]:
    remote, ca.matching.remote = ca.matching.remote, None
    try:
        return [_answer(ca, kind, q) for kind, q in queries]
    finally:
        ca.matching.remote = remote


# the registry in PostgreSQL, as a cluster deployment has it (the replicas never read it: the answers are the same)
ON_POSTGRESQL = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@ON_POSTGRESQL
def test_ray_answers_are_the_in_process_answers_and_survive_a_killed_replica(served: tuple) -> None:  # type: ignore[type-arg]
    ca, op, texts, images = served
    text_q = _text_queries(texts)
    image_q = _image_queries(images)
    queries: list[tuple[str, str | bytes]] = [("text", q) for q, _ in text_q] + [("image", q) for q, _ in image_q]
    expected = _local(ca, queries)

    # the in-process answers are not empty: each query finds the work it was made from, and only the others
    wanted = [w for _, w in text_q] + [w for _, w in image_q]
    for answer, want in zip(expected, wanted, strict=True):
        got = {m["title"] for m in answer["matches"]}  # type: ignore[attr-defined]
        assert (want in got) if want else not got, (want, got)
    kinds = {m["match"] for a in expected for m in a["matches"]}  # type: ignore[attr-defined]
    assert {"exact", "near_duplicate", "passage", "perceptual"} <= kinds, kinds

    # over Ray, one query after another: the same answers
    assert [_answer(ca, kind, q) for kind, q in queries] == expected

    # the guard's output check goes through the same backend: the same verdict as in process
    verdict = ca.guard.check_output(op, text_q[0][0])
    remote, ca.matching.remote = ca.matching.remote, None
    try:
        assert ca.guard.check_output(op, text_q[0][0]) == verdict
    finally:
        ca.matching.remote = remote
    assert verdict.reasons, "a registered passage in an output is a reason"

    # under load from four threads, a replica of each group is killed: no query is lost or answered wrongly
    shards = ca.matching.remote
    assert isinstance(shards, RayShards)
    victims = [shards.replicas[0][0], shards.replicas[1][1]]
    stream = queries * 2
    with ThreadPoolExecutor(4) as pool:
        futures = {pool.submit(_answer, ca, kind, q): i for i, (kind, q) in enumerate(stream)}
        done = 0
        for fut in as_completed(futures):
            assert fut.result() == expected[futures[fut] % len(queries)]
            done += 1
            if done == 8:
                for actor in victims:
                    ray.kill(actor)
    assert done == len(stream)
    assert not any(v in group for v in victims for group in shards.replicas), "the killed replicas were replaced"
    assert all(len(group) == 2 for group in shards.replicas)
    assert [_answer(ca, kind, q) for kind, q in queries] == expected  # the replacements answer too


@ON_POSTGRESQL
def test_a_query_no_replica_answers_in_time_fails_with_a_named_reason(served: tuple) -> None:  # type: ignore[type-arg]
    ca, _op, texts, _images = served
    query = TextQuery.of(texts[0][1].decode(), texts[0][1])
    # no replica can answer within a microsecond: each is stopped and replaced, and the query fails as a whole
    hurried = RayShards(ca.matching.index.directory, groups=2, replicas=2, replica_cpus=0.05, call_timeout=1e-6)
    try:
        first = [list(group) for group in hurried.replicas]
        # both groups time out; whichever the fan-out sees fail first is the one named
        with pytest.raises(StoreUnavailableError, match="every replica of Ray shard group [01] failed") as err:
            hurried.text_parts(query, ca.policy.matching)
        assert err.value.code == "matching_unavailable" and err.value.status == 503
        group = int(re.search(r"shard group (\d+)", str(err.value)).group(1))  # type: ignore[union-attr]
        assert all(a not in hurried.replicas[group] for a in first[group]), "the replicas that timed out were replaced"
    finally:
        hurried.close()


def test_ray_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="COPYALIGN_MATCHING_BACKEND must be local or ray"):
        Settings.from_env({"COPYALIGN_MATCHING_BACKEND": "spark"})
    with pytest.raises(ConfigurationError, match="at least 1"):
        Settings.from_env({"COPYALIGN_RAY_REPLICAS": "0"})
    from copyalign.services.matching.index import MatchIndex

    MatchIndex(tmp_path / "index", shards=2)
    with pytest.raises(ConfigurationError, match="3 Ray shard groups for an index of 2 shards"):
        RayShards(tmp_path / "index", groups=3)
