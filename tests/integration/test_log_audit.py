"""``copyalign log audit``: the database's rows checked against what the log committed to (issue 20, finding 7).

Each tampering below passed ``copyalign log verify`` before the audit existed: the tree authenticates the
entries, not the rows beside them. The audit names the first divergent row and the entry that says what it
should hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from copyalign.clock import FakeClock
from copyalign.context import Copyalign
from copyalign.core.authz import Role
from copyalign.errors import PermissionDeniedError
from copyalign.services.log.audit import audit_store
from copyalign.services.log.bundle import verify_store
from copyalign.store import models as m
from tests.integration.conftest import auth
from tests.integration.registry_story import build


@pytest.fixture
def story(client: TestClient, ca: Copyalign, clock: FakeClock, op_key: str) -> dict[str, Any]:
    return build(client, ca, clock, op_key)


def _index(s: Session, model: Any, where: Any) -> int:
    return int(s.execute(select(model.log_index).where(where)).scalar_one())


def _event_index(s: Session, event: str, subject: str | None = None) -> int:
    q = select(sa.func.max(m.LogEntry.idx)).where(m.LogEntry.event == event)
    if subject is not None:
        q = q.where(m.LogEntry.subject == subject)
    return int(s.execute(q).scalar_one())


# Each tampering: (what it does to the database, the table and key of the row the audit must name first, the
# index of the entry it must name). Written as functions of the story's ids.
Tamper = Callable[[Session, dict[str, Any]], tuple[str, str, int]]


def _work_sha(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    w = st["works"][2]
    s.execute(update(m.Work).where(m.Work.id == w).values(sha256="0" * 64))
    return "works", w, _index(s, m.Work, m.Work.id == w)


def _work_owner(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    w = st["works"][1]
    s.execute(update(m.Work).where(m.Work.id == w).values(title="Stolen", holder_id=st["parties"][1]))
    return "works", w, _index(s, m.Work, m.Work.id == w)


def _retitled_work(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    w = st["works"][0]  # its title was changed by a later entry: that entry is the one named
    s.execute(update(m.Work).where(m.Work.id == w).values(title="Forged"))
    return "works", w, _event_index(s, "work.updated", w)


def _payload(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    i = _index(s, m.Work, m.Work.id == st["works"][3])
    s.execute(update(m.LogEntry).where(m.LogEntry.idx == i).values(payload=b'{"holder":"pty_x"}'))
    return "log_entries", str(i), i


def _payload_erased(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    i = _event_index(s, "key.revoked")
    s.execute(update(m.LogEntry).where(m.LogEntry.idx == i).values(payload=None))
    return "log_entries", str(i), i


def _preference(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    row = s.execute(select(m.Preference).where(m.Preference.value == "deny")).scalars().first()
    assert row is not None
    row.value = "allow"
    return "preferences", str(row.log_index), row.log_index


def _unrevoke(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    key = s.execute(select(m.ApiKey).where(m.ApiKey.revoked_at.is_not(None))).scalars().one()
    key.revoked_at = None
    return "api_keys", key.id, _event_index(s, "key.revoked", key.id)


def _party(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    p = st["parties"][2]
    s.execute(update(m.Party).where(m.Party.id == p).values(role="operator"))
    return "parties", p, _index(s, m.Party, m.Party.id == p)


def _notice(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    s.execute(update(m.Notice).where(m.Notice.id == st["notice"]).values(status="open", finalised_at=None))
    return "notices", st["notice"], _event_index(s, "notice.finalise")


def _exclusions(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    x = s.execute(select(m.ExclusionList)).scalars().one()
    x.excluded = []  # the objected and the denied works, quietly licensed
    return "exclusion_lists", f"{x.notice_id}/1", x.log_index


def _invoice(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    s.execute(update(m.Invoice).where(m.Invoice.id == st["invoice"]).values(amount_minor=1))
    return "invoices", st["invoice"], _index(s, m.Invoice, m.Invoice.id == st["invoice"])


def _void_reopened(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    s.execute(update(m.Invoice).where(m.Invoice.id == st["void_invoice"]).values(status="open"))
    return "invoices", st["void_invoice"], _event_index(s, "invoice.void")


def _allocation(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    a = s.execute(select(m.Allocation).order_by(m.Allocation.work_id)).scalars().first()
    assert a is not None
    a.amount_minor += 100
    return "statements", f"{a.distribution_id}/{a.holder_id}", _event_index(s, "statement.issue", a.holder_id)


def _term(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    s.execute(update(m.GuardTerm).where(m.GuardTerm.id == st["term"]).values(names=["Someone Else"]))
    return "guard_terms", st["term"], _index(s, m.GuardTerm, m.GuardTerm.id == st["term"])


def _unblock(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    s.execute(
        update(m.BlockedOutput).where(m.BlockedOutput.id == st["block"]).values(lifted_at=m.BlockedOutput.created_at)
    )
    return "blocked_outputs", st["block"], _index(s, m.BlockedOutput, m.BlockedOutput.id == st["block"])


def _trace(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    t = s.execute(select(m.GenerationTrace).order_by(m.GenerationTrace.id)).scalars().first()
    assert t is not None and t.sealed_index is not None
    t.user_ref = "someone-else"
    return "generation_traces", t.id, t.sealed_index


def _deleted_preference(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    row = s.execute(select(m.Preference)).scalars().first()
    assert row is not None
    s.execute(delete(m.Preference).where(m.Preference.id == row.id))
    return "preferences", str(row.log_index), row.log_index


def _forged_preference(s: Session, st: dict[str, Any]) -> tuple[str, str, int]:
    row = s.execute(select(m.Preference)).scalars().first()
    assert row is not None  # a copy claiming a later entry that says something else entirely
    later = _event_index(s, "guard.block")
    s.add(m.Preference(holder_id=row.holder_id, work_id=row.work_id, purpose="train-ai", value="allow",
                       jurisdiction=row.jurisdiction, effective_at=row.effective_at, recorded_at=row.recorded_at,
                       actor_id=row.actor_id, log_index=later))  # fmt: skip
    return "preferences", str(later), later


TAMPERS: dict[str, Tamper] = {
    "works.sha256": _work_sha,
    "works.title+holder_id": _work_owner,
    "works.title after an update": _retitled_work,
    "log_entries.payload": _payload,
    "log_entries.payload erased": _payload_erased,
    "preferences.value": _preference,
    "api_keys.revoked_at": _unrevoke,
    "parties.role": _party,
    "notices.status": _notice,
    "exclusion_lists.excluded": _exclusions,
    "invoices.amount_minor": _invoice,
    "invoices.status (void reopened)": _void_reopened,
    "allocations.amount_minor": _allocation,
    "guard_terms.names": _term,
    "blocked_outputs.lifted_at": _unblock,
    "generation_traces.user_ref": _trace,
    "preferences row deleted": _deleted_preference,
    "preferences row forged": _forged_preference,
}


def test_a_registry_written_through_the_api_audits_clean(ca: Copyalign, story: dict[str, Any]) -> None:
    report = audit_store(ca.ledger, role=Role.AUDITOR)
    assert report.ok, [f.message for f in report.findings]
    assert report.entries == ca.ledger.size() and report.rows > 40


@pytest.mark.parametrize("name", list(TAMPERS))
def test_each_tampering_is_named_by_its_row_and_entry(ca: Copyalign, story: dict[str, Any], name: str) -> None:
    with ca.store.write() as s:
        table, key, index = TAMPERS[name](s, story)
    verify_store(ca.ledger)  # the tree is intact: only the rows beside it changed
    report = audit_store(ca.ledger, role=Role.OPERATOR)
    first = report.first
    assert first is not None, name
    assert (first.table, first.key, first.index) == (table, key, index), first.message


def test_only_the_operator_and_auditors_may_audit(ca: Copyalign, story: dict[str, Any]) -> None:
    for role in (Role.RIGHTS_HOLDER, Role.DEVELOPER, Role.PROVIDER):
        with pytest.raises(PermissionDeniedError):
            audit_store(ca.ledger, role=role)


def test_the_api_names_the_first_divergence(client: TestClient, ca: Copyalign, story: dict[str, Any]) -> None:
    op = auth(story["keys"]["op"])
    r = client.get("/v1/log/audit", headers=op)
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    w = story["works"][4]
    with ca.store.write() as s:
        s.execute(update(m.Work).where(m.Work.id == w).values(holder_id=story["parties"][1]))
    body = client.get("/v1/log/audit", headers=op).json()
    assert body["ok"] is False and body["divergences"] == 1
    assert body["first"]["table"] == "works" and body["first"]["key"] == w and body["first"]["column"] == "holder_id"
    assert client.get("/v1/log/audit", headers=auth(story["keys"]["dev"])).status_code == 403


def test_the_cli_exits_1_and_names_the_row(db_url: str, tmp_path: Path) -> None:
    from copyalign.cli.main import app

    runner = CliRunner()
    base = ["--db", db_url, "--data-dir", str(tmp_path / "data")]
    assert runner.invoke(app, [*base, "init"]).exit_code == 0
    poem = tmp_path / "poem.txt"
    poem.write_text("Shall I compare thee to a summer's day? Thou art more lovely and more temperate.")
    added = json.loads(runner.invoke(app, [*base, "works", "add", str(poem), "--title", "Sonnet 18", "--json"]).stdout)
    ok = runner.invoke(app, [*base, "log", "audit"])
    assert ok.exit_code == 0 and ok.stdout.startswith("ok: "), ok.stdout + ok.stderr
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(update(m.Work).where(m.Work.id == added["id"]).values(title="Sonnet 19"))
    engine.dispose()
    bad = runner.invoke(app, [*base, "log", "audit", "--json"])
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert report["first"]["key"] == added["id"] and report["first"]["column"] == "title"
    assert "Sonnet 18" in report["first"]["message"]


# -- the takedown desk: a notice received, decided, a user struck ----------------------------------------------


@pytest.fixture
def desk(ca: Copyalign, clock: FakeClock) -> str:
    from copyalign.services.takedown.inputs import NoticeAmendment
    from tests.integration.test_takedown import CN_SENDER, take_down, world

    w = world(ca, clock)
    return take_down(
        w,
        jurisdiction_fields={"explanation": "the output copies chapter 2"},
        completion=NoticeAmendment(sender=CN_SENDER, evidence=("registration certificate 2026-A-0001",)),
    )


def _first(ca: Copyalign) -> tuple[str, str, int | None]:
    first = audit_store(ca.ledger, role=Role.AUDITOR).first
    assert first is not None
    return first.table, first.key, first.index


def test_takedown_records_are_checked_against_their_entries(ca: Copyalign, desk: str) -> None:
    assert audit_store(ca.ledger, role=Role.AUDITOR).ok
    with ca.store.read() as s:
        notice = s.execute(select(m.TakedownNotice).where(m.TakedownNotice.id == desk)).scalar_one()
        decision = s.execute(select(m.TakedownDecision).where(m.TakedownDecision.notice_id == desk)).scalar_one()
        strike = s.execute(select(m.TakedownStrike).where(m.TakedownStrike.notice_id == desk)).scalar_one()
    tamperings = [
        (
            m.TakedownNotice,
            notice.id,
            {"sender_ref": "someone-else"},
            ("takedown_notices", notice.id, notice.log_index),
        ),
        (m.TakedownDecision, decision.id, {"items": []}, ("takedown_decisions", decision.id, decision.log_index)),
        (m.TakedownStrike, strike.id, {"user_ref": "another-user"}, ("takedown_strikes", strike.id, strike.log_index)),
    ]
    for model, key, values, expected in tamperings:
        with ca.store.write() as s:
            old = {c: getattr(s.get(model, key), c) for c in values}
            s.execute(update(model).where(model.id == key).values(values))
        assert _first(ca) == expected
        with ca.store.write() as s:
            s.execute(update(model).where(model.id == key).values(old))
    assert audit_store(ca.ledger, role=Role.AUDITOR).ok
