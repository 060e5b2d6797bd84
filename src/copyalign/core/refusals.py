"""A refused file, explained to the person who chose it: what it was taken for and why it was refused.

The content errors of :mod:`copyalign.core.content` are precise for a developer ("not valid UTF-8 text, byte 0
is b'\\x81'"); a rights holder uploading ``cover.png`` needs to hear that the file is named like a PNG image but
is not one, and what to do about it. The portal and the CLI say a refusal with :func:`in_words` (the machine
code and the precise message stay on the error, and the portal shows them under "technical details").

Example:
    >>> in_words("cover.png", "invalid_text_encoding", "…").split(",")[0]
    'cover.png is named like a PNG image'
"""

from __future__ import annotations

from pathlib import PurePath

READABLE = "JPEG, PNG, GIF, WebP, TIFF or BMP"
_IMAGE_NAMES = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".gif": "GIF",
    ".webp": "WebP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".heic": "HEIC",
    ".avif": "AVIF",
    ".svg": "SVG",
}
_TEXT_NAMES = {".txt", ".md", ".text", ".html", ".htm", ".csv", ".json", ".jsonl", ".xml", ".srt", ".tex"}
_AGAIN = "export it again as PNG or JPEG and upload that"


def in_words(name: str, code: str, message: str) -> str:
    """Say why the file ``name`` was refused (``code`` and ``message`` are the content error's), plainly.

    Codes it knows: ``invalid_text_encoding``, ``binary_text``, ``invalid_image``, ``empty_content``; any other
    error's own message is already plain and is returned as it is.
    """
    suffix = PurePath(name).suffix.lower()
    fmt = _IMAGE_NAMES.get(suffix)
    if code == "invalid_text_encoding":
        if suffix in _TEXT_NAMES:
            return (
                f"{name} is not valid UTF-8 text, the encoding this registry reads (it may have been saved as "
                "Latin-1 or Windows-1252): save it again as UTF-8 (most editors offer this under Save as) and "
                "upload that."
            )
        if fmt is not None:
            return (
                f"{name} is named like a {fmt} image, but it is not a {fmt} image, nor any image this registry "
                f"reads ({READABLE}), and it is not text either. The file may be damaged or saved in another "
                f"format: {_AGAIN}."
            )
        return (
            f"{name} could not be read: it is not an image this registry reads ({READABLE}), so it was read as "
            "text, and it is not plain text either. If it is a text, save it as plain text in UTF-8 (most "
            "editors offer this under Save as) and upload that; if it is an image, "
            f"{_AGAIN}."
        )
    if code == "binary_text":
        return (
            f"{name} is neither plain text nor an image this registry reads ({READABLE}): it looks like another "
            "kind of file (a document, an archive or a program). Upload a text as a plain-text file, or an image "
            f"as {READABLE}."
        )
    if code == "invalid_image":
        return (
            f"{name} starts like an image, but it could not be opened: it may be damaged or cut short. "
            f"Open it on your computer to check, then {_AGAIN}."
        )
    if code == "empty_content":
        return f"{name} is empty, or holds only spaces: there is nothing to register."
    return message


__all__ = ["READABLE", "in_words"]
