"""The prompt filter: protected names in a prompt, the intent around them, and the decision the policy asks for.

Seed 004 ¶71-85: before generation a service screens the prompt for explicit references to protected works,
characters and creators, for requests to imitate, reproduce, continue or depict them, and for attempts to get
around the filter. The guard service builds :class:`Term` s from the registry (titles, character names,
creators who asked for protection) and the operator's curated list, and runs the matching engine on the prompt
for registered text (:class:`PromptQuote`); this module finds the names and decides. Pure: no I/O, no clock.

**Matching.** Prompt and names go through one folding: Unicode NFKC (full-width forms, mathematical letters,
ligatures), Cyrillic and Greek look-alikes to Latin (``Наrrу`` is ``Harry``), case folding, accents dropped from
Latin letters (so pinyin tone marks: ``Sūn Wùkōng``), traditional Chinese characters to simplified ones (OpenCC's
``t2s`` tables, character by character: ``孫悟空`` is ``孙悟空``), invisible characters (zero-width spaces and
joiners, soft hyphens, combining overlays) deleted. What is left of the prompt is a *skeleton* of letters and
digits (every separator removed) in which leetspeak look-alikes share a letter (``0 o``, ``1 l i !``, ``3 e``,
``4 @ a``, ``5 $ s``, ``7 t``, ``8 b``, ``9 g``, ``2 z``), so ``H.a.r.r.y P0tt3r``, ``Harry_Potter`` and
``HarryPotter`` all become ``harrypotter``. One Aho-Corasick automaton (pyahocorasick) over the names' skeletons
finds every candidate in time linear in the prompt, whatever the size of the term base; an index map takes each
candidate back to the original prompt.

A candidate is then checked against the original text, because a skeleton forgets where the words were:

* it must start and end on word boundaries (``Potterton`` does not name ``Potter``; a lower-to-upper case change
  is a boundary, so ``iLoveHarryPotter`` does); names in scripts written without spaces (Chinese) need none;
* inside a word of the name, separators are absent, between most letters (``P-o-t-t-e-r``), or one at a single
  point of a word of five letters or more (``Bramble-jack``, ``Zephy rine``, ``Sun Wu Kong``): that is how a
  user hides a name, and the price is that ``sun flower`` names a curated ``Sunflower`` (a mention, allowed);
  between words of the name any short separator goes, but not a sentence break (``I met Harry. Potter was
  late`` names nobody);
* at most two thirds of its letters may be leetspeak stand-ins, so the number ``5010`` does not name ``Solo``.

**Intent.** :func:`find_intents` runs English and Chinese patterns over the folded prompt (separators as
spaces): *imitate* (``in the style of``, ``mimic``, ``pretend you are``, ``模仿``, ``临摹``), *reproduce*
(``lyrics of``, ``verbatim``, ``chapter 1 of``, ``原文``, ``歌词``), *continue* (``continue``, ``what comes
next``, ``a sequel to``, ``续写``, ``接着写``), *depict* (``draw``, ``a picture of``, ``a story about``, ``画``,
``生成…图片``), *circumvent* (``ignore previous instructions``, ``绕过``) and *discuss* (``summarise``, ``who
wrote``, ``讲了什么``, ``作者是谁``). An intent is about the names near it on the side its pattern reaches (``in
the style of X``: after it; ``X verbatim``: before; most Chinese patterns: either side or around the name,
``生成一张X的图片``), with no clause break or new clause (``and``, ``about``, ``然后``) between: ``summarise X
in the style of a pirate`` asks a pirate's style, not X's. *Attached* patterns (``style``, ``风格``) count only
right after a name (``Potter-style``, ``孙悟空的风格``). A *weak* intent (``chapter 3 of``, ``the lyrics of``,
``sounds like``, ``a sequel to``, ``a picture of``, ``第三章``) is how questions name things as often as requests
do: a discuss intent in its sentence cancels it (``what happens in chapter 3 of X`` is a question, ``print chapter
3 of X`` a request).

**Decision.** :func:`screen_prompt` maps what it found through :class:`PromptRules` (from the policy profile):
a name alone is a *reference*, allowed by default and recorded (seed 004 ¶73: asking about a book is not asking
for it); a name that an imitation, reproduction or continuation intent governs gets that rule's action (block
by default); a protected creator with an imitation intent is *creator_style*; a depicted character is
*depict* when a rights holder curated it (the term has a holder; the ``cn`` profile blocks, seed 004 ¶12, ¶89);
registered text in the prompt with a continuation intent is *continuation*; circumvention is reportable with
or without a name. The strongest action wins.

Example:
    >>> base = TermBase.build([Term("t1", TermKind.CHARACTER, ("Harry Potter", "哈利·波特"), (), "holder-1")])
    >>> [(h.name, h.start, h.end) for h in base.find("draw H4rry_P.o.t.t.e.r now")]
    [('Harry Potter', 5, 22)]
    >>> screen_prompt("模仿哈利波特写一段故事", base).decision.value
    'block'
    >>> screen_prompt("哈利·波特的作者是谁？", base).decision.value
    'allow'
    >>> screen_prompt("畫一個哈利波特", base, PromptRules(depict=PromptAction.BLOCK)).reasons[0].rule
    'prompt.depict'
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple

import ahocorasick
import numpy as np
import numpy.typing as npt

from copyalign.core.guard.rules import GuardAction, strongest
from copyalign.core.text import CJK, weighted_length
from copyalign.errors import InvalidInputError

PromptAction = GuardAction
"""The prompt filter's actions are the guard's (allow, warn, block): one enum for both filters."""

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]

# -- folding ---------------------------------------------------------------------------------------------------

_SEP = 0x20  # a separator, in the folded stream
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
        fold[cp] = 0 if f == "" else _SEP if f == " " else ord(f) if len(f) == 1 and f <= "\uffff" else _MULTI
        if f != c or f == " ":
            translate[cp] = "" if f == " " else f
        word[cp] = c.isalnum() and not _CJK.match(c)
        case[cp] = 1 if c.islower() else 2 if c.isupper() else 0
    collapse = np.arange(0x10000, dtype=np.uint32)
    for src, dst in _LEET.items():
        collapse[src] = dst
    return _Tables(fold, collapse, word, case, translate)


@lru_cache(maxsize=4096)
def _fold_slow(c: str) -> str:
    return _fold_char(c)


def _to_str(points: U32) -> str:
    return points.astype("<u4").tobytes().decode("utf-32-le")


@dataclass(frozen=True, slots=True)
class _Folded:
    """One prompt, folded once for both the names and the intents."""

    text: str
    view: str  # folded, each run of separators one space: what the intent patterns read
    view_index: I64
    pre: str  # letters and digits only, before the leetspeak collapse
    skeleton: str  # what the automaton reads
    index: list[int]  # skeleton position -> index in ``text``
    can_start: bytes  # skeleton position may begin a word (nothing of a word before it, or a case change)
    can_end: bytes


def _prepare(text: str) -> _Folded:
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
            for ch in _fold_slow(c):
                pts.append(ord(ch))
                idx.append(i)
        points, index = np.array(pts, dtype=np.uint32), np.array(idx, dtype=np.int64)
        astral, expanded = bool(points.size and int(points.max()) > 0xFFFF), True
    sep = points == _SEP
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
    return _Folded(text, _to_str(points[view]), index[view], _to_str(points[letters]), _to_str(skeleton[letters]),
                   index[letters].tolist(), can_start.tobytes(), can_end.tobytes())  # fmt: skip


class _Profile(NamedTuple):
    pre: str  # folded letters and digits
    key: str  # the skeleton (leetspeak collapsed)
    words: tuple[int, ...]  # the word of the name each letter belongs to
    cjk: tuple[bool, ...]
    original: str  # the character of the name each letter comes from


@lru_cache(maxsize=8192)
def _name_profile(name: str) -> _Profile:
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
    return _Profile(pre, pre.translate(_LEET), tuple(x[1] for x in letters), tuple(x[2] for x in letters),
                    "".join(x[3] for x in letters))  # fmt: skip


def _name_key(name: str) -> str:
    """The skeleton of a name (for the build: ``str.translate`` rather than a loop, where it can)."""
    if not name.isascii() and max(name) > "\uffff":
        return _name_profile(name).key
    return name.translate(_tables().translate).strip(_LEET_SYMBOLS).translate(_LEET)


# -- terms and hits --------------------------------------------------------------------------------------------


class TermKind(StrEnum):
    TITLE = "title"
    CHARACTER = "character"
    CREATOR = "creator"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Term:
    """One protected thing and every name it goes by: the canonical name first, then aliases and translations.

    Raises:
        InvalidInputError: an empty id, no names, a name that is empty or blank, an unknown kind.
    """

    id: str
    kind: TermKind
    names: tuple[str, ...]
    work_ids: tuple[str, ...] = ()
    holder_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise InvalidInputError("a term needs a non-empty id", field="id")
        try:
            object.__setattr__(self, "kind", TermKind(self.kind))
        except ValueError as exc:
            raise InvalidInputError(f"unknown term kind {self.kind!r}", field="kind") from exc
        if isinstance(self.names, str) or not isinstance(self.names, Sequence):
            raise InvalidInputError("names must be a sequence of strings", field="names")
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "work_ids", tuple(self.work_ids))
        if not self.names:
            raise InvalidInputError(f"term {self.id!r} has no names", field="names")
        for name in self.names:
            if not isinstance(name, str) or not name.strip():
                raise InvalidInputError(f"term {self.id!r} has an empty name", field="names")


@dataclass(frozen=True, slots=True)
class TermHit:
    """A name found in a prompt; ``start``/``end`` index the *original* prompt, end exclusive."""

    term: Term
    name: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SkippedName:
    """A name left out of the term base, and why (too short to be told apart from ordinary words)."""

    term_id: str
    name: str
    reason: str


def _bytewise(s: str) -> str:
    """``s`` as its UTF-8 bytes, one character each. pyahocorasick looks a node's children up one by one, so
    the root of a trie holding thousands of CJK characters is slow to leave; over bytes it has a few dozen."""
    return s if s.isascii() else s.encode("utf-8").decode("latin-1")


def _char_at(s: str) -> list[int]:
    """For each byte of ``s`` in UTF-8, the index of the character it belongs to."""
    points = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32)
    sizes = 1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
    return np.repeat(np.arange(points.size), sizes).tolist()


_Group = tuple[int, bool, bool, tuple[int, ...]]
"""Skeleton length, whether its first and last letters need a word boundary (not CJK), the entries."""
_SENTENCE_BREAK = re.compile(r"[.!?;。！？；…][\s\u3000]|[。！？；]|\n\s*\n")
_SPLIT_MIN_LETTERS = 5
"""A word of a name this long or longer is still the name with one separator put in at a single point
(``Bramble-jack``, ``Zephy rine``, ``Sun Wu Kong`` for the alias ``Sun Wukong``): a user hiding a name types
one, not one between every letter. Shorter words (``Pell``, ``Mira``) would meet ordinary pairs of words."""


class TermBase:
    """An Aho-Corasick automaton over the skeletons of every name of every term.

    Build it once from the registry (:meth:`build`) and share it: :meth:`find` does not change it.
    """

    __slots__ = ("_automaton", "_entries", "_groups", "_terms", "skipped")

    def __init__(self, terms: tuple[Term, ...], entries: list[tuple[int, str]], groups: list[_Group],
                 automaton: Any, skipped: tuple[SkippedName, ...]) -> None:  # fmt: skip
        self._terms = terms
        self._entries = entries  # (term index, name)
        self._groups = groups  # automaton value -> the entries sharing one skeleton
        self._automaton = automaton
        self.skipped = skipped

    @classmethod
    def build(cls, terms: Iterable[Term], *, min_name_chars: int = 4) -> TermBase:
        """Index the names of ``terms``; names shorter than ``min_name_chars`` are skipped and listed in
        :attr:`skipped` (length after folding; a CJK character counts two, so ``悟空`` enters at 4).

        Raises:
            InvalidInputError: two terms with one id, a ``min_name_chars`` below 2, or an item that is no Term.
        """
        if isinstance(min_name_chars, bool) or not isinstance(min_name_chars, int) or min_name_chars < 2:
            raise InvalidInputError("min_name_chars must be an integer of at least 2", field="min_name_chars")
        kept: list[Term] = []
        seen: set[str] = set()
        entries: list[tuple[int, str]] = []
        by_key: dict[str, list[int]] = {}
        skipped: list[SkippedName] = []
        for term in terms:
            if not isinstance(term, Term):
                raise InvalidInputError(f"expected a Term, got {type(term).__name__}", field="terms")
            if term.id in seen:
                raise InvalidInputError(f"duplicate term id {term.id!r}", field="id")
            seen.add(term.id)
            t = len(kept)
            kept.append(term)
            own: set[str] = set()
            for name in term.names:
                key = _name_key(name)
                if weighted_length(key) < min_name_chars:
                    reason = "no letters or digits" if not key else f"shorter than {min_name_chars} characters"
                    skipped.append(SkippedName(term.id, name, reason))
                    continue
                if key in own:
                    continue
                own.add(key)
                by_key.setdefault(key, []).append(len(entries))
                entries.append((t, name))
        automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        groups: list[_Group] = []
        for key, members in by_key.items():
            automaton.add_word(_bytewise(key), len(groups))
            groups.append((len(key), not _CJK.match(key[0]), not _CJK.match(key[-1]), tuple(members)))
        if groups:
            automaton.make_automaton()
        return cls(tuple(kept), entries, groups, automaton if groups else None, tuple(skipped))

    def __len__(self) -> int:
        return len(self._terms)

    @property
    def name_count(self) -> int:
        """Names indexed (after skipping short ones and folding duplicates within a term)."""
        return len(self._entries)

    def find(self, prompt: str) -> list[TermHit]:
        """Every term named in ``prompt``, in order of position; a term's hits never nest in one another."""
        return self._find(_prepare(prompt))

    def _find(self, f: _Folded) -> list[TermHit]:
        if self._automaton is None or not f.skeleton:
            return []
        hits: list[TermHit] = []
        can_start, can_end = f.can_start, f.can_end
        char_at = None if f.skeleton.isascii() else _char_at(f.skeleton)
        for byte_end, group in self._automaton.iter(_bytewise(f.skeleton)):
            n, check_start, check_end, members = self._groups[group]
            end = byte_end if char_at is None else char_at[byte_end]
            start = end - n + 1
            if (check_start and not can_start[start]) or (check_end and not can_end[end]):
                continue  # inside a longer word: most candidates end here, before any Python-level check
            for entry in members:
                t, name = self._entries[entry]
                span = _verify(f, start, name)
                if span is not None:
                    hits.append(TermHit(self._terms[t], name, *span))
        hits.sort(key=lambda h: (h.start, h.start - h.end, h.term.id))
        kept: list[TermHit] = []
        spans: dict[str, list[tuple[int, int]]] = {}
        for h in hits:  # a term's shorter names inside its longer ones ("Potter" in "Harry Potter") say nothing new
            own = spans.setdefault(h.term.id, [])
            if not any(a <= h.start and h.end <= b for a, b in own):
                own.append((h.start, h.end))
                kept.append(h)
        return kept


def _verify(f: _Folded, s: int, name: str) -> tuple[int, int] | None:
    """The span of the original prompt that a skeleton match from ``s`` covers, if it really names ``name``.

    Word boundaries are checked already (:attr:`_Folded.can_start`); what is left needs the original text.
    """
    pre, _, words, cjk, original = _name_profile(name)
    n = len(pre)
    end = s + n - 1
    index, text = f.index, f.text
    first, last = index[s], index[end]
    leet = 0
    for k, (got, want) in enumerate(zip(f.pre[s : end + 1], pre, strict=True)):
        if got == want:
            continue
        if got.isalpha() and want.isalpha() and {text[index[s + k]], original[k]} != {"I", "l"}:
            return None  # a real letter for another ("full" for "Fuli"); only a capital I passes for an l
        leet += 1
    if 3 * leet > 2 * n:
        return None
    if last - first < n:  # the letters are contiguous in the prompt: no separator to judge
        return first, last + 1
    # Separators inside each word of the name, and the gaps between its words.
    spaced: dict[int, int] = {}
    broken: set[int] = set()  # words with a sentence break inside
    breaks: list[tuple[int, int]] = []
    for k in range(n - 1):
        a, b = index[s + k], index[s + k + 1]
        gap = text[a + 1 : b]
        has_sep = any(_fold_slow(c) == " " for c in gap)
        if words[k] == words[k + 1] and not cjk[k]:
            spaced[words[k]] = spaced.get(words[k], 0) + has_sep
            if has_sep and _SENTENCE_BREAK.search(gap):
                broken.add(words[k])
        elif has_sep and _SENTENCE_BREAK.search(gap):
            breaks.append((words[k], words[k + 1]))
    for w, seps in spaced.items():
        gaps = words.count(w) - 1
        if seps == 1 and gaps >= _SPLIT_MIN_LETTERS - 1 and w not in broken:
            continue  # one separator at a single point of a long enough word: "Bramble-jack", "Zephy rine"
        if seps and 2 * seps < gaps:
            return None
    if any(not (spaced.get(a) and spaced.get(b)) for a, b in breaks) and not _SENTENCE_BREAK.search(name):
        return None  # (a name with a full stop of its own, "Dr. Hesper Quill", may keep it)
    return first, last + 1


# -- intents ---------------------------------------------------------------------------------------------------


class IntentKind(StrEnum):
    IMITATE = "imitate"
    REPRODUCE = "reproduce"
    CONTINUE = "continue"
    DEPICT = "depict"
    CIRCUMVENT = "circumvent"
    DISCUSS = "discuss"


class Reach(StrEnum):
    """Where the name an intent governs may stand: after it (``in the style of X``), before it (``X verbatim``),
    either side (most Chinese patterns: ``复制X``, ``X的全文``), or right after the name (``X-style``)."""

    AFTER = "after"
    BEFORE = "before"
    BOTH = "both"
    ATTACHED = "attached"


@dataclass(frozen=True, slots=True)
class IntentHit:
    """An intent pattern found in a prompt (span in the original prompt).

    ``reach`` says where a name it governs may stand. A ``weak`` intent is a phrase that a question or a
    commentary uses as often as a request (``chapter 3 of``, ``sounds like``, ``a sequel to``, ``a picture
    of``): a *discuss* intent in the prompt (``summarise``, ``who wrote``, ``讲了什么``) cancels it.
    """

    kind: IntentKind
    pattern: str
    start: int
    end: int
    attached: bool = False
    weak: bool = False
    reach: Reach = Reach.BOTH


def _alt(words: str) -> str:
    """``"a|b c"`` as the regex group ``(?:a|b c)``: the tables below read as word lists."""
    return f"(?:{words})"


_WORK = _alt(
    "text|lyrics|words|script|screenplay|transcript|poem|song|chapters?|book|novel|story|scene|passage|pages?"
    "|verses?|dialogue"
)
_TEXT = _alt("text|lyrics|words|script|screenplay|transcript|chapters?|poem|song|passage|dialogue|pages?|verses?")
_SHOW = _alt("give|show|print|type|write|output|paste|post|send|list|provide|tell|recite|dump|display|spit")
_NUM = _alt(r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|first|second|third|last|final|opening|[ivx]+")
_COUNT = _alt(r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|first|second|third|last|final|opening")
_CN_NUM = "[一二三四五六七八九十百零\\d]+"
_VISUAL = _alt(
    "images?|pictures?|photos?|pics?|portraits?|drawings?|paintings?|illustrations?|artworks?|fan ?art|art"
    "|stickers?|posters?|cards?|wallpapers?|avatars?|icons?|emojis?|figurines?|figures?|statues?|sculptures?"
    "|3d models?|cartoons?|comics?|memes?|gifs?|logos?|tattoos?|murals?|t ?shirts?|mugs?|plush(?:ies)?|toys?"
    "|renders?|sketch(?:es)?|doodles?|prints?|covers?"
)
_NARRATIVE = _alt(
    "stor(?:y|ies)|tales?|poems?|comics?|scenes?|episodes?|adventures?|limericks?|haikus?|sonnets?|songs?"
    "|screenplays?|scripts?|fanfics?|fables?|sagas?"
)
_FILTER = _alt(
    "filters?|filtering|guard|guardrails?|restrictions?|moderation|detection|censors?|censorship|checks?|blocks?"
)
_RULES = _alt("instructions|rules|prompts?|guidelines|restrictions|filters?|policies|policy")
_I, _R, _N, _D, _C, _T = (IntentKind.IMITATE, IntentKind.REPRODUCE, IntentKind.CONTINUE, IntentKind.DEPICT,
                          IntentKind.CIRCUMVENT, IntentKind.DISCUSS)  # fmt: skip

# (kind, label, triggers, regex, flags). The regexes read the folded prompt: lower case, simplified Chinese,
# every run of separators one space (so "don't" reads "don t"). Every match contains one of its pattern's
# triggers: one automaton pass over the triggers tells which regexes can match at all, and, for a pattern
# flagged ``^`` (every match *starts* with one of its triggers), where: the regex is then tried only there, not
# scanned over the whole prompt (a word list such as the discuss pattern's has no literal prefix for ``re`` to
# search fast). Flags: ``>`` the name comes after the intent, ``<`` before it (default: either side), ``a`` right
# after the name, ``w`` weak, ``^`` anchored at a trigger.
_PATTERNS: tuple[tuple[IntentKind, str, tuple[str, ...], str, str], ...] = (
    # imitate: the style, voice or look of a work, character or creator
    (_I, "in the style of", ("in the",),
     r"\bin the (?:\w+ ){0,2}?(?:style|manner|voice|tone|spirit|vein|tradition) of\b", "^>"),
    (_I, "in the same style as", ("in the same",), r"\bin the same (?:\w+ )?(?:style|way|manner|voice) as\b", "^>"),
    (_I, "as written by", ("as ",),
     r"\bas (?:if )?(?:it )?(?:was |were )?(?:written|drawn|painted|told|sung|composed|directed|designed) by\b", "^>"),  # noqa: E501
    (_I, "imitate", ("imitat", "mimic", "emulat", "pastiche", "knock", "rip"),
     r"\b(?:imitat(?:e|es|ed|ing|ions?)|mimic(?:s|ked|king)?|emulat(?:e|es|ed|ing)|pastiches?|knock ?offs?"
     r"|rip ?offs?)(?: of)?\b", "^>"),
    (_I, "fan fiction", ("fanfic", "fan fic"),
     r"\bfan ?fic(?:tion|tions|s)?(?: (?:about|of|for|with|featuring|starring|where|in which))?\b", "^"),
    (_I, "make it look like", ("make",),
     r"\bmake (?:it|this|that|me|him|her|them|us|my \w+|the \w+|a \w+|our \w+) (?:look|sound|read|feel) "
     r"(?:exactly |just )?like\b", "^>"),
    (_I, "write like", ("write", "draw", "paint", "sing", "compose", "talk", "speak", "rap", "dress"),
     r"\b(?:write|draw|paint|sing|compose|talk|speak|rap|dress)s? (?:exactly |just )?like\b", "^>"),
    (_I, "sounds like", ("sound", "look", "read", "feel"),
     r"\b(?:sound|look|read|feel)s? (?:exactly |just )?like\b", "^>w"),
    (_I, "style like", ("style",), r"\bstyle (?:like|similar to|reminiscent of)\b", "^>"),
    (_I, "inspired by", ("reminiscent", "inspired"), r"\breminiscent of\b|\binspired by\b", "^>w"),
    (_I, "the way X would", ("the way",),
     r"\bthe way\b(?= (?:[\w ]{1,40}?) (?:would|does|did|used to) (?:paint|write|draw|sing|do|tell|say|compose"
     r"|describe|put|have|make)\b)", "^>"),
    (_I, "could pass as", ("could pass", "would pass", "might pass", "can pass"),
     r"\b(?:could|would|might|can) pass (?:as|for)\b", "^>"),
    (_I, "role play as", ("pretend", "role", "in character", "impersonat", "respond", "answer", "reply", "speak",
                          "talk", "act", "behave", "write"),
     r"\b(?:pretend (?:to be|you are|you re|that you are)|role ?play(?:ing)? as|in character as|impersonat(?:e|es|ing)"
     r"|(?:respond|answer|reply|speak|talk|act|behave|write)(?: only| just| exactly)? as)\b", "^>"),
    (_I, "style", ("style", "aesthetic", "inspired", "esque"), r"\b(?:style|styled|aesthetic|inspired|esque)\b", "^aw"),
    (_I, "模仿", ("仿", "临摹", "照搬", "山寨"), "模仿|仿照|仿写|仿作|仿造|临摹|效仿|照搬|山寨", ""),
    (_I, "同人", ("同人",), "同人", ""),
    (_I, "照着…画", ("照着",), "照着.{1,20}?(?:画|写|做|绘|描)", ""),
    (_I, "风格像", ("风格", "的"),
     "风格(?:像|类似|模仿|仿)|(?:以|用|照|按照|依照).{1,20}?的(?:口吻|笔触|笔法|文风|画风|风格|语气|腔调|方式|身份|样子)",
     ""),
    (_I, "像…写的", ("像",), "像(?=.{1,20}?(?:写的|画的|说的|唱的|那样|一样|风格))", ">w"),
    (_I, "扮演", ("扮演", "假装", "cos"), "扮演|假装(?:你是|自己是|成)|cos(?:play)?成?", ">"),
    (_I, "风格", ("风格", "画风", "文风", "笔触", "口吻", "笔风"), "风格|画风|文风|笔触|口吻|笔风", "aw"),
    # reproduce: the text itself
    (_R, "reproduce", ("reproduc",), r"\breproduc(?:e|es|ed|ing|tion)\b", "^"),
    (_R, "copy", ("cop",),
     rf"\bcop(?:y|ying|ied)(?<!a copy)(?<!my copy)(?<!the copy)(?<!your copy) (?!of\b)|\bcopy {_WORK}", "^"),
    (_R, "verbatim", ("verbatim", "word", "exact"),
     r"\bverbatim\b|\bword (?:for|by) word\b|\bexact (?:words|text|wording|lyrics)\b"
     r"|\bexactly as (?:written|printed|in the book|it appears)\b", "^"),
    (_R, "recite", ("recit", "transcri"), r"\brecit(?:e|es|ing|ation)\b|\btranscri(?:be|bes|bing|pt of)\b", "^"),
    (_R, "lyrics of", ("lyrics", "words"), r"\b(?:lyrics|words) (?:of|to|from|for)\b", "^>w"),
    (_R, "full text of", ("full", "complete", "entire", "whole", "unabridged"),
     rf"\b(?:full|complete|entire|whole|unabridged) (?:\w+ )?{_TEXT}\b|\bunabridged\b", "^"),
    (_R, "the whole story", ("full", "complete", "entire", "whole"),
     r"\b(?:full|complete|entire|whole) (?:story|book|novel|series|saga|album)\b", "^w"),
    (_R, "give me the text", ("give", "show", "print", "type", "write", "output", "paste", "post", "send", "list",
                              "provide", "tell", "recite", "dump", "display", "spit"),
     rf"\b{_SHOW} (?:me |us |out )?(?:all |the |every |each )(?:\w+ )?{_WORK}\b", "^w"),
    (_R, "chapter 1 of", ("chapter", "page", "verse", "stanza", "scene", "act", "episode", "part", "book", "one",
                          "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "first", "second",
                          "third", "last", "final", "opening", "closing", "0", "1", "2", "3", "4", "5", "6", "7",
                          "8", "9"),
     rf"\b(?:chapter|page|verse|stanza|scene|act|episode|part|book) {_NUM} (?:of|from|in)\b"
     rf"|\b{_COUNT} (?:\d+ )?(?:lines|paragraphs|pages|chapters|verses|sentences|stanzas|words) (?:of|from)\b"
     r"|\b(?:opening|first|last|final|closing) (?:\w+ )?(?:lines?|paragraphs?|pages?|chapters?|verses?"
     r"|sentences?|stanzas?|words|scene) (?:of|from|in)\b", "^w"),
    (_R, "pdf", ("pdf", "epub", "mobi", "torrent", "txt", "download"),
     r"\b(?:pdf|epub|mobi|torrent|txt)s?\b|\bdownload(?:s|ed|ing)?\b", "^"),
    (_R, "write it out", ("write", "type", "print", "spell", "read"),
     r"\b(?:write|type|print|spell|read) (?:it |them |this |that )?(?:out|down)\b", "^>w"),  # noqa: E501
    (_R, "lyrics", ("lyrics", "full text", "transcript", "script", "pdf", "epub"),
     r"\b(?:lyrics|full text|transcript|script|pdf|epub)\b", "^aw"),
    (_R, "原文", ("原文", "全文", "复制", "抄", "逐字", "一字", "背诵", "默写", "完整", "打出来", "原封不动"),
     "原文|全文|复制|抄写|照抄|逐字|一字不差|一字不漏|一字一句|背诵|默写|完整(?:版|内容|文本|剧本|台词|歌词)|打出来"
     "|原封不动", ""),
    (_R, "歌词", ("歌词", "台词", "第", "词写"), f"歌词|台词|第{_CN_NUM}[章节回页集幕段]|词写出来", "w"),
    (_R, "下载", ("下载", "txt", "电子书", "pdf", "网盘"), "下载|txt|电子书|pdf|网盘", ""),
    # continue: what comes after a work's (or a pasted passage's) end
    (_N, "continue", ("continu",),
     r"\bcontinu(?:e|es|ing|ation)(?: (?:this|these|the following|from here|from where|where|writing|with|on))?\b",
     "^"),
    (_N, "complete the passage", ("complete", "finish"),
     r"\b(?:complete|finish)(?:s|ed|ing)? (?:this|these|the|my|our|that|the following) (?:\w+ )?(?:text|passage"
     r"|sentence|paragraph|lines?|story|poem|verse|chapter|book|novel|song|lyrics|quote|excerpt|tale|saga|series)\b",
     "^"),
    (_N, "what comes next", ("what comes", "what goes", "write next", "say next", "sing next", "follow",
                             "comes next", "next "),
     r"\bwhat (?:comes|goes) next\b|\b(?:write|say|sing|follows?|comes) next\b"
     r"|\bnext (?:lines?|sentences?|paragraphs?|verses?|words|part|pages?|chapters?|stanzas?)\b", "^"),
    (_N, "alternate ending", ("alternate", "alternative", "new", "different", "another"),
     r"\b(?:alternate|alternative|new|different|another) (?:ending|endings|version of the ending) (?:to|for|of)\b",
     "^>"),
    (_N, "keep writing", ("keep", "carry", "pick up", "go on", "rest of"),
     r"\bkeep (?:going|writing)\b|\bcarry on(?: writing)?\b|\bpick up where\b|\bgo on (?:writing|from)\b"
     r"|\brest of (?:it|this|the (?:text|passage|story|poem|song|chapter|book))\b", "^"),
    (_N, "sequel to", ("sequel", "prequel"), r"\b(?:sequels?|prequels?) (?:to|of|for)\b", "^>w"),
    (_N, "续写", ("续", "接着", "继续", "往下", "接下", "补全", "补完", "下一", "后面", "剩下", "后文"),
     "续写|续上|接着(?:往下)?(?:写|编|讲)|继续(?:写|编|讲)|往下写|接下去|接着往下|补全|补完"
     "|下一(?:句|段|章|节|页|回)|后面(?:的内容|是什么|怎么写|写什么)|接下来(?:的内容|是什么|该写什么|写什么)"
     "|剩下的(?:部分|内容)|后文", ""),
    (_N, "续集", ("续集", "续篇", "后传", "番外"), "续集|续篇|后传|番外", "w"),
    # depict: a picture of a character, or a new story starring it
    (_D, "draw", ("draw", "paint", "sketch", "illustrat", "render", "doodle", "animate", "airbrush", "colo"),
     r"\b(?:draw|draws|drawing|paint|painting|sketch|sketching|illustrate|illustrating|render|rendering|doodle"
     r"|animate|airbrush|colou?r in)\b", "^>"),
    (_D, "make a picture of", ("generate", "create", "make", "design", "produce", "give me", "show me",
                               "send me", "print", "i want", "i need"),
     rf"\b(?:generate|create|make|design|produce|give me|show me|send me|print|i want|i need)(?: me| us)? "
     rf"(?:a |an |some |the |one |two |three |\d+ )?(?:\w+ ){{0,3}}?{_VISUAL}"
     r"(?: (?:of|with|showing|featuring|depicting|starring|for))?\b", "^>"),
    (_D, "a picture of", ("image", "pic", "photo", "portrait", "drawing", "painting", "illustration", "art", "fan",
                          "sticker", "poster", "card", "wallpaper", "avatar", "icon", "emoji", "figur", "statue",
                          "sculpture", "3d", "cartoon", "comic", "meme", "gif", "logo", "tattoo", "mural", "t shirt",
                          "tshirt", "mug", "plush", "toy", "render", "sketch", "doodle", "print", "cover"),
     rf"\b{_VISUAL} (?:of|with|showing|featuring|depicting|starring|where|in which)\b", "^>w"),
    (_D, "fan art", ("fan", "wallpaper", "sticker", "avatar", "emoji", "figurine", "plush", "cosplay", "tattoo",
                     "meme", "pfp", "icon", "portrait", "drawing", "picture", "image", "photo"),
     r"\b(?:fan ?art|wallpapers?|stickers?|avatars?|emojis?|figurines?|plush(?:ies)?|cosplay|tattoos?|memes?|pfp"
     r"|icons?|portraits?|drawings?|pictures?|images?|photos?)\b", "^<w"),
    (_D, "a story about", ("write", "tell", "compose", "create", "make up", "invent", "give"),
     rf"\b(?:write|tell|compose|create|make up|invent|give)(?: me| us)? (?:a |an |one |some |the |another )?"
     rf"(?:\w+ ){{0,2}}?{_NARRATIVE} (?:about|featuring|starring|with|where|in which|of|for)\b", "^>w"),
    (_D, "画", ("画", "绘", "描", "素描", "涂鸦", "速写"),
     "画(?<![漫动油壁版国书字]画)(?![风家面质册廊展作外])|绘制|描绘|手绘|素描|涂鸦|速写", ""),
    (_D, "生成…图片", ("生成", "做", "制作", "设计", "创作", "给我", "来", "发"),
     "(?:生成|做|制作|设计|创作|给我|来|发)(?:一|个|张|幅|套|组|些|款|下)*.{0,30}?(?:图片|图像|照片|插画|插图"
     "|画像|头像|壁纸|海报|表情包|贴纸|手办|贺卡|立绘|漫画|封面|周边|玩偶|形象|图)", "^"),
    (_D, "图片", ("图", "照片", "插画", "画像", "头像", "壁纸", "海报", "表情包", "贴纸", "手办", "立绘", "q版"),
     "图片|图像|照片|插画|插图|画像|头像|壁纸|海报|表情包|贴纸|手办|立绘|同人图|形象图|q版", "w"),
    (_D, "写…故事", ("写", "编", "讲", "创作"),
     "(?:写|编|讲|创作)(?:一|个|篇|首|段|部|则|下)*(?:关于)?.{0,30}?(?:故事|小说|童话|诗|剧本|漫画|段子|冒险)", "^w"),
    # discuss: a question or commentary about what is named (cancels the weak intents)
    (_T, "summarise", ("summar", "synopsis", "recap", "overview", "explain", "explan", "analy", "review", "critic",
                       "recommend", "compar", "discuss", "theme", "mean", "symbol", "interpret", "trivia",
                       "fun fact", "book club", "essay", "cite", "citation", "bibliography", "footnote", "news",
                       "announce", "adaptation", "release date"),
     r"\b(?:summar(?:y|ies|ize|ise|ized|ised|izing|ising)|synopsis|recap|overview|explain(?:s|ed|ing)?"
     r"|explanation|analy[sz](?:e|es|ed|is|ing)|analysis|reviews?|reviewed|reviewing|critique|criticism|critics"
     r"|recommend(?:s|ed|ing|ations?)?|compare|comparison|discuss(?:ion)?|themes?|meaning|means?|symboli[sz]\w*"
     r"|interpret\w*|trivia|fun facts?|book club|essay|cite|citation|bibliography|footnote|news|announce\w*"
     r"|adaptations?|release date)\b", "^"),
    (_T, "who wrote", ("who ", "what ", "how ", "is there", "are there", "when ", "why ", "where does",
                       "tell me about"),
     r"\bwho (?:wrote|writes|sings|sang|composed|directed|illustrated|published|created|designed|voices|played"
     r"|is|was|are)\b|\bwhat (?:is|was|are|were) (?:\w+ ){0,8}?about\b|\bwhat happens\b"
     r"|\bhow (?:does|did) (?:\w+ ){0,8}?end\b|\bis there (?:a|an|any)\b|\bare there\b|\bhow many\b"
     r"|\bwhen (?:was|is|did|does|will)\b|\bwhy (?:is|was|do|does|did|are)\b|\bwhere does\b|\btell me about\b", "^"),
    (_T, "讲了什么", ("讲", "说了", "写了", "意思", "含义", "寓意", "意义", "主题", "概括", "总结", "梗概", "简介",
                      "介绍", "分析", "评", "读后感", "观后感", "推荐", "比较", "哪个", "为什么", "怎么样", "什么样",
                      "谁", "作者", "作曲", "出版", "上映", "改编", "新闻", "消息", "参考文献", "引用", "吗", "多少",
                      "几部", "几章", "什么时候", "哪"),
     "讲了什么|讲的是什么|讲什么|说了什么|写了什么|什么意思|含义|寓意|意义|主题|概括|总结|梗概|简介|介绍|分析"
     "|评价|评论|书评|影评|乐评|读后感|观后感|推荐|比较|哪个(?:更)?好|为什么|怎么样|什么样|是谁|谁写|谁唱|谁画"
     "|作者|作曲|出版|上映|改编|新闻|消息|参考文献|怎么.{0,4}引用|有.{0,6}?吗|多少|几部|几章|什么时候|哪一?年", ""),
    # circumvent: getting around the filter
    (_C, "ignore previous instructions", ("ignore", "disregard", "forget", "override"),
     r"\b(?:ignore|disregard|forget|override) (?:all |any |the |your |my )*"
     rf"(?:previous |prior |above |earlier |system |original |safety )*{_RULES}\b", "^"),
    (_C, "bypass the filter", ("bypass", "circumvent", "get around", "get past", "evade", "dodge", "trick", "fool",
                               "disable", "turn off", "switch off", "avoid"),
     r"\b(?:bypass|circumvent|get around|get past|evade|dodge|trick|fool|disable|turn off|switch off|avoid) "
     rf"(?:the |your |any |this |all )?(?:copyright |content |safety |word |name )?{_FILTER}\b", "^"),
    (_C, "spell it with dashes", ("spell", "in leet", "with leet", "using leet", "in l33t", "with l33t", "using l33t"),
     r"\bspell (?:it|the name|the title|them|his name|her name|out the name)(?: out)? (?:with|using|in) "
     r"(?:dashes|hyphens|spaces|dots|periods|numbers|underscores|symbols|leetspeak)\b"
     r"|\b(?:in|with|using) (?:leetspeak|l33t|leet)\b", "^"),
    (_C, "without copyright restrictions", ("without", "with no", "ignoring", "free of", "no copyright"),
     r"\b(?:without|with no|ignoring|free of) (?:any )?(?:copyright|content|legal) "
     r"(?:restrictions|limits|limitations|filters|rules|checks|concerns)\b"
     r"|\bno copyright (?:restrictions|rules|filters|limits)\b", "^"),
    (_C, "jailbreak", ("jailbreak", "dan mode", "developer mode", "god mode", "unfiltered", "uncensored",
                       "unrestricted", "you have no"),
     r"\bjailbreak|\b(?:dan|developer|god) mode\b|\b(?:unfiltered|uncensored|unrestricted) "
     r"(?:mode|version|ai|assistant|model)\b|\byou have no (?:restrictions|rules|filters)\b", "^"),
    (_C, "so the filter won't catch it", ("so the", "so your", "so that the", "don t"),
     r"\bso (?:the|your|that the) (?:filter|system|moderation|guard) (?:won t|will not|doesn t|does not|can t|cannot) "
     r"(?:catch|detect|notice|flag|block|see)\b|\bdon t (?:filter|censor|block)\b", "^"),
    (_C, "绕过", ("绕", "规避", "避开", "过滤", "审查", "越狱", "无视", "忽略", "不受", "拆开", "拼音", "谐音", "空格"),
     "绕过|绕开|规避|避开(?:审查|过滤|检测|限制)|不要过滤|别过滤|不要审查|关闭过滤|越狱|不受(?:版权)?限制|拆开写|用拼音|用谐音|加空格"
     "|(?:无视|忽略).{0,8}?(?:指令|规则|提示|限制|要求)", ""),
)  # fmt: skip


def _top_level(rx: str) -> list[str]:
    """The alternatives of ``rx`` outside any group (``a|(?:b|c)`` is ``a``, ``(?:b|c)``)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(rx):
        c = rx[i]
        if c == "\\":
            i += 2
            continue
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(rx[start:i])
            start = i + 1
        i += 1
    return [*parts, rx[start:]]


def _compile(rx: str) -> tuple[re.Pattern[str], bool]:
    """The pattern, with a leading ``\\b`` taken off every alternative and checked after the match instead.

    Python's ``re`` scans for a literal or a set of first characters quickly, but a pattern that opens with
    ``\\b`` is tried at every position: four times slower on a 2 KB prompt.
    """
    parts = _top_level(rx)
    if all(p.startswith("\\b") for p in parts):
        return re.compile("|".join(p[2:] for p in parts)), True
    return re.compile(rx), False


def _reach(flags: str) -> Reach:
    return (
        Reach.ATTACHED
        if "a" in flags
        else Reach.AFTER
        if ">" in flags
        else Reach.BEFORE
        if "<" in flags
        else Reach.BOTH
    )  # noqa: E501


_COMPILED = tuple((kind, label, triggers, *_compile(rx), _reach(flags), "w" in flags, "^" in flags)
                  for kind, label, triggers, rx, flags in _PATTERNS)  # fmt: skip


def find_intents(prompt: str) -> list[IntentHit]:
    """Every intent pattern in ``prompt`` (case, full-width forms, look-alikes, traditional characters and
    spacing folded), by position."""
    return _find_intents(_prepare(prompt))


@lru_cache(maxsize=1)
def _triggers() -> tuple[Any, list[int], list[int], list[list[int]]]:
    """One automaton over every pattern's triggers, valued with the trigger's number; per trigger, the bit mask
    of the patterns it opens (wider than the automaton's 64-bit integers) and its length in UTF-8 bytes; per
    pattern, its triggers' numbers."""
    numbers: dict[str, int] = {}
    masks: list[int] = []
    own: list[list[int]] = []
    for i, (_, _, triggers, *_rest) in enumerate(_COMPILED):
        own.append([])
        for t in triggers:
            k = numbers.setdefault(t, len(numbers))
            if k == len(masks):
                masks.append(0)
            masks[k] |= 1 << i
            own[i].append(k)
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for t, k in numbers.items():
        automaton.add_word(_bytewise(t), k)
    automaton.make_automaton()
    return automaton, masks, [len(t.encode()) for t in numbers], own


def _find_intents(f: _Folded) -> list[IntentHit]:
    hits: list[IntentHit] = []
    view, idx = f.view, f.view_index
    automaton, masks, sizes, own = _triggers()
    opened = 0
    found: dict[int, list[int]] = {}  # trigger -> the byte offsets where it ends
    for end, k in automaton.iter(_bytewise(view)):
        opened |= masks[k]
        found.setdefault(k, []).append(end)
    char_at = None if view.isascii() else _char_at(view)
    for i, (kind, label, _, rx, word_start, reach, weak, anchored) in enumerate(_COMPILED):
        if not opened >> i & 1:
            continue  # a prompt without any of the pattern's triggers cannot match it: skip the regex
        ms: Iterable[re.Match[str] | None]
        if anchored:
            starts = sorted({e - sizes[k] + 1 for k in own[i] for e in found.get(k, ())})
            ms = (rx.match(view, s if char_at is None else char_at[s]) for s in starts)
        else:
            ms = rx.finditer(view)
        for m in ms:
            if m is None:
                continue
            a, b = m.span()
            if word_start and a and (view[a - 1].isalnum() or view[a - 1] == "_"):
                continue  # the \b taken off by _compile
            while b > a and view[b - 1] == " ":
                b -= 1
            if b > a:
                hits.append(IntentHit(kind, label, int(idx[a]), int(idx[b - 1]) + 1, reach is Reach.ATTACHED,
                                      weak, reach))  # fmt: skip
    hits.sort(key=lambda h: (h.start, h.end, h.kind))
    return hits


# -- decision --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromptRules:
    """What each finding asks for; the guard builds this from the policy profile's ``guard`` section
    (:meth:`from_profile`). The defaults are the profile's defaults: a mention is allowed (and logged)."""

    reference: PromptAction = PromptAction.ALLOW
    imitate: PromptAction = PromptAction.BLOCK
    reproduce: PromptAction = PromptAction.BLOCK
    circumvent: PromptAction = PromptAction.WARN
    creator_style: PromptAction = PromptAction.BLOCK
    depict: PromptAction = PromptAction.WARN
    continuation: PromptAction = PromptAction.BLOCK

    def __post_init__(self) -> None:
        for name in _RULE_FIELDS:
            try:
                object.__setattr__(self, name, PromptAction(getattr(self, name)))
            except ValueError as exc:
                raise InvalidInputError(f"unknown prompt action {getattr(self, name)!r}", field=name) from exc

    @classmethod
    def from_profile(cls, guard: Any) -> PromptRules:
        """The rules of a policy profile's ``guard`` section (its ``prompt_*`` settings)."""
        return cls(**{name: PromptAction(getattr(guard, f"prompt_{name}")) for name in _RULE_FIELDS})


_RULE_FIELDS = ("reference", "imitate", "reproduce", "circumvent", "creator_style", "depict", "continuation")


@dataclass(frozen=True, slots=True)
class PromptQuote:
    """Text of a registered work that the matching engine found in the prompt: ``spans`` index the prompt.

    The engine reports a passage only once it is as long as the profile's ``matching.min_passage_tokens``
    (20 words, or 40 Chinese characters), so a quote is, by construction, at least the profile's passage.
    """

    work_id: str
    title: str
    spans: tuple[tuple[int, int], ...]
    match: str = "passage"


@dataclass(frozen=True, slots=True)
class PromptReason:
    """One rule that fired: ``span`` is the name's (or, for circumvention alone, the pattern's; for a quote,
    the passage's) in the prompt. ``name`` is the name found, or the title of the quoted work."""

    rule: str
    action: PromptAction
    term_id: str | None
    work_ids: tuple[str, ...]
    name: str | None
    span: tuple[int, int]
    intent: str | None


@dataclass(frozen=True, slots=True)
class PromptVerdict:
    """The decision, the reasons for it (a mention is a reason too, with the action the rules give it, allow by
    default), and every name and intent found, for the record."""

    decision: PromptAction
    reasons: tuple[PromptReason, ...]
    terms: tuple[TermHit, ...] = ()
    intents: tuple[IntentHit, ...] = ()


_ATTACH_GAP = re.compile(
    r"[\s\W_]{0,3}(?:s\b)?[\s\W_]{0,2}"
    r"(?:(?:art|drawing|painting|writing|prose|visual|illustration|animation|comic|manga|anime|signature|iconic"
    r"|song|track|album|book|novel|film|movie|full)[\s\W_]{1,2})?"
    r"|[的之式]?(?:画|绘画|写作|文字|艺术|美术|动画|漫画|插画)?",
    re.IGNORECASE,
)
"""What may stand between a name and an attached intent: ``'s``, a dash, one qualifier (``art style``)."""
_RANK = {PromptAction.ALLOW: 0, PromptAction.WARN: 1, PromptAction.BLOCK: 2}
_NEAR_WORDS = 4
"""Most words (a Chinese character counts half) between an intent and the name it governs: ``in the style of
X``, ``draw a cute little X``, ``X 的第一章的原文``. Further apart, the intent is about something else."""
_NEAR_CHARS = 60
_WORD = re.compile(r"[^\W\d_]+|\d+")
_BARRIER = re.compile(
    r"\b(?:and|or|but|then|while|because|so|if|when|where|who|which|whose|about|also|plus|instead|after|before"
    r"|than)\b|[和与跟及并但而或再然]",
    re.IGNORECASE,
)
"""Words that start another clause or object between an intent and a name (``in the style of Monet about X``:
the style asked is Monet's, not X's)."""
_COORDINATION = re.compile(r"[\s,，、&]*(?:and|or|&|和|与|跟|以及|或)?[\s,，、]*", re.IGNORECASE)
"""Between two names that one intent governs together (``fan fiction about X and Y``, ``画X和Y``)."""


_CLAUSE_BREAK = re.compile(r"[.;。；…][\s\u3000]|[。；]|\n\s*\n")
"""A break between an intent and a name. Not a question mark: ``X怎么唱？把词写出来`` asks for X's lyrics."""


def _near(gap: str) -> bool:
    """Whether an intent and a name this far apart belong together."""
    if not gap.strip():
        return True
    if len(gap) > _NEAR_CHARS or _CLAUSE_BREAK.search(gap) or _BARRIER.search(gap):
        return False
    cjk = len(_CJK.findall(gap))
    latin = sum(1 for w in _WORD.findall(gap) if not _CJK.match(w))
    return 2 * latin + cjk <= 2 * _NEAR_WORDS


def _attached(hit: TermHit, intent: IntentHit, prompt: str) -> bool:
    """Whether an attached intent follows the name: right after it (``X-style``, ``X's art style``,
    ``X的风格``), or overlapping its end (``Southern Wind Song lyrics`` read as ``song lyrics``)."""
    if intent.start < hit.end:
        return hit.start <= intent.start and intent.end > hit.end
    return _ATTACH_GAP.fullmatch(prompt[hit.end : intent.start]) is not None


def _governs(it: IntentHit, hit: TermHit, prompt: str) -> bool:
    """Whether intent ``it`` is about the name ``hit``: attached right after it, overlapping it (a Chinese
    pattern around the name: ``照着X画``, ``生成一张X的图片``), or near it on the side its pattern reaches."""
    if it.reach is Reach.ATTACHED:
        return hit.start <= it.start and _attached(hit, it, prompt)
    if it.start < hit.end and hit.start < it.end:
        return True
    if it.end <= hit.start:
        return it.reach is not Reach.BEFORE and _near(prompt[it.end : hit.start])
    return it.reach is not Reach.AFTER and _near(prompt[hit.end : it.start])


def _held_character(term: Term) -> bool:
    """A character its rights holder curated: depicting it is ``prompt.depict`` (the operator's own list,
    public-domain characters for a licensed edition, has no holder)."""
    return term.kind is TermKind.CHARACTER and term.holder_id is not None


def _inside(a: int, b: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(s <= a and b <= e for s, e in spans)


def _in_name(it: IntentHit, starts: Sequence[int], reach: Sequence[int]) -> bool:
    """Whether the intent lies inside a name found: ``starts`` are the names' starts in order, ``reach[j]`` the
    furthest end of the names up to ``j``."""
    j = bisect.bisect_right(starts, it.start) - 1
    return j >= 0 and reach[j] >= it.end


def screen_prompt(
    prompt: str, base: TermBase, rules: PromptRules | None = None, *, quotes: Sequence[PromptQuote] = ()
) -> PromptVerdict:
    """The decision for one prompt and a reason per rule that fired (strongest first).

    *Intent decides* (seed 004 ¶72-73): a name alone is a mention (``prompt.reference``, allowed by default
    and still recorded); an intent raises the action only for the names it governs (:func:`_governs`), and
    a *discuss* intent (``summarise``, ``who wrote``, ``讲了什么``) cancels the weak ones of its sentence, so that
    ``summarise chapter 3 of X`` stays a mention while ``print chapter 3 of X`` is a reproduction. Depicting a character
    is ``prompt.depict`` only where a rights holder curated the character (the term has a holder): the
    operator's own list (public-domain characters) is not a holder's request (seed 004 ¶12, ¶89: the
    Ultraman rulings). ``quotes`` is what the matching engine found of registered texts in the prompt: with a
    continue intent (``continue this``, ``what comes next``, ``续写``) a quote is ``prompt.continuation``,
    with a reproduce intent ``prompt.reproduce``, else a mention (``prompt.quote``).

    Example:
        >>> base = TermBase.build([Term("c1", TermKind.CREATOR, ("Elspeth Marrow",))])
        >>> v = screen_prompt("a poem in the style of elspeth marrow", base)
        >>> v.decision.value, [(r.rule, r.action.value) for r in v.reasons]
        ('block', [('prompt.creator_style', 'block'), ('prompt.reference', 'allow')])
        >>> screen_prompt("who is Elspeth Marrow?", base).decision.value
        'allow'
    """
    rules = rules or PromptRules()
    f = _prepare(prompt)
    terms = base._find(f)
    intents = _find_intents(f)
    reasons: dict[tuple[str, str | None], PromptReason] = {}

    def add(rule: str, action: PromptAction, hit: TermHit | None, span: tuple[int, int], intent: str | None,
            quote: PromptQuote | None = None) -> None:  # fmt: skip
        key = (rule, hit.term.id if hit else quote.work_id if quote else f"{span}")
        if key not in reasons:
            term = hit.term if hit else None
            work_ids = term.work_ids if term else (quote.work_id,) if quote else ()
            name = hit.name if hit else quote.title if quote else None
            reasons[key] = PromptReason(rule, action, term.id if term else None, work_ids, name, span, intent)

    # The words of a name or of a pasted passage are not the user's request ("Copy Cat", a novel's "continued").
    quoted = [sp for q in quotes for sp in q.spans]
    starts = [h.start for h in terms]
    reach = list(itertools.accumulate((h.end for h in terms), max))
    own = [it for it in intents if not _inside(it.start, it.end, quoted) and not _in_name(it, starts, reach)]
    # A weak intent yields to a question or commentary in its own sentence ("What happens in chapter 3 of X?").
    breaks = [m.end() for m in _SENTENCE_BREAK.finditer(prompt)]
    discussed = {bisect.bisect_right(breaks, it.start) for it in own if it.kind is IntentKind.DISCUSS}
    active = [it for it in own if it.kind not in (IntentKind.DISCUSS, IntentKind.CIRCUMVENT)
              and not (it.weak and bisect.bisect_right(breaks, it.start) in discussed)]  # fmt: skip

    # Which names each intent governs: the names near it (found by position), then names coordinated with those.
    governed: dict[int, list[IntentHit]] = {}
    longest = max((h.end - h.start for h in terms), default=0)
    for it in active:
        lo = bisect.bisect_left(starts, it.start - _NEAR_CHARS - longest)
        hi = bisect.bisect_right(starts, it.end + _NEAR_CHARS)
        mine = [j for j in range(lo, hi) if terms[j].end >= it.start - _NEAR_CHARS
                and (it.kind is not IntentKind.DEPICT or _held_character(terms[j].term))
                and _governs(it, terms[j], prompt)]  # fmt: skip
        for j in list(mine):
            k = j + 1
            while k < len(terms) and _COORDINATION.fullmatch(prompt[terms[k - 1].end : terms[k].start]):
                mine.append(k)
                k += 1
        for j in dict.fromkeys(mine):
            governed.setdefault(j, []).append(it)
    for j, hit in enumerate(terms):
        span = (hit.start, hit.end)
        kind = hit.term.kind
        for it in governed.get(j, ()):
            if it.kind is IntentKind.IMITATE:
                creator = kind is TermKind.CREATOR
                rule = "prompt.creator_style" if creator else "prompt.imitate"
                add(rule, rules.creator_style if creator else rules.imitate, hit, span, it.pattern)
            elif it.kind is IntentKind.REPRODUCE:
                add("prompt.reproduce", rules.reproduce, hit, span, it.pattern)
            elif it.kind is IntentKind.CONTINUE:
                add("prompt.continuation", rules.continuation, hit, span, it.pattern)
            elif _held_character(hit.term):  # depict
                add("prompt.depict", rules.depict, hit, span, it.pattern)
        add("prompt.reference", rules.reference, hit, span, None)
    wants = {it.kind: it for it in reversed(active) if it.kind in (IntentKind.CONTINUE, IntentKind.REPRODUCE)}
    for q in quotes:
        if not q.spans:
            continue
        span = (min(a for a, _ in q.spans), max(b for _, b in q.spans))
        if IntentKind.CONTINUE in wants:
            add("prompt.continuation", rules.continuation, None, span, wants[IntentKind.CONTINUE].pattern, q)
        if IntentKind.REPRODUCE in wants:
            add("prompt.reproduce", rules.reproduce, None, span, wants[IntentKind.REPRODUCE].pattern, q)
        add("prompt.quote", rules.reference, None, span, None, q)
    for it in own:
        if it.kind is IntentKind.CIRCUMVENT:
            add("prompt.circumvent", rules.circumvent, None, (it.start, it.end), it.pattern)
    ordered = sorted(reasons.values(), key=lambda r: (-_RANK[r.action], r.span, r.rule))
    return PromptVerdict(strongest(r.action for r in ordered), tuple(ordered), tuple(terms), tuple(intents))
