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
        )


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
