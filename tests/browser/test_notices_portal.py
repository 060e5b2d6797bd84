"""The notice procedure in headless Chromium: a holder finds a notice on the board, objects to one work with a
reason, withdraws nothing, and after the close and a distribution reads its statement; the developer reads
its invoice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from copyalign.clock import FakeClock
from copyalign.context import connect
from copyalign.core.licensing.notices import NoticeInput
from copyalign.core.log.checkpoint import Ed25519Signer, generate_key
from copyalign.services.licensing.royalties import UsageInput
from copyalign.services.registry.works import WorkInput
from copyalign.settings import Settings
from tests.browser.conftest import serving
from tests.conftest import make_party

pytestmark = pytest.mark.browser


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict]:
    clock = FakeClock()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'portal.db'}", data_dir=str(tmp_path / "data"))
    ca = connect(settings, clock=clock, signer=Ed25519Signer.from_key(generate_key("browser.test/log")[0]))
    ca.parties.create(None, name="CMO", role="operator")
    op = ca.parties.operator()
    assert op is not None
    ada, ada_key = make_party(ca, op, "rights_holder", "Ada Author")
    dev, dev_key = make_party(ca, op, "developer", "Model Lab")
    works = [
        ca.works.register(ada, WorkInput(data=f"Ada's chapter {i}".encode(), title=f"Chapter {i}")).id for i in range(2)
    ]
    nid = ca.notices.create(dev, NoticeInput("Lab-7B", "train-ai", "commercial", "default", works)).id
    ca.notices.publish(dev, nid)
    with serving(ca) as url:
        yield {"url": url, "ca": ca, "clock": clock, "op": op, "dev": dev, "ada_key": ada_key, "dev_key": dev_key,
               "works": works, "notice": nid}  # fmt: skip
    ca.close()


def _sign_in(b, url: str, key: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    b.get(f"{url}/signin")
    b.find_element(By.ID, "api_key").send_keys(key)
    b.find_element(By.CSS_SELECTOR, "form button").click()


def test_object_on_the_board_then_read_the_statement(world: dict, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def wait(driver):  # type: ignore[no-untyped-def]
        # a form post reloads the page: an element found just before the reload goes stale, which is no failure
        return WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException))

    b, url, ca, nid = browser, world["url"], world["ca"], world["notice"]
    _sign_in(b, url, world["ada_key"])
    wait(b).until(lambda d: d.current_url.endswith("/works"))
    b.find_element(By.LINK_TEXT, "Notice board").click()
    b.find_element(By.LINK_TEXT, "Lab-7B").click()
    wait(b).until(lambda d: d.current_url.endswith(f"/notices/{nid}"))
    row = b.find_element(By.CSS_SELECTOR, f"tr[data-work='{world['works'][0]}']")
    row.find_element(By.NAME, "reason").send_keys("I license this chapter myself")
    row.find_element(By.CSS_SELECTOR, "button").click()
    wait(b).until(lambda d: "objected" in d.find_element(By.CSS_SELECTOR, f"tr[data-work='{world['works'][0]}']").text)
    assert "I license this chapter myself" in b.find_element(By.CSS_SELECTOR, "table.history").text
    assert len(b.find_elements(By.CSS_SELECTOR, "table.notice-works button")) == 1  # the other chapter

    world["clock"].advance(days=31)
    ca.notices.close_due(world["op"])
    now = world["clock"].now()
    inv = ca.licensing.report_usage(
        world["dev"],
        nid,
        UsageInput("5000.00", "CNY", now - timedelta(days=30), now, "0", lines=[(world["works"][1], "7")]),
    )["invoice"]
    ca.licensing.record_payment(world["op"], inv["id"], amount=inv["amount"], currency="CNY")
    ca.licensing.distribute(world["op"], "CNY")

    b.get(f"{url}/notices/{nid}")
    assert "excluded (objected)" in b.page_source and "licensed" in b.page_source
    b.find_element(By.LINK_TEXT, "Statements").click()
    # 5000 x 3 % = 150.00; 135.00 after the CMO's 10 %, all to the one licensed chapter
    assert b.find_element(By.CSS_SELECTOR, "strong.total").text == "135.00 CNY"
    assert "Chapter 1" in b.find_element(By.CSS_SELECTOR, "table.statement").text

    b.find_element(By.CSS_SELECTOR, "header button.link").click()
    wait(b).until(lambda d: "Sign in" in d.find_element(By.TAG_NAME, "header").text)
    _sign_in(b, url, world["dev_key"])
    wait(b).until(lambda d: not d.current_url.endswith("/signin"))
    b.get(f"{url}/invoices")
    assert inv["id"] in b.find_element(By.CSS_SELECTOR, "table.invoices").text
    assert "paid" in b.find_element(By.CSS_SELECTOR, "table.invoices").text
