"""Bulk-registration manifests: JSON Lines, one work per line, validated whole before anything is written.

Each line is an object with ``title`` and exactly one of ``path`` (relative to the manifest's directory;
only from the CLI), ``text`` or ``content_base64``, and optionally ``kind``, ``creators``, ``identifiers``
and ``preferences`` (a list of ``{purpose, value, jurisdiction?, effective_at?}``, or the shorthand
``{"train-ai": "deny"}``). Blank lines are skipped. The first bad line stops the import with its line number;
nothing is registered unless every line is good. An unknown field is named with the fields allowed where it
stands. The README's "works import" section documents the format with a table and an example; a test keeps
that table equal to :class:`ManifestLine`'s fields.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from copyalign.core.content import encode_text, lone_surrogate
from copyalign.errors import CopyalignError, InvalidInputError, ManifestError
from copyalign.services.registry.preferences import PreferenceInput
from copyalign.services.registry.works import WorkInput


class _Line(BaseModel):
    """A manifest object: unknown fields and strings with lone surrogates are refused, naming the field."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        where = lone_surrogate(value)
        if where is not None:
            raise ValueError(f"contains a lone surrogate{f' (at {where})' if where else ''}: not valid Unicode text")
        return value


class _Pref(_Line):
    purpose: str
    value: str
    jurisdiction: str = "*"
    effective_at: AwareDatetime | None = None


class ManifestLine(_Line):
    title: str = Field(min_length=1, max_length=1000)
    path: str | None = None
    text: str | None = None
    content_base64: str | None = None
    kind: str | None = None
    creators: list[str] = Field(default_factory=list, max_length=100)
    identifiers: dict[str, str] = Field(default_factory=dict)
    preferences: list[_Pref] | dict[str, str] = Field(default_factory=list)


def unknown_field(where: str) -> str:
    """``unknown field 'file'; a line's fields are: title, path, …`` (the fields of the object it is in)."""
    model: type[BaseModel] = _Pref if where.startswith("preferences.") else ManifestLine
    allowed = ", ".join(model.model_fields)
    whose = "a preference's" if model is _Pref else "a line's"
    return f"unknown field {where!r}; {whose} fields are: {allowed} (see 'works import' in the README)"


def safe_path(base: Path, rel: str, *, field: str = "path") -> Path:
    """Resolve ``rel`` under ``base``; refuse absolute paths, ``..`` and symlinks that lead outside."""
    if not rel or "\x00" in rel:
        raise InvalidInputError("empty or invalid path", field=field)
    candidate = Path(rel)
    if candidate.is_absolute():
        raise InvalidInputError(f"{rel!r} is absolute; paths must be relative to the manifest", field=field)
    root = base.resolve()
    resolved = (root / candidate).resolve()
    if not resolved.is_relative_to(root):
        raise InvalidInputError(f"{rel!r} leads outside {root}", field=field)
    return resolved


def preferences_of(raw: list[_Pref] | dict[str, str]) -> tuple[PreferenceInput, ...]:
    if isinstance(raw, dict):
        return tuple(PreferenceInput.parse(k, v) for k, v in raw.items())
    return tuple(PreferenceInput.parse(p.purpose, p.value, p.jurisdiction, p.effective_at) for p in raw)


def content_of(line: ManifestLine, base: Path | None) -> bytes:
    given = [x for x in (line.path, line.text, line.content_base64) if x is not None]
    if len(given) != 1:
        raise InvalidInputError("give exactly one of path, text or content_base64", field="content")
    if line.text is not None:
        return encode_text(line.text, field="text")
    if line.content_base64 is not None:
        try:
            return base64.b64decode(line.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInputError("content_base64 is not valid base64", field="content_base64") from None
    if base is None or line.path is None:
        raise InvalidInputError(
            "path is only accepted from a local manifest; send text or content_base64", field="path"
        )
    p = safe_path(base, line.path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"no such file: {line.path}", field="path") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{line.path} is a directory", field="path") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {line.path}: {exc.strerror}", field="path") from None


def parse_lines(lines: Iterator[bytes] | list[bytes], *, base: Path | None) -> tuple[list[WorkInput], list[int]]:
    """Parse every line; return the inputs and their 1-based line numbers."""
    items: list[WorkInput] = []
    numbers: list[int] = []
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj: Any = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"not valid JSON ({exc})", line=n) from None
        if not isinstance(obj, dict):
            raise ManifestError("each line must be a JSON object", line=n)
        try:
            line = ManifestLine.model_validate(obj)
        except ValidationError as exc:
            first = exc.errors()[0]
            # pydantic names the union member it tried ("preferences.list[_Pref].0.deny"): keep the path only
            where = ".".join(str(p) for p in first["loc"] if not (isinstance(p, str) and "[" in p))
            msg = (
                unknown_field(where)
                if first["type"] == "extra_forbidden"
                else f"{where}: {first['msg'].removeprefix('Value error, ')}"
            )
            raise ManifestError(msg, line=n, field=where) from None
        try:
            items.append(
                WorkInput(
                    data=content_of(line, base),
                    title=line.title,
                    kind=line.kind,
                    creators=tuple(line.creators),
                    identifiers=dict(line.identifiers),
                    preferences=preferences_of(line.preferences),
                )
            )
        except ManifestError:
            raise
        except CopyalignError as exc:
            raise ManifestError(exc.message, line=n, field=exc.field) from None
        numbers.append(n)
    if not items:
        raise ManifestError("the manifest has no works", line=0)
    return items, numbers


def read_manifest(path: Path) -> tuple[list[WorkInput], list[int]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read manifest {path}: {exc.strerror}", field="manifest") from None
    return parse_lines(data.splitlines(), base=path.parent)
