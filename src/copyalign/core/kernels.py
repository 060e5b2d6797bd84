"""The compiled kernels of ``_kernels.c``, or ``None`` where the package was built without a C compiler, and
the per-code-point tables their Unicode paths read.

Every caller keeps a numpy or Python path that gives the same results (the tests compare both), so the
extension changes speed, never answers.

The Unicode paths (``fingerprint_unicode``, ``normalise_unicode``) know nothing about Unicode themselves:
each reads one table, built here at first use from this Python's own ``unicodedata`` and ``re``, that says
for every code point what the Python path does with it where that does not depend on its neighbours, and
"ask Python" where it does. What makes a character independent of its neighbours is the NFKC *boundary*
(UAX #15): where the character after a position starts with a starter that composes with nothing before
it, ``NFKC(a + b) == NFKC(a) + NFKC(b)``. So a run of such characters is normalised one character at a
time, and the tables can hold each character's result.

Table format (``_kernels.c`` reads the same bits): a two-stage table, ``stage1[cp >> 8]`` (uint16) naming a
block of 256 uint32 entries in ``stage2``; an entry is ``class | SIMPLE | (length - 1) << 4 | HASHES | value
<< 8``: the class (3 bits, each table's own), whether the kernel may compute the character's result alone,
and that result: ``length`` code points, the first ``cp + value`` (value a signed 24-bit delta) when length
is 1, else ``expansions[value : value + length]``; with ``HASHES``, ``length`` precomputed 64-bit token
hashes at ``expansions[value : value + 2 * length]`` (low word first).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from copyalign.core import _kernels as native
else:
    try:
        from copyalign.core import _kernels as native
    except ImportError:  # no compiler at install time
        native = None

__all__ = ["native"]

CODE_POINTS = 0x110000
SIMPLE = 1 << 3
HASHES = 1 << 7
MAX_LENGTH = 8
"""The longest result an entry holds (3 bits of length); longer ones are left to Python."""
COMBINING_END = 0x20000
"""Every character with a nonzero canonical combining class lies below this (a test checks the whole range):
asking ``unicodedata.combining`` about the 10^6 code points above would double the tables' build time."""

Bools = npt.NDArray[np.bool_]
U32 = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class UnicodeFacts:
    """What both tables need to know about every code point, from this Python's ``unicodedata``."""

    space: Bools
    """``str.isspace()`` (the same test as ``re``'s ``\\s`` and ``str.split()``)."""
    word: Bools
    """``re``'s ``\\w``: ``str.isalnum()`` or ``_``."""
    boundary_before: Bools
    """NFKC never joins the code point to what precedes it: its compatibility decomposition starts with a
    starter (canonical combining class 0) that is not the second half of any canonical composition."""
    nfkc: dict[int, str]
    """The code points that NFKC changes, and what it makes of each one alone."""
    casefold: dict[int, str]
    """The code points that ``str.casefold`` changes, and what it makes of each."""

    def nfkc_of(self, cp: int) -> str:
        return self.nfkc.get(cp) or chr(cp)

    def casefold_of(self, s: str) -> str:
        return "".join(self.casefold.get(ord(c)) or c for c in s)


def everything() -> str:
    """Every code point, surrogates included, in order: one string to run ``re`` classes over."""
    return np.arange(CODE_POINTS, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")


def member(pattern: str, text: str) -> Bools:
    """Which code points of :func:`everything` the one-character ``pattern`` matches (found as runs)."""
    out = np.zeros(len(text), dtype=bool)
    for m in re.finditer(f"(?:{pattern})+", text):
        out[m.start() : m.end()] = True
    return out


def _changes(mapped: str, cps: npt.NDArray[np.int64]) -> dict[int, str]:
    """``mapped`` is a per-character function of ``"\\0".join(map(chr, cps))``: the characters it changed."""
    units = np.frombuffer(mapped.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    sep = np.flatnonzero(units == 0)
    if sep.size != cps.size - 1:
        raise AssertionError("a mapping produced or removed a NUL")
    starts = np.concatenate([[0], sep + 1])
    ends = np.concatenate([sep, [units.size]])
    first = units[np.minimum(starts, units.size - 1)].astype(np.int64)
    changed = np.flatnonzero((ends - starts != 1) | (first != cps))
    return {int(cps[k]): mapped[starts[k] : ends[k]] for k in changed.tolist()}


@lru_cache(maxsize=1)
def unicode_facts() -> UnicodeFacts:
    """:class:`UnicodeFacts` for every code point, computed once per process (~0.3 s).

    Whole-range string operations do the work: ``"\\0".join`` of every code point is normalised or case-
    folded in one call (U+0000 is a starter that composes with nothing, so the pieces stay apart) and only the
    characters that changed are kept.
    """
    text = everything()
    cps = np.arange(1, CODE_POINTS, dtype=np.int64)
    interleaved = np.zeros((cps.size, 2), dtype="<u4")
    interleaved[:, 1] = cps
    joined = interleaved.reshape(-1)[1:].tobytes().decode("utf-32-le", "surrogatepass")  # "\0".join(text[1:])
    nfkd = _changes(unicodedata.normalize("NFKD", joined), cps)
    casefold = _changes(joined.casefold(), cps)
    del joined
    # NFKC changes a character alone only where NFKD does (the rest have no decomposition at all)
    nfkc = {cp: s for cp in nfkd if (s := unicodedata.normalize("NFKC", chr(cp))) != chr(cp)}
    # second halves of canonical compositions: these join what precedes them
    joins_back = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul vowels and trailing consonants
    for cp in nfkd:
        if 0xAC00 <= cp <= 0xD7A3:
            continue  # Hangul syllables compose algorithmically: covered above
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            a, b = (int(p, 16) for p in parts)
            if unicodedata.normalize("NFC", chr(a) + chr(b)) == chr(cp):
                joins_back.add(b)
    first = np.arange(CODE_POINTS, dtype=np.int64)
    for cp, s in nfkd.items():
        first[cp] = ord(s[0])
    combining = np.zeros(CODE_POINTS, dtype=np.uint8)
    combining[:COMBINING_END] = np.fromiter(map(unicodedata.combining, text[:COMBINING_END]), np.uint8, COMBINING_END)
    boundary = combining[first] == 0
    boundary[np.isin(first, np.fromiter(joins_back, dtype=np.int64))] = False
    return UnicodeFacts(member(r"\s", text), member(r"\w", text), boundary, nfkc, casefold)


def pack(cls: int, value: int = 0, length: int = 1, *, simple: bool = True, hashes: bool = False) -> int:
    """One table entry (see the module docstring)."""
    if not 1 <= length <= MAX_LENGTH:
        raise ValueError(f"an entry holds 1 to {MAX_LENGTH} code points or hashes, not {length}")
    return cls | (SIMPLE if simple else 0) | (length - 1) << 4 | (HASHES if hashes else 0) | (value & 0xFFFFFF) << 8


class Expansions:
    """The ``expansions`` array of a table: results longer than one code point, and precomputed hashes."""

    def __init__(self) -> None:
        self.words: list[int] = []
        self._seen: dict[tuple[int, ...], int] = {}

    def add(self, words: tuple[int, ...]) -> int:
        at = self._seen.get(words)
        if at is None:
            at = self._seen[words] = len(self.words)
            self.words.extend(words)
            if len(self.words) >= 1 << 23:
                raise ValueError("a table's expansions outgrew its 24-bit index")
        return at

    def mapping(self, cls: int, cp: int, s: str) -> int:
        """The entry for a character whose result is the code points of ``s``."""
        if len(s) == 1:
            return pack(cls, ord(s) - cp)
        return pack(cls, self.add(tuple(map(ord, s))), len(s))

    def token_hashes(self, cls: int, hashes: list[int]) -> int:
        """The entry for a character that is a token, or several, on its own: their hashes."""
        words = tuple(w for h in hashes for w in (h & 0xFFFFFFFF, h >> 32))
        return pack(cls, self.add(words), len(hashes), hashes=True)

    def tobytes(self) -> bytes:
        return np.array(self.words, dtype="<u4").tobytes()


def two_stage(entries: U32) -> tuple[bytes, bytes]:
    """``entries`` (one per code point) as ``stage1`` (uint16 block numbers) and ``stage2`` (blocks of 256)."""
    blocks: dict[bytes, int] = {}
    stage1 = [blocks.setdefault(row.tobytes(), len(blocks)) for row in entries.astype("<u4").reshape(-1, 256)]
    return np.array(stage1, dtype="<u2").tobytes(), b"".join(blocks)
