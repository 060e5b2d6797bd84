"""The role × action matrix, walked through the API: every cell is one request (the actions with no HTTP route —
corpus scans, model audits, canaries, blob collection — through the service the CLI calls).

The expected answer of each cell comes from ``tests/rights.py`` (the roles' documented rights, written out as
data), never from ``copyalign.core.authz``: that matrix is the code under test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from copyalign.clock import FakeClock
from copyalign.context import Copyalign
from copyalign.core.authz import Action, Role
from copyalign.core.log.checkpoint import Ed25519Signer
from copyalign.errors import PermissionDeniedError
from copyalign.services.registry.parties import Principal
from copyalign.store.blobs import MemoryBlobStore
from copyalign.store.models import Work
from tests.conftest import DatabaseCopy, Migrated, make_ca, make_party
from tests.integration.conftest import auth
from tests.rights import EXPECTED, HOLDS_WORKS, RUNS_NOTICES, expected

ROLES = list(Role)


@dataclass
class _Saved:
    """The world as the first cell on a backend built it: its database, its blobs, and the dict the cells get."""

    db: DatabaseCopy
    blobs: list[bytes]
    world: dict


#: Per backend, in this test process. Every cell starts from the same world, so it is built once and copied:
#: building it (seven parties, their keys, a work, each a logged write) took about half of a cell's time.
_SAVED: dict[str, _Saved] = {}


def _backend(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def ca(db_url: str, clock: FakeClock, signer: Ed25519Signer, tmp_path: Path, migrated: Migrated) -> Iterator[Copyalign]:
    """The conftest's ``ca``, over a copy of the saved world where one was saved."""
    saved = _SAVED.get(_backend(db_url))
    blobs = MemoryBlobStore()
    if saved is None:
        migrated.fill(db_url)
    else:
        saved.db.put(db_url, replace_rows=True)
        blobs.put_many(saved.blobs)
    ca = make_ca(db_url, clock, signer, tmp_path, blobs)
    yield ca
    ca.close()


@pytest.fixture
def op_key(ca: Copyalign, db_url: str) -> str:
    saved = _SAVED.get(_backend(db_url))
    if saved is not None:
        return str(saved.world["keys"][Role.OPERATOR])
    party = ca.parties.create(None, name="Test CMO", role="operator")
    return ca.parties.issue_key(None, party.id).secret


@pytest.fixture
def world(ca: Copyalign, op_key: str, db_url: str, tmp_path: Path) -> dict:
    """One party of each role, and a work owned by a rights holder other than the actor."""
    saved = _SAVED.get(_backend(db_url))
    if saved is not None:
        return dict(saved.world)  # a cell may add to its world (a desk, a provider): never to the next cell's
    built = _build_world(ca, op_key)
    copy = DatabaseCopy.take(db_url, tmp_path.parent / f"world-{_backend(db_url)}-{os.getpid()}.db")
    if copy is not None:
        with ca.store.read() as s:
            digests = list(s.scalars(select(Work.sha256)))
        _SAVED[_backend(db_url)] = _Saved(copy, [ca.blobs.get(d) for d in digests], dict(built))
    return built


def _build_world(ca: Copyalign, op_key: str) -> dict:
    op = ca.parties.authenticate(op_key)
    keys = {Role.OPERATOR: op_key}
    principals: dict[Role, Principal] = {Role.OPERATOR: op}
    for role in ROLES[1:]:
        principals[role], keys[role] = make_party(ca, op, role.value)
    other, other_key = make_party(ca, op, "rights_holder", "Other Holder")
    from copyalign.services.registry.works import WorkInput

    theirs = ca.works.register(other, WorkInput(data=b"someone else's poem, line one", title="Theirs"))
    other_developer, _ = make_party(ca, op, "developer", "Other Developer")
    return {
        "keys": keys,
        "principals": principals,
        "other": other,
        "other_key": other_key,
        "theirs": theirs.id,
        "other_developer": other_developer,
    }


def _own_work(ca: Copyalign, p: Principal) -> str | None:
    from copyalign.services.registry.works import WorkInput

    if p.role.value not in HOLDS_WORKS:
        return None
    return ca.works.register(p, WorkInput(data=f"own work of {p.party_id}".encode(), title="Mine")).id


def _request(client: TestClient, ca: Copyalign, world: dict, role: Role, action: Action, owner: bool):
    key = world["keys"][role]
    me = world["principals"][role]
    target_party = me.party_id if owner else world["other"].party_id
    work = (_own_work(ca, me) if owner else world["theirs"]) or world["theirs"]
    h = auth(key)
    match action:
        case Action.PARTY_CREATE:
            return client.post("/v1/parties", json={"name": "New", "role": "developer"}, headers=h)
        case Action.PARTY_READ:
            return client.get(f"/v1/parties/{target_party}", headers=h)
        case Action.KEY_ISSUE:
            return client.post(f"/v1/parties/{target_party}/keys", json={}, headers=h)
        case Action.KEY_REVOKE:
            k = ca.parties.issue_key(world["principals"][Role.OPERATOR], target_party)
            return client.post(f"/v1/keys/{k.key_id}/revoke", headers=h)
        case Action.WORK_REGISTER:
            body = {"title": "T", "text": f"new text by {role} {owner}"}
            if not owner:
                body["holder_id"] = world["other"].party_id
            return client.post("/v1/works", json=body, headers=h)
        case Action.WORK_READ:
            return client.get(f"/v1/works/{work}", headers=h)
        case Action.WORK_UPDATE:
            return client.patch(f"/v1/works/{work}", json={"title": "Renamed"}, headers=h)
        case Action.PREFERENCE_SET:
            return client.post(
                f"/v1/works/{work}/preferences", json={"purpose": "train-ai", "value": "deny"}, headers=h
            )
        case Action.LOOKUP:
            return client.post("/v1/lookup", json={"text": "anything at all"}, headers=h)
        case Action.LOG_READ:
            return client.get(f"/v1/log/preference-proof?work={world['theirs']}", headers=h)
        case Action.LOG_CHECKPOINT:
            return client.post("/v1/log/checkpoint", headers=h)
        case Action.AUDIT_RUN | Action.CANARY_MAKE:
            return _audit_request(ca, world, role, action, owner)
        case Action.BLOB_GC:
            return _blob_gc_request(ca, world, role)
        case Action.LOG_AUDIT:
            return client.get("/v1/log/audit", headers=h)
    return _licensing_request(client, ca, world, role, action, owner, work, h)


def _notice(ca: Copyalign, world: dict, developer: Principal, works: list[str], *, stage: str) -> str:
    """A notice by ``developer`` over ``works``, taken to ``stage``: draft, open or finalised."""
    from copyalign.services.licensing.notices import NoticeInput

    nid = ca.notices.create(developer, NoticeInput("Model", "train-ai", "commercial", "default", works)).id
    if stage in ("open", "finalised"):
        ca.notices.publish(developer, nid)
    if stage == "finalised":
        ca.clock.advance(days=31)  # type: ignore[attr-defined]
        ca.notices.finalise(world["principals"][Role.OPERATOR], nid)
    return nid


def _invoice(ca: Copyalign, world: dict, developer: Principal, *, paid: bool = False) -> str:
    from datetime import timedelta

    from copyalign.services.licensing.royalties import UsageInput

    nid = _notice(ca, world, developer, [world["theirs"]], stage="finalised")
    now = ca.clock.now()
    usage = UsageInput("1000.00", "CNY", now - timedelta(days=30), now, lines=[(world["theirs"], "5")])
    inv = ca.licensing.report_usage(developer, nid, usage)["invoice"]
    if paid:
        ca.licensing.record_payment(world["principals"][Role.OPERATOR], inv["id"], amount=inv["amount"], currency="CNY")
    return str(inv["id"])


def _licensing_request(client, ca, world, role, action, owner, work, h):  # noqa: ANN001, ANN202
    me = world["principals"][role]
    other_dev = world["other_developer"]
    mine = owner and role.value in RUNS_NOTICES  # only developers (and the CMO) have notices
    dev = me if mine else other_dev
    match action:
        case Action.NOTICE_CREATE:
            if owner:
                return client.post(
                    "/v1/notices", json={"title": "M", "purpose": "train-ai", "works": [world["theirs"]]}, headers=h
                )
            return client.post(f"/v1/notices/{_notice(ca, world, other_dev, [work], stage='draft')}/publish", headers=h)
        case Action.NOTICE_FINALISE:
            nid = _notice(ca, world, dev, [world["theirs"]], stage="open")
            ca.clock.advance(days=31)
            return client.post(f"/v1/notices/{nid}/finalise", headers=h)
        case Action.OBJECTION_FILE:
            nid = _notice(ca, world, other_dev, sorted({work, world["theirs"]}), stage="open")
            return client.post(f"/v1/notices/{nid}/objections", json={"works": [work]}, headers=h)
        case Action.USAGE_REPORT:
            nid = _notice(ca, world, dev, [world["theirs"]], stage="finalised")
            now = ca.clock.now().isoformat()
            body = {"revenue": "10.00", "currency": "CNY", "period_start": "2026-01-01T00:00:00Z", "period_end": now}
            return client.post(f"/v1/notices/{nid}/reports", json=body, headers=h)
        case Action.INVOICE_READ:
            return client.get(f"/v1/invoices/{_invoice(ca, world, dev)}", headers=h)
        case Action.PAYMENT_RECORD:
            inv = _invoice(ca, world, dev)
            amount = ca.licensing.invoice(world["principals"][Role.OPERATOR], inv)["amount"]
            return client.post(f"/v1/invoices/{inv}/payments", json={"amount": amount, "currency": "CNY"}, headers=h)
        case Action.DISTRIBUTION_RUN:
            _invoice(ca, world, dev, paid=True)
            return client.post("/v1/distributions", json={"currency": "CNY"}, headers=h)
        case Action.STATEMENT_READ:
            holder = me.party_id if owner else world["other"].party_id
            return client.get(f"/v1/statements?holder_id={holder}", headers=h)
        case Action.SCAN_RUN:  # a library and CLI action: the service's answer, read as a status
            base = Path(ca.settings.data_dir).parent
            (base / "corpus").mkdir(exist_ok=True)
            (base / "corpus" / "a.txt").write_text("a small clean text to scan")
            target = me.party_id if owner else other_dev.party_id
            try:
                ca.scan.scan(me, base / "corpus", base / f"scan-{role}-{owner}", developer_id=target)
            except PermissionDeniedError as exc:
                return _Outcome(403, {"error": exc.to_dict()})
            return _Outcome(200, {})
    return _guard_request(client, ca, world, role, action, owner, work, h)


def _guard_request(client, ca, world, role, action, owner, work, h):  # noqa: ANN001, ANN202
    me = world["principals"][role]
    if "other_provider" not in world:
        world["other_provider"], _ = make_party(ca, world["principals"][Role.OPERATOR], "provider", "Other Provider")
    provider = me if owner and me.role is Role.PROVIDER else world["other_provider"]
    match action:
        case Action.GUARD_CHECK:  # a provider screens for itself; screening against another's blocklist is "other"
            body = {"text": "an ordinary generated sentence"}
            if not owner:
                body["provider_id"] = world["other_provider"].party_id
            return client.post("/v1/guard/output", json=body, headers=h)
        case Action.GUARD_TERM:
            body = {"kind": "character", "names": [f"Character {role} {owner}"], "work_ids": [work]}
            return client.post("/v1/guard/terms", json=body, headers=h)
        case Action.GUARD_BLOCK:
            body = {
                "text": f"a taken-down output {role} {owner}",
                "reason": "notice 1",
                "provider_id": provider.party_id,
            }
            return client.post("/v1/guard/blocklist", json=body, headers=h)
        case Action.TRACE_READ:
            d = ca.guard.deliver(provider, "a delivered output", user="u1")
            return client.get(f"/v1/traces/{d.trace_id}", headers=h)
        case Action.CONFLICT_REVIEW:  # the operator's queue of registration conflicts
            return client.get("/v1/conflicts", headers=h)
    raise AssertionError(action)


@dataclass
class _Outcome:
    """A library call's outcome, shaped like the HTTP responses the other cells check."""

    status_code: int
    body: dict

    def json(self) -> dict:
        return self.body

    @property
    def text(self) -> str:
        return str(self.body)


# the takedown and journey actions have their own request builders (below), judged by the same table
CELLS = [
    (r, a, o) for r in ROLES for a in Action for o in (True, False) if not a.value.startswith(("takedown.", "journey."))
]


@pytest.mark.parametrize(
    ("role", "action", "owner"),
    CELLS,
    ids=[f"{r.value}-{a.value}-{'own' if o else 'other'}" for r, a, o in CELLS],
)
def test_matrix_cell(client: TestClient, ca: Copyalign, world: dict, role: Role, action: Action, owner: bool) -> None:
    ca.ledger.checkpoint()
    r = _request(client, ca, world, role, action, owner)
    _assert_cell(r, role, action, owner)


#: Refusals that are not the role's: a holder may file for another holder's works as its agent, with an
#: authorisation on record (README, "The takedown desk"); the cell's request has none.
NOT_BY_ROLE = {("rights_holder", "takedown.file", False): "no_authorisation"}


#: The cells whose request creates a record: allowed, they answer 201 Created; every other allowed request
#: answers 200 (reads, and actions on a record that exists: a publish, a finalisation, a triage, a revocation).
#: The "other" request of notice.create publishes someone else's draft: an action, 200.
CREATES = {
    "party.create", "key.issue", "work.register", "preference.set", "log.checkpoint", "notice.create",
    "objection.file", "usage.report", "payment.record", "distribution.run", "guard.term", "guard.block",
    "takedown.file", "takedown.authorise", "takedown.counter", "takedown.complain", "takedown.report",
    "takedown.dossier", "journey.terms.publish", "journey.adapter", "journey.model.declare",
}  # fmt: skip


def _assert_cell(r, role: Role, action: Action, owner: bool) -> None:  # noqa: ANN001
    if expected(role.value, action.value, owner=owner):
        created = action.value in CREATES and (owner or action is not Action.NOTICE_CREATE)
        assert r.status_code == (201 if created else 200), (r.status_code, r.text)
        return
    assert r.status_code == 403, (r.status_code, r.text)
    body = r.json()["error"]
    if (code := NOT_BY_ROLE.get((role.value, action.value, owner))) is not None:
        assert body["code"] == code, body
        return
    # a refusal by role says so in words and carries the machine codes (README, "The HTTP API at a glance")
    assert body["code"] == "forbidden", body
    assert (body["action"], body["role"]) == (action.value, role.value), body


def test_the_table_covers_every_action_and_role() -> None:
    assert set(EXPECTED) == {a.value for a in Action}
    assert all(set(row) == {r.value for r in Role} for row in EXPECTED.values())


def _audit_request(ca: Copyalign, world: dict, role: Role, action: Action, owner: bool) -> _Outcome:
    """Library and CLI actions, read as a status. An audit is authorised before its model is loaded, so a
    model that does not exist answers "authorised" with a model error and "refused" with a 403."""
    from copyalign.errors import ModelLoadError

    me = world["principals"][role]
    target = me.party_id if owner else world["other_developer"].party_id
    base = Path(ca.settings.data_dir).parent / f"audit-{role}-{owner}"
    try:
        if action is Action.CANARY_MAKE:
            ca.audit.make_canaries(me, base, developer_id=target, buckets=(1,), per_bucket=1, length=3)
        else:
            with pytest.raises(ModelLoadError):  # authorised: it went on to load the model
                ca.audit.run(me, base / "no-model", base / "out", developer_id=target)
    except PermissionDeniedError as exc:
        return _Outcome(403, {"error": exc.to_dict()})
    return _Outcome(200, {})


def _blob_gc_request(ca: Copyalign, world: dict, role: Role) -> _Outcome:
    """``copyalign blobs gc``: a library and CLI action, read as a status."""
    try:
        ca.blob_gc.collect(world["principals"][role])
    except PermissionDeniedError as exc:
        return _Outcome(403, {"error": exc.to_dict()})
    return _Outcome(200, {})


# -- the takedown desk (seed 004 ¶84-92) --------------------------------------------------------------------
# "Own" is: a holder's own notice (filed by it) or authorisation; a provider's own desk (the notice addressed to it).

TAKEDOWN_CELLS = [(r, a, o) for a in Action if a.value.startswith("takedown.") for r in ROLES for o in (True, False)]
_CN_SENDER = {"name": "Other Holder", "email": "oh@example.org", "address": "1 Road", "identity_proof": "ID 1"}
_CN_USER = {"name": "U One", "phone": "+86 1", "address": "2 Road", "identity_proof": "ID 2"}


def _td_notice(ca: Copyalign, world: dict, filer: Principal, provider: Principal, stage: str) -> str:
    """A complete notice by ``filer`` to ``provider``'s desk (the cn profile's elements), taken to ``stage``."""
    from copyalign.core.takedown.elements import Party
    from copyalign.services.takedown.inputs import CounterInput, DecisionInput, MaterialInput, NoticeFiling, WorkClaim

    op = world["principals"][Role.OPERATOR]
    delivered = ca.guard.deliver(provider, f"an output for {filer.party_id} {stage}", user="u1")
    claim = WorkClaim(description="a poem", materials=(MaterialInput("trace", delivered.trace_id),))
    filing = NoticeFiling((claim,), sender=Party(**_CN_SENDER), evidence=("certificate",))
    nid = ca.takedown.file(filer, filing).id
    if stage == "complete":
        return nid
    ca.takedown.triage(op, nid)
    if stage == "rejected":
        ca.takedown.decide(op, nid, DecisionInput("rejected", "not shown to be a copy"))
        return nid
    ca.takedown.decide(op, nid, DecisionInput("upheld", "a copy", measures=("disable_output",)))
    ca.takedown.act(op, nid)
    if stage == "forwarded":
        user = CounterInput("u1", Party(**_CN_USER), explanation="mine", evidence=("draft",))
        assert ca.takedown.counter_notice(op, nid, user).state == "forwarded"
    return nid


def _takedown_request(client: TestClient, ca: Copyalign, world: dict, role: Role, action: Action, owner: bool):  # noqa: ANN202
    me = world["principals"][role]
    h = auth(world["keys"][role])
    if "other_provider" not in world:
        world["other_provider"], _ = make_party(ca, world["principals"][Role.OPERATOR], "provider", "Other Provider")
    other = world["other"]
    desk = me if owner and role is Role.PROVIDER else world["other_provider"]
    filer = me if owner and role is Role.RIGHTS_HOLDER else other
    match action:
        case Action.TAKEDOWN_FILE:
            claim = {"description": "a poem", "materials": [{"kind": "url", "value": "https://example.org/copy"}]}
            body: dict = {"works": [claim], "provider_id": world["other_provider"].party_id}
            if not owner or role is Role.OPERATOR:
                body["principal_id"] = other.party_id  # as an agent, with no authorisation on record
                body["works"] = [{**claim, "work_id": world["theirs"]}]
            return client.post("/v1/takedown/notices", json=body, headers=h)
        case Action.TAKEDOWN_AUTHORISE:
            holder = me.party_id if owner else other.party_id
            agent = world["other_developer"].party_id
            return client.post(
                "/v1/takedown/authorisations",
                json={"agent_id": agent, "holder_id": holder, "document": "PoA"},
                headers=h,
            )
        case Action.TAKEDOWN_READ:
            return client.get(f"/v1/takedown/notices/{_td_notice(ca, world, filer, desk, 'complete')}", headers=h)
        case Action.TAKEDOWN_HANDLE:
            return client.post(
                f"/v1/takedown/notices/{_td_notice(ca, world, filer, desk, 'complete')}/triage", headers=h
            )
        case Action.TAKEDOWN_COUNTER:
            nid = _td_notice(ca, world, filer, desk, "applied")
            return client.post(f"/v1/takedown/notices/{nid}/counter-notices", json={"user": "u1"}, headers=h)
        case Action.TAKEDOWN_COURT_ACTION:
            nid = _td_notice(ca, world, filer, desk, "forwarded")
            return client.post(f"/v1/takedown/notices/{nid}/court-action", json={"reference": "case 1"}, headers=h)
        case Action.TAKEDOWN_COMPLAIN:
            nid = _td_notice(ca, world, filer, desk, "rejected")
            body = {"by": "notifier", "reason": "it is a copy"}
            return client.post(f"/v1/takedown/notices/{nid}/complaints", json=body, headers=h)
        case Action.TAKEDOWN_EXPORT:  # nothing unsent: an authorised call sends nothing and answers 200
            body = {"token": "platform-token", "provider_id": desk.party_id}
            return client.post("/v1/takedown/statements/export", json=body, headers=h)
        case Action.TAKEDOWN_REPORT:
            body = {"period": "2025", "provider_id": desk.party_id}
            return client.post("/v1/takedown/reports", json=body, headers=h)
        case Action.TAKEDOWN_DOSSIER:
            return client.post("/v1/takedown/dossiers", json={"provider_id": desk.party_id}, headers=h)
    raise AssertionError(action)


@pytest.mark.parametrize(
    ("role", "action", "owner"),
    TAKEDOWN_CELLS,
    ids=[f"{r.value}-{a.value}-{'own' if o else 'other'}" for r, a, o in TAKEDOWN_CELLS],
)
def test_takedown_matrix_cell(
    client: TestClient, ca: Copyalign, world: dict, role: Role, action: Action, owner: bool
) -> None:
    r = _takedown_request(client, ca, world, role, action, owner)
    _assert_cell(r, role, action, owner)


# -- the user journey and the model card (issue 24; seed 004 ¶84, ¶26, ¶56, ¶96(a)) --------------------------
# "Own" is: a provider's own terms, users and user models; a developer's own model (the rows: tests/rights.py).

JOURNEY_CELLS = [(r, a, o) for a in Action if a.value.startswith("journey.") for r in ROLES for o in (True, False)]


def _journey_request(client: TestClient, ca: Copyalign, world: dict, role: Role, action: Action, owner: bool):  # noqa: ANN202
    me = world["principals"][role]
    h = auth(world["keys"][role])
    op = world["principals"][Role.OPERATOR]
    if "journey_provider" not in world:
        world["journey_provider"], _ = make_party(ca, op, "provider", "Journey Provider")
        ca.journey.publish_terms(world["journey_provider"], "base")
    provider = me if owner and role is Role.PROVIDER else world["journey_provider"]
    pid = provider.party_id
    match action:
        case Action.JOURNEY_TERMS_PUBLISH:
            return client.post(
                "/v1/journey/terms", json={"version": f"v-{role}-{owner}", "provider_id": pid}, headers=h
            )
        case Action.JOURNEY_TERMS_ACCEPT:
            if not any(t.version == "base" for t in ca.journey.list_terms(op, pid)):
                ca.journey.publish_terms(op, "base", provider_id=pid)
            body = {"users": ["ann"], "provider_id": pid}
            return client.post("/v1/journey/terms/base/acceptances", json=body, headers=h)
        case Action.JOURNEY_TERMS_READ:
            return client.get("/v1/journey/terms", params={"provider_id": pid}, headers=h)
        case Action.JOURNEY_STANDING:
            return client.get("/v1/journey/standing", params={"user": "ann", "provider_id": pid}, headers=h)
        case Action.JOURNEY_ADAPTER:
            body = {
                "name": "a style",
                "base_model": "base-1",
                "user": "ann",
                "items": [{"name": "a.txt", "text": f"a training text of {role} {owner}"}],
                "provider_id": pid,
            }
            return client.post("/v1/journey/adapters", json=body, headers=h)
        case Action.JOURNEY_ADAPTER_READ:
            return client.get("/v1/journey/adapters", params={"provider_id": pid}, headers=h)
        case Action.JOURNEY_MODEL_DECLARE:
            dev = me.party_id if owner and role is Role.DEVELOPER else world["other_developer"].party_id
            body = {"name": f"model-{role}-{owner}", "developer_id": dev}
            return client.post("/v1/models", json=body, headers=h)
        case Action.JOURNEY_MODEL_CARD:
            if "journey_model" not in world:
                ca.modelcards.declare(op, "public-model", developer_id=world["other_developer"].party_id)
                world["journey_model"] = "public-model"
            return client.get("/v1/models/public-model/card", headers=h)
    raise AssertionError(action)


@pytest.mark.parametrize(
    ("role", "action", "owner"),
    JOURNEY_CELLS,
    ids=[f"{r.value}-{a.value}-{'own' if o else 'other'}" for r, a, o in JOURNEY_CELLS],
)
def test_journey_matrix_cell(
    client: TestClient, ca: Copyalign, world: dict, role: Role, action: Action, owner: bool
) -> None:
    r = _journey_request(client, ca, world, role, action, owner)
    _assert_cell(r, role, action, owner)
