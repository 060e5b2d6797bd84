from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from copyalign.core import content
from copyalign.core.content import Limits, decode_text, normalise_text, normalised_sha256
from copyalign.core.registry.fingerprint import fingerprint
from copyalign.errors import ContentTooLargeError, InvalidInputError, UnsupportedContentError
from tests.unit.core.unicode_text import unicode_texts

_ZH = Path(__file__).resolve().parents[2] / "data" / "zh_seed_excerpt.txt"  # from ../shared/seeds/002


@given(st.text())
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once


def test_normalise_unifies_typography_and_wrapping() -> None:
    a = "“It’s late,” she said —\n  and   LEFT."
    b = '"it\'s late," she said - and left.'
    assert normalise_text(a) == normalise_text(b)


def test_same_text_re_encoded_has_same_normalised_digest() -> None:
    limits = Limits()
    a = fingerprint("Ｆｕｌｌｗｉｄｔｈ text\r\nwrapped".encode(), limits)
    b = fingerprint(b"fullwidth TEXT wrapped", limits)
    assert a.sha256 != b.sha256 and a.norm_sha256 == b.norm_sha256


def test_chinese_text_fingerprints() -> None:
    fp = fingerprint("床前明月光，疑是地上霜。举头望明月，低头思故乡。".encode(), Limits())
    assert fp.kind == "text" and fp.characters == 24 and fp.iscc.startswith("ISCC:")


@pytest.mark.parametrize(
    ("data", "exc", "code"),
    [
        (b"", InvalidInputError, "empty_content"),
        (b"   \n\t", InvalidInputError, "empty_content"),
        (b"\xff\xfe\x00a", InvalidInputError, "invalid_text_encoding"),
        (b"abc\x00def", UnsupportedContentError, "binary_text"),
    ],
)
def test_bad_text(data: bytes, exc: type[Exception], code: str) -> None:
    with pytest.raises(exc) as e:
        decode_text(data)
    assert e.value.code == code  # type: ignore[attr-defined]


def _img(size: tuple[int, int], fmt: str = "PNG", mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 128).save(buf, fmt)
    return buf.getvalue()


def test_image_fingerprint_and_limits() -> None:
    fp = fingerprint(_img((40, 30), "JPEG"), Limits())
    assert (fp.kind, fp.media_type, fp.width, fp.height) == ("image", "image/jpeg", 40, 30)
    with pytest.raises(ContentTooLargeError, match="pixels"):
        fingerprint(_img((300, 300)), Limits(max_image_pixels=10_000))
    with pytest.raises(ContentTooLargeError, match="bytes"):
        fingerprint(_img((300, 300)), Limits(max_bytes=100))


def test_truncated_and_unsupported_images() -> None:
    with pytest.raises(UnsupportedContentError, match="cannot be decoded"):
        fingerprint(_img((200, 200))[:200], Limits(), kind="image")
    with pytest.raises(UnsupportedContentError):
        fingerprint(b"GIF89a not really", Limits(), kind="image")
    ico = io.BytesIO()
    Image.new("RGB", (16, 16)).save(ico, "ICO")
    with pytest.raises(UnsupportedContentError):
        fingerprint(ico.getvalue(), Limits(), kind="image")


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (40, 20), 200)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    fp = fingerprint(buf.getvalue(), Limits())
    assert (fp.width, fp.height) == (20, 40)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_the_c_kernel_normalises_ascii_exactly_as_python(text: str) -> None:
    # norm_sha256 is stored for every registered work: both paths must give the same digest
    assert normalised_sha256(text) == hashlib.sha256(normalise_text(text).encode()).digest()
    assert normalised_sha256(text + "\u2019") == hashlib.sha256(normalise_text(text + "\u2019").encode()).digest()


# -- issue 20 finding 10: image decoding memory and concurrency -------------------------------------------------


def _big_png(side: int, seed: int) -> bytes:
    import io

    from PIL import Image

    img = Image.new("RGB", (side, side), (seed * 40 % 255, 90, 30))
    img.putpixel((seed, seed), (0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_concurrent_large_decodes_stay_within_the_decode_budget() -> None:
    """Issue 20 finding 10: four large images at once each cost their full decode at the same time. With a
    budget that holds one of them, the gate lets one at a time through and every decode still succeeds."""
    import threading

    from copyalign.core.content import BYTES_PER_PIXEL, decode_gate
    from copyalign.core.registry.fingerprint import fingerprint

    side = 1200
    cost = BYTES_PER_PIXEL * side * side
    limits = Limits(decode_budget_bytes=cost + 12_345)  # room for one image, not two (a budget of its own)
    gate = decode_gate(limits)
    seen: list[tuple[int, int]] = []
    gate.observe = lambda holders, in_use: seen.append((holders, in_use))
    images = [_big_png(side, i) for i in range(4)]
    results: list[object] = []
    threads = [threading.Thread(target=lambda d=d: results.append(fingerprint(d, limits))) for d in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(seen) == 4
    assert gate.peak_holders == 1 and gate.peak_bytes <= limits.decode_budget_bytes
    assert gate.in_use == 0 and gate.holders == 0  # every image freed gave its budget back


def test_small_images_share_the_budget() -> None:
    from copyalign.core.content import BYTES_PER_PIXEL, decode_gate, open_image

    limits = Limits(decode_budget_bytes=BYTES_PER_PIXEL * 64 * 64 * 3 + 7)
    held = [open_image(_big_png(64, i), limits)[0] for i in range(3)]  # one thread may hold several
    assert decode_gate(limits).holders == 3
    del held
    assert decode_gate(limits).holders == 0


def test_an_image_over_the_decode_budget_alone_is_refused_before_decoding() -> None:
    from copyalign.core.content import BYTES_PER_PIXEL, open_image
    from copyalign.errors import ContentTooLargeError

    limits = Limits(decode_budget_bytes=BYTES_PER_PIXEL * 300 * 300)
    with pytest.raises(ContentTooLargeError) as err:
        open_image(_big_png(400, 1), limits)
    assert err.value.status == 413 and err.value.code == "image_too_large"


@settings(max_examples=600, deadline=None)
@given(unicode_texts())
def test_the_c_kernel_normalises_any_unicode_exactly_as_python(text: str) -> None:
    # Chinese, Japanese, Korean, combining marks, compatibility forms, spaces of every kind: the kernel's table
    # answers where it can and leaves the rest to normalise_text, and the digest never differs
    assert normalised_sha256(text) == hashlib.sha256(normalise_text(text).encode()).digest()


@pytest.mark.skipif(content.native is None, reason="the C kernel was not built")
def test_chinese_japanese_and_korean_text_is_normalised_by_the_kernel() -> None:
    assert content.native is not None
    text = _ZH.read_text("utf-8") + "\nひらがなとカタカナ。한국어　텍스트. ＡＩ２０２４年「引用」①…“quoted” — café"
    fast = content.native.normalise_unicode(text, *content._normalise_table())
    assert fast == normalise_text(text).encode()
    assert content.native.normalise_unicode("cafe\u0301", *content._normalise_table()) is None  # left to Python
