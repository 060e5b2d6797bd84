"""The explicit label people see: a disclosure on text, a text mark on images (GB 45438-2025).

For text, a disclosure at the start or the end (:func:`label_text`); for images, a text mark whose characters
are at least 5 % of the image's shorter side tall (:func:`label_image`), drawn in Chinese where this machine has
a CJK font, else in English. Finding a font reads the file system (well-known paths, ``fc-list``), which is why
this lives with the services and not in the pure core.
"""

from __future__ import annotations

import functools
import math
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from copyalign.errors import InvalidInputError

DEFAULT_IMAGE_LABEL = "AI生成 · AI-generated"
FALLBACK_IMAGE_LABEL = "AI-generated"
MIN_TEXT_HEIGHT = 0.05
"""GB 45438-2025: the characters of an image's text label are at least 5 % of the shorter side tall."""

Position = Literal["prepend", "append"]
Corner = Literal["bottom-right", "bottom-left", "top-right", "top-left"]
_CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")


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
    fallback_text: str = FALLBACK_IMAGE_LABEL,
) -> Image.Image:
    """A copy of ``img`` with a visible "AI-generated" mark in a corner: white text on a semi-opaque dark box,
    its characters at least 5 % of the shorter side tall (GB 45438-2025). The input is not modified; the copy
    keeps the input's mode where it can (RGB, RGBA, L, LA, CMYK; other modes come back as RGB or RGBA) and its
    ``info`` (so an ICC profile is saved with it). :func:`choose_label_font` says which font and text are used.
    """
    if not isinstance(img, Image.Image):
        raise InvalidInputError("label_image takes a PIL image", field="image")
    font = choose_label_font(text, fallback_text=fallback_text, font_path=font_path)
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
