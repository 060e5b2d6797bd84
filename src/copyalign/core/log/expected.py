"""The state a log commits to: the audit's vocabulary (see :mod:`copyalign.core.log.audit`).

An :class:`AuditEntry` is one entry with its payload; replaying entries (:mod:`copyalign.core.log.replay`)
fills an :class:`Expected` with the rows they commit to; a :class:`Finding` is one place where the database
differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One log entry as the audit sees it. ``payload`` is None where it is unusable, and ``problem`` then says
    what is wrong with the stored row (a payload that no longer hashes to the entry's ``payload_sha256``, one
    that is missing, an entry that is not JSON)."""

    index: int
    event: str
    subject: str
    actor: str
    time: str
    payload: Mapping[str, Any] | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """A divergence: ``index`` is the entry that committed to what the row should hold (None for a row that
    names no entry), ``table`` and ``key`` the row, ``column`` the field (None for a whole row)."""

    index: int | None
    table: str
    key: str
    column: str | None
    message: str

    def sort_key(self) -> tuple[int, int, str, str, str]:
        """Findings about the log itself (an entry whose payload no longer matches) come first: past such an
        entry the replayed state is unknown, so the rows it would have changed are not the place to start."""
        index = self.index if self.index is not None else 2**63
        return (0 if self.table == "log_entries" else 1, index, self.table, self.key, self.column or "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "table": self.table,
            "key": self.key,
            "column": self.column,
            "message": self.message,
        }


@dataclass(slots=True)
class Expected:
    """The state the entries commit to, built by replaying them (the rules call :meth:`create` and
    :meth:`update`): per table, per row key, each column's value and the index of the entry that set it."""

    tables: dict[str, dict[str, dict[str, tuple[Any, int, str]]]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def create(self, e: AuditEntry, table: str, key: str, columns: Mapping[str, Any]) -> None:
        rows = self.tables.setdefault(table, {})
        if key in rows:
            self.findings.append(
                Finding(e.index, table, key, None, f"entry {e.index} ({e.event}) creates {table} {key} a second time")
            )
        rows[key] = {c: (v, e.index, e.event) for c, v in columns.items()}

    def update(self, e: AuditEntry, table: str, key: str, columns: Mapping[str, Any]) -> None:
        row = self.tables.setdefault(table, {}).get(key)
        if row is None:
            self.findings.append(
                Finding(e.index, table, key, None, f"entry {e.index} ({e.event}) changes {table} {key}, never created")
            )
            return
        row.update({c: (v, e.index, e.event) for c, v in columns.items()})

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)


__all__ = ["AuditEntry", "Expected", "Finding"]
