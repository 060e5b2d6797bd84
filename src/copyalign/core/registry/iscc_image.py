"""The ISCC Content-Code Image (ISO 24138), bit for bit as ``iscc_core.gen_image_code_v0``, in numpy.

iscc-core computes its 32x32 DCT with a recursive pure-Python fast DCT (nayuki's, Lee's algorithm), one row
and one column at a time: ~8 ms an image here, over 90 % of fingerprinting a registered image and the
largest cost of a bulk import of images. This runs the same recursion on all 32 rows (then columns) at once
as numpy arrays. Every element goes through the same IEEE operations in the same order (sums and
differences of the same pairs, divisions by the same ``math.cos`` factors, the same median of 64), so the
digest is identical, not merely close: ``tests/unit/core/test_iscc_image.py`` holds it to iscc-core on random,
flat and gradient images, where many coefficients tie. Where the compiled kernels are built the recursion runs
in C (``iscc_dct32``), the same operations on the same doubles; the tests hold both paths to iscc-core.

Example:
    >>> image_code(np.full((32, 32), 128, dtype=np.uint8))  # doctest: +SKIP
    'ISCC:EEA...'
"""

from __future__ import annotations

import math
from functools import lru_cache

import iscc_core as ic
import numpy as np
import numpy.typing as npt

from copyalign.core.kernels import native

_SLICES = ((0, 0), (8, 0), (0, 8), (8, 8))  # (x, y) of the 8x8 squares of the top-left 16x16, as iscc-core


@lru_cache(maxsize=8)
def _factors(n: int) -> npt.NDArray[np.float64]:
    return np.array([math.cos((i + 0.5) * math.pi / n) * 2.0 for i in range(n // 2)])[:, None]


_ALL_FACTORS = np.concatenate([_factors(n).ravel() for n in (32, 16, 8, 4, 2)])  # the kernel's, level by level


def _dct(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """iscc-core's ``alg_dct`` applied to every column of ``v`` at once."""
    n = v.shape[0]
    if n == 1:
        return v.copy()
    half = n // 2
    mirrored = v[::-1][:half]  # v[-(i + 1)] for i < half
    alpha = _dct(v[:half] + mirrored)
    beta = _dct((v[:half] - mirrored) / _factors(n))
    out = np.empty_like(v)
    out[0 : n - 2 : 2] = alpha[: half - 1]
    out[1 : n - 2 : 2] = beta[: half - 1] + beta[1:half]
    out[n - 2] = alpha[-1]
    out[n - 1] = beta[-1]
    return out


def soft_hash_image(pixels: npt.NDArray[np.uint8], bits: int = 64) -> bytes:
    """``iscc_core.soft_hash_image_v0`` of 32x32 grey pixels (row-major, as iscc-core takes them flattened)."""
    if bits > 256 or bits % 64:
        raise ValueError(f"bits must be 64, 128, 192 or 256, not {bits}")
    if native is not None:  # the same recursion in C: ~50 times faster than its ~1,000 numpy calls
        grey = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(32, 32)
        matrix = np.frombuffer(native.iscc_dct32(grey, _ALL_FACTORS), dtype=np.float64).reshape(32, 32)
    else:
        grid = np.asarray(pixels, dtype=np.float64).reshape(32, 32)
        rows = _dct(grid.T).T  # the DCT of each row
        matrix = _dct(rows)  # then of each column
    bitstring = []
    for x, y in _SLICES[: bits // 64]:
        square = matrix[y : y + 8, x : x + 8].ravel()
        ordered = np.sort(square)
        med = (ordered[31] + ordered[32]) / 2  # statistics.median of 64 values
        bitstring.append(square > med)
    packed = np.packbits(np.concatenate(bitstring))
    return packed.tobytes()


def image_code(pixels: npt.NDArray[np.uint8], bits: int = 64) -> str:
    """``iscc_core.gen_image_code_v0(pixels)["iscc"]`` for 32x32 grey pixels."""
    unit = ic.encode_component(
        mtype=ic.MT.CONTENT,
        stype=ic.ST_CC.IMAGE,
        version=ic.VS.V0,
        bit_length=bits,
        digest=soft_hash_image(pixels, bits),
    )
    return "ISCC:" + str(unit)


__all__ = ["image_code", "soft_hash_image"]
