"""What a file says about its origin: the implicit AIGC label and the C2PA manifest, read without raising for
what a file from the wild may get wrong.

The labels themselves are written by the pure core — the value (:mod:`copyalign.core.guard.aigc`), its XMP
packet (:mod:`copyalign.core.guard.xmp`), the file's container (:mod:`copyalign.core.guard.containers`) — and
the visible mark by :mod:`copyalign.services.guard.visible`; reading the C2PA manifest needs the ``c2pa``
extra (:mod:`copyalign.services.guard.c2pa`), which is why the reader lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from copyalign.core.content import media_type_of
from copyalign.core.guard.aigc import AigcLabel
from copyalign.core.guard.containers import read_aigc, read_rights
from copyalign.errors import CopyalignError, InvalidInputError, MissingExtraError, UnsupportedContentError


@dataclass(frozen=True, slots=True)
class LabelReport:
    """Every label found on a file. ``c2pa`` is :func:`copyalign.services.guard.c2pa.read_c2pa`'s summary (None with a
    note when the ``c2pa`` extra is missing or the file has no manifest); ``watermark`` is left for the caller
    (the invisible watermark detector needs the deployment's key): ``dataclasses.replace(report, watermark=…)``.
    """

    media_type: str
    aigc: AigcLabel | None
    c2pa: dict[str, Any] | None
    watermark: object | None = None
    notes: tuple[str, ...] = ()
    rights: dict[str, str] | None = None
    """The copyright disclaimer of the XMP packet (``dc:rights`` by language, seed 004 ¶80(c))."""

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["aigc"] = None if self.aigc is None else self.aigc.to_dict()
        out["notes"] = list(self.notes)
        return out


def read_labels(data: bytes, *, trust_anchors: bytes | None = None) -> LabelReport:
    """Read the implicit AIGC label and the C2PA manifest of an image file, without raising for what a file
    from the wild may get wrong (a malformed label, a broken manifest): those become ``notes``.

    ``trust_anchors`` (PEM) are CA certificates to trust when validating the C2PA signer, such as this
    deployment's own test CA (:attr:`copyalign.services.guard.c2pa.SigningIdentity.ca_pem`).

    Raises:
        UnsupportedContentError: ``data`` is not a PNG, JPEG, WebP, GIF or TIFF file.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInputError("labels are read from a file's bytes", field="data")
    raw = bytes(data)
    mime = media_type_of(raw)
    if mime is None:
        raise UnsupportedContentError("not an image file this reader knows (PNG, JPEG, WebP, GIF, TIFF)", field="data")
    notes: list[str] = []
    aigc: AigcLabel | None = None
    rights: dict[str, str] | None = None
    if mime in ("image/png", "image/jpeg", "image/webp"):
        try:
            aigc = read_aigc(raw)
            rights = read_rights(raw)
        except InvalidInputError as exc:
            notes.append(f"AIGC metadata unreadable: {exc.message}")
        if aigc is None and not notes:
            notes.append("no AIGC implicit label")
    else:
        notes.append(f"AIGC metadata is read from PNG, JPEG and WebP files, not {mime}")
    from copyalign.services.guard import c2pa  # the module imports the c2pa library itself only when used

    summary: dict[str, Any] | None = None
    try:
        found = c2pa.read_c2pa(raw, mime, trust_anchors=trust_anchors)
        summary = None if found is None else dict(found)
        if found is None:
            notes.append("no C2PA manifest")
    except MissingExtraError as exc:
        notes.append(f"C2PA not read: {exc.message}")
    except CopyalignError as exc:
        notes.append(f"C2PA manifest unreadable: {exc.message}")
    return LabelReport(mime, aigc, summary, None, tuple(notes), rights)


__all__ = ["LabelReport", "read_labels"]
