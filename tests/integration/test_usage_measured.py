"""Issue 22, the licence's half: measured use, reports that are chased, de minimis queued, research free.

On SQLite and PostgreSQL, through the library, the API and the CLI: a usage report generated from a logged scan
of the training corpus measures each licensed work's use and the share of data features, which triggers the
tariff's x1.2 steps (seed 003 §4.4); a declared share below the measured one is refused with both figures; a
declared report says so on the invoice and the statement; a tampered manifest is refused; de-minimis use is
queued for the simplified procedure; a research notice pays nothing (seed 001 §3.1); and a licence whose usage
report is late is listed and reminded of on the fake clock (seed 002 §3.2: periodic reports).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from copyalign.cli.main import app
from copyalign.clock import FakeClock
from copyalign.context import Copyalign, connect
from copyalign.core.canonical import format_time
from copyalign.core.licensing.notices import NoticeInput
from copyalign.core.log.checkpoint import Ed25519Signer
from copyalign.errors import InvalidInputError, PermissionDeniedError
from copyalign.policy import load_policy
from copyalign.server import create_app
from copyalign.services.licensing.measured import ScanManifest
from copyalign.services.licensing.royalties import UsageInput
from copyalign.services.registry.works import WorkInput
from copyalign.settings import Settings
from copyalign.store.blobs import MemoryBlobStore
from tests.conftest import make_party
from tests.integration.conftest import auth
from tests.integration.test_scan import _scenes, capture_nothing


@pytest.fixture
def licensed(ca: Copyalign, clock: FakeClock, tmp_path: Path) -> dict:
    """Four works licensed to a developer under a finalised notice, and a scanned corpus in which two of them
    make up about a quarter of the text."""
    party = ca.parties.create(None, name="CMO", role="operator")
    op_key = ca.parties.issue_key(None, party.id).secret
    op = ca.parties.operator()
    assert op is not None
    holder, holder_key = make_party(ca, op, "rights_holder", "Alice Author")
    dev, dev_key = make_party(ca, op, "developer", "Model Lab")
    texts = _scenes(12)
    works = [
        ca.works.register(holder, WorkInput(data=t.encode(), title=f"Play {i}")).id for i, t in enumerate(texts[:4])
    ]
    nid = ca.notices.create(dev, NoticeInput("Lab-1", "train-genai", "commercial", "default", works)).id
    ca.notices.publish(dev, nid)
    clock.advance(days=30)
    ca.notices.finalise(dev, nid)
    root = tmp_path / "corpus"
    root.mkdir()
    lines = [{"text": texts[0], "url": "https://news.example/1"}, {"text": texts[1], "url": "https://news.example/2"}]
    lines += [{"text": t, "url": f"https://news.example/c{i}"} for i, t in enumerate(texts[4:10])]
    (root / "c.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    capture_nothing(root / ".copyalign-sites", "news.example", clock.now().isoformat())
    out = tmp_path / "scan"
    scan = ca.scan.scan(dev, root, out)
    assert scan.decisions["keep-licensed"] == 2 and scan.decisions["keep"] == 6
    return {"op": op, "op_key": op_key, "dev": dev, "dev_key": dev_key, "holder": holder, "holder_key": holder_key,
            "works": works, "notice": nid, "out": out, "scan": scan}  # fmt: skip


def _period(clock: FakeClock) -> tuple[datetime, datetime]:
    now = clock.now()
    return now - timedelta(days=30), now


def test_a_report_from_a_scan_measures_the_share_and_takes_the_x12_steps(
    ca: Copyalign, clock: FakeClock, licensed: dict
) -> None:
    """Seed 003 §4.4: x1.2 per 10 % of data features used; the share is computed from the scan's manifest."""
    start, end = _period(clock)
    done = ca.licensing.report_from_scan(
        licensed["dev"], licensed["notice"], ScanManifest.from_dir(licensed["out"]),
        UsageInput("2000000.00", "CNY", start, end),
    )  # fmt: skip
    report, invoice = done["report"], done["invoice"]
    share = Decimal(report["measured_share"])
    # two licensed plays among eight kept items of about the same length: a quarter of the tokens
    assert Decimal("0.2") < share < Decimal("0.3") and report["feature_share"] == report["measured_share"]
    assert report["share_basis"] == "measured" and invoice["share_basis"] == "measured"
    # 1M x 3 % + 1M x 5 % = 80,000, x 1.2 for each full 10 % of the measured share (two steps: 1.44)
    assert report["quote"]["multiplier"] == "1.44" and invoice["amount"] == "115200.00"
    assert not invoice["de_minimis"] and invoice["procedure"] == "standard"
    # the lines are the licensed works found, measured in tokens exactly as the scan's usage summary says
    usage = json.loads((licensed["out"] / "usage.json").read_text())
    [summary] = usage["usage_reports"]
    assert report["unit"] == "tokens" and report["lines"] == 2 == len(summary["lines"])
    scan = report["scan"]
    assert scan["log_index"] == licensed["scan"].log_index
    assert scan["manifest_sha256"] == licensed["scan"].manifest_sha256
    assert scan["licensed_tokens"] == sum(int(m) for _, m in summary["lines"])
    assert Decimal(scan["licensed_tokens"]) / Decimal(scan["text_tokens"]) <= share  # rounded up, never down
    assert "rounded up" in scan["method"]
    # the log entry carries the basis and the scan it was measured from
    payload = json.loads(ca.ledger.payload(report["log_index"]) or b"{}")
    assert payload["share_basis"] == "measured" and payload["scan"]["log_index"] == licensed["scan"].log_index


def test_a_scan_run_before_the_close_measures_the_same_use(ca: Copyalign, clock: FakeClock, licensed: dict) -> None:
    """Scanning while the notice is open holds the licensed works' items (registry:unlicensed); the report still
    counts them, since the licence reported on is what lets them in: scanning early never measures less."""
    early_dev, _ = make_party(ca, licensed["op"], "developer", "Early Lab")
    nid = ca.notices.create(
        early_dev, NoticeInput("Lab-2", "train-genai", "commercial", "default", licensed["works"])
    ).id
    ca.notices.publish(early_dev, nid)
    corpus = licensed["out"].parent / "corpus"
    early = ca.scan.scan(early_dev, corpus, licensed["out"].parent / "early-scan")
    assert early.decisions["hold"] == 2 and early.decisions["keep-licensed"] == 0
    clock.advance(days=30)
    ca.notices.finalise(early_dev, nid)
    start, end = _period(clock)
    done = ca.licensing.report_from_scan(
        early_dev, nid, ScanManifest.from_dir(early.out), UsageInput("2000000.00", "CNY", start, end)
    )
    on_time = ca.licensing.report_from_scan(
        licensed["dev"], licensed["notice"], ScanManifest.from_dir(licensed["out"]),
        UsageInput("2000000.00", "CNY", start, end),
    )  # fmt: skip
    assert done["report"]["measured_share"] == on_time["report"]["measured_share"]
    assert done["invoice"]["amount"] == on_time["invoice"]["amount"] == "115200.00"


def test_a_declared_share_below_the_measured_one_is_refused_with_both_figures(
    ca: Copyalign, clock: FakeClock, licensed: dict
) -> None:
    start, end = _period(clock)
    manifest = ScanManifest.from_dir(licensed["out"])
    before = ca.ledger.size()
    with pytest.raises(InvalidInputError) as e:
        ca.licensing.report_from_scan(
            licensed["dev"], licensed["notice"], manifest, UsageInput("1000", "CNY", start, end, feature_share="0.02")
        )
    assert e.value.field == "feature_share"
    assert "declared feature share 0.02 is below the measured 0.2" in e.value.message
    assert f"log entry {licensed['scan'].log_index}" in e.value.message and ca.ledger.size() == before
    # declaring more than was measured is the developer's right: the higher figure is charged
    done = ca.licensing.report_from_scan(
        licensed["dev"], licensed["notice"], manifest, UsageInput("1000", "CNY", start, end, feature_share="0.5")
    )
    assert done["report"]["feature_share"] == "0.5" and done["report"]["share_basis"] == "measured"


def test_a_tampered_or_foreign_manifest_is_refused(ca: Copyalign, clock: FakeClock, licensed: dict) -> None:
    start, end = _period(clock)
    inp = UsageInput("1000", "CNY", start, end)
    real = ScanManifest.from_dir(licensed["out"])
    cases = [
        (ScanManifest(real.log_index, real.data + b"\x00"), "manifest", "is not the one scan"),
        (ScanManifest(0, real.data), "scan_log_index", "is not a recorded scan"),
        (ScanManifest(10**6, real.data), "scan_log_index", "no log entry"),
    ]
    for manifest, field, phrase in cases:
        with pytest.raises(Exception) as e:  # noqa: PT011 - InvalidInputError or NotFoundError, named by field
            ca.licensing.report_from_scan(licensed["dev"], licensed["notice"], manifest, inp)
        assert getattr(e.value, "field", None) == field and phrase in str(e.value), (field, e.value)
    with pytest.raises(InvalidInputError, match="takes its lines from the scan"):
        ca.licensing.report_from_scan(
            licensed["dev"], licensed["notice"], real, UsageInput("1", "CNY", start, end, lines=[("w", "1")])
        )
    # a scan recorded for another developer does not measure this one's use
    other, _ = make_party(ca, licensed["op"], "developer", "Other Lab")
    foreign = ca.scan.scan(other, licensed["out"].parent / "corpus", licensed["out"].parent / "other-scan")
    with pytest.raises(InvalidInputError, match="not recorded for the notice's developer"):
        ca.licensing.report_from_scan(
            licensed["dev"], licensed["notice"], ScanManifest.from_dir(foreign.out), inp
        )  # fmt: skip
    with pytest.raises(InvalidInputError, match="not a scan's output folder"):
        ScanManifest.from_dir(licensed["out"].parent / "nowhere")
    # a report cannot cover time that has not happened (it would silence the reminders)
    with pytest.raises(InvalidInputError, match="cannot end in the future"):
        ca.licensing.report_usage(
            licensed["dev"], licensed["notice"], UsageInput("1", "CNY", start, end + timedelta(days=1), "0.1")
        )


def test_the_api_and_the_cli_report_from_a_scan(
    ca: Copyalign, client: TestClient, clock: FakeClock, licensed: dict, db_url: str, tmp_path: Path
) -> None:
    start, end = (t.isoformat() for t in _period(clock))
    manifest = (licensed["out"] / "manifest.parquet").read_bytes()
    form = {"scan_log_index": str(licensed["scan"].log_index), "revenue": "2000000", "currency": "CNY",
            "period_start": start, "period_end": end}  # fmt: skip
    url = f"/v1/notices/{licensed['notice']}/reports/from-scan"
    files = {"manifest": ("manifest.parquet", manifest, "application/octet-stream")}
    r = client.post(url, data={**form, "feature_share": "0.01"}, files=files, headers=auth(licensed["dev_key"]))
    assert r.status_code == 400 and r.json()["error"]["field"] == "feature_share", r.text
    r = client.post(url, data=form, files=files, headers=auth(licensed["holder_key"]))
    assert r.status_code == 403
    r = client.post(url, data=form, files=files, headers=auth(licensed["dev_key"]))
    assert r.status_code == 201, r.text
    assert r.json()["invoice"]["amount"] == "115200.00" and r.json()["report"]["share_basis"] == "measured"
    # the CLI, on the same database, corrects it from the same scan folder
    ca.matching.refresh()
    runner = CliRunner()
    base = ["--db", db_url, "--data-dir", str(tmp_path / "cli-data")]
    res = runner.invoke(
        app,
        [*base, "notices", "report", licensed["notice"], "--from-scan", str(licensed["out"]), "--revenue", "1000000",
         "--currency", "CNY", "--period-start", start, "--period-end", end, "--supersedes",
         r.json()["report"]["id"], "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    done = json.loads(res.stdout.strip().splitlines()[-1])
    assert done["report"]["share_basis"] == "measured" and done["invoice"]["amount"] == "43200.00"  # 30,000 x 1.44
    bad = client.post(url, data={**form, "period_start": "soon"}, files=files, headers=auth(licensed["dev_key"]))
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "period_start"
    res = runner.invoke(app, [*base, "notices", "report", licensed["notice"], "--revenue", "1", "--currency", "CNY",
                              "--period-start", "yesterday", "--period-end", end, "--json"])  # fmt: skip
    assert res.exit_code == 1 and json.loads(res.stdout)["error"]["field"] == "period_start"


def test_a_declared_report_says_so_on_the_invoice_and_the_statement_and_de_minimis_is_queued(
    ca: Copyalign, client: TestClient, clock: FakeClock, licensed: dict
) -> None:
    """Seed 003 §4.4 ③: de-minimis use (below 5 % of data features) goes to the simplified procedure."""
    start, end = _period(clock)
    done = ca.licensing.report_usage(
        licensed["dev"], licensed["notice"], UsageInput("1000.00", "CNY", start, end, "0.02")
    )
    inv = done["invoice"]
    assert inv["share_basis"] == "declared" and inv["de_minimis"] and inv["procedure"] == "simplified"
    queue = ca.licensing.simplified_queue(licensed["op"])
    assert [q["id"] for q in queue] == [inv["id"]] and queue[0]["decide_within"] == "48h"
    assert [q["id"] for q in ca.licensing.simplified_queue(licensed["dev"])] == [inv["id"]]
    listed = client.get("/v1/invoices?procedure=simplified", headers=auth(licensed["op_key"])).json()["invoices"]
    assert [i["id"] for i in listed] == [inv["id"]]
    with pytest.raises(PermissionDeniedError):
        ca.licensing.simplified_queue(licensed["holder"])
    ca.licensing.record_payment(licensed["op"], inv["id"], amount=inv["amount"], currency="CNY")
    ca.licensing.distribute(licensed["op"], "CNY")
    st = client.get("/v1/statements", headers=auth(licensed["holder_key"])).json()
    assert {line["share_basis"] for line in st["lines"]} == {"declared"}
    assert "declared" in client.get("/v1/statements?format=csv", headers=auth(licensed["holder_key"])).text
    client.post("/signin", data={"api_key": licensed["dev_key"]})
    page = client.get("/invoices").text
    assert "0.02 (declared)" in page and "simplified" in page and "Simplified-procedure queue" in page
    client.cookies.clear()
    client.post("/signin", data={"api_key": licensed["holder_key"]})
    assert "declared" in client.get("/statements").text


def test_a_research_notice_pays_nothing_and_says_why(ca: Copyalign, client: TestClient, clock: FakeClock) -> None:
    """Seed 001 §3.1: a safety net for non-commercial, non-competitive research, charged the 0.5 % non-profit rate
    before issue 22; under the cn preset's research rule it is free, with its conditions declared and logged."""
    party = ca.parties.create(None, name="CMO", role="operator")
    ca.parties.issue_key(None, party.id)
    op = ca.parties.operator()
    assert op is not None
    holder, _ = make_party(ca, op, "rights_holder", "Alice")
    lab, lab_key = make_party(ca, op, "developer", "University Lab")
    work = ca.works.register(holder, WorkInput(data=_scenes(1)[0].encode(), title="Play")).id
    body = {"title": "Probe", "purpose": "train-genai", "use": "research", "works": [work]}
    r = client.post("/v1/notices", json={**body, "conditions": ["non-commercial"]}, headers=auth(lab_key))
    assert r.status_code == 400 and r.json()["error"]["field"] == "conditions" and "no-market-harm" in r.text
    conditions = ["non-commercial", "no-market-harm", "lawful-access", "no-dissemination", "security-measures",
                  "record-of-use"]  # fmt: skip
    r = client.post("/v1/notices", json={**body, "conditions": conditions}, headers=auth(lab_key))
    assert r.status_code == 201, r.text
    notice = r.json()
    assert notice["research"]["use"] == "research" and notice["research"]["conditions"] == conditions
    assert json.loads(ca.ledger.payload(ca.ledger.size() - 1) or b"{}")["research"]["exception"].startswith("proposed")
    ca.notices.publish(lab, notice["id"])
    clock.advance(days=30)
    ca.notices.finalise(lab, notice["id"])
    start, end = _period(clock)
    done = ca.licensing.report_usage(lab, notice["id"], UsageInput("50000.00", "CNY", start, end))
    assert done["invoice"]["amount"] == "0.00" and done["invoice"]["status"] == "exempt"
    assert done["report"]["quote"]["exempt"] == ca.policy.research.exception
    assert "Research exception" in client.get(f"/notices/{notice['id']}").text


def test_an_overdue_report_is_listed_chased_and_cleared_on_the_fake_clock(
    ca: Copyalign, client: TestClient, clock: FakeClock, licensed: dict
) -> None:
    """Seed 002 §3.2: developers submit training-data use reports periodically (90 days, due 30 days later)."""
    nid, dev, op = licensed["notice"], licensed["dev"], licensed["op"]
    assert ca.notices.get(dev, nid).report_every_days == 90
    [due] = ca.reporting.due(dev)
    assert not due["overdue"] and due["period"][1] == format_time(clock.now() + timedelta(days=90))
    assert ca.reporting.overdue(op) == [] and ca.reporting.remind(op) == []
    clock.advance(days=120, seconds=1)
    [late] = ca.reporting.overdue(op)
    assert late["notice_id"] == nid and late["days_overdue"] == 0 and late["developer"]["name"] == "Model Lab"
    assert [d["notice_id"] for d in ca.reporting.overdue(dev)] == [nid]
    other, _ = make_party(ca, op, "developer", "Other Lab")
    assert ca.reporting.overdue(other) == []
    with pytest.raises(PermissionDeniedError):
        ca.reporting.overdue(licensed["holder"])
    # the outbox reminds the developer once per missing period
    [reminder] = ca.reporting.remind(op)
    assert reminder["party_id"] == dev.party_id and reminder["kind"] == "report.overdue"
    assert ca.reporting.remind(op) == []
    notes = client.get("/v1/notifications", headers=auth(licensed["dev_key"])).json()["notifications"]
    assert [(n["kind"], n["subject"]) for n in notes] == [("report.overdue", nid)]
    api = client.get("/v1/reports/due?overdue=true", headers=auth(licensed["op_key"])).json()["reports"]
    assert [d["notice_id"] for d in api] == [nid]
    assert client.post("/v1/reports/remind", headers=auth(licensed["dev_key"])).status_code == 403
    client.post("/signin", data={"api_key": licensed["dev_key"]})
    assert "overdue by" in client.get("/my/notices").text
    # a report for a short stretch does not clear a longer gap: coverage runs without a hole from finalisation
    finalised = clock.now() - timedelta(days=120, seconds=1)
    ca.licensing.report_usage(dev, nid, UsageInput("10", "CNY", finalised + timedelta(days=60), clock.now(), "0.1"))
    assert [d["notice_id"] for d in ca.reporting.overdue(op)] == [nid]
    ca.licensing.report_usage(dev, nid, UsageInput("10", "CNY", finalised, clock.now(), "0.1"))
    assert ca.reporting.overdue(op) == []
    [next_due] = ca.reporting.due(op)
    assert next_due["period"][0] == format_time(clock.now()) and not next_due["overdue"]


def test_the_cli_lists_overdue_reports_and_reminds(db_url: str, tmp_path: Path) -> None:
    """``copyalign notices overdue`` on a real clock: a licence finalised 200 days ago that never reported."""
    runner = CliRunner()
    base = ["--db", db_url, "--data-dir", str(tmp_path / "data")]
    assert runner.invoke(app, [*base, "init"]).exit_code == 0
    ca = connect(Settings(database_url=db_url, data_dir=str(tmp_path / "data")),
                 clock=FakeClock(datetime.now(UTC) - timedelta(days=230)))  # fmt: skip
    op = ca.parties.operator()
    assert op is not None
    holder, _ = make_party(ca, op, "rights_holder")
    dev, _ = make_party(ca, op, "developer", "Late Lab")
    work = ca.works.register(holder, WorkInput(data=b"a poem the model would like to read", title="P")).id
    nid = ca.notices.create(dev, NoticeInput("Model", "train-ai", "commercial", "default", [work])).id
    ca.notices.publish(dev, nid)
    ca.clock.advance(days=31)  # type: ignore[attr-defined]
    ca.notices.finalise(dev, nid)
    ca.close()
    res = runner.invoke(app, [*base, "notices", "overdue", "--remind", "--json"])
    assert res.exit_code == 0, res.output
    [row] = [json.loads(x) for x in res.stdout.splitlines()]
    assert row["notice_id"] == nid and row["reminded"] and row["days_overdue"] >= 78
    res = runner.invoke(app, [*base, "notices", "overdue"])
    assert "Late Lab" in res.stdout and "days overdue" in res.stdout
    again = runner.invoke(app, [*base, "notices", "overdue", "--remind", "--json"])
    assert not json.loads(again.stdout.splitlines()[0])["reminded"]  # reminded once per period


def test_an_override_is_shown_and_logged_with_every_notice(
    db_url: str, clock: FakeClock, signer: Ed25519Signer, tmp_path: Path
) -> None:
    """A CN profile may go below the 30-day floor (seed 001 §3.2) only with a reasoned override, which `policy
    show`, the portal and every notice issued under the profile show, and each notice's log entry carries."""
    policy = tmp_path / "pilot.toml"
    policy.write_text(
        '[profile]\nname = "pilot"\njurisdiction = "CN"\nrule = "r"\nsource = "s"\n'
        "[licensing]\nminimum_window_days = 14\nnotice_window_days = 14\n"
        '[[overrides]]\nsetting = "licensing.minimum_window_days"\n'
        'reason = "Pilot with the members\' written consent: board resolution 2026-07."\n'
    )
    res = CliRunner().invoke(app, ["policy", "show", str(policy)])
    assert res.exit_code == 0 and "OVERRIDE licensing.minimum_window_days = 14" in res.stdout
    assert "board resolution 2026-07" in res.stdout and "read over the cn preset" in res.stdout
    settings = Settings(database_url=db_url, data_dir=str(tmp_path / "data"), log_origin="test.copyalign/log")
    ca = connect(settings, clock=clock, signer=signer, blobs=MemoryBlobStore(), policy=load_policy(str(policy)))
    try:
        party = ca.parties.create(None, name="CMO", role="operator")
        ca.parties.issue_key(None, party.id)
        op = ca.parties.operator()
        assert op is not None
        holder, _ = make_party(ca, op, "rights_holder")
        dev, _ = make_party(ca, op, "developer")
        work = ca.works.register(holder, WorkInput(data=b"a poem the model would like to read", title="P")).id
        notice = ca.notices.create(dev, NoticeInput("Model", "train-ai", "commercial", "default", [work]))
        assert notice.window_days == 14
        [override] = notice.to_dict()["policy_overrides"]
        assert override["setting"] == "licensing.minimum_window_days" and override["value"] == 14
        assert override["floor"] == "at least 30" and "board resolution" in override["reason"]
        logged = json.loads(ca.ledger.payload(ca.ledger.size() - 1) or b"{}")
        assert logged["policy"] == "pilot" and logged["policy_overrides"] == [override]
        ca.notices.publish(dev, notice.id)
        with TestClient(create_app(ca, checkpoints=False)) as web:
            page = web.get(f"/notices/{notice.id}").text
            assert "Policy overrides" in page and "board resolution 2026-07" in page
            front = web.get("/").text
            assert "departs from its jurisdiction" in front and "licensing.minimum_window_days" in front
    finally:
        ca.close()
