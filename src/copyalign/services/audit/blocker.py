"""Decoding-time blocking (MemFree, Ippolito et al. 2023): never complete an n-gram of a protected work.

At every decoding step the last ``n - 1`` generated tokens are looked up; every token that would complete
an ``n``-gram of a registered work whose owner denies the use gets a logit of ``-inf``. The model then
says something else, so verbatim reproduction longer than ``n - 1`` tokens becomes impossible, whatever the
sampling settings. What it does not stop, and what :mod:`~copyalign.services.audit.suppression` therefore measures:
the same text in another surface form (upper case, extra spaces, another tokenisation: the tokens differ,
the words do not), and paraphrase. :mod:`~copyalign.services.audit.wordblock` blocks n-grams of the normalised words
instead, which the surface form does not change; it shares the hashing and the stores here.

Two stores for the n-grams, both built with numpy and queried without Python loops over the vocabulary:

* ``set`` — exact: sorted ``(hash of the n - 1 token prefix, next token)`` pairs, 16 bytes per n-gram; a
  step costs one binary search per sequence;
* ``bloom`` — compact: a Bloom filter of prefixes and one of whole n-grams (``bits`` bits each per n-gram,
  about 2 × 16 / 8 = 4 bytes at the default), with a false-positive rate of about ``0.6185 ** bits``: a
  false positive blocks a harmless token, never lets a protected one through.

Example:
    >>> bl = NgramBlocklist.build([[5, 6, 7, 8]], n=3)
    >>> bl.banned([1, 5, 6], vocab=10).tolist(), bl.banned([6, 7], vocab=10).tolist(), bl.banned([7, 6], 10).tolist()
    ([7], [8], [])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from copyalign.core.matching.textfp import mix64
from copyalign.errors import InvalidInputError

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_TOKEN_MIX = np.uint64(0xD6E8FEB86659FD93)
_SECOND = np.uint64(0xC2B2AE3D27D4EB4F)


@functools.lru_cache(maxsize=64)
def _multipliers(count: int) -> U64:
    with np.errstate(over="ignore"):
        seeds = (np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN).astype(np.uint64)
    out = mix64(seeds) | np.uint64(1)
    out.setflags(write=False)
    return out


def prefix_hashes(ids: npt.ArrayLike, width: int) -> U64:
    """One 64-bit hash per window of ``width`` consecutive token ids (rows of a 2-D array: one per row)."""
    arr = np.asarray(ids, dtype=np.int64)
    windows = arr if arr.ndim == 2 else np.lib.stride_tricks.sliding_window_view(arr, width)
    return window_hashes(windows.astype(np.uint64))


def window_hashes(windows: U64) -> U64:
    """One hash per row of 64-bit items (token ids, or the matching engine's word hashes): a position-weighted
    sum, mixed by ``textfp.mix64``. (Array arithmetic wraps modulo 2**64 without a warning: no ``errstate``
    needed, and none paid for at every decoding step.)"""
    acc = ((windows + np.uint64(1)) * _multipliers(windows.shape[1])).sum(axis=1, dtype=np.uint64)
    return mix64(acc)


def _ngram_keys(prefix: U64, nxt: npt.ArrayLike) -> U64:
    with np.errstate(over="ignore"):
        return mix64(prefix ^ ((np.asarray(nxt, dtype=np.uint64) + np.uint64(1)) * _TOKEN_MIX))


class _Bloom:
    def __init__(self, items: int, bits_per_item: int) -> None:
        m = max(64, -(-max(1, items) * bits_per_item // 64) * 64)
        self.m = np.uint64(m)
        self.k = max(1, round(bits_per_item * math.log(2)))
        self.bits = np.zeros(m // 8, dtype=np.uint8)

    def _positions(self, keys: U64) -> U64:
        with np.errstate(over="ignore"):
            h2 = mix64(keys ^ _SECOND) | np.uint64(1)
            steps = np.arange(self.k, dtype=np.uint64)
            return (keys[:, None] + steps[None, :] * h2[:, None]) % self.m

    def add(self, keys: U64) -> None:
        pos = self._positions(keys).ravel()
        np.bitwise_or.at(
            self.bits, (pos >> np.uint64(3)).astype(np.int64), (1 << (pos & np.uint64(7))).astype(np.uint8)
        )

    def contains(self, keys: U64) -> npt.NDArray[np.bool_]:
        pos = self._positions(keys)
        byte = self.bits[(pos >> np.uint64(3)).astype(np.int64)]
        hit = (byte >> (pos & np.uint64(7)).astype(np.uint8)) & np.uint8(1)
        out: npt.NDArray[np.bool_] = np.asarray(hit.all(axis=1), dtype=bool)
        return out


class _SetStore:
    """Sorted ``(prefix hash, next token)`` pairs: exact, 16 bytes per n-gram."""

    def __init__(self, prefixes: U64, nexts: I64) -> None:
        pairs = np.unique(np.stack([prefixes, nexts.astype(np.uint64)], axis=1), axis=0)
        self.prefixes = np.ascontiguousarray(pairs[:, 0])
        self.nexts = pairs[:, 1].astype(np.int64)
        self.count = int(self.prefixes.size)
        self.nbytes = int(self.prefixes.nbytes + self.nexts.nbytes)

    def banned(self, h: U64, vocab: int) -> list[I64]:
        lo = np.searchsorted(self.prefixes, h, side="left")
        hi = np.searchsorted(self.prefixes, h, side="right")
        return [self.nexts[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True)]


class _BloomStore:
    """A Bloom filter of prefixes (to skip most steps at once) and one of whole n-grams."""

    def __init__(self, prefixes: U64, nexts: I64 | U64, bits: int) -> None:
        keys = np.unique(_ngram_keys(prefixes, nexts))
        uniq = np.unique(prefixes)
        self.prefix_filter, self.full_filter = _Bloom(uniq.size, bits), _Bloom(keys.size, bits)
        self.prefix_filter.add(uniq)
        self.full_filter.add(keys)
        self.count = int(keys.size)
        self.nbytes = int(self.prefix_filter.bits.nbytes + self.full_filter.bits.nbytes)

    def known(self, h: U64) -> npt.NDArray[np.bool_]:
        return self.prefix_filter.contains(h)

    def has(self, h: U64, nxt: U64) -> npt.NDArray[np.bool_]:
        return self.full_filter.contains(_ngram_keys(h, nxt))

    def banned(self, h: U64, vocab: int) -> list[I64]:
        present = self.prefix_filter.contains(h)
        candidates = np.arange(vocab, dtype=np.int64)
        out: list[I64] = []
        for row, here in zip(h.tolist(), present.tolist(), strict=True):
            if not here:
                out.append(np.empty(0, dtype=np.int64))
                continue
            keys = _ngram_keys(np.full(vocab, row, dtype=np.uint64), candidates)
            out.append(candidates[self.full_filter.contains(keys)])
        return out


class NgramBlocklist:
    """The token n-grams a generation must not complete. Build with :meth:`build`."""

    def __init__(self, n: int, kind: str, store: _SetStore | _BloomStore) -> None:
        self.n, self.kind, self._store = n, kind, store

    @property
    def ngrams(self) -> int:
        return self._store.count

    @property
    def nbytes(self) -> int:
        return self._store.nbytes

    @classmethod
    def build(
        cls, sequences: Iterable[Sequence[int]], *, n: int = 8, kind: str = "set", bits: int = 16
    ) -> NgramBlocklist:
        """Every ``n``-gram of every token sequence (a protected work as the model's tokenizer splits it)."""
        if n < 2:
            raise InvalidInputError("a blocked n-gram needs at least two tokens", field="n")
        if kind not in ("set", "bloom"):
            raise InvalidInputError(f"unknown blocklist kind {kind!r}: set or bloom", field="kind")
        prefixes: list[U64] = [np.empty(0, dtype=np.uint64)]
        nexts: list[I64] = [np.empty(0, dtype=np.int64)]
        for seq in sequences:
            arr = np.asarray(seq, dtype=np.int64)
            if arr.size >= n:
                prefixes.append(prefix_hashes(arr[:-1], n - 1))
                nexts.append(arr[n - 1 :])
        pre, nxt = np.concatenate(prefixes), np.concatenate(nexts)
        store = _SetStore(pre, nxt) if kind == "set" else _BloomStore(pre, nxt, bits)
        return cls(n, kind, store)

    def banned_many(self, contexts: npt.ArrayLike, vocab: int) -> list[I64]:
        """For each row of ``contexts`` (the last ``n - 1`` tokens of a sequence), the banned next tokens."""
        ctx = np.asarray(contexts, dtype=np.int64)
        if ctx.ndim != 2 or ctx.shape[1] != self.n - 1:
            raise InvalidInputError(f"contexts must be rows of {self.n - 1} tokens", field="contexts")
        if ctx.shape[0] == 0 or self.ngrams == 0:
            return [np.empty(0, dtype=np.int64) for _ in range(ctx.shape[0])]
        return self._store.banned(prefix_hashes(ctx, self.n - 1), vocab)

    def banned(self, context: Sequence[int], vocab: int) -> I64:
        """The tokens that would complete a blocked n-gram after ``context`` (its last ``n - 1`` tokens)."""
        if len(context) < self.n - 1:
            return np.empty(0, dtype=np.int64)
        return self.banned_many([list(context)[-(self.n - 1) :]], vocab)[0]


class MemFree:
    """A ``transformers`` logits processor: ``model.generate(..., logits_processor=LogitsProcessorList(
    [MemFree(blocklist)]))``, or one of the audit's ``processors``.

    ``blocked`` counts the tokens it masked whose logit was the highest (the ones that changed what greedy
    decoding would have said); ``masked`` counts every masked token.
    """

    def __init__(self, blocklist: NgramBlocklist) -> None:
        self.blocklist = blocklist
        self.blocked = 0
        self.masked = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        n1 = self.blocklist.n - 1
        if input_ids.shape[1] < n1:
            return scores
        ctx = input_ids[:, -n1:].detach().cpu().numpy()
        banned = self.blocklist.banned_many(ctx, int(scores.shape[-1]))
        rows = [np.full(b.size, r, dtype=np.int64) for r, b in enumerate(banned) if b.size]
        if not rows:
            return scores
        import torch

        r = torch.from_numpy(np.concatenate(rows)).to(scores.device)
        c = torch.from_numpy(np.concatenate([b for b in banned if b.size])).to(scores.device)
        top = scores.argmax(dim=-1)
        self.blocked += int((top[r] == c).sum())
        self.masked += int(r.numel())
        scores = scores.clone()
        scores[r, c] = -float("inf")
        return scores


__all__ = ["MemFree", "NgramBlocklist", "prefix_hashes", "window_hashes"]
