"""The fast ISCC Text-Code is bit-identical to iscc-core's reference implementation."""

from __future__ import annotations

import iscc_core as ic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.iscc import code_to_int, hamming, text_code, text_collapse

SAMPLES = [
    "",
    "a",
    "x" * 12,
    "x" * 13,
    "x" * 14,
    "Hello World",
    "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse.",
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "生成式人工智能的版权问题：训练阶段的复制与输出阶段的侵权责任。" * 20,
    "Ünïcödé ñoise with combining marks: e\u0301 a\u0308 and emoji 🎨📚 and tabs\tand\r\nlines",
    "\x00\x01\x02 control characters \x7f between words",
    ("To be, or not to be, that is the question: " * 60).upper(),
]


@pytest.mark.parametrize("text", SAMPLES)
def test_matches_iscc_core_on_samples(text: str) -> None:
    assert text_code(text) == ic.gen_text_code_v0(text)["iscc"]
    assert text_collapse(text) == ic.code_content_text.text_collapse(text)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=400))
def test_matches_iscc_core_on_any_unicode(text: str) -> None:
    assert text_code(text) == ic.gen_text_code_v0(text)["iscc"]


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=13, max_size=3000))
def test_matches_iscc_core_on_ascii_fast_path(text: str) -> None:
    assert text_code(text) == ic.gen_text_code_v0(text)["iscc"]


def test_other_bit_lengths() -> None:
    text = SAMPLES[6]
    for bits in (64, 128, 256):
        assert text_code(text, bits) == ic.gen_text_code_v0(text, bits)["iscc"]


def test_similar_texts_have_close_codes() -> None:
    base = "It was the best of times, it was the worst of times, it was the age of wisdom. " * 10
    near = base.replace("wisdom", "wisdoms", 1)
    far = "A completely unrelated sentence about shipping containers and weather. " * 10
    a, b, c = (code_to_int(text_code(t)) for t in (base, near, far))
    assert hamming(a, b) < hamming(a, c)
    assert code_to_int("ISCC:EAAQCN2FWHFVYANB") == 0x013745B1CB5C01A1
