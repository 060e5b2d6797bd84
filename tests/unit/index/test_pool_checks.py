"""A bulk import's conflict checks on the worker pool: each worker computes the queries (an image decoded once for
its query and its index hashes) and searches the index it opens itself. Its evidence, gathered, is the
registering process's own search of the same index (with shards, segments and a removal), it sees what the
index took after its first task, and it survives the trip through a real process pool."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageOps

from copyalign.core.content import Limits, normalised_sha256, open_image
from copyalign.core.matching.imagefp import registered_hashes
from copyalign.core.matching.query import TextQuery, image_query
from copyalign.engines import LocalExecutor, chunked, in_order
from copyalign.policy import load_policy
from copyalign.services.matching.engine import find_image, find_text, gather_image, index_entry, merge_shards
from copyalign.services.matching.index import MatchIndex
from copyalign.services.matching.segment import IndexedWork
from copyalign.services.matching.service import PoolCheck, image_checks, text_checks

LIMITS = Limits(max_bytes=1 << 24, max_image_pixels=4_000_000, decode_budget_bytes=1 << 28)
PHOTOS = ("astronaut", "coffee", "rocket", "chelsea", "camera", "immunohistochemistry")


def _encode(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, fmt)
    return buf.getvalue()


def _photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def _index(tmp_path: Path, names: tuple[str, ...]) -> MatchIndex:
    """Three shards; the photos added in two batches (two segments a shard), the last one then removed."""
    index = MatchIndex(tmp_path / "index", shards=3)
    entries = []
    for name in names:
        data = _encode(_photo(name))
        entries.append(index_entry(name, "image", hashlib.sha256(data).hexdigest(), None, data, LIMITS))
    with index.lock():
        index.add(entries[:3])
        index.add(entries[3:])
    index.remove([names[-1]])
    return index


def _queries() -> list[bytes]:
    """Edited copies of every photo (smaller and re-encoded, cropped, mirrored) and pictures of nothing."""
    out = []
    for name in PHOTOS:
        img = _photo(name)
        w, h = img.size
        out += [
            _encode(img.resize((w * 2 // 3, h * 2 // 3)), "JPEG"),
            _encode(img.crop((w // 20, h // 20, w, h))),
            _encode(ImageOps.mirror(img)),
        ]
    rng = np.random.default_rng(5)
    out += [_encode(Image.fromarray(rng.integers(0, 256, (80, 90, 3), dtype=np.uint8))) for _ in range(3)]
    return out


def test_the_workers_evidence_gathered_is_the_index_searched_here(tmp_path: Path) -> None:
    cfg = load_policy("cn").matching
    index = _index(tmp_path, PHOTOS)
    queries = _queries()
    checked = image_checks(PoolCheck(LIMITS, (str(index.directory), 3), cfg), queries)
    found_somewhere = set()
    for data, (sha, q, hashes, parts) in zip(queries, checked, strict=True):
        img, _ = open_image(data, LIMITS)
        assert sha == hashlib.sha256(data).digest()
        assert np.array_equal(q, image_query(img)) and hashes == registered_hashes(img)
        assert parts is not None and len(parts) == 3
        found = gather_image(parts, q, sha, cfg)
        assert found == find_image(index, img, sha, cfg)
        found_somewhere |= found.keys()
    # not vacuous: every photo still in the index is found by its copies, the removed one by none
    assert found_somewhere == set(PHOTOS[:-1])


def test_without_an_index_the_worker_only_hashes(tmp_path: Path) -> None:
    """Shards served over Ray are searched by the registering process: the worker sends no evidence."""
    queries = _queries()[:2]
    for data, (_sha, q, _hashes, parts) in zip(queries, image_checks(PoolCheck(LIMITS), queries), strict=True):
        assert parts is None and np.array_equal(q, image_query(open_image(data, LIMITS)[0]))


def test_a_worker_sees_what_the_index_took_after_its_first_task(tmp_path: Path) -> None:
    cfg = load_policy("cn").matching
    index = _index(tmp_path, ("astronaut", "coffee", "camera"))
    copy = _encode(_photo("rocket").resize((300, 200)), "JPEG")
    check = PoolCheck(LIMITS, (str(index.directory), 3), cfg)
    sha, q, _, parts = image_checks(check, [copy])[0]
    assert parts is not None and gather_image(parts, q, sha, cfg) == {}
    data = _encode(_photo("rocket"))
    with index.lock():
        index.add([index_entry("rocket", "image", hashlib.sha256(data).hexdigest(), None, data, LIMITS)])
    sha, q, _, parts = image_checks(check, [copy])[0]
    assert parts is not None and set(gather_image(parts, q, sha, cfg)) == {"rocket"}


def test_checks_on_a_process_pool_are_the_checks_made_here(tmp_path: Path) -> None:
    cfg = load_policy("cn").matching
    index = _index(tmp_path, PHOTOS)
    queries = _queries()
    check = PoolCheck(LIMITS, (str(index.directory), 3), cfg)
    here = image_checks(check, queries)
    pool = LocalExecutor(2)
    try:
        away = [r for part in in_order(pool, image_checks, check, chunked(queries, 4)) for r in part]
    finally:
        pool.close()
    for (sha, q, hashes, parts), (sha2, q2, hashes2, parts2) in zip(here, away, strict=True):
        assert (sha, hashes, parts) == (sha2, hashes2, parts2) and np.array_equal(q, q2)


WORDS = [f"{a}{b}" for a in "bcdfgklmnprst" for b in ("an", "el", "or", "us", "ix", "ep")]


def _text(seed: int, n: int = 120) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def test_the_workers_text_evidence_is_the_index_searched_here(tmp_path: Path) -> None:
    """Texts: copies, texts carrying a passage of a work, a removed work's copy and new texts, over three
    shards, two segments a shard and a removal."""
    cfg = load_policy("cn").matching
    index = MatchIndex(tmp_path / "index", shards=3)
    texts = {f"t{i}": _text(i) for i in range(40)}

    def entry(wid: str, text: str) -> IndexedWork:
        data = text.encode()
        return index_entry(wid, "text", hashlib.sha256(data).hexdigest(), normalised_sha256(text).hex(), data, LIMITS)

    with index.lock():
        index.add([entry(w, t) for w, t in list(texts.items())[:20]])
        index.add([entry(w, t) for w, t in list(texts.items())[20:]])
    index.remove(["t7"])
    queries = [texts[f"t{i}"].encode() for i in (3, 7, 25)]  # copies (t7's removed)
    queries += [
        (_text(1000 + i, 60) + " " + texts[f"t{i}"][:400] + " " + _text(2000 + i, 60)).encode() for i in (5, 30)
    ]
    queries += [_text(3000 + i).encode() for i in range(3)]  # new
    checked = text_checks(PoolCheck(LIMITS, (str(index.directory), 3), cfg), queries)
    found_somewhere = set()
    for data, (sha, tokens, parts) in zip(queries, checked, strict=True):
        q = TextQuery.of(data.decode(), data)
        assert (sha, tokens, len(parts)) == (q.sha, q.fp.size, 3)
        found = merge_shards(parts)
        assert found == find_text(index, q, cfg)
        found_somewhere |= found.keys()
    assert found_somewhere == {"t3", "t25", "t5", "t30"}


def test_a_text_check_on_the_pool_needs_the_index() -> None:
    with pytest.raises(ValueError, match="searches the index"):
        text_checks(PoolCheck(LIMITS), [b"a text"])
