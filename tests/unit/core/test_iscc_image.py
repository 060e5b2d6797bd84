"""The numpy ISCC Content-Code Image is iscc-core's, bit for bit (issue 23: it was 90 % of an image's
registration), on random, flat, striped and gradient pixels, where many DCT coefficients tie at the median."""

from __future__ import annotations

import iscc_core as ic
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from copyalign.core.registry import iscc_image
from copyalign.core.registry.iscc_image import image_code, soft_hash_image


def reference(pixels: np.ndarray, bits: int = 64) -> bytes:
    return bytes(ic.soft_hash_image_v0(pixels.ravel().tolist(), bits=bits))


@settings(max_examples=300, deadline=None)
@given(arrays(np.uint8, (32, 32)))
def test_random_pixels(pixels: np.ndarray) -> None:
    assert soft_hash_image(pixels) == reference(pixels)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.sampled_from(["flat", "rows", "cols", "ramp", "checker"]))
def test_structured_pixels_with_ties(a: int, b: int, pattern: str) -> None:
    y, x = np.mgrid[0:32, 0:32]
    pixels = {
        "flat": np.full((32, 32), a),
        "rows": np.where(y % 2 == 0, a, b),
        "cols": np.where(x < 16, a, b),
        "ramp": (a + (b - a) * x / 31).round(),
        "checker": np.where((x // 4 + y // 4) % 2 == 0, a, b),
    }[pattern].astype(np.uint8)
    assert soft_hash_image(pixels) == reference(pixels)


@pytest.mark.parametrize("bits", [64, 128, 256])
def test_longer_codes_and_the_whole_unit(bits: int) -> None:
    pixels = np.random.default_rng(bits).integers(0, 256, (32, 32), dtype=np.uint8)
    assert soft_hash_image(pixels, bits) == reference(pixels, bits)
    assert image_code(pixels, bits) == ic.gen_image_code_v0(pixels.ravel().tolist(), bits=bits)["iscc"]


def numpy_matrix(pixels: np.ndarray) -> np.ndarray:
    grid = np.asarray(pixels, dtype=np.float64).reshape(32, 32)
    return iscc_image._dct(iscc_image._dct(grid.T).T)


@pytest.mark.skipif(iscc_image.native is None, reason="the C kernels were not built")
@settings(max_examples=200, deadline=None)
@given(arrays(np.uint8, (32, 32)) | st.integers(0, 255).map(lambda v: np.full((32, 32), v, dtype=np.uint8)))
def test_kernel_dct_gives_the_numpy_paths_doubles(pixels: np.ndarray) -> None:
    assert iscc_image.native is not None
    raw = iscc_image.native.iscc_dct32(pixels, iscc_image._ALL_FACTORS)
    assert np.array_equal(np.frombuffer(raw, dtype=np.float64).reshape(32, 32), numpy_matrix(pixels))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(iscc_image, "native", None)
        without = soft_hash_image(pixels, 256)
    assert soft_hash_image(pixels, 256) == without == reference(pixels, 256)
    with pytest.raises(ValueError, match="32x32"):
        iscc_image.native.iscc_dct32(pixels[:16], iscc_image._ALL_FACTORS)
