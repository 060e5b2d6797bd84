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
    # the values parse as JSON of the right types; the registry's own rules refuse them: 400 invalid_input
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_input"
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
    # a batch that repeats itself is a bad manifest (400), not a conflict with the registry (409)
    assert r.status_code == 400, r.text
    assert r.json()["error"] | {"code": "invalid_manifest", "line": 3, "field": "content"} == r.json()["error"]
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


# -- issue 20 finding 1: integers above int64 ------------------------------------------------------------------

INT64_MAX = 2**63 - 1


def _int_parameters(client: TestClient) -> list[tuple[str, str, str, str]]:
    """(method, path, location, name) of every integer path or query parameter in the OpenAPI document."""
    doc = client.get("/v1/openapi.json").json()
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                schemas = [p["schema"], *p["schema"].get("anyOf", [])]
                if any(s.get("type") == "integer" for s in schemas):
                    out.append((method, path, p["in"], p["name"]))
    return out


def _integer_schemas(node: object, where: str = "") -> list[tuple[str, dict]]:
    if isinstance(node, dict):
        found = [(where, node)] if node.get("type") == "integer" else []
        for k, v in node.items():
            found += _integer_schemas(v, f"{where}/{k}")
        return found
    if isinstance(node, list):
        return [x for i, v in enumerate(node) for x in _integer_schemas(v, f"{where}/{i}")]
    return []


def test_every_integer_in_the_openapi_document_is_bounded_at_int64(client: TestClient) -> None:
    """Issue 20 finding 1, the class: no integer a client sends may exceed what the databases store."""
    doc = client.get("/v1/openapi.json").json()
    requests = {k: v for k, v in doc.items() if k in ("paths", "components")}
    responses_only = ("/responses/", "/components/schemas/Error")  # what the server sends, not what it reads
    unbounded = [
        w for w, s in _integer_schemas(requests) if not any(r in w for r in responses_only) and "maximum" not in s
    ]
    assert unbounded == []
    assert [w for w, s in _integer_schemas(requests) if s.get("maximum", 0) > INT64_MAX] == []
    assert len(_int_parameters(client)) >= 9


def test_integer_above_int64_is_a_4xx_naming_the_parameter(client: TestClient, ca: Copyalign, holder) -> None:
    """Issue 20 finding 1: ``GET /v1/log/checkpoint?size=9223372036854775808`` and friends answered 500."""
    _, key = holder
    ca.ledger.checkpoint()
    params = _int_parameters(client)
    for method, path, location, name in params:
        for value in (INT64_MAX + 1, 10**30):
            url = path
            query = {"work": "wrk_x", "start": 0, "end": 1, "index": 0, "size": 1, "first": 1, "second": 1}
            if location == "path":
                url = url.replace("{" + name + "}", str(value))
            else:
                query[name] = value
            url = "/".join(part if "{" not in part else "x" for part in url.split("/"))
            r = client.request(method.upper(), url, params=query, headers=auth(key))
            assert r.status_code == 422, (method, path, name, r.status_code, r.text)
            assert r.json()["error"]["field"] == name


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        (f"/v1/log/checkpoint?size={INT64_MAX}", 404, "size"),
        (f"/v1/log/receipts/{INT64_MAX}", 404, "index"),
        (f"/v1/log/entries?start={INT64_MAX - 1}&end={INT64_MAX}", 200, None),  # a range past the end: empty
        (f"/v1/log/proof/inclusion?index={INT64_MAX - 1}&size={INT64_MAX}", 404, "size"),
        (f"/v1/log/proof/consistency?first=1&second={INT64_MAX}", 404, "size"),
        (f"/v1/log/preference-proof?work=wrk_x&size={INT64_MAX}", 404, "size"),
        (f"/v1/notices/ntc_x/exclusions?version={INT64_MAX}", 404, "notice_id"),
    ],
)
def test_integer_at_int64_max_is_no_server_error(
    client: TestClient, ca: Copyalign, holder, url: str, status: int, field: str | None
) -> None:
    _, key = holder
    ca.ledger.checkpoint()
    r = client.get(url, headers=auth(key))
    assert r.status_code == status, r.text
    if field is None:
        assert r.json()["entries"] == []
    else:
        assert r.json()["error"]["code"] == "not_found" and r.json()["error"]["field"] == field


# -- issue 20 finding 2: lone surrogates -----------------------------------------------------------------------

SURROGATE = "a \ud800 b"

SURROGATE_BODIES = [
    ("/v1/works", {"title": "T", "text": SURROGATE}, "text"),
    ("/v1/works", {"title": SURROGATE, "text": "a fine text"}, "title"),
    ("/v1/works", {"title": "T", "text": "a fine text", "creators": ["ok", SURROGATE]}, "creators"),
    ("/v1/works", {"title": "T", "text": "a fine text", "identifiers": {"isbn": SURROGATE}}, "identifiers"),
    (
        "/v1/works",
        {"title": "T", "text": "a fine text", "preferences": [{"purpose": "train-ai", "value": SURROGATE}]},
        "preferences.0.value",
    ),
    ("/v1/lookup", {"text": SURROGATE}, "text"),
    ("/v1/match", {"text": SURROGATE}, "text"),
    ("/v1/guard/prompt", {"prompt": SURROGATE}, "prompt"),
    ("/v1/guard/output", {"text": SURROGATE}, "text"),
    ("/v1/guard/deliver", {"text": "fine", "user": SURROGATE}, "user"),
    ("/v1/guard/deliver", {"text": SURROGATE}, "text"),
    ("/v1/guard/blocklist", {"text": SURROGATE, "reason": "r"}, "text"),
    ("/v1/guard/terms", {"kind": "character", "names": [SURROGATE]}, "names"),
    ("/v1/traces/lookup", {"text": SURROGATE}, "text"),
    ("/v1/parties", {"name": SURROGATE, "role": "developer"}, "name"),
    ("/v1/notices", {"title": SURROGATE, "purpose": "train-ai", "works": ["wrk_x"]}, "title"),
]


def _json_with_escapes(body: dict) -> bytes:
    import json

    # json.dumps writes a lone surrogate as the escape "\ud800", exactly what a client sends on the wire
    return json.dumps(body).encode()


@pytest.mark.parametrize(("path", "body", "field"), SURROGATE_BODIES, ids=[f"{p}-{f}" for p, _, f in SURROGATE_BODIES])
def test_lone_surrogate_in_a_json_body_is_a_4xx_naming_the_field(
    client: TestClient, ca: Copyalign, op_key: str, path: str, body: dict, field: str
) -> None:
    """Issue 20 finding 2: ``"text": "a \\ud800 b"`` answered 500 (UnicodeEncodeError) on eight endpoints."""
    before = log_size(ca)
    h = {**auth(op_key), "content-type": "application/json"}
    r = client.post(path, content=_json_with_escapes(body), headers=h)
    # refused by the request model (a string that cannot be text), as an unknown field is: 422 invalid_input
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_input"
    assert r.json()["error"]["field"] == field
    assert log_size(ca) == before


def test_lone_surrogate_in_a_manifest_names_the_line(client: TestClient, ca: Copyalign, holder) -> None:
    _, key = holder
    lines = [
        _json_with_escapes({"title": "One", "text": "first work text"}),
        _json_with_escapes({"title": "Two", "text": SURROGATE}),
    ]
    before = log_size(ca)
    r = client.post("/v1/works/import", content=b"\n".join(lines), headers=auth(key))
    assert r.status_code == 400, r.text
    assert r.json()["error"] | {"line": 2, "field": "text", "code": "invalid_manifest"} == r.json()["error"]
    assert log_size(ca) == before


@pytest.mark.parametrize("form", [{"creators": '["\\ud800"]'}, {"identifiers": '{"isbn": "\\ud800"}'}])
def test_lone_surrogate_in_a_multipart_json_field_is_named(client: TestClient, holder, form: dict) -> None:
    _, key = holder
    r = upload(client, key, b"a perfectly fine text", **form)
    assert r.status_code == 400 and r.json()["error"]["field"].split(".")[0] == next(iter(form))


def test_surrogate_bytes_in_a_query_string_are_no_server_error(client: TestClient, holder) -> None:
    """Percent-encoded surrogate bytes (CESU-8) decode to U+FFFD, never to a lone surrogate."""
    _, key = holder
    # U+FFFD names no party of the holder's: another holder's list is refused, as for any other id
    r = client.get("/v1/works?holder_id=%ED%A0%80", headers=auth(key))
    assert r.status_code == 403 and r.json()["error"]["action"] == "work.read", r.text
    assert client.get("/v1/works/%ED%A0%80", headers=auth(key)).status_code == 404


def test_lone_surrogate_through_the_library_is_named(ca: Copyalign, holder) -> None:
    """The CLI and the library reach the service without a pydantic boundary: a title from argv."""
    from copyalign.errors import InvalidInputError
    from copyalign.services.registry.works import WorkInput

    principal, _ = holder
    with pytest.raises(InvalidInputError) as err:
        ca.works.register(principal, WorkInput(data=b"some text", title=SURROGATE))
    assert err.value.field == "title" and err.value.code == "invalid_text"


# -- issue 20 finding 6: oversized chunked bodies --------------------------------------------------------------


def _chunks(data: bytes, size: int = 64 * 1024):
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_oversized_chunked_multipart_upload_is_413(client: TestClient, ca: Copyalign, holder) -> None:
    """Issue 20 finding 6: without a Content-Length the multipart parser swallowed the limit and said 400."""
    _, key = holder
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nBig\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + b"a" * (ca.settings.max_upload_bytes + 200_000)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    before = log_size(ca)
    for path in ("/v1/works/upload", "/v1/lookup/upload", "/v1/match/upload", "/v1/guard/output/upload"):
        h = {**auth(key), "content-type": f"multipart/form-data; boundary={boundary}"}
        r = client.post(path, content=_chunks(body), headers=h)
        assert r.status_code == 413, (path, r.text)
        assert r.json()["error"]["code"] == "content_too_large"
    assert log_size(ca) == before


def test_oversized_chunked_json_body_is_413(client: TestClient, ca: Copyalign, holder) -> None:
    _, key = holder
    import json

    body = json.dumps({"title": "Big", "text": "a" * (ca.settings.max_upload_bytes + 200_000)}).encode()
    for path in ("/v1/works", "/v1/works/import", "/v1/guard/output"):
        h = {**auth(key), "content-type": "application/json"}
        r = client.post(path, content=_chunks(body), headers=h)
        assert r.status_code == 413, (path, r.text)
        assert r.json()["error"]["code"] == "content_too_large"
