"""The portal's pages through the in-process client, on both databases."""

from __future__ import annotations

from fastapi.testclient import TestClient

from copyalign.context import Copyalign
from copyalign.services.parties import Principal
from copyalign.services.works import WorkInput
from tests.conftest import make_party


def signin(client: TestClient, key: str) -> None:
    r = client.post("/signin", data={"api_key": key}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/works"
    assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()


def test_pages_require_sign_in(client: TestClient) -> None:
    for path in ("/works", "/works/new", "/works/wrk_x"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/signin"


def test_bad_key_is_refused_with_a_message(client: TestClient) -> None:
    r = client.post("/signin", data={"api_key": "ca_nope_nope"})
    assert (
        r.status_code == 401 and "unknown API key" in r.text and "copyalign_key" not in r.headers.get("set-cookie", "")
    )


def test_register_list_and_change_preference(client: TestClient, ca: Copyalign, holder: tuple[Principal, str]) -> None:
    _, key = holder
    signin(client, key)
    r = client.post(
        "/works/new",
        files={"file": ("ode.txt", b"Thou still unravish'd bride of quietness")},
        data={"title": "Ode", "creators": "John Keats", "deny": ["train-genai"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    work_url = r.headers["location"]
    listing = client.get("/works").text
    assert "Ode" in listing and "deny" in listing
    page = client.get(work_url).text
    assert "John Keats" in page and "ISCC:" in page
    r = client.post(
        f"{work_url}/preferences",
        data={"purpose": "train-ai", "value": "deny", "jurisdiction": "EU"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(work_url).text
    assert page.count('<span class="pref deny">deny</span>') >= 3  # current train-genai + both history rows


def test_upload_errors_rerender_and_write_nothing(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str]
) -> None:
    _, key = holder
    signin(client, key)
    before = ca.ledger.size()
    r = client.post("/works/new", files={"file": ("x.txt", "café".encode("latin-1"))}, data={"title": "Bad"})
    assert r.status_code == 400 and "not valid UTF-8" in r.text and 'value="Bad"' in r.text
    assert ca.ledger.size() == before


def test_a_holder_cannot_open_anothers_work(
    client: TestClient, ca: Copyalign, op_key: str, holder: tuple[Principal, str]
) -> None:
    other, _ = make_party(ca, ca.parties.authenticate(op_key), "rights_holder", "Other")
    theirs = ca.works.register(other, WorkInput(data=b"not yours to see", title="Private"))
    signin(client, holder[1])
    r = client.get(f"/works/{theirs.id}", headers={"Accept": "text/html"})
    assert r.status_code == 403 and "only on its own" in r.text and "<html" in r.text
    r = client.post(
        f"/works/{theirs.id}/preferences",
        data={"purpose": "train-ai", "value": "allow"},
        headers={"Accept": "text/html"},
    )
    assert r.status_code == 403


def test_cross_site_post_is_refused(client: TestClient, holder: tuple[Principal, str]) -> None:
    signin(client, holder[1])
    r = client.post(
        "/works/new",
        files={"file": ("a.txt", b"cross-site text")},
        data={"title": "x"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/signin"
