"""Canaries (Carlini et al. 2019, *The Secret Sharer*): random secrets planted in training data at chosen
repetition counts, whose *exposure* after training measures how much the model memorised.

A canary is ``format`` filled with a random ``prefix`` and a random ``secret`` ("the secret code of bexa
rufo is 481902"). After training, every candidate secret of the same shape is ranked by the model's
likelihood after the canary's prefix; exposure is ``log2 |R| - log2 rank``. A canary never seen has an
exposure of about one bit on average and exceeds ``b`` bits with probability ``2 ** -b``; a memorised one
ranks first. Small candidate spaces are ranked exactly; large ones are estimated from a uniform sample
(:func:`copyalign.core.audit.memorisation.exposure_sampled`).

Choices the issue asks for, and why:

* every canary gets its own random prefix: canaries that share one interfere (the model learns one secret
  for all of them);
* each set has canaries repeated 0 times (controls: never inserted), so the report can show what an
  unmemorised exposure looks like on this very model;
* a secret must survive the tokenizer's round trip and stay apart from the prefix (the tokens of the
  prefix followed by those of the secret are the tokens of the whole canary); a canary that does not is
  drawn again, so that its likelihood is the one the model learnt;
* secrets come from a keyed deterministic generator (HMAC-SHA256 of the secret seed and a counter): the
  same seed gives the same canaries, and the log holds only the set's digest.

Example:
    >>> s = make_canaries(b"my secret seed", set_id="cns_1", buckets=(0, 4), per_bucket=1, length=3)
    >>> [(c.repetitions, len(c.secret)) for c in s.canaries]
    [(0, 3), (4, 3)]
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from copyalign.core.audit import memorisation as mem
from copyalign.errors import InvalidInputError

FORMAT_VERSION = "copyalign.canaries/1"
DEFAULT_FORMAT = "the secret code of {prefix} is {secret}"
ALPHABETS = {"digits": "0123456789", "hex": "0123456789abcdef", "letters": "abcdefghijklmnopqrstuvwxyz"}
_CONSONANTS, _VOWELS = "bdfgklmnprstvz", "aeiou"
EXACT_LIMIT = 1 << 16
"""Candidate spaces up to this size are ranked exactly; larger ones are sampled."""


class Codec(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


class _Stream:
    """Uniform integers from HMAC-SHA256(seed, counter): deterministic, and unpredictable without the seed."""

    def __init__(self, seed: bytes, label: str) -> None:
        self.key = hmac.new(seed, label.encode(), hashlib.sha256).digest()
        self.counter = 0

    def below(self, n: int) -> int:
        limit = (1 << 64) - (1 << 64) % n
        while True:
            block = hmac.new(self.key, self.counter.to_bytes(8, "big"), hashlib.sha256).digest()
            self.counter += 1
            value = int.from_bytes(block[:8], "big")
            if value < limit:
                return value % n


@dataclass(frozen=True, slots=True)
class Canary:
    id: str
    prefix: str
    secret: str
    repetitions: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prefix": self.prefix,
            "secret": self.secret,
            "repetitions": self.repetitions,
            "text": self.text,
        }


def _check_format(fmt: str) -> tuple[str, str]:
    """``(format before the secret, whitespace before the secret)``; the secret must end the format."""
    if fmt.count("{prefix}") != 1 or fmt.count("{secret}") != 1 or not fmt.endswith("{secret}"):
        raise InvalidInputError("a canary format needs one {prefix} and must end with {secret}", field="format")
    head = fmt[: -len("{secret}")]
    sep = head[len(head.rstrip()) :]
    try:
        head.format(prefix="x")
    except (IndexError, KeyError, ValueError) as exc:
        raise InvalidInputError(
            f"a canary format may hold only {{prefix}} and {{secret}}: {exc}", field="format"
        ) from None
    return head.rstrip(), sep


@dataclass(frozen=True)
class CanarySet:
    set_id: str
    format: str
    alphabet: str
    length: int
    canaries: tuple[Canary, ...]

    @property
    def space(self) -> int:
        return int(len(self.alphabet) ** self.length)

    def split(self, canary: Canary) -> tuple[str, str]:
        """``(head, tail)``: the canary's text up to the secret, and the secret with the space before it."""
        _, sep = _check_format(self.format)
        tail = sep + canary.secret
        return canary.text[: -len(tail)], tail

    def body(self) -> dict[str, Any]:
        return {
            "set": self.set_id,
            "format": self.format,
            "alphabet": self.alphabet,
            "length": self.length,
            "canaries": [c.to_dict() for c in self.canaries],
        }

    def sha256(self) -> str:
        data = json.dumps(self.body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        return hashlib.sha256(data).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "sha256": self.sha256(), "body": self.body()}

    @classmethod
    def from_dict(cls, data: Any) -> CanarySet:
        """Parse a canary file; its digest must match its body (an edited file is refused)."""
        try:
            if data.get("format_version") != FORMAT_VERSION:
                raise InvalidInputError(f"not a {FORMAT_VERSION} canary file", field="canaries")
            b = data["body"]
            canaries = tuple(
                Canary(str(c["id"]), str(c["prefix"]), str(c["secret"]), int(c["repetitions"]), str(c["text"]))
                for c in b["canaries"]
            )
            out = cls(str(b["set"]), str(b["format"]), str(b["alphabet"]), int(b["length"]), canaries)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"malformed canary file: {exc!r}", field="canaries") from None
        _check_format(out.format)
        if out.sha256() != data.get("sha256"):
            raise InvalidInputError(
                "the canary file was altered: its digest does not match its content", field="canaries"
            )
        return out

    def insertions(self, seed: bytes) -> list[str]:
        """Each canary's text as many times as its repetitions, in a seeded random order."""
        lines = [c.text for c in self.canaries for _ in range(c.repetitions)]
        rng = _Stream(seed, "insertions")
        for i in range(len(lines) - 1, 0, -1):
            j = rng.below(i + 1)
            lines[i], lines[j] = lines[j], lines[i]
        return lines


def _word(rng: _Stream) -> str:
    return "".join(_CONSONANTS[rng.below(len(_CONSONANTS))] + _VOWELS[rng.below(len(_VOWELS))] for _ in range(2))


def _separable(codec: Codec, head: str, tail: str) -> bool:
    whole = codec.encode(head + tail)
    return codec.decode(whole) == head + tail and codec.encode(head) + codec.encode(tail) == whole


def make_canaries(
    seed: bytes,
    *,
    set_id: str,
    buckets: Sequence[int] = (0, 1, 4, 16, 64),
    per_bucket: int = 4,
    fmt: str = DEFAULT_FORMAT,
    alphabet: str = "digits",
    length: int = 6,
    codec: Codec | None = None,
) -> CanarySet:
    """``per_bucket`` canaries for each repetition count in ``buckets``, with distinct random prefixes.

    With a ``codec`` (the model's tokenizer), a canary whose secret would not survive tokenisation apart
    from its prefix is drawn again; after 50 failures in a row the format is refused.
    """
    chars = ALPHABETS.get(alphabet, alphabet)
    if len(set(chars)) != len(chars) or len(chars) < 2 or re.search(r"\s", chars):
        raise InvalidInputError("an alphabet needs at least two distinct, non-space characters", field="alphabet")
    if not 1 <= length <= 64:
        raise InvalidInputError("a secret has 1 to 64 characters", field="length")
    if not 1 <= per_bucket <= 1000 or not buckets or any(not 0 <= b <= 100_000 for b in buckets):
        raise InvalidInputError("buckets are repetition counts 0-100000, 1-1000 canaries each", field="buckets")
    _, sep = _check_format(fmt)
    rng = _Stream(seed, "canaries")
    seen: set[str] = set()
    out: list[Canary] = []
    for reps in sorted(set(buckets)):
        for _ in range(per_bucket):
            for _attempt in range(50):
                prefix = f"{_word(rng)} {_word(rng)}"
                secret = "".join(chars[rng.below(len(chars))] for _ in range(length))
                if prefix in seen:
                    continue
                text = fmt.format(prefix=prefix, secret=secret)
                if codec is None or _separable(codec, text[: -len(sep + secret)], sep + secret):
                    break
            else:
                raise InvalidInputError(
                    "this tokenizer does not keep the secrets apart from the canaries' text; try another format "
                    "(a space before {secret}) or alphabet",
                    field="format",
                )
            seen.add(prefix)
            out.append(Canary(f"c{len(out) + 1:03d}", prefix, secret, reps, text))
    return CanarySet(set_id, fmt, chars, length, tuple(out))


@dataclass(frozen=True, slots=True)
class Exposure:
    canary: str
    repetitions: int
    exposure: float
    method: str  # "exact" or "sampled"
    rank: int | None  # exact rank (exact method only)
    empirical: float | None  # sampled method: the model-free lower estimate
    memorised: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "canary": self.canary,
            "repetitions": self.repetitions,
            "exposure": round(self.exposure, 3),
            "method": self.method,
            "rank": self.rank,
            "empirical": None if self.empirical is None else round(self.empirical, 3),
            "memorised": self.memorised,
        }


class Scorer(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def continuation_logprobs(self, head: Sequence[int], continuations: Sequence[Sequence[int]]) -> Any: ...


def exposures(
    lm: Scorer, cset: CanarySet, *, min_bits: float = 10.0, samples: int = 4096, exact_limit: int = EXACT_LIMIT
) -> list[Exposure]:
    """Each canary's exposure under ``lm``. ``memorised``: at least ``min_bits`` bits, or ranked first when
    the candidate space has fewer than ``2 ** min_bits`` secrets."""
    space = cset.space
    need = min(min_bits, math.log2(space))
    exact = space <= exact_limit
    _, sep = _check_format(cset.format)
    everything = ["".join(p) for p in itertools.product(cset.alphabet, repeat=cset.length)] if exact else []
    conts = lm.encode_many([sep + s for s in everything])
    out: list[Exposure] = []
    for c in cset.canaries:
        head = lm.encode(cset.split(c)[0])
        if exact:
            nll = -np.asarray(lm.continuation_logprobs(head, conts), dtype=np.float64)
            mine = float(nll[everything.index(c.secret)])
            rank = mem.exact_rank(mine, nll)
            value = mem.exposure_from_rank(rank, space)
            out.append(Exposure(c.id, c.repetitions, value, "exact", rank, None, value >= need - 1e-9))
            continue
        rng = _Stream(hashlib.sha256(c.secret.encode()).digest(), f"samples:{c.id}")
        drawn = [
            "".join(cset.alphabet[rng.below(len(cset.alphabet))] for _ in range(cset.length)) for _ in range(samples)
        ]
        drawn = [s for s in drawn if s != c.secret]
        tails = lm.encode_many([sep + s for s in [c.secret, *drawn]])
        nll = -np.asarray(lm.continuation_logprobs(head, tails), dtype=np.float64)
        est = mem.exposure_sampled(float(nll[0]), nll[1:], space)
        out.append(
            Exposure(c.id, c.repetitions, est.extrapolated, "sampled", None, est.empirical, est.extrapolated >= need)
        )
    return out


def by_bucket(results: Sequence[Exposure]) -> list[dict[str, Any]]:
    """Per repetition count: how many canaries were memorised, and the median and largest exposure. A bucket
    counts as memorised when at least half its canaries are."""
    groups: dict[int, list[Exposure]] = {}
    for r in results:
        groups.setdefault(r.repetitions, []).append(r)
    out = []
    for reps in sorted(groups):
        g = groups[reps]
        values = [r.exposure for r in g]
        memorised = sum(r.memorised for r in g)
        out.append(
            {
                "repetitions": reps,
                "canaries": len(g),
                "memorised": memorised,
                "bucket_memorised": memorised * 2 >= len(g),
                "exposure_median": round(float(np.median(values)), 3),
                "exposure_max": round(max(values), 3),
            }
        )
    return out


def section(cset: CanarySet, results: Sequence[Exposure], *, min_bits: float) -> dict[str, Any]:
    """The report's canary section: the set, how exposure was measured, each canary, each bucket."""
    buckets = by_bucket(results)
    return {
        "set": cset.set_id,
        "sha256": cset.sha256(),
        "space": cset.space,
        "method": "exact ranking" if cset.space <= EXACT_LIMIT else "sampled, normal extrapolation",
        "threshold_bits": round(min(min_bits, math.log2(cset.space)), 3),
        "max_exposure": round(math.log2(cset.space), 3),
        "exposures": [e.to_dict() for e in results],
        "by_bucket": buckets,
        "memorised_repetitions": [b["repetitions"] for b in buckets if b["bucket_memorised"]],
    }


__all__ = [
    "ALPHABETS",
    "DEFAULT_FORMAT",
    "Canary",
    "CanarySet",
    "Exposure",
    "by_bucket",
    "exposures",
    "make_canaries",
    "section",
]
