"""How much a piece of text weighs, whatever its script: the one definition every threshold shares.

Chinese and Japanese are written without spaces, and one character carries about as much as a short Latin
word's two letters, or half a word: a two-character Chinese title is as specific as a two-word English one,
20 Chinese character tokens are a phrase rather than a passage (on the held-out half of the Chinese seed
paper, 20-character legal formulas matched other chapters), and a four-character name is as distinctive as
an eight-letter one. So a CJK character counts :data:`CJK_WEIGHT` times wherever the policy counts letters,
tokens or words; this module is the only place that says so.

Example:
    >>> weighted_length("Zorblax"), weighted_length("佐布拉克")
    (7, 8)
    >>> title_words("The Night Garden"), title_words("夜园")
    (3, 2)
"""

from __future__ import annotations

import re

CJK_WEIGHT = 2
"""How many Latin letters (or words, or tokens) one CJK character counts for."""

CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x2E80, 0x2FDF),  # CJK and Kangxi radicals
    (0x3005, 0x3005),
    (0x3007, 0x3007),
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3038, 0x303B),
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3100, 0x312F),  # bopomofo
    (0x31A0, 0x31FF),
    (0x3400, 0x4DBF),  # unified ideographs, extension A
    (0x4E00, 0x9FFF),  # unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0x20000, 0x3134F),  # extensions B to G
)
"""The code points of :data:`CJK`, as inclusive ranges (for lookup tables built without the regex)."""

CJK = re.compile("[" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in CJK_RANGES) + "]")
"""Scripts written without spaces (CJK radicals, kana, bopomofo, the unified ideographs and their
extensions): a name in them needs no word boundary, and each character is a word."""


def cjk_count(text: str) -> int:
    """How many characters of ``text`` belong to a script written without spaces."""
    return 0 if text.isascii() else len(CJK.findall(text))


def weighted_length(text: str) -> int:
    """The length of ``text`` in Latin-letter equivalents: a CJK character counts :data:`CJK_WEIGHT`."""
    return len(text) + (CJK_WEIGHT - 1) * cjk_count(text)


def token_weight(span: str, tokens: int) -> int:
    """How many tokens count as one word in a passage of ``tokens`` tokens: :data:`CJK_WEIGHT` where the
    passage is mostly CJK characters (each its own token), 1 otherwise."""
    return CJK_WEIGHT if cjk_count(span) * 2 > tokens else 1


def title_words(title: str) -> int:
    """The words of a title, for the policy's ``title_min_words``: a title of two or more CJK characters
    counts as :data:`CJK_WEIGHT` words at least."""
    return max(len(title.split()), CJK_WEIGHT if cjk_count(title) >= 2 else 0)


__all__ = ["CJK", "CJK_WEIGHT", "cjk_count", "title_words", "token_weight", "weighted_length"]
