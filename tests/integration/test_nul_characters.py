"""A NUL (U+0000) anywhere a client can put one is a 400 ``nul_character`` naming where, on both databases.

JSON (``\\u0000``) and URLs (``%00``) carry it and the OpenAPI document allows it, but PostgreSQL's text columns
cannot hold it: before these checks, a NUL in a body, a path or a query parameter reached the driver and came
back as a 500 on PostgreSQL while SQLite stored it. Each case also checks that nothing was written.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from copyalign.context import Copyalign
from copyalign.errors import InvalidInputError
from copyalign.services.registry.parties import Principal
from copyalign.store.models import Party
from tests.integration.conftest import auth

_PARAM = re.compile(r"\{([^}]+)\}")


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, object]]]:
    doc = client.get("/v1/openapi.json").json()
    return [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "patch", "put", "delete"}
    ]


def _refused(r: object, field: str | None = None) -> None:
    assert r.status_code == 400, r.text  # type: ignore[attr-defined]
    err = r.json()["error"]  # type: ignore[attr-defined]
    assert err["code"] == "nul_character"
    assert "NUL" in err["message"]
    if field is not None:
        assert err["field"] == field


def test_a_nul_in_any_path_parameter_is_refused_before_the_route(
    client: TestClient, ca: Copyalign, op_key: str
) -> None:
    before = ca.ledger.size()
    checked = 0
    for method, path, _op in _operations(client):
        names = _PARAM.findall(path)
        for i in range(len(names)):
            url = path
            for j, name in enumerate(names):
                url = url.replace("{" + name + "}", "a%00b" if i == j else "x")
            _refused(client.request(method, url, headers=auth(op_key)))
            checked += 1
    assert checked > 30  # every identifier in the API, not a sample
    assert ca.ledger.size() == before


def test_a_nul_in_any_query_parameter_is_refused_naming_it(client: TestClient, ca: Copyalign, op_key: str) -> None:
    before = ca.ledger.size()
    checked = 0
    for method, path, op in _operations(client):
        url = _PARAM.sub("x", path)
        for param in op.get("parameters", []):  # type: ignore[attr-defined]
            if param["in"] != "query":
                continue
            name = param["name"]
            _refused(client.request(method, f"{url}?{name}=a%00b", headers=auth(op_key)), name)
            checked += 1
    assert checked > 10
    assert ca.ledger.size() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "m1", "developer_id": "dev\x00"}, "developer_id"),
        ({"name": "m1", "scans": ["scan_1", "\x00"]}, "scans"),
        ({"name": "m1", "license": "\x00MIT"}, "license"),
    ],
    ids=["developer_id", "list_item", "free_text"],
)
def test_a_nul_in_a_body_string_is_refused_naming_the_field(
    client: TestClient, ca: Copyalign, op_key: str, body: dict[str, object], field: str
) -> None:
    before = ca.ledger.size()
    _refused(client.post("/v1/models", json=body, headers=auth(op_key)), field)
    assert ca.ledger.size() == before


def test_a_nul_in_a_party_name_writes_no_party(client: TestClient, ca: Copyalign, op_key: str) -> None:
    before = ca.ledger.size()
    r = client.post("/v1/parties", json={"name": "Alice\x00", "role": "rights_holder"}, headers=auth(op_key))
    _refused(r, "name")
    assert ca.ledger.size() == before
    with ca.store.read() as s:
        assert not s.scalars(select(Party).where(Party.name.like("Alice%"))).all()


def test_a_nul_in_a_form_field_is_refused_and_writes_nothing(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str]
) -> None:
    """Form fields are plain strings to FastAPI: the store's own check answers, with the same code."""
    _, key = holder
    before = ca.ledger.size()
    r = client.post(
        "/v1/works/upload",
        files={"file": ("poem.txt", b"A poem about the sea, long enough to be a work.", "text/plain")},
        data={"title": "Sea\x00"},
        headers=auth(key),
    )
    _refused(r)
    assert ca.ledger.size() == before
    assert client.get("/v1/works", headers=auth(key)).json()["works"] == []


def test_the_store_refuses_a_nul_on_both_databases_and_rolls_back(ca: Copyalign) -> None:
    """The last line: whatever path brings a NUL to a statement gets InvalidInputError, not a driver error, and
    the transaction's earlier statements are not kept."""
    with pytest.raises(InvalidInputError) as info, ca.store.write() as s:
        now = datetime.now(UTC)
        s.add(Party(id="pty_nul_first", name="first", role="rights_holder", created_at=now, log_index=0))
        s.flush()
        s.add(Party(id="pty_nul_second", name="sec\x00ond", role="rights_holder", created_at=now, log_index=0))
        s.flush()
    assert info.value.code == "nul_character"
    with ca.store.read() as s:
        assert s.get(Party, "pty_nul_first") is None
