"""Text fingerprints for matching: tokens that survive reformatting, k-gram hashes, winnowing and MinHash.

Every copy of a text that matters in practice differs from the registered original in its *formatting*:
re-wrapped lines, changed case, straightened quotes, dropped punctuation, full-width forms. So matching
works on **tokens**, not characters: a token is a run of letters, digits and combining marks (a word) in
alphabetic scripts, and a single character in scripts written without spaces (Chinese, Japanese kana,
Thai, Lao, Khmer, Myanmar), after Unicode NFKC and case folding. Whitespace and punctuation between words
separate tokens, so they cannot break a match. Punctuation *inside* a word (``don't``, ``rights-holder``,
``e.g``, ``1,000``, ``and/or``, ``https://``) and a hyphen at a line break (``compli-\ncated``) are
dropped and the word stays whole: copies lose exactly those characters (stripped punctuation, OCR, de-
hyphenation), and a token that split on them would not match its copy. Each token keeps its character
offsets in the *original* text, so a match is reported where a reader can find it.

On the token sequence:

* **k-gram hashes** (``K`` consecutive tokens, 64-bit) are the shingles;
* **winnowing** (Schleimer, Wilkerson and Aiken 2003, the MOSS algorithm) keeps the minimum hash of every
  window of ``W`` consecutive k-grams. Two texts sharing a run of at least ``GUARANTEE_TOKENS = W + K - 1``
  tokens are *guaranteed* to share a selected fingerprint, while only about ``2 / (W + 1)`` of the k-grams
  are kept: the inverted index stays small and the guarantee is a theorem, not a tuning result;
* **MinHash** (computed by rensa) over all k-gram hashes estimates Jaccard similarity of whole documents;
  its signature is cut into ``BANDS`` bands of ``ROWS`` rows for locality-sensitive bucketing (Broder 1997; the scheme
  datatrove and text-dedup use at corpus scale).

Where the C kernel was built (``_kernels.c``: tokens, hashes, k-grams and winnowing in one pass), it
fingerprints every text: ASCII in a byte loop, any other (Chinese, Japanese, Korean, accented, mixed) from a
per-code-point table of the token pattern's classes and each character's normalised form
(:func:`_unicode_table`), asking Python only for the rare token whose normalisation depends on its
neighbours; 50-100x faster than the regex loop on Chinese. Without it, text whose words are ASCII (web text
with typographic quotes, dashes and no-break spaces included) takes a vectorised numpy path and other text a
regex loop in Python; all three give identical arrays.

Example:
    >>> fp = text_fingerprint("Shall I compare thee to a summer's day? Thou art more lovely and more temperate.")
    >>> fp.size, int(fp.starts[6]), int(fp.ends[6])
    (15, 26, 34)
    >>> bool((fp.token_hashes[:2] == hash_tokens(["shall", "i"])).all())
    True
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import rensa

from copyalign.core import kernels
from copyalign.core.kernels import native

FINGERPRINT_VERSION = 2

K = 5
"""Tokens per shingle. Five words is rare enough across unrelated texts and short enough that a 5 % word
substitution rate still leaves most shingles intact (0.95**5 = 0.77)."""
W = 8
"""Winnowing window, in k-grams."""
GUARANTEE_TOKENS = W + K - 1
"""Any shared run of at least this many tokens yields a shared winnowed fingerprint."""
NUM_PERM = 128
BANDS = 16
ROWS = NUM_PERM // BANDS
"""16 bands of 8 rows: documents with Jaccard similarity 0.8 collide in some band with probability
1 - (1 - 0.8**8)**16 = 0.96, at 0.5 with probability 0.06."""

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

# Scripts written without spaces: every character is a token.
_CHAR_SCRIPTS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3005\u3007\u3021-\u3029\u3038-\u303b"  # CJK iteration marks and Hangzhou numerals
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\U00020000-\U0003134f"
)


_LINE_HYPHEN = "[-\u2010][ \t]*\r?\n[ \t]*"
"""A hyphen that breaks a word across lines: the word is joined again."""


@lru_cache(maxsize=1)
def _mark_ranges() -> tuple[tuple[int, int], ...]:
    """The combining marks (category M), as inclusive ranges: they belong to the word they modify, and
    Python's ``\\w`` leaves them out."""
    marks: list[tuple[int, int]] = []
    start = None
    # Marks above U+1FFFF are only the variation selectors supplement; scanning the planes above would cost
    # half a second at import.
    for cp in range(0x20000):
        is_mark = unicodedata.category(chr(cp)).startswith("M")
        if is_mark and start is None:
            start = cp
        elif not is_mark and start is not None:
            marks.append((start, cp - 1))
            start = None
    return (*marks, (0xE0100, 0xE01EF))


def _mark_class() -> str:
    """:func:`_mark_ranges` as the body of a regex character class."""
    return "".join(f"{_esc(a)}-{_esc(b)}" if b > a else _esc(a) for a, b in _mark_ranges())


@lru_cache(maxsize=1)
def _token_re() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The token pattern, and the pattern of the glue characters to delete from inside a token."""
    mark_class = _mark_class()
    word = f"(?:[^\\W_{_CHAR_SCRIPTS}]|[{mark_class}])+"
    glue = f"(?:(?:[^\\s\\w{_CHAR_SCRIPTS}{mark_class}]|_)+|{_LINE_HYPHEN})"
    return re.compile(f"([{_CHAR_SCRIPTS}])|({word}(?:{glue}{word})*)"), re.compile(f"(?:[^\\w{mark_class}]|_)+")


def _esc(cp: int) -> str:
    return f"\\U{cp:08x}"


_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
# Odd multipliers for the k-gram polynomial (fixed: they are part of FINGERPRINT_VERSION).
_KGRAM_MULT = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                        0xFF51AFD7ED558CCD][:K], dtype=np.uint64)  # fmt: skip


def mix64(x: U64) -> U64:
    """splitmix64's finaliser: spreads every input bit over the output so that minima are uniform."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


@dataclass(frozen=True, slots=True)
class TextFingerprint:
    """The token hashes of one text and what is computed from them; offsets are into the original string."""

    starts: I64  # token i spans text[starts[i]:ends[i]]
    ends: I64
    token_hashes: U64
    kgrams: U64  # kgrams[i] covers tokens i .. i+K-1
    winnowed: I64  # positions (k-gram indexes) selected by winnowing, ascending and unique
    characters: int

    @property
    def fingerprints(self) -> U64:
        """The winnowed k-gram hashes, in position order."""
        return self.kgrams[self.winnowed]

    @property
    def size(self) -> int:
        return int(self.token_hashes.size)


_P = np.uint64(0x9FB21C651E98DF25)  # odd, hence invertible modulo 2**64
_P_INV = np.uint64(pow(int(_P), -1, 2**64))


def _powers(base: np.uint64, n: int) -> U64:
    out = np.full(n, base, dtype=np.uint64)
    out[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(out, dtype=np.uint64)


_POWERS: dict[int, U64] = {}


def _cached_powers(base: np.uint64, n: int) -> U64:
    """``base ** 0 .. base ** (n - 1)``, computed once for texts up to 64 KiB and then sliced."""
    table = _POWERS.get(int(base))
    if table is None or table.size < n:
        table = _powers(base, max(n, 1 << 16))
        table.setflags(write=False)
        _POWERS[int(base)] = table
    return table[:n]


def _segment_hashes(codepoints: U64, starts: I64, ends: I64) -> U64:
    """A 64-bit hash of each ``codepoints[starts[i]:ends[i]]``, with no Python loop.

    Polynomial hashing modulo 2**64: prefix sums of ``c_j * P**j`` give every segment's sum in O(1), and
    multiplying by ``P**-start`` (``P`` is odd, so it has an inverse) makes the hash independent of where
    the segment sits. A final mix spreads it.
    """
    n = codepoints.size
    if starts.size == 0:
        return np.empty(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(codepoints * _cached_powers(_P, n), dtype=np.uint64, out=prefix[1:])
        h = (prefix[ends] - prefix[starts]) * _cached_powers(_P_INV, n)[starts]
        h ^= (ends - starts).astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
    return mix64(h)


_ASCII_WORD = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789":
    _ASCII_WORD[_c] = True
_ASCII_SPACE = np.array([chr(c).isspace() for c in range(256)], dtype=bool)
_ASCII_LINE_HYPHEN = re.compile(_LINE_HYPHEN)


def _ascii_tokens(text: str) -> tuple[I64, I64, U64]:
    """The general tokenizer's tokens of an ASCII text, found with array operations instead of a regex loop."""
    lower = text.lower()
    raw = np.frombuffer(lower.encode("ascii"), dtype=np.uint8)
    word = _ASCII_WORD[raw]
    glue = np.zeros(raw.size, dtype=bool)
    punct = ~word & ~_ASCII_SPACE[raw]
    if punct.any():  # runs of punctuation with a word character on both sides
        edges = np.diff(punct.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
        lo, hi = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        inner = (lo > 0) & (hi < raw.size)
        lo, hi = lo[inner], hi[inner]
        inner = word[lo - 1] & word[hi]
        lo, hi = lo[inner], hi[inner]
        if lo.size:
            mark = np.zeros(raw.size + 1, dtype=np.int8)
            mark[lo] = 1  # a run starts on punctuation and ends before a word character: never the same index
            mark[hi] = -1
            glue = np.cumsum(mark[:-1], dtype=np.int8).astype(bool)
    for m in _ASCII_LINE_HYPHEN.finditer(lower):  # a literal first character: scanning is cheap
        if m.start() > 0 and m.end() < raw.size and word[m.start() - 1] and word[m.end()]:
            glue[m.start() : m.end()] = True
    if glue.any():
        kept = np.flatnonzero(~glue)
        raw, word = raw[kept], word[kept]
    else:
        kept = None
    edges = np.diff(word.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1).astype(np.int64)
    ends = np.flatnonzero(edges == -1).astype(np.int64)
    hashes = _segment_hashes(raw.astype(np.uint64), starts, ends)
    if kept is not None:  # back to offsets in the text, glue included
        starts, ends = kept[starts], kept[ends - 1] + 1
    return starts, ends, hashes


class _AsciiSeparators(dict[int, int]):
    """``str.translate`` table: a non-ASCII space becomes ``"\\x0b"``, non-ASCII punctuation or symbol ``"'"``
    (U+2010 HYPHEN ``"-"``, which may break a word across lines), anything else stays.

    Both are separators or glue to the general tokenizer exactly as their ASCII stand-ins are to the ASCII
    one, and the mapping is one character for one, so offsets do not move: web text that is ASCII but for
    curly quotes, dashes and no-break spaces takes the vectorised path (5-10x faster than the regex loop).
    """

    def __missing__(self, cp: int) -> int:
        c = chr(cp)
        if cp < 128:
            out = cp
        elif cp == 0x2010:
            out = ord("-")
        elif c.isspace():
            # a separator, but not " ": the line-break hyphen rule (_LINE_HYPHEN) continues over ASCII spaces
            # and tabs only, and "-\n\u00a0word" must stay two tokens here as it does in the general tokenizer
            out = 0x0B
        elif c.isalnum() or unicodedata.category(c).startswith("M") or _CHAR_SCRIPT_RE.match(c):
            out = cp
        else:
            out = ord("'")
        self[cp] = out
        return out


_CHAR_SCRIPT_RE = re.compile(f"[{_CHAR_SCRIPTS}]")
_TO_ASCII = _AsciiSeparators()


def tokenize(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Tokens (NFKC, case-folded) and their ``(start, end)`` character offsets in ``text``.

    Example:
        >>> tokenize("“Ｈello” — rights-holder’s 版权法")
        (['hello', 'rightsholders', '版', '权', '法'], [(1, 6), (10, 25), (26, 27), (27, 28), (28, 29)])
    """
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    token_re, _ = _token_re()
    for m in token_re.finditer(text):
        tok = m.group()
        if tok.isascii() and tok.isalnum():  # most words: nothing to delete or normalise
            tokens.append(tok.lower())
            spans.append(m.span())
            continue
        span = m.span()
        for t in _normal_tokens(tok, m.group(2) is not None):
            tokens.append(t)
            spans.append(span)
    return tokens, spans


def _normal_tokens(tok: str, word: bool) -> list[str]:
    """The tokens of one match of the token pattern: a word (``word``) or a character of a script written
    without spaces, glue deleted, NFKC, case-folded. Usually one; none or several where NFKC makes spaces or
    such characters ("½" -> "1⁄2" stays one, "ｶﾀｶﾅ" -> "カタカナ" is four)."""
    token_re, glue_re = _token_re()
    if word and not tok.isalnum():
        tok = glue_re.sub("", tok)
    if tok.isascii():
        return [tok.casefold()]
    tok = unicodedata.normalize("NFKC", tok)
    # A compatibility character can decompose to a space or punctuation ("½" -> "1⁄2"): split again.
    parts = token_re.findall(tok)
    if len(parts) != 1:
        return [glue_re.sub("", single or w).casefold() for single, w in parts]
    return [(glue_re.sub("", tok) if parts[0][1] else tok).casefold()]


def hash_tokens(tokens: list[str]) -> U64:
    """The same hashes :func:`text_fingerprint` gives, for tokens already split and normalised."""
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    joined = "".join(tokens)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
    ends = np.cumsum(lengths)
    return _segment_hashes(cps, ends - lengths, ends)


def kgram_hashes(token_hashes: U64, k: int = K) -> U64:
    """One 64-bit hash per window of ``k`` tokens (fewer tokens than ``k``: one hash of them all)."""
    n = token_hashes.size
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    k = min(k, n)
    acc = np.zeros(n - k + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            acc += token_hashes[j : n - k + 1 + j] * _KGRAM_MULT[j]
    return mix64(acc)


def winnow(hashes: U64, w: int = W) -> I64:
    """Positions chosen by winnowing: the leftmost minimum of every window of ``w`` hashes.

    Fewer than ``w`` hashes form a single window. Identical windows choose identical positions relative to
    the window, which is what makes the selection robust to edits outside the window.
    """
    n = hashes.size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    w = min(w, n)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, w)
    picks = windows.argmin(axis=1).astype(np.int64) + np.arange(n - w + 1, dtype=np.int64)
    # Sliding leftmost minima never move left, so duplicates are adjacent: no sort needed.
    keep = np.ones(picks.size, dtype=bool)
    keep[1:] = picks[1:] != picks[:-1]
    out: I64 = picks[keep]
    return out


# Classes of the compiled Unicode path's table (``_kernels.c``: U_OTHER ... U_CHAR_MARK).
_U_OTHER, _U_GLUE, _U_HYPHEN, _U_WORD, _U_CHAR, _U_CHAR_MARK = range(6)


@lru_cache(maxsize=1)
def _unicode_table() -> tuple[bytes, bytes, bytes]:
    """The token pattern's character classes and each character's normalised form, for ``fingerprint_unicode``.

    Classes come from the pattern's own pieces, matched against every code point, so the kernel splits text
    exactly where :func:`tokenize` does. Results:

    * a word character is *simple* where NFKC cannot join it to its neighbours (:class:`kernels.UnicodeFacts`
      ``boundary_before``) and turns it into word characters only (not "½" -> "1⁄2", not "ｶ" -> "カ"): a token of
      simple characters is then, exactly, the concatenation of each one's ``casefold(NFKC(c))``. A token with any
      other character is handed back to :func:`_normal_tokens`.
    * a character of a script written without spaces is a token on its own whatever surrounds it, so its
      tokens' hashes are computed here, by :func:`_normal_tokens` itself, where NFKC or case folding changes it.
    """
    facts = kernels.unicode_facts()
    text = kernels.everything()
    char = kernels.member(f"[{_CHAR_SCRIPTS}]", text)
    mark = np.zeros(kernels.CODE_POINTS, dtype=bool)
    for a, b in _mark_ranges():  # as the class of the pattern (matching it against every code point is slow)
        mark[a : b + 1] = True
    underscore = np.zeros(kernels.CODE_POINTS, dtype=bool)
    underscore[ord("_")] = True
    word = ((facts.word & ~underscore) | mark) & ~char
    glue = (~facts.space & ~facts.word & ~char & ~mark) | underscore
    if not glue[[ord("-"), 0x2010]].all():
        raise AssertionError("the line-break hyphens must be glue")
    entries = np.full(kernels.CODE_POINTS, _U_OTHER, dtype=np.uint32)
    entries[glue] = _U_GLUE
    entries[[ord("-"), 0x2010]] = _U_HYPHEN
    entries[word] = _U_WORD | kernels.SIMPLE * facts.boundary_before[word]
    entries[char & ~mark] = _U_CHAR | kernels.SIMPLE
    entries[char & mark] = _U_CHAR_MARK | kernels.SIMPLE
    exp = kernels.Expansions()
    singles: dict[int, list[str]] = {}
    for cp in sorted(facts.nfkc.keys() | facts.casefold.keys()):
        if word[cp]:
            nfkc = facts.nfkc_of(cp)
            folded = facts.casefold_of(nfkc)
            if facts.boundary_before[cp] and all(word[ord(c)] for c in nfkc) and len(folded) <= kernels.MAX_LENGTH:
                entries[cp] = exp.mapping(_U_WORD, cp, folded)
            else:
                entries[cp] = _U_WORD
        elif char[cp]:
            singles[cp] = _normal_tokens(chr(cp), word=False)
    hashes = iter(hash_tokens([t for tokens in singles.values() for t in tokens]).tolist())
    for cp, tokens in singles.items():
        cls = _U_CHAR_MARK if mark[cp] else _U_CHAR
        got = [next(hashes) for _ in tokens]
        entries[cp] = exp.token_hashes(cls, got) if 1 <= len(got) <= kernels.MAX_LENGTH else cls
    stage1, stage2 = kernels.two_stage(entries)
    return stage1, stage2, exp.tobytes()


def _resolve(text: str, start: int, end: int, word: int) -> bytes:
    """The compiled Unicode path's question: the hashes of the tokens that ``text[start:end]`` makes."""
    return hash_tokens(_normal_tokens(text[start:end], bool(word))).tobytes()


def _i64(buf: bytes) -> I64:
    return np.frombuffer(buf, dtype=np.int64)


def _u64(buf: bytes) -> U64:
    return np.frombuffer(buf, dtype=np.uint64)


def text_fingerprint(text: str) -> TextFingerprint:
    """Tokens, k-grams and winnowed fingerprints of ``text``, by the C kernel where it was built (ASCII text,
    and any other from :func:`_unicode_table`), else by :func:`numpy_fingerprint`."""
    if native is None:
        return numpy_fingerprint(text)
    arrays = native.fingerprint(text) if text.isascii() else None
    if arrays is None:
        arrays = native.fingerprint_unicode(text, *_unicode_table(), _resolve)
    starts, ends, th, kg, win = arrays
    return TextFingerprint(_i64(starts), _i64(ends), _u64(th), _u64(kg), _i64(win), len(text))


def numpy_fingerprint(text: str) -> TextFingerprint:
    """:func:`text_fingerprint` without the C kernel (the reference it is tested against)."""
    ascii_text = text if text.isascii() else text.translate(_TO_ASCII)
    if ascii_text.isascii():
        starts, ends, th = _ascii_tokens(ascii_text)
    else:
        tokens, spans = tokenize(text)
        th = hash_tokens(tokens)
        starts = np.fromiter((a for a, _ in spans), dtype=np.int64, count=len(spans))
        ends = np.fromiter((b for _, b in spans), dtype=np.int64, count=len(spans))
    kg = kgram_hashes(th)
    return TextFingerprint(starts, ends, th, kg, winnow(kg), len(text))


# --- MinHash -------------------------------------------------------------------------------------------


_SEED = 20261122


def minhash(shingles: U64) -> U32:
    """A ``NUM_PERM``-value MinHash signature of a set of 64-bit shingle hashes, computed by rensa.

    rensa (Rust) takes our pre-hashed shingles directly and is about 90 times faster than the numpy
    multiply-shift version this module first had (``benchmarks/matching_speed.py``); its
    ``ALGORITHM_VERSION`` is recorded in every persisted index so that signatures are never compared across
    versions.
    """
    sig: U32 = minhash_many(shingles, np.array([0, shingles.size], dtype=np.uint64))[0]
    return sig


def minhash_many(shingles: U64, offsets: U64) -> npt.NDArray[np.uint32]:
    """Signatures of many documents at once: document ``i`` is ``shingles[offsets[i]:offsets[i + 1]]``."""
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        np.ascontiguousarray(shingles, dtype=np.uint64), np.ascontiguousarray(offsets, dtype=np.uint64), NUM_PERM, _SEED
    )
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(-1, NUM_PERM)


def jaccard(sig_a: U32, sig_b: U32) -> float:
    """The MinHash estimate of Jaccard similarity: the share of equal signature values."""
    return float(np.count_nonzero(sig_a == sig_b)) / sig_a.size


def lsh_keys(signature: U32) -> U64:
    """One 64-bit key per band; two signatures share a key iff they agree on all rows of that band."""
    if native is not None and (BANDS, ROWS) == (16, 8):
        return _u64(native.lsh_keys(np.ascontiguousarray(signature, dtype=np.uint32).tobytes()))
    return numpy_lsh_keys(signature)


def numpy_lsh_keys(signature: U32) -> U64:
    """:func:`lsh_keys` without the C kernel."""
    rows = signature.reshape(BANDS, ROWS).astype(np.uint64)
    acc = np.arange(1, BANDS + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        for j in range(ROWS):
            acc = mix64(acc ^ rows[:, j])
    return acc
