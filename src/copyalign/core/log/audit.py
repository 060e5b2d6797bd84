"""Auditing the registry's state against its log: does every row say what its entries committed to?

The tree authenticates the entries (:mod:`copyalign.core.log.verify`); this module authenticates the rows the
entries speak for. It replays the entries, in order, into the state they commit to (an :class:`Expected`
table of rows: which fields each row must hold, and which entry set each field; the rules per event are
:mod:`copyalign.core.log.replay`) and compares that with the rows the database holds. A row that differs,
one the log never created, one the log created but that is gone, and an entry whose stored payload no
longer hashes to its ``payload_sha256`` are each a :class:`Finding` naming the entry and the row; the
report's ``first`` is the finding with the lowest entry index (findings about the log's own entries
before findings about rows), the place an auditor starts.

Pure: the caller (``services/log/audit.py``) reads the entries and the rows and passes plain values; times
are compared in the log's own spelling (:func:`copyalign.core.canonical.format_time`).

Example:
    >>> e = AuditEntry(0, "party.created", "pty_a", "system", "2026-01-01T00:00:00.000000Z",
    ...                {"name": "A", "role": "operator", "email": None})
    >>> rows = {"parties": {"pty_a": {"name": "B", "role": "operator", "email": None,
    ...                               "created_at": "2026-01-01T00:00:00.000000Z", "log_index": 0}}}
    >>> print(audit_state([e], rows).first.message)
    parties pty_a: name is 'B', but entry 0 (party.created) committed to 'A'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from copyalign.core.log import merkle
from copyalign.core.log.expected import AuditEntry, Expected, Finding
from copyalign.core.log.replay import apply

Rows = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""table -> row key -> column -> value, as the service read them (times already formatted)."""


@dataclass(frozen=True, slots=True)
class AuditReport:
    entries: int
    rows: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def to_dict(self, *, limit: int = 100) -> dict[str, Any]:
        """The report as JSON: the counts, the first finding and at most ``limit`` findings in all."""
        return {
            "ok": self.ok,
            "entries": self.entries,
            "rows": self.rows,
            "divergences": len(self.findings),
            "first": self.first.to_dict() if self.first else None,
            "findings": [f.to_dict() for f in self.findings[:limit]],
        }


def _show(v: Any) -> str:
    text = repr(v) if not isinstance(v, dict | list) else json.dumps(v, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def compare(expected: Expected, rows: Rows) -> list[Finding]:
    """Every difference between the replayed state and the rows, for the tables the log speaks for."""
    out: list[Finding] = []
    for table, want in expected.tables.items():
        have = rows.get(table, {})
        for key, cols in want.items():
            row = have.get(key)
            if row is None:
                first = min(i for _v, i, _e in cols.values())
                event = next(ev for _v, i, ev in cols.values() if i == first)
                out.append(
                    Finding(first, table, key, None, f"{table} {key}, created by entry {first} ({event}), is missing")
                )
                continue
            for col, (value, index, event) in cols.items():
                got = row.get(col)
                if got != value:
                    out.append(
                        Finding(
                            index,
                            table,
                            key,
                            col,
                            f"{table} {key}: {col} is {_show(got)}, "
                            f"but entry {index} ({event}) committed to {_show(value)}",
                        )
                    )
    for table, have in rows.items():
        want_rows = expected.tables.get(table, {})
        for key, row in have.items():
            if key not in want_rows:
                claimed = row.get("log_index")
                named = claimed if isinstance(claimed, int) and not isinstance(claimed, bool) else None
                out.append(
                    Finding(named, table, key, None, f"{table} {key} is in the database but no entry created it")
                )
    return out


@dataclass(frozen=True, slots=True)
class TraceRow:
    """A generation trace as the seal check needs it: its stored leaf and the leaf its columns hash to now."""

    id: str
    sealed_index: int
    created_at: str
    leaf: str
    computed_leaf: str


def check_seals(entries: Mapping[int, AuditEntry], traces: Iterable[TraceRow]) -> list[Finding]:
    """Each ``guard.traces.seal`` entry commits to the Merkle root of the leaves it sealed (in creation order):
    a trace whose columns no longer hash to its leaf, or a sealed set that no longer has that root, is named."""
    out: list[Finding] = []
    groups: dict[int, list[TraceRow]] = {}
    for t in traces:
        groups.setdefault(t.sealed_index, []).append(t)
        if t.leaf != t.computed_leaf:
            out.append(
                Finding(
                    t.sealed_index,
                    "generation_traces",
                    t.id,
                    None,
                    f"generation_traces {t.id}: its columns no longer hash to the leaf sealed by entry "
                    f"{t.sealed_index}",
                )
            )
    seals = {i: e for i, e in entries.items() if e.event == "guard.traces.seal"}
    for index, e in sorted(seals.items()):
        members = sorted(groups.pop(index, []), key=lambda t: (t.created_at, t.id))
        p = e.payload
        if p is None:
            continue
        try:
            root = merkle.root_from_leaves([merkle.leaf_hash(bytes.fromhex(t.leaf)) for t in members]).hex()
        except ValueError:
            root = ""
        got = {
            "count": len(members),
            "root": root,
            "first": members[0].id if members else None,
            "last": members[-1].id if members else None,
        }
        for col in ("count", "first", "last", "root"):
            if got[col] != p.get(col):
                out.append(
                    Finding(
                        index,
                        "generation_traces",
                        f"sealed@{index}",
                        col,
                        f"the traces sealed by entry {index}: {col} is {_show(got[col])}, "
                        f"but the entry committed to {_show(p.get(col))}",
                    )
                )
    for index, members in sorted(groups.items()):
        out.append(
            Finding(
                index,
                "generation_traces",
                members[0].id,
                "sealed_index",
                f"generation_traces {members[0].id} claims to be sealed by entry {index}, which is no seal",
            )
        )
    return out


def audit_state(entries: Iterable[AuditEntry], rows: Rows, *, traces: Sequence[TraceRow] = ()) -> AuditReport:
    """Replay ``entries`` and compare the state they commit to with ``rows``; every finding, first first."""
    expected = Expected()
    seen: dict[int, AuditEntry] = {}
    for e in entries:
        seen[e.index] = e
        if e.problem is not None:
            expected.add(Finding(e.index, "log_entries", str(e.index), "payload", f"entry {e.index}: {e.problem}"))
            continue
        if e.payload is not None:
            apply(e, expected)
    findings = expected.findings + compare(expected, rows) + check_seals(seen, traces)
    n_rows = sum(len(t) for t in rows.values()) + len(traces)
    return AuditReport(len(seen), n_rows, tuple(sorted(findings, key=Finding.sort_key)))


__all__ = [
    "AuditEntry",
    "AuditReport",
    "Expected",
    "Finding",
    "Rows",
    "TraceRow",
    "audit_state",
    "check_seals",
    "compare",
]
