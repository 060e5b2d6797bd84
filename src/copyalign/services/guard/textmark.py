"""The green-list watermark for generated text (Kirchenbauer et al., "A Watermark for Large Language Models",
ICML 2023), keyed so that only the provider can detect it.

At each generation step the previous ``context`` tokens (the paper's h) pick a pseudo-random *green list*, a
fraction ``gamma`` of the vocabulary, and ``delta`` is added to the green tokens' logits, so sampling prefers
them without forbidding anything. A text of T scored tokens, ``g`` of them green, gets
``z = (g - γT) / sqrt(T γ (1-γ))``: unwatermarked text has about ``γT`` green tokens by chance (z near 0),
watermarked text many more (z of 4 and up after a couple of hundred tokens). Detection needs the key and the
token ids, not the model, and not torch.

How a token's colour is decided. A context's word ``a`` is the first 4 bytes of HMAC-SHA256(key, context ids);
the key also gives a word ``w``. Token ``t`` is green after that context when ``f(f(t ^ w) ^ a) < γ·2**32``,
where ``f`` is MurmurHash3's 32-bit finaliser (a bijection with full avalanche). So each (context, token) pair
is green with probability exactly γ over the key, independently of the model, which is what the paper's
z-test assumes; a green list holds γV tokens on average rather than exactly (the paper draws a permutation and
takes its first γV tokens). The choice buys speed where it matters: the processor needs one hash per
vocabulary entry and row, vectorised in torch on the logits' device with no sort (``f(t ^ w)`` is computed once
per vocabulary), and detection hashes only the T observed tokens, in plain Python, instead of T green lists of
the whole vocabulary. Integer arithmetic is exact on every device, so a text generated on a GPU is detected on
any CPU (a seeded ``torch.randperm``, as in the paper's reference code, differs between CPU and CUDA). The HMAC
makes green lists unpredictable without the key (the reference code seeds with a public multiple of the
previous token).

Repeated ``(context, token)`` pairs are scored once (the paper's "ignore repeated n-grams"): a text that
repeats one phrase would otherwise count the same evidence many times.

The logits processor needs the ``ml`` extra (torch and transformers), imported when it is first made.

Example:
    >>> config = GreenListConfig(key=b"a secret of this deployment")
    >>> processor = green_list_processor(config, vocab_size=len(tokenizer))  # doctest: +SKIP
    >>> out = model.generate(ids, do_sample=True, logits_processor=LogitsProcessorList([processor]))  # doctest: +SKIP
    >>> detect_text_watermark(out[0, ids.shape[1]:].tolist(), config, len(tokenizer)).detected  # doctest: +SKIP
    True
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from copyalign.errors import InvalidInputError, MissingExtraError

_M32 = 0xFFFFFFFF
_C1, _C2 = 0x85EBCA6B, 0xC2B2AE35  # MurmurHash3 fmix32 constants
_DOMAIN = b"copyalign green list v1\x00"
_MAX_CACHED_CONTEXTS = 1 << 16


@dataclass(frozen=True)
class GreenListConfig:
    """The watermark's key and strength: ``gamma`` the green fraction, ``delta`` the logit bias, ``context`` the
    number of previous tokens that choose the green list. Validated on construction; the key is kept out of
    ``repr``."""

    key: bytes = field(repr=False)
    gamma: float = 0.25
    delta: float = 2.0
    context: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or not self.key:
            raise InvalidInputError("the watermark key must be non-empty bytes", field="key")
        if isinstance(self.gamma, bool) or not isinstance(self.gamma, float | int) or not 0.0 < self.gamma < 1.0:
            raise InvalidInputError(f"gamma must be between 0 and 1, not {self.gamma!r}", field="gamma")
        if isinstance(self.delta, bool) or not isinstance(self.delta, float | int) or not 0 <= self.delta < math.inf:
            raise InvalidInputError(f"delta must be a finite number >= 0, not {self.delta!r}", field="delta")
        if isinstance(self.context, bool) or not isinstance(self.context, int) or self.context < 1:
            raise InvalidInputError(f"context must be an integer >= 1, not {self.context!r}", field="context")

    @property
    def threshold(self) -> int:
        """A token is green when its 32-bit score is below this: ``round(gamma * 2**32)``."""
        return round(self.gamma * (1 << 32))


@dataclass(frozen=True)
class TextMarkResult:
    """``green`` of ``scored`` distinct (context, token) pairs were green; ``z_score`` and its one-sided normal
    ``p_value``; ``detected`` when ``z_score`` is above the threshold."""

    z_score: float
    p_value: float
    green: int
    scored: int
    detected: bool


def _fmix32(x: int) -> int:
    x ^= x >> 16
    x = (x * _C1) & _M32
    x ^= x >> 13
    x = (x * _C2) & _M32
    return x ^ (x >> 16)


class _Words:
    """The key's vocabulary word and the HMAC words of contexts (cached: generation asks for the same contexts
    over and over)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._cache: dict[tuple[int, ...], int] = {}
        self.vocab = self._mac(b"vocabulary")

    def _mac(self, message: bytes) -> int:
        return int.from_bytes(hmac.new(self._key, _DOMAIN + message, hashlib.sha256).digest()[:4], "big")

    def context(self, ids: tuple[int, ...]) -> int:
        word = self._cache.get(ids)
        if word is None:
            word = self._mac(b"context" + b"".join(t.to_bytes(8, "big", signed=True) for t in ids))
            if len(self._cache) >= _MAX_CACHED_CONTEXTS:
                self._cache.clear()
            self._cache[ids] = word
        return word


def _check_vocab(vocab_size: int) -> None:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or not 2 <= vocab_size <= _M32:
        raise InvalidInputError(
            f"vocab_size must be an integer from 2 to 2**32-1, not {vocab_size!r}", field="vocab_size"
        )


# ----------------------------------------------------------------------------------------- torch (vectorised)


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingExtraError("the text watermark's logits processor", "ml") from exc
    return torch


def _tmul32_(x: Any, c: int) -> Any:
    """``x * c mod 2**32`` in place, for an int64 tensor ``x`` in [0, 2**32), without overflowing int64: ``c``
    is split into 16-bit halves, so no product exceeds 2**48."""
    high = x * (c >> 16)
    high &= 0xFFFF
    high <<= 16
    x *= c & 0xFFFF
    x += high
    x &= _M32
    return x


def _tfmix32_(x: Any) -> Any:
    """:func:`_fmix32` of every element, in place (``x`` is a fresh int64 tensor of values in [0, 2**32))."""
    x ^= x >> 16
    _tmul32_(x, _C1)
    x ^= x >> 13
    _tmul32_(x, _C2)
    x ^= x >> 16
    return x


class _GreenLists:
    """Green masks for rows of contexts, on any device; ``f(t ^ w)`` for the whole vocabulary is computed once
    per device."""

    def __init__(self, config: GreenListConfig, vocab_size: int) -> None:
        _check_vocab(vocab_size)
        self.config = config
        self.vocab_size = vocab_size
        self.words = _Words(config.key)
        self._tables: dict[str, Any] = {}

    def mask(self, contexts: Sequence[Sequence[int]], device: Any = None) -> Any:
        torch = _torch()
        table = self._tables.get(str(device))
        if table is None:
            vocab = torch.arange(self.vocab_size, dtype=torch.int64, device=device)
            table = self._tables[str(device)] = _tfmix32_(vocab ^ self.words.vocab)
        words = [self.words.context(tuple(int(t) for t in c)) for c in contexts]
        a = torch.tensor(words, dtype=torch.int64, device=device).reshape(-1, 1)
        return _tfmix32_(table[None, :] ^ a) < self.config.threshold


def green_mask(
    config: GreenListConfig, contexts: Sequence[Sequence[int]], vocab_size: int, *, device: Any = None
) -> Any:
    """A ``(len(contexts), vocab_size)`` bool tensor whose row i marks the green list after ``contexts[i]`` (each
    a sequence of ``config.context`` token ids)."""
    return _GreenLists(config, vocab_size).mask(contexts, device)


@functools.cache
def _processor_class() -> type:
    torch = _torch()
    try:
        from transformers import LogitsProcessor
    except ImportError as exc:
        raise MissingExtraError("the text watermark's logits processor", "ml") from exc

    class GreenListLogitsProcessor(LogitsProcessor):
        """Adds ``delta`` to the green logits of each row; rows shorter than the context are left alone."""

        def __init__(self, config: GreenListConfig, vocab_size: int) -> None:
            self.config = config
            self.vocab_size = vocab_size
            self._lists = _GreenLists(config, vocab_size)

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            h = self.config.context
            if input_ids.shape[-1] < h:
                return scores
            if scores.shape[-1] < self.vocab_size:
                raise InvalidInputError(
                    f"the model scores {scores.shape[-1]} tokens, fewer than the vocabulary of {self.vocab_size}",
                    field="vocab_size",
                )
            mask = self._lists.mask(input_ids[:, -h:].tolist(), scores.device)
            bias = torch.zeros_like(scores)
            bias[:, : self.vocab_size] = mask.to(scores.dtype) * self.config.delta
            return scores + bias

    return GreenListLogitsProcessor


def green_list_processor(config: GreenListConfig, vocab_size: int) -> Any:
    """A ``transformers.LogitsProcessor`` that watermarks what ``model.generate`` samples; pass it in
    ``logits_processor=LogitsProcessorList([...])``. ``vocab_size`` is the tokenizer's ``len(tokenizer)``
    (a model whose output layer is padded past it gets no bias on the padding).

    Raises:
        MissingExtraError: torch or transformers is not installed.
    """
    if not isinstance(config, GreenListConfig):
        raise InvalidInputError("green_list_processor takes a GreenListConfig", field="config")
    _check_vocab(vocab_size)
    return _processor_class()(config, vocab_size)


# --------------------------------------------------------------------------------------------------- detection


def detect_text_watermark(
    token_ids: Sequence[int], config: GreenListConfig, vocab_size: int, *, z_threshold: float = 4.0
) -> TextMarkResult:
    """Test ``token_ids`` (the generated tokens, tokenised as the model produced them) for the watermark of
    ``config``. The first ``config.context`` tokens only choose; each later token is scored once per distinct
    (context, token) pair. With no pair to score the result is ``z = 0``, ``p = 1``, not detected. Needs
    neither the model nor torch.

    Raises:
        InvalidInputError: a token id outside ``[0, vocab_size)``.
    """
    _check_vocab(vocab_size)
    ids = [int(t) for t in token_ids]
    bad = next((t for t in ids if not 0 <= t < vocab_size), None)
    if bad is not None:
        raise InvalidInputError(f"token id {bad} is outside the vocabulary of {vocab_size}", field="token_ids")
    h = config.context
    pairs = dict.fromkeys((tuple(ids[i - h : i]), ids[i]) for i in range(h, len(ids)))
    if not pairs:
        return TextMarkResult(0.0, 1.0, 0, 0, False)
    words = _Words(config.key)
    threshold = config.threshold
    green = sum(_fmix32(_fmix32(t ^ words.vocab) ^ words.context(c)) < threshold for c, t in pairs)
    scored = len(pairs)
    gamma = threshold / (1 << 32)
    z = (green - gamma * scored) / math.sqrt(scored * gamma * (1 - gamma))
    p = 0.5 * math.erfc(z / math.sqrt(2))
    return TextMarkResult(z, p, green, scored, z > z_threshold)
