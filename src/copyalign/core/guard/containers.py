"""The AIGC label in a file, edited at the container level: PNG chunks, JPEG segments, WebP chunks.

Every format gets the XMP property (:mod:`.xmp`): JPEG in its XMP ``APP1`` segment, WebP in its ``XMP `` chunk,
PNG in its ``iTXt`` ``XML:com.adobe.xmp`` chunk. PNG also gets an ``iTXt`` chunk with the keyword ``AIGC``
holding the JSON alone, for readers that look for the field by name. Everything else in the file (EXIF, ICC
profile, other chunks and segments) is copied byte for byte, and pixels are never re-encoded: the work is done
on the container, not on a decoded image. When reading, the XMP property wins over the PNG text chunk, because a
platform that propagates the file updates the XMP with the common tools.

Order with the other marks: visible label and watermark first (they change pixels), then :func:`write_aigc`,
then the C2PA manifest, whose signature covers the bytes written before it.

Example:
    >>> label = AigcLabel(label="1", content_producer="Example AI", produce_id="tr_01")
    >>> read_aigc(write_aigc(png_bytes, label)) == label  # doctest: +SKIP
    True
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from typing import Literal

from copyalign.core.content import media_type_of
from copyalign.core.guard.aigc import AIGC_KEY, AigcLabel
from copyalign.core.guard.xmp import aigc_of_packet, rights_of_packet, with_aigc
from copyalign.errors import ContentTooLargeError, InvalidInputError, UnsupportedContentError

XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_PNG_KEYWORD = "XML:com.adobe.xmp"
_MAX_TEXT_CHUNK = 1 << 20  # a compressed PNG text chunk may expand to at most this many bytes
_CONTAINERS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}


def write_aigc(data: bytes, label: AigcLabel, *, rights: Mapping[str, str] | None = None) -> bytes:
    """``data`` (PNG, JPEG or WebP) with ``label`` as its implicit label, replacing any earlier one, and with
    ``rights`` (lang -> the copyright disclaimer, seed 004 ¶80(c)) as the XMP packet's ``dc:rights``. Pixels and
    all other metadata are copied byte for byte.

    Raises:
        UnsupportedContentError: not PNG, JPEG or WebP; a truncated or malformed container; an existing XMP
            packet that is not well-formed XML.
        ContentTooLargeError: a JPEG whose XMP packet would outgrow its 64 KiB segment.
    """
    if not isinstance(label, AigcLabel):
        raise InvalidInputError("write_aigc takes an AigcLabel", field="label")
    kind = _container(data)
    data = bytes(data)
    value = label.to_json()
    if kind == "png":
        return _png_write(data, value, rights)
    if kind == "jpeg":
        return _jpeg_write(data, value, rights)
    return _webp_write(data, value, rights)


def read_rights(data: bytes) -> dict[str, str] | None:
    """The copyright disclaimer (``dc:rights`` by language) of a PNG, JPEG or WebP file's XMP packet; None when
    it has none.

    Raises:
        UnsupportedContentError: not PNG, JPEG or WebP, or a truncated or malformed container.
    """
    for packet in _xmp_packets(data):
        found = rights_of_packet(packet)
        if found is not None:
            return found
    return None


def _xmp_packets(data: bytes) -> list[str]:
    kind = _container(data)
    data = bytes(data)
    if kind == "png":
        chunks = _png_chunks(data)
        texts = [t for t in (_png_text(ctype, data[s + 8 : e - 4]) for ctype, s, e in chunks) if t is not None]
        return [text for keyword, text in texts if keyword == XMP_PNG_KEYWORD]
    if kind == "jpeg":
        segments, _ = _jpeg_segments(data)
        raw = [data[s + 4 + len(XMP_JPEG_HEADER) : e] for m, s, e in segments if _is_jpeg_xmp(data, m, s)]
    else:
        raw = [data[s + 8 : s + 8 + n] for fourcc, s, n in _webp_chunks(data) if fourcc == b"XMP "]
    return [p.decode("utf-8", errors="replace") for p in raw]


def read_aigc(data: bytes) -> AigcLabel | None:
    """The implicit label of a PNG, JPEG or WebP file; None when it has none.

    Raises:
        UnsupportedContentError: not PNG, JPEG or WebP, or a truncated or malformed container.
        InvalidInputError: an ``AIGC`` value that is not a valid label.
    """
    kind = _container(data)
    data = bytes(data)
    if kind == "png":
        chunks = _png_chunks(data)
        texts = [t for t in (_png_text(ctype, data[s + 8 : e - 4]) for ctype, s, e in chunks) if t is not None]
        for keyword, text in texts:
            if keyword == XMP_PNG_KEYWORD and (found := aigc_of_packet(text)) is not None:
                return AigcLabel.from_json(found)
        for keyword, text in texts:
            if keyword == AIGC_KEY:
                return AigcLabel.from_json(text)
        return None
    if kind == "jpeg":
        segments, _ = _jpeg_segments(data)
        packets = [data[s + 4 + len(XMP_JPEG_HEADER) : e] for m, s, e in segments if _is_jpeg_xmp(data, m, s)]
    else:
        packets = [data[s + 8 : s + 8 + n] for fourcc, s, n in _webp_chunks(data) if fourcc == b"XMP "]
    for packet in packets:
        found = aigc_of_packet(packet.decode("utf-8", errors="replace"))
        if found is not None:
            return AigcLabel.from_json(found)
    return None


def _container(data: bytes) -> Literal["png", "jpeg", "webp"]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInputError("labels are read from and written to a file's bytes", field="data")
    kind = _CONTAINERS.get(media_type_of(bytes(data[:12])) or "")
    if kind is None:
        raise UnsupportedContentError("AIGC metadata is written to PNG, JPEG and WebP files only", field="data")
    return kind  # type: ignore[return-value]


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """``(type, start, end)`` of every chunk up to and including IEND, CRCs checked."""
    out: list[tuple[bytes, int, int]] = []
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise UnsupportedContentError("the PNG file is truncated (no IEND chunk)", field="data")
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = bytes(data[pos + 4 : pos + 8])
        end = pos + 12 + length
        if not ctype.isalpha() or length > 0x7FFFFFFF:
            raise UnsupportedContentError(f"the PNG file has a malformed chunk at byte {pos}", field="data")
        if end > len(data):
            raise UnsupportedContentError(f"the PNG file is truncated inside its {ctype.decode()} chunk", field="data")
        if zlib.crc32(data[pos + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            raise UnsupportedContentError(f"the PNG {ctype.decode()} chunk at byte {pos} fails its CRC", field="data")
        out.append((ctype, pos, end))
        pos = end
        if ctype == b"IEND":
            break
    if out[0][0] != b"IHDR" or not any(c == b"IDAT" for c, _, _ in out):
        raise UnsupportedContentError("the PNG file has no IHDR or no IDAT chunk", field="data")
    return out


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + ctype + body + zlib.crc32(ctype + body).to_bytes(4, "big")


def _itxt(keyword: str, text: str) -> bytes:
    return _png_chunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))


def _inflate(raw: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(raw, _MAX_TEXT_CHUNK)
    if inflater.unconsumed_tail:
        raise UnsupportedContentError("a compressed PNG text chunk expands past 1 MiB", field="data")
    return out


def _png_text(ctype: bytes, body: bytes) -> tuple[str, str] | None:
    """``(keyword, text)`` of a tEXt, zTXt or iTXt chunk holding the AIGC label or the XMP packet; None for
    other chunks (which are never decompressed) and undecodable ones."""
    if ctype not in (b"tEXt", b"zTXt", b"iTXt") or b"\x00" not in body:
        return None
    raw_key, rest = body.split(b"\x00", 1)
    keyword = raw_key.decode("latin-1")
    if keyword not in (AIGC_KEY, XMP_PNG_KEYWORD):
        return None
    try:
        if ctype == b"tEXt":
            return keyword, rest.decode("latin-1")
        if ctype == b"zTXt":
            return keyword, _inflate(rest[1:]).decode("latin-1")
        compressed, rest = rest[0], rest[2:]
        _language, _translated, payload = rest.split(b"\x00", 2)
        return keyword, (_inflate(payload) if compressed else payload).decode("utf-8")
    except (ValueError, IndexError, zlib.error):
        return None


def _png_write(data: bytes, value: str, rights: Mapping[str, str] | None) -> bytes:
    chunks = _png_chunks(data)
    texts = [_png_text(ctype, data[start + 8 : end - 4]) for ctype, start, end in chunks]
    first_idat = next(i for i, (c, _, _) in enumerate(chunks) if c == b"IDAT")
    xmp_at = next((i for i, t in enumerate(texts) if t is not None and t[0] == XMP_PNG_KEYWORD), None)
    parts: list[bytes] = []
    for i, (_, start, end) in enumerate(chunks):
        text = texts[i]
        if i == first_idat:
            parts.append(_itxt(AIGC_KEY, value))
            if xmp_at is None:
                parts.append(_itxt(XMP_PNG_KEYWORD, with_aigc(None, value, rights)))
        if text is not None and text[0] == AIGC_KEY:
            continue  # replaced by the chunk written before IDAT
        if i == xmp_at and text is not None:
            parts.append(_itxt(XMP_PNG_KEYWORD, with_aigc(text[1], value, rights)))
        else:
            parts.append(data[start:end])
    return _PNG_SIGNATURE + b"".join(parts) + data[chunks[-1][2] :]


_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """``(marker, start, end)`` of every segment between SOI and the first SOS, and the SOS's offset."""
    out: list[tuple[int, int, int]] = []
    pos = 2
    size = len(data)
    while True:
        if pos >= size or data[pos] != 0xFF:
            what = "truncated" if pos >= size else f"malformed (no marker at byte {pos})"
            raise UnsupportedContentError(f"the JPEG file is {what}", field="data")
        while pos < size and data[pos] == 0xFF:
            pos += 1
        if pos >= size:
            raise UnsupportedContentError("the JPEG file is truncated", field="data")
        marker, start = data[pos], pos - 1
        if marker == 0xDA:
            break
        if marker == 0xD9:
            raise UnsupportedContentError("the JPEG file ends before its image data", field="data")
        if marker in _JPEG_STANDALONE:
            pos += 1
            continue
        if pos + 3 > size:
            raise UnsupportedContentError("the JPEG file is truncated", field="data")
        end = pos + 1 + int.from_bytes(data[pos + 1 : pos + 3], "big")
        if end > size or end < pos + 3:
            raise UnsupportedContentError(f"the JPEG file is truncated in a segment at byte {start}", field="data")
        out.append((marker, start, end))
        pos = end
    if data.rfind(b"\xff\xd9", start) < 0:
        raise UnsupportedContentError("the JPEG file is truncated (no end-of-image marker)", field="data")
    return out, start


def _is_jpeg_xmp(data: bytes, marker: int, start: int) -> bool:
    return marker == 0xE1 and bytes(data[start + 4 : start + 4 + len(XMP_JPEG_HEADER)]) == XMP_JPEG_HEADER


def _jpeg_app1(packet: str) -> bytes:
    payload = XMP_JPEG_HEADER + packet.encode("utf-8")
    if len(payload) + 2 > 0xFFFF:
        raise ContentTooLargeError("the XMP packet with the AIGC label is over the JPEG segment limit of 64 KiB")
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def _leading_app(data: bytes, marker: int, start: int) -> bool:
    return marker == 0xE0 or (marker == 0xE1 and data[start + 4 : start + 8] == b"Exif")


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsupportedContentError("the file's XMP packet is not UTF-8", field="data") from exc


def _jpeg_write(data: bytes, value: str, rights: Mapping[str, str] | None) -> bytes:
    segments, sos = _jpeg_segments(data)
    parts = [data[start:end] for _, start, end in segments]
    for i, (marker, start, end) in enumerate(segments):
        if _is_jpeg_xmp(data, marker, start):
            old = _utf8(data[start + 4 + len(XMP_JPEG_HEADER) : end])
            parts[i] = _jpeg_app1(with_aigc(old, value, rights))
            break
    else:
        # after the leading JFIF (APP0) and Exif (APP1) segments, which readers expect first
        at = 0
        while at < len(segments) and _leading_app(data, *segments[at][:2]):
            at += 1
        parts.insert(at, _jpeg_app1(with_aigc(None, value, rights)))
    return b"\xff\xd8" + b"".join(parts) + bytes(data[sos:])


def _webp_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """``(fourcc, start, payload size)`` of each chunk in the RIFF container."""
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    if riff_end > len(data) or riff_end < 12:
        raise UnsupportedContentError("the WebP file is truncated", field="data")
    pos = 12
    while pos < riff_end:
        if pos + 8 > riff_end:
            raise UnsupportedContentError("the WebP file is truncated", field="data")
        fourcc = bytes(data[pos : pos + 4])
        n = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if pos + 8 + n > riff_end:
            raise UnsupportedContentError(f"the WebP file is truncated in its {fourcc!r} chunk", field="data")
        yield fourcc, pos, n
        pos += 8 + n + (n & 1)


def _webp_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + len(payload).to_bytes(4, "little") + payload + (b"\x00" if len(payload) & 1 else b"")


def _webp_write(data: bytes, value: str, rights: Mapping[str, str] | None) -> bytes:
    chunks = list(_webp_chunks(data))
    if not chunks:
        raise UnsupportedContentError("the WebP file has no image data", field="data")
    parts = [bytes(data[s : s + 8 + n + (n & 1)]) for _, s, n in chunks]
    first, s0, n0 = chunks[0]
    if first == b"VP8X":
        header = bytearray(data[s0 + 8 : s0 + 8 + n0])
        header[0] |= 0x04  # XMP present
        parts[0] = _webp_chunk(b"VP8X", bytes(header))
    elif first in (b"VP8 ", b"VP8L"):
        width, height, alpha = _webp_canvas(first, bytes(data[s0 + 8 : s0 + 8 + n0]))
        flags = 0x04 | (0x10 if alpha else 0)
        vp8x = bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        parts.insert(0, _webp_chunk(b"VP8X", vp8x))
        chunks.insert(0, (b"VP8X", -1, 10))
    else:
        raise UnsupportedContentError(f"the WebP file starts with an unknown {first!r} chunk", field="data")
    for i, (fourcc, start, n) in enumerate(chunks):
        if fourcc == b"XMP ":
            old = _utf8(data[start + 8 : start + 8 + n])
            parts[i] = _webp_chunk(b"XMP ", with_aigc(old, value, rights).encode("utf-8"))
            break
    else:
        parts.append(_webp_chunk(b"XMP ", with_aigc(None, value, rights).encode("utf-8")))  # XMP comes last
    body = b"WEBP" + b"".join(parts)
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    return b"RIFF" + len(body).to_bytes(4, "little") + body + bytes(data[riff_end:])


def _webp_canvas(fourcc: bytes, payload: bytes) -> tuple[int, int, bool]:
    """Canvas size and alpha of a simple (lossy ``VP8 `` or lossless ``VP8L``) WebP bitstream."""
    if fourcc == b"VP8 ":
        if len(payload) < 10 or payload[3:6] != b"\x9d\x01\x2a":
            raise UnsupportedContentError("the WebP VP8 bitstream has no frame header", field="data")
        width = int.from_bytes(payload[6:8], "little") & 0x3FFF
        height = int.from_bytes(payload[8:10], "little") & 0x3FFF
        return width, height, False
    if len(payload) < 5 or payload[0] != 0x2F:
        raise UnsupportedContentError("the WebP VP8L bitstream has no header", field="data")
    bits = int.from_bytes(payload[1:5], "little")
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)


__all__ = ["XMP_JPEG_HEADER", "XMP_PNG_KEYWORD", "read_aigc", "read_rights", "write_aigc"]
