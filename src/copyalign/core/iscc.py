"""The ISCC Text-Code (ISO 24138), bit-identical to ``iscc-core`` and several times faster.

Why it exists: ``iscc_core.gen_text_code_v0`` spends ~20 ms on a 10 KB text (a per-character category
lookup, one Python-level hash per 13-character n-gram, and a 64-permutation MinHash over all of them), which
alone would cap bulk registration far below the registry's 500 works/s floor on two cores. Here the character
filter is a cached ``str.translate`` table, duplicate n-grams are hashed once, and the MinHash runs in numpy
over all permutations at once (uint64 arithmetic wraps modulo 2**64, exactly the ``& MAXI64`` of the
reference). Conformance with iscc-core is a test (``tests/unit/core/test_iscc.py``) over hypothesis-generated
Unicode text; ``benchmarks/iscc_text.py`` measures the speed-up side by side.

Example:
    >>> text_code("Hello World") == __import__("iscc_core").gen_text_code_v0("Hello World")["iscc"]
    True
"""

from __future__ import annotations

import importlib.util
import unicodedata
from pathlib import Path
from types import ModuleType

import iscc_core as ic
import numpy as np
import xxhash


def _reference_minhash() -> ModuleType:
    """iscc-core's pure-Python ``minhash`` module, for its permutation constants.

    The compiled extension that shadows it does not export MPA/MPB, so the source beside it is loaded; the
    constants are then iscc-core's own, never a copy that could drift.
    """
    path = Path(ic.__file__).with_name("minhash.py")
    spec = importlib.util.spec_from_file_location("_iscc_minhash_reference", path)
    if spec is None or spec.loader is None:  # pragma: no cover - a broken iscc-core install
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_REF = _reference_minhash()
MPA: list[int] = _REF.MPA
MPB: list[int] = _REF.MPB
MPRIME: int = _REF.MPRIME
MAXH: int = _REF.MAXH

_NGRAM = int(ic.core_opts.text_ngram_size)
_FILTER = frozenset(ic.core_opts.text_unicode_filter)
_A = np.array(MPA, dtype=np.uint64)[:, None]
_B = np.array(MPB, dtype=np.uint64)[:, None]
_MPRIME = np.uint64(MPRIME)
_MAXH = np.uint64(MAXH)
_SHIFTS = np.arange(4, dtype=np.uint64)[:, None]


class _DropTable(dict[int, int | None]):
    """``str.translate`` table that drops whitespace, control, mark and punctuation characters.

    Each code point is classified once, on first sight, then answered from the dict.
    """

    def __missing__(self, cp: int) -> int | None:
        ch = chr(cp)
        value = None if ch.isspace() or unicodedata.category(ch)[0] in _FILTER else cp
        self[cp] = value
        return value


_DROP = _DropTable()


def text_collapse(text: str) -> str:
    """NFD, lower case, drop whitespace/control/marks/punctuation, NFKC: as iscc-core's ``text_collapse``."""
    decomposed = unicodedata.normalize("NFD", text).lower()
    return unicodedata.normalize("NFKC", decomposed.translate(_DROP))


_SHIFT61 = np.uint64(61)
_BLOCK = 256  # features per block: a 64 x 256 uint64 block (128 KiB) stays in the L2 cache


def _minhash(features: np.ndarray) -> np.ndarray:
    """The 64 minimum hashes of iscc-core's ``alg_minhash``; ``features`` is a 1-D uint64 array.

    ``x % (2**61 - 1)`` is computed as ``(x & P) + (x >> 61)`` and one conditional subtraction (exact for a
    Mersenne prime, and cheaper than numpy's 64-bit division), block by block so the temporaries stay in
    cache: together about 4x faster than the plain broadcast expression.
    """
    out = np.full(64, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, len(features), _BLOCK):
        x = _A * features[None, start : start + _BLOCK]
        x += _B
        r = x & _MPRIME
        x >>= _SHIFT61
        r += x
        np.subtract(r, _MPRIME, out=r, where=r >= _MPRIME)
        r &= _MAXH
        np.minimum(out, r.min(axis=1), out=out)
    return out


_P1, _P2, _P3, _P4, _P5 = (np.uint32(p) for p in (2654435761, 2246822519, 3266489917, 668265263, 374761393))


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    out: np.ndarray = (x << np.uint32(r)) | (x >> np.uint32(32 - r))
    return out


def _xxh32_ascii_windows(data: bytes) -> np.ndarray:
    """xxh32 (seed 0) of every 13-byte window of ``data``, vectorised.

    Valid because an ASCII text's 13-character n-grams are exactly its 13-byte windows; the steps are
    xxHash's short-input path (three 4-byte lanes, one tail byte, avalanche) on uint32 arrays, which wrap
    like the C code.
    """
    b = np.frombuffer(data, dtype=np.uint8).astype(np.uint32)
    words = b[:-3] | (b[1:-2] << np.uint32(8)) | (b[2:-1] << np.uint32(16)) | (b[3:] << np.uint32(24))
    n = len(data) - _NGRAM + 1
    with np.errstate(over="ignore"):
        h = np.full(n, np.uint32(_P5 + np.uint32(_NGRAM)), dtype=np.uint32)
        for lane in (0, 4, 8):
            h += words[lane : lane + n] * _P3
            h = _rotl(h, 17) * _P4
        h += b[12 : 12 + n] * _P5
        h = _rotl(h, 11) * _P1
        h ^= h >> np.uint32(15)
        h *= _P2
        h ^= h >> np.uint32(13)
        h *= _P3
        h ^= h >> np.uint32(16)
    return h.astype(np.uint64)


def soft_hash_text(collapsed: str) -> bytes:
    """The 256-bit similarity hash of an already collapsed text (iscc-core's ``soft_hash_text_v0``)."""
    if len(collapsed) >= _NGRAM and collapsed.isascii():
        features = _xxh32_ascii_windows(collapsed.encode("ascii"))
    else:
        n = max(len(collapsed) - _NGRAM + 1, 1)
        ngrams = {collapsed[i : i + _NGRAM] for i in range(n)}  # the minimum ignores duplicates
        h = xxhash.xxh32_intdigest
        features = np.fromiter((h(g.encode("utf-8")) for g in ngrams), dtype=np.uint64, count=len(ngrams))
    mh = _minhash(features)
    bits = ((mh[None, :] >> _SHIFTS) & np.uint64(1)).astype(np.uint8).ravel()
    return np.packbits(bits).tobytes()


def text_code(text: str, bits: int = 64) -> str:
    """``ISCC:…`` Text-Code of ``text``; equal to ``iscc_core.gen_text_code_v0(text, bits)["iscc"]``."""
    digest = soft_hash_text(text_collapse(text))
    unit = ic.encode_component(
        mtype=ic.MT.CONTENT, stype=ic.ST_CC.TEXT, version=ic.VS.V0, bit_length=bits, digest=digest
    )
    return "ISCC:" + str(unit)


def code_to_int(iscc_unit: str) -> int:
    """The body of a single ISCC unit (e.g. a 64-bit Content-Code) as an unsigned integer."""
    body: bytes = ic.iscc_decode(iscc_unit)[4]
    return int.from_bytes(body, "big")


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()
