"""The desk's exports through the library, the API and the CLI, on SQLite and PostgreSQL.

Statements of reasons go to the EU DSA Transparency Database's twin (:class:`DsaStub`) served over real HTTP by
uvicorn in the test, as the database would be: once each, at most 100 a call, every call logged; a puid sent
once is refused the second time; a token the database refuses, or a statement it refuses, writes nothing sent.
The transparency report and the dossier are sealed in the log and read back byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from copyalign.clock import FakeClock
from copyalign.context import Copyalign, connect
from copyalign.core.log.checkpoint import Ed25519Signer
from copyalign.core.takedown.elements import Party
from copyalign.core.takedown.sor_rules import Violation
from copyalign.errors import ConfigurationError, ConflictError, InvalidInputError, PermissionDeniedError
from copyalign.policy import load_policy
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.exports.dsa_stub import DsaStub
from copyalign.services.takedown.inputs import DecisionInput, MaterialInput, NoticeFiling, WorkClaim
from copyalign.settings import Settings
from copyalign.store import models as m
from tests.browser.conftest import _bound_socket
from tests.conftest import make_party
from tests.integration.conftest import auth

TOKEN = "platform-token-1"
CN_SENDER = {"name": "Other Holder", "email": "oh@example.org", "address": "1 Road", "identity_proof": "ID 1"}


@contextmanager
def dsa_server(stub: DsaStub) -> Iterator[str]:
    """The stub database served by uvicorn on a free local port; yields its base URL."""
    sock = _bound_socket()
    port = int(sock.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(stub, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "the stub database did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def stub() -> Iterator[tuple[DsaStub, str]]:
    s = DsaStub(token=TOKEN)
    with dsa_server(s) as url:
        yield s, url


class Desk:
    def __init__(self, ca: Copyalign) -> None:
        op_party = ca.parties.create(None, name="Test CMO", role="operator")
        self.op_key = ca.parties.issue_key(None, op_party.id).secret
        op = ca.parties.operator()
        assert op is not None
        self.ca, self.op = ca, op
        self.holder, self.holder_key = make_party(ca, op, "rights_holder", "Northwind Press")
        self.provider, self.provider_key = make_party(ca, op, "provider", "Pixel Foundry AI")
        self.other, _ = make_party(ca, op, "provider", "Other AI")
        self.auditor, self.auditor_key = make_party(ca, op, "auditor", "Audit Co")
        self.n = 0

    def upheld(
        self,
        provider: Principal | None = None,
        *,
        user: str | None = None,
        measures: tuple[str, ...] = ("disable_output",),
        clock: FakeClock | None = None,
        outcome: str = "upheld",
    ) -> str | None:
        """A notice on one of ``provider``'s outputs, decided (upheld with a statement of reasons) two hours after
        it was filed when a ``clock`` is given; returns its puid."""
        provider = provider or self.provider
        self.n += 1
        d = self.ca.guard.deliver(provider, f"output {self.n} of a poem about the sea", user=user or f"user{self.n}")
        claim = WorkClaim(description="a poem", materials=(MaterialInput("trace", d.trace_id),))
        nid = self.ca.takedown.file(self.holder, NoticeFiling((claim,), sender=Party(**CN_SENDER), evidence=("c",))).id
        self.ca.takedown.triage(provider, nid)
        if clock is not None:
            clock.advance(hours=2)
        view = self.ca.takedown.decide(provider, nid, DecisionInput(outcome, "a copy", measures=measures))
        if outcome != "upheld":
            return None
        self.ca.takedown.act(provider, nid)
        puid = view.decisions[0].puid
        assert puid
        return puid

    def puid(self, provider: Principal | None = None) -> str:
        p = self.upheld(provider)
        assert p is not None
        return p


def sent(ca: Copyalign) -> set[str]:
    with ca.store.read() as s:
        return set(s.execute(select(m.TakedownSentStatement.puid)).scalars())


def log_events(ca: Copyalign, event: str) -> list[dict[str, Any]]:
    with ca.store.read() as s:
        rows = s.execute(select(m.LogEntry.payload).where(m.LogEntry.event == event).order_by(m.LogEntry.idx))
        payloads = list(rows.scalars())
        assert None not in payloads, f"an erased {event} payload"
        return [json.loads(bytes(p)) for p in payloads if p is not None]


def test_statements_reach_the_database_once_in_batches(ca: Copyalign, stub: tuple[DsaStub, str]) -> None:
    db, url = stub
    desk = Desk(ca)
    puids = [desk.puid() for _ in range(5)]
    theirs = desk.puid(desk.other)

    view = ca.takedown.export_statements(desk.provider, endpoint=url, token=TOKEN, batch_size=2)
    assert view.sent == 5 and view.remaining == 0 and [len(b.puids) for b in view.batches] == [2, 2, 1]
    assert set(db.statements) == set(puids) and theirs not in db.statements  # only this desk's
    assert [c[:2] for c in db.calls] == [("POST", "/api/v1/statements")] * 3
    assert sent(ca) == set(puids)
    logged = log_events(ca, "takedown.statements_exported")
    assert [e["puids"] for e in logged] == [list(b.puids) for b in view.batches]
    assert all(e["result"] == "created" and e["status"] == 201 for e in logged)
    assert TOKEN not in json.dumps(logged)  # never the token
    # the database's own copy is what was sent, statement by statement
    first = logged[0]["statements"][0]
    stored = {k: v for k, v in db.statements[first["puid"]].items() if k in ca.takedown.statements(limit=10)[0]}
    assert first["uuid"] == db.statements[first["puid"]]["uuid"] and stored["puid"] == first["puid"]

    # nothing left: a second run sends nothing; naming a sent puid is refused, saying when it went
    again = ca.takedown.export_statements(desk.provider, endpoint=url, token=TOKEN)
    assert again.batches == () and len(db.calls) == 3
    with pytest.raises(ConflictError) as exc:
        ca.takedown.export_statements(desk.provider, endpoint=url, token=TOKEN, puids=[puids[0]])
    assert exc.value.code == "puid_not_unique" and "was sent" in exc.value.message and exc.value.field == "puids[0]"
    with pytest.raises(ConflictError, match="named twice"):
        ca.takedown.export_statements(desk.op, provider_id=desk.other.party_id, endpoint=url, token=TOKEN,
                                      puids=[theirs, theirs])  # fmt: skip
    assert len(db.calls) == 3 and theirs not in sent(ca)

    # the provider sends only its own desk's; holders and auditors send none
    with pytest.raises(PermissionDeniedError):
        ca.takedown.export_statements(desk.provider, provider_id=desk.other.party_id, endpoint=url, token=TOKEN)
    for who in (desk.holder, desk.auditor):
        with pytest.raises(PermissionDeniedError):
            ca.takedown.export_statements(who, provider_id=desk.provider.party_id, endpoint=url, token=TOKEN)
    with pytest.raises(InvalidInputError, match="name the provider"):
        ca.takedown.export_statements(desk.op, endpoint=url, token=TOKEN)
    done = ca.takedown.export_statements(desk.op, provider_id=desk.other.party_id, endpoint=url, token=TOKEN)
    assert done.sent == 1 and theirs in db.statements


def test_refusals_write_nothing_sent(ca: Copyalign, stub: tuple[DsaStub, str]) -> None:
    db, url = stub
    desk = Desk(ca)
    puid = desk.puid()
    size = ca.ledger.size()

    with pytest.raises(ConfigurationError) as exc:  # a token the database refuses
        ca.takedown.export_statements(desk.provider, endpoint=url, token="revoked")
    assert exc.value.code == "dsa_token_refused" and sent(ca) == set() and ca.ledger.size() == size
    with pytest.raises(ConfigurationError, match="https"):  # never plain HTTP to anything but this machine
        ca.takedown.export_statements(desk.provider, endpoint="http://dsa.example", token=TOKEN)

    # a rule the database added after ours was read: it refuses the batch, the answer is logged, nothing sent
    def no_synthetic(s: object) -> list[Violation]:
        return [Violation("content_type", "in", "The selected content type is invalid.")]

    db.extra_rules = (no_synthetic,)
    with pytest.raises(InvalidInputError) as refused:
        ca.takedown.export_statements(desk.provider, endpoint=url, token=TOKEN)
    assert refused.value.field == "content_type" and refused.value.status == 400
    assert sent(ca) == set() and db.statements == {}
    [entry] = log_events(ca, "takedown.statements_exported")
    assert entry["result"] == "rejected" and entry["puids"] == [puid] and entry["status"] == 422

    # the database already holds it (an earlier call timed out after it stored it): recorded as held, then 409
    db.extra_rules = ()
    db.statements[puid] = {"puid": puid, "uuid": "held-uuid", "permalink": f"{url}/statement/9"}
    with pytest.raises(ConflictError) as conflict:
        ca.takedown.export_statements(desk.provider, endpoint=url, token=TOKEN)
    assert conflict.value.code == "puid_not_unique" and "recorded as sent" in conflict.value.message
    assert sent(ca) == {puid}
    [held] = log_events(ca, "takedown.statements_reconciled")
    assert held["statements"][0]["uuid"] == "held-uuid"
    assert ca.takedown.export_statements(desk.provider, endpoint=url, token=TOKEN).batches == ()


def test_the_transparency_report_is_sealed_and_read_back(ca: Copyalign, clock: FakeClock, tmp_path: Path) -> None:
    desk = Desk(ca)
    desk.upheld()
    desk.upheld()
    with pytest.raises(InvalidInputError, match="whole period"):
        ca.takedown.transparency_report(desk.provider, "2026H1")
    with pytest.raises(InvalidInputError, match="2026H1"):
        ca.takedown.transparency_report(desk.provider, "2026-Q1")
    clock.set(clock.now().replace(year=2026, month=7, day=2))
    out = tmp_path / "report"
    view = ca.takedown.transparency_report(desk.provider, "2026H1", out=out)
    assert view.period == "2026-H1" and view.provider_id == desk.provider.party_id
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([*view.files, "SHA256SUMS"]) and not any(n.endswith(".partial") for n in names)
    assert hashlib.sha256((out / "SHA256SUMS").read_bytes()).hexdigest() == view.sha256
    for name, digest in view.files.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    [sealed] = log_events(ca, "takedown.report_sealed")
    assert sealed["sha256"] == view.sha256 and sealed["period"] == "2026-H1"
    doc = json.loads((out / "report.json").read_text())
    rows = {(r["indicator"], r["breakdown"]): r["value"] for r in doc["sheets"]["notices"]["rows"]}
    assert rows[("notices_received", "total")] == 2 and rows[("notices_with_action", "total")] == 2
    assert "oh@example.org" not in (out / "report.html").read_text()

    # anyone reads it back, byte for byte; the default period is the last whole one of the profile's kind
    again, files = ca.takedown.sealed_files(None, view.id)
    assert (
        files["SHA256SUMS"] == (out / "SHA256SUMS").read_bytes()
        and files["report.html"] == (out / "report.html").read_bytes()
    )
    assert [r.id for r in ca.takedown.reports(provider_id=desk.provider.party_id)] == [view.id]
    assert ca.takedown.report_period(None).label == "2025"
    with pytest.raises(PermissionDeniedError):
        ca.takedown.transparency_report(desk.provider, "2026H1", provider_id=desk.other.party_id)
    with pytest.raises(PermissionDeniedError):
        ca.takedown.transparency_report(desk.auditor, "2026H1", provider_id=desk.provider.party_id)
    everyone = ca.takedown.transparency_report(desk.op, "2026H1")
    assert everyone.provider_id is None and everyone.sha256 != view.sha256


def test_the_report_counts_what_the_desk_did(ca: Copyalign, clock: FakeClock) -> None:
    desk = Desk(ca)
    for _ in range(3):  # the cn ladder: warn, restrict, terminate: the third strike ends bob's account
        desk.upheld(user="bob", measures=("disable_output", "strike"), clock=clock)
    for gap in (0, 1, 100):  # three strikes, but the first two expired (90 days) before the third: no sanction
        clock.advance(days=gap)
        desk.upheld(user="zed", measures=("disable_output", "strike"), clock=clock)
    desk.upheld(user="carol", measures=("disable_output",), clock=clock)
    desk.upheld(user="dan", clock=clock, outcome="rejected")
    desk.upheld(desk.other, user="eve", clock=clock)  # another desk's
    clock.set(clock.now().replace(year=2027, month=1, day=2))
    view = ca.takedown.transparency_report(desk.provider, "2026")
    _, files = ca.takedown.sealed_files(None, view.id)
    doc = json.loads(files["report.json"])
    rows = {(r["indicator"], r["breakdown"]): r["value"] for sheet in doc["sheets"].values() for r in sheet["rows"]}
    assert rows[("notices_received", "total")] == 8 and rows[("notices_with_action", "total")] == 7
    assert rows[("median_time_to_action", "total")] == 2.0  # each decided and acted on two hours after filing
    disabled = "ground:illegal_content|restriction:DECISION_VISIBILITY_CONTENT_DISABLED"
    assert rows[("actions", disabled)] == 7
    assert rows[("actions", "ground:illegal_content|restriction:DECISION_ACCOUNT_TERMINATED")] == 1
    assert rows[("suspensions", "total")] == 1 and rows[("suspensions", "reason:manifestly_illegal_content")] == 1
    assert rows[("guard_samples", "total")] == 8  # every decided item against what the guard did
    everyone = ca.takedown.sealed_files(None, ca.takedown.transparency_report(desk.op, "2026").id)[1]
    assert json.loads(everyone["report.json"])["sheets"]["notices"]["rows"][0]["value"] == 9


def test_the_dossier_links_every_claim_to_the_log(ca: Copyalign, clock: FakeClock, tmp_path: Path) -> None:
    desk = Desk(ca)
    desk.upheld()
    clock.set(clock.now().replace(year=2027, month=1, day=3))
    ca.takedown.transparency_report(desk.provider, "2026")
    out = tmp_path / "dossier"
    view = ca.takedown.dossier(desk.auditor, desk.provider.party_id, out=out)
    doc = json.loads((out / "dossier.json").read_text())
    factors = {f["factor"]: f for f in doc["factors"]}
    assert factors["foreseeability"]["claims"][0]["figures"] == {"notices": 1, "upheld": 1}
    assert factors["training"]["claims"] == []  # a gap is shown, never hidden
    assert any("median time to action" in c["text"] for c in factors["response_times"]["claims"])
    # every cited entry is in the log with that leaf hash, inside the checkpoint the dossier names
    assert doc["entries"]
    for entry in doc["entries"]:
        receipt = ca.ledger.receipt(entry["index"])
        assert receipt.leaf_hash == entry["leaf_hash"] and entry["index"] < doc["log"]["checkpoint_size"]
    [sealed] = log_events(ca, "takedown.dossier_sealed")
    assert sealed["sha256"] == view.sha256 == hashlib.sha256((out / "SHA256SUMS").read_bytes()).hexdigest()
    _, files = ca.takedown.sealed_files(desk.provider, view.id)
    assert files["dossier.html"] == (out / "dossier.html").read_bytes()
    with pytest.raises(PermissionDeniedError):
        ca.takedown.sealed_files(desk.other, view.id)
    with pytest.raises(PermissionDeniedError):
        ca.takedown.dossier(desk.holder, desk.provider.party_id)
    with pytest.raises(PermissionDeniedError):
        ca.takedown.dossier(desk.other, desk.provider.party_id)
    assert ca.takedown.dossier(desk.provider).provider_id == desk.provider.party_id


def test_exports_over_http(ca: Copyalign, clock: FakeClock, stub: tuple[DsaStub, str]) -> None:
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from copyalign.server import create_app

    db, url = stub
    desk = Desk(ca)
    puid = desk.puid()
    ca.settings = replace(ca.settings, dsa_endpoint=url)
    p, h, a = auth(desk.provider_key), auth(desk.holder_key), auth(desk.auditor_key)
    with TestClient(create_app(ca, checkpoints=False)) as client:
        r = client.post("/v1/takedown/statements/export", json={"token": TOKEN}, headers=p)
        assert r.status_code == 200, r.text
        assert r.json()["sent"] == 1 and puid in db.statements and TOKEN not in r.text
        r = client.post("/v1/takedown/statements/export", json={"token": TOKEN, "puids": [puid]}, headers=p)
        assert r.status_code == 409 and r.json()["error"]["code"] == "puid_not_unique"
        assert client.post("/v1/takedown/statements/export", json={"token": TOKEN}, headers=h).status_code == 403
        assert client.post("/v1/takedown/statements/export", json={"token": TOKEN}).status_code == 401
        assert client.post("/v1/takedown/statements/export", json={}, headers=p).status_code == 422
        r = client.post("/v1/takedown/statements/export", json={"token": "jeton-été"}, headers=p)
        assert r.status_code == 422 and r.json()["error"]["field"] == "token", r.text

        clock.set(clock.now().replace(year=2027, month=1, day=3))
        r = client.post("/v1/takedown/reports", json={"period": "2026"}, headers=p)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        assert client.post("/v1/takedown/reports", json={"period": "2026"}, headers=a).status_code == 403
        # the public reads the list, the document and every file; no personal data in any of them
        listed = client.get("/v1/takedown/reports").json()["reports"]
        assert [x["id"] for x in listed] == [rid]
        page = client.get(f"/v1/takedown/reports/{rid}/files/report.html")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        sums = client.get(f"/v1/takedown/reports/{rid}/files/SHA256SUMS").content
        assert hashlib.sha256(sums).hexdigest() == r.json()["sha256"]
        assert client.get(f"/v1/takedown/reports/{rid}/files/../x").status_code == 404
        public = client.get(f"/v1/takedown/reports/{rid}").text + client.get("/v1/takedown/statements").text
        assert "oh@example.org" not in public and "Other Holder" not in public

        r = client.post("/v1/takedown/dossiers", json={"provider_id": desk.provider.party_id}, headers=a)
        assert r.status_code == 201, r.text
        did = r.json()["id"]
        for who in (p, a):
            assert [x["id"] for x in client.get("/v1/takedown/dossiers", headers=who).json()["dossiers"]] == [did]
        assert client.get("/v1/takedown/dossiers", headers=h).status_code == 403
        assert client.get(f"/v1/takedown/dossiers/{did}/files/dossier.json", headers=p).status_code == 200
        assert client.get(f"/v1/takedown/dossiers/{did}/files/dossier.json").status_code == 401
        assert client.get(f"/v1/takedown/dossiers/{did}/files/dossier.json", headers=h).status_code == 403
        assert client.post("/v1/takedown/dossiers", json={}, headers=h).status_code == 403


def test_exports_from_the_command_line(
    db_url: str, tmp_path: Path, signer: Ed25519Signer, stub: tuple[DsaStub, str]
) -> None:
    from typer.testing import CliRunner

    from copyalign.cli.main import app

    db, url = stub
    settings = Settings(database_url=db_url, data_dir=str(tmp_path / "data"), log_origin="test.copyalign/log")
    ca = connect(settings, clock=FakeClock(datetime.now(UTC) - timedelta(days=3)), signer=signer,
                 policy=load_policy("cn"))  # fmt: skip
    try:
        desk = Desk(ca)
        puid = desk.puid()
        pid = desk.provider.party_id
    finally:
        ca.close()
    base = ["--db", db_url, "--data-dir", settings.data_dir, "--policy", "cn", "takedown"]
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == code, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        return result.stdout + result.stderr

    shown = run("export-statements", "--provider", pid, "--endpoint", url, "--token", TOKEN)
    assert "sent 1 statement(s)" in shown and puid in db.statements
    again = run("export-statements", "--provider", pid, "--endpoint", url, "--token", TOKEN, "--puid", puid, code=1)
    assert "was sent" in again
    assert "https" in run("export-statements", "--provider", pid, "--endpoint", "http://x.example", "--token", "t",
                          code=1)  # fmt: skip

    shown = run("report", "--period", "2025", "--provider", pid, "--out", str(tmp_path / "r"))
    assert (tmp_path / "r" / "report.html").exists() and "sealed" in shown
    digest = hashlib.sha256((tmp_path / "r" / "SHA256SUMS").read_bytes()).hexdigest()
    assert digest in shown
    assert "2026Q1" in run("report", "--period", "2026Q1", "--out", str(tmp_path / "q"), code=1)
    [line] = [x for x in run("dossier", pid, "--out", str(tmp_path / "d"), "--json").splitlines() if x.startswith("{")]
    assert json.loads(line)["kind"] == "dossier" and (tmp_path / "d" / "dossier.html").exists()


def test_a_failed_seal_leaves_no_report_behind(
    ca: Copyalign, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copyalign.errors import StoreUnavailableError

    desk = Desk(ca)
    desk.upheld()
    clock.set(clock.now().replace(year=2027, month=1, day=2))
    size = ca.ledger.size()

    def down(*args: object, **kwargs: object) -> None:
        raise StoreUnavailableError("the database went away")

    monkeypatch.setattr(ca.ledger, "append", down)
    out = tmp_path / "report"
    with pytest.raises(StoreUnavailableError):
        ca.takedown.transparency_report(desk.provider, "2026", out=out)
    assert list(out.iterdir()) == []  # neither a file under its final name nor a .partial one
    monkeypatch.undo()
    assert ca.ledger.size() == size and ca.takedown.reports() == []
    view = ca.takedown.transparency_report(desk.provider, "2026", out=out)
    assert sorted(p.name for p in out.iterdir()) == sorted([*view.files, "SHA256SUMS"])
