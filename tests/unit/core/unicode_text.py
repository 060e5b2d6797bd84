"""Random text over the parts of Unicode where tokenising and normalising go wrong, for the property tests that
compare the C kernel with the Python reference: Chinese, Japanese and Korean (with their compatibility,
half-width and full-width forms, conjoining jamo and enclosed forms), combining marks, scripts written
without spaces, compatibility characters that NFKC expands ("½", "ﬁ", "Ⅻ"), emoji and variation selectors,
punctuation and spaces of every kind, hyphens at line breaks, and any code point at all. Lone surrogates
are left out (no decoded text holds one)."""

from __future__ import annotations

from hypothesis import strategies as st

RANGES = (
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0x3400, 0x4DBF),  # extension A
    (0x20000, 0x3134F),  # extensions B-G (and unassigned code points between)
    (0xF900, 0xFAFF),  # compatibility ideographs: NFKC maps them to unified ones
    (0x2F800, 0x2FA1F),  # compatibility ideographs supplement
    (0x2E80, 0x2FDF),  # radicals, Kangxi radicals: NFKC maps many to ideographs
    (0x3000, 0x303F),  # CJK symbols and punctuation, ideographic space, iteration marks
    (0x3040, 0x30FF),  # hiragana, katakana, voiced sound marks (combining and spacing)
    (0x31F0, 0x31FF),  # katakana phonetic extensions
    (0xFF00, 0xFFEF),  # half-width and full-width forms
    (0xAC00, 0xD7A3),  # Hangul syllables
    (0x1100, 0x11FF),  # conjoining jamo: NFKC composes them into syllables
    (0x3130, 0x318F),  # compatibility jamo
    (0x3200, 0x33FF),  # enclosed CJK letters, CJK compatibility (㈠, ㍻, ㎏)
    (0xFE30, 0xFE4F),  # CJK compatibility forms (vertical punctuation)
    (0x0300, 0x036F),  # combining diacritical marks
    (0x1AB0, 0x1DFF),  # more combining marks, phonetic extensions
    (0x0E00, 0x0EFF),  # Thai, Lao (marks inside the scripts written without spaces)
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x0900, 0x0DFF),  # Indic scripts: vowel signs that compose (U+09BE ...)
    (0x00A0, 0x024F),  # Latin-1 and Latin extended: precomposed letters, ß, ĳ, ŉ
    (0x0370, 0x04FF),  # Greek (final sigma) and Cyrillic
    (0x1E00, 0x1FFF),  # Latin extended additional, Greek extended
    (0x2000, 0x206F),  # general punctuation, spaces of every width, zero-width characters
    (0x2100, 0x24FF),  # letterlike symbols, number forms (½, Ⅻ), enclosed alphanumerics
    (0xFB00, 0xFB4F),  # ligatures (ﬁ), Hebrew presentation forms
    (0xFDF0, 0xFDFF),  # Arabic ligatures that NFKC expands to several words
    (0xFE00, 0xFE0F),  # variation selectors
    (0xE0000, 0xE01EF),  # tags, variation selectors supplement
    (0x1D400, 0x1D7FF),  # mathematical alphanumerics
    (0x1F000, 0x1FAFF),  # emoji, regional indicators
    (0x0000, 0x10FFFF),  # anything
)

PIECES = (
    [" ", "\n", "\t", "\r\n", "-", "_", ".", ",", "'", "/", "a", "Z", "9", "word", "-\n", "- \r\n  ", "\u2010\n"]
    + ["\u3000", "\u00a0", "\u2019", "\u201c", "\u2014", "\u00ad", "\u200b", "，", "。", "、", "「", "」"]
    + ["ｶﾞ", "ｶﾀｶﾅ", "ᄀ\u1161\u11a8", "가\u11a8", "e\u0301", "Ｈ\u0307", "½", "ﬁ", "Ⅻ", "ß", "İ", "ΣΑΣ", "ﷺ"]
)


def characters() -> st.SearchStrategy[str]:
    return st.one_of(
        *(st.characters(min_codepoint=lo, max_codepoint=hi, exclude_categories=("Cs",)) for lo, hi in RANGES)
    )


def unicode_texts(max_size: int = 60) -> st.SearchStrategy[str]:
    """Texts of up to ``max_size`` pieces, each a character from :data:`RANGES` or one of :data:`PIECES`."""
    return st.lists(st.one_of(characters(), st.sampled_from(PIECES)), max_size=max_size).map("".join)
