"""The first-contact pages in headless Chromium: the API docs with no network, Chinese that renders as Chinese, a
phone-sized screen (390 px) on which nothing is wider than the screen, the conflict queue, the checkpoint page,
the confirmation after a preference, and the scan report's filter."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from copyalign.context import Copyalign, connect
from copyalign.core.licensing.notices import NoticeInput
from copyalign.core.log.checkpoint import Ed25519Signer, generate_key
from copyalign.services.registry.works import WorkInput
from copyalign.settings import Settings
from tests.browser.conftest import make_browser, serving
from tests.conftest import make_party

pytestmark = pytest.mark.browser

POEM = (
    "The river keeps the names of every town it passes, and in the spring it says them over to the willows, "
    "slowly, one by one, until the willows learn them too and whisper them back to the rain that falls at night."
)
LONG_TITLE = "A_title_without_spaces_that_a_narrow_screen_must_break_somewhere_" * 2


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'portal.db'}", data_dir=str(tmp_path / "data"))
    ca = connect(settings, signer=Ed25519Signer.from_key(generate_key("browser.test/log")[0]))
    ca.parties.create(None, name="CMO", role="operator")
    op = ca.parties.operator()
    assert op is not None
    op_key = ca.parties.issue_key(op, op.party_id).secret
    ada, ada_key = make_party(ca, op, "rights_holder", "Ada Author")
    bob, bob_key = make_party(ca, op, "rights_holder", "Bob Borrower")
    dev, _ = make_party(ca, op, "developer", "Model Lab")
    zh = ca.works.register(
        ada, WorkInput(data="满纸荒唐言，一把辛酸泪。都云作者痴，谁解其中味？".encode(), title="红楼梦 第一回")
    )
    river = ca.works.register(ada, WorkInput(data=POEM.encode(), title=LONG_TITLE))
    # Bob registers a near copy of Ada's poem: flagged for the operator (the default policy)
    copy = ca.works.register(bob, WorkInput(data=POEM.replace("at night", "at dusk").encode(), title="Stream"))
    assert copy.conflicts
    nid = ca.notices.create(dev, NoticeInput("Lab-7B", "train-ai", "commercial", "default", [zh.id, river.id])).id
    ca.notices.publish(dev, nid)
    ca.ledger.checkpoint()
    with serving(ca) as url:
        yield {"url": url, "ca": ca, "op_key": op_key, "ada_key": ada_key, "bob_key": bob_key, "zh": zh.id,
               "river": river.id, "copy": copy.id, "notice": nid}  # fmt: skip
    ca.close()


def _sign_in(b, url: str, key: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    b.get(f"{url}/signin")
    b.find_element(By.ID, "api_key").send_keys(key)
    b.find_element(By.CSS_SELECTOR, "form button").click()
    WebDriverWait(b, 10).until(lambda d: not d.current_url.endswith("/signin"))


def test_api_docs_render_the_operations_with_no_network(site: dict, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # every host name but this machine's fails to resolve: a CDN could not be reached
    b = make_browser(tmp_path / "offline", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    try:
        b.get(f"{site['url']}/v1/docs")  # type: ignore[attr-defined]
        WebDriverWait(b, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 10)
        paths = {e.text for e in b.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}  # type: ignore[attr-defined]
        assert {"/v1/works", "/v1/lookup", "/v1/conflicts"} <= {p.replace("\u200b", "") for p in paths}
        assert "copyalign" in b.find_element(By.CSS_SELECTOR, ".info .title").text  # type: ignore[attr-defined]
    finally:
        b.quit()  # type: ignore[attr-defined]


def test_chinese_renders_with_a_cjk_font(site: dict, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    assert fonts.strip(), "install a CJK font (.ci/run installs fonts-wqy-microhei)"
    _sign_in(browser, site["url"], site["ada_key"])
    browser.get(f"{site['url']}/works/{site['zh']}")
    h1 = browser.find_element(By.TAG_NAME, "h1")
    assert h1.text == "红楼梦 第一回"
    family = browser.execute_script("return getComputedStyle(arguments[0]).fontFamily", h1)
    assert "WenQuanYi Micro Hei" in family and "Noto Sans CJK SC" in family and "PingFang SC" in family
    # three characters drawn in the page's own font: a font without them draws one identical box (□) for each
    shots = []
    for ch in "红楼梦":
        span = browser.execute_script(
            "var s=document.createElement('span');s.textContent=arguments[0];s.style.fontSize='48px';"
            "document.querySelector('main').appendChild(s);return s;",
            ch,
        )
        shots.append(span.screenshot_as_png)
    assert len(set(shots)) == 3


PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


def _fits(b, url: str) -> None:  # type: ignore[no-untyped-def]
    b.get(url)
    wide = b.execute_script(
        "var w=document.documentElement.clientWidth, out=[];"
        "document.querySelectorAll('main *, header *').forEach(function(e){var r=e.getBoundingClientRect();"
        "if(r.width && r.right>w+1 && !e.closest('table')) out.push(e.tagName+'.'+e.className);});"
        "document.querySelectorAll('table').forEach(function(t){if(t.getBoundingClientRect().right>w+1)"
        "out.push('table.'+t.className)});"
        "return [document.documentElement.scrollWidth, w, out];"
    )
    scroll, width, offenders = wide
    assert width == 390 and scroll <= width and offenders == [], (url, wide)


def test_nothing_is_wider_than_a_phone(site: dict, browser) -> None:  # type: ignore[no-untyped-def]
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    url = site["url"]
    for page in ("/", "/notices", f"/notices/{site['notice']}", "/log", "/signin"):
        _fits(browser, url + page)
    _sign_in(browser, url, site["ada_key"])
    for page in ("/works", f"/works/{site['river']}", f"/works/{site['zh']}", "/works/new", "/statements",
                 "/my/notices", f"/notices/{site['notice']}"):  # fmt: skip
        _fits(browser, url + page)
    _sign_in(browser, url, site["op_key"])
    for page in ("/conflicts", "/invoices", f"/works/{site['copy']}"):
        _fits(browser, url + page)


def test_the_operator_resolves_a_conflict_and_the_holder_sees_it(site: dict, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    url, b = site["url"], browser
    _sign_in(b, url, site["bob_key"])
    b.get(f"{url}/works/{site['copy']}")
    warning = b.find_element(By.CSS_SELECTOR, ".warning").text
    assert "duplicates another holder's work" in warning and "Ada Author" in warning
    _sign_in(b, url, site["op_key"])
    b.find_element(By.LINK_TEXT, "Conflicts").click()
    row = b.find_element(By.CSS_SELECTOR, "table.conflicts tbody tr")
    assert "Stream" in row.text and "Bob Borrower" in row.text and "Ada Author" in row.text
    Select(row.find_element(By.NAME, "decision")).select_by_value("first-holder")
    row.find_element(By.NAME, "note").send_keys("Ada showed the manuscript")
    row.find_element(By.CSS_SELECTOR, "button").click()
    WebDriverWait(b, 10).until(lambda d: "resolved and recorded" in d.find_element(By.CSS_SELECTOR, ".ok").text)
    assert "No open conflict" in b.page_source
    _sign_in(b, url, site["bob_key"])
    b.get(f"{url}/works/{site['copy']}")
    assert "decided: first holder — Ada showed the manuscript" in b.find_element(By.CSS_SELECTOR, ".warning").text


def test_a_recorded_preference_is_confirmed(site: dict, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    url, b = site["url"], browser
    _sign_in(b, url, site["ada_key"])
    b.get(f"{url}/works/{site['river']}")
    Select(b.find_element(By.NAME, "purpose")).select_by_visible_text("train-genai")
    Select(b.find_element(By.NAME, "value")).select_by_visible_text("deny")
    b.find_element(By.CSS_SELECTOR, "form.row button").click()
    WebDriverWait(b, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.ok"))
    ok = b.find_element(By.CSS_SELECTOR, "p.ok")
    assert "Your statement was recorded: train-genai is now deny everywhere" in ok.text
    assert ok.get_attribute("role") == "status"


def test_the_reason_inputs_on_a_notice_are_real_inputs(site: dict, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    _sign_in(browser, site["url"], site["ada_key"])
    browser.get(f"{site['url']}/notices/{site['notice']}")
    inputs = browser.find_elements(By.CSS_SELECTOR, "table.notice-works input[name=reason]")
    assert len(inputs) == 2
    for box in inputs:
        assert box.size["width"] >= 150 and box.size["height"] >= 28
        assert box.get_attribute("placeholder")
        border = browser.execute_script("return getComputedStyle(arguments[0]).borderTopLeftRadius", box)
        assert border == "6px"  # the portal's input style, not the browser's bare box


def test_the_checkpoint_page(site: dict, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    url, b = site["url"], browser
    b.get(url)
    b.find_element(By.LINK_TEXT, "latest checkpoint").click()
    assert b.current_url == f"{url}/log"
    ca: Copyalign = site["ca"]
    cp = ca.ledger.latest_checkpoint()
    assert cp is not None
    assert b.find_element(By.CSS_SELECTOR, "dd.size").text.startswith(str(cp.size))
    assert "copyalign log verify" in b.find_element(By.ID, "verify").find_element(By.XPATH, "..").text
    link = b.find_element(By.LINK_TEXT, "Download the signed checkpoint")
    assert link.get_attribute("href").endswith("/log/checkpoint.txt")


def test_the_scan_report_filters_by_decision_and_text(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    import json

    from selenium.webdriver.common.by import By

    from copyalign.services.scan.report_html import render

    decisions = ["keep", "drop", "hold", "drop", "keep-licensed"]
    why = {
        "keep": [],
        "drop": ["reserved:robots"],
        "hold": ["registry:unlicensed"],
        "keep-licensed": ["registry:licensed"],
    }
    items = [
        {"id": f"part.jsonl#{i}", "source_id": None, "shard": "part.jsonl", "url": f"https://site{i}.example/",
         "kind": "text", "decision": d, "reasons": [{"reason": r, "href": None} for r in why[d]], "works": [],
         "signals": [], "duplicate_of": None, "error": None}
        for i, d in enumerate(decisions)
    ]  # fmt: skip
    counts = {k: decisions.count(k) for k in ("keep", "keep-licensed", "hold", "drop")}
    rep = {"items": 5, "decisions": counts, "reasons": {}, "signals": {}, "kinds": {"text": 5}, "shard_errors": [],
           "refused_paths": [], "steps": {"scan": {"records": 5}}, "scan": {"corpus": "c"},
           "listing": {"cap": 500, "total": counts, "shown": counts, "items": items, "works": {}}}  # fmt: skip
    page = tmp_path / "report.html"
    page.write_text(render(json.loads(json.dumps(rep))))
    browser.get(page.as_uri())

    def visible() -> list[str]:
        rows = browser.find_elements(By.CSS_SELECTOR, "table.items tbody tr")
        return [r.get_attribute("data-decision") for r in rows if r.is_displayed()]

    assert visible() == decisions
    browser.find_element(By.CSS_SELECTOR, "input[name=decision][value=drop]").click()
    assert visible() == ["keep", "hold", "keep-licensed"]
    browser.find_element(By.ID, "text").send_keys("site4")
    assert visible() == ["keep-licensed"] and browser.find_element(By.ID, "n").text == "1"
