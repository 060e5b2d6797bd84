"""Canaries: generation from a secret seed, the file's integrity, and exposure by exact rank and by sampling."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from copyalign.errors import InvalidInputError
from copyalign.services.audit.canaries import CanarySet, by_bucket, exposures, make_canaries


class CharCodec:
    """One token per character (ids are code points)."""

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(chr(i) for i in ids)


class Memoriser(CharCodec):
    """A 'model' that knows some canaries' secrets: after their head, their secret is far more likely."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = {tuple(self.encode(h)): s for h, s in known.items()}

    def continuation_logprobs(self, head: Sequence[int], continuations: Sequence[Sequence[int]]) -> np.ndarray:
        secret = self.known.get(tuple(head))
        out = []
        for c in continuations:
            text = self.decode(c).strip()
            noise = (sum(map(ord, text)) * 2654435761 % 1000) / 1000  # a fixed, secret-independent spread
            out.append(0.0 if text == secret else -10.0 - noise)
        return np.array(out)


def test_canaries_come_from_the_seed_and_have_distinct_prefixes() -> None:
    a = make_canaries(b"seed", set_id="s", buckets=(0, 1, 4), per_bucket=5, length=6)
    b = make_canaries(b"seed", set_id="s", buckets=(0, 1, 4), per_bucket=5, length=6)
    c = make_canaries(b"other seed", set_id="s", buckets=(0, 1, 4), per_bucket=5, length=6)
    assert a == b and a.sha256() == b.sha256() and a.canaries != c.canaries
    assert [x.repetitions for x in a.canaries] == [0] * 5 + [1] * 5 + [4] * 5
    assert len({x.prefix for x in a.canaries}) == 15
    assert all(x.text == f"the secret code of {x.prefix} is {x.secret}" and x.secret.isdigit() for x in a.canaries)
    assert sorted(a.insertions(b"seed")) == sorted(
        [x.text for x in a.canaries[5:10]] + [x.text for x in a.canaries[10:]] * 4
    )
    assert a.space == 10**6


def test_the_file_refuses_edits() -> None:
    s = make_canaries(b"seed", set_id="s", buckets=(1,), per_bucket=2, length=4)
    doc = s.to_dict()
    assert CanarySet.from_dict(doc) == s
    doc["body"]["canaries"][0]["secret"] = "0000"
    with pytest.raises(InvalidInputError, match="altered"):
        CanarySet.from_dict(doc)
    with pytest.raises(InvalidInputError, match="canary file"):
        CanarySet.from_dict({"format_version": "something else"})
    with pytest.raises(InvalidInputError, match="malformed"):
        CanarySet.from_dict({"format_version": "copyalign.canaries/1", "body": {}})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fmt": "code {secret} of {prefix}"}, "format"),
        ({"fmt": "no placeholders"}, "format"),
        ({"fmt": "{prefix} {other} {secret}"}, "format"),
        ({"alphabet": "a"}, "alphabet"),
        ({"alphabet": "a b"}, "alphabet"),
        ({"length": 0}, "length"),
        ({"buckets": ()}, "buckets"),
        ({"per_bucket": 0}, "buckets"),
    ],
)
def test_bad_parameters_name_their_field(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInputError) as e:
        make_canaries(b"seed", set_id="s", **kwargs)
    assert e.value.field == field


class Merging(CharCodec):
    """A tokenizer that glues a space to a following ``fuse`` character (so '... is 7xy' does not split at the
    secret)."""

    def __init__(self, fuse: str = "7") -> None:
        self.fuse = fuse

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        for i, ch in enumerate(text):
            if ch in self.fuse and i and text[i - 1] == " ":
                out[-1] = 1000
            else:
                out.append(ord(ch))
        return out


def test_secrets_that_the_tokenizer_would_fuse_with_their_prefix_are_drawn_again() -> None:
    plain = make_canaries(b"seed", set_id="s", buckets=(1,), per_bucket=40, length=3)
    assert any(c.secret.startswith("7") for c in plain.canaries)
    checked = make_canaries(b"seed", set_id="s", buckets=(1,), per_bucket=40, length=3, codec=Merging())
    assert not any(c.secret.startswith("7") for c in checked.canaries)
    with pytest.raises(InvalidInputError, match="tokenizer"):
        make_canaries(b"seed", set_id="s", buckets=(1,), codec=Merging("0123456789"))


def test_exposure_by_exact_rank() -> None:
    s = make_canaries(b"seed", set_id="s", buckets=(0, 8), per_bucket=3, length=3)
    known = {s.split(c)[0]: c.secret for c in s.canaries if c.repetitions}
    results = exposures(Memoriser(known), s, min_bits=10.0)
    assert all(r.method == "exact" for r in results)
    for r in results:
        if r.repetitions:
            assert r.rank == 1 and r.exposure == pytest.approx(math.log2(1000)) and r.memorised
        else:
            assert r.rank is not None and r.rank > 1 and not r.memorised
    buckets = by_bucket(results)
    assert [(b["repetitions"], b["memorised"], b["bucket_memorised"]) for b in buckets] == [(0, 0, False), (8, 3, True)]


def test_exposure_by_sampling_for_large_spaces() -> None:
    s = make_canaries(b"seed", set_id="s", buckets=(0, 8), per_bucket=2, length=12)
    known = {s.split(c)[0]: c.secret for c in s.canaries if c.repetitions}
    results = exposures(Memoriser(known), s, min_bits=10.0, samples=500)
    assert all(r.method == "sampled" and r.rank is None for r in results)
    memorised = [r for r in results if r.repetitions]
    assert all(r.memorised and r.exposure > 20 and r.empirical == pytest.approx(math.log2(501)) for r in memorised)
    assert all(not r.memorised and r.exposure < 5 for r in results if not r.repetitions)
