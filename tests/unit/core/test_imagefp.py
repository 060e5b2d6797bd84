"""Perceptual image hashes: copies stay close, different photos stay far, flat images are marked unusable."""

from __future__ import annotations

import io

import imagehash
import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageEnhance

from copyalign.core.matching import imagefp as f


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut())


def _min_distance(query: Image.Image, registered: list[f.ImageHash]) -> int:
    return min(f.pdq_distance(q.pdq, r.pdq) for q in f.query_hashes(query) for r in registered)


def test_edited_copies_stay_within_the_match_radius_and_other_photos_do_not(astronaut: Image.Image) -> None:
    reg = f.registered_hashes(astronaut)
    w, h = astronaut.size
    copies = [
        _jpeg(astronaut, 50),
        astronaut.resize((w // 2, h // 2)),
        ImageEnhance.Brightness(astronaut).enhance(0.8),
        astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        astronaut.crop((0, 0, int(w * 0.949), int(h * 0.949))),  # 10 % of the area cut from a corner
    ]
    for copy in copies:
        assert _min_distance(copy, reg) <= f.PDQ_MATCH_DISTANCE
    for other in (skimage.data.coffee(), skimage.data.camera(), skimage.data.chelsea()):
        assert _min_distance(Image.fromarray(other), reg) > 80


def test_flat_images_have_low_quality() -> None:
    assert f.hash_image(Image.new("RGB", (300, 200), (40, 90, 200))).quality < f.PDQ_MIN_QUALITY


def test_phash_is_the_imagehash_definition() -> None:
    for arr in (skimage.data.astronaut(), skimage.data.camera(), skimage.data.coffee()):
        img = Image.fromarray(arr)
        assert f.phash64(img) == int(str(imagehash.phash(img)), 16)


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "CMYK", "I;16", "LA", "1"])
def test_every_colour_mode_hashes(astronaut: Image.Image, mode: str) -> None:
    img = astronaut.convert(mode) if mode != "I;16" else Image.fromarray(skimage.data.camera().astype(np.uint16) * 200)
    h = f.hash_image(img)
    assert len(h.pdq) == 32 and 0 <= h.phash < 2**64


def test_transparency_is_composited_on_white(astronaut: Image.Image) -> None:
    rgba = astronaut.convert("RGBA")
    alpha = np.full(astronaut.size[::-1], 255, dtype=np.uint8)
    alpha[:100, :100] = 0
    rgba.putalpha(Image.fromarray(alpha))
    white = astronaut.copy()
    white.paste((255, 255, 255), (0, 0, 100, 100))
    assert f.hash_image(rgba).pdq == f.hash_image(white).pdq


def test_distance_helpers() -> None:
    a = bytes(range(32))
    assert f.pdq_distance(a, a) == 0
    assert f.pdq_distance(a, bytes(255 - b for b in a)) == 256
    assert f.int_to_pdq(f.pdq_to_int(a)) == a
