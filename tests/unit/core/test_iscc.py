"""The fast ISCC Text-Code is bit-identical to iscc-core, the reference implementation of ISO 24138.

Every public function is compared with iscc-core on iscc-core's own conformance vectors, on hand-picked texts
for each Unicode subtlety met on the way, and on hypothesis-generated text; the private fast paths (xxh32 of
many windows, the uint32 MinHash) are compared with ``xxhash`` and with the reference formula on the inputs
that reach their rare branches.
"""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import iscc_core as ic
import numpy as np
import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.registry import iscc
from copyalign.core.registry.iscc import (
    band_probes,
    bands,
    code_to_int,
    hamming,
    soft_hash_text,
    text_code,
    text_collapse,
)
from copyalign.errors import InvalidInputError

CONFORMANCE = json.loads(Path(ic.__file__).with_name("data.json").read_text(encoding="utf-8"))["gen_text_code_v0"]


def reference(text: str, bits: int = 64) -> str:
    return str(ic.gen_text_code_v0(text, bits)["iscc"])


def assert_conforms(text: str) -> None:
    collapsed = text_collapse(text)
    assert collapsed == ic.code_content_text.text_collapse(text)
    assert soft_hash_text(collapsed) == ic.soft_hash_text_v0(collapsed)
    assert text_code(text) == reference(text)


def test_public_api() -> None:
    assert sorted(iscc.__all__) == [
        "band_probes",
        "bands",
        "code_to_int",
        "hamming",
        "soft_hash_text",
        "text_code",
        "text_collapse",
    ]


@pytest.mark.parametrize("name", sorted(CONFORMANCE))
def test_iscc_core_conformance_vectors(name: str) -> None:
    (text, bits), expected = CONFORMANCE[name]["inputs"], CONFORMANCE[name]["outputs"]
    assert text_code(text, bits) == expected["iscc"]
    assert len(text_collapse(text)) == expected["characters"]


# One text per subtlety; each names what it pins.
SAMPLES = {
    "empty: one empty n-gram, not none": "",
    "shorter than the window": "a",
    "12 chars": "x" * 12,
    "13 chars: exactly one window": "x" * 13,
    "14 chars": "x" * 14,
    "all dropped": " \t\n.,;!?\x00\x7f\u200b",
    "ascii prose": "Call me Ishmael. Some years ago - never mind how long precisely - having little money.",
    "ascii symbols are kept, punctuation is not": "$+<=>^`|~ vs !\"#%&'()*,-./:;?@[\\]_{}",
    "repetition: duplicate n-grams and MinHash ties": ("To be, or not to be, that is the question: " * 40).upper(),
    "chinese": "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "chinese long, one window length dominates": "生成式人工智能的版权问题：训练阶段的复制与输出阶段的侵权责任。" * 12,
    "chinese with ascii and digits: many window lengths": "第3条规定AI训练数据(2024年版)适用于GPT-4等模型。" * 12,
    "diacritics drop after NFD": "Iñtërnâtiônàlizætiøn ☃ Ünïcödé e\u0301 a\u0308",
    "final sigma depends on context, before spaces go": "ΟΔΟΣ ΟΔΟΣ Σ",
    "dotted capital I lowers to i + combining dot": "İstanbul İ",
    "NFKC after lower can give capitals back": "𝐀𝐁𝐂 𝔞𝔟 ℌ",
    "compatibility: superscripts, circled, ligatures": "x¹y²z³ ①②③ ﬁﬀﬃ ½ ㎏ ™",
    "fullwidth forms": "ＡＢＣａｂｃ１２３",
    "compatibility ideographs": "\uf900\uf901\U0002f800 中\uf902",
    "inert char right before a compatibility char": "a¹中①",
    "compatibility char first and last": "①abc中文②",
    "hangul recomposes across a dropped mark": "\u1100\u0300\u1161 한국어 텍스트",
    "emoji, ZWJ, skin tone, variation selector": "🎨📚 👩\u200d💻 👍🏽 ❤\ufe0f",
    "supplementary planes": "\U00020000\U0002a6d6𓀀𝄞",
    "devanagari and arabic marks": "हिन्दी भाषा مَرْحَبًا",
    "controls, format chars, bidi, BOM": "\x00\x01\x1f\x7f\x85\u200e\u202e\ufeff text",
    "unicode whitespace": "a\u00a0b\u2003c\u3000d\u2028e\u2029f",
    "lone surrogates (category Cs) are dropped": "ab\ud800cd\udfffef\ud83d\ude00",
    "private use and unassigned": "\ue000\U000f0000\u0378\U000e0001",
}


@pytest.mark.parametrize("text", SAMPLES.values(), ids=SAMPLES.keys())
def test_matches_iscc_core_on_samples(text: str) -> None:
    assert_conforms(text)


@pytest.mark.parametrize("bits", [32, 64, 96, 128, 160, 192, 224, 256])
def test_every_bit_length(bits: int) -> None:
    text = SAMPLES["ascii prose"] + SAMPLES["chinese"]
    assert text_code(text, bits) == reference(text, bits)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_unicode(text: str) -> None:
    assert_conforms(text)


TRICKY = list(
    "aZ09 .,\t\n\x00$中文字\u3400\u9fff\uf900\u00e9e\u0301\u0300"
    "\u1100\u1161\u11a8가①¹ﬁＡΣσİ𝐀\U00020000🎨\u200d\ufe0f\ud800"
)


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(TRICKY) | st.characters(), max_size=200))
def test_dense_tricky_characters(text: str) -> None:
    assert_conforms(text)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(["中", "文", "字", "版", "权", "a", "7", "é", "ж", "①", "🎨", " "]), min_size=250, max_size=600
    ).map("".join)
)
def test_long_mixed_scripts_take_the_grouped_path(text: str) -> None:
    assert_conforms(text)


@settings(max_examples=40, deadline=None)
@given(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=13, max_size=2000))
def test_ascii_fast_path(text: str) -> None:
    assert_conforms(text)


@settings(max_examples=40, deadline=None)
@given(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=700, max_size=1500),
    st.lists(st.tuples(st.integers(0, 1500), st.sampled_from(["é", "ø", "¹", "中", "①", "🎨", "Σ", "ß"])), max_size=6),
)
def test_mostly_ascii_hashes_the_common_length_everywhere(text: str, inserts: list[tuple[int, str]]) -> None:
    for at, ch in inserts:
        text = text[:at] + ch + text[at:]
    assert_conforms(text)


@pytest.mark.parametrize(
    "text",
    [
        "版权保护与人工智能训练数据的合理使用" * 30,  # one 39-byte window length, gathered
        "авторское право и искусственный интеллект" * 15,  # 26-byte windows
        "🎨📚🎵\U00020000\U0002a6d6" * 60,  # 4-byte characters: 52-byte windows, three stripes and a word
    ],
    ids=["chinese", "cyrillic", "astral"],
)
def test_single_script_texts(text: str) -> None:
    assert_conforms(text)


@pytest.mark.parametrize("block", [1, 2, 7, 64])
def test_long_texts_go_in_blocks(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(iscc, "_BLOCK", block)
    for text in ("", "short", "x" * 13, SAMPLES["chinese long, one window length dominates"], SAMPLES["ascii prose"]):
        assert soft_hash_text(text_collapse(text)) == ic.soft_hash_text_v0(text_collapse(text))


# -- private fast paths -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 70), st.data())
def test_xxh32_of_windows_matches_xxhash(data: bytes, length: int, draw: st.DataObject) -> None:
    length = min(length, len(data))
    n = len(data) - length + 1
    words = iscc._words(data)
    every = iscc._xxh32_fixed(words, None, n, length)
    assert every.tolist() == [xxhash.xxh32_intdigest(data[i : i + length]) for i in range(n)]
    starts = np.array(draw.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8)), dtype=np.intp)
    some = iscc._xxh32_fixed(words, starts, len(starts), length)
    assert some.tolist() == [xxhash.xxh32_intdigest(data[s : s + length]) for s in starts.tolist()]


def reference_minhash(features: list[int], mpa: list[int], mpb: list[int]) -> list[int]:
    """iscc_core.minhash.alg_minhash, with the permutations as arguments."""
    mask64, prime, maxh = (1 << 64) - 1, (1 << 61) - 1, (1 << 32) - 1
    return [min((((a * f + b) & mask64) % prime) & maxh for f in features) for a, b in zip(mpa, mpb, strict=True)]


def test_minhash_matches_iscc_core_with_its_constants() -> None:
    rng = np.random.default_rng(24138)
    for size in (1, 2, 13, 1000):
        features = rng.integers(0, 2**32, size, dtype=np.uint32)
        assert iscc._minhash(features).tolist() == ic.alg_minhash(features.tolist())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=60),
    st.lists(st.tuples(st.integers(1, 2**64 - 1), st.integers(0, 2**64 - 1)), min_size=1, max_size=6),
)
def test_minhash_matches_the_formula_for_any_permutation(features: list[int], perms: list[tuple[int, int]]) -> None:
    mpa, mpb = (list(x) for x in zip(*perms, strict=True))
    got = iscc._minhash(np.array(features, dtype=np.uint32), np.array(mpa, np.uint64), np.array(mpb, np.uint64))
    assert got.tolist() == reference_minhash(features, mpa, mpb)


PRIME = (1 << 61) - 1


@pytest.mark.parametrize(
    "b",
    [
        # with a = 1, x = f + b: put x's low 61 bits (and so its low 32) at the top of the Mersenne range, where
        # the fold carries past 2**32 or needs its final subtraction, the branches uint32 cannot see
        pytest.param((5 << 61) + PRIME, id="x mod 2**61 = prime: reduces to x >> 61"),
        pytest.param((7 << 61) + PRIME - 3, id="x mod 2**61 = prime - 3: the fold crosses the prime"),
        pytest.param((3 << 61) + (1 << 40) - 2, id="low 32 bits wrap when the fold is added"),
        pytest.param((1 << 61) - (1 << 33), id="no carry, a small top part"),
    ],
)
def test_minhash_risky_features(b: int) -> None:
    features = [0, 1, 2, 3, 4, 5, 6, 7, 8, 1000, 2**31, 2**32 - 1]
    mpa, mpb = [1, 1, 3], [b, (b + 5) % 2**64, b]
    got = iscc._minhash(np.array(features, dtype=np.uint32), np.array(mpa, np.uint64), np.array(mpb, np.uint64))
    assert got.tolist() == reference_minhash(features, mpa, mpb)


def test_minhash_ties_and_duplicates() -> None:
    features = [7, 7, 7, 8, 9, 7, 2**32 - 1, 0, 0]
    mpa, mpb = [1, 2, 2**61 + 1], [0, 1, 5]
    got = iscc._minhash(np.array(features, dtype=np.uint32), np.array(mpa, np.uint64), np.array(mpb, np.uint64))
    assert got.tolist() == reference_minhash(features, mpa, mpb)


def test_minhash_constants_are_iscc_cores() -> None:
    source = Path(ic.__file__).with_name("minhash.py").read_text(encoding="utf-8")
    assert str(int(iscc.MPA[0])) in source and str(int(iscc.MPB[-1])) in source
    assert len(iscc.MPA) == len(iscc.MPB) == 64 and iscc.MPRIME == PRIME and iscc.NGRAM == 13


def test_inert_characters_never_combine_with_what_precedes() -> None:
    """The piecewise NFKC rests on this; it is checked against the running Python's Unicode database."""
    inert = {cp for cp in [*range(0x80), *range(0x3400, 0x4DC0), *range(0x4E00, 0xA000)] if iscc._classify(cp) == 2}
    assert len(inert) > 20_000
    for cp in range(0x110000):
        decomposition = unicodedata.decomposition(chr(cp)).split()
        if len(decomposition) > 1 and not decomposition[0].startswith("<"):
            assert not {int(x, 16) for x in decomposition[1:]} & inert, hex(cp)
    hangul_vowels_and_trailing = [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]
    assert not any(iscc._classify(cp) == 2 for cp in hangul_vowels_and_trailing)
    assert all(unicodedata.normalize("NFKC", chr(cp)) == chr(cp) for cp in inert)


# -- similarity ---------------------------------------------------------------------------------------


def test_similar_texts_have_close_codes() -> None:
    base = "It was the best of times, it was the worst of times, it was the age of wisdom. " * 10
    near = base.replace("wisdom", "wisdoms", 1)
    far = "A completely unrelated sentence about shipping containers and weather. " * 10
    a, b, c = (code_to_int(text_code(t)) for t in (base, near, far))
    assert hamming(a, a) == 0
    assert hamming(a, b) < hamming(a, c)


def test_code_to_int() -> None:
    assert code_to_int("ISCC:EAASKDNZNYGUUF5A") == 0x250DB96E0D4A17A0 == code_to_int("EAASKDNZNYGUUF5A")
    wide = text_code("Hello World", 256)
    assert code_to_int(wide) == int.from_bytes(soft_hash_text("helloworld"), "big")
    assert hamming(0b1011, 0b0110) == 3


@pytest.mark.parametrize(
    "bad",
    [
        "ISCC:KAASKDNZNYGUUF5AVWWD32ZWPB3BKOXH3AC7M6E2MQ",  # a composite ISCC-CODE
        "ISCC:EAASKDNZNYGUUF5",  # truncated body
        "ISCC:!!",
        "ISCC:",
        "hello",
    ],
)
def test_code_to_int_rejects(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        code_to_int(bad)


def test_band_probes_find_every_code_within_seven_bits() -> None:
    # the registry's similarity index: a code within distance 7 shares a band with at most one bit flipped
    rng = random.Random(7)
    for _ in range(200):
        code = rng.getrandbits(64)
        other = code
        for bit in rng.sample(range(64), rng.randint(0, 7)):
            other ^= 1 << bit
        assert any(b in band_probes(q) for b, q in zip(bands(other), bands(code), strict=True))


# -- the compiled kernels (iscc_text_minhash, iscc_minhash) --------------------------------------------------

needs_kernels = pytest.mark.skipif(iscc.native is None, reason="the C kernels were not built")


def tiled(perms: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """``perms`` repeated to the kernel's 64 permutations."""
    full = (perms * 64)[:64]
    return [a for a, _ in full], [b for _, b in full]


def kernel_minhash(features: list[int], mpa: list[int], mpb: list[int]) -> list[int]:
    assert iscc.native is not None
    raw = iscc.native.iscc_minhash(
        np.array(features, dtype=np.uint32), np.array(mpa, dtype=np.uint64), np.array(mpb, dtype=np.uint64)
    )
    return np.frombuffer(raw, dtype=np.uint32).tolist()


@needs_kernels
@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=300),
    st.lists(st.tuples(st.integers(1, 2**64 - 1), st.integers(0, 2**64 - 1)), min_size=1, max_size=64),
    st.integers(0, 5),
)
def test_kernel_minhash_matches_the_formula(features: list[int], perms: list[tuple[int, int]], dups: int) -> None:
    features = features + features[:dups]  # duplicated features: equal runners-up, the exact rescan
    mpa, mpb = tiled(perms)
    assert kernel_minhash(features, mpa, mpb) == reference_minhash(features, mpa, mpb)


@needs_kernels
@pytest.mark.parametrize(
    "b",
    [
        (5 << 61) + PRIME,
        (7 << 61) + PRIME - 3,
        (3 << 61) + (1 << 40) - 2,
        (1 << 61) - (1 << 33),
        2**64 - 8,  # w = u + 8 wraps to 0 for f = 0: a risky feature is the smallest w
    ],
)
def test_kernel_minhash_risky_features_and_ties(b: int) -> None:
    features = [0, 1, 2, 3, 4, 5, 6, 7, 8, 1000, 2**31, 2**32 - 1, 7, 7, 0]
    mpa, mpb = tiled([(1, b), (1, (b + 5) % 2**64), (3, b), (2**61 + 1, b)])
    assert kernel_minhash(features, mpa, mpb) == reference_minhash(features, mpa, mpb)


@needs_kernels
def test_kernel_minhash_refuses_malformed_arguments() -> None:
    assert iscc.native is not None
    with pytest.raises(ValueError, match="permutations"):
        iscc.native.iscc_minhash(np.ones(3, np.uint32), iscc.MPA[:10], iscc.MPB)
    with pytest.raises(ValueError, match="features"):
        iscc.native.iscc_minhash(b"", iscc.MPA, iscc.MPB)
    with pytest.raises(ValueError, match="ngram"):
        iscc.native.iscc_text_minhash(b"abc", 0, iscc.MPA, iscc.MPB)


@needs_kernels
@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=400), st.text(alphabet=TRICKY, max_size=3000), st.text(max_size=40)))
def test_kernel_and_numpy_soft_hash_agree(text: str) -> None:
    collapsed = text_collapse(text)
    with_kernel = soft_hash_text(collapsed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(iscc, "native", None)
        assert soft_hash_text(collapsed) == with_kernel
    assert with_kernel == ic.soft_hash_text_v0(collapsed)
