"""Perceptual image hashes: copies stay close, different photos stay far, flat images are marked unusable."""

from __future__ import annotations

import io

import imagehash
import numpy as np
import pdqhash
import pytest
import skimage.data
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageEnhance

from copyalign.core.kernels import native
from copyalign.core.matching import imagefp as f
from copyalign.core.matching.imagefp import _CROPS, _reduce64, prepare, registered_hashes


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


def _reference_pdq(pixels: np.ndarray) -> tuple[bytes, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(pixels))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes(), int(quality)


@st.composite
def _pixels64(draw: st.DrawFn) -> np.ndarray:
    """64x64 RGB images of the shapes that stress the kernel: noise, few levels (ties at the median), flat
    (every coefficient equal), smooth gradients (small DCT values) and saturated ones."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["noise", "levels", "flat", "gradient", "extremes"]))
    if kind == "noise":
        return rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    if kind == "levels":
        return (rng.integers(0, 3, (64, 64, 3)) * draw(st.integers(1, 127))).astype(np.uint8)
    if kind == "flat":
        return np.full((64, 64, 3), draw(st.integers(0, 255)), dtype=np.uint8)
    if kind == "extremes":
        return (rng.integers(0, 2, (64, 64, 3)) * 255).astype(np.uint8)
    x = np.linspace(0, 1, 64)
    return (np.outer(x, x[::-1])[..., None] * rng.integers(0, 256, 3)).astype(np.uint8)


@pytest.mark.skipif(native is None, reason="the compiled kernel was not built (.ci/run asserts it is)")
@settings(max_examples=400, deadline=None)
@given(pixels=_pixels64())
def test_the_compiled_pdq_gives_pdqhashs_bits_and_quality(pixels: np.ndarray) -> None:
    assert native.pdq64(np.ascontiguousarray(pixels)) == _reference_pdq(pixels)


@pytest.mark.skipif(native is None, reason="the compiled kernel was not built (.ci/run asserts it is)")
def test_the_compiled_pdq_agrees_on_photographs_and_their_crops(astronaut: Image.Image) -> None:
    """Real pictures, reduced as registration reduces them: the whole photo of each of five and its 18 crops."""
    photos = [astronaut] + [Image.fromarray(getattr(skimage.data, n)()) for n in ("coffee", "camera", "moon", "page")]
    checked = 0
    for photo in photos:
        rgb = prepare(photo)
        h, w = rgb.shape[:2]
        for left, top, right, bottom in [(0.0, 0.0, 1.0, 1.0), *(r for _, r in _CROPS)]:
            part = rgb[round(top * h) : round(bottom * h), round(left * w) : round(right * w)]
            small = _reduce64(np.ascontiguousarray(part))
            assert native.pdq64(np.ascontiguousarray(small)) == _reference_pdq(small)
            checked += 1
    assert checked == 5 * 19


def test_a_registered_images_hashes_are_its_crops_hashed_alone(astronaut: Image.Image) -> None:
    """registered_hashes cuts the crops with PIL; each must be the hash of that crop prepared and hashed alone
    (the way a query of a cropped copy is hashed), with every crop of the grid present."""
    for photo in (astronaut, astronaut.resize((50, 40)), astronaut.convert("L").resize((300, 120))):
        hashes = registered_hashes(photo)
        assert [h.variant for h in hashes] == ["original", *(v for v, _ in _CROPS)]
        rgb = prepare(photo)
        h, w = rgb.shape[:2]
        for got in hashes:
            left, top, right, bottom = got.region
            part = rgb[round(top * h) : round(bottom * h), round(left * w) : round(right * w)]
            assert (got.pdq, got.quality) == _reference_pdq(_reduce64(np.ascontiguousarray(part)))


def _pillow_reduced(rgb: np.ndarray, box: tuple[int, int, int, int]) -> bytes:
    """What the kernel must give: Pillow's crop, then its resize as registration reduces (f._reduced)."""
    return f._reduced(Image.fromarray(rgb).crop(box)).tobytes()


@st.composite
def _images_and_boxes(draw: st.DrawFn) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """RGB images from 1 to 300 pixels a side (bicubic upscaling under 64, box reduction above, and the tall
    shapes where Pillow 13 runs the vertical pass first), noisy, smooth or saturated, with boxes anywhere."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w, h = draw(st.integers(1, 300)), draw(st.integers(1, 300))
    kind = draw(st.sampled_from(["noise", "smooth", "extremes"]))
    if kind == "noise":
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    elif kind == "extremes":
        rgb = (rng.integers(0, 2, (h, w, 3)) * 255).astype(np.uint8)
    else:
        coarse = Image.fromarray(rng.integers(0, 256, (3, 3, 3), dtype=np.uint8))
        rgb = np.asarray(coarse.resize((w, h), Image.Resampling.BILINEAR))
    boxes = [(0, 0, w, h)]
    for _ in range(draw(st.integers(0, 4))):
        x0, y0 = draw(st.integers(0, w - 1)), draw(st.integers(0, h - 1))
        boxes.append((x0, y0, draw(st.integers(x0 + 1, w)), draw(st.integers(y0 + 1, h))))
    return np.ascontiguousarray(rgb), boxes


@pytest.mark.skipif(native is None, reason="the compiled kernel was not built (.ci/run asserts it is)")
@settings(max_examples=300, deadline=None)
@given(case=_images_and_boxes())
def test_the_compiled_reduction_gives_pillows_bytes(case: tuple[np.ndarray, list[tuple[int, int, int, int]]]) -> None:
    rgb, boxes = case
    h, w = rgb.shape[:2]
    got = native.reduce64(rgb, w, h, np.array(boxes, dtype=np.int32))
    assert len(got) == len(boxes) * 64 * 64 * 3
    for i, box in enumerate(boxes):
        assert got[i * 12288 : (i + 1) * 12288] == _pillow_reduced(rgb, box), box


@pytest.mark.skipif(native is None, reason="the compiled kernel was not built (.ci/run asserts it is)")
def test_the_compiled_reduction_follows_pillows_pass_order_on_both_sides_of_its_rule() -> None:
    """Pillow 13 runs the vertical pass first when the height shrinks more than twice as much as the width; the
    two orders round differently, so crops just either side of the rule must both come out as Pillow's."""
    rng = np.random.default_rng(7)
    for w, h in [(100, 135), (100, 136), (100, 137), (64, 300), (63, 65), (65, 66), (65, 67), (20, 400), (400, 20)]:
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        assert native.reduce64(rgb, w, h, np.array([(0, 0, w, h)], dtype=np.int32)) == _pillow_reduced(
            rgb, (0, 0, w, h)
        ), (w, h)


@pytest.mark.skipif(native is None, reason="the compiled kernel was not built (.ci/run asserts it is)")
def test_the_compiled_reduction_agrees_on_photographs_and_their_crops(astronaut: Image.Image) -> None:
    for photo in [astronaut] + [Image.fromarray(getattr(skimage.data, n)()) for n in ("coffee", "camera", "page")]:
        rgb = prepare(photo)
        h, w = rgb.shape[:2]
        boxes = [(0, 0, w, h)] + [
            (round(left * w), round(top * h), round(right * w), round(bottom * h))
            for _, (left, top, right, bottom) in _CROPS
        ]
        got = native.reduce64(rgb, w, h, np.array(boxes, dtype=np.int32))
        assert [got[i * 12288 : (i + 1) * 12288] for i in range(len(boxes))] == [_pillow_reduced(rgb, b) for b in boxes]


@pytest.mark.skipif(native is None, reason="the compiled kernel was not built (.ci/run asserts it is)")
def test_the_compiled_reduction_refuses_boxes_outside_the_image_and_pixels_of_another_shape() -> None:
    rgb = np.zeros((50, 40, 3), dtype=np.uint8)
    for box in [(0, 0, 41, 50), (0, 0, 40, 51), (-1, 0, 10, 10), (5, 5, 5, 10), (5, 9, 10, 8)]:
        with pytest.raises(ValueError, match="empty or leaves the 40x50 image"):
            native.reduce64(rgb, 40, 50, np.array([box], dtype=np.int32))
    with pytest.raises(ValueError, match="height x width x 3"):
        native.reduce64(rgb, 50, 40 + 1, np.array([(0, 0, 1, 1)], dtype=np.int32))
    with pytest.raises(ValueError, match="n x 4 int32"):
        native.reduce64(rgb, 40, 50, np.array([0, 0, 1], dtype=np.int32))


@pytest.mark.skipif(native is None, reason="the compiled kernel was not built (.ci/run asserts it is)")
def test_the_compiled_pdq_refuses_pixels_of_another_size() -> None:
    for wrong in (b"", bytes(64 * 64), bytes(64 * 64 * 3 + 1), np.zeros((32, 32, 3), dtype=np.uint8)):
        with pytest.raises(ValueError, match="64x64 RGB"):
            native.pdq64(wrong)
