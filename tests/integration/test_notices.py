"""Training notices and the default licence, end to end through the API with a fake clock, on SQLite and
PostgreSQL: register, publish, object, close, report, pay, distribute — and every step provably logged."""

from __future__ import annotations

import base64
import csv
import io
import json
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from copyalign.clock import FakeClock
from copyalign.context import Copyalign
from copyalign.core.log import merkle
from copyalign.store.models import Allocation, ExclusionList, Notice, NoticeWork, Objection, UsageReport
from tests.conftest import make_party
from tests.integration.conftest import auth


def _work(client: TestClient, key: str, text: str, **extra: object) -> str:
    r = client.post("/v1/works", json={"title": text[:20], "text": text, **extra}, headers=auth(key))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture
def story(client: TestClient, ca: Copyalign, op_key: str) -> dict:
    op = ca.parties.authenticate(op_key)
    alice, alice_key = make_party(ca, op, "rights_holder", "Alice Author")
    bob, bob_key = make_party(ca, op, "rights_holder", "Bob Bard")
    dev, dev_key = make_party(ca, op, "developer", "Model Lab")
    a = [_work(client, alice_key, f"Alice's poem number {i}, with its own words {i * 7}") for i in range(3)]
    b = [_work(client, bob_key, f"Bob's ballad number {i}, sung to a tune {i * 11}") for i in range(2)]
    denied = _work(
        client, bob_key, "Bob's private diary, not for machines", preferences=[{"purpose": "train-ai", "value": "deny"}]
    )
    return {"op": op_key, "alice": alice_key, "bob": bob_key, "dev": dev_key, "ids": {"alice": alice.party_id,
            "bob": bob.party_id, "dev": dev.party_id}, "a": a, "b": b, "denied": denied}  # fmt: skip


def _entry(client: TestClient, index: int) -> bytes:
    r = client.get(f"/v1/log/entries?start={index}&end={index + 1}")
    return base64.b64decode(r.json()["entries"][0]["entry"])


def _proves(client: TestClient, ca: Copyalign, index: int) -> None:
    """The log entry at ``index`` is included in a freshly signed checkpoint, by the served proof."""
    cp = ca.ledger.checkpoint()
    proof = client.get(f"/v1/log/proof/inclusion?index={index}&size={cp.size}").json()
    path = [base64.b64decode(p) for p in proof["proof"]]
    merkle.verify_inclusion(merkle.leaf_hash(_entry(client, index)), index, cp.size, path, cp.root)


def test_the_whole_licensing_story(client: TestClient, ca: Copyalign, clock: FakeClock, story: dict) -> None:
    dev, alice, bob, op = (auth(story[k]) for k in ("dev", "alice", "bob", "op"))
    works = story["a"] + story["b"] + [story["denied"]]
    r = client.post("/v1/notices", json={"title": "Lab-7B", "purpose": "train-genai", "works": works}, headers=dev)
    assert r.status_code == 201, r.text
    nid, created = r.json()["id"], r.json()
    assert created["status"] == "draft" and created["counts"] == {"listed": 6}
    assert client.get("/v1/notices").json()["notices"] == []  # a draft is not on the board
    r = client.post(f"/v1/notices/{nid}/publish", headers=dev)
    assert r.status_code == 200, r.text
    pub = r.json()
    assert pub["status"] == "open" and pub["window_days"] == 30
    assert pub["counts"] == {"listed": 5, "excluded": 1}  # the denied diary, at once
    assert [n["id"] for n in client.get("/v1/notices").json()["notices"]] == [nid]
    # both holders were notified; each sees the notice and only its own works
    for key, name, mine in ((alice, "alice", 3), (bob, "bob", 3)):
        notes = client.get("/v1/notifications", headers=key).json()["notifications"]
        assert [(n["kind"], n["subject"], n["body"]["your_works"]) for n in notes] == [("notice.published", nid, mine)]
        assert [n["id"] for n in client.get("/v1/notices/mine", headers=key).json()["notices"]] == [nid]
        listed = client.get(f"/v1/notices/{nid}/works", headers=key).json()["works"]
        assert {w["holder_id"] for w in listed} == {story["ids"][name]}
    # Alice objects to one poem, withdraws and re-files it (history kept); Bob objects to nothing
    r = client.post(f"/v1/notices/{nid}/objections", json={"works": [story["a"][0]], "reason": "mine"}, headers=alice)
    assert r.status_code == 201, r.text
    first = r.json()["objections"][0]["id"]
    assert client.delete(f"/v1/objections/{first}", headers=alice).status_code == 200
    r = client.post(f"/v1/notices/{nid}/objections", json={"works": [story["a"][0]]}, headers=alice)
    assert r.status_code == 201 and r.json()["objections"][0]["id"] != first
    history = client.get(f"/v1/notices/{nid}/objections", headers=dev).json()["objections"]
    assert [o["withdrawn_at"] is not None for o in history] == [True, False]
    # not before the window closes
    r = client.post(f"/v1/notices/{nid}/finalise", headers=dev)
    assert r.status_code == 409 and "open until" in r.json()["error"]["message"]
    clock.advance(days=30)
    r = client.post(f"/v1/notices/{nid}/objections", json={"works": [story["a"][1]]}, headers=alice)
    assert r.status_code == 409 and "closed" in r.json()["error"]["message"]
    # the scheduled close finalises it; finalising again changes nothing
    assert client.post("/v1/notices/close-due", headers=op).json() == {"finalised": [nid]}
    again = client.post(f"/v1/notices/{nid}/finalise", headers=dev).json()
    assert again["status"] == "finalised" and again["counts"] == {"excluded": 2, "licensed": 4}
    lists = client.get(f"/v1/notices/{nid}/exclusions").json()
    assert lists["version"] == 1
    assert lists["excluded"] == sorted(
        [{"work": story["a"][0], "reason": "objected"}, {"work": story["denied"], "reason": "denied"}],
        key=lambda e: e["work"],
    )
    assert lists["licensed"] == sorted(story["a"][1:] + story["b"])
    jsonl = client.get(f"/v1/notices/{nid}/exclusions?format=jsonl").text.splitlines()
    assert json.loads(jsonl[0])["sha256"] == lists["sha256"] and len(jsonl) == 7
    _proves(client, ca, lists["log_index"])

    # usage: measured per work; a non-finalised notice or a foreign currency is refused, nothing written
    period = {"period_start": "2026-01-01T00:00:00Z", "period_end": "2026-03-01T00:00:00Z"}
    lines = [
        {"work_id": w, "measure": m}
        for w, m in zip(story["a"][1:] + story["b"], ["100", "300", "50", "50"], strict=True)
    ]
    bad = client.post(f"/v1/notices/{nid}/reports", json={"revenue": "2000000", "currency": "EUR", **period,
                                                          "lines": lines}, headers=dev)  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "currency_mismatch"
    r = client.post(
        f"/v1/notices/{nid}/reports",
        json={"revenue": "2000000.00", "currency": "CNY", "feature_share": "0.15", **period, "lines": lines},
        headers=dev,
    )
    assert r.status_code == 201, r.text
    report, invoice = r.json()["report"], r.json()["invoice"]
    # 1M x 3 % + 1M x 5 % = 80,000; x 1.2 for one full 10 % of features
    assert report["quote"]["fee"] == "96000.00" and invoice["amount"] == "96000.00" and invoice["status"] == "open"
    r = client.post(f"/v1/invoices/{invoice['id']}/payments", json={"amount": "95000", "currency": "CNY"}, headers=op)
    assert r.status_code == 400  # not the amount due
    r = client.post(
        f"/v1/invoices/{invoice['id']}/payments", json={"amount": "96000.00", "currency": "CNY"}, headers=op
    )
    assert r.status_code == 201 and r.json()["status"] == "paid"

    r = client.post("/v1/distributions", json={"currency": "CNY"}, headers=op)
    assert r.status_code == 201, r.text
    dist = r.json()
    assert (dist["collected"], dist["admin"], dist["distributable"]) == ("96000.00", "9600.00", "86400.00")
    # Alice: 400 of 500 measured units; Bob: 100
    sa = client.get("/v1/statements", headers=alice).json()
    sb = client.get("/v1/statements", headers=bob).json()
    assert sa["totals"] == {"CNY": "69120.00"} and sb["totals"] == {"CNY": "17280.00"}
    assert Decimal(sa["totals"]["CNY"]) + Decimal(sb["totals"]["CNY"]) == Decimal(dist["distributable"])
    assert {line["work_id"] for line in sa["lines"]} == set(story["a"][1:])  # the objected poem earns nothing
    rows = list(csv.DictReader(io.StringIO(client.get("/v1/statements?format=csv", headers=bob).text)))
    assert sum(Decimal(x["amount"]) for x in rows) == Decimal("17280.00")
    assert client.post("/v1/distributions", json={"currency": "CNY"}, headers=op).status_code == 409  # nothing left
    # every step is in the log, and the run's entry is provably included
    size = ca.ledger.size()
    logged = [json.loads(_entry(client, i))["event"] for i in range(size)]
    events = [
        e
        for e in logged
        if e.split(".")[0] in ("notice", "objection", "usage", "invoice", "payment", "distribution", "statement")
    ]
    assert events == [
        "notice.create", "notice.publish", "objection.file", "objection.withdraw", "objection.file",
        "notice.finalise", "usage.report", "invoice.issue", "payment.record", "distribution.run",
        "statement.issue", "statement.issue",
    ]  # fmt: skip
    _proves(client, ca, dist["log_index"])
    _proves(client, ca, report["log_index"])


def test_a_later_deny_reaches_the_exclusion_list_at_once(client: TestClient, ca: Copyalign, clock: FakeClock,
                                                          story: dict) -> None:  # fmt: skip
    dev, alice = auth(story["dev"]), auth(story["alice"])
    nid = client.post(
        "/v1/notices", json={"title": "M", "purpose": "train-ai", "works": story["a"]}, headers=dev
    ).json()["id"]
    client.post(f"/v1/notices/{nid}/publish", headers=dev)
    # opting out during the window excludes the work at the close, without an objection
    r = client.post(
        f"/v1/works/{story['a'][2]}/preferences", json={"purpose": "train-ai", "value": "deny"}, headers=alice
    )
    assert r.status_code == 201, r.text
    clock.advance(days=31)
    client.post(f"/v1/notices/{nid}/finalise", headers=dev)
    v1 = client.get(f"/v1/notices/{nid}/exclusions").json()
    assert v1["excluded"] == [{"work": story["a"][2], "reason": "opted_out"}]
    # after the close, a deny produces version 2 in the same request
    r = client.post(
        f"/v1/works/{story['a'][0]}/preferences", json={"purpose": "train-ai", "value": "deny"}, headers=alice
    )
    assert r.status_code == 201, r.text
    v2 = client.get(f"/v1/notices/{nid}/exclusions?format=filter").json()
    assert v2["version"] == 2 and {e["work"] for e in v2["excluded"]} == {story["a"][0], story["a"][2]}
    assert client.get(f"/v1/notices/{nid}/exclusions?version=1").json()["sha256"] == v1["sha256"]
    assert all(e["sha256"] and len(e["sha256"]) == 64 for e in v2["excluded"])


def _counts(ca: Copyalign) -> tuple[int, ...]:
    with ca.store.read() as s:
        from sqlalchemy import func, select

        return tuple(
            s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Notice, NoticeWork, Objection, ExclusionList, UsageReport, Allocation)
        ) + (ca.ledger.size(),)


def test_bad_input_is_a_clear_4xx_and_writes_nothing(client: TestClient, ca: Copyalign, clock: FakeClock,
                                                     story: dict) -> None:  # fmt: skip
    dev, alice, bob = auth(story["dev"]), auth(story["alice"]), auth(story["bob"])
    nid = client.post(
        "/v1/notices", json={"title": "M", "purpose": "train-ai", "works": story["a"]}, headers=dev
    ).json()["id"]
    before = _counts(ca)
    cases = [
        (client.post, "/v1/notices", {"title": "M", "purpose": "train-ai", "works": ["wrk_x"]}, dev, 400, "wrk_x"),
        (client.post, "/v1/notices", {"title": "M", "purpose": "search", "works": story["a"]}, dev, 400, "search"),
        (client.post, "/v1/notices", {"title": "M", "purpose": "train-ai", "works": story["a"], "window_days": 7},
         dev, 400, "at least 30 days"),
        (client.post, "/v1/notices", {"title": "M", "purpose": "train-ai", "works": story["a"], "tariff": "gold"},
         dev, 400, "no tariff 'gold'"),
        (client.post, f"/v1/notices/{nid}/objections", {"works": [story["a"][0]]}, alice, 409, "not been published"),
        (client.post, f"/v1/notices/{nid}/reports", {"revenue": "1", "currency": "CNY",
         "period_start": "2026-01-01T00:00:00Z", "period_end": "2026-02-01T00:00:00Z"}, dev, 409, "finalised"),
    ]  # fmt: skip
    for call, url, body, key, status, text in cases:
        r = call(url, json=body, headers=key)
        assert r.status_code == status and text in r.json()["error"]["message"], (url, r.status_code, r.text)
    client.post(f"/v1/notices/{nid}/publish", headers=dev)
    before = _counts(ca)
    r = client.post(f"/v1/notices/{nid}/objections", json={"works": [story["a"][0]]}, headers=bob)
    assert r.status_code == 403  # Bob does not own Alice's poem
    clock.advance(days=31)
    client.post(f"/v1/notices/{nid}/finalise", headers=dev)
    before = _counts(ca)
    period = {"period_start": "2026-01-01T00:00:00Z", "period_end": "2026-02-01T00:00:00Z"}
    for lines, text in (
        ([{"work_id": story["a"][0], "measure": "-5"}], "negative"),
        ([{"work_id": story["a"][0], "measure": "lots"}], "must be a number"),
        ([{"work_id": story["b"][0], "measure": "5"}], "not licensed under"),
    ):
        r = client.post(f"/v1/notices/{nid}/reports", json={"revenue": "10", "currency": "CNY", **period,
                                                             "lines": lines}, headers=dev)  # fmt: skip
        assert r.status_code == 400 and text in r.json()["error"]["message"], r.text
    r = client.post(f"/v1/notices/{nid}/reports", json={"revenue": "10", "currency": "JPY", **period}, headers=dev)
    assert r.status_code == 400 and r.json()["error"]["code"] == "currency_mismatch"
    assert _counts(ca) == before


def test_a_correction_supersedes_an_unpaid_report_and_voids_its_invoice(
    client: TestClient, ca: Copyalign, clock: FakeClock, story: dict
) -> None:
    dev, op = auth(story["dev"]), auth(story["op"])
    nid = client.post(
        "/v1/notices", json={"title": "M", "purpose": "train-ai", "works": story["b"]}, headers=dev
    ).json()["id"]
    client.post(f"/v1/notices/{nid}/publish", headers=dev)
    clock.advance(days=30, seconds=1)
    client.post(f"/v1/notices/{nid}/finalise", headers=dev)
    period = {"period_start": "2026-01-01T00:00:00Z", "period_end": "2026-02-01T00:00:00Z"}
    first = client.post(
        f"/v1/notices/{nid}/reports", json={"revenue": "1000", "currency": "CNY", **period}, headers=dev
    ).json()
    # no share declared and none measured: every data feature counts (x 1.2 ** 10), never the cheapest reading
    assert first["report"]["feature_share"] == "1" and first["report"]["share_basis"] == "declared"
    assert first["invoice"]["amount"] == "185.75" and first["invoice"]["share_basis"] == "declared"
    fix = client.post(
        f"/v1/notices/{nid}/reports",
        json={"revenue": "2000", "currency": "CNY", "feature_share": "0", "supersedes": first["report"]["id"],
              **period},
        headers=dev,
    )  # fmt: skip
    assert fix.status_code == 201, fix.text
    assert client.get(f"/v1/invoices/{first['invoice']['id']}", headers=dev).json()["status"] == "void"
    again = client.post(
        f"/v1/notices/{nid}/reports",
        json={"revenue": "3000", "currency": "CNY", "supersedes": first["report"]["id"], **period},
        headers=dev,
    )
    assert again.status_code == 409 and "already corrected" in again.json()["error"]["message"]
    inv = fix.json()["invoice"]
    client.post(f"/v1/invoices/{inv['id']}/payments", json={"amount": inv["amount"], "currency": "CNY"}, headers=op)
    # no per-work measures: the fallback splits equally over the notice's two licensed works
    dist = client.post("/v1/distributions", json={"currency": "CNY"}, headers=op).json()
    assert dist["fallback_reports"] == [fix.json()["report"]["id"]] and dist["works"] == 2
    st = client.get("/v1/statements", headers=auth(story["bob"])).json()
    assert [line["amount"] for line in st["lines"]] == ["27.00", "27.00"]  # 60.00 x 0.9 / 2


def test_a_notice_that_licensed_nothing_takes_no_usage_report(
    client: TestClient, ca: Copyalign, clock: FakeClock, story: dict
) -> None:
    dev = auth(story["dev"])
    body = {"title": "M", "purpose": "train-ai", "works": [story["denied"]]}
    nid = client.post("/v1/notices", json=body, headers=dev).json()["id"]
    assert client.post(f"/v1/notices/{nid}/publish", headers=dev).json()["counts"] == {"excluded": 1}
    clock.advance(days=30)
    assert client.post(f"/v1/notices/{nid}/finalise", headers=dev).json()["counts"] == {"excluded": 1}
    period = {"period_start": "2026-01-01T00:00:00Z", "period_end": "2026-02-01T00:00:00Z"}
    r = client.post(f"/v1/notices/{nid}/reports", json={"revenue": "10", "currency": "CNY", **period}, headers=dev)
    assert r.status_code == 409 and "licensed no work" in r.json()["error"]["message"]


def test_the_board_costs_the_same_queries_for_two_notices_or_ten(ca: Copyalign, story: dict) -> None:
    # issue 17: the board ran three queries per notice (counts, version, developer name); it is read by anyone,
    # unauthenticated, so its cost must not grow with the number of notices
    from sqlalchemy import event

    from copyalign.core.licensing.notices import NoticeInput

    dev = ca.parties.authenticate(story["dev"])
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    def board_queries() -> int:
        statements.clear()
        event.listen(ca.store.engine, "before_cursor_execute", count)
        try:
            board = ca.notices.board("open")
        finally:
            event.remove(ca.store.engine, "before_cursor_execute", count)
        assert all(n.counts for n in board)
        return sum(1 for q in statements if q.lstrip().upper().startswith("SELECT"))

    for i in range(2):
        ca.notices.publish(
            dev, ca.notices.create(dev, NoticeInput(f"Model {i}", "train-ai", "commercial", "default", story["a"])).id
        )
    two = board_queries()
    for i in range(2, 10):
        ca.notices.publish(
            dev, ca.notices.create(dev, NoticeInput(f"Model {i}", "train-ai", "commercial", "default", story["a"])).id
        )
    assert len(ca.notices.board("open")) == 10
    assert board_queries() == two
