"""The portal's pages through the in-process client, on both databases."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from copyalign.context import Copyalign
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.works import WorkInput
from copyalign.web import pages
from tests.conftest import make_party

HTML = {"Accept": "text/html"}


def signin(client: TestClient, key: str) -> None:
    r = client.post("/signin", data={"api_key": key}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/works"
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("copyalign_key=") and "httponly" in cookie and "samesite=strict" in cookie
    assert client.cookies.get("copyalign_key") == key


def register(client: TestClient, name: str, data: bytes, **form: object) -> str:
    r = client.post("/works/new", files={"file": (name, data)}, data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    location = str(r.headers["location"])
    assert location.endswith("?registered=1")  # the work's page confirms the registration
    return location.split("?")[0]


def test_pages_require_sign_in(client: TestClient) -> None:
    for path in ("/works", "/works/new", "/works/wrk_x"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/signin"
    r = client.post("/works/new", files={"file": ("a.txt", b"text")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"


def test_a_garbage_cookie_is_the_same_as_none(client: TestClient) -> None:
    client.cookies.set("copyalign_key", "ca_nope_nope")
    r = client.get("/works", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"


def test_landing_page_explains_and_links_to_sign_in(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and 'href="/signin"' in r.text and "transparency log" in r.text


@pytest.mark.parametrize(("key", "message"), [("ca_nope_nope", "unknown API key"), ("  ", "enter the API key")])
def test_bad_key_is_refused_with_a_message(client: TestClient, key: str, message: str) -> None:
    r = client.post("/signin", data={"api_key": key})
    assert r.status_code == 401 and message in r.text and 'role="alert"' in r.text
    assert "copyalign_key" not in r.headers.get("set-cookie", "")


def test_sign_out_forgets_the_key(client: TestClient, holder: tuple[Principal, str]) -> None:
    signin(client, holder[1])
    assert client.get("/works", follow_redirects=False).status_code == 200
    r = client.post("/signout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.get("/works", follow_redirects=False).headers["location"] == "/signin"


def test_register_list_and_change_preference(client: TestClient, ca: Copyalign, holder: tuple[Principal, str]) -> None:
    _, key = holder
    signin(client, key)
    work_url = register(
        client,
        "ode.txt",
        b"Thou still unravish'd bride of quietness",
        title="Ode",
        creators="John Keats, Anon",
        deny=["train-genai"],
    )
    listing = client.get("/works").text
    assert "Ode" in listing and f'href="{work_url}"' in listing and "deny" in listing
    page = client.get(work_url).text
    assert "John Keats, Anon" in page and "ISCC:" in page and "Nothing is overwritten" in page
    r = client.post(
        f"{work_url}/preferences",
        data={"purpose": "train-ai", "value": "deny", "jurisdiction": "EU"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(f"{work_url}?recorded=")
    confirmed = client.get(r.headers["location"]).text
    assert "Your statement was recorded" in confirmed and "in EU" in confirmed
    r = client.post(f"{work_url}/preferences", data={"purpose": "train-ai", "value": "allow"}, follow_redirects=False)
    assert r.status_code == 303
    assert "Your statement was recorded" not in client.get(work_url).text  # only right after recording
    page = client.get(work_url).text
    history = page[page.index('class="history"') :]
    assert history.count("<tr>") == 1 + 3  # the header row and all three statements: nothing overwritten
    assert history.count('<span class="pref deny">deny</span>') == 2
    assert history.count('<span class="pref allow">allow</span>') == 1
    holder_statements = ca.preferences.history(holder[0], work_url.rsplit("/", 1)[1])
    assert [st.log_index for st in holder_statements] == sorted(st.log_index for st in holder_statements)


def test_my_works_pages_with_after(
    client: TestClient, holder: tuple[Principal, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    signin(client, holder[1])
    for i in range(3):
        register(client, f"w{i}.txt", f"work number {i} of a short series".encode(), title=f"Work {i}")
    first = client.get("/works").text
    assert first.count('href="/works/wrk_') == 2 and 'rel="next"' in first
    nxt = first.split('href="/works?after=', 1)[1].split('"', 1)[0]
    second = client.get("/works", params={"after": nxt}).text
    assert second.count('href="/works/wrk_') == 1 and 'rel="next"' not in second
    titles = [t for t in ("Work 0", "Work 1", "Work 2") if t in first + second]
    assert len(titles) == 3


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ("café".encode("latin-1"), 400, "not valid UTF-8"),
        (b"", 400, "the content is empty"),
        (b"a" * (2 * 1024 * 1024 + 10), 413, "over the limit"),
        (b"\x89PNG\r\n\x1a\nnot really", 415, "image"),
    ],
    ids=["latin-1", "empty", "too-large", "broken-png"],
)
def test_upload_errors_rerender_and_write_nothing(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str], data: bytes, status: int, message: str
) -> None:
    signin(client, holder[1])
    before = ca.ledger.size()
    r = client.post(
        "/works/new",
        files={"file": ("x.txt", data)},
        data={"title": "Bad", "creators": "Me", "deny": ["search"]},
    )
    assert r.status_code == status and message in r.text and 'role="alert"' in r.text
    assert 'value="Bad"' in r.text and 'value="Me"' in r.text and 'value="search" checked' in r.text
    assert ca.ledger.size() == before
    assert ca.works.list(holder[0]) == []


def test_a_duplicate_upload_is_refused(client: TestClient, ca: Copyalign, holder: tuple[Principal, str]) -> None:
    signin(client, holder[1])
    register(client, "a.txt", b"the same words twice over")
    before = ca.ledger.size()
    r = client.post("/works/new", files={"file": ("b.txt", b"the same words twice over")}, data={"title": "Again"})
    assert r.status_code == 409 and "already registered" in r.text
    assert ca.ledger.size() == before


def test_a_bad_preference_choice_writes_nothing(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str]
) -> None:
    signin(client, holder[1])
    work_url = register(client, "a.txt", b"a preference will be refused")
    before = ca.ledger.size()
    r = client.post(f"{work_url}/preferences", data={"purpose": "train-ai", "value": "maybe"})
    assert r.status_code == 400 and "maybe" in r.text and "<html" in r.text
    r = client.post(f"{work_url}/preferences", data={"purpose": "train-ai", "value": "deny", "jurisdiction": "XX"})
    assert r.status_code == 400 and "XX" in r.text
    assert ca.ledger.size() == before


def test_an_unknown_work_is_a_404_page(client: TestClient, holder: tuple[Principal, str]) -> None:
    signin(client, holder[1])
    r = client.get("/works/wrk_nothere", headers=HTML)
    assert r.status_code == 404 and "<html" in r.text and "no work wrk_nothere" in r.text


def test_a_holder_cannot_open_anothers_work(
    client: TestClient, ca: Copyalign, op_key: str, holder: tuple[Principal, str]
) -> None:
    other, _ = make_party(ca, ca.parties.authenticate(op_key), "rights_holder", "Other")
    theirs = ca.works.register(other, WorkInput(data=b"not yours to see", title="Private"))
    signin(client, holder[1])
    r = client.get(f"/works/{theirs.id}", headers=HTML)
    assert r.status_code == 403 and "only its own" in r.text and "<html" in r.text and "Private" not in r.text
    before = ca.ledger.size()
    r = client.post(f"/works/{theirs.id}/preferences", data={"purpose": "train-ai", "value": "allow"}, headers=HTML)
    assert r.status_code == 403 and "<html" in r.text
    assert ca.ledger.size() == before


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
def test_cross_site_posts_are_refused(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str], origin: str
) -> None:
    signin(client, holder[1])
    before = ca.ledger.size()
    r = client.post(
        "/works/new",
        files={"file": ("a.txt", b"cross-site text")},
        data={"title": "x"},
        headers={"Origin": origin},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "another site" in r.text
    r = client.post("/signin", data={"api_key": holder[1]}, headers={"Origin": origin}, follow_redirects=False)
    assert r.status_code == 403
    assert ca.ledger.size() == before


def test_same_origin_posts_are_accepted(client: TestClient, holder: tuple[Principal, str]) -> None:
    signin(client, holder[1])
    r = client.post(
        "/works/new",
        files={"file": ("a.txt", b"posted from our own form")},
        data={"title": "ours"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/works/wrk_")


def test_get_signout_does_not_sign_out(client: TestClient, holder: tuple[Principal, str]) -> None:
    """Issue 20 finding 5: ``GET /signout`` signed the user out, so any site could log a user out."""
    signin(client, holder[1])
    r = client.get("/signout", follow_redirects=False)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert client.get("/works", follow_redirects=False).status_code == 200


def test_cross_site_signout_is_refused(client: TestClient, holder: tuple[Principal, str]) -> None:
    signin(client, holder[1])
    r = client.post("/signout", headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/works", follow_redirects=False).status_code == 200
