"""The database's twin answers as the database does: status codes, error shapes, what it stores."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from copyalign.services.takedown.exports.dsa_stub import PUID_TAKEN, PUIDS_TAKEN, DsaStub

from .conftest import TOKEN, statement

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def http(stub: DsaStub) -> Any:
    with httpx.Client(base_url=stub.base_url, transport=stub.transport()) as c:
        yield c


def test_every_call_needs_the_bearer_token(http: httpx.Client) -> None:
    for method, path in (("POST", "/api/v1/statement"), ("POST", "/api/v1/statements")):
        r = http.request(method, path, json={})
        assert (r.status_code, r.json()) == (401, {"message": "Unauthenticated."})
    assert http.get("/api/v1/statement/existing-puid/x", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_unknown_paths_and_methods(http: httpx.Client) -> None:
    assert http.get("/api/v1/elsewhere", headers=AUTH).status_code == 404
    assert http.get("/api/v1/statement", headers=AUTH).status_code == 405
    assert http.post("/api/v1/statement/existing-puid/x", headers=AUTH).status_code == 405


def test_an_empty_or_broken_body_gets_the_required_fields(http: httpx.Client) -> None:
    for content in (b"", b"{not json", b"[1, 2]"):
        r = http.post("/api/v1/statement", headers=AUTH, content=content)
        body = r.json()
        assert r.status_code == 422 and {"puid", "decision_ground", "decision_facts"} <= set(body["errors"])
        assert "more errors" in body["message"]


def test_one_statement_stored_as_the_database_stores_it(http: httpx.Client, stub: DsaStub) -> None:
    payload = statement("ca-s-1").to_payload()
    r = http.post("/api/v1/statement", headers=AUTH, json={**payload, "unknown_field": "ignored"})
    body = r.json()
    assert r.status_code == 201 and body["puid"] == "ca-s-1"
    assert {"uuid", "id", "created_at", "platform_name", "permalink", "self"} <= set(body)
    assert "unknown_field" not in body  # the database keeps validated fields only
    again = http.post("/api/v1/statement", headers=AUTH, json=payload)
    assert again.status_code == 422
    assert again.json()["errors"] == {"puid": [PUID_TAKEN]} and again.json()["existing"]["uuid"] == body["uuid"]
    found = http.get("/api/v1/statement/existing-puid/ca-s-1", headers=AUTH)
    assert (found.status_code, found.json()["uuid"]) == (302, body["uuid"])
    missing = http.get("/api/v1/statement/existing-puid/ca-none", headers=AUTH)
    assert (missing.status_code, missing.json()) == (404, {"message": "statement of reason not found"})


def test_batch_errors_are_keyed_by_statement_and_nothing_is_kept(http: httpx.Client, stub: DsaStub) -> None:
    good = [statement(f"ca-m-{i}").to_payload() for i in range(3)]
    bad = {**good[1], "decision_ground": "DECISION_GROUND_VIBES"}
    r = http.post("/api/v1/statements", headers=AUTH, json={"statements": [good[0], bad, good[2]]})
    assert r.status_code == 422 and set(r.json()["errors"]) == {"statement_1"}
    assert "decision_ground" in r.json()["errors"]["statement_1"]
    assert stub.statements == {}
    for wrong in ({"statements": []}, {"statements": [good[0]] * 101}, {"nothing": 1}, [1]):
        r = http.post("/api/v1/statements", headers=AUTH, json=wrong)
        assert r.status_code == 422 and "statements" in r.json()["errors"]


def test_a_batch_with_puids_the_platform_used_names_them(http: httpx.Client, stub: DsaStub) -> None:
    http.post("/api/v1/statement", headers=AUTH, json=statement("ca-u-1").to_payload())
    batch = [statement(p).to_payload() for p in ("ca-u-0", "ca-u-1")]
    r = http.post("/api/v1/statements", headers=AUTH, json={"statements": batch})
    assert r.status_code == 422
    assert r.json() == {"message": PUIDS_TAKEN, "errors": {"puid": [PUIDS_TAKEN], "existing_puids": ["ca-u-1"]}}
    assert set(stub.statements) == {"ca-u-1"}


def test_a_created_batch_comes_back_in_no_particular_order(http: httpx.Client) -> None:
    batch = [statement(f"ca-o-{i:02d}").to_payload() for i in range(30)]
    r = http.post("/api/v1/statements", headers=AUTH, json={"statements": batch})
    puids = [s["puid"] for s in r.json()["statements"]]
    assert r.status_code == 201 and sorted(puids) == [b["puid"] for b in batch]


def test_it_is_a_plain_asgi_app_with_a_lifespan(stub: DsaStub) -> None:
    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(stub({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    status, body = stub.handle("POST", "/api/v1/statement", f"Bearer {TOKEN}", json.dumps({}).encode())
    assert status == 422 and stub.calls[-1] == ("POST", "/api/v1/statement", 422)
