"""The takedown desk's four portal pages in headless Chromium: File a complaint, My complaints, the public
complaint form, and the provider's desk (Debian's chromium and chromium-driver, no browser download)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from copyalign.context import Copyalign, connect
from copyalign.core.log.checkpoint import Ed25519Signer, generate_key
from copyalign.services.registry.works import WorkInput
from copyalign.settings import Settings
from tests.browser.conftest import serving
from tests.conftest import make_party

pytestmark = pytest.mark.browser


@dataclass
class Site:
    url: str
    ca: Copyalign
    holder_key: str
    provider_key: str
    provider_id: str
    work: str
    trace: str


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'desk.db'}", data_dir=str(tmp_path / "data"))
    ca = connect(settings, signer=Ed25519Signer.from_key(generate_key("browser.test/log")[0]))
    op = ca.parties.create(None, name="CMO", role="operator")
    ca.parties.issue_key(None, op.id)
    operator = ca.parties.operator()
    assert operator is not None
    holder, holder_key = make_party(ca, operator, "rights_holder", "Northwind Press")
    provider, provider_key = make_party(ca, operator, "provider", "Pixel Foundry AI")
    work = ca.works.register(holder, WorkInput(data=b"The lantern keeper's daughter sang " * 20, title="Lantern"))
    trace = ca.guard.deliver(provider, "a song about a lantern keeper", user="bob").trace_id
    with serving(ca) as url:
        yield Site(url, ca, holder_key, provider_key, provider.party_id, work.id, trace)
    ca.close()


def _wait(b):  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(b, 10, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException))


def _sign_in(b, url: str, key: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    b.delete_all_cookies()
    b.get(f"{url}/signin")
    b.find_element(By.ID, "api_key").send_keys(key)
    b.find_element(By.CSS_SELECTOR, "form button").click()
    _wait(b).until(lambda d: not d.current_url.endswith("/signin"))


def _fill(b, **fields: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for name, value in fields.items():
        el = b.find_element(By.ID, name)
        if el.tag_name == "select":
            Select(el).select_by_value(value)
        else:
            el.clear()
            el.send_keys(value)


def _submit(b) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    b.find_element(By.CSS_SELECTOR, "form.takedown button[type=submit]").click()


def test_file_a_complaint_and_follow_it(site: Site, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    b = browser
    _sign_in(b, site.url, site.holder_key)
    b.find_element(By.LINK_TEXT, "My complaints").click()
    _wait(b).until(lambda d: d.current_url.endswith("/takedown/mine"))
    assert "No complaint yet." in b.find_element(By.TAG_NAME, "main").text
    b.find_element(By.LINK_TEXT, "File a complaint").click()
    _wait(b).until(lambda d: d.current_url.endswith("/takedown/file"))

    # a trace id that no output has: the form comes back, what was typed kept, the refused input marked
    _fill(b, work_id=site.work, material_kind="trace", material_value="tr_0000000000000000", name="Northwind Press")
    _fill(b, email="legal@northwind.example", explanation="it copies my lyrics")
    _submit(b)
    alert = _wait(b).until(lambda d: d.find_element(By.CSS_SELECTOR, "[role=alert]"))
    assert "no trace tr_0000000000000000" in alert.text and "material.value" in alert.text
    value = b.find_element(By.ID, "material_value")
    assert value.get_attribute("aria-invalid") == "true"
    assert b.find_element(By.ID, "explanation").get_attribute("value") == "it copies my lyrics"

    _fill(b, material_value=site.trace)
    _submit(b)
    _wait(b).until(lambda d: "/takedown/notices/tdn_" in d.current_url)
    assert "Your notice was received" in b.find_element(By.CSS_SELECTOR, "[role=status]").text
    missing = [li.get_attribute("data-element") for li in b.find_elements(By.CSS_SELECTOR, "ul.missing li")]
    assert "evidence" in missing and "identity" in missing  # the CN regulations' elements, each named
    nid = b.current_url.split("/")[-1].split("?")[0]

    b.find_element(By.LINK_TEXT, "My complaints").click()
    row = _wait(b).until(lambda d: d.find_element(By.CSS_SELECTOR, f"tr[data-notice='{nid}']"))
    assert "incomplete" in row.find_element(By.CSS_SELECTOR, "td.status").text
    row.find_element(By.TAG_NAME, "a").click()
    _wait(b).until(lambda d: d.current_url.endswith(f"/takedown/notices/{nid}"))
    assert nid in b.find_element(By.TAG_NAME, "h1").text

    # completing it: the form holds the contact already given; what is missing is added
    assert b.find_element(By.ID, "c-email").get_attribute("value") == "legal@northwind.example"
    _fill(b, **{"c-identity_proof": "licence 911", "c-address": "1 Chang'an Ave", "c-evidence": "certificate"})
    b.find_element(By.CSS_SELECTOR, "form.complete button").click()
    _wait(b).until(lambda d: "done=completed" in d.current_url)
    assert b.find_element(By.CSS_SELECTOR, "dd.status").text == "complete"
    assert b.find_elements(By.CSS_SELECTOR, "ul.missing li") == []


def test_the_public_complaint_form(site: Site, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    b = browser
    b.get(site.url)
    b.find_element(By.LINK_TEXT, "Report an infringing output").click()
    _wait(b).until(lambda d: d.current_url.endswith("/takedown/report"))
    assert b.find_elements(By.ID, "work_id") == []  # no account, no works of one's own
    _fill(b, description="my poem 'Lantern'", provider_id=site.provider_id, material_kind="url")
    _fill(b, material_value="https://example.org/copy", name="Ada", explanation="a copy of my poem")
    # the e-mail address is required: the browser itself holds the form back until it is given
    _submit(b)
    assert b.current_url.endswith("/takedown/report")
    assert b.find_element(By.ID, "email").get_attribute("required") is not None
    _fill(b, email="ada@example.org")
    _submit(b)
    token = _wait(b).until(lambda d: d.find_element(By.CSS_SELECTOR, "code.token")).text
    assert len(token) > 20 and "shown once" in b.find_element(By.CSS_SELECTOR, ".warning").text
    assert "confirmation was sent" in b.find_element(By.CSS_SELECTOR, "[role=status]").text
    with site.ca.store.read() as s:
        from sqlalchemy import select

        from copyalign.store.models import Notification

        kinds = [(n.kind, n.body.get("to")) for n in s.execute(select(Notification)).scalars()]
    assert ("takedown.received", "ada@example.org") in kinds


def test_the_providers_desk(site: Site, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    b = browser
    _sign_in(b, site.url, site.holder_key)
    for extra in ({}, {"evidence": "registration certificate", "identity_proof": "licence 911", "address": "1 Road"}):
        b.get(f"{site.url}/takedown/file")
        _fill(b, work_id=site.work, material_kind="trace", material_value=site.trace, name="Northwind Press",
              email="legal@northwind.example", **extra)  # fmt: skip
        _submit(b)
        _wait(b).until(lambda d: "/takedown/notices/tdn_" in d.current_url)

    _sign_in(b, site.url, site.provider_key)
    b.find_element(By.LINK_TEXT, "Takedown desk").click()
    rows = _wait(b).until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.desk tbody tr"))
    # by deadline: the complete notice (act within 24 hours) before the incomplete one (no clock yet)
    assert [r.find_element(By.CSS_SELECTOR, "td.status").text for r in rows] == ["complete", "incomplete"]
    assert rows[0].find_element(By.CSS_SELECTOR, "td.due").text.endswith("UTC")

    Select(b.find_element(By.ID, "status")).select_by_value("incomplete")
    b.find_element(By.CSS_SELECTOR, "form.filters button").click()
    _wait(b).until(lambda d: "status=incomplete" in d.current_url)
    assert [r.find_element(By.CSS_SELECTOR, "td.status").text for r in b.find_elements(
        By.CSS_SELECTOR, "table.desk tbody tr")] == ["incomplete"]  # fmt: skip
    b.find_element(By.ID, "overdue").click()
    b.find_element(By.CSS_SELECTOR, "form.filters button").click()
    _wait(b).until(lambda d: "overdue=true" in d.current_url)
    assert "No notice overdue" in b.find_element(By.TAG_NAME, "main").text

    b.get(f"{site.url}/takedown/desk")
    b.find_element(By.LINK_TEXT, "Decide").click()
    _wait(b).until(lambda d: "/takedown/notices/tdn_" in d.current_url)
    b.find_element(By.XPATH, "//button[text()='Triage']").click()
    _wait(b).until(lambda d: "done=triaged" in d.current_url)
    Select(b.find_element(By.ID, "outcome")).select_by_value("upheld")
    b.find_element(By.ID, "decision-explanation").send_keys("The output reproduces the registered lyrics.")
    b.find_element(By.CSS_SELECTOR, "form.decide button").click()
    _wait(b).until(lambda d: "done=decided" in d.current_url)
    b.find_element(By.XPATH, "//button[text()='Apply the planned measures']").click()
    _wait(b).until(lambda d: "done=acted" in d.current_url)
    assert "measures applied" in b.find_element(By.CSS_SELECTOR, "dd.status").text
    assert site.ca.guard.trace(site.ca.parties.authenticate(site.provider_key), site.trace).taken_down


def test_the_four_pages_fit_a_phone(site: Site, browser) -> None:  # type: ignore[no-untyped-def]
    from copyalign.services.takedown.inputs import MaterialInput, NoticeFiling, WorkClaim
    from tests.browser.test_first_contact import PHONE, _fits

    holder = site.ca.parties.authenticate(site.holder_key)
    claim = WorkClaim(work_id=site.work, materials=(MaterialInput("trace", site.trace),))
    nid = site.ca.takedown.file(holder, NoticeFiling((claim,))).id
    b = browser
    b.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    _fits(b, f"{site.url}/takedown/report")
    _sign_in(b, site.url, site.holder_key)
    for page in ("/takedown/file", "/takedown/mine", f"/takedown/notices/{nid}"):
        _fits(b, site.url + page)
    _sign_in(b, site.url, site.provider_key)
    for page in ("/takedown/desk", f"/takedown/notices/{nid}"):
        _fits(b, site.url + page)
