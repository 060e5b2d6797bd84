"""Issue 22, the scanner's half: a missing signal never means "allowed", and the research exception per preset.

On SQLite and PostgreSQL: a web item whose site's opt-out files were never captured is held
(``signals:not-captured``) and counted in the report and the EU summary; ``fetch_signals`` captures the missing
sites through the fetcher (politely, reusing fresh captures) and the items are then decided by what the sites
say; a corpus without URLs says that no site file was checked; and a scan under the research exception behaves
as each preset's law says (seed 001 §3.1, 002 §3.1; DSM Directive Art. 3 and Art. 4(3); JP Art. 30-4).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from copyalign.clock import FakeClock
from copyalign.context import Copyalign, connect
from copyalign.core.log.checkpoint import Ed25519Signer
from copyalign.errors import InvalidInputError
from copyalign.policy import load_policy
from copyalign.services.registry.preferences import PreferenceInput
from copyalign.services.registry.works import WorkInput
from copyalign.services.scan.sites import SiteFetcher
from copyalign.settings import Settings
from copyalign.store.blobs import MemoryBlobStore
from tests.conftest import make_party
from tests.integration.test_scan import _scenes, capture_nothing


def _decisions(out: Path) -> dict[str, tuple[str, list[str]]]:
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    return {r["item_id"]: (r["decision"], r["reasons"]) for r in rows}


def _jsonl(path: Path, records: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def two_hosts(ca: Copyalign, tmp_path: Path) -> dict:
    """Five clean pages: three from a site whose robots.txt was captured, two from one never captured."""
    op_party = ca.parties.create(None, name="CMO", role="operator")
    ca.parties.issue_key(None, op_party.id)
    op = ca.parties.operator()
    assert op is not None
    dev, _ = make_party(ca, op, "developer", "Model Lab")
    texts = _scenes(6)
    root = tmp_path / "corpus"
    _jsonl(
        root / "web.jsonl",
        [
            {"text": texts[0], "url": "https://captured.example/a"},
            {"text": texts[1], "url": "https://captured.example/b"},
            {"text": texts[2], "url": "https://captured.example/private/c"},
            {"text": texts[3], "url": "https://uncaptured.example/a"},
            {"text": texts[4], "url": "https://uncaptured.example/private/b"},
        ],
    )
    sites = root / ".copyalign-sites"
    (sites / "captured.example").mkdir(parents=True)
    (sites / "captured.example" / "robots.txt").write_text("User-agent: GPTBot\nDisallow: /private\n")
    return {"dev": dev, "op": op, "root": root, "sites": sites, "texts": texts}


def test_an_uncaptured_site_is_held_and_the_summary_counts_it(ca: Copyalign, two_hosts: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = ca.scan.scan(two_hosts["dev"], two_hosts["root"], out)
    got = _decisions(out)
    assert got == {
        "web.jsonl#1": ("keep", []),
        "web.jsonl#2": ("keep", []),
        "web.jsonl#3": ("drop", ["reserved:robots"]),
        "web.jsonl#4": ("hold", ["signals:not-captured"]),
        "web.jsonl#5": ("hold", ["signals:not-captured"]),
    }
    rep = json.loads((out / "report.json").read_text())
    checks = rep["signal_checks"]
    assert checks["web_items"] == 5 and checks["not_web_items"] == 0
    assert checks["checked_against"]["robots.txt"] == 3 and checks["checked_against"]["tdmrep.json"] == 0
    assert checks["not_captured"] == {
        "items": 2, "held": 2, "dropped": 0, "kept": 0, "hosts": 1, "first_hosts": ["uncaptured.example"],
    }  # fmt: skip
    assert result.signal_checks == checks and rep["reasons"]["signals:not-captured"] == 2
    eu = json.loads((out / "eu-summary.json").read_text())["3.1_reservations_of_rights"]
    assert eu["web_items"] == 5 and eu["checked_against"]["robots.txt"] == 3
    assert eu["items_held_site_not_captured"] == 2 and eu["items_site_not_captured"] == 2
    # the statement says exactly what was checked, and no longer that every item was checked against robots.txt
    assert "Of 5 items crawled from the web, 3 were checked against their site's robots.txt" in eu["measures"]
    assert "2 came from 1 sites whose files had not been captured" in eu["measures"]
    assert "2 of them were held back" in eu["measures"] and "Every item was checked, before" not in eu["measures"]
    md = (out / "eu-summary.md").read_text()
    assert "| held: the site's files were never captured | 2 |" in md and "| robots.txt | 3 |" in md
    payload = json.loads(ca.ledger.payload(result.log_index) or b"{}")
    assert payload["signal_checks"]["not_captured"]["held"] == 2 and payload["sites_sha256"]


def test_fetch_signals_captures_the_missing_site_politely_and_reuses_fresh_captures(
    ca: Copyalign, two_hosts: dict, tmp_path: Path, clock: FakeClock
) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.url.host}{request.url.path}")
        assert request.headers["user-agent"] == "lab-signals/1.0"
        if request.url.path == "/robots.txt":
            return httpx.Response(200, text="User-agent: *\nCrawl-delay: 3\nDisallow: /private\n")
        return httpx.Response(404)

    slept: list[float] = []
    client = httpx.Client(transport=httpx.MockTransport(handler), headers={"User-Agent": "lab-signals/1.0"})
    fetcher = SiteFetcher(client, clock, delay=0.5, sleep=slept.append)
    out = tmp_path / "out"
    result = ca.scan.scan(two_hosts["dev"], two_hosts["root"], out, fetch_signals=fetcher)
    # only the site never captured was fetched (the hand capture is current), one request at a time
    assert calls == ["uncaptured.example/robots.txt", "uncaptured.example/.well-known/tdmrep.json",
                     "uncaptured.example/ai.txt"]  # fmt: skip
    # the site's Crawl-delay (3 s) paces the requests after robots.txt; never less than the fetcher's own delay
    assert len(slept) == 2 and all(2.9 < s <= 3.0 for s in slept)
    assert result.steps["prepare"]["sites_fetched"] == 1 and result.steps["prepare"]["sites_cached"] == 1
    got = _decisions(out)
    assert got["web.jsonl#4"] == ("keep", []) and got["web.jsonl#5"] == ("drop", ["reserved:robots"])
    record = json.loads((two_hosts["sites"] / "uncaptured.example" / "fetch.json").read_text())
    assert record["files"]["robots.txt"]["status"] == 200 and record["files"]["ai.txt"]["status"] == 404
    assert json.loads((out / "report.json").read_text())["signal_checks"]["not_captured"]["items"] == 0
    # a second scan the same day reuses the capture: no request at all
    calls.clear()
    ca.scan.scan(two_hosts["dev"], two_hosts["root"], tmp_path / "again", fetch_signals=fetcher)
    assert calls == []
    # a day later (RFC 9309 §2.4: at most 24 hours) the site is fetched again
    clock.advance(hours=25)
    ca.scan.scan(two_hosts["dev"], two_hosts["root"], tmp_path / "later", fetch_signals=fetcher)
    assert calls[0] == "uncaptured.example/robots.txt" and len(calls) == 3


def test_a_failed_fetch_is_retried_and_holds_until_it_succeeds(
    ca: Copyalign, two_hosts: dict, tmp_path: Path, clock: FakeClock
) -> None:
    status = {"code": 503}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status["code"]) if request.url.path == "/robots.txt" else httpx.Response(404)

    fetcher = SiteFetcher(httpx.Client(transport=httpx.MockTransport(handler)), clock, sleep=lambda s: None)
    ca.scan.scan(two_hosts["dev"], two_hosts["root"], tmp_path / "one", fetch_signals=fetcher)
    assert _decisions(tmp_path / "one")["web.jsonl#4"] == ("hold", ["signal-error:site"])
    status["code"] = 404  # the site now says nothing: its pages are checked and kept
    ca.scan.scan(two_hosts["dev"], two_hosts["root"], tmp_path / "two", fetch_signals=fetcher)
    assert _decisions(tmp_path / "two")["web.jsonl#4"] == ("keep", [])


def test_a_corpus_without_urls_says_no_site_file_was_checked(ca: Copyalign, tmp_path: Path) -> None:
    op_party = ca.parties.create(None, name="CMO", role="operator")
    ca.parties.issue_key(None, op_party.id)
    op = ca.parties.operator()
    assert op is not None
    root = tmp_path / "books"
    root.mkdir()
    for i, text in enumerate(_scenes(3)):
        (root / f"book{i}.txt").write_text(text)
    out = tmp_path / "out"
    ca.scan.scan(op, root, out)
    assert list(_decisions(out).values()) == [("keep", [])] * 3
    eu = json.loads((out / "eu-summary.json").read_text())["3.1_reservations_of_rights"]
    assert eu["web_items"] == 0 and eu["items_without_web_url"] == 3
    assert set(eu["checked_against"].values()) == {0}
    assert "No item carries a web (http/https) URL" in eu["measures"]
    assert (
        "no site-level reservation (robots.txt, W3C TDMRep, ai.txt, RSL) applies and none was checked"
        in (eu["measures"])
    )
    assert "robots.txt for the listed crawlers" not in eu["measures"]


def test_the_uncaptured_action_is_a_profile_setting_with_an_eu_floor(tmp_path: Path) -> None:
    """``scan.uncaptured_action`` may be drop or (outside the EU) keep; the EU floor refuses keep (Art. 4(3))."""
    from copyalign.errors import ConfigurationError

    head = '[profile]\nname = "x"\nrule = "r"\nsource = "s"\n'
    jp = tmp_path / "jp.toml"
    jp.write_text(head + 'jurisdiction = "JP"\n[scan]\nuncaptured_action = "keep"\n')
    assert load_policy(str(jp)).scan.uncaptured_action == "keep"
    eu = tmp_path / "eu.toml"
    eu.write_text(head + 'jurisdiction = "EU"\n[scan]\nuncaptured_action = "keep"\n')
    with pytest.raises(ConfigurationError) as e:
        load_policy(str(eu))
    assert e.value.field == "scan.uncaptured_action" and "Art. 4(3)" in e.value.message


# -- the research exception, preset by preset ---------------------------------------------------------------

DECLARED = {
    "cn": ("research", ["non-commercial", "no-market-harm", "lawful-access", "no-dissemination",
                        "security-measures", "record-of-use"]),
    "eu": ("research", ["non-commercial", "lawful-access", "security-measures", "no-dissemination", "record-of-use"]),
    "jp": ("analysis", ["no-enjoyment", "no-market-harm", "no-dissemination", "record-of-use"]),
    "us": ("research", ["non-commercial", "lawful-access", "security-measures", "no-dissemination", "record-of-use"]),
}  # fmt: skip

ITEMS = ("plain", "denied", "reserved", "uncaptured", "clean")
PLAIN = {  # the registered work with no preference of its own, in a scan that claims no exception
    "cn": ("hold", ["registry:unlicensed"]),  # default licence: remuneration, and no notice licenses it
    "eu": ("keep", []),
    "jp": ("keep", []),
    "us": ("keep", []),
}
RESEARCH = {
    # seed 001 §3.1: non-commercial, non-competitive research is free; opt-outs still bind (001 §3.3)
    "cn": {
        "plain": ("keep", ["research:exempt"]),
        "denied": ("drop", ["registry:opted-out"]),
        "reserved": ("drop", ["reserved:robots"]),
        "uncaptured": ("hold", ["signals:not-captured"]),
        "clean": ("keep", []),
    },
    # DSM Art. 3: no reservation binds research mining; each one is recorded, none applied (Art. 4(3) is for Art. 4)
    "eu": {
        "plain": ("keep", []),
        "denied": ("keep", ["registry:opted-out", "research:reservation-not-binding"]),
        "reserved": ("keep", ["reserved:robots", "research:reservation-not-binding"]),
        "uncaptured": ("keep", ["signals:not-captured", "research:reservation-not-binding"]),
        "clean": ("keep", []),
    },
    # JP Art. 30-4: analysis is permitted, but an opt-out is honoured (the proviso, Agency for Cultural Affairs 2024)
    "jp": {
        "plain": ("keep", []),
        "denied": ("drop", ["registry:opted-out"]),
        "reserved": ("drop", ["reserved:robots"]),
        "uncaptured": ("hold", ["signals:not-captured"]),
        "clean": ("keep", []),
    },
}


def _preset_ca(name: str, db_url: str, clock: FakeClock, signer: Ed25519Signer, tmp_path: Path) -> Copyalign:
    settings = Settings(database_url=db_url, data_dir=str(tmp_path / f"data-{name}"), log_origin="test.copyalign/log")
    return connect(settings, clock=clock, signer=signer, blobs=MemoryBlobStore(), policy=load_policy(name))


@pytest.mark.parametrize("preset", ["cn", "eu", "jp", "us"])
def test_a_research_scan_follows_each_presets_exception(
    preset: str, db_url: str, clock: FakeClock, signer: Ed25519Signer, tmp_path: Path
) -> None:
    """Seed 001 §3.1 / 002 §3.1 propose free information-analytical and non-commercial research use beside the
    licence; 001 §2.2-2.3 compare JP Art. 30-4 and the EU's two tiers (Art. 3 research, not reservable; Art. 4
    commercial, reservable). Each preset's scan under the exception does what its law says; the US has none."""
    ca = _preset_ca(preset, db_url, clock, signer, tmp_path)
    try:
        party = ca.parties.create(None, name="CMO", role="operator")
        ca.parties.issue_key(None, party.id)
        op = ca.parties.operator()
        assert op is not None
        holder, _ = make_party(ca, op, "rights_holder", "Alice")
        lab, _ = make_party(ca, op, "developer", "University Lab")
        texts = _scenes(5)
        deny = (PreferenceInput.parse("train-ai", "deny"),)
        ca.works.register(holder, WorkInput(data=texts[0].encode(), title="Plain play"))
        ca.works.register(holder, WorkInput(data=texts[1].encode(), title="Denied play", preferences=deny))
        root = tmp_path / f"corpus-{preset}"
        _jsonl(
            root / "c.jsonl",
            [
                {"text": texts[0], "url": "https://ok.example/plain"},
                {"text": texts[1], "url": "https://ok.example/denied"},
                {"text": texts[2], "url": "https://robots.example/page"},
                {"text": texts[3], "url": "https://dark.example/page"},
                {"text": texts[4], "url": "https://ok.example/clean"},
            ],
        )
        sites = root / ".copyalign-sites"
        capture_nothing(sites, "ok.example", clock.now().isoformat())
        (sites / "robots.example").mkdir()
        (sites / "robots.example" / "robots.txt").write_text("User-agent: GPTBot\nDisallow: /\n")
        use, conditions = DECLARED[preset]
        if preset == "us":
            with pytest.raises(InvalidInputError) as e:
                ca.scan.scan(lab, root, tmp_path / "out-us", research=(use, conditions))
            assert e.value.field == "use" and "not an exception under this profile" in e.value.message
            assert "17 U.S.C. §107" in e.value.message
            return
        plain = ca.scan.scan(lab, root, tmp_path / f"plain-{preset}")
        assert _decisions(plain.out)["c.jsonl#1"] == PLAIN[preset]
        result = ca.scan.scan(lab, root, tmp_path / f"research-{preset}", research=(use, conditions))
        got = _decisions(result.out)
        assert {ITEMS[int(k.split("#")[1]) - 1]: v for k, v in got.items()} == RESEARCH[preset]
        payload = json.loads(ca.ledger.payload(result.log_index) or b"{}")
        assert payload["research"]["use"] == use and payload["research"]["conditions"] == conditions
        assert payload["research"]["exception"] == ca.policy.research.exception
        eu = json.loads((result.out / "eu-summary.json").read_text())["3.1_reservations_of_rights"]
        assert eu["research_exception"]["use"] == use
        if preset == "eu":
            assert eu["items_reservation_recorded_not_applied"] == 3 and eu["items_removed_by_signal"] == {}
            assert (
                "reservations do not bind this use: 3 items carrying one were recorded, not removed" in (eu["measures"])
            )
        else:
            assert "reservations were applied as for any use" in eu["measures"]
    finally:
        ca.close()


@pytest.mark.parametrize(
    ("preset", "use", "conditions", "field", "phrase"),
    [
        ("eu", "research", ["non-commercial", "lawful-access"], "conditions", "security-measures"),
        ("cn", "analysis", ["no-enjoyment", "no-market-harm", "lawful-access", "no-dissemination", "record-of-use"],
         "purpose", "covers train-ai, not train-genai"),
        ("eu", "analysis", [], "use", "not an exception under this profile"),
        ("jp", "leisure", [], "use", "research or analysis"),
        ("jp", "analysis", ["no-enjoyment", "telepathy"], "conditions", "unknown condition 'telepathy'"),
    ],
)  # fmt: skip
def test_a_research_claim_is_refused_naming_what_is_missing(
    preset: str, use: str, conditions: list[str], field: str, phrase: str
) -> None:
    """Seed 001 §3.1: the free path has conditions (non-commercial, no market conflict); the claim must state them."""
    with pytest.raises(InvalidInputError) as e:
        load_policy(preset).research.claim(use, "train-genai", conditions)
    assert e.value.field == field and phrase in e.value.message


def test_capture_ages_come_from_the_fetch_record(tmp_path: Path) -> None:
    from copyalign.services.scan.sites import capture_age, crawl_delay

    now = datetime.fromisoformat("2026-03-02T12:00:00+00:00")
    capture_nothing(tmp_path, "a.example", "2026-03-01T12:00:00+00:00")
    assert capture_age(tmp_path, "a.example", now) == timedelta(days=1)
    assert capture_age(tmp_path, "b.example", now) is None  # never captured
    (tmp_path / "c.example").mkdir()
    (tmp_path / "c.example" / "fetch.json").write_text("{not json")
    assert capture_age(tmp_path, "c.example", now) is None  # unreadable: fetch again
    assert crawl_delay("User-agent: *\nCrawl-delay: 2\nUser-agent: GPTBot\ncrawl-delay: 10.5\n") == 10.5
    assert crawl_delay("User-agent: *\nDisallow:\n") is None
