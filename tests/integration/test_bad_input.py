"""Every bad input gets a clear 4xx naming what is wrong, and writes nothing."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from copyalign.context import Copyalign
from copyalign.services.registry.parties import Principal
from tests.integration.conftest import auth, png


def log_size(ca: Copyalign) -> int:
    return ca.ledger.size()


def upload(client: TestClient, key: str, data: bytes, name: str = "f", **form: str):
    return client.post(
        "/v1/works/upload",
        files={"file": (name, data, "application/octet-stream")},
        data={"title": "T", **form},
        headers=auth(key),
    )


def bomb_png() -> bytes:
    # 3000 x 3000 single-colour PNG: a few KB on disk, 9 Mpx decoded; the test limit is 4 Mpx.
    buf = io.BytesIO()
    Image.new("L", (3000, 3000), 0).save(buf, "PNG", optimize=True)
    return buf.getvalue()


BAD_UPLOADS = [
    ("oversized", b"a" * (2 * 1024 * 1024 + 100_000), 413, "content_too_large"),
    ("bomb", bomb_png(), 413, "image_too_large"),
    ("truncated", png((200, 200))[:300], 415, "invalid_image"),
    ("not_utf8", "Grüße aus Köln".encode("latin-1"), 400, "invalid_text_encoding"),
    ("empty", b"", 400, "empty_content"),
    ("binary", b"\x00\x01\x02binary\x00", 415, "binary_text"),
]


@pytest.mark.parametrize(("name", "data", "status", "code"), BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS])
def test_bad_upload_is_refused_and_writes_nothing(
    client: TestClient,
    ca: Copyalign,
    holder: tuple[Principal, str],
    name: str,
    data: bytes,
    status: int,
    code: str,
) -> None:
    _, key = holder
    before = log_size(ca)
    r = upload(client, key, data, name)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]
    assert log_size(ca) == before
    assert client.get("/v1/works", headers=auth(key)).json()["works"] == []


def test_unknown_field_is_named(client: TestClient, holder: tuple[Principal, str]) -> None:
    _, key = holder
    r = client.post("/v1/works", json={"title": "T", "text": "hello there", "colour": "red"}, headers=auth(key))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "colour"
    assert "unknown field" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "T", "text": "x", "identifiers": {"isbn": "978-0-306-40615-8"}}, "identifiers.isbn"),
        ({"title": "T", "text": "x", "preferences": [{"purpose": "train-all", "value": "deny"}]}, "purpose"),
        ({"title": "T", "text": "x", "preferences": [{"purpose": "train-ai", "value": "maybe"}]}, "value"),
        (
            {
                "title": "T",
                "text": "x",
                "preferences": [{"purpose": "train-ai", "value": "deny", "jurisdiction": "XX"}],
            },
            "jurisdiction",
        ),
        ({"title": "T"}, "text"),
        ({"title": "T", "content_base64": "%%%"}, "content_base64"),
    ],
)
def test_invalid_values_are_named(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str], body: dict, field: str
) -> None:
    _, key = holder
    before = log_size(ca)
    r = client.post("/v1/works", json=body, headers=auth(key))
    assert r.status_code in (400, 422), r.text
    assert r.json()["error"]["field"] == field
    assert log_size(ca) == before


def test_malformed_manifest_line_registers_none(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str]
) -> None:
    _, key = holder
    lines = [
        '{"title": "One", "text": "first work text"}',
        '{"title": "Two", "text": "second work text"}',
        '{"title": "Three", "text": "third", ',
        '{"title": "Four", "text": "fourth work text"}',
    ]
    before = log_size(ca)
    r = client.post("/v1/works/import", content="\n".join(lines).encode(), headers=auth(key))
    assert r.status_code == 400
    assert r.json()["error"]["line"] == 3 and r.json()["error"]["code"] == "invalid_manifest"
    assert log_size(ca) == before
    assert client.get("/v1/works", headers=auth(key)).json()["works"] == []


def test_manifest_with_a_duplicate_registers_none(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str]
) -> None:
    _, key = holder
    lines = [
        '{"title": "One", "text": "same text"}',
        '{"title": "Two", "text": "other text"}',
        '{"title": "Three", "text": "same text"}',
    ]
    r = client.post("/v1/works/import", content="\n".join(lines).encode(), headers=auth(key))
    assert r.status_code == 409 or r.json()["error"]["line"] == 3
    assert r.json()["error"]["line"] == 3
    assert client.get("/v1/works", headers=auth(key)).json()["works"] == []


def test_manifest_paths_are_refused_over_http(client: TestClient, holder: tuple[Principal, str]) -> None:
    _, key = holder
    r = client.post("/v1/works/import", content=b'{"title": "x", "path": "../../etc/passwd"}', headers=auth(key))
    assert r.status_code == 400 and r.json()["error"]["field"] == "path"


def test_missing_and_bad_keys(client: TestClient, ca: Copyalign, holder: tuple[Principal, str]) -> None:
    principal, key = holder
    assert client.get("/v1/works").status_code == 401
    assert client.get("/v1/works", headers=auth("ca_nope_nope")).status_code == 401
    assert client.get("/v1/works", headers=auth("garbage")).json()["error"]["code"] == "unauthenticated"
    ca.parties.revoke_key(principal, principal.key_id or "")
    r = client.get("/v1/works", headers=auth(key))
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_idempotency_key_replays_and_never_duplicates(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str]
) -> None:
    _, key = holder
    h = {**auth(key), "Idempotency-Key": "reg-1"}
    body = {"title": "Once", "text": "registered exactly once, however often it is sent"}
    first = client.post("/v1/works", json=body, headers=h)
    size = log_size(ca)
    again = client.post("/v1/works", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert log_size(ca) == size
    other = client.post("/v1/works", json={**body, "title": "Different"}, headers=h)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
