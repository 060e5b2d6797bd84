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
import threading
import unicodedata
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from copyalign.core import kernels
from copyalign.core.kernels import native
from copyalign.errors import ContentTooLargeError, InvalidInputError, RateLimitedError, UnsupportedContentError

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


#: Bytes of memory one decoded pixel is taken to cost: the decoded image (up to 4 bytes a pixel) and the working
#: copies that hashing, compositing and labelling make of it (about twice more). Measured: a 6300 x 6300 PNG
#: cost ~460 MB transient, 11.6 bytes a pixel.
BYTES_PER_PIXEL = 12


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied while reading content; the server takes them from its settings.

    ``decode_budget_bytes`` bounds the memory that images being decoded and worked on may take in one
    process at once (:class:`DecodeGate`): an image whose estimate alone is over it is refused (413), others
    wait for room.
    """

    max_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    decode_budget_bytes: int = 1024 * 1024 * 1024


class DecodeGate:
    """A weighted semaphore over the estimated bytes of the images alive after decoding, one per process and
    budget (:func:`decode_gate`).

    A decode takes ``BYTES_PER_PIXEL * width * height`` from the budget before ``load()`` and gives it back when
    the decoded image is freed (``weakref.finalize``), so the bound covers the work callers do on the image
    (hashing, labelling), not only the decode. Small images never wait for each other; large ones take turns.
    A thread that already holds an image does not wait (it would wait on itself: a batch that decodes several
    images before using them), and nobody waits longer than ``wait_seconds``: then the request is refused with
    429 and a ``Retry-After``. ``observe`` is a hook that tests use to count decodes in flight.
    """

    def __init__(self, budget: int, *, wait_seconds: float = 60.0) -> None:
        self.budget = budget
        self.wait_seconds = wait_seconds
        self.in_use = 0
        self.holders = 0
        self.peak_holders = 0
        self.peak_bytes = 0
        self._held: dict[int, int] = {}
        self._cond = threading.Condition()
        self.observe: Callable[[int, int], None] | None = None

    def acquire(self, cost: int, *, field: str) -> int:
        """Take ``cost`` bytes; return the token to :meth:`release` them with (the acquiring thread's id)."""
        if cost > self.budget:
            raise ContentTooLargeError(
                f"decoding this image needs about {cost // 2**20} MiB, over the decode budget of "
                f"{self.budget // 2**20} MiB (COPYALIGN_IMAGE_DECODE_BUDGET_BYTES)",
                field=field,
                code="image_too_large",
            )
        me = threading.get_ident()
        with self._cond:
            if not self._held.get(me) and not self._cond.wait_for(
                lambda: self.in_use + cost <= self.budget, timeout=self.wait_seconds
            ):
                raise RateLimitedError(
                    "too many large images are being decoded at once; retry shortly",
                    retry_after=max(1, int(self.wait_seconds)),
                    field=field,
                )
            self.in_use += cost
            self.holders += 1
            self._held[me] = self._held.get(me, 0) + cost
            self.peak_holders = max(self.peak_holders, self.holders)
            self.peak_bytes = max(self.peak_bytes, self.in_use)
            if self.observe is not None:
                self.observe(self.holders, self.in_use)
        return me

    def release(self, token: int, cost: int) -> None:
        with self._cond:
            self.in_use -= cost
            self.holders -= 1
            left = self._held.get(token, 0) - cost
            if left > 0:
                self._held[token] = left
            else:
                self._held.pop(token, None)
            self._cond.notify_all()


_GATES: dict[int, DecodeGate] = {}
_GATES_LOCK = threading.Lock()


def decode_gate(limits: Limits) -> DecodeGate:
    """This process's gate for ``limits.decode_budget_bytes`` (every caller with the same budget shares it)."""
    with _GATES_LOCK:
        gate = _GATES.get(limits.decode_budget_bytes)
        if gate is None:
            gate = _GATES[limits.decode_budget_bytes] = DecodeGate(limits.decode_budget_bytes)
        return gate


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


def _first_string(value: object, path: str, bad: Callable[[str], bool]) -> str | None:
    """The dotted path of the first string in ``value`` (lists and dicts walked, keys included) that is ``bad``."""
    stack: list[tuple[str, object]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if bad(item):
                return where
        elif isinstance(item, dict):
            for k, v in reversed(list(item.items())):
                sub = f"{where}.{k}" if where else str(k)
                stack.append((sub, v))
                stack.append((sub, k))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}.{i}" if where else str(i), v) for i, v in reversed(list(enumerate(item))))
    return None


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def lone_surrogate(value: object, path: str = "") -> str | None:
    """Where the first string in ``value`` (a string, or lists and dicts of them, keys included) holds a lone
    surrogate, as a dotted path under ``path`` (``"creators.1"``), or ``None`` when there is none.

    JSON lets a client write ``"\\ud800"``, which Python's JSON readers turn into a ``str`` that no UTF-8 encoder
    accepts: it must be refused where it arrives, naming the field, not when a database driver or a digest
    meets it.
    """
    return _first_string(value, path, _has_lone_surrogate)


def nul_character(value: object, path: str = "") -> str | None:
    """Where the first string in ``value`` holds a NUL (U+0000), as :func:`lone_surrogate` says where.

    JSON and URLs can carry ``\\u0000``/``%00``, but PostgreSQL's text columns cannot store it (SQLite can): a
    NUL is refused where it arrives, on both databases alike, rather than answered with a driver error.
    """
    return _first_string(value, path, lambda s: "\x00" in s)


def check_text(value: object, *, field: str) -> None:
    """Raise :class:`InvalidInputError` (``invalid_text``) naming the field if ``value`` holds a lone surrogate."""
    where = lone_surrogate(value, field)
    if where is not None:
        raise InvalidInputError(
            f"{where} contains a lone surrogate (an unpaired \\ud800-\\udfff escape): not valid Unicode text",
            field=where,
            code="invalid_text",
        )


def encode_text(text: str, *, field: str = "text") -> bytes:
    """UTF-8 of text given as a string (a JSON field, a manifest line), refusing lone surrogates by field."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{field} contains a lone surrogate at character {exc.start}: not valid Unicode text",
            field=field,
            code="invalid_text",
        ) from None


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
            media_type = IMAGE_FORMATS[img.format]
            gate = decode_gate(limits)
            cost = BYTES_PER_PIXEL * w * h
            token = gate.acquire(cost, field=field)
            # the budget comes back when the decoded image is freed, however the caller's work on it ends
            weakref.finalize(img, gate.release, token, cost)
            img.load()
            ImageOps.exif_transpose(img, in_place=True)  # a copy of the whole image only when it must turn
            return img, media_type
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
