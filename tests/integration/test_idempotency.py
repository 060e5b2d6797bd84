"""Idempotency keys hold no secrets, answer only authenticated callers and expire (issue 20 findings 3 and 4)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from copyalign.context import Copyalign
from copyalign.services.idempotency import KEY_SHAPE
from copyalign.services.registry.parties import Principal
from tests.integration.conftest import auth


def idempotency_rows(ca: Copyalign) -> int:
    with ca.store.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM idempotency_keys")).scalar_one())


def database_holds(ca: Copyalign, secret: str) -> list[str]:
    """Every table's text, JSON and binary columns, searched for ``secret`` (and its secret part alone)."""
    needles = {secret, secret.split("_", 2)[2]}  # ca_<key id>_<secret>: the secret itself may hold "_"
    assert all(len(n) >= 20 for n in needles), needles
    found = []
    insp = sa.inspect(ca.store.engine)
    with ca.store.engine.connect() as conn:
        for table in insp.get_table_names():
            for col in insp.get_columns(table):
                kind = str(col["type"]).upper()
                if not any(t in kind for t in ("CHAR", "TEXT", "JSON", "BLOB", "BYTEA", "BINARY", "CLOB")):
                    continue
                for (value,) in conn.execute(sa.text(f'SELECT "{col["name"]}" FROM "{table}"')):  # noqa: S608
                    if value is None:
                        continue
                    text = bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)
                    if any(n in text for n in needles):
                        found.append(f"{table}.{col['name']}")
    return found


def test_issued_keys_have_the_shape_the_redaction_looks_for(ca: Copyalign, operator: Principal) -> None:
    key = ca.parties.issue_key(operator, operator.party_id)
    assert KEY_SHAPE.fullmatch(key.secret)


def test_revoked_key_replaying_an_idempotency_key_gets_401(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str]
) -> None:
    """Issue 20 finding 3: the replay ran before authentication, so a revoked key still got its 201."""
    principal, key = holder
    h = {**auth(key), "Idempotency-Key": "k-1"}
    body = {"title": "T", "text": "a work registered before the key was revoked"}
    assert client.post("/v1/works", json=body, headers=h).status_code == 201
    ca.parties.revoke_key(principal, principal.key_id or "")
    again = client.post("/v1/works", json=body, headers=h)
    assert again.status_code == 401, again.text
    assert "idempotent-replayed" not in again.headers


def test_unauthenticated_posts_create_no_idempotency_records(client: TestClient, ca: Copyalign) -> None:
    """Issue 20 finding 4: 21 unauthenticated POSTs with an Idempotency-Key left 21 rows."""
    for i, token in enumerate(["", "garbage", "ca_nope_nope"] * 7):
        h = {"Idempotency-Key": f"anon-{i}", **({"Authorization": f"Bearer {token}"} if token else {})}
        r = client.post("/v1/works", json={"title": "T", "text": "x"}, headers=h)
        assert r.status_code == 401
    assert idempotency_rows(ca) == 0


def test_no_plaintext_key_at_rest_after_any_key_issuing_call(client: TestClient, ca: Copyalign, op_key: str) -> None:
    """Issue 20 finding 4: a new party's key was stored in ``idempotency_keys.response_body``. Each key-issuing
    call, with and without an Idempotency-Key and replayed, then the whole database is searched for it."""
    secrets: list[str] = []
    for n, idem in enumerate([None, "party-1"]):
        h = {**auth(op_key), **({"Idempotency-Key": idem} if idem else {})}
        body = {"name": f"Studio {n}", "role": "rights_holder"}
        first = client.post("/v1/parties", json=body, headers=h)
        assert first.status_code == 201 and first.json()["api_key"]
        secrets.append(first.json()["api_key"])
        if idem:
            replay = client.post("/v1/parties", json=body, headers=h)
            assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
            assert replay.json()["api_key"] is None  # shown once: the replay names the key, not its secret
            assert replay.json()["key_id"] == first.json()["key_id"] and replay.json()["id"] == first.json()["id"]
        party = first.json()["id"]
        for m, idem2 in enumerate([None, f"key-{n}"]):
            h2 = {**auth(op_key), **({"Idempotency-Key": idem2} if idem2 else {})}
            issued = client.post(f"/v1/parties/{party}/keys", json={"label": f"k{m}"}, headers=h2)
            assert issued.status_code == 201
            secrets.append(issued.json()["api_key"])
            if idem2:
                replay = client.post(f"/v1/parties/{party}/keys", json={"label": f"k{m}"}, headers=h2)
                assert replay.json()["api_key"] is None and replay.json()["key_id"] == issued.json()["key_id"]
            for s in secrets:
                assert database_holds(ca, s) == [], s
    assert idempotency_rows(ca) == 3
    assert database_holds(ca, op_key) == []


def test_idempotency_records_expire_after_the_setting(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str]
) -> None:
    _, key = holder
    h = {**auth(key), "Idempotency-Key": "k-exp"}
    assert (
        client.post("/v1/works", json={"title": "A", "text": "first text under the key"}, headers=h).status_code == 201
    )
    other = {"title": "B", "text": "another text under the same key"}
    assert client.post("/v1/works", json=other, headers=h).status_code == 409  # reused within the window
    ca.clock.advance(seconds=ca.settings.idempotency_ttl_seconds)  # type: ignore[attr-defined]
    r = client.post("/v1/works", json=other, headers=h)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    from copyalign.server import idempotency_store

    ca.clock.advance(seconds=ca.settings.idempotency_ttl_seconds)  # type: ignore[attr-defined]
    assert idempotency_store(ca).purge() == 1
    assert idempotency_rows(ca) == 0
