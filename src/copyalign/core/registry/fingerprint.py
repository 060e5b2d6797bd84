"""The identifiers stored with every registered work, computed from its content.

Bump :data:`FINGERPRINT_VERSION` when any of it changes, so stored rows can be redone:

* ``sha256`` of the raw bytes: the blob address and the exact-copy lookup key;
* ``norm_sha256`` for text: the digest after :func:`~copyalign.core.content.normalise_text`, so a re-encoded or
  re-wrapped copy of a registered text is still an exact match;
* the ISCC (ISO 24138) of Content-, Data- and Instance-Code, as the TDM·AI opt-out registry uses, and the
  64-bit Content-Code alone for similarity lookups.

Example:
    >>> fp = fingerprint(b"Call me Ishmael.", Limits())
    >>> fp.kind, fp.iscc.startswith("ISCC:")
    ('text', True)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import iscc_core as ic
import numpy as np
from PIL import Image

from copyalign.core.content import KINDS, Limits, decode_text, guess_kind, normalised_sha256, open_image
from copyalign.core.registry.iscc import soft_hash_text, text_collapse
from copyalign.core.registry.iscc_code import iscc_code
from copyalign.core.registry.iscc_image import soft_hash_image
from copyalign.errors import ContentTooLargeError, InvalidInputError

FINGERPRINT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Fingerprint:
    kind: str
    media_type: str
    size_bytes: int
    sha256: str
    norm_sha256: str | None
    iscc: str
    iscc_content: int  # unsigned 64-bit Content-Code body
    characters: int | None = None
    width: int | None = None
    height: int | None = None
    version: int = FINGERPRINT_VERSION


def _image_digest(img: Image.Image) -> bytes:
    """The 64-bit digest of the image's Content-Code (iscc-core's ``gen_image_code_v0``, bit for bit)."""
    # ISCC image normalisation (as iscc-sdk does): transparency onto white, greyscale, 32x32 bicubic.
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    grey = img.convert("L").resize((32, 32), Image.Resampling.BICUBIC)
    return soft_hash_image(np.asarray(grey, dtype=np.uint8))


def fingerprint(data: bytes, limits: Limits, *, kind: str | None = None, field: str = "content") -> Fingerprint:
    """Validate ``data`` as ``kind`` (guessed from magic bytes when ``None``) and fingerprint it.

    The ISCC-CODE is built from the units' digests (:func:`iscc_code`), not from their encoded strings: the same
    code without iscc-core's base32 round trips (~0.3 ms a work); ``iscc_content`` is the Content-Code's 64-bit
    body, its digest's first 8 bytes, as ``code_to_int`` would decode it."""
    if len(data) > limits.max_bytes:
        raise ContentTooLargeError(f"content is {len(data)} bytes, over the limit of {limits.max_bytes}", field=field)
    kind = kind or guess_kind(data)
    sha = hashlib.sha256(data).hexdigest()
    if kind == "text":
        text = decode_text(data, field=field)
        digest = soft_hash_text(text_collapse(text))
        return Fingerprint(
            kind="text",
            media_type="text/plain; charset=utf-8",
            size_bytes=len(data),
            sha256=sha,
            norm_sha256=normalised_sha256(text).hex(),
            iscc=iscc_code(ic.ST_CC.TEXT, digest, data),
            iscc_content=int.from_bytes(digest[:8], "big"),
            characters=len(text),
        )
    if kind == "image":
        img, media_type = open_image(data, limits, field=field)
        digest = _image_digest(img)
        return Fingerprint(
            kind="image",
            media_type=media_type,
            size_bytes=len(data),
            sha256=sha,
            norm_sha256=None,
            iscc=iscc_code(ic.ST_CC.IMAGE, digest, data),
            iscc_content=int.from_bytes(digest[:8], "big"),
            width=img.width,
            height=img.height,
        )
    raise InvalidInputError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}", field="kind")


__all__ = ["FINGERPRINT_VERSION", "Fingerprint", "fingerprint"]
