"""Text fingerprints: tokens survive formatting, offsets point into the original, winnowing keeps its promise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from copyalign.core.matching import textfp
from copyalign.core.matching.passages import passages, shared_tokens_bound
from tests.unit.core.unicode_text import unicode_texts

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "while",
    "seven",
    "wizards",
    "quietly",
    "hex",
    "jovial",
    "kings",
]


def test_formatting_changes_give_the_same_token_hashes() -> None:
    original = "\u201cShall I compare thee\u201d \u2014 to a SUMMER'S day?\nThou art more lovely."
    variants = [
        '"shall i compare thee" - to a summer\'s day? thou art more lovely.',
        "SHALL I COMPARE THEE TO A SUMMERS DAY THOU ART MORE LOVELY",  # punctuation stripped
        "Ｓhall  I\tcompare\n\nthee, to a summer\u2019s day; thou art more lovely!",
        "Shall I compare thee to a sum-\n   mer's day? Thou art more lovely.",  # hyphenated at a line break
        "Shall I compare thee to a summer\u00ads day? Thou art more lovely.",  # soft hyphen
    ]
    base = textfp.text_fingerprint(original).token_hashes
    assert base.size == 12
    for variant in variants:
        assert np.array_equal(textfp.text_fingerprint(variant).token_hashes, base), variant


def test_punctuation_inside_a_word_joins_it_punctuation_between_words_separates() -> None:
    tokens, _ = textfp.tokenize("rights-holder, and/or 1,000 e.g. snake_case -- end. Next a - b x\u2014y http://a.b")
    assert tokens == ["rightsholder", "andor", "1000", "eg", "snakecase", "end", "next", "a", "b", "xy", "httpab"]
    stripped, _ = textfp.tokenize("rightsholder andor 1000 eg snakecase end Next a b xy httpab")
    assert stripped == tokens


def test_offsets_point_into_the_original_text() -> None:
    text = "  Ｈello,\u00a0WORLD — ﬁne café\u0301!"
    fp = textfp.text_fingerprint(text)
    pieces = [text[s:e] for s, e in zip(fp.starts.tolist(), fp.ends.tolist(), strict=True)]
    assert pieces == ["Ｈello", "WORLD", "ﬁne", "café\u0301"]


def test_chinese_is_tokenised_by_character_and_japanese_kana_too() -> None:
    tokens, spans = textfp.tokenize("版权法，第24条。AI训练 ひらがな")
    assert tokens == ["版", "权", "法", "第", "24", "条", "ai", "训", "练", "ひ", "ら", "が", "な"]
    assert spans[4] == (5, 7)  # after the full-width comma at 3 and 第 at 4


def test_ascii_fast_path_agrees_with_the_general_path() -> None:
    text = (
        "It was the best of times, it was the WORST of times; it-was 1859 -- don't, e.g.\n"
        "a line-\n  break_here x-\r\ny a-\n\nb ..c.. 3.14 'quoted' \x1cgap\x00nul"
    )
    fast = textfp.text_fingerprint(text)
    tokens, spans = textfp.tokenize(text)
    assert np.array_equal(fast.token_hashes, textfp.hash_tokens(tokens))
    assert list(zip(fast.starts.tolist(), fast.ends.tolist(), strict=True)) == spans
    # a non-ASCII character elsewhere must not change the hashes of the shared words
    mixed = textfp.text_fingerprint(text + " café")
    assert np.array_equal(mixed.token_hashes[: fast.size], fast.token_hashes)


@settings(max_examples=60, deadline=None)
@given(
    prefix=st.lists(st.sampled_from(WORDS), max_size=40),
    shared=st.lists(st.sampled_from(WORDS), min_size=textfp.GUARANTEE_TOKENS, max_size=60),
    suffix=st.lists(st.sampled_from(WORDS), max_size=40),
    other=st.lists(st.sampled_from(WORDS), max_size=40),
)
def test_winnowing_guarantee_any_shared_run_of_guarantee_length_shares_a_fingerprint(
    prefix: list[str], shared: list[str], suffix: list[str], other: list[str]
) -> None:
    a = textfp.text_fingerprint(" ".join(prefix + shared + suffix))
    b = textfp.text_fingerprint(" ".join(other + shared))
    assert set(a.fingerprints.tolist()) & set(b.fingerprints.tolist())


def test_winnowing_selects_a_fraction_of_kgrams() -> None:
    rng = np.random.default_rng(1)
    text = " ".join(rng.choice(WORDS, size=5000))
    fp = textfp.text_fingerprint(text)
    density = fp.winnowed.size / fp.kgrams.size
    assert 0.15 < density < 2 / (textfp.W + 1) + 0.05


def test_minhash_estimates_jaccard_and_lsh_keys_collide_for_near_duplicates() -> None:
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in rng.integers(0, 50_000, size=3000)]
    a = textfp.text_fingerprint(" ".join(words))
    edited = list(words)
    for i in rng.choice(len(words), size=30, replace=False):
        edited[i] = "changed"
    b = textfp.text_fingerprint(" ".join(edited))
    c = textfp.text_fingerprint(" ".join(f"w{i}" for i in rng.integers(0, 50_000, size=3000)))
    sa, sb, sc = (textfp.minhash(x.kgrams) for x in (a, b, c))
    true_j = len(set(a.kgrams.tolist()) & set(b.kgrams.tolist())) / len(set(a.kgrams.tolist()) | set(b.kgrams.tolist()))
    assert abs(textfp.jaccard(sa, sb) - true_j) < 0.12
    assert textfp.jaccard(sa, sc) < 0.05
    assert set(textfp.lsh_keys(sa).tolist()) & set(textfp.lsh_keys(sb).tolist())
    assert not set(textfp.lsh_keys(sa).tolist()) & set(textfp.lsh_keys(sc).tolist())


def test_passages_bridge_a_substituted_word_and_report_both_offsets() -> None:
    work = np.arange(100, 200, dtype=np.uint64)
    query = np.concatenate([np.arange(900, 910), work[20:60], np.arange(950, 960)]).astype(np.uint64)
    query[10 + 20] = 7  # one substituted word in the middle of the copied run
    hits_q = np.array([12, 35, 45], dtype=np.int64)
    hits_w = hits_q - 10 + 20
    (p,) = passages(query, work, hits_q, hits_w, min_run=textfp.K, max_gap=10)
    assert (p.query_start, p.query_end, p.work_start, p.work_end) == (10, 50, 20, 60)
    assert p.matched == 39


def test_passages_drop_hits_that_do_not_verify() -> None:
    work = np.arange(100, 200, dtype=np.uint64)
    query = np.arange(500, 540, dtype=np.uint64)
    assert passages(query, work, np.array([3]), np.array([10]), min_run=5, max_gap=10) == []


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cap=st.integers(textfp.K, 60))
def test_the_candidate_bound_never_drops_a_work_whose_passage_is_long_enough(seed: int, cap: int) -> None:
    # The engine skips passages() for a work whose bound is under the passage length it needs: sound only if the
    # bound is at least every passage's matched tokens (or over cap). Six token values make stock phrases (shared
    # k-grams off the copied passage) common; a copied slice with substitutions, insertions and deletions makes
    # passages pieced across diagonals; a random half of the shared k-grams are the hits, as winnowing keeps some.
    rng = np.random.default_rng(seed)
    works = [rng.integers(0, 6, int(rng.integers(8, 120))).astype(np.uint64) for _ in range(3)]
    query = list(rng.integers(0, 6, int(rng.integers(8, 150))))
    src = works[int(rng.integers(0, 3))]
    a = int(rng.integers(0, src.size))
    piece = list(src[a : a + int(rng.integers(1, 80))])
    for _ in range(int(rng.integers(0, 4))):  # edits inside the copy
        i = int(rng.integers(0, len(piece) + 1))
        edit = int(rng.integers(0, 3))
        if edit == 0 and i < len(piece):
            piece[i] = np.uint64(99)
        elif edit == 1:
            piece.insert(i, np.uint64(98))
        elif i < len(piece):
            del piece[i]
    at = int(rng.integers(0, len(query) + 1))
    q = np.array(query[:at] + piece + query[at:], dtype=np.uint64)
    k = textfp.K
    qpos, fpos, group, lo, hi, best = [], [], [], [], [], []
    start = 0
    for g, w in enumerate(works):
        shared = [
            (i, j)
            for i in range(q.size - k + 1)
            for j in range(w.size - k + 1)
            if np.array_equal(q[i : i + k], w[j : j + k]) and rng.random() < 0.5
        ]
        hq = np.array([i for i, _ in shared], dtype=np.int64)
        hw = np.array([j for _, j in shared], dtype=np.int64)
        found = passages(q, w, hq, hw, min_run=k, max_gap=10) if shared else []
        best.append(max((p.matched for p in found), default=0))
        qpos += hq.tolist()
        fpos += (hw + start).tolist()
        group += [g] * len(shared)
        lo += [start] * len(shared)
        hi += [start + w.size] * len(shared)
        start += w.size
    if not qpos:
        return
    flat = np.concatenate(works)
    arr = (np.array(x, dtype=np.int64) for x in (lo, hi, qpos, fpos, group))
    lo_a, hi_a, qpos_a, fpos_a, group_a = arr
    bound = shared_tokens_bound(q, flat, lo_a, hi_a, qpos_a, fpos_a, group_a, len(works), cap)
    for g in range(len(works)):
        assert bound[g] >= min(best[g], cap + 1), (g, bound[g], best[g])


def test_the_candidate_bound_drops_a_work_that_shares_only_scattered_stock_phrases() -> None:
    work = np.arange(100, 200, dtype=np.uint64)
    query = np.concatenate([np.arange(900, 910), work[10:16], np.arange(920, 930), work[50:56], np.arange(940, 950)])
    hits_q, hits_w = np.array([10, 26]), np.array([10, 50])  # two 6-token runs on different diagonals
    bound = shared_tokens_bound(
        query.astype(np.uint64),
        work,
        np.zeros(2, np.int64),
        np.full(2, 100),
        hits_q,
        hits_w,
        np.zeros(2, np.int64),
        1,
        40,
    )
    assert bound.tolist() == [12]  # under a 40-token passage: the work is never verified
    copied = np.concatenate([np.arange(900, 910), work[10:60]]).astype(np.uint64)
    bound = shared_tokens_bound(
        copied,
        work,
        np.zeros(1, np.int64),
        np.full(1, 100),
        np.array([12]),
        np.array([12]),
        np.zeros(1, np.int64),
        1,
        40,
    )
    assert bound.tolist() == [41]  # a run longer than the cap: over it, so verified


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            list("ab9Z -_.,'\n\t\r\x1c/")
            + ["-\n", "--", "-\r\n  "]
            # web text's typographic punctuation and spaces, which the fast path maps to ASCII stand-ins
            + list("\u2019\u201c\u201d\u2014\u2013\u2026\u00a0\u2009\u00ad\u200b\u00a9\u20ac\u2010")
            + ["\u2010\n", "\u2010 \r\n"]
        ),
        max_size=40,
    )
)
def test_ascii_fast_path_agrees_with_the_general_path_on_any_ascii(pieces: list[str]) -> None:
    text = "".join(pieces)
    fast = textfp.text_fingerprint(text)
    tokens, spans = textfp.tokenize(text)
    assert np.array_equal(fast.token_hashes, textfp.hash_tokens(tokens))
    assert list(zip(fast.starts.tolist(), fast.ends.tolist(), strict=True)) == spans


_KERNEL_PIECES = st.sampled_from(
    [*WORDS, "Don't", "RIGHTS-holder", "1,000", "e.g.", "and/or"]
    + list(" \n\t\r\x1c-_.,'/ab9Z")
    + ["-\n", "--", "-\r\n  ", "x-\n\ny", " - "]
    + list("\u2019\u201c\u201d\u2014\u2013\u2026\u00a0\u2009\u00ad\u200b\u00a9\u20ac\u2010\U0001f600")
    + ["\u2010\n", "\u2010 \r\n", "café", "版权", "\U00020000", "\U000e0001"]
)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_KERNEL_PIECES, max_size=60))
@example(pieces=["the", "\u2010\n", "\xa0", "the"])  # a no-break space after a line-break hyphen: two tokens
def test_the_c_kernel_gives_the_numpy_fingerprint_exactly(pieces: list[str]) -> None:
    # Fingerprints are persisted in indexes: the accelerated and the reference path must agree on every array,
    # for ASCII text, for text the separator table maps, and for text that needs the general path.
    text = "".join(pieces)
    fast, ref = textfp.text_fingerprint(text), textfp.numpy_fingerprint(text)
    for name in ("starts", "ends", "token_hashes", "kgrams", "winnowed"):
        assert np.array_equal(getattr(fast, name), getattr(ref, name)), name
    assert fast.characters == ref.characters


def test_the_c_kernel_is_built_where_a_compiler_is() -> None:
    # CI builds on a machine with gcc: a silent fallback there would hide a broken build behind slow scans.
    import shutil

    if shutil.which("cc") or shutil.which("gcc"):
        assert textfp.native is not None


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_c_kernel_gives_the_numpy_lsh_keys_exactly(seed: int) -> None:
    sig = np.random.default_rng(seed).integers(0, 2**32, textfp.NUM_PERM, dtype=np.uint64).astype(np.uint32)
    sig[: seed % textfp.NUM_PERM] = 7  # bands of equal values too
    assert np.array_equal(textfp.lsh_keys(sig), textfp.numpy_lsh_keys(sig))


_ZH = Path(__file__).resolve().parents[2] / "data" / "zh_seed_excerpt.txt"  # from ../shared/seeds/002


def _same_fingerprint(text: str) -> None:
    fast, ref = textfp.text_fingerprint(text), textfp.numpy_fingerprint(text)
    for name in ("starts", "ends", "token_hashes", "kgrams", "winnowed"):
        assert np.array_equal(getattr(fast, name), getattr(ref, name)), name
    assert fast.characters == ref.characters


@settings(max_examples=600, deadline=None)
@given(text=unicode_texts())
def test_the_c_kernel_gives_the_reference_fingerprint_on_any_unicode(text: str) -> None:
    # Chinese, Japanese, Korean, combining marks, compatibility forms, emoji, any code point: the compiled
    # Unicode path must give the reference's arrays exactly, whatever its table lets it do alone
    _same_fingerprint(text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.characters(exclude_categories=("Cs",)), max_size=40))
def test_the_c_kernel_gives_the_reference_fingerprint_on_uniform_random_code_points(text: str) -> None:
    _same_fingerprint(text)


def _asking(asked: list[str]) -> Callable[[str, int, int, int], bytes]:
    def resolve(text: str, start: int, end: int, word: int) -> bytes:
        asked.append(text[start:end])
        return textfp._resolve(text, start, end, word)

    return resolve


@pytest.mark.skipif(textfp.native is None, reason="the C kernel was not built")
def test_chinese_japanese_and_korean_text_is_fingerprinted_without_asking_python() -> None:
    # the speed of CJK text depends on every one of its characters being in the table: none goes back to Python
    assert textfp.native is not None
    text = (
        _ZH.read_text("utf-8")
        + "\nひらがなとカタカナ、漢字。한국어 텍스트입니다. ＡＩ２０２４年「引用」①②…“quoted” café"
    )
    asked: list[str] = []
    starts, *_ = textfp.native.fingerprint_unicode(text, *textfp._unicode_table(), _asking(asked))
    assert asked == []
    assert len(starts) // 8 > 1500
    _same_fingerprint(text)


@pytest.mark.skipif(textfp.native is None, reason="the C kernel was not built")
def test_tokens_that_normalise_with_their_neighbours_are_asked_of_python() -> None:
    # a combining accent, a half-width kana with its voiced mark (NFKC composes "ガ") and conjoining jamo
    # (NFKC composes "가") depend on the character before them: the kernel hands those tokens to Python
    assert textfp.native is not None
    text = "cafe\u0301 au lait, ｶﾞｷ and ᄀ\u1161 版权"
    asked: list[str] = []
    textfp.native.fingerprint_unicode(text, *textfp._unicode_table(), _asking(asked))
    assert asked == ["cafe\u0301", "ｶﾞｷ", "ᄀ\u1161"]
    _same_fingerprint(text)
    assert textfp.tokenize("ｶﾞｷ ᄀ\u1161")[0] == ["ガ", "キ", "가"]


@pytest.mark.skipif(textfp.native is None, reason="the C kernel was not built")
def test_the_unicode_kernel_passes_errors_on_and_refuses_a_broken_table() -> None:
    assert textfp.native is not None
    stage1, stage2, expansions = textfp._unicode_table()

    def broken(text: str, start: int, end: int, word: int) -> bytes:
        raise RuntimeError("resolve failed")

    with pytest.raises(RuntimeError, match="resolve failed"):
        textfp.native.fingerprint_unicode("cafe\u0301", stage1, stage2, expansions, broken)
    with pytest.raises(ValueError, match="uint64"):
        textfp.native.fingerprint_unicode("cafe\u0301", stage1, stage2, expansions, lambda *_: b"abc")
    with pytest.raises(ValueError, match="code point table"):
        textfp.native.fingerprint_unicode("版权", stage1[:-2], stage2, expansions, textfp._resolve)
    bad_block = np.frombuffer(stage1, dtype=np.uint16).copy()
    bad_block[0x4E] = 60000  # the block of U+4E00 points past stage2
    with pytest.raises(ValueError, match="outside"):
        textfp.native.fingerprint_unicode("丁", bad_block.tobytes(), stage2, expansions, textfp._resolve)
