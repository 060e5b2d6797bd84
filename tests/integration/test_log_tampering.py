"""Held-out style: random single-row tamperings of every kind the log audit covers, each detected, each named
by its row and by the entry that committed to what the row should hold (issue 20, "Log authenticates state").

The registry is written once per test (``registry_story.build``); each tampering is one UPDATE, audited, and
undone by writing the old value back, so a hundred of them cost a hundred audits, not a hundred registries. The
expected entry is worked out here from the log's own rows (which event last spoke for that column), not from
the audit's rules. A seeded RNG makes every run the same run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from copyalign.clock import FakeClock
from copyalign.context import Copyalign
from copyalign.core.authz import Role
from copyalign.services.log.audit import audit_store
from copyalign.store import models as m
from tests.integration.registry_story import build


@dataclass(frozen=True)
class Case:
    """One tampering: set ``column`` of the ``model`` row with primary key ``pk`` to ``value``; the audit must
    name ``table``/``key`` first, at entry ``index``."""

    model: Any
    pk: dict[str, Any]
    column: str
    value: Any
    table: str
    key: str
    index: int


class World:
    """The story's rows and log, read once, for the tamperings to draw from."""

    def __init__(self, ca: Copyalign) -> None:
        with ca.store.read() as s:
            self.entries = [(e.idx, e.event, e.subject) for e in s.execute(select(m.LogEntry)).scalars()]
            self.payloads = {e.idx: bytes(e.payload) for e in s.execute(select(m.LogEntry)).scalars() if e.payload}
            self.rows = {
                model: list(s.execute(select(model)).scalars())
                for model in (m.Work, m.Preference, m.Party, m.ApiKey, m.Notice, m.ExclusionList, m.Invoice,
                              m.Payment, m.Allocation, m.GuardTerm, m.BlockedOutput, m.GenerationTrace, m.Objection)
            }  # fmt: skip
            for rows in self.rows.values():
                for r in rows:
                    s.expunge(r)

    def last(self, subject: str, *events: str) -> int:
        """The index of the last of ``events`` on ``subject``."""
        return max(i for i, ev, sub in self.entries if sub == subject and ev in events)


def _other(rng: random.Random, values: list[str], current: str) -> str:
    return rng.choice([v for v in values if v != current])


def _hex(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(64))


def _works(w: World, rng: random.Random, column: str) -> Case:
    r = rng.choice(w.rows[m.Work])
    if column == "sha256":
        value: Any = _hex(rng)
    elif column == "title":
        value = f"{r.title} (forged {rng.randrange(10**6)})"
    else:
        value = _other(rng, [p.id for p in w.rows[m.Party]], r.holder_id)
    index = w.last(r.id, "work.registered", "work.updated") if column == "title" else r.log_index
    return Case(m.Work, {"id": r.id}, column, value, "works", r.id, index)


def _payload(w: World, rng: random.Random) -> Case:
    idx = rng.choice(sorted(w.payloads))
    data = bytearray(w.payloads[idx])
    pos = rng.randrange(len(data))
    data[pos] = (data[pos] + rng.randrange(1, 256)) % 256
    return Case(m.LogEntry, {"idx": idx}, "payload", bytes(data), "log_entries", str(idx), idx)


def _preferences(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.Preference])
    column, value = rng.choice(
        [("value", "forged"), ("purpose", "forged"), ("jurisdiction", "ZZ"), ("actor_id", "pty_forged")]
    )
    return Case(m.Preference, {"id": r.id}, column, value, "preferences", str(r.log_index), r.log_index)


def _parties(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.Party])
    column, value = rng.choice(
        [("name", f"{r.name} Jr"), ("email", f"x{rng.randrange(1000)}@forged.example"),
         ("role", _other(rng, [x.value for x in Role], r.role))]
    )  # fmt: skip
    return Case(m.Party, {"id": r.id}, column, value, "parties", r.id, r.log_index)


def _keys(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.ApiKey])
    if rng.random() < 0.5:
        value: Any = _other(rng, [p.id for p in w.rows[m.Party]], r.party_id)
        return Case(
            m.ApiKey, {"id": r.id}, "party_id", value, "api_keys", r.id, w.last(r.id, "key.issued", "key.revoked")
        )
    value = None if r.revoked_at is not None else r.created_at + timedelta(days=1)
    return Case(
        m.ApiKey, {"id": r.id}, "revoked_at", value, "api_keys", r.id, w.last(r.id, "key.issued", "key.revoked")
    )


def _notices(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.Notice])
    column, value = rng.choice([("title", "Forged model"), ("status", "draft"), ("window_days", 1), ("tariff", "x")])
    index = w.last(r.id, "notice.create", "notice.publish", "notice.finalise") if column == "status" else r.log_index
    return Case(m.Notice, {"id": r.id}, column, value, "notices", r.id, index)


def _exclusions(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.ExclusionList])
    column = rng.choice(["excluded", "licensed"])
    items = list(getattr(r, column))
    value = items[: rng.randrange(len(items))] if items else ["wrk_forged"]
    return Case(m.ExclusionList, {"notice_id": r.notice_id, "version": r.version}, column, value,
                "exclusion_lists", f"{r.notice_id}/{r.version}", r.log_index)  # fmt: skip


def _invoices(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.Invoice])
    if rng.random() < 0.5:
        return Case(m.Invoice, {"id": r.id}, "amount_minor", r.amount_minor + rng.randrange(1, 10**6), "invoices",
                    r.id, r.log_index)  # fmt: skip
    value = _other(rng, ["open", "paid", "void", "exempt"], r.status)
    index = w.last(r.id, "invoice.issue", "invoice.void", "payment.record")
    return Case(m.Invoice, {"id": r.id}, "status", value, "invoices", r.id, index)


def _payments(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.Payment])
    column, value = rng.choice([("amount_minor", r.amount_minor - 1), ("reference", "forged"), ("currency", "EUR")])
    return Case(m.Payment, {"id": r.id}, column, value, "payments", r.id, r.log_index)


def _allocations(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.Allocation])
    value = r.amount_minor + rng.choice([-1, 1]) * rng.randrange(1, 1000)
    index = w.last(r.holder_id, "statement.issue")
    return Case(m.Allocation, {"distribution_id": r.distribution_id, "work_id": r.work_id}, "amount_minor", value,
                "statements", f"{r.distribution_id}/{r.holder_id}", index)  # fmt: skip


def _terms(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.GuardTerm])
    column, value = rng.choice([("names", ["Forged Name"]), ("work_ids", ["wrk_forged"]), ("kind", "forged")])
    return Case(m.GuardTerm, {"id": r.id}, column, value, "guard_terms", r.id, w.last(r.id, "guard.term.add"))


def _blocks(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.BlockedOutput])
    other = _other(rng, [p.id for p in w.rows[m.Party]], r.provider_id)
    column, value = rng.choice([("reason", "forged"), ("sha256", _hex(rng)), ("provider_id", other)])
    index = w.last(r.id, "guard.block", "guard.unblock") if column == "provider_id" else r.log_index
    return Case(m.BlockedOutput, {"id": r.id}, column, value, "blocked_outputs", r.id, index)


def _traces(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.GenerationTrace])
    column, value = rng.choice([("user_ref", "forged"), ("decision", "block"), ("output_sha256", _hex(rng))])
    if column == "decision" and r.decision == "block":
        value = "allow"
    return Case(m.GenerationTrace, {"id": r.id}, column, value, "generation_traces", r.id, r.sealed_index)


def _objections(w: World, rng: random.Random) -> Case:
    r = rng.choice(w.rows[m.Objection])
    other = _other(rng, [p.id for p in w.rows[m.Party]], r.holder_id)
    column, value = rng.choice([("reason", f"forged {rng.randrange(1000)}"), ("holder_id", other)])
    return Case(m.Objection, {"id": r.id}, column, value, "objections", str(r.log_index), r.log_index)


KINDS: dict[str, Callable[[World, random.Random], Case]] = {
    "works.sha256": lambda w, rng: _works(w, rng, "sha256"),
    "works.title": lambda w, rng: _works(w, rng, "title"),
    "works.holder_id": lambda w, rng: _works(w, rng, "holder_id"),
    "log_entries.payload": _payload,
    "preferences": _preferences,
    "parties": _parties,
    "api_keys": _keys,
    "notices": _notices,
    "exclusion_lists": _exclusions,
    "invoices": _invoices,
    "payments": _payments,
    "allocations": _allocations,
    "guard_terms": _terms,
    "blocked_outputs": _blocks,
    "generation_traces": _traces,
    "objections": _objections,
}


def _set(ca: Copyalign, case: Case, value: Any) -> Any:
    """Set the case's column to ``value``; returns the value it had."""
    with ca.store.write() as s:
        where = [getattr(case.model, k) == v for k, v in case.pk.items()]
        old = s.execute(select(getattr(case.model, case.column)).where(*where)).scalar_one()
        s.execute(update(case.model).where(*where).values({case.column: value}))
    return old


@pytest.fixture
def world(client: TestClient, ca: Copyalign, clock: FakeClock, op_key: str) -> World:
    build(client, ca, clock, op_key, works=12)
    assert audit_store(ca.ledger, role=Role.AUDITOR).ok
    return World(ca)


def test_random_single_row_tamperings_are_all_detected_at_the_right_row_and_entry(ca: Copyalign, world: World) -> None:
    per_kind = 100 if ca.store.is_sqlite else 15  # PostgreSQL: a smaller sample of the same draws
    rng = random.Random(20)
    missed: list[str] = []
    for kind, draw in KINDS.items():
        for n in range(per_kind):
            case = draw(world, rng)
            old = _set(ca, case, case.value)
            try:
                first = audit_store(ca.ledger, role=Role.AUDITOR).first
            finally:
                _set(ca, case, old)
            got = None if first is None else (first.table, first.key, first.index)
            if got != (case.table, case.key, case.index):
                missed.append(f"{kind} #{n} ({case.column}={case.value!r}): expected "
                              f"{(case.table, case.key, case.index)}, got {got}")  # fmt: skip
    assert not missed, f"{len(missed)} of {len(KINDS) * per_kind} misnamed or missed:\n" + "\n".join(missed[:20])
    assert audit_store(ca.ledger, role=Role.AUDITOR).ok  # every tampering was undone
