"""Reading registered content safely and computing the identifiers stored with every work.

Content arrives from strangers, so decoding is defensive: text must be strict UTF-8 without NUL bytes (a
NUL means a binary file sent as text); images are checked for their pixel count *before* decoding (a
decompression bomb is a small file that expands to gigabytes) and fully decoded once (a truncated file fails
here, not later in a scan). Each failure is an :class:`InvalidInputError` subclass naming what is wrong.

What is computed (bump :data:`FINGERPRINT_VERSION` when any of it changes, so stored rows can be redone):

* ``sha256`` of the raw bytes: the blob address and the exact-copy lookup key;
* ``norm_sha256`` for text: the digest after :func:`normalise_text`, so a re-encoded or re-wrapped copy of
  a registered text is still an exact match;
* the ISCC (ISO 24138) of Content-, Data- and Instance-Code, as the TDM·AI opt-out registry uses, and the
  64-bit Content-Code alone for similarity lookups.

Example:
    >>> fp = fingerprint(b"Call me Ishmael.", Limits())
    >>> fp.kind, fp.iscc.startswith("ISCC:")
    ('text', True)
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
import warnings
from dataclasses import dataclass
from functools import lru_cache

import iscc_core as ic
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from copyalign.core import kernels
from copyalign.core.iscc import code_to_int, text_code
from copyalign.core.kernels import native
from copyalign.errors import ContentTooLargeError, InvalidInputError, UnsupportedContentError

FINGERPRINT_VERSION = 1

IMAGE_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
}
_IMAGE_MAGIC = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"RIFF",
    b"II*\x00",
    b"MM\x00*",
    b"BM",
)

KINDS = ("text", "image")


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied while reading content; the server takes them from its settings."""

    max_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 40_000_000


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


_TYPOGRAPHY = str.maketrans(
    {c: "'" for c in "‘’‚‛′`´"} | {c: '"' for c in "“”„‟″«»"} | {c: "-" for c in "‐‑‒–—―−﹘﹣－"}
)


def normalise_text(text: str) -> str:
    """NFKC, case-folded, with typographic quotes and dashes unified and all whitespace runs collapsed.

    Idempotent: ``normalise_text(normalise_text(t)) == normalise_text(t)``.
    """
    t = unicodedata.normalize("NFKC", text).casefold().translate(_TYPOGRAPHY)
    t = " ".join(t.split())
    # casefold can produce sequences that NFKC would compose; one more pass makes the function idempotent.
    return unicodedata.normalize("NFKC", t)


def normalised_sha256(text: str) -> bytes:
    """SHA-256 of :func:`normalise_text`'s UTF-8; normalised by the C kernel, when built, where every character
    is one the kernel's table knows (ASCII; Chinese, Japanese, Korean and most other text)."""
    if native is not None:
        fast = native.normalise_ascii(text)
        if fast is None:
            fast = native.normalise_unicode(text, *_normalise_table())
        if fast is not None:
            return hashlib.sha256(fast).digest()
    return hashlib.sha256(normalise_text(text).encode()).digest()


_N_ASK, _N_SPACE, _N_KEEP = range(3)  # classes of the table (_kernels.c: N_ASK, N_SPACE, N_KEEP)


@lru_cache(maxsize=1)
def _normalise_table() -> tuple[bytes, bytes, bytes]:
    """:func:`normalise_text` one character at a time, as ``native.normalise_unicode``'s table.

    Where NFKC cannot join a character to the one before it (:class:`kernels.UnicodeFacts`
    ``boundary_before``), ``NFKC(text)`` is the concatenation of each character's NFKC, and case folding and the
    typography table work character by character too; so a text of such characters normalises to the
    concatenation of each one's ``g(c) = NFKC(c).casefold().translate(_TYPOGRAPHY)``, with whitespace runs made
    one space. The final NFKC leaves that alone where every character of every ``g(c)`` is itself a boundary
    that NFKC does not change. A character for which any of this fails (a combining mark, a lone surrogate,
    which UTF-8 refuses) sends the text to :func:`normalise_text`.
    """
    facts = kernels.unicode_facts()
    surrogate = np.zeros(kernels.CODE_POINTS, dtype=bool)
    surrogate[0xD800:0xE000] = True
    entries = np.full(kernels.CODE_POINTS, _N_ASK, dtype=np.uint32)
    entries[facts.boundary_before & ~facts.space & ~surrogate] = _N_KEEP | kernels.SIMPLE
    entries[facts.boundary_before & facts.space] = _N_SPACE | kernels.SIMPLE

    def inert(c: str) -> bool:
        cp = ord(c)
        return bool(facts.boundary_before[cp]) and cp not in facts.nfkc and not surrogate[cp] and not c.isspace()

    exp = kernels.Expansions()
    for cp in sorted(facts.nfkc.keys() | facts.casefold.keys() | _TYPOGRAPHY.keys()):
        g = facts.casefold_of(facts.nfkc_of(cp)).translate(_TYPOGRAPHY)
        if not facts.boundary_before[cp] or surrogate[cp]:
            entries[cp] = _N_ASK
        elif g.isspace():
            entries[cp] = _N_SPACE | kernels.SIMPLE
        elif all(map(inert, g)) and len(g) <= kernels.MAX_LENGTH:
            entries[cp] = exp.mapping(_N_KEEP, cp, g)
        else:
            entries[cp] = _N_ASK
    stage1, stage2 = kernels.two_stage(entries)
    return stage1, stage2, exp.tobytes()


def decode_text(data: bytes, *, field: str = "content") -> str:
    if not data:
        raise InvalidInputError("the content is empty", field=field, code="empty_content")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"text is not valid UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r})",
            field=field,
            code="invalid_text_encoding",
        ) from None
    if "\x00" in text:
        raise UnsupportedContentError(
            "text contains NUL bytes: this looks like a binary file", field=field, code="binary_text"
        )
    if not text.strip():
        raise InvalidInputError("the text is only whitespace", field=field, code="empty_content")
    return text


def looks_like_image(data: bytes) -> bool:
    return data.startswith(_IMAGE_MAGIC)


def guess_kind(data: bytes) -> str:
    return "image" if looks_like_image(data) else "text"


def open_image(data: bytes, limits: Limits, *, field: str = "content") -> tuple[Image.Image, str]:
    """Decode an image fully, orientation applied, refusing bombs and truncated files.

    Returns the image and its media type.
    """
    if not data:
        raise InvalidInputError("the content is empty", field=field, code="empty_content")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format not in IMAGE_FORMATS:
                raise UnsupportedContentError(
                    f"image format {img.format} is not accepted; use one of {', '.join(IMAGE_FORMATS)}",
                    field=field,
                    code="unsupported_image_format",
                )
            w, h = img.size
            if w * h > limits.max_image_pixels:
                raise ContentTooLargeError(
                    f"image is {w}x{h} = {w * h} pixels, over the limit of {limits.max_image_pixels}"
                    " (a decompression bomb is refused before decoding)",
                    field=field,
                    code="image_too_large",
                )
            img.load()
            return ImageOps.exif_transpose(img), IMAGE_FORMATS[img.format]
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ContentTooLargeError(str(exc), field=field, code="image_too_large") from None
    except UnidentifiedImageError:
        raise UnsupportedContentError(
            "the file is not an image we can read", field=field, code="invalid_image"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedContentError(
            f"the image cannot be decoded: {exc}", field=field, code="invalid_image"
        ) from None


def _image_content_code(img: Image.Image) -> str:
    # ISCC image normalisation (as iscc-sdk does): transparency onto white, greyscale, 32x32 bicubic.
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    grey = img.convert("L").resize((32, 32), Image.Resampling.BICUBIC)
    pixels = np.asarray(grey, dtype=np.uint8).ravel().tolist()
    return str(ic.gen_image_code_v0(pixels)["iscc"])


def _composite(content_code: str, data: bytes) -> str:
    stream = io.BytesIO(data)
    data_code = ic.gen_data_code_v0(stream)["iscc"]
    stream.seek(0)
    instance_code = ic.gen_instance_code_v0(stream)["iscc"]
    return str(ic.gen_iscc_code_v0([content_code, data_code, instance_code])["iscc"])


def fingerprint(data: bytes, limits: Limits, *, kind: str | None = None, field: str = "content") -> Fingerprint:
    """Validate ``data`` as ``kind`` (guessed from magic bytes when ``None``) and fingerprint it."""
    if len(data) > limits.max_bytes:
        raise ContentTooLargeError(f"content is {len(data)} bytes, over the limit of {limits.max_bytes}", field=field)
    kind = kind or guess_kind(data)
    sha = hashlib.sha256(data).hexdigest()
    if kind == "text":
        text = decode_text(data, field=field)
        content_code = text_code(text)
        return Fingerprint(
            kind="text",
            media_type="text/plain; charset=utf-8",
            size_bytes=len(data),
            sha256=sha,
            norm_sha256=normalised_sha256(text).hex(),
            iscc=_composite(content_code, data),
            iscc_content=code_to_int(content_code),
            characters=len(text),
        )
    if kind == "image":
        img, media_type = open_image(data, limits, field=field)
        content_code = _image_content_code(img)
        return Fingerprint(
            kind="image",
            media_type=media_type,
            size_bytes=len(data),
            sha256=sha,
            norm_sha256=None,
            iscc=_composite(content_code, data),
            iscc_content=code_to_int(content_code),
            width=img.width,
            height=img.height,
        )
    raise InvalidInputError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}", field="kind")
