from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageCms

from copyalign.core.guard.aigc import AigcLabel, aigc_for_text
from copyalign.core.guard.containers import read_aigc, write_aigc
from copyalign.errors import ContentTooLargeError, InvalidInputError, UnsupportedContentError
from copyalign.services.guard import visible
from copyalign.services.guard.labels import read_labels
from copyalign.services.guard.visible import label_image, label_text

LABEL = AigcLabel(
    label="1",
    content_producer="示例智能 Example AI",
    produce_id="tr_0123456789abcdef",
    reserved_code1="9f86d081884c7d659a2feaa0c55ad015",
    content_propagator="",
    propagate_id="",
    reserved_code2="",
)
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _image(size: tuple[int, int] = (64, 48), mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    arr = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(arr.squeeze(-1) if channels == 1 else arr, mode)


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def _png_chunk_types(data: bytes) -> list[bytes]:
    out, pos = [], 8
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        out.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return out


# --------------------------------------------------------------------------------------------- visible: text


def test_label_text_puts_the_disclosure_where_asked() -> None:
    assert label_text("Answer.", disclosure="[AI生成]", position="append") == "Answer.\n\n[AI生成]"
    assert label_text("Answer.", disclosure="[AI生成]", position="prepend") == "[AI生成]\n\nAnswer."


@given(st.text(), st.sampled_from(["prepend", "append"]))
def test_label_text_is_idempotent(text: str, position: str) -> None:
    once = label_text(text, disclosure="本内容由人工智能生成", position=position)  # type: ignore[arg-type]
    assert label_text(once, disclosure="本内容由人工智能生成", position=position) == once  # type: ignore[arg-type]
    assert "本内容由人工智能生成" in once


def test_text_labelled_at_one_end_is_not_labelled_again_at_the_other() -> None:
    once = label_text("Answer.", disclosure="[AI]", position="prepend")
    assert label_text(once, disclosure="[AI]", position="append") == once


def test_a_disclosure_quoted_inside_the_text_does_not_count_as_a_label() -> None:
    text = "The sign said [AI] and nothing else."
    assert label_text(text, disclosure="[AI]", position="append").endswith("\n\n[AI]")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"disclosure": "  ", "position": "append"}, "disclosure"),
        ({"disclosure": "[AI]", "position": "middle"}, "position"),
    ],
)
def test_label_text_rejects_bad_arguments(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        label_text("x", **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


# -------------------------------------------------------------------------------------------- visible: image


@pytest.mark.parametrize("size", [(640, 480), (480, 640), (1600, 320), (300, 1200), (64, 64), (2000, 1500)])
def test_image_label_characters_are_at_least_5_percent_of_the_shorter_side(size: tuple[int, int]) -> None:
    img = _image(size)
    out = label_image(img)
    target = math.ceil(0.05 * min(size))
    plan = visible.plan_label(*size)
    assert plan.text_height >= target
    # what was drawn: the changed pixels are exactly the plan's box, at least 5 % tall
    diff = np.any(np.asarray(out) != np.asarray(img), axis=2)
    rows, cols = np.nonzero(diff)
    box = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    assert box == plan.box
    assert box[3] - box[1] >= target
    # the white text itself spans at least the required height (the box darkens what is under it to <= 95)
    x0, y0, x1, y1 = plan.box
    ink_rows = np.nonzero(np.any(np.asarray(out)[y0:y1, x0:x1].min(axis=2) > 100, axis=1))[0]
    assert ink_rows.max() - ink_rows.min() + 1 >= target


def test_image_label_sits_in_the_requested_corner() -> None:
    img = _image((400, 300))
    for corner in ("bottom-right", "bottom-left", "top-right", "top-left"):
        x0, y0, x1, y1 = visible.plan_label(400, 300, corner=corner).box
        assert (x0 < 200) == corner.endswith("left")
        assert (y0 < 150) == corner.startswith("top")
        out = np.asarray(label_image(img, corner=corner))
        assert (out[y0:y1, x0:x1] != np.asarray(img)[y0:y1, x0:x1]).any()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_image_label_keeps_size_mode_and_profile_and_leaves_the_input_alone(mode: str) -> None:
    img = _image((200, 120), mode)
    img.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    before = np.asarray(img).copy()
    out = label_image(img)
    assert (out.size, out.mode) == (img.size, mode)
    assert out.info["icc_profile"] == img.info["icc_profile"]
    assert np.array_equal(np.asarray(img), before)


def test_image_label_shows_on_a_transparent_picture_and_on_a_palette_one() -> None:
    clear = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    out = label_image(clear)
    x0, y0, x1, y1 = visible.plan_label(200, 100).box
    alpha = np.asarray(out)[..., 3]
    assert alpha[y0:y1, x0:x1].min() >= 160 and alpha[:y0].max() == 0
    palette = label_image(_image((200, 100)).convert("P"))
    assert palette.mode == "RGB" and palette.size == (200, 100)


def test_image_label_rejects_an_unknown_corner() -> None:
    with pytest.raises(InvalidInputError) as err:
        label_image(_image(), corner="centre")  # type: ignore[arg-type]
    assert err.value.field == "corner"


def test_pillow_builtin_font_cannot_draw_chinese_so_the_english_label_is_the_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(visible, "_system_cjk_fonts", lambda: ())
    visible._choose_font.cache_clear()
    try:
        font = visible.choose_label_font()
    finally:
        visible._choose_font.cache_clear()
    assert font == visible.LabelFont("pillow-default", "AI-generated", True)


def test_an_explicit_font_must_have_the_label_s_characters() -> None:
    # a Latin-only font, so that the refusal of a Chinese label can be seen
    assert DEJAVU.is_file(), "install Debian's fonts-dejavu-core (.ci/run does)"
    assert visible.choose_label_font("AI-generated", font_path=DEJAVU).source == str(DEJAVU)
    with pytest.raises(InvalidInputError) as err:
        visible.choose_label_font("AI生成", font_path=DEJAVU)
    assert err.value.field == "font_path"


# ------------------------------------------------------------------------------------------------ AigcLabel


def test_aigc_json_uses_the_standard_keys_in_order_and_round_trips() -> None:
    raw = LABEL.to_json()
    assert list(json.loads(raw)) == [
        "Label",
        "ContentProducer",
        "ProduceID",
        "ReservedCode1",
        "ContentPropagator",
        "PropagateID",
        "ReservedCode2",
    ]
    assert AigcLabel.from_json(raw) == LABEL


def test_a_label_from_another_producer_with_only_the_required_keys_reads() -> None:
    label = AigcLabel.from_json('{"Label": 1, "ContentProducer": "doubao", "ProduceID": "x-1", "Extra": "kept out"}')
    assert (label.label, label.content_producer, label.produce_id, label.propagate_id) == ("1", "doubao", "x-1", "")


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '{"Label": "1", "ContentProducer": "x"}',
        '{"Label": "1", "ContentProducer": ["x"], "ProduceID": "y"}',
    ],
)
def test_bad_aigc_json_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInputError):
        AigcLabel.from_json(raw)


def test_label_value_must_be_one_of_the_standard_s() -> None:
    with pytest.raises(InvalidInputError) as err:
        AigcLabel(label="4", content_producer="x", produce_id="y")
    assert err.value.field == "Label"


def test_text_outputs_carry_the_label_as_a_header_safe_value() -> None:
    out = aigc_for_text(LABEL)
    assert list(out) == ["AIGC"]
    out["AIGC"].encode("ascii")  # a valid HTTP header value
    assert AigcLabel.from_json(out["AIGC"]) == LABEL


# ------------------------------------------------------------------------------------------ implicit: files


@pytest.mark.parametrize(
    ("fmt", "mode", "kw"),
    [
        ("PNG", "RGB", {}),
        ("PNG", "RGBA", {}),
        ("JPEG", "RGB", {"quality": 90}),
        ("WEBP", "RGB", {"lossless": True}),
        ("WEBP", "RGBA", {"lossless": True}),
        ("WEBP", "RGB", {"quality": 80}),
    ],
)
def test_aigc_round_trips_without_touching_pixels(fmt: str, mode: str, kw: dict[str, object]) -> None:
    src = _encode(_image((96, 64), mode), fmt, **kw)
    out = write_aigc(src, LABEL)
    assert read_aigc(out) == LABEL
    assert np.array_equal(_pixels(out), _pixels(src))
    assert read_aigc(src) is None


def test_png_gets_an_aigc_text_chunk_and_a_tc260_xmp_packet_before_the_image_data() -> None:
    out = write_aigc(_encode(_image(), "PNG"), LABEL)
    img = Image.open(io.BytesIO(out))
    assert AigcLabel.from_json(img.info["AIGC"]) == LABEL
    assert "http://www.tc260.org.cn/ns/AIGC/1.0/" in img.info["XML:com.adobe.xmp"]
    types = _png_chunk_types(out)
    assert types.count(b"iTXt") == 2 and types.index(b"iTXt") < types.index(b"IDAT")


def test_jpeg_gets_the_label_in_its_xmp_segment() -> None:
    out = write_aigc(_encode(_image(), "JPEG"), LABEL)
    xmp = Image.open(io.BytesIO(out)).info["xmp"].decode()
    assert 'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"' in xmp and "<TC260:AIGC>" in xmp


def test_existing_metadata_survives_in_png() -> None:
    from PIL import PngImagePlugin

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "keep me")
    src = _encode(_image(), "PNG", icc_profile=icc, exif=exif.tobytes(), pnginfo=info)
    out = Image.open(io.BytesIO(write_aigc(src, LABEL)))
    assert out.info["icc_profile"] == icc
    assert out.getexif()[0x010F] == "Camera Maker"
    assert out.info["Comment"] == "keep me"


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_existing_metadata_and_xmp_survive_in_jpeg_and_webp(fmt: str) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Ann</dc:creator>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    src = _encode(_image(), fmt, icc_profile=icc, exif=exif.tobytes(), xmp=xmp.encode())
    out = write_aigc(src, LABEL)
    img = Image.open(io.BytesIO(out))
    assert img.info["icc_profile"] == icc
    assert img.getexif()[0x010F] == "Camera Maker"
    assert "<dc:creator>Ann</dc:creator>" in img.info["xmp"].decode()
    assert read_aigc(out) == LABEL
    assert np.array_equal(_pixels(out), _pixels(src))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_relabelling_replaces_the_label_instead_of_adding_one(fmt: str) -> None:
    second = AigcLabel(label="2", content_producer="Platform", produce_id="p-9", content_propagator="Platform")
    once = write_aigc(_encode(_image(), fmt), LABEL)
    twice = write_aigc(once, second)
    assert read_aigc(twice) == second
    assert twice.count(b"tc260.org.cn/ns/AIGC") == once.count(b"tc260.org.cn/ns/AIGC") == 1
    if fmt == "PNG":
        assert _png_chunk_types(twice).count(b"iTXt") == 2


def test_a_label_written_by_another_tool_in_the_tc260_style_is_read() -> None:
    xmp = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"><TC260:AIGC>{&quot;Label&quot;:&quot;3&quot;,'
        "&quot;ContentProducer&quot;:&quot;平台&quot;,&quot;ProduceID&quot;:&quot;A1&quot;}</TC260:AIGC>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )
    src = _encode(_image(), "JPEG", xmp=xmp.encode())
    assert read_aigc(src) == AigcLabel(label="3", content_producer="平台", produce_id="A1")
    assert read_aigc(write_aigc(src, LABEL)) == LABEL


def test_truncated_png_is_refused() -> None:
    src = _encode(_image(), "PNG")
    with pytest.raises(UnsupportedContentError, match="truncated"):
        write_aigc(src[: len(src) // 2], LABEL)


def test_png_with_a_corrupt_chunk_is_refused() -> None:
    src = bytearray(_encode(_image(), "PNG"))
    src[src.index(b"IDAT") + 10] ^= 0xFF  # its CRC no longer matches
    with pytest.raises(UnsupportedContentError, match="CRC"):
        read_aigc(bytes(src))


def test_truncated_jpeg_is_refused() -> None:
    src = _encode(_image(), "JPEG")
    for cut in (10, len(src) - 2):
        with pytest.raises(UnsupportedContentError, match="truncated"):
            write_aigc(src[:cut], LABEL)


@pytest.mark.parametrize("data", [b"hello, world", _encode(_image(), "GIF"), b""])
def test_files_that_are_not_png_jpeg_or_webp_are_refused(data: bytes) -> None:
    with pytest.raises(UnsupportedContentError):
        write_aigc(data, LABEL)
    with pytest.raises(UnsupportedContentError):
        read_aigc(data)


def test_a_jpeg_with_a_broken_xmp_packet_is_not_written_over() -> None:
    src = _encode(_image(), "JPEG", xmp=b"<x:xmpmeta><rdf:RDF>not closed")
    with pytest.raises(UnsupportedContentError, match="XMP"):
        write_aigc(src, LABEL)


def test_a_label_too_large_for_a_jpeg_segment_is_refused() -> None:
    huge = AigcLabel(label="1", content_producer="x", produce_id="y", reserved_code2="z" * 70_000)
    with pytest.raises(ContentTooLargeError):
        write_aigc(_encode(_image(), "JPEG"), huge)


def test_a_malformed_aigc_value_is_an_error_when_read_directly() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("AIGC", "{not json")
    with pytest.raises(InvalidInputError):
        read_aigc(_encode(_image(), "PNG", pnginfo=info))


# ------------------------------------------------------------------------------------------------ read_labels


def test_read_labels_reports_a_malformed_label_and_a_missing_manifest_as_notes() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("AIGC", "{not json")
    report = read_labels(_encode(_image(), "PNG", pnginfo=info))
    assert report.media_type == "image/png" and report.aigc is None and report.c2pa is None
    assert any("AIGC metadata unreadable" in n for n in report.notes)
    assert report.watermark is None


def test_read_labels_on_a_gif_reads_no_aigc_but_does_not_fail() -> None:
    report = read_labels(_encode(_image(), "GIF"))
    assert report.media_type == "image/gif" and report.aigc is None
    assert any("not image/gif" in n for n in report.notes)


def test_read_labels_refuses_what_is_not_an_image() -> None:
    with pytest.raises(UnsupportedContentError):
        read_labels(b"plain text, not a picture")


def test_read_labels_without_the_c2pa_extra_still_reads_the_aigc_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "c2pa", None)  # what `import c2pa` sees when the extra is not installed
    report = read_labels(write_aigc(_encode(_image(), "PNG"), LABEL))
    assert report.aigc == LABEL and report.c2pa is None
    assert any("pip install 'copyalign[c2pa]'" in n for n in report.notes)


def test_compressed_text_chunks_are_read_but_bounded() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("AIGC", LABEL.to_json(), zip=True)
    assert read_aigc(_encode(_image(), "PNG", pnginfo=info)) == LABEL
    bomb = PngImagePlugin.PngInfo()
    bomb.add_itxt("AIGC", "a" * (2 << 20), zip=True)  # 2 MiB of text in a few KiB of chunk
    with pytest.raises(UnsupportedContentError, match="1 MiB"):
        read_aigc(_encode(_image(), "PNG", pnginfo=bomb))


def test_xmp_rights_round_trip_and_relabelling_replaces_them() -> None:
    from copyalign.core.guard.xmp import aigc_of_packet, rights_of_packet, with_aigc

    rights = {"zh": "版权提示：训练数据或含受保护作品", "en": "Copyright notice: <training data> & more"}
    packet = with_aigc(None, '{"Label":"1"}', rights)
    assert rights_of_packet(packet) == rights and aigc_of_packet(packet) == '{"Label":"1"}'
    again = with_aigc(packet, '{"Label":"2"}', {"en": "second"})
    assert rights_of_packet(again) == {"en": "second"} and aigc_of_packet(again) == '{"Label":"2"}'
    assert again.count("dc:rights>") == 2  # one element: its opening and closing tags
    plain = with_aigc(again, '{"Label":"1"}')
    assert rights_of_packet(plain) is None
