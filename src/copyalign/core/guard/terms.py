"""The prompt filter's term base: protected names, and where they stand in a prompt.

The prompt filter: protected names in a prompt, the intent around them, and the decision the policy asks for.

Seed 004 ¶71-85: before generation a service screens the prompt for explicit references to protected works,
characters and creators, for requests to imitate, reproduce, continue or depict them, and for attempts to get
around the filter. The guard service builds :class:`Term` s from the registry (titles, character names,
creators who asked for protection) and the operator's curated list, and runs the matching engine on the prompt
for registered text (:class:`PromptQuote`); this module finds the names and decides. Pure: no I/O, no clock.

The folding of prompt and names is :mod:`.folding`; intents are :mod:`.intents`; the decision is :mod:`.prompts`.
A candidate is then checked against the original text, because a skeleton forgets where the words were:

* it must start and end on word boundaries (``Potterton`` does not name ``Potter``; a lower-to-upper case change
  is a boundary, so ``iLoveHarryPotter`` does); names in scripts written without spaces (Chinese) need none;
* inside a word of the name, separators are absent, between most letters (``P-o-t-t-e-r``), or one at a single
  point of a word of five letters or more (``Bramble-jack``, ``Zephy rine``, ``Sun Wu Kong``): that is how a
  user hides a name, and the price is that ``sun flower`` names a curated ``Sunflower`` (a mention, allowed);
  between words of the name any short separator goes, but not a sentence break (``I met Harry. Potter was
  late`` names nobody);
* at most two thirds of its letters may be leetspeak stand-ins, so the number ``5010`` does not name ``Solo``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import ahocorasick

from copyalign.core.guard.folding import Folded, byte_chars, bytewise, fold_slow, name_key, name_profile, prepare
from copyalign.core.text import CJK, weighted_length
from copyalign.errors import InvalidInputError


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


_Group = tuple[int, bool, bool, tuple[int, ...]]
"""Skeleton length, whether its first and last letters need a word boundary (not CJK), the entries."""
SENTENCE_BREAK = re.compile(r"[.!?;。！？；…][\s\u3000]|[。！？；]|\n\s*\n")
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
                key = name_key(name)
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
            automaton.add_word(bytewise(key), len(groups))
            groups.append((len(key), not CJK.match(key[0]), not CJK.match(key[-1]), tuple(members)))
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
        return self._find(prepare(prompt))

    def _find(self, f: Folded) -> list[TermHit]:
        if self._automaton is None or not f.skeleton:
            return []
        hits: list[TermHit] = []
        can_start, can_end = f.can_start, f.can_end
        char_at = None if f.skeleton.isascii() else byte_chars(f.skeleton)
        for byte_end, group in self._automaton.iter(bytewise(f.skeleton)):
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


def _verify(f: Folded, s: int, name: str) -> tuple[int, int] | None:
    """The span of the original prompt that a skeleton match from ``s`` covers, if it really names ``name``.

    Word boundaries are checked already (:attr:`Folded.can_start`); what is left needs the original text.
    """
    pre, _, words, cjk, original = name_profile(name)
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
        has_sep = any(fold_slow(c) == " " for c in gap)
        if words[k] == words[k + 1] and not cjk[k]:
            spaced[words[k]] = spaced.get(words[k], 0) + has_sep
            if has_sep and SENTENCE_BREAK.search(gap):
                broken.add(words[k])
        elif has_sep and SENTENCE_BREAK.search(gap):
            breaks.append((words[k], words[k + 1]))
    for w, seps in spaced.items():
        gaps = words.count(w) - 1
        if seps == 1 and gaps >= _SPLIT_MIN_LETTERS - 1 and w not in broken:
            continue  # one separator at a single point of a long enough word: "Bramble-jack", "Zephy rine"
        if seps and 2 * seps < gaps:
            return None
    if any(not (spaced.get(a) and spaced.get(b)) for a, b in breaks) and not SENTENCE_BREAK.search(name):
        return None  # (a name with a full stop of its own, "Dr. Hesper Quill", may keep it)
    return first, last + 1
