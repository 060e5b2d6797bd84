"""AI-content labels for delivered outputs: the visible mark and the implicit metadata label.

China's Measures for Labeling AI-Generated Synthetic Content and the mandatory national standard GB 45438-2025
ask a provider for two labels on every generated output:

* an *explicit* label people see: for text, a disclosure at the start or the end (:func:`label_text`); for
  images, a text mark whose characters are at least 5 % of the image's shorter side tall (:func:`label_image`);
* an *implicit* label in the file's metadata: a field ``AIGC`` whose value is a JSON object with the keys
  ``Label`` (``"1"`` generated, ``"2"`` possibly, ``"3"`` suspected), ``ContentProducer``, ``ProduceID``,
  ``ReservedCode1``, ``ContentPropagator``, ``PropagateID`` and ``ReservedCode2``, all strings
  (:class:`AigcLabel`, :func:`write_aigc`, :func:`read_aigc`).

Where the implicit label goes. TC260's practice guide (TC260-PG-20258A) and the tools built on it write XMP
with the namespace ``http://www.tc260.org.cn/ns/AIGC/1.0/`` (prefix ``TC260``) and the JSON as the text of
``TC260:AIGC``; Chinese platforms read that. So every format gets that XMP property: JPEG in its XMP ``APP1``
segment, WebP in its ``XMP `` chunk, PNG in its ``iTXt`` ``XML:com.adobe.xmp`` chunk. PNG also gets an ``iTXt``
chunk with the keyword ``AIGC`` holding the JSON alone, for readers that look for the field by name. An existing
XMP packet is kept and only its ``AIGC`` property is replaced; everything else in the file (EXIF, ICC profile,
other chunks and segments) is copied byte for byte, and pixels are never re-encoded: the work is done on the
container (chunks and segments), not on a decoded image. When reading, the XMP property wins over the PNG text
chunk, because a platform that propagates the file updates the XMP with the common tools.

Order with the other marks: visible label and watermark first (they change pixels), then :func:`write_aigc`,
then the C2PA manifest (:mod:`copyalign.services.guard.c2pa`), whose signature covers the bytes written before it.

Text has no metadata to carry an implicit label: it travels beside the text in the API response
(:func:`aigc_for_text`).

Example:
    >>> label = AigcLabel(label="1", content_producer="Example AI", produce_id="tr_01")
    >>> read_aigc(write_aigc(png_bytes, label)) == label  # doctest: +SKIP
    True
"""

from __future__ import annotations

import functools
import json
import math
import re
import shutil
import subprocess
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeElementTree
from PIL import Image, ImageDraw, ImageFont

from copyalign.errors import (
    ContentTooLargeError,
    CopyalignError,
    InvalidInputError,
    MissingExtraError,
    UnsupportedContentError,
)

LABEL_GENERATED = "1"
"""GB 45438-2025 ``Label`` value: the content *is* AI-generated (what a generating service writes)."""
LABEL_POSSIBLY = "2"
"""``Label``: the content is possibly AI-generated (a platform that found an explicit label or a user's claim)."""
LABEL_SUSPECTED = "3"
"""``Label``: the content is suspected to be AI-generated (a platform's detector says so)."""
LABEL_VALUES = (LABEL_GENERATED, LABEL_POSSIBLY, LABEL_SUSPECTED)

AIGC_KEY = "AIGC"
TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_PNG_KEYWORD = "XML:com.adobe.xmp"
DEFAULT_IMAGE_LABEL = "AI生成 · AI-generated"
FALLBACK_IMAGE_LABEL = "AI-generated"
MIN_TEXT_HEIGHT = 0.05
"""GB 45438-2025: the characters of an image's text label are at least 5 % of the shorter side tall."""

Position = Literal["prepend", "append"]
Corner = Literal["bottom-right", "bottom-left", "top-right", "top-left"]
_CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")
_MAX_TEXT_CHUNK = 1 << 20  # a compressed PNG text chunk may expand to at most this many bytes

# ---------------------------------------------------------------------------------------------------- visible


def label_text(text: str, *, disclosure: str, position: Position, separator: str = "\n\n") -> str:
    """``text`` with ``disclosure`` before or after it; a text that already starts or ends with the disclosure is
    returned unchanged, so labelling twice (a retried delivery, a relabelled cache hit) adds nothing.

    Example:
        >>> label_text("Hello.", disclosure="[AI-generated]", position="append")
        'Hello.\\n\\n[AI-generated]'
    """
    if not isinstance(text, str):
        raise InvalidInputError("the text to label must be a string", field="text")
    mark = disclosure.strip() if isinstance(disclosure, str) else ""
    if not mark:
        raise InvalidInputError("the disclosure must not be empty", field="disclosure")
    if position not in ("prepend", "append"):
        raise InvalidInputError(f"position must be 'prepend' or 'append', not {position!r}", field="position")
    body = text.strip()
    if not body:
        return mark
    if body.startswith(mark) or body.endswith(mark):
        return text
    return f"{mark}{separator}{text}" if position == "prepend" else f"{text}{separator}{mark}"


@dataclass(frozen=True, slots=True)
class LabelFont:
    """The font a visible image label is drawn with and the text it can draw.

    ``source`` is a font file's path or ``"pillow-default"``; ``text`` is the requested label or, when no font
    on this machine has its characters (a server without CJK fonts), the fallback.
    """

    source: str
    text: str
    fallback: bool


@dataclass(frozen=True, slots=True)
class LabelPlan:
    """Where and how large :func:`label_image` draws: ``box`` is ``(left, top, right, bottom)`` in pixels
    (right and bottom exclusive); ``text_height`` the ink height of the label's tallest character."""

    box: tuple[int, int, int, int]
    text_xy: tuple[int, int]
    font_size: int
    text_height: int
    font: LabelFont


def choose_label_font(
    text: str = DEFAULT_IMAGE_LABEL, *, fallback_text: str = FALLBACK_IMAGE_LABEL, font_path: str | Path | None = None
) -> LabelFont:
    """The font :func:`label_image` will use for ``text``: ``font_path`` when given (it must have every
    character), else Pillow's built-in scalable font when it has them, else the first CJK-capable system font
    (well-known paths, then ``fc-list :lang=zh``), else Pillow's font with ``fallback_text``.

    Pillow's built-in font has no CJK glyphs, so the default label needs a system font such as Noto Sans CJK
    (Debian: ``fonts-noto-cjk``) to be drawn in Chinese; without one the English fallback is drawn.
    """
    return _choose_font(text, fallback_text, None if font_path is None else str(font_path))


def plan_label(
    width: int,
    height: int,
    *,
    text: str = DEFAULT_IMAGE_LABEL,
    corner: Corner = "bottom-right",
    font: LabelFont | None = None,
) -> LabelPlan:
    """The geometry of the visible label on a ``width`` x ``height`` image (see :class:`LabelPlan`).

    The font size is the smallest whose tallest character is at least :data:`MIN_TEXT_HEIGHT` of the shorter
    side; the box pads the text by a third of that height and sits a small margin from the corner. On an image
    narrower than the label the text runs past the edge rather than shrinking below the legal height.
    """
    if width < 1 or height < 1:
        raise InvalidInputError(f"the image is {width}x{height} pixels", field="image")
    if corner not in _CORNERS:
        raise InvalidInputError(f"corner must be one of {', '.join(_CORNERS)}, not {corner!r}", field="corner")
    chosen = font if font is not None else choose_label_font(text)
    short = min(width, height)
    target = max(1, math.ceil(MIN_TEXT_HEIGHT * short))
    size = max(6, target)
    face = _load_font(chosen.source, size)
    glyph = _glyph_height(face, chosen.text)
    if glyph < target:  # scale once, then step: glyph height is close to proportional to the size
        size = max(size + 1, math.ceil(size * target / max(glyph, 1)))
        face = _load_font(chosen.source, size)
        glyph = _glyph_height(face, chosen.text)
    while glyph < target:
        size += 1
        face = _load_font(chosen.source, size)
        glyph = _glyph_height(face, chosen.text)
    left, top, right, bottom = (int(v) for v in face.getbbox(chosen.text))
    pad = max(2, round(glyph / 3))
    margin = max(1, round(0.02 * short))
    box_w = (right - left) + 2 * pad
    box_h = (bottom - top) + 2 * pad
    x0 = margin if corner.endswith("left") else max(0, width - margin - box_w)
    y0 = margin if corner.startswith("top") else max(0, height - margin - box_h)
    box = (x0, y0, min(width, x0 + box_w), min(height, y0 + box_h))
    return LabelPlan(box, (x0 + pad - left, y0 + pad - top), size, glyph, chosen)


def label_image(
    img: Image.Image,
    *,
    text: str = DEFAULT_IMAGE_LABEL,
    corner: Corner = "bottom-right",
    font_path: str | Path | None = None,
) -> Image.Image:
    """A copy of ``img`` with a visible "AI-generated" mark in a corner: white text on a semi-opaque dark box,
    its characters at least 5 % of the shorter side tall (GB 45438-2025). The input is not modified; the copy
    keeps the input's mode where it can (RGB, RGBA, L, LA, CMYK; other modes come back as RGB or RGBA) and its
    ``info`` (so an ICC profile is saved with it). :func:`choose_label_font` says which font and text are used.
    """
    if not isinstance(img, Image.Image):
        raise InvalidInputError("label_image takes a PIL image", field="image")
    font = choose_label_font(text, font_path=font_path)
    plan = plan_label(img.width, img.height, text=text, corner=corner, font=font)
    has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    if img.mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        result = img.copy()
    else:
        result = img.convert("RGBA" if has_alpha else "RGB")
    # only the box is composited: the rest of the picture is not touched, not even converted
    x0, y0, x1, y1 = plan.box
    region = result.crop(plan.box).convert("RGBA")
    overlay = Image.new("RGBA", region.size, (0, 0, 0, 160))
    ImageDraw.Draw(overlay).text(
        (plan.text_xy[0] - x0, plan.text_xy[1] - y0),
        font.text,
        font=_load_font(font.source, plan.font_size),
        fill=(255, 255, 255, 255),
    )
    result.paste(Image.alpha_composite(region, overlay).convert(result.mode), (x0, y0))
    result.info = dict(img.info)
    return result


_CJK_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
_MISSING_GLYPH = "\U0010fffd"  # a private-use code point no font draws: renders as the font's .notdef glyph


_FONTS = threading.local()  # FreeType faces are not safe to share between threads: one cache per thread


def _load_font(source: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    cache: dict[tuple[str, int], ImageFont.FreeTypeFont | ImageFont.ImageFont] = _FONTS.__dict__.setdefault("c", {})
    face = cache.get((source, size))
    if face is None:
        face = ImageFont.load_default(size=size) if source == "pillow-default" else ImageFont.truetype(source, size)
        if len(cache) >= 64:
            cache.clear()
        cache[(source, size)] = face
    return face


def _covers(face: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> bool:
    missing = face.getmask(_MISSING_GLYPH)
    missing_key = (missing.size, bytes(missing))
    for ch in set(text):
        if ch.isspace():
            continue
        mask = face.getmask(ch)
        if (mask.size, bytes(mask)) == missing_key:
            return False
    return True


@functools.cache
def _system_cjk_fonts() -> tuple[str, ...]:
    found = [p for p in _CJK_FONT_PATHS if Path(p).is_file()]
    fc_list = shutil.which("fc-list")
    if fc_list:
        try:
            listing = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
                [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        for line in listing.splitlines():
            path = line.strip().rstrip(":").strip()
            if path and path not in found and Path(path).is_file():
                found.append(path)
    return tuple(found)


@functools.lru_cache(maxsize=32)
def _choose_font(text: str, fallback_text: str, font_path: str | None) -> LabelFont:
    if not text.strip():
        raise InvalidInputError("the label text must not be empty", field="text")
    if font_path is not None:
        try:
            face = _load_font(font_path, 24)
        except OSError as exc:
            raise InvalidInputError(f"cannot load the font {font_path}: {exc}", field="font_path") from exc
        if not _covers(face, text):
            raise InvalidInputError(f"the font {font_path} has no glyphs for some of {text!r}", field="font_path")
        return LabelFont(font_path, text, False)
    if _covers(_load_font("pillow-default", 24), text):
        return LabelFont("pillow-default", text, False)
    for path in _system_cjk_fonts():
        try:
            face = _load_font(path, 24)
        except OSError:
            continue
        if _covers(face, text):
            return LabelFont(path, text, False)
    if not _covers(_load_font("pillow-default", 24), fallback_text):
        raise InvalidInputError(f"no font on this machine can draw {fallback_text!r}", field="text")
    return LabelFont("pillow-default", fallback_text, True)


def _glyph_height(face: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> int:
    """Ink height of the tallest character: what a person measuring the label's "character height" measures
    (the whole line's box would also count ascenders and descenders of different letters together)."""
    tallest = 0
    for ch in set(text):
        if ch.isspace():
            continue
        _, top, _, bottom = face.getbbox(ch)
        tallest = max(tallest, int(bottom - top))
    return tallest


# --------------------------------------------------------------------------------------------------- implicit

_JSON_KEYS = (
    ("label", "Label"),
    ("content_producer", "ContentProducer"),
    ("produce_id", "ProduceID"),
    ("reserved_code1", "ReservedCode1"),
    ("content_propagator", "ContentPropagator"),
    ("propagate_id", "PropagateID"),
    ("reserved_code2", "ReservedCode2"),
)
_REQUIRED_KEYS = ("Label", "ContentProducer", "ProduceID")


@dataclass(frozen=True, slots=True)
class AigcLabel:
    """The GB 45438-2025 implicit label (the ``AIGC`` metadata field); invalid values cannot be built.

    ``produce_id`` carries the generation's trace id; ``reserved_code1`` whatever integrity code the producer
    chooses (opaque here); the propagator fields are for a platform that later distributes the file.
    """

    label: str
    content_producer: str
    produce_id: str
    reserved_code1: str = ""
    content_propagator: str = ""
    propagate_id: str = ""
    reserved_code2: str = ""

    def __post_init__(self) -> None:
        for attr, key in _JSON_KEYS:
            value = getattr(self, attr)
            if not isinstance(value, str):
                raise InvalidInputError(f"{key} must be a string, not {type(value).__name__}", field=key)
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidInputError(f"{key} is not valid Unicode text", field=key) from exc
        if self.label not in LABEL_VALUES:
            allowed = ", ".join(LABEL_VALUES)
            raise InvalidInputError(f"Label must be one of {allowed}, not {self.label!r}", field="Label")

    def to_dict(self) -> dict[str, str]:
        """The standard's JSON object, keys in the standard's order."""
        return {key: getattr(self, attr) for attr, key in _JSON_KEYS}

    def to_json(self, *, ascii_only: bool = False) -> str:
        """Compact JSON; ``ascii_only`` escapes non-ASCII characters (for an HTTP header)."""
        return json.dumps(self.to_dict(), ensure_ascii=ascii_only, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> AigcLabel:
        """Parse the ``AIGC`` value. ``Label``, ``ContentProducer`` and ``ProduceID`` are required (labels in the
        wild often omit the rest, which default to ""); unknown keys are ignored; integers are accepted for
        strings, as some producers write ``"Label": 1``.

        Raises:
            InvalidInputError: not JSON, not an object, a required key missing, or a value of the wrong type.
        """
        try:
            obj = json.loads(raw)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"the AIGC label is not JSON: {exc}", field=AIGC_KEY) from exc
        if not isinstance(obj, dict):
            raise InvalidInputError("the AIGC label must be a JSON object", field=AIGC_KEY)
        missing = [k for k in _REQUIRED_KEYS if k not in obj]
        if missing:
            raise InvalidInputError(f"the AIGC label lacks {', '.join(missing)}", field=AIGC_KEY)
        values: dict[str, str] = {}
        for attr, key in _JSON_KEYS:
            value = obj.get(key, "")
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise InvalidInputError(f"{key} must be a string", field=key)
            values[attr] = value
        return cls(**values)


def aigc_for_text(label: AigcLabel) -> dict[str, str]:
    """The implicit label of a text output, which has no file metadata: ``{"AIGC": <JSON>}``, to merge into the
    HTTP response headers or the response's metadata object. The JSON is ASCII (non-ASCII escaped) so it is a
    valid header value; :meth:`AigcLabel.from_json` reads it back."""
    return {AIGC_KEY: label.to_json(ascii_only=True)}


def write_aigc(data: bytes, label: AigcLabel) -> bytes:
    """``data`` (PNG, JPEG or WebP) with ``label`` as its implicit label, replacing any earlier one. Pixels and
    all other metadata are copied byte for byte.

    Raises:
        UnsupportedContentError: not PNG, JPEG or WebP; a truncated or malformed container; an existing XMP
            packet that is not well-formed XML.
        ContentTooLargeError: a JPEG whose XMP packet would outgrow its 64 KiB segment.
    """
    if not isinstance(label, AigcLabel):
        raise InvalidInputError("write_aigc takes an AigcLabel", field="label")
    kind = _container(data)
    data = bytes(data)
    value = label.to_json()
    if kind == "png":
        return _png_write(data, value)
    if kind == "jpeg":
        return _jpeg_write(data, value)
    return _webp_write(data, value)


def read_aigc(data: bytes) -> AigcLabel | None:
    """The implicit label of a PNG, JPEG or WebP file; None when it has none.

    Raises:
        UnsupportedContentError: not PNG, JPEG or WebP, or a truncated or malformed container.
        InvalidInputError: an ``AIGC`` value that is not a valid label.
    """
    kind = _container(data)
    data = bytes(data)
    if kind == "png":
        chunks = _png_chunks(data)
        texts = [t for t in (_png_text(ctype, data[s + 8 : e - 4]) for ctype, s, e in chunks) if t is not None]
        for keyword, text in texts:
            if keyword == XMP_PNG_KEYWORD and (found := _xmp_aigc(text)) is not None:
                return AigcLabel.from_json(found)
        for keyword, text in texts:
            if keyword == AIGC_KEY:
                return AigcLabel.from_json(text)
        return None
    if kind == "jpeg":
        segments, _ = _jpeg_segments(data)
        packets = [data[s + 4 + len(XMP_JPEG_HEADER) : e] for m, s, e in segments if _is_jpeg_xmp(data, m, s)]
    else:
        packets = [data[s + 8 : s + 8 + n] for fourcc, s, n in _webp_chunks(data) if fourcc == b"XMP "]
    for packet in packets:
        found = _xmp_aigc(packet.decode("utf-8", errors="replace"))
        if found is not None:
            return AigcLabel.from_json(found)
    return None


# ------------------------------------------------------------------------------------------------------- XMP


def _xmp_aigc(packet: str) -> str | None:
    """The text of the packet's ``TC260:AIGC`` property (element or attribute form); None when it has none
    or is not well-formed XML (a broken packet of someone else's is not this reader's to judge)."""
    try:
        root = SafeElementTree.fromstring(packet.strip().lstrip("\ufeff").encode("utf-8"))
    except Exception:  # defusedxml raises several unrelated classes for hostile or broken XML
        return None
    tag = f"{{{TC260_NS}}}{AIGC_KEY}"
    for element in root.iter():
        if element.tag == tag:
            return element.text or ""
        if tag in element.attrib:
            return str(element.attrib[tag])
    return None


def _xmp_with_aigc(packet: str | None, value: str) -> str:
    """``packet`` with its AIGC property set to ``value`` (a new packet when None). The packet is edited as
    text (the old property removed, a new ``rdf:Description`` added) so that the rest of it, its prefixes and
    its padding stay exactly as they were; the result is parsed again to prove it well-formed."""
    text = escape(value)
    if packet is None:
        return (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
            f'<rdf:RDF xmlns:rdf="{RDF_NS}">'
            f'<rdf:Description rdf:about="" xmlns:TC260="{TC260_NS}"><TC260:AIGC>{text}</TC260:AIGC></rdf:Description>'
            "</rdf:RDF></x:xmpmeta>\n"
            '<?xpacket end="w"?>'
        )
    if _parse_or_none(packet) is None:
        raise UnsupportedContentError("the file's XMP packet is not well-formed XML", field="data")
    edited = packet
    for prefix in set(re.findall(r'xmlns:([A-Za-z_][\w.-]*)\s*=\s*["\']' + re.escape(TC260_NS) + "[\"']", packet)):
        p = re.escape(prefix)
        edited = re.sub(rf"<{p}:AIGC\b[^>]*/>", "", edited)
        edited = re.sub(rf"<{p}:AIGC\b[^>]*>.*?</{p}:AIGC\s*>", "", edited, flags=re.DOTALL)
        edited = re.sub(rf"\s{p}:AIGC\s*=\s*(\"[^\"]*\"|'[^']*')", "", edited)
    rdf = re.search(r'xmlns:([A-Za-z_][\w.-]*)\s*=\s*["\']' + re.escape(RDF_NS) + "[\"']", edited)
    if rdf is None or f"</{rdf.group(1)}:RDF>" not in edited:
        raise UnsupportedContentError("the file's XMP packet has no rdf:RDF element", field="data")
    r, q = rdf.group(1), re.escape(rdf.group(1))
    # drop a Description this function added before and just emptied (one with no properties left in it)
    edited = re.sub(
        rf'<{q}:Description(?:\s+(?:{q}:about=""|xmlns:[\w.-]+="[^"]*"))*\s*>\s*</{q}:Description>', "", edited
    )
    close = edited.rfind(f"</{r}:RDF>")
    description = (
        f'<{r}:Description {r}:about="" xmlns:TC260="{TC260_NS}"><TC260:AIGC>{text}</TC260:AIGC></{r}:Description>'
    )
    edited = edited[:close] + description + edited[close:]
    root = _parse_or_none(edited)
    tag = f"{{{TC260_NS}}}{AIGC_KEY}"
    count = 0 if root is None else sum((e.tag == tag) + (tag in e.attrib) for e in root.iter())
    if count != 1:
        raise UnsupportedContentError("could not replace the AIGC property of the file's XMP packet", field="data")
    return edited


def _parse_or_none(packet: str) -> Any:
    try:
        return SafeElementTree.fromstring(packet.strip().lstrip("\ufeff").encode("utf-8"))
    except Exception:  # see _xmp_aigc
        return None


# ------------------------------------------------------------------------------------------------ containers


def _container(data: bytes) -> Literal["png", "jpeg", "webp"]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInputError("labels are read from and written to a file's bytes", field="data")
    head = bytes(data[:12])
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    raise UnsupportedContentError("AIGC metadata is written to PNG, JPEG and WebP files only", field="data")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """``(type, start, end)`` of every chunk up to and including IEND, CRCs checked."""
    out: list[tuple[bytes, int, int]] = []
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise UnsupportedContentError("the PNG file is truncated (no IEND chunk)", field="data")
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = bytes(data[pos + 4 : pos + 8])
        end = pos + 12 + length
        if not ctype.isalpha() or length > 0x7FFFFFFF:
            raise UnsupportedContentError(f"the PNG file has a malformed chunk at byte {pos}", field="data")
        if end > len(data):
            raise UnsupportedContentError(f"the PNG file is truncated inside its {ctype.decode()} chunk", field="data")
        if zlib.crc32(data[pos + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            raise UnsupportedContentError(f"the PNG {ctype.decode()} chunk at byte {pos} fails its CRC", field="data")
        out.append((ctype, pos, end))
        pos = end
        if ctype == b"IEND":
            break
    if out[0][0] != b"IHDR" or not any(c == b"IDAT" for c, _, _ in out):
        raise UnsupportedContentError("the PNG file has no IHDR or no IDAT chunk", field="data")
    return out


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + ctype + body + zlib.crc32(ctype + body).to_bytes(4, "big")


def _itxt(keyword: str, text: str) -> bytes:
    return _png_chunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))


def _inflate(raw: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(raw, _MAX_TEXT_CHUNK)
    if inflater.unconsumed_tail:
        raise UnsupportedContentError("a compressed PNG text chunk expands past 1 MiB", field="data")
    return out


def _png_text(ctype: bytes, body: bytes) -> tuple[str, str] | None:
    """``(keyword, text)`` of a tEXt, zTXt or iTXt chunk holding the AIGC label or the XMP packet; None for
    other chunks (which are never decompressed) and undecodable ones."""
    if ctype not in (b"tEXt", b"zTXt", b"iTXt") or b"\x00" not in body:
        return None
    raw_key, rest = body.split(b"\x00", 1)
    keyword = raw_key.decode("latin-1")
    if keyword not in (AIGC_KEY, XMP_PNG_KEYWORD):
        return None
    try:
        if ctype == b"tEXt":
            return keyword, rest.decode("latin-1")
        if ctype == b"zTXt":
            return keyword, _inflate(rest[1:]).decode("latin-1")
        compressed, rest = rest[0], rest[2:]
        _language, _translated, payload = rest.split(b"\x00", 2)
        return keyword, (_inflate(payload) if compressed else payload).decode("utf-8")
    except (ValueError, IndexError, zlib.error):
        return None


def _png_write(data: bytes, value: str) -> bytes:
    chunks = _png_chunks(data)
    texts = [_png_text(ctype, data[start + 8 : end - 4]) for ctype, start, end in chunks]
    first_idat = next(i for i, (c, _, _) in enumerate(chunks) if c == b"IDAT")
    xmp_at = next((i for i, t in enumerate(texts) if t is not None and t[0] == XMP_PNG_KEYWORD), None)
    parts: list[bytes] = []
    for i, (_, start, end) in enumerate(chunks):
        text = texts[i]
        if i == first_idat:
            parts.append(_itxt(AIGC_KEY, value))
            if xmp_at is None:
                parts.append(_itxt(XMP_PNG_KEYWORD, _xmp_with_aigc(None, value)))
        if text is not None and text[0] == AIGC_KEY:
            continue  # replaced by the chunk written before IDAT
        if i == xmp_at and text is not None:
            parts.append(_itxt(XMP_PNG_KEYWORD, _xmp_with_aigc(text[1], value)))
        else:
            parts.append(data[start:end])
    return _PNG_SIGNATURE + b"".join(parts) + data[chunks[-1][2] :]


_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """``(marker, start, end)`` of every segment between SOI and the first SOS, and the SOS's offset."""
    out: list[tuple[int, int, int]] = []
    pos = 2
    size = len(data)
    while True:
        if pos >= size or data[pos] != 0xFF:
            what = "truncated" if pos >= size else f"malformed (no marker at byte {pos})"
            raise UnsupportedContentError(f"the JPEG file is {what}", field="data")
        while pos < size and data[pos] == 0xFF:
            pos += 1
        if pos >= size:
            raise UnsupportedContentError("the JPEG file is truncated", field="data")
        marker, start = data[pos], pos - 1
        if marker == 0xDA:
            break
        if marker == 0xD9:
            raise UnsupportedContentError("the JPEG file ends before its image data", field="data")
        if marker in _JPEG_STANDALONE:
            pos += 1
            continue
        if pos + 3 > size:
            raise UnsupportedContentError("the JPEG file is truncated", field="data")
        end = pos + 1 + int.from_bytes(data[pos + 1 : pos + 3], "big")
        if end > size or end < pos + 3:
            raise UnsupportedContentError(f"the JPEG file is truncated in a segment at byte {start}", field="data")
        out.append((marker, start, end))
        pos = end
    if data.rfind(b"\xff\xd9", start) < 0:
        raise UnsupportedContentError("the JPEG file is truncated (no end-of-image marker)", field="data")
    return out, start


def _is_jpeg_xmp(data: bytes, marker: int, start: int) -> bool:
    return marker == 0xE1 and bytes(data[start + 4 : start + 4 + len(XMP_JPEG_HEADER)]) == XMP_JPEG_HEADER


def _jpeg_app1(packet: str) -> bytes:
    payload = XMP_JPEG_HEADER + packet.encode("utf-8")
    if len(payload) + 2 > 0xFFFF:
        raise ContentTooLargeError("the XMP packet with the AIGC label is over the JPEG segment limit of 64 KiB")
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def _leading_app(data: bytes, marker: int, start: int) -> bool:
    return marker == 0xE0 or (marker == 0xE1 and data[start + 4 : start + 8] == b"Exif")


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsupportedContentError("the file's XMP packet is not UTF-8", field="data") from exc


def _jpeg_write(data: bytes, value: str) -> bytes:
    segments, sos = _jpeg_segments(data)
    parts = [data[start:end] for _, start, end in segments]
    for i, (marker, start, end) in enumerate(segments):
        if _is_jpeg_xmp(data, marker, start):
            old = _utf8(data[start + 4 + len(XMP_JPEG_HEADER) : end])
            parts[i] = _jpeg_app1(_xmp_with_aigc(old, value))
            break
    else:
        # after the leading JFIF (APP0) and Exif (APP1) segments, which readers expect first
        at = 0
        while at < len(segments) and _leading_app(data, *segments[at][:2]):
            at += 1
        parts.insert(at, _jpeg_app1(_xmp_with_aigc(None, value)))
    return b"\xff\xd8" + b"".join(parts) + bytes(data[sos:])


def _webp_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """``(fourcc, start, payload size)`` of each chunk in the RIFF container."""
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    if riff_end > len(data) or riff_end < 12:
        raise UnsupportedContentError("the WebP file is truncated", field="data")
    pos = 12
    while pos < riff_end:
        if pos + 8 > riff_end:
            raise UnsupportedContentError("the WebP file is truncated", field="data")
        fourcc = bytes(data[pos : pos + 4])
        n = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if pos + 8 + n > riff_end:
            raise UnsupportedContentError(f"the WebP file is truncated in its {fourcc!r} chunk", field="data")
        yield fourcc, pos, n
        pos += 8 + n + (n & 1)


def _webp_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + len(payload).to_bytes(4, "little") + payload + (b"\x00" if len(payload) & 1 else b"")


def _webp_write(data: bytes, value: str) -> bytes:
    chunks = list(_webp_chunks(data))
    if not chunks:
        raise UnsupportedContentError("the WebP file has no image data", field="data")
    parts = [bytes(data[s : s + 8 + n + (n & 1)]) for _, s, n in chunks]
    first, s0, n0 = chunks[0]
    if first == b"VP8X":
        header = bytearray(data[s0 + 8 : s0 + 8 + n0])
        header[0] |= 0x04  # XMP present
        parts[0] = _webp_chunk(b"VP8X", bytes(header))
    elif first in (b"VP8 ", b"VP8L"):
        width, height, alpha = _webp_canvas(first, bytes(data[s0 + 8 : s0 + 8 + n0]))
        flags = 0x04 | (0x10 if alpha else 0)
        vp8x = bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        parts.insert(0, _webp_chunk(b"VP8X", vp8x))
        chunks.insert(0, (b"VP8X", -1, 10))
    else:
        raise UnsupportedContentError(f"the WebP file starts with an unknown {first!r} chunk", field="data")
    for i, (fourcc, start, n) in enumerate(chunks):
        if fourcc == b"XMP ":
            old = _utf8(data[start + 8 : start + 8 + n])
            parts[i] = _webp_chunk(b"XMP ", _xmp_with_aigc(old, value).encode("utf-8"))
            break
    else:
        parts.append(_webp_chunk(b"XMP ", _xmp_with_aigc(None, value).encode("utf-8")))  # XMP comes last
    body = b"WEBP" + b"".join(parts)
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    return b"RIFF" + len(body).to_bytes(4, "little") + body + bytes(data[riff_end:])


def _webp_canvas(fourcc: bytes, payload: bytes) -> tuple[int, int, bool]:
    """Canvas size and alpha of a simple (lossy ``VP8 `` or lossless ``VP8L``) WebP bitstream."""
    if fourcc == b"VP8 ":
        if len(payload) < 10 or payload[3:6] != b"\x9d\x01\x2a":
            raise UnsupportedContentError("the WebP VP8 bitstream has no frame header", field="data")
        width = int.from_bytes(payload[6:8], "little") & 0x3FFF
        height = int.from_bytes(payload[8:10], "little") & 0x3FFF
        return width, height, False
    if len(payload) < 5 or payload[0] != 0x2F:
        raise UnsupportedContentError("the WebP VP8L bitstream has no header", field="data")
    bits = int.from_bytes(payload[1:5], "little")
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)


# ---------------------------------------------------------------------------------------------------- reader

_MEDIA_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


@dataclass(frozen=True, slots=True)
class LabelReport:
    """Every label found on a file. ``c2pa`` is :func:`copyalign.services.guard.c2pa.read_c2pa`'s summary (None with a
    note when the ``c2pa`` extra is missing or the file has no manifest); ``watermark`` is left for the caller
    (the invisible watermark detector needs the deployment's key): ``dataclasses.replace(report, watermark=…)``.
    """

    media_type: str
    aigc: AigcLabel | None
    c2pa: dict[str, Any] | None
    watermark: object | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["aigc"] = None if self.aigc is None else self.aigc.to_dict()
        out["notes"] = list(self.notes)
        return out


def media_type_of(data: bytes) -> str | None:
    """The image media type of ``data`` from its first bytes (PNG, JPEG, WebP, GIF, TIFF); None otherwise."""
    head = bytes(data[:12])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _MEDIA_TYPES if head.startswith(magic)), None)


def read_labels(data: bytes, *, trust_anchors: bytes | None = None) -> LabelReport:
    """Read the implicit AIGC label and the C2PA manifest of an image file, without raising for what a file
    from the wild may get wrong (a malformed label, a broken manifest): those become ``notes``.

    ``trust_anchors`` (PEM) are CA certificates to trust when validating the C2PA signer, such as this
    deployment's own test CA (:attr:`copyalign.services.guard.c2pa.SigningIdentity.ca_pem`).

    Raises:
        UnsupportedContentError: ``data`` is not a PNG, JPEG, WebP, GIF or TIFF file.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInputError("labels are read from a file's bytes", field="data")
    raw = bytes(data)
    mime = media_type_of(raw)
    if mime is None:
        raise UnsupportedContentError("not an image file this reader knows (PNG, JPEG, WebP, GIF, TIFF)", field="data")
    notes: list[str] = []
    aigc: AigcLabel | None = None
    if mime in ("image/png", "image/jpeg", "image/webp"):
        try:
            aigc = read_aigc(raw)
        except InvalidInputError as exc:
            notes.append(f"AIGC metadata unreadable: {exc.message}")
        if aigc is None and not notes:
            notes.append("no AIGC implicit label")
    else:
        notes.append(f"AIGC metadata is read from PNG, JPEG and WebP files, not {mime}")
    from copyalign.services.guard import c2pa  # the module imports the c2pa library itself only when used

    summary: dict[str, Any] | None = None
    try:
        found = c2pa.read_c2pa(raw, mime, trust_anchors=trust_anchors)
        summary = None if found is None else dict(found)
        if found is None:
            notes.append("no C2PA manifest")
    except MissingExtraError as exc:
        notes.append(f"C2PA not read: {exc.message}")
    except CopyalignError as exc:
        notes.append(f"C2PA manifest unreadable: {exc.message}")
    return LabelReport(mime, aigc, summary, None, tuple(notes))
