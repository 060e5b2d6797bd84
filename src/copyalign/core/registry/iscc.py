"""The ISCC Text-Code (ISO 24138), bit-identical to ``iscc-core`` and 10 to 50 times faster.

Why it exists: ``iscc_core.gen_text_code_v0`` spends ~23 ms on a 10 KB text (a Python loop over every
character, one Python-level xxh32 per 13-character n-gram, and a 64-permutation MinHash over Python ints),
which alone would cap bulk registration far below the registry's floor of 500 works/s on two cores. Here
(0.4 ms for 10 KB of ASCII, 0.7 ms of English with some non-ASCII, 0.9 ms of Chinese; see
``benchmarks/results/iscc_text.json``):

* the character filter is a per-code-point lookup table applied with numpy (pure ASCII takes
  ``bytes.translate``);
* the n-gram hashes are xxh32 written over numpy uint32 arrays, every window at once;
* the MinHash works on the low 32 bits only (all that iscc-core keeps) and redoes in exact 64-bit arithmetic
  just the few features that can still be a row's minimum (see :func:`_minhash`).

Where the compiled kernels are built (:mod:`copyalign.core.kernels`), the n-gram hashes and the MinHash are one
C call instead (``iscc_text_minhash``, ~5 times faster on a 2 KB text: the numpy path's ~50 calls per text cost
more than their arithmetic); the numpy path stays for an install without a compiler, and the tests hold the two
to each other and to iscc-core.

Conformance is a test, not a claim: ``tests/unit/core/test_iscc.py`` checks every function against iscc-core
(its own conformance vectors, hypothesis-generated Unicode, every branch of the hash), and
``benchmarks/iscc_text.py`` measures both side by side and asserts that their codes agree.

Example:
    >>> text_code("Hello World")
    'ISCC:EAASKDNZNYGUUF5A'
    >>> hamming(code_to_int(text_code("Hello World")), code_to_int(text_code("Hello World!")))
    0
"""

from __future__ import annotations

import importlib.util
import unicodedata
from pathlib import Path
from types import ModuleType

import iscc_core as ic
import numpy as np
import numpy.typing as npt
import xxhash

from copyalign.core.kernels import native
from copyalign.errors import InvalidInputError

__all__ = ["band_probes", "bands", "code_to_int", "hamming", "soft_hash_text", "text_code", "text_collapse"]

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
Index = npt.NDArray[np.intp]


def _minhash_module() -> ModuleType:
    """iscc-core's ``minhash`` module with its permutation constants.

    The compiled extension that usually shadows ``minhash.py`` exports only the functions, so then the source
    beside it is loaded: the constants stay iscc-core's own, never a copy that could drift.
    """
    import iscc_core.minhash

    compiled: ModuleType = iscc_core.minhash
    if hasattr(compiled, "MPA"):  # a pure-Python install
        return compiled
    path = Path(ic.__file__).with_name("minhash.py")
    spec = importlib.util.spec_from_file_location("_iscc_core_minhash_source", path)
    if spec is None or spec.loader is None:  # pragma: no cover - a broken iscc-core install
        raise ImportError(f"cannot load the MinHash constants from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_MH = _minhash_module()
MPA: U64 = np.array(_MH.MPA, dtype=np.uint64)
MPB: U64 = np.array(_MH.MPB, dtype=np.uint64)
MPRIME = int(_MH.MPRIME)  # 2**61 - 1
MAXH = int(_MH.MAXH)  # 2**32 - 1: iscc-core keeps the low 32 bits of each hash
MAXI64 = int(_MH.MAXI64)  # 2**64 - 1
NGRAM = int(ic.core_opts.text_ngram_size)  # 13 characters
_FILTER = frozenset(ic.core_opts.text_unicode_filter)  # C, M, P: control, mark, punctuation

# -- text_collapse ------------------------------------------------------------------------------------


def _drops(ch: str) -> bool:
    """iscc-core's per-character rule: whitespace and control/mark/punctuation characters go."""
    return ch.isspace() or unicodedata.category(ch)[0] in _FILTER


# Per code point: -1 not yet classified, 0 dropped, 1 kept, 2 kept and inert (below). One byte each
# (1.1 MB), filled on first sight, so import stays cheap and memory bounded whatever text arrives.
_CLASS = np.full(0x110000, -1, dtype=np.int8)
_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_ASCII_DROP = bytes(c for c in range(128) if _drops(chr(c)))


def _classify(cp: int) -> int:
    """0 if iscc-core drops ``chr(cp)``; 2 if it is *inert* under NFKC; else 1.

    Inert: ASCII or a CJK unified ideograph with no decomposition and combining class 0. Such a character
    is its own NFKC, and NFKC never combines it with the character before it (the second character of
    every canonical composition is a mark or a Hangul vowel or trailing jamo; a test checks this against
    the running Python's Unicode database), so a text may be normalised piecewise around it.
    """
    ch = chr(cp)
    if _drops(ch):
        return 0
    script = cp < 0x80 or 0x3400 <= cp <= 0x4DBF or 0x4E00 <= cp <= 0x9FFF
    return 2 if script and not unicodedata.combining(ch) and not unicodedata.decomposition(ch) else 1


def _nfkc(text: str, loose: list[int]) -> str:
    """``unicodedata.normalize("NFKC", text)`` where only the characters at ``loose`` are not inert.

    NFKC of a mostly ASCII or Chinese text with one superscript or circled digit is otherwise a full pass
    (its quick check fails), the slowest step of the collapse. Inert characters are NFKC boundaries, so
    only each run of loose characters is normalised, with the inert character before it, which the run
    could combine with.
    """
    if 32 * len(loose) > len(text):  # many loose characters: one pass over everything is cheaper
        return unicodedata.normalize("NFKC", text)
    pieces, done, i = [], 0, 0
    while i < len(loose):
        start = end = loose[i]
        while i < len(loose) and loose[i] == end:
            end, i = end + 1, i + 1
        first = max(start - 1, 0)
        pieces += [text[done:first], unicodedata.normalize("NFKC", text[first:end])]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def text_collapse(text: str) -> str:
    """NFD, lower case, drop whitespace/control/marks/punctuation, NFKC: iscc-core's ``text_collapse``.

    Example:
        >>> text_collapse("Iñtërnâtiônàl, Ünïcödé!")
        'internationalunicode'
    """
    if text.isascii():  # NFD and NFKC leave ASCII alone and lower() maps only A-Z
        return text.encode("ascii").translate(_ASCII_LOWER, _ASCII_DROP).decode("ascii")
    decomposed = unicodedata.normalize("NFD", text).lower()
    # surrogatepass: a lone surrogate is legal in a Python str; it is category Cs, so it is dropped below.
    cps = np.frombuffer(decomposed.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    cls = _CLASS[cps]
    if cls.min() < 0:
        for cp in np.unique(cps[cls < 0]).tolist():
            _CLASS[cp] = _classify(cp)
        cls = _CLASS[cps]
    kept = cps[cls > 0]
    filtered = kept.tobytes().decode("utf-32-le")
    wide = np.flatnonzero(kept >= 0x80)  # ASCII is inert; of the rest, ask the table
    loose = wide[_CLASS[kept[wide]] == 1].tolist()
    return _nfkc(filtered, loose) if loose else filtered


# -- xxh32 of every n-gram ----------------------------------------------------------------------------

_P1, _P2, _P3, _P4, _P5 = (np.uint32(p) for p in (2654435761, 2246822519, 3266489917, 668265263, 374761393))
# the four accumulators start at seed + P1 + P2, seed + P2, seed, seed - P1 (mod 2**32); the seed is 0
_LANE_INIT = np.array([(2654435761 + 2246822519) % 2**32, 2246822519, 0, 2**32 - 2654435761], dtype=np.uint32)
_LANE_ROTL = np.array([1, 7, 12, 18], dtype=np.uint32)[:, None]
_LANE_ROTR = np.uint32(32) - _LANE_ROTL
_GROUP_MIN = 256  # windows of one byte length worth a vectorised pass (about 50 numpy calls)


def _rotl(x: U32, r: int) -> U32:
    out: U32 = (x << np.uint32(r)) | (x >> np.uint32(32 - r))
    return out


def _words(data: bytes) -> U32:
    """The little-endian uint32 that starts at every byte offset of ``data`` (zero-padded past its end)."""
    size = max(len(data) + 3, 7)
    size += 3 - size % 4  # four interleaved uint32 views need a length of 4k + 3
    buf = data + bytes(size - len(data))
    words: U32 = np.stack([np.frombuffer(buf, "<u4", size // 4, r) for r in range(4)], axis=1).ravel()
    return words


def _xxh32_fixed(words: U32, starts: Index | None, n: int, length: int) -> U32:
    """xxh32 (seed 0) of ``n`` windows of ``length`` bytes at ``starts`` (``None``: at offsets 0 to n-1).

    One length means one path through xxHash for every window, so its loops run here in Python over whole
    arrays, row ``j`` of ``m`` holding each window's ``j``-th 4-byte word: 16-byte stripes into four
    accumulators, then the remaining words, then the remaining bytes (from the last, partial word), then
    the avalanche. uint32 arrays wrap exactly like the C code.
    """
    k = (length + 3) // 4
    m: U32
    if starts is None:  # every offset: row j is words[4j : 4j + n], a strided view
        step = words.strides[0]
        m = np.lib.stride_tricks.as_strided(words, (k, n), (4 * step, step), writeable=False)
    else:
        m = words[starts + 4 * np.arange(k)[:, None]]
    stripes = length // 16
    if stripes:
        v = np.repeat(_LANE_INIT[:, None], n, axis=1)
        for s in range(stripes):
            v += m[4 * s : 4 * s + 4] * _P2
            v = (v << np.uint32(13)) | (v >> np.uint32(19))
            v *= _P1
        h: U32 = ((v << _LANE_ROTL) | (v >> _LANE_ROTR)).sum(axis=0, dtype=np.uint32)
        h += np.uint32(length)
    else:
        h = np.full(n, _P5 + np.uint32(length), dtype=np.uint32)
    for j in range(4 * stripes, length // 4):
        h += m[j] * _P3
        h = _rotl(h, 17)
        h *= _P4
    for b in range(length % 4):
        h += ((m[length // 4] >> np.uint32(8 * b)) & np.uint32(0xFF)) * _P5
        h = _rotl(h, 11)
        h *= _P1
    h ^= h >> np.uint32(15)
    h *= _P2
    h ^= h >> np.uint32(13)
    h *= _P3
    h ^= h >> np.uint32(16)
    return h


def _features(collapsed: str) -> U32:
    """xxh32 of the UTF-8 of every ``NGRAM``-character window, as ``iscc_core.sliding_window`` yields them.

    A text shorter than the window is a single, shorter n-gram (the empty text included), never none. In
    ASCII every window is ``NGRAM`` bytes. Otherwise windows that share a common byte length are hashed
    together (at every byte offset, then picked, when they are most of the text; else gathered), and the
    stragglers one by one, which is cheaper below a few hundred than a vectorised pass.
    """
    data = collapsed.encode("utf-8")
    n = max(len(collapsed) - NGRAM + 1, 1)
    words = _words(data)
    if len(data) == len(collapsed):
        return _xxh32_fixed(words, None, n, min(len(data), NGRAM))
    utf8 = np.frombuffer(data, dtype=np.uint8)
    offsets = np.append(np.flatnonzero((utf8 & 0xC0) != 0x80), len(data))  # where each character starts
    starts = offsets[:n]
    ends = offsets[min(NGRAM, len(collapsed)) :][:n]
    lengths = ends - starts
    out = np.empty(n, dtype=np.uint32)
    loose = np.ones(n, dtype=np.bool_)
    for length in np.flatnonzero(np.bincount(lengths) >= _GROUP_MIN).tolist():
        group = np.flatnonzero(lengths == length)
        everywhere = len(data) - length + 1
        if 2 * len(group) > everywhere:
            out[group] = _xxh32_fixed(words, None, everywhere, length)[starts[group]]
        else:
            out[group] = _xxh32_fixed(words, starts[group], len(group), length)
        loose[group] = False
    rest = np.flatnonzero(loose)
    h = xxhash.xxh32_intdigest
    out[rest] = [h(data[s:e]) for s, e in zip(starts[rest].tolist(), ends[rest].tolist(), strict=True)]
    return out


# -- MinHash ------------------------------------------------------------------------------------------

_U32_MAX = np.uint64(MAXH)
_SHIFT61 = np.uint64(61)
_PRIME = np.uint64(MPRIME)
_SHIFTS = np.arange(4, dtype=np.uint64)[:, None]
_BLOCK = 1 << 15  # windows hashed at once: 8 MiB of MinHash scratch, and 10 KB works fit in one


def _exact(a: U64, b: U64, features: U64) -> U64:
    """``((a*f + b) & MAXI64) % MPRIME & MAXH`` elementwise, as iscc-core computes each hash."""
    x = a * features + b  # uint64 wraps: the reference's & MAXI64
    r = (x & _PRIME) + (x >> _SHIFT61)  # 2**61 = 1 (mod 2**61-1); the fold is below 2 * prime
    r = np.where(r >= _PRIME, r - _PRIME, r)
    out: U64 = r & _U32_MAX
    return out


def _minhash(features: U32, mpa: U64 = MPA, mpb: U64 = MPB) -> U64:
    """iscc-core's ``alg_minhash``: per permutation, ``min(((a*f + b) mod 2**64 mod (2**61-1)) & MAXH)``.

    With ``x = a*f + b`` and ``u`` its low 32 bits, each hash is ``u + (x >> 61)`` (the Mersenne fold adds
    at most 7) unless ``u >= 2**32 - 8``, where the fold can carry or need its final subtraction. So
    ``w = u + 8 (mod 2**32)``, cheap in uint32 (8 SIMD lanes, a quarter of the memory of uint64), puts
    those "risky" features at ``w <= 7`` and every other hash within ``[w - 8, w - 1]``. If a row's
    smallest ``w`` is at least 8 and its runner-up more than 7 above it, the smallest is the minimum and is
    computed exactly; otherwise (a duplicated n-gram, common in real text; a near tie or a risky feature,
    each about one row in a thousand works) every feature that could still be the minimum is.
    """
    rows = np.arange(len(mpa))
    w = mpa.astype(np.uint32)[:, None] * features
    w += (mpb + np.uint64(8)).astype(np.uint32)[:, None]
    best = w.argmin(axis=1)
    lowest = w[rows, best].astype(np.uint64)
    w[rows, best] = MAXH
    runner_up = w.min(axis=1)
    out = _exact(mpa, mpb, features[best].astype(np.uint64))
    bound = np.where(lowest < 8, _U32_MAX, np.minimum(lowest + np.uint64(7), _U32_MAX))
    for k in np.flatnonzero(runner_up <= bound).tolist():
        maybe = features[np.append(np.flatnonzero(w[k] <= int(bound[k])), best[k])]
        if len(maybe) > 16:  # a risky row (all its features) or a much repeated n-gram
            out[k] = _exact(mpa[k], mpb[k], maybe.astype(np.uint64)).min()
        else:  # a duplicate or a near tie: a few, quicker in the reference's own words
            a, b = int(mpa[k]), int(mpb[k])
            out[k] = min((((a * f + b) & MAXI64) % MPRIME) & MAXH for f in maybe.tolist())
    return out


def soft_hash_text(text_collapsed: str) -> bytes:
    """The 256-bit similarity digest of an already collapsed text: iscc-core's ``soft_hash_text_v0``.

    The 4 low bits of each of the 64 minimum hashes, bit 0 of all 64 first (``alg_minhash_compress``). A
    long text goes in blocks of ``_BLOCK`` windows, the minimum of minima, so that memory stays bounded
    (the MinHash holds 64 hashes per window).

    Example:
        >>> soft_hash_text("helloworld").hex()[:16]
        '250db96e0d4a17a0'
    """
    if native is not None:
        return minhash_digest(native.iscc_text_minhash(text_collapsed.encode("utf-8"), NGRAM, MPA, MPB))
    mh = np.full(len(MPA), MAXH, dtype=np.uint64)
    for i in range(0, max(len(text_collapsed) - NGRAM + 1, 1), _BLOCK):
        np.minimum(mh, _minhash(_features(text_collapsed[i : i + _BLOCK + NGRAM - 1])), out=mh)
    return minhash_digest(mh)


def minhash_digest(minima: U64 | bytes) -> bytes:
    """iscc-core's ``alg_minhash_compress(minima, 4)``: the 4 low bits of each of the 64 minimum hashes, bit 0 of
    all 64 first (``minima`` as uint64, or as the kernels' bytes of uint32)."""
    mh = np.frombuffer(minima, dtype=np.uint32).astype(np.uint64) if isinstance(minima, bytes) else minima
    bits = ((mh[None, :] >> _SHIFTS) & np.uint64(1)).astype(np.uint8).ravel()
    return np.packbits(bits).tobytes()


def text_code(text: str, bits: int = 64) -> str:
    """``ISCC:…`` Text-Code of ``text``: equal to ``iscc_core.gen_text_code_v0(text, bits)["iscc"]``.

    Example:
        >>> text_code("Hello World", 128)
        'ISCC:EABSKDNZNYGUUF5AMFEJLZ5P66CP4'
    """
    digest = soft_hash_text(text_collapse(text))
    unit = ic.encode_component(
        mtype=ic.MT.CONTENT, stype=ic.ST_CC.TEXT, version=ic.VS.V0, bit_length=bits, digest=digest
    )
    return f"ISCC:{unit}"


# -- similarity ---------------------------------------------------------------------------------------


def code_to_int(iscc_unit: str) -> int:
    """The body bits of a single ISCC unit (e.g. a 64-bit Content-Code) as an unsigned integer.

    Raises:
        InvalidInputError: not a valid unit, a truncated one, or a composite ISCC-CODE (whose body
            concatenates several units, so its bits are not one similarity hash).

    Example:
        >>> hex(code_to_int("ISCC:EAASKDNZNYGUUF5A"))
        '0x250db96e0d4a17a0'
    """
    try:
        mtype, _stype, _version, length, body = ic.iscc_decode(iscc_unit)
        bits = ic.decode_length(mtype, length)
    except (ValueError, IndexError, KeyError) as exc:
        raise InvalidInputError(f"not an ISCC unit: {iscc_unit!r}", field="iscc") from exc
    if mtype == ic.MT.ISCC:
        raise InvalidInputError(f"a composite ISCC-CODE, not a single unit: {iscc_unit!r}", field="iscc")
    if len(body) * 8 != bits:
        raise InvalidInputError(f"ISCC unit body is {len(body) * 8} bits, header says {bits}", field="iscc")
    return int.from_bytes(body, "big")


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two code bodies: small for similar texts (0 for identical)."""
    return (a ^ b).bit_count()


def bands(u: int) -> tuple[int, int, int, int]:
    """The four 16-bit bands of a 64-bit code, high to low (the registry's similarity index keys)."""
    return ((u >> 48) & 0xFFFF, (u >> 32) & 0xFFFF, (u >> 16) & 0xFFFF, u & 0xFFFF)


def band_probes(band: int) -> list[int]:
    """A band's value and its 16 one-bit variants: probing all four bands with them finds every code within
    Hamming distance 7 (by pigeonhole, one band then differs in at most one bit)."""
    return [band] + [band ^ (1 << b) for b in range(16)]
