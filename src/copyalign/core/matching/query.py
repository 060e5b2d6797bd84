"""A query as the engine searches it: everything computed once from a text or an image, whatever the
number of index segments it is then probed against.

Pure: fingerprints, digests and PDQ words, no index and no registry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from copyalign.core.content import normalised_sha256
from copyalign.core.matching import textfp
from copyalign.core.matching.imagefp import PDQ_MIN_QUALITY, pdq_words, prepare, query_pdq
from copyalign.core.text import CJK_RANGES, CJK_WEIGHT


def _cjk_table() -> np.ndarray:
    table = np.zeros(CJK_RANGES[-1][1] + 2, dtype=bool)  # the last slot: every code point above the ranges
    for a, b in CJK_RANGES:
        table[a : b + 1] = True
    return table


_CJK_POINTS = _cjk_table()


@dataclass(frozen=True, slots=True)
class TextQuery:
    """Everything computed once from a query text, whatever the number of segments it is probed against."""

    text: str
    sha: bytes
    norm: bytes
    fp: textfp.TextFingerprint
    tokens32: np.ndarray  # low 32 bits of the token hashes, as segments store them
    signature: np.ndarray | None
    lsh: np.ndarray | None  # the signature's LSH keys, computed once for every segment
    other_tokens: int  # at least as many as the tokens that are not one CJK character (see passage_weight)

    @classmethod
    def of(cls, text: str, raw: bytes) -> TextQuery:
        fp = textfp.text_fingerprint(text)
        signature = textfp.minhash(fp.kgrams) if fp.size else None
        return cls(
            text,
            hashlib.sha256(raw).digest(),
            normalised_sha256(text),
            fp,
            (fp.token_hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32),
            signature,
            None if signature is None else textfp.lsh_keys(signature),
            fp.size - _cjk_tokens(text, fp),
        )

    def passage_weight(self, min_passage_tokens: int) -> int:
        """The least token weight (:func:`copyalign.core.text.token_weight`) any reportable passage can have.

        A passage counts its tokens at weight 1 only where at most half of its span is CJK characters, so
        at least half of its tokens, ``min_passage_tokens / 2`` or more, are other tokens. A query with fewer
        than that is all CJK to the engine: each of its passages needs ``CJK_WEIGHT`` times as many tokens, so
        (winnowing) as many more shared fingerprints, which lets the engine skip the works that share only a
        few stock characters.
        """
        return CJK_WEIGHT if self.other_tokens * 2 < min_passage_tokens else 1


def _cjk_tokens(text: str, fp: textfp.TextFingerprint) -> int:
    """How many tokens are a single CJK character (a lower bound of the tokens holding one)."""
    if text.isascii() or fp.size == 0:
        return 0
    single = fp.starts[(fp.ends - fp.starts) == 1]
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)[single]
    # take(mode="clip") sends every code point above the ranges to the table's last slot: 3x faster than
    # indexing with np.minimum(points, size - 1), once per query of every Chinese text the scan reads
    return int(np.count_nonzero(_CJK_POINTS.take(points, mode="clip")))


def pixel_sha256(img: Any) -> bytes:
    """The digest of an in-memory image: its mode, size and pixel bytes (an image that is not a file yet)."""
    h = hashlib.sha256(f"{img.mode} {img.width}x{img.height}\n".encode())
    h.update(img.tobytes())
    return h.digest()


def image_query(img: Any) -> np.ndarray:
    """The PDQ words an image is searched with: as it is and mirrored, flat (low-quality) hashes left out,
    since a blank image would match every other blank image."""
    hashes = [digest for digest, quality in query_pdq(prepare(img)) if quality >= PDQ_MIN_QUALITY]
    return np.array([pdq_words(h) for h in hashes], dtype=np.uint64).reshape(-1, 4)


__all__ = ["TextQuery", "image_query", "pixel_sha256"]
