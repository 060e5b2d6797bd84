"""The registry through its HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from datetime import timedelta

from fastapi.testclient import TestClient

from copyalign.clock import FakeClock
from copyalign.context import Copyalign
from copyalign.core.canonical import format_time
from copyalign.core.log import merkle
from copyalign.services.registry.parties import Principal
from tests.integration.conftest import auth, png

TEXT = "Whan that Aprille with his shoures soote the droghte of March hath perced to the roote. " * 5


def register_text(client: TestClient, key: str, text: str = TEXT, **extra: object) -> dict:
    r = client.post("/v1/works", json={"title": "Prologue", "text": text, **extra}, headers=auth(key))
    assert r.status_code == 201, r.text
    return r.json()


def test_register_and_look_up_exact_copy(client: TestClient, holder: tuple[Principal, str]) -> None:
    principal, key = holder
    work = register_text(
        client,
        key,
        creators=["Geoffrey Chaucer"],
        identifiers={"isbn": "0-306-40615-2"},
        preferences=[{"purpose": "train-ai", "value": "deny"}],
    )
    assert work["holder_id"] == principal.party_id
    assert work["identifiers"] == {"isbn": "9780306406157"}
    assert work["iscc"].startswith("ISCC:")
    assert work["receipt"]["entry"]["event"] == "work.registered"

    r = client.post("/v1/lookup", json={"text": TEXT}, headers=auth(key))
    assert r.status_code == 200
    body = r.json()
    assert body["registered"] is True
    [m] = body["matches"]
    assert m["work_id"] == work["id"] and m["match"] == "exact"
    assert m["holder"] == {"id": principal.party_id, "name": "Alice Author"}
    assert m["preferences"]["train-ai"]["value"] == "deny"
    # train-genai says nothing of its own, so the train-ai statement governs it
    assert m["preferences"]["train-genai"]["value"] == "deny"
    # the CN profile's default licence for the rest
    assert m["preferences"]["ai-input"] == {
        "value": "allow-with-remuneration",
        "source": "policy",
        "since": None,
        "log_index": None,
    }


def test_unregistered_content_is_not_registered(client: TestClient, holder: tuple[Principal, str]) -> None:
    _, key = holder
    register_text(client, key)
    r = client.post("/v1/lookup", json={"text": "Something entirely different, written today."}, headers=auth(key))
    assert r.json()["registered"] is False and r.json()["matches"] == []


def test_rewrapped_copy_matches_after_normalisation(client: TestClient, holder: tuple[Principal, str]) -> None:
    _, key = holder
    work = register_text(client, key)
    rewrapped = TEXT.upper().replace(" the ", "\n  the ")
    [m] = client.post("/v1/lookup", json={"text": rewrapped}, headers=auth(key)).json()["matches"]
    assert m["work_id"] == work["id"] and m["match"] == "normalized"


def test_lookup_as_of_an_earlier_time(client: TestClient, holder: tuple[Principal, str], clock: FakeClock) -> None:
    _, key = holder
    t_before = clock.now() - timedelta(hours=1)
    work = register_text(client, key, preferences=[{"purpose": "train-ai", "value": "allow"}])
    t_allowed = clock.advance(days=1)
    clock.advance(days=1)
    r = client.post(
        f"/v1/works/{work['id']}/preferences",
        json={"purpose": "train-ai", "value": "deny"},
        headers=auth(key),
    )
    assert r.status_code == 201
    clock.advance(days=1)

    def at(t: object) -> dict:
        body = {"text": TEXT} if t is None else {"text": TEXT, "at": format_time(t)}  # type: ignore[arg-type]
        return client.post("/v1/lookup", json=body, headers=auth(key)).json()

    assert at(None)["matches"][0]["preferences"]["train-ai"]["value"] == "deny"
    assert at(t_allowed)["matches"][0]["preferences"]["train-ai"]["value"] == "allow"
    assert at(t_before)["registered"] is False  # not yet registered then


def test_upload_registration_of_an_image_and_lookup(client: TestClient, holder: tuple[Principal, str]) -> None:
    _, key = holder
    data = png()
    r = client.post(
        "/v1/works/upload",
        files={"file": ("a.png", data, "image/png")},
        data={"title": "Red study", "preferences": '[{"purpose": "train-genai", "value": "deny"}]'},
        headers=auth(key),
    )
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "image" and r.json()["media_type"] == "image/png"
    r = client.post("/v1/lookup/upload", files={"file": ("b.png", data, "image/png")}, headers=auth(key))
    [m] = r.json()["matches"]
    assert m["work_id"] == r.json()["matches"][0]["work_id"] and m["match"] == "exact"
    assert m["preferences"]["train-genai"]["value"] == "deny"
    content = client.get(f"/v1/works/{m['work_id']}/content", headers=auth(key))
    assert content.content == data


def test_same_content_cannot_be_registered_twice(client: TestClient, holder: tuple[Principal, str]) -> None:
    _, key = holder
    first = register_text(client, key)
    r = client.post("/v1/works", json={"title": "Again", "text": TEXT}, headers=auth(key))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "already_registered"
    assert first["id"] in r.json()["error"]["message"]


def test_update_keeps_revisions_and_logs(client: TestClient, holder: tuple[Principal, str]) -> None:
    _, key = holder
    work = register_text(client, key)
    r = client.patch(f"/v1/works/{work['id']}", json={"title": "The General Prologue"}, headers=auth(key))
    assert r.status_code == 200 and r.json()["revision"] == 2
    detail = client.get(f"/v1/works/{work['id']}", headers=auth(key)).json()
    assert [v["title"] for v in detail["revisions"]] == ["Prologue", "The General Prologue"]
    assert r.json()["receipt"]["entry"]["event"] == "work.updated"


def test_preference_history_keeps_every_statement(client: TestClient, holder: tuple[Principal, str]) -> None:
    principal, key = holder
    work = register_text(client, key)
    for value in ("deny", "allow-with-remuneration"):
        client.post(
            f"/v1/works/{work['id']}/preferences",
            json={"purpose": "train-ai", "value": value},
            headers=auth(key),
        )
    client.post(
        f"/v1/parties/{principal.party_id}/preferences",
        json={"purpose": "search", "value": "deny"},
        headers=auth(key),
    )
    hist = client.get(f"/v1/works/{work['id']}/preferences", headers=auth(key)).json()["history"]
    assert [(h["scope"], h["purpose"], h["value"]) for h in hist] == [
        ("work", "train-ai", "deny"),
        ("work", "train-ai", "allow-with-remuneration"),
        ("holder", "search", "deny"),
    ]


def test_list_pages_through_own_works(client: TestClient, holder: tuple[Principal, str]) -> None:
    _, key = holder
    ids = {register_text(client, key, text=f"{TEXT} number {i}")["id"] for i in range(5)}
    page1 = client.get("/v1/works?limit=3", headers=auth(key)).json()
    page2 = client.get(f"/v1/works?limit=3&after={page1['next']}", headers=auth(key)).json()
    assert {w["id"] for w in page1["works"] + page2["works"]} == ids
    assert page2["next"] is None


def test_import_manifest_registers_all(client: TestClient, holder: tuple[Principal, str]) -> None:
    _, key = holder
    lines = "\n".join(
        f'{{"title": "Part {i}", "text": "{TEXT} part {i}", "preferences": {{"train-ai": "deny"}}}}' for i in range(4)
    )
    r = client.post("/v1/works/import", content=lines.encode(), headers=auth(key))
    assert r.status_code == 201, r.text
    assert r.json()["registered"] == 4


def test_every_write_has_a_log_entry_that_proves(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str]
) -> None:
    _, key = holder
    work = register_text(client, key, preferences=[{"purpose": "train-ai", "value": "deny"}])
    index = work["receipt"]["index"]
    cp = client.post("/v1/log/checkpoint", headers=auth(key))
    assert cp.status_code == 403  # only the operator signs on demand
    signed = ca.ledger.checkpoint()
    got = client.get("/v1/log/checkpoint").json()
    assert got["size"] == signed.size and got["note"] == signed.note
    entry = base64.b64decode(client.get(f"/v1/log/entries?start={index}&end={index + 1}").json()["entries"][0]["entry"])
    proof = client.get(f"/v1/log/proof/inclusion?index={index}&size={signed.size}").json()["proof"]
    merkle.verify_inclusion(
        merkle.leaf_hash(entry), index, signed.size, [base64.b64decode(p) for p in proof], signed.root
    )
    receipt = client.get(f"/v1/log/receipts/{index}").json()
    assert receipt["checkpoint_size"] == signed.size and receipt["inclusion_proof"]
    # proofs are served only at signed sizes
    assert client.get(f"/v1/log/proof/inclusion?index=0&size={signed.size - 1}").status_code == 404


def test_edited_copy_is_found_by_iscc_similarity(client: TestClient, holder: tuple[Principal, str]) -> None:
    _, key = holder
    long_text = " ".join(
        f"Line {i}: the quality of mercy is not strained, it droppeth as the gentle rain." for i in range(60)
    )
    work = register_text(client, key, text=long_text)
    edited = long_text.replace(" the ", " a ", 3)[:-150]  # words changed and the ending cut: not normalisable
    [m] = client.post("/v1/lookup", json={"text": edited}, headers=auth(key)).json()["matches"]
    assert m["work_id"] == work["id"] and m["match"] == "iscc" and m["distance"] <= 5
    unrelated = " ".join(f"Row {i}: quarterly shipping tonnage fell in the northern ports." for i in range(60))
    assert client.post("/v1/lookup", json={"text": unrelated}, headers=auth(key)).json()["registered"] is False
