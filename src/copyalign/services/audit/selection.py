"""Which texts an audit reads: the ``--works`` selection, and non-member texts from a folder or a JSONL file.

Example:
    >>> WorkSpec.parse("sample:200")
    WorkSpec(mode='sample', count=200, ids=())
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from copyalign.core.content import decode_text
from copyalign.errors import InvalidInputError

_ID = re.compile(r"wrk_[0-9a-z]{26}")


@dataclass(frozen=True)
class WorkSpec:
    """Which works to probe: ``all``, ``sample`` (``count`` of them), ``denied`` or ``ids``."""

    mode: str
    count: int = 0
    ids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> WorkSpec:
        """``all``, ``sample:N``, ``denied``, ``@FILE`` (one work id a line, ``#`` comments) or ``ID,ID,...``."""
        spec = spec.strip()
        if spec in ("all", "denied"):
            return cls(spec)
        if spec.startswith("sample:"):
            n = spec.removeprefix("sample:")
            if not n.isdigit() or int(n) < 1:
                raise InvalidInputError(f"sample:N needs a positive count, not {n!r}", field="works")
            return cls("sample", count=int(n))
        if spec.startswith("@"):
            try:
                lines = Path(spec[1:]).read_text("utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInputError(f"cannot read the work list {spec[1:]}: {exc}", field="works") from None
            ids = [ln.split("#", 1)[0].strip() for ln in lines]
            return cls._ids([i for i in ids if i])
        return cls._ids([i.strip() for i in spec.split(",") if i.strip()])

    @classmethod
    def _ids(cls, ids: list[str]) -> WorkSpec:
        bad = [i for i in ids if not _ID.fullmatch(i)]
        if bad or not ids:
            what = f"{bad[0]!r} is not a work id" if bad else "no work ids"
            raise InvalidInputError(f"{what}: use all, sample:N, denied, @FILE or ID,ID,...", field="works")
        return cls("ids", ids=tuple(dict.fromkeys(ids)))


def read_texts(path: Path, *, field: str = "nonmembers") -> list[str]:
    """Texts from a folder of ``.txt`` files (in name order) or a JSONL file of ``{"text": ...}`` lines."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        texts = [decode_text(p.read_bytes(), field=field) for p in files]
    elif path.is_file():
        texts = []
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                texts.append(str(json.loads(line)["text"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InvalidInputError(f"{path} line {n}: not a JSON object with a text", field=field) from None
    else:
        raise InvalidInputError(f"{path} does not exist", field=field)
    if not texts:
        raise InvalidInputError(f"{path} holds no texts", field=field)
    return texts


__all__ = ["WorkSpec", "read_texts"]
