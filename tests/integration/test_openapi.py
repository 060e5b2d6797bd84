"""The OpenAPI document says what the API does (issue 20 finding 9): every operation's responses with a schema,
every 4xx it can answer, enums and the exactly-one-of rule, and 405 with ``Allow``."""

from __future__ import annotations

import base64

import jsonschema
import pytest
from fastapi.testclient import TestClient

from copyalign import errors as E
from copyalign.api.openapi import applicable, error_statuses
from copyalign.core.authz import Role
from copyalign.core.licensing.tariffs import Use
from copyalign.core.registry.preferences import Purpose, Value
from tests.integration.conftest import auth

HTTP = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def doc(client: TestClient) -> dict:
    return client.get("/v1/openapi.json").json()


def operations(doc: dict):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method in HTTP:
                yield path, method, op


def resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_error_statuses_come_from_the_error_tree() -> None:
    statuses = {E.InvalidInputError.status, E.AuthenticationError.status, E.PermissionDeniedError.status}
    statuses |= {E.NotFoundError.status, E.ConflictError.status, E.ContentTooLargeError.status}
    statuses |= {E.UnsupportedContentError.status, E.VerificationError.status, E.RateLimitedError.status}
    assert error_statuses() == statuses == {400, 401, 403, 404, 409, 413, 415, 422, 429}


def test_every_operation_has_response_schemas_and_its_4xx(doc: dict) -> None:
    """Issue 20 finding 9: the document listed only 200/201/422, most without a schema."""
    seen = 0
    for path, method, op in operations(doc):
        seen += 1
        responses = op["responses"]
        ok = [s for s in responses if s.startswith("2")]
        assert ok, (method, path)
        for status, resp in responses.items():
            assert resp.get("content"), (method, path, status)
            for media, body in resp["content"].items():
                assert body.get("schema"), (method, path, status, media)
        expected = {str(s) for s in applicable(method, op)}
        assert expected <= set(responses), (method, path, expected - set(responses))
        for status in expected:
            assert responses[status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }
        if op.get("security"):
            assert {"401", "403"} <= set(responses)
        if "requestBody" in op:
            assert {"400", "413", "415", "422"} <= set(responses)
    assert seen >= 55
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_security_schemes_are_declared(doc: dict) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    public = {(p, m) for p, m, op in operations(doc) if not op.get("security")}
    assert ("/v1/log/checkpoint", "get") in public and ("/v1/notices", "get") in public
    assert ("/v1/works", "post") not in public


def _prop(doc: dict, model: str, name: str) -> dict:
    return resolve(doc, doc["components"]["schemas"][model])["properties"][name]


def test_enums_are_in_the_schema(doc: dict) -> None:
    assert _prop(doc, "PartyCreate", "role")["enum"] == [r.value for r in Role]
    assert _prop(doc, "PreferenceIn", "purpose")["enum"] == [p.value for p in Purpose]
    assert _prop(doc, "PreferenceIn", "value")["enum"] == [v.value for v in Value]
    assert "CN" in _prop(doc, "PreferenceIn", "jurisdiction")["enum"]
    assert _prop(doc, "NoticeCreate", "purpose")["enum"] == ["train-ai", "train-genai", "ai-input"]
    assert _prop(doc, "NoticeCreate", "use")["enum"] == [u.value for u in Use]
    assert {"commercial", "non-profit", "research"} <= set(_prop(doc, "NoticeCreate", "use")["enum"])
    assert set(_prop(doc, "GuardTermCreate", "kind")["enum"]) == {"title", "character", "creator", "other"}
    assert _prop(doc, "WorkCreate", "kind")["enum"] == ["text", "image", None]
    assert _prop(doc, "PartyCreated", "api_key")  # nullable: an Idempotency-Key replay redacts it


CONTENT_MODELS = ["WorkCreate", "LookupText", "MatchInput", "GuardOutput", "GuardDeliver", "TraceLookupInput"]


@pytest.mark.parametrize("model", CONTENT_MODELS)
def test_exactly_one_of_text_or_content_base64_is_in_the_schema(doc: dict, model: str) -> None:
    schema = {**resolve(doc, doc["components"]["schemas"][model]), "components": doc["components"]}
    base = {"title": "T"} if model == "WorkCreate" else {}
    ok = [{**base, "text": "x"}, {**base, "content_base64": "eA=="}, {**base, "text": None, "content_base64": "eA=="}]
    bad = [base, {**base, "text": "x", "content_base64": "eA=="}, {**base, "text": None}]
    for body in ok:
        jsonschema.validate(body, schema)
    for body in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(body, schema)


def test_valid_by_schema_content_requests_are_accepted(client: TestClient, op_key: str) -> None:
    """What the schema allows, the API takes: null for the other field, content_base64 alone."""
    text = base64.b64encode(b"a short text sent as bytes").decode()
    r = client.post("/v1/lookup", json={"text": None, "content_base64": text}, headers=auth(op_key))
    assert r.status_code == 200, r.text
    r = client.post("/v1/match", json={"content_base64": text, "kind": None}, headers=auth(op_key))
    assert r.status_code == 200, r.text
    for body in ({}, {"text": "x", "content_base64": text}):  # what it refuses, it refuses naming the field
        r = client.post("/v1/lookup", json=body, headers=auth(op_key))
        assert r.status_code == 400 and r.json()["error"]["field"] == "text"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/works/wrk_x", "GET, HEAD, PATCH"),
        ("PUT", "/v1/me", "GET, HEAD"),
        ("GET", "/v1/notices/close-due/x", None),
        ("OPTIONS", "/v1/notices/close-due", "POST"),
        ("OPTIONS", "/v1/works/import", "POST"),
        ("PATCH", "/v1/log/checkpoint", "GET, HEAD, POST"),
        ("GET", "/signout", "POST"),
    ],
)
def test_405_names_every_allowed_method(client: TestClient, method: str, path: str, allow: str | None) -> None:
    """Issue 20 finding 9: 405 responses came without ``Allow``."""
    r = client.request(method, path)
    if allow is None:
        assert r.status_code == 404
        return
    assert r.status_code == 405 and r.headers["allow"] == allow
    assert r.json()["error"]["code"] == "method_not_allowed"
