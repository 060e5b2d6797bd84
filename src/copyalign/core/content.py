"""Reading content safely: what kind it is (the one magic-byte table), decoding it defensively, normalising text.

Content arrives from strangers, so decoding is defensive: text must be strict UTF-8 without NUL bytes (a
NUL means a binary file sent as text); images are checked for their pixel count *before* decoding (a
decompression bomb is a small file that expands to gigabytes) and fully decoded once (a truncated file fails
here, not later in a scan). Each failure is an :class:`InvalidInputError` subclass naming what is wrong.

What a registered work is identified by (digests, ISCC) is computed from these in
:mod:`copyalign.core.registry.fingerprint`.

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

from PIL import Image, ImageOps, UnidentifiedImageError

from copyalign.core.kernels import native
from copyalign.errors import ContentTooLargeError, InvalidInputError, UnsupportedContentError

IMAGE_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
}
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"RIFF", "image/webp"),  # and "WEBP" at byte 8: a RIFF file may hold sound or video instead
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"),
)
"""The one table of file signatures: what a file is taken for is read from its first bytes, here only."""

KINDS = ("text", "image")


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied while reading content; the server takes them from its settings."""

    max_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 40_000_000


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
    """SHA-256 of :func:`normalise_text`'s UTF-8; ASCII text is normalised by the C kernel, when built."""
    if native is not None:
        fast = native.normalise_ascii(text)
        if fast is not None:
            return hashlib.sha256(fast).digest()
    return hashlib.sha256(normalise_text(text).encode()).digest()


def decode_text(data: bytes, *, field: str = "content") -> str:
    if not data:
        raise InvalidInputError("the content is empty", field=field, code="empty_content")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"this file was read as text, since it does not start like an image ({', '.join(IMAGE_FORMATS)}), "
            f"and it is not valid UTF-8 text (byte {exc.start} is {data[exc.start : exc.start + 1]!r}): an image "
            "is damaged or in another format; a text must be saved as UTF-8",
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


def media_type_of(data: bytes) -> str | None:
    """The image media type ``data``'s first bytes announce (:data:`MAGIC`); None for anything else."""
    head = bytes(data[:12])
    for magic, media_type in MAGIC:
        if head.startswith(magic):
            if media_type == "image/webp" and head[8:12] != b"WEBP":
                return None
            return media_type
    return None


def looks_like_image(data: bytes) -> bool:
    return media_type_of(data) is not None


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
