"""A registered work's ISCC-CODE, built from its units' digests, is iscc-core's, bit for bit.

The Data-Code's chunking and MinHash (the compiled kernel where it is built, iscc-core itself otherwise), the
Instance-Code's BLAKE3, the composite's header and the whole fingerprint are each compared with iscc-core on
generated data: random bytes cut at many chunk boundaries, repetitive bytes that never match the gear mask
before the largest chunk, the empty input, and texts and images through ``fingerprint``.
"""

from __future__ import annotations

import io

import iscc_core as ic
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from copyalign.core.content import Limits
from copyalign.core.registry import iscc_code as code
from copyalign.core.registry.fingerprint import fingerprint
from copyalign.core.registry.iscc import text_code


def reference_composite(content_code: str, data: bytes) -> str:
    """How registration built the ISCC-CODE before: each unit encoded by iscc-core, then combined by it."""
    data_code = ic.gen_data_code_v0(io.BytesIO(data))["iscc"]
    instance_code = ic.gen_instance_code_v0(io.BytesIO(data))["iscc"]
    return str(ic.gen_iscc_code_v0([content_code, data_code, instance_code])["iscc"])


def test_public_api() -> None:
    assert sorted(code.__all__) == ["data_digest", "instance_digest", "iscc_code"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=20_000))
def test_data_digest_of_any_bytes(data: bytes) -> None:
    assert code.data_digest(data) == ic.soft_hash_data_v0(io.BytesIO(data))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty: one empty chunk"),
        pytest.param(b"x", id="one byte"),
        pytest.param(bytes(255), id="below the smallest chunk"),
        pytest.param(bytes(100_000), id="zeros: no cut before the largest chunk"),
        pytest.param(b"ab" * 30_000, id="a period of two"),
        pytest.param(np.random.default_rng(1).bytes(300_000), id="random: hundreds of chunks"),
        pytest.param("版权人登记作品。".encode() * 500, id="utf-8 text"),
    ],
)
def test_data_digest_samples(data: bytes) -> None:
    assert code.data_digest(data) == ic.soft_hash_data_v0(io.BytesIO(data))


def test_data_digest_without_the_kernels_and_past_one_read(monkeypatch: pytest.MonkeyPatch) -> None:
    data = np.random.default_rng(2).bytes(50_000)
    expected = ic.soft_hash_data_v0(io.BytesIO(data))
    monkeypatch.setattr(code, "_ONE_READ", 10_000)  # iscc-core chunks data past one read in pieces: its own path
    assert code.data_digest(data) == expected
    monkeypatch.setattr(code, "native", None)
    assert code.data_digest(data[:5000]) == ic.soft_hash_data_v0(io.BytesIO(data[:5000]))


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=3000))
def test_instance_digest(data: bytes) -> None:
    unit = ic.gen_instance_code_v0(io.BytesIO(data), bits=256)["iscc"]
    assert code.instance_digest(data) == ic.decode_base32(unit.removeprefix("ISCC:"))[2:]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([ic.ST_CC.TEXT, ic.ST_CC.IMAGE]), st.binary(min_size=8, max_size=8), st.binary(max_size=5000))
def test_iscc_code_is_iscc_cores_composite(content_type: int, digest: bytes, data: bytes) -> None:
    content_code = "ISCC:" + ic.encode_component(ic.MT.CONTENT, content_type, ic.VS.V0, 64, digest)
    assert code.iscc_code(content_type, digest, data) == reference_composite(content_code, data)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=2000))
def test_text_fingerprint_is_iscc_cores(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    try:
        fp = fingerprint(data, Limits(), kind="text")
    except Exception:  # not a text registration accepts (a NUL, a lone surrogate): nothing to compare
        return
    content_code = text_code(data.decode("utf-8"))
    assert fp.iscc == reference_composite(content_code, data)
    assert fp.iscc_content == int.from_bytes(ic.decode_base32(content_code.removeprefix("ISCC:"))[2:], "big")


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_image_fingerprint_is_iscc_cores(mode: str) -> None:
    rng = np.random.default_rng(3)
    img = Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).convert(mode)
    out = io.BytesIO()
    img.save(out, "PNG")
    data = out.getvalue()
    fp = fingerprint(data, Limits(), kind="image")
    if mode in ("RGBA", "P"):  # iscc-sdk's normalisation: transparency onto white
        img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img.convert("RGBA"))
    pixels = np.asarray(img.convert("L").resize((32, 32), Image.Resampling.BICUBIC), dtype=np.uint8)
    content_code = ic.gen_image_code_v0(pixels.ravel().tolist())["iscc"]
    assert fp.iscc == reference_composite(content_code, data)
    assert fp.iscc_content == int.from_bytes(ic.decode_base32(content_code.removeprefix("ISCC:"))[2:], "big")
