"""Shard groups (the body of the Ray backend's actors), run in this process: their answers, gathered, are the
index's answers, with removals and segments not yet compacted; no Ray needed (tests/integration/test_ray_serving
runs the same over a Ray cluster)."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import skimage.data
from PIL import Image

from copyalign.core.content import Limits, normalised_sha256, open_image
from copyalign.core.matching.query import TextQuery, image_query
from copyalign.policy import load_policy
from copyalign.services.matching.distributed import ShardGroup
from copyalign.services.matching.engine import find_image, find_text, gather_image, gather_text, index_entry
from copyalign.services.matching.index import MatchIndex
from copyalign.services.matching.segment import IndexedWork

LIMITS = Limits(max_bytes=1 << 24, max_image_pixels=4_000_000, decode_budget_bytes=1 << 28)
WORDS = [f"{a}{b}" for a in "bcdfgklmnprst" for b in ("an", "el", "or", "us", "ix", "ep")]


def _text(seed: int, n: int = 150) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def test_shard_groups_gathered_answer_as_the_whole_index(tmp_path: Path) -> None:
    cfg = load_policy("cn").matching
    index = MatchIndex(tmp_path / "index", shards=5)
    texts = {f"t{i}": _text(i) for i in range(60)}
    photos = {"astronaut": skimage.data.astronaut(), "coffee": skimage.data.coffee(), "rocket": skimage.data.rocket()}
    images = {name: _png(Image.fromarray(a)) for name, a in photos.items()}

    def entry(wid: str, kind: str, data: bytes) -> IndexedWork:
        norm = normalised_sha256(data.decode()).hex() if kind == "text" else None
        return index_entry(wid, kind, hashlib.sha256(data).hexdigest(), norm, data, LIMITS)

    with index.lock():  # two batches: two segments per shard, one removal as a tombstone
        index.add([entry(w, "text", t.encode()) for w, t in list(texts.items())[:30]])
        index.add([entry(w, "text", t.encode()) for w, t in list(texts.items())[30:]])
        index.add([entry(n, "image", d) for n, d in images.items()])
    index.remove(["t3"])
    groups = [ShardGroup(str(index.directory), [i for i in range(5) if i % 2 == g]) for g in range(2)]

    def parts(answers: list[list[tuple[int, dict]]]) -> list[dict]:  # type: ignore[type-arg]
        shard_answers = dict(pair for answer in answers for pair in answer)
        assert sorted(shard_answers) == list(range(5))
        return [shard_answers[i] for i in range(5)]

    rng = random.Random(1)
    queries = [texts["t3"], texts["t7"], _text(999)]
    for k in rng.sample(range(60), 8):
        body = texts[f"t{k}"]
        queries.append(f"{_text(500 + k, 30)} {body[100:600]} {_text(700 + k, 30)}")
    found_any = 0
    for text in queries:
        q = TextQuery.of(text, text.encode())
        want = find_text(index, q, cfg)
        assert gather_text(parts([g.text(q, cfg) for g in groups]), q, cfg) == want
        found_any += bool(want)
        assert "t3" not in want  # removed
    assert found_any == len(queries) - 2  # all but the removed work and the unrelated text

    for name, arr in photos.items():
        for data in (images[name], _png(Image.fromarray(arr).resize((256, 256)).convert("RGB"), "JPEG")):
            img, _ = open_image(data, LIMITS)
            iq, sha = image_query(img), hashlib.sha256(data).digest()
            want = find_image(index, img, sha, cfg, query=iq)
            assert name in want
            assert gather_image(parts([g.image(iq, sha, cfg) for g in groups]), iq, sha, cfg) == want
