"""Perceptual image fingerprints: PDQ (256 bits, with a quality score) and a 64-bit DCT pHash.

A copy of a registered image is rarely the same file: it is re-encoded, resized, brightened, cropped,
flipped. Perceptual hashes survive those edits: PDQ (Meta, 2019; computed here by the ``pdqhash`` binding of
Meta's reference C++) keeps the signs of 16x16 low-frequency DCT coefficients of a 64x64 luminance image,
so two copies differ in a few of 256 bits while unrelated photos differ in about 128. Its *quality* score
measures how much gradient the image has: a flat or nearly flat image gives an unstable hash that would
match every other flat image, so callers must drop hashes with ``quality < PDQ_MIN_QUALITY`` (they are kept
here, with their quality, so that the decision is the caller's and visible).

A crop moves every coefficient, so cropped copies are found from the registered side: a registered image
is also hashed on a grid of 95 % and 90 % crops (:func:`registered_hashes`); a query is hashed as it is
and flipped both ways (:func:`query_hashes`). The pHash (the definition ``imagehash.phash`` uses: 32x32
greyscale, DCT, top-left 8x8 above the median) is kept beside PDQ as a compact second opinion.

Measured with ``benchmarks/matching_quality.py`` (the results JSON has the table per transformation).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image

from copyalign.core.kernels import native

PDQ_BITS = 256
PDQ_MIN_QUALITY = 50
"""Meta's recommendation: below this the hash is unreliable (flat images) and must never match."""
PDQ_MATCH_DISTANCE = 31
"""Meta's recommended match threshold, in bits of 256."""
MAX_SIDE = 512
"""Images are downscaled (area filter) to at most this side before PDQ, as Meta's reference tool does:
PDQ reduces to 64x64 anyway, and hashing a 40-megapixel photo at full size would take a second."""

Region = tuple[float, float, float, float]


def _grid(scale: float) -> tuple[tuple[str, Region], ...]:
    """Crops keeping ``scale`` of each side, at the corners, the edge midpoints and the centre."""
    slack = 1.0 - scale
    steps = (0.0, slack / 2, slack)
    return tuple(
        (f"crop-{round(scale * 100)}-{i}{j}", (x, y, x + scale, y + scale))
        for i, x in enumerate(steps)
        for j, y in enumerate(steps)
    )


_CROPS: tuple[tuple[str, Region], ...] = _grid(0.95) + _grid(0.9)
"""PDQ moves ~40 bits when 2.5 % of each side is cut and ~80 bits at 5 % (measured on the astronaut photo),
so crops are indexed densely: 9 positions at 95 % and 9 at 90 % of each side, 19 hashes per image."""


@dataclass(frozen=True, slots=True)
class ImageHash:
    pdq: bytes  # 32 bytes, bit i of the PDQ hash is bit (7 - i % 8) of byte i // 8
    quality: int  # 0..100
    phash: int  # unsigned 64-bit, of the whole image (crops carry their image's)
    region: Region  # (left, top, right, bottom) as fractions of the image this was computed from
    variant: str


def prepare(img: Image.Image) -> npt.NDArray[np.uint8]:
    """RGB uint8 pixels, transparency composited onto white, longer side at most :data:`MAX_SIDE`."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        img = Image.fromarray(scaled.astype(np.uint8), "L")
    img = img.convert("RGB")
    if max(img.size) > MAX_SIDE:
        img = img.copy()
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _pack(bits: npt.NDArray[np.generic]) -> bytes:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


def _pdq(rgb: npt.NDArray[np.uint8]) -> tuple[bytes, int]:
    """PDQ of pixels first reduced to 64x64 by an area filter (bicubic when a side is under 64).

    PDQ reduces to 64x64 itself, with a tent filter whose window depends on the input size; doing the
    reduction here, the same way at every size, is what makes a half-size copy hash like its original:
    over the tiles of the scikit-image photos under JPEG 50, resize 0.5, brightness -20 % and a text
    overlay, the worst distance fell from 66 to 30 bits, while distinct tiles stayed at least 102 apart.
    """
    return _pdq64(_reduce64(rgb))


def _reduce64(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    h, w = rgb.shape[:2]
    return np.frombuffer(_reduce_boxes(rgb, [(0, 0, w, h)])[0], dtype=np.uint8).reshape(64, 64, 3)


def _reduce_boxes(rgb: npt.NDArray[np.uint8], boxes: list[tuple[int, int, int, int]]) -> list[bytes | memoryview]:
    """Each box's crop of RGB pixels reduced as :func:`_reduced` does, as 64x64x3 bytes.

    The compiled kernel where built: the same bytes as Pillow's (the tests compare them), several times faster
    for an image's 19 boxes, since PIL's cost is mostly its set-up per crop and per resize."""
    if native is not None:
        h, w = rgb.shape[:2]
        out = memoryview(native.reduce64(np.ascontiguousarray(rgb), w, h, np.array(boxes, dtype=np.int32)))
        return [out[i * 12288 : (i + 1) * 12288] for i in range(len(boxes))]
    base = Image.fromarray(rgb)
    return [_reduced(base if box == (0, 0, *base.size) else base.crop(box)).tobytes() for box in boxes]


def _reduced(img: Image.Image) -> Image.Image:
    """:func:`_pdq`'s 64x64 reduction of an RGB image."""
    small = min(img.size) < 64
    return img.resize((64, 64), Image.Resampling.BICUBIC if small else Image.Resampling.BOX)


def _pdq64(pixels: npt.NDArray[np.uint8] | bytes | memoryview) -> tuple[bytes, int]:
    """PDQ of 64x64 RGB pixels: the compiled kernel where built (the same bits and quality as ``pdqhash``, ~3x
    faster: an image's index entry hashes it and its 18 crops), else ``pdqhash``."""
    flat = isinstance(pixels, bytes | memoryview)
    if native is not None:
        return native.pdq64(pixels if flat else np.ascontiguousarray(pixels, dtype=np.uint8))
    array = np.frombuffer(pixels, dtype=np.uint8).reshape(64, 64, 3) if flat else pixels
    bits, quality = pdqhash.compute(np.ascontiguousarray(array))
    return _pack(bits), int(quality)


def pdq(img: Image.Image) -> tuple[bytes, int]:
    return _pdq(prepare(img))


@lru_cache(maxsize=1)
def _dct_matrix() -> npt.NDArray[np.float64]:
    n = 32
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    return np.cos(np.pi * k * (2 * x + 1) / (2 * n))  # unnormalised DCT-II, as scipy.fftpack.dct computes


def _phash_pixels(img: Image.Image) -> int:
    grey = np.asarray(img.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    d = _dct_matrix()
    coeffs = (d @ grey.T).T  # DCT along rows, as imagehash: dct(dct(pixels, axis=0), axis=1)
    coeffs = d @ coeffs
    low = coeffs[:8, :8]
    bits = (low > np.median(low)).ravel()
    return int.from_bytes(np.packbits(bits.astype(np.uint8)).tobytes(), "big")


def phash64(img: Image.Image) -> int:
    """The 64-bit DCT perceptual hash, bit for bit as ``imagehash.phash`` defines it (MSB first)."""
    return _phash_pixels(img if img.mode in ("L", "RGB") else Image.fromarray(prepare(img)))


def hash_image(img: Image.Image, *, region: Region = (0.0, 0.0, 1.0, 1.0), variant: str = "original") -> ImageHash:
    rgb = prepare(img)
    digest, quality = _pdq(rgb)
    return ImageHash(digest, quality, _phash_pixels(Image.fromarray(rgb)), region, variant)


def registered_hashes(img: Image.Image) -> list[ImageHash]:
    """The whole image and its crops: what the index keeps of a registered image.

    Prepared once; the crops are cut and reduced together (:func:`_reduce_boxes`) and each is hashed from its
    bytes: with 19 hashes an image, cutting and reducing was most of an image's registration."""
    rgb = prepare(img)
    h, w = rgb.shape[:2]
    crops: list[tuple[str, Region]] = [("original", (0.0, 0.0, 1.0, 1.0))]
    boxes = [(0, 0, w, h)]
    for variant, (left, top, right, bottom) in _CROPS:
        x0, y0, x1, y1 = round(left * w), round(top * h), round(right * w), round(bottom * h)
        if x1 - x0 >= 8 and y1 - y0 >= 8:
            crops.append((variant, (left, top, right, bottom)))
            boxes.append((x0, y0, x1, y1))
    phash = _phash_pixels(Image.fromarray(rgb))
    return [
        ImageHash(*_pdq64(pixels), phash, region, variant)
        for (variant, region), pixels in zip(crops, _reduce_boxes(rgb, boxes), strict=True)
    ]


def query_hashes(img: Image.Image) -> list[ImageHash]:
    """The query as it is, mirrored left-right and mirrored top-bottom."""
    rgb = prepare(img)
    ph = _phash_pixels(Image.fromarray(rgb))
    whole: Region = (0.0, 0.0, 1.0, 1.0)
    return [ImageHash(d, q, ph, whole, v) for v, (d, q) in zip(QUERY_VARIANTS, query_pdq(rgb), strict=True)]


QUERY_VARIANTS = ("original", "flip-h", "flip-v")


def query_pdq(rgb: npt.NDArray[np.uint8]) -> list[tuple[bytes, int]]:
    """PDQ and quality of :func:`prepare`'s pixels in each of :data:`QUERY_VARIANTS`: all an index search
    needs (the pHash is only reported), so the guard's latency path skips the rest."""
    small = _reduce64(rgb)  # reduced once: mirroring the 64x64 reduction is mirroring the image (3x faster)
    return [_pdq64(pixels) for pixels in (small, small[:, ::-1], small[::-1, :])]


def pdq_distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def pdq_to_int(b: bytes) -> int:
    return int.from_bytes(b, "big")


def int_to_pdq(i: int) -> bytes:
    return i.to_bytes(PDQ_BITS // 8, "big")


def pdq_words(pdq: bytes) -> npt.NDArray[np.uint64]:
    """A 256-bit PDQ hash as four big-endian 64-bit words, the form the index stores and searches."""
    return np.frombuffer(pdq, dtype=">u8").astype(np.uint64)
