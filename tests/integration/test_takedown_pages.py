"""The takedown desk's portal pages through the in-process client, on both databases: status codes, who may
see what, and bad input shown in the form with the element refused."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from copyalign.context import Copyalign
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.works import WorkInput
from copyalign.store import models as m
from tests.conftest import make_party

PAGES = ("/takedown/file", "/takedown/mine", "/takedown/desk", "/takedown/notices/tdn_x")


@dataclass
class Scene:
    holder_key: str
    provider: Principal
    provider_key: str
    other_key: str
    op_key: str
    work: str
    trace: str


@pytest.fixture
def scene(ca: Copyalign, op_key: str) -> Scene:
    op = ca.parties.operator()
    assert op is not None
    holder, holder_key = make_party(ca, op, "rights_holder", "Northwind Press")
    provider, provider_key = make_party(ca, op, "provider", "Pixel Foundry AI")
    _, other_key = make_party(ca, op, "provider", "Other AI")
    work = ca.works.register(holder, WorkInput(data=b"The lantern keeper's daughter sang " * 20, title="Lantern"))
    delivered = ca.guard.deliver(provider, "a song about a lantern keeper", user="bob")
    return Scene(holder_key, provider, provider_key, other_key, op_key, work.id, delivered.trace_id)


def sign_in(client: TestClient, key: str) -> None:
    client.cookies.clear()
    assert client.post("/signin", data={"api_key": key}, follow_redirects=False).status_code == 303


def notices(ca: Copyalign) -> int:
    with ca.store.read() as s:
        return int(s.execute(select(func.count()).select_from(m.TakedownNotice)).scalar_one())


def holder_form(scene: Scene, **more: str) -> dict[str, str]:
    return {
        "work_id": scene.work,
        "material_kind": "trace",
        "material_value": scene.trace,
        "name": "Northwind Press",
        "email": "legal@northwind.example",
        "explanation": "the output copies my lyrics",
        **more,
    }


def test_pages_need_a_sign_in_except_the_public_form(client: TestClient) -> None:
    for path in PAGES:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/signin", path
    r = client.get("/takedown/report")
    assert r.status_code == 200 and 'action="/takedown/report"' in r.text and 'name="work_id"' not in r.text
    assert client.post("/takedown/file", data={}, follow_redirects=False).headers["location"] == "/signin"


def test_a_holder_files_and_follows_its_complaint(client: TestClient, ca: Copyalign, scene: Scene) -> None:
    sign_in(client, scene.holder_key)
    page = client.get("/takedown/file")
    assert page.status_code == 200 and f'value="{scene.work}"' in page.text and "Pixel Foundry AI" in page.text

    r = client.post("/takedown/file", data=holder_form(scene), follow_redirects=False)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    nid = location.split("/")[-1].split("?")[0]
    shown = client.get(location)
    # the CN profile asks for the holder's evidence and proof of identity: kept as incomplete, each named
    assert shown.status_code == 200 and "incomplete" in shown.text and 'data-element="evidence"' in shown.text
    assert 'data-element="identity"' in shown.text and "Triage" not in shown.text  # the holder does not run the desk

    complete = holder_form(scene, evidence="certificate", identity_proof="licence 911", address="1 Chang'an Ave")
    done = client.post("/takedown/file", data=complete, follow_redirects=False).headers["location"]
    assert "incomplete" not in client.get(done).text
    cid = done.split("/")[-1].split("?")[0]
    mine = client.get("/takedown/mine")
    assert mine.status_code == 200 and f'href="/takedown/notices/{nid}"' in mine.text
    rows = {r.split('"')[1]: r for r in mine.text.split("<tr data-notice=")[1:]}
    # the complete notice runs the provider's clock (CN: act within 24 hours); the incomplete one does not
    assert "incomplete" in rows[nid] and "<td>-</td>" in rows[nid]
    assert "<td>act</td>" in rows[cid] and "<td>2026-03-02 12:00:00 UTC</td>" in rows[cid]
    assert client.get("/takedown/desk").status_code == 403  # a holder has no desk

    # completing the first: its page offers the form, prefilled with the contact already given
    assert (
        'value="legal@northwind.example"' in shown.text and f'action="/takedown/notices/{nid}/complete"' in shown.text
    )
    fill = {"name": "Northwind Press", "email": "legal@northwind.example", "address": "1 Chang'an Ave"}
    r = client.post(f"/takedown/notices/{nid}/complete", data={**fill, "identity_proof": "licence 911",
                    "evidence": "registration certificate"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].endswith("?done=completed")
    after = client.get(r.headers["location"]).text
    assert 'ul class="missing"' not in after and "Complete the notice" not in after and "complete" in after
    assert ca.takedown.notice(ca.parties.authenticate(scene.provider_key), nid).status == "complete"
    r = client.post(f"/takedown/notices/{nid}/complete", data=fill)  # no longer incomplete
    assert r.status_code == 409


def test_bad_input_comes_back_in_the_form_and_writes_nothing(client: TestClient, ca: Copyalign, scene: Scene) -> None:
    sign_in(client, scene.holder_key)
    before = notices(ca)
    r = client.post("/takedown/file", data=holder_form(scene, material_value=""))
    assert r.status_code == 400 and 'role="alert"' in r.text and "<code>material.value</code>" in r.text
    assert (
        'id="material_value" name="material_value" type="text" maxlength="100000" value="" aria-invalid="true"'
        in r.text
    )
    assert 'value="the output copies my lyrics"' in r.text  # what was typed is kept
    r = client.post("/takedown/file", data=holder_form(scene, material_value="tr_0000000000000000"))
    assert r.status_code == 404 and "no trace tr_0000000000000000" in r.text
    r = client.post("/takedown/file", data=holder_form(scene, material_kind="photo"))
    assert r.status_code == 400 and 'id="material_kind" name="material_kind" aria-invalid="true"' in r.text
    r = client.post(
        "/takedown/file", data=holder_form(scene, material_kind="url", material_value="https://x.example/p")
    )
    assert r.status_code == 400 and "<code>provider_id</code>" in r.text  # nothing names the service
    assert notices(ca) == before
    r = client.post("/takedown/file", data=holder_form(scene), headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and notices(ca) == before


def test_the_public_form(client: TestClient, ca: Copyalign, scene: Scene) -> None:
    form = {
        "description": "my poem 'Lantern'",
        "material_kind": "url",
        "material_value": "https://example.org/copy",
        "provider_id": scene.provider.party_id,
        "name": "Ada",
        "explanation": "a copy of my poem",
    }
    before = notices(ca)
    r = client.post("/takedown/report", data=form)
    assert r.status_code == 400 and 'aria-invalid="true"' in r.text and "<code>sender.email</code>" in r.text
    assert notices(ca) == before
    r = client.post("/takedown/report", data={**form, "email": "ada@example.org"})
    assert r.status_code == 201 and "shown once" in r.text and 'class="token"' in r.text
    with ca.store.read() as s:
        [told] = s.execute(select(m.Notification).where(m.Notification.kind == "takedown.received")).scalars()
    assert told.party_id == scene.provider.party_id and told.body["to"] == "ada@example.org"  # in the outbox
    for _ in range(4):
        assert client.post("/takedown/report", data={**form, "email": "ada@example.org"}).status_code == 201
    flooded = client.post("/takedown/report", data={**form, "email": "ada@example.org"})
    assert flooded.status_code == 429 and int(flooded.headers["Retry-After"]) > 0 and 'role="alert"' in flooded.text
    assert client.post("/takedown/report", data={**form, "email": "b@example.org"},
                       headers={"Origin": "null"}).status_code == 403  # fmt: skip


def test_the_providers_desk(client: TestClient, ca: Copyalign, scene: Scene) -> None:
    sign_in(client, scene.holder_key)
    complete = holder_form(scene, evidence="registration certificate", identity_proof="licence 911",
                           address="1 Chang'an Ave")  # fmt: skip
    first = client.post("/takedown/file", data=complete, follow_redirects=False).headers["location"].split("?")[0]
    second = client.post("/takedown/file", data=holder_form(scene), follow_redirects=False).headers["location"]
    nid, incomplete = first.split("/")[-1], second.split("?")[0].split("/")[-1]

    sign_in(client, scene.provider_key)
    desk = client.get("/takedown/desk")
    assert desk.status_code == 200
    # the complete notice has a decide deadline and sorts first; the incomplete one only its acknowledgement
    assert desk.text.index(f'data-notice="{nid}"') < desk.text.index(f'data-notice="{incomplete}"')
    assert f'href="/takedown/notices/{nid}">Decide</a>' in desk.text
    only = client.get("/takedown/desk", params={"status": "incomplete"}).text
    assert f'data-notice="{incomplete}"' in only and f'data-notice="{nid}"' not in only
    assert "No notice overdue" in client.get("/takedown/desk", params={"overdue": "true"}).text

    page = client.get(f"/takedown/notices/{nid}")
    assert page.status_code == 200 and f'action="/takedown/notices/{nid}/triage"' in page.text
    r = client.post(f"/takedown/notices/{nid}/triage", follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "Record the decision" in page.text
    r = client.post(f"/takedown/notices/{nid}/decision", data={"outcome": "upheld", "explanation": " "})
    assert r.status_code == 400 and "say why" in r.text
    r = client.post(f"/takedown/notices/{nid}/decision", data={"outcome": "upheld", "explanation": "a copy"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert "Apply the planned measures" in client.get(f"/takedown/notices/{nid}").text
    r = client.post(f"/takedown/notices/{nid}/measures", follow_redirects=False)
    assert r.status_code == 303 and "measures applied" in client.get(r.headers["location"]).text
    assert ca.guard.trace(scene.provider, scene.trace).taken_down

    sign_in(client, scene.other_key)  # another provider: not its desk
    assert f'data-notice="{nid}"' not in client.get("/takedown/desk").text
    assert client.get(f"/takedown/notices/{nid}").status_code == 403
    assert client.post(f"/takedown/notices/{incomplete}/triage").status_code == 403
    sign_in(client, scene.op_key)
    assert f'data-notice="{incomplete}"' in client.get("/takedown/desk").text
