"""Folding for the prompt filter: prompt and names reduced to one comparable skeleton, with a way back.

Prompt and names go through one folding: Unicode NFKC (full-width forms, mathematical letters,
ligatures), Cyrillic and Greek look-alikes to Latin (``Наrrу`` is ``Harry``), case folding, accents dropped from
Latin letters (so pinyin tone marks: ``Sūn Wùkōng``), traditional Chinese characters to simplified ones (OpenCC's
``t2s`` tables, character by character: ``孫悟空`` is ``孙悟空``), invisible characters (zero-width spaces and
joiners, soft hyphens, combining overlays) deleted. What is left of the prompt is a *skeleton* of letters and
digits (every separator removed) in which leetspeak look-alikes share a letter (``0 o``, ``1 l i !``, ``3 e``,
``4 @ a``, ``5 $ s``, ``7 t``, ``8 b``, ``9 g``, ``2 z``), so ``H.a.r.r.y P0tt3r``, ``Harry_Potter`` and
``HarryPotter`` all become ``harrypotter``. One Aho-Corasick automaton (pyahocorasick) over the names' skeletons
finds every candidate in time linear in the prompt, whatever the size of the term base; an index map takes each
candidate back to the original prompt.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from copyalign.core.text import CJK
from copyalign.errors import InvalidInputError

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]

SEP = 0x20  # a separator, in the folded stream
_MULTI = 0xFFFFFFFF  # a character that folds to several (``ß`` to ``ss``): the slow path handles it
_CJK = CJK  # scripts written without spaces: a name in them needs no word boundary (core.text)
_UPPER_LOOKALIKES = str.maketrans(
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧАВЕЅІЈКМНОРСТУХҮԚԜ",
    "ABEZHIKMNOPTYXABESIJKMHOPCTYXYQW",
)
_LOWER_LOOKALIKES = str.maketrans(
    "аеёорсухѕіїјԁԛԝһӏпкмнтвαβειϊκνορτυχηωγıȷɑɡɩ",
    "aeeopcyxsiijdqwhinkmhtbabeiikvoptuxnwyijagi",
)
_LEET_SYMBOLS = "@$!€"
"""Symbols that stand for letters in leetspeak; everywhere else they are punctuation."""
_LEET = str.maketrans("01l!34@5$7892€", "oiiieaasstbgze")
"""Leetspeak look-alikes to one letter, on folded text (``0`` and ``o`` alike; ``1``, ``l``, ``i`` and ``!``)."""


@lru_cache(maxsize=1)
def _simplified() -> dict[str, str]:
    """Traditional Chinese characters to simplified ones, character by character, from OpenCC's ``t2s``
    tables (BYVoice/OpenCC, the converter Chinese platforms use), followed to a fixed point so that folding
    stays idempotent. Per character, so that a folded prompt keeps one position per character of the original;
    OpenCC's phrase tables, which can change a word's length, are left out (a name is matched character by
    character anyway, and both the name and the prompt are folded the same way)."""
    import opencc  # a required dependency; imported here so that importing the module stays cheap

    chars = [chr(c) for r in _HAN_RANGES for c in range(*r)]
    converted = opencc.OpenCC("t2s.json").convert("\n".join(chars)).split("\n")
    table = {a: b for a, b in zip(chars, converted, strict=True) if a != b and len(b) == 1}
    for a in list(table):
        seen = {a}
        while table[a] in table and table[a] not in seen:  # 薴 -> 苧 -> 苎: to the end of the chain
            seen.add(table[a])
            table[a] = table[table[a]]
    return table


_HAN_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0x20000, 0x2A6E0))
"""Where OpenCC's traditional characters live (unified ideographs, extensions A and B); the compatibility
ideographs (U+F900-U+FAFF) are unified by NFKC first."""


def _fold_char(c: str) -> str:
    """``""`` for an invisible character, ``" "`` for a separator, else the letters it stands for."""
    cat = unicodedata.category(c)
    if cat in ("Cf", "Mn", "Me") or c in "\u034f\u115f\u1160\u3164\uffa0":
        return ""
    if cat in ("Cs", "Co", "Cn", "Cc", "Zs", "Zl", "Zp"):
        return " "
    folded = unicodedata.normalize("NFKC", c).translate(_UPPER_LOOKALIKES).casefold().translate(_LOWER_LOOKALIKES)
    out = []
    simplified = _simplified()
    for ch in folded:
        ch = simplified.get(ch, ch)
        if ch.isalnum() or unicodedata.category(ch) == "Mc":
            base = unicodedata.normalize("NFD", ch)[0]
            out.append(base if base.isascii() and base.isalnum() else ch)
        elif ch in _LEET_SYMBOLS:
            out.append(ch)
    return "".join(out) or " "


@dataclass(frozen=True, slots=True)
class _Tables:
    """The folding of the Basic Multilingual Plane, as arrays for prompts and a ``str.translate`` map for names."""

    fold: U32  # folded code point: 0 invisible, 0x20 separator, _MULTI several (or one outside the BMP)
    collapse: U32  # leetspeak look-alikes to one letter (on folded code points)
    word: npt.NDArray[np.bool_]  # a folded code point that is a letter or digit of a script with spaces
    case: npt.NDArray[np.uint8]  # original code points: 1 lower case, 2 upper case (case changes split words)
    translate: dict[int, str]


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    fold = np.empty(0x10000, dtype=np.uint32)
    word = np.zeros(0x10000, dtype=np.bool_)
    case = np.zeros(0x10000, dtype=np.uint8)
    translate: dict[int, str] = {}
    for cp in range(0x10000):
        c = chr(cp)
        f = _fold_char(c)
        fold[cp] = 0 if f == "" else SEP if f == " " else ord(f) if len(f) == 1 and f <= "\uffff" else _MULTI
        if f != c or f == " ":
            translate[cp] = "" if f == " " else f
        word[cp] = c.isalnum() and not _CJK.match(c)
        case[cp] = 1 if c.islower() else 2 if c.isupper() else 0
    collapse = np.arange(0x10000, dtype=np.uint32)
    for src, dst in _LEET.items():
        collapse[src] = dst
    return _Tables(fold, collapse, word, case, translate)


@lru_cache(maxsize=4096)
def fold_slow(c: str) -> str:
    return _fold_char(c)


def _to_str(points: U32) -> str:
    return points.astype("<u4").tobytes().decode("utf-32-le")


@dataclass(frozen=True, slots=True)
class Folded:
    """One prompt, folded once for both the names and the intents."""

    text: str
    view: str  # folded, each run of separators one space: what the intent patterns read
    view_index: I64
    pre: str  # letters and digits only, before the leetspeak collapse
    skeleton: str  # what the automaton reads
    index: list[int]  # skeleton position -> index in ``text``
    can_start: bytes  # skeleton position may begin a word (nothing of a word before it, or a case change)
    can_end: bytes


def prepare(text: str) -> Folded:
    """Fold ``text``: one vectorised pass over its code points (a loop where a character folds to several or
    lies outside the Basic Multilingual Plane), keeping each folded character's index in ``text``."""
    if not isinstance(text, str):
        raise InvalidInputError("the prompt must be a string", field="prompt")
    t = _tables()
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    astral = codes.size > 0 and int(codes.max()) > 0xFFFF
    mapped = t.fold[codes & 0xFFFF]
    if not astral and (codes.size == 0 or int(mapped.max()) != _MULTI):
        index = np.flatnonzero(mapped)
        points = mapped[index]
        expanded = False
    else:
        pts: list[int] = []
        idx: list[int] = []
        for i, c in enumerate(text):
            for ch in fold_slow(c):
                pts.append(ord(ch))
                idx.append(i)
        points, index = np.array(pts, dtype=np.uint32), np.array(idx, dtype=np.int64)
        astral, expanded = bool(points.size and int(points.max()) > 0xFFFF), True
    sep = points == SEP
    letters = np.flatnonzero(~sep)
    view = np.flatnonzero(~sep | np.concatenate(([False], ~sep[:-1])))  # runs of separators as one space
    low16 = points & 0xFFFF
    skeleton = t.collapse[low16]
    word = t.word[low16]
    if astral:  # what is left outside the BMP after folding: CJK extensions (no word boundary) or letters
        out = points > 0xFFFF
        skeleton = np.where(out, points, skeleton)
        word = np.where(out, (points < 0x20000) | (points > 0x3134F), word)
    # Word boundaries, judged on the stream where separators are still there and invisibles already gone.
    case = t.case[codes[index] & 0xFFFF]
    joined = word[:-1] & word[1:] & ~((case[:-1] == 1) & (case[1:] == 2))  # j and j+1 in one word
    if expanded:  # the pieces of one character that folded to several (ß to ss) are never split
        joined |= index[:-1] == index[1:]
    can_start = np.concatenate(([True], ~joined))[letters]
    can_end = np.concatenate((~joined, [True]))[letters]
    return Folded(text, _to_str(points[view]), index[view], _to_str(points[letters]), _to_str(skeleton[letters]),
                   index[letters].tolist(), can_start.tobytes(), can_end.tobytes())  # fmt: skip


class NameProfile(NamedTuple):
    pre: str  # folded letters and digits
    key: str  # the skeleton (leetspeak collapsed)
    words: tuple[int, ...]  # the word of the name each letter belongs to
    cjk: tuple[bool, ...]
    original: str  # the character of the name each letter comes from


@lru_cache(maxsize=8192)
def name_profile(name: str) -> NameProfile:
    """A name's folded letters, its skeleton, the word each letter belongs to, and which letters are CJK.

    Words break at separators, at a lower-to-upper case change (``HarryPotter``), between letters and digits,
    and around every CJK character. Leetspeak symbols at either end are punctuation (``Oklahoma!``).
    """
    letters: list[tuple[str, int, bool, str]] = []
    word, prev = 0, ""
    for c in name:
        folded = _fold_char(c)
        if folded == " ":
            word += 1
            continue
        for ch in folded:
            cjk = bool(_CJK.match(ch))
            if letters and (cjk or letters[-1][2] or (prev.islower() and c.isupper()) or (
                prev.isdigit() != ch.isdigit() and prev.isalnum() and ch.isalnum())):  # fmt: skip
                word += 1
            letters.append((ch, word, cjk, c))
            prev = c
    while letters and letters[0][0] in _LEET_SYMBOLS:
        letters.pop(0)
    while letters and letters[-1][0] in _LEET_SYMBOLS:
        letters.pop()
    pre = "".join(x[0] for x in letters)
    return NameProfile(pre, pre.translate(_LEET), tuple(x[1] for x in letters), tuple(x[2] for x in letters),
                    "".join(x[3] for x in letters))  # fmt: skip


def name_key(name: str) -> str:
    """The skeleton of a name (for the build: ``str.translate`` rather than a loop, where it can)."""
    if not name.isascii() and max(name) > "\uffff":
        return name_profile(name).key
    return name.translate(_tables().translate).strip(_LEET_SYMBOLS).translate(_LEET)


def bytewise(s: str) -> str:
    """``s`` as its UTF-8 bytes, one character each. pyahocorasick looks a node's children up one by one, so
    the root of a trie holding thousands of CJK characters is slow to leave; over bytes it has a few dozen."""
    return s if s.isascii() else s.encode("utf-8").decode("latin-1")


def byte_chars(s: str) -> list[int]:
    """For each byte of ``s`` in UTF-8, the index of the character it belongs to."""
    points = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32)
    sizes = 1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
    return np.repeat(np.arange(points.size), sizes).tolist()
