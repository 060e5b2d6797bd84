"""A registry with a row of every kind the log audit checks, written through the API as users write it.

Parties and keys (one revoked), works (one with its metadata updated), preferences, a notice published,
objected to (one objection withdrawn), finalised, its use reported, a report corrected (a void invoice), paid
and distributed into statements, guard terms (one revoked), blocked outputs (one lifted), delivered outputs
sealed into the log. ``build`` returns the ids the tests tamper with.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from copyalign.clock import FakeClock
from copyalign.context import Copyalign
from tests.conftest import make_party
from tests.integration.conftest import auth


def _work(client: TestClient, key: str, text: str, **extra: object) -> str:
    r = client.post("/v1/works", json={"title": text[:24], "text": text, **extra}, headers=auth(key))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


def build(client: TestClient, ca: Copyalign, clock: FakeClock, op_key: str, *, works: int = 6) -> dict[str, Any]:
    op = ca.parties.authenticate(op_key)
    alice, alice_key = make_party(ca, op, "rights_holder", "Alice Author")
    bob, bob_key = make_party(ca, op, "rights_holder", "Bob Bard")
    dev, dev_key = make_party(ca, op, "developer", "Model Lab")
    prov, prov_key = make_party(ca, op, "provider", "Chat Co")
    spare = ca.parties.issue_key(op, bob.party_id, label="spare")
    ca.parties.revoke_key(op, spare.key_id)
    a = [
        _work(client, alice_key, f"Alice's poem number {i}, with its own words {i * 7} and more") for i in range(works)
    ]
    b = [_work(client, bob_key, f"Bob's ballad number {i}, sung to a tune {i * 11} in the rain") for i in range(2)]
    denied = _work(client, bob_key, "Bob's private diary, not for machines",
                   preferences=[{"purpose": "train-ai", "value": "deny"}])  # fmt: skip
    _ok(client.patch(f"/v1/works/{a[0]}", json={"title": "Alice's first poem, retitled"}, headers=auth(alice_key)))
    dev_h, op_h, alice_h = auth(dev_key), auth(op_key), auth(alice_key)
    nid = _ok(client.post("/v1/notices", json={"title": "Lab-7B", "purpose": "train-genai",
                                               "works": a + b + [denied]}, headers=dev_h), 201)["id"]  # fmt: skip
    _ok(client.post(f"/v1/notices/{nid}/publish", headers=dev_h))
    first = _ok(
        client.post(f"/v1/notices/{nid}/objections", json={"works": [a[0]], "reason": "mine"}, headers=alice_h), 201
    )
    _ok(client.delete(f"/v1/objections/{first['objections'][0]['id']}", headers=alice_h))
    _ok(client.post(f"/v1/notices/{nid}/objections", json={"works": [a[0]]}, headers=alice_h), 201)
    clock.advance(days=31)
    _ok(client.post(f"/v1/notices/{nid}/finalise", headers=dev_h))
    period = {"period_start": "2026-01-01T00:00:00Z", "period_end": "2026-03-01T00:00:00Z"}
    lines = [{"work_id": w, "measure": str(10 * (i + 1))} for i, w in enumerate(a[1:] + b)]
    body = {"revenue": "2000000.00", "currency": "CNY", "feature_share": "0.15", **period, "lines": lines}
    wrong = _ok(client.post(f"/v1/notices/{nid}/reports", json=body, headers=dev_h), 201)
    fixed = _ok(client.post(f"/v1/notices/{nid}/reports", json={**body, "revenue": "1500000.00",
                                                                   "supersedes": wrong["report"]["id"]},
                            headers=dev_h), 201)  # fmt: skip
    inv = fixed["invoice"]
    _ok(client.post(f"/v1/invoices/{inv['id']}/payments", json={"amount": inv["amount"], "currency": "CNY"},
                    headers=op_h), 201)  # fmt: skip
    dist = _ok(client.post("/v1/distributions", json={"currency": "CNY"}, headers=op_h), 201)
    term = ca.guard.add_term(op, kind="character", names=["Captain Ahab"], work_ids=[a[1]], holder_id=alice.party_id)
    gone = ca.guard.add_term(op, kind="character", names=["Mr Darcy"], work_ids=[], holder_id=None)
    ca.guard.revoke_term(op, gone.id)
    block = ca.guard.block_output(prov, b"a generated passage that must not come back", reason="notice 1")
    lifted = ca.guard.block_output(prov, b"another generated passage, later restored", reason="notice 2")
    ca.guard.unblock_output(prov, lifted.id, reason="restored")
    for i in range(3):
        ca.guard.deliver(prov, f"an ordinary answer number {i}".encode(), prompt="hello", user=f"u{i}", kind="text")
    ca.guard.seal(prov)
    ca.ledger.checkpoint()
    return {
        "parties": [alice.party_id, bob.party_id, dev.party_id, prov.party_id],
        "works": a + b + [denied],
        "notice": nid,
        "invoice": inv["id"],
        "void_invoice": wrong["invoice"]["id"],
        "distribution": dist["id"],
        "term": term.id,
        "block": block.id,
        "keys": {"dev": dev_key, "op": op_key, "alice": alice_key, "provider": prov_key},
    }
