"""The prompt filter: protected names in a prompt, the intent around them, and the decision the policy asks for.

Seed 004 ¶71-85: before generation a service screens the prompt for explicit references to protected works,
characters and creators, for requests to imitate or reproduce them, and for attempts to get around the filter.
The guard service builds :class:`Term` s from the registry (titles, character names, creators who asked for
protection) and the operator's curated list; this module finds them and decides. Pure: no I/O, no clock.

**Matching.** Prompt and names go through one folding: Unicode NFKC (full-width forms, mathematical letters,
ligatures), Cyrillic and Greek look-alikes to Latin (``Наrrу`` is ``Harry``), case folding, accents dropped from
Latin letters, invisible characters (zero-width spaces and joiners, soft hyphens, combining overlays) deleted.
What is left of the prompt is a *skeleton* of letters and digits (every separator removed) in which leetspeak
look-alikes share a letter (``0 o``, ``1 l i !``, ``3 e``, ``4 @ a``, ``5 $ s``, ``7 t``, ``8 b``, ``9 g``,
``2 z``), so ``H.a.r.r.y P0tt3r``, ``Harry_Potter`` and ``HarryPotter`` all become ``harrypotter``. One
Aho-Corasick automaton (pyahocorasick) over the names' skeletons finds every candidate in time linear in the
prompt, whatever the size of the term base; an index map takes each candidate back to the original prompt.

A candidate is then checked against the original text, because a skeleton forgets where the words were:

* it must start and end on word boundaries (``Potterton`` does not name ``Potter``; a lower-to-upper case change
  is a boundary, so ``iLoveHarryPotter`` does); names in scripts written without spaces (Chinese) need none;
* inside a word of the name, separators are either absent or between most letters (``P-o-t-t-e-r``), so
  ``sun flower`` does not name ``Sunflower``; between words of the name any short separator goes, but not a
  sentence break (``I met Harry. Potter was late`` names nobody);
* at most two thirds of its letters may be leetspeak stand-ins, so the number ``5010`` does not name ``Solo``.

**Intent.** :func:`find_intents` runs English and Chinese patterns over the folded prompt (separators as
spaces): *imitate* (``in the style of``, ``mimic``, ``模仿``, ``临摹``), *reproduce* (``lyrics of``,
``verbatim``, ``chapter 1 of``, ``原文``, ``歌词``) and *circumvent* (``ignore previous instructions``,
``绕过``). A few patterns are *attached*: ``style`` or ``风格`` count only right after a name (``Potter-style``,
``孙悟空的风格``), since ``in a casual style`` says nothing about a work. Other intents apply to every name in
the prompt: prompts are short, and a request is rarely split from its object.

**Decision.** :func:`screen_prompt` maps what it found through :class:`PromptRules` (from the policy profile):
a name alone is a *reference* (warn by default: a question about a book is not an infringement), a name with
an imitation or reproduction intent blocks, a creator who asked for protection with an imitation intent is
*creator_style*, and circumvention is reportable with or without a name. The strongest action wins.

Example:
    >>> base = TermBase.build([Term("t1", TermKind.CHARACTER, ("Harry Potter", "哈利·波特"))])
    >>> [(h.name, h.start, h.end) for h in base.find("draw H4rry_P.o.t.t.e.r now")]
    [('Harry Potter', 5, 22)]
    >>> screen_prompt("模仿哈利波特写一段故事", base).decision.value
    'block'
"""

from __future__ import annotations

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
from copyalign.errors import InvalidInputError

PromptAction = GuardAction
"""The prompt filter's actions are the guard's (allow, warn, block): one enum for both filters."""

I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]

# -- folding ---------------------------------------------------------------------------------------------------

_SEP = 0x20  # a separator, in the folded stream
_MULTI = 0xFFFFFFFF  # a character that folds to several (``ß`` to ``ss``): the slow path handles it
_CJK = re.compile(
    "[\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3038-\u303b\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"
)
"""Scripts written without spaces: a name in them needs no word boundary, and each character is a word."""
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


def _fold_char(c: str) -> str:
    """``""`` for an invisible character, ``" "`` for a separator, else the letters it stands for."""
    cat = unicodedata.category(c)
    if cat in ("Cf", "Mn", "Me") or c in "\u034f\u115f\u1160\u3164\uffa0":
        return ""
    if cat in ("Cs", "Co", "Cn", "Cc", "Zs", "Zl", "Zp"):
        return " "
    folded = unicodedata.normalize("NFKC", c).translate(_UPPER_LOOKALIKES).casefold().translate(_LOWER_LOOKALIKES)
    out = []
    for ch in folded:
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


def _cjk_weight(key: str) -> int:
    """Length for ``min_name_chars``: a CJK character carries about as much as two Latin letters."""
    return len(key) if key.isascii() else len(key) + len(_CJK.findall(key))


_Group = tuple[int, bool, bool, tuple[int, ...]]
"""Skeleton length, whether its first and last letters need a word boundary (not CJK), the entries."""
_SENTENCE_BREAK = re.compile(r"[.!?;。！？；…][\s\u3000]|[。！？；]|\n\s*\n")


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
                if _cjk_weight(key) < min_name_chars:
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
    breaks: list[tuple[int, int]] = []
    for k in range(n - 1):
        a, b = index[s + k], index[s + k + 1]
        gap = text[a + 1 : b]
        has_sep = any(_fold_slow(c) == " " for c in gap)
        if words[k] == words[k + 1] and not cjk[k]:
            spaced[words[k]] = spaced.get(words[k], 0) + has_sep
        elif has_sep and _SENTENCE_BREAK.search(gap):
            breaks.append((words[k], words[k + 1]))
    for w, seps in spaced.items():
        gaps = words.count(w) - 1
        if seps and 2 * seps < gaps:
            return None
    if any(not (spaced.get(a) and spaced.get(b)) for a, b in breaks):
        return None
    return first, last + 1


# -- intents ---------------------------------------------------------------------------------------------------


class IntentKind(StrEnum):
    IMITATE = "imitate"
    REPRODUCE = "reproduce"
    CIRCUMVENT = "circumvent"


@dataclass(frozen=True, slots=True)
class IntentHit:
    """An intent pattern found in a prompt (span in the original prompt). An ``attached`` one counts only
    right after a name (``Potter-style``, ``孙悟空的风格``)."""

    kind: IntentKind
    pattern: str
    start: int
    end: int
    attached: bool = False


def _alt(words: str) -> str:
    """``"a|b c"`` as the regex group ``(?:a|b c)``: the tables below read as word lists."""
    return f"(?:{words})"


_WORK = _alt(
    "text|lyrics|words|script|screenplay|transcript|poem|song|chapter|book|novel|story|scene|passage|pages?|verses?|dialogue"
)  # noqa: E501
_SHOW = _alt("give|show|print|type|write|output|paste|post|send|list|provide|tell|recite|dump|display|spit")
_NUM = _alt(r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|first|second|third|last|final|opening|[ivx]+")
_CN_NUM = "[一二三四五六七八九十百零\\d]+"
_FILTER = _alt(
    "filters?|filtering|guard|guardrails?|restrictions?|moderation|detection|censors?|censorship|checks?|blocks?"
)  # noqa: E501
_RULES = _alt("instructions|rules|prompts?|guidelines|restrictions|filters?|policies|policy")
_I, _R, _C = IntentKind.IMITATE, IntentKind.REPRODUCE, IntentKind.CIRCUMVENT

# (kind, label, triggers, regex, attached). The regexes read the folded prompt: lower case, every run of
# separators one space (so "don't" reads "don t"). Every match contains one of its pattern's triggers: one
# automaton pass over the triggers tells which regexes can match at all.
_PATTERNS: tuple[tuple[IntentKind, str, tuple[str, ...], str, bool], ...] = (
    (_I, "in the style of", ("style", "manner", "voice", "tone", "spirit"),
     r"\bin the (?:\w+ )?(?:style|manner|voice|tone|spirit) of\b", False),
    (_I, "in the same style as", ("same",), r"\bin the same (?:\w+ )?style as\b", False),
    (_I, "as written by", ("written", "drawn", "painted", "told", "sung", "composed", "directed", "designed"),
     r"\bas (?:if )?(?:it )?(?:was |were )?(?:written|drawn|painted|told|sung|composed|directed|designed) by\b", False),  # noqa: E501
    (_I, "imitate", ("imitat", "mimic", "emulat", "pastiche", "knock"),
     r"\b(?:imitat(?:e|es|ed|ing|ion|ions)|mimic(?:s|ked|king)?|emulat(?:e|es|ed|ing)|pastiches?|knock ?offs?)\b", False),  # noqa: E501
    (_I, "fan fiction", ("fanfic", "fan fic"), r"\bfan ?fic(?:tion|s)?\b", False),
    (_I, "write like", ("like",),
     r"\b(?:write|draw|paint|sing|compose|talk|speak|sound|rap)s? (?:exactly |just )?like\b"
     r"|\bmake (?:it|this|me|him|her|them|my \w+|the \w+) (?:look|sound|read) (?:exactly |just )?like\b", False),
    (_I, "style like", ("style", "reminiscent"), r"\bstyle (?:like|similar to|reminiscent of)\b|\breminiscent of\b", False),  # noqa: E501
    (_I, "style", ("style", "aesthetic"),
     r"\b(?:style|styled|aesthetic)\b", True),
    (_I, "模仿", ("仿", "临摹", "照搬", "同人"), "模仿|仿照|仿写|仿作|仿造|临摹|效仿|照搬|同人", False),
    (_I, "照着…画", ("照着",), "照着.{1,20}?(?:画|写|做|绘|描)", False),
    (_I, "风格像", ("风格", "的"), "风格(?:像|类似|模仿|仿)|(?:以|用).{1,20}?的(?:口吻|笔触|文风|画风|风格|语气)", False),  # noqa: E501
    (_I, "风格", ("风格", "画风", "文风", "笔触", "口吻"),
     "风格|画风|文风|笔触|口吻", True),
    (_R, "reproduce", ("reproduc",), r"\breproduc(?:e|es|ed|ing|tion)\b", False),
    (_R, "copy", ("cop",),
     rf"\bcop(?:y|ying|ied)(?<!a copy)(?<!my copy)(?<!the copy)(?<!your copy) (?!of\b)|\bcopy {_WORK}", False),
    (_R, "verbatim", ("verbatim", "word", "exact"),
     r"\bverbatim\b|\bword (?:for|by) word\b|\bexact (?:words|text|wording|lyrics)\b", False),
    (_R, "recite", ("recit", "transcrib"), r"\brecit(?:e|es|ing|ation)\b|\btranscrib(?:e|ing)\b", False),
    (_R, "lyrics of", ("lyrics",), r"\blyrics (?:of|to|from)\b", False),
    (_R, "full text of", ("full", "complete", "entire", "whole", "unabridged"),
     rf"\b(?:full|complete|entire|whole|unabridged) (?:text|{_WORK})\b", False),
    (_R, "give me the text", ("text", "lyrics", "words", "script", "poem", "song", "chapter", "book", "novel",
                              "story", "scene", "passage", "page", "verse", "dialogue"),
     rf"\b{_SHOW} (?:me |us |out )?(?:all |the |every )(?:\w+ )?{_WORK}\b", False),
    (_R, "chapter 1 of", ("chapter", "page", "verse", "stanza", "scene", "act ", "episode", "lines", "paragraph",
                          "sentences"),
     rf"\b(?:chapter|page|verse|stanza|scene|act|episode) {_NUM} (?:of|from|in)\b"
     rf"|\b{_NUM} (?:\d+ )?(?:lines|paragraphs|pages|chapters|verses|sentences) (?:of|from)\b", False),
    (_R, "pdf", ("pdf", "epub", "mobi", "torrent", "download"), r"\b(?:pdf|epub|mobi|torrent)s?\b|\bdownload\b", False),
    (_R, "lyrics", ("lyrics", "text", "script", "pdf", "epub"),
     r"\b(?:lyrics|full text|transcript|script|pdf|epub)\b", True),
    (_R, "原文", ("原文", "全文", "歌词", "复制", "抄", "逐字", "一字", "背诵", "默写", "完整", "第"),
     f"原文|全文|歌词|复制|抄写|照抄|逐字|一字不差|一字不漏|背诵|默写|完整(?:版|内容|文本|剧本|台词)|第{_CN_NUM}[章节回页集幕]", False),  # noqa: E501
    (_R, "下载", ("下载", "txt", "电子书"), "下载|txt|电子书", False),
    (_C, "ignore previous instructions", ("ignore", "disregard", "forget", "override"),
     r"\b(?:ignore|disregard|forget|override) (?:all |any |the |your |my )*"
     rf"(?:previous |prior |above |earlier |system |original |safety )*{_RULES}\b", False),
    (_C, "bypass the filter", ("filter", "guard", "restriction", "moderation", "detection", "censor", "check", "block"),
     r"\b(?:bypass|circumvent|get around|get past|evade|dodge|trick|fool|disable|turn off|switch off|avoid) "
     rf"(?:the |your |any |this |all )?(?:copyright |content |safety |word |name )?{_FILTER}\b", False),
    (_C, "spell it with dashes", ("spell", "leet", "l33t"),
     r"\bspell (?:it|the name|the title|them|his name|her name|out the name)(?: out)? (?:with|using|in) "
     r"(?:dashes|hyphens|spaces|dots|periods|numbers|underscores|symbols|leetspeak)\b"
     r"|\b(?:in|with|using) (?:leetspeak|l33t|leet)\b", False),
    (_C, "without copyright restrictions", ("copyright", "content", "legal"),
     r"\b(?:without|with no|ignoring|free of) (?:any )?(?:copyright|content|legal) "
     r"(?:restrictions|limits|limitations|filters|rules|checks|concerns)\b"
     r"|\bno copyright (?:restrictions|rules|filters|limits)\b", False),
    (_C, "jailbreak", ("jailbreak", "mode", "unfiltered", "uncensored", "unrestricted", "you have no"),
     r"\bjailbreak|\b(?:dan|developer|god) mode\b|\b(?:unfiltered|uncensored|unrestricted) "
     r"(?:mode|version|ai|assistant|model)\b|\byou have no (?:restrictions|rules|filters)\b", False),
    (_C, "so the filter won't catch it", ("filter", "system", "moderation", "guard", "don t"),
     r"\bso (?:the|your|that the) (?:filter|system|moderation|guard) (?:won t|will not|doesn t|does not|can t|cannot) "
     r"(?:catch|detect|notice|flag|block|see)\b|\bdon t (?:filter|censor|block)\b", False),
    (_C, "绕过", ("绕", "规避", "避开", "过滤", "审查", "越狱", "无视", "忽略", "不受", "拆开", "拼音", "谐音", "空格"),
     "绕过|绕开|规避|避开(?:审查|过滤|检测|限制)|不要过滤|别过滤|不要审查|关闭过滤|越狱|不受(?:版权)?限制|拆开写|用拼音|用谐音|加空格"
     "|(?:无视|忽略).{0,8}?(?:指令|规则|提示|限制|要求)", False),
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


_COMPILED = tuple((kind, label, triggers, *_compile(rx), att) for kind, label, triggers, rx, att in _PATTERNS)


def find_intents(prompt: str) -> list[IntentHit]:
    """Every intent pattern in ``prompt`` (case, full-width forms, look-alikes and spacing folded), by position."""
    return _find_intents(_prepare(prompt))


@lru_cache(maxsize=1)
def _triggers() -> Any:
    """One automaton over every pattern's triggers, valued with the bit mask of the patterns they open."""
    masks: dict[str, int] = {}
    for i, (_, _, triggers, _, _, _) in enumerate(_COMPILED):
        for t in triggers:
            masks[t] = masks.get(t, 0) | 1 << i
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for t, mask in masks.items():
        automaton.add_word(_bytewise(t), mask)
    automaton.make_automaton()
    return automaton


def _find_intents(f: _Folded) -> list[IntentHit]:
    hits: list[IntentHit] = []
    view, idx = f.view, f.view_index
    opened = 0
    for _, mask in _triggers().iter(_bytewise(view)):
        opened |= mask
    for i, (kind, label, _, rx, word_start, attached) in enumerate(_COMPILED):
        if not opened >> i & 1:
            continue  # a prompt without any of the pattern's triggers cannot match it: skip the regex
        for m in rx.finditer(view):
            a, b = m.span()
            if word_start and a and (view[a - 1].isalnum() or view[a - 1] == "_"):
                continue  # the \b taken off by _compile
            while b > a and view[b - 1] == " ":
                b -= 1
            if b > a:
                hits.append(IntentHit(kind, label, int(idx[a]), int(idx[b - 1]) + 1, attached))
    hits.sort(key=lambda h: (h.start, h.end, h.kind))
    return hits


# -- decision --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromptRules:
    """What each finding asks for; the guard builds this from the policy profile's ``guard`` section."""

    reference: PromptAction = PromptAction.WARN
    imitate: PromptAction = PromptAction.BLOCK
    reproduce: PromptAction = PromptAction.BLOCK
    circumvent: PromptAction = PromptAction.WARN
    creator_style: PromptAction = PromptAction.BLOCK

    def __post_init__(self) -> None:
        for name in ("reference", "imitate", "reproduce", "circumvent", "creator_style"):
            try:
                object.__setattr__(self, name, PromptAction(getattr(self, name)))
            except ValueError as exc:
                raise InvalidInputError(f"unknown prompt action {getattr(self, name)!r}", field=name) from exc


@dataclass(frozen=True, slots=True)
class PromptReason:
    """One rule that fired: ``span`` is the name's (or, for circumvention alone, the pattern's) in the prompt."""

    rule: str
    action: PromptAction
    term_id: str | None
    work_ids: tuple[str, ...]
    name: str | None
    span: tuple[int, int]
    intent: str | None


@dataclass(frozen=True, slots=True)
class PromptVerdict:
    """The decision, the reasons for it (none that allow), and every name and intent found, for the record."""

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


def _attached(hit: TermHit, intent: IntentHit, prompt: str) -> bool:
    """Whether an attached intent follows the name: right after it (``X-style``, ``X's art style``,
    ``X的风格``), or overlapping its end (``Southern Wind Song lyrics`` read as ``song lyrics``)."""
    if intent.start < hit.end:
        return hit.start <= intent.start and intent.end > hit.end
    return _ATTACH_GAP.fullmatch(prompt[hit.end : intent.start]) is not None


def screen_prompt(prompt: str, base: TermBase, rules: PromptRules | None = None) -> PromptVerdict:
    """The decision for one prompt and a reason per rule that fired (strongest first).

    Example:
        >>> base = TermBase.build([Term("c1", TermKind.CREATOR, ("Elspeth Marrow",))])
        >>> v = screen_prompt("a poem in the style of elspeth marrow", base)
        >>> v.decision.value, [r.rule for r in v.reasons]
        ('block', ['prompt.creator_style', 'prompt.reference'])
    """
    rules = rules or PromptRules()
    f = _prepare(prompt)
    terms = base._find(f)
    intents = _find_intents(f)
    reasons: dict[tuple[str, str | None], PromptReason] = {}

    def add(rule: str, action: PromptAction, hit: TermHit | None, span: tuple[int, int], intent: str | None) -> None:
        key = (rule, hit.term.id if hit else f"{span}")
        if key not in reasons:
            term = hit.term if hit else None
            reasons[key] = PromptReason(rule, action, term.id if term else None, term.work_ids if term else (),
                                        hit.name if hit else None, span, intent)  # fmt: skip

    # Free-standing intents apply to every name (the first of each kind is reason enough); attached ones only to
    # the name they follow. So the work is linear in names plus intents, however many of each a prompt holds.
    free: dict[IntentKind, IntentHit] = {}
    attached: list[IntentHit] = []
    for it in intents:
        if it.attached:
            attached.append(it)
        else:
            free.setdefault(it.kind, it)
    for hit in terms:
        span = (hit.start, hit.end)
        creator = hit.term.kind is TermKind.CREATOR
        relevant = [free[k] for k in (IntentKind.IMITATE, IntentKind.REPRODUCE) if k in free]
        relevant += [it for it in attached if hit.start <= it.start and _attached(hit, it, prompt)]
        for it in relevant:
            if it.kind is IntentKind.IMITATE:
                rule = "prompt.creator_style" if creator else "prompt.imitate"
                add(rule, rules.creator_style if creator else rules.imitate, hit, span, it.pattern)
            else:
                add("prompt.reproduce", rules.reproduce, hit, span, it.pattern)
        add("prompt.reference", rules.reference, hit, span, None)
    for it in intents:
        if it.kind is IntentKind.CIRCUMVENT:
            add("prompt.circumvent", rules.circumvent, None, (it.start, it.end), it.pattern)
    # An allowed finding is no reason (as in the output filter); ``terms`` and ``intents`` still show it.
    ordered = sorted(
        (r for r in reasons.values() if r.action is not PromptAction.ALLOW),
        key=lambda r: (-_RANK[r.action], r.span, r.rule),
    )
    return PromptVerdict(strongest(r.action for r in ordered), tuple(ordered), tuple(terms), tuple(intents))
