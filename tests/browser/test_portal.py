"""The portal end to end in headless Chromium (Debian's chromium and chromium-driver, no browser download)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from copyalign.context import Copyalign, connect
from copyalign.core.log.checkpoint import Ed25519Signer, generate_key
from copyalign.settings import Settings
from tests.browser.conftest import serving
from tests.conftest import make_party

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Copyalign, str]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'portal.db'}", data_dir=str(tmp_path / "data"))
    ca = connect(settings, signer=Ed25519Signer.from_key(generate_key("browser.test/log")[0]))
    op = ca.parties.create(None, name="CMO", role="operator")
    ca.parties.issue_key(None, op.id)
    operator = ca.parties.operator()
    assert operator is not None
    _, key = make_party(ca, operator, "rights_holder", "Ada Author")
    with serving(ca) as url:
        yield url, ca, key
    ca.close()


def test_rights_holder_journey(server: tuple[str, Copyalign, str], browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    url, ca, key = server
    b = browser

    def wait(driver):  # type: ignore[no-untyped-def]
        # a navigation can replace the page between finding an element and reading it
        return WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException))

    b.get(f"{url}/signin")
    b.find_element(By.ID, "api_key").send_keys("ca_wrong_key")
    b.find_element(By.CSS_SELECTOR, "form button").click()
    assert "unknown API key" in b.find_element(By.CSS_SELECTOR, "[role=alert]").text

    b.find_element(By.ID, "api_key").send_keys(key)
    b.find_element(By.CSS_SELECTOR, "form button").click()
    wait(b).until(lambda d: d.current_url.endswith("/works"))
    assert "Ada Author" in b.page_source

    poem = tmp_path / "sonnet.txt"
    poem.write_text("Let me not to the marriage of true minds admit impediments. Love is not love which alters.")
    b.get(f"{url}/works/new")
    b.find_element(By.ID, "file").send_keys(str(poem))
    b.find_element(By.ID, "title").send_keys("Sonnet 116")
    b.find_element(By.ID, "creators").send_keys("William Shakespeare")
    b.find_element(By.CSS_SELECTOR, "input[value=train-genai]").click()
    b.find_element(By.CSS_SELECTOR, "form.card button").click()
    wait(b).until(lambda d: "/works/wrk_" in d.current_url)
    assert "Sonnet 116" in b.find_element(By.TAG_NAME, "h1").text

    Select(b.find_element(By.NAME, "purpose")).select_by_visible_text("train-ai")
    Select(b.find_element(By.NAME, "value")).select_by_visible_text("deny")
    b.find_element(By.CSS_SELECTOR, "form.row button").click()
    wait(b).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "table.history tbody tr")) == 2)
    history = b.find_elements(By.CSS_SELECTOR, "table.history tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[2].text for r in history] == ["train-ai", "train-genai"]

    assert "Nothing is overwritten" in b.find_element(By.CSS_SELECTOR, "section .note").text

    # the whole page, history included: grow the window to the document, shoot, restore
    height, inner = b.execute_script("return [document.documentElement.scrollHeight, window.innerHeight]")
    b.set_window_size(1200, max(900, int(height) + 900 - int(inner)))
    shot = tmp_path / "work.png"
    assert b.save_screenshot(str(shot))
    b.set_window_size(1200, 900)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
    if os.environ.get("COPYALIGN_UPDATE_SCREENSHOT"):  # refresh the README's picture on purpose only
        shutil.copy(shot, ROOT / "docs" / "portal.png")

    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Grüße".encode("latin-1"))
    logged = ca.ledger.size()
    b.get(f"{url}/works/new")
    b.find_element(By.ID, "file").send_keys(str(bad))
    b.find_element(By.CSS_SELECTOR, "form.card button").click()
    assert "not valid UTF-8" in b.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert ca.ledger.size() == logged
    b.get(f"{url}/works")
    assert len(b.find_elements(By.CSS_SELECTOR, "tbody tr")) == 1

    b.find_element(By.CSS_SELECTOR, "header button.link").click()
    wait(b).until(lambda d: "Sign in" in d.find_element(By.TAG_NAME, "header").text)
    b.get(f"{url}/works")
    assert b.current_url.endswith("/signin")


def test_sign_out_is_a_form_post(server: tuple[str, Copyalign, str], browser) -> None:  # type: ignore[no-untyped-def]
    """Issue 20 finding 5: signing out is the header's POST form (same origin); visiting ``GET /signout`` (what
    another site's link or image would do) signs nobody out."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ca, key = server
    b = browser
    b.get(f"{url}/signin")
    b.find_element(By.ID, "api_key").send_keys(key)
    b.find_element(By.CSS_SELECTOR, "form button").click()
    WebDriverWait(b, 10).until(lambda d: d.current_url.endswith("/works"))
    b.get(f"{url}/signout")  # a cross-site link would do this
    b.get(f"{url}/works")
    assert b.current_url.endswith("/works") and "Ada Author" in b.page_source
    b.find_element(By.CSS_SELECTOR, 'form[action="/signout"] button').click()
    WebDriverWait(b, 10).until(lambda d: d.current_url.rstrip("/") == url.rstrip("/"))
    b.get(f"{url}/works")
    assert b.current_url.endswith("/signin")
