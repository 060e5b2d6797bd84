"""The model's copyright record for deployers (issue 24; seed 004 ¶56, ¶96(a)): a card built from a scan, a
training notice and a memorisation audit, every claim a log entry, verified offline against the log bundle."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from copyalign.cli.main import app
from copyalign.clock import FakeClock
from copyalign.context import Copyalign
from copyalign.core.licensing.notices import NoticeInput
from copyalign.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from copyalign.services.audit.tinylm import TinyLMConfig, train_tiny_lm
from copyalign.services.log.bundle import export_bundle
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.works import WorkInput
from copyalign.store.models import LogEntry
from tests.conftest import make_party
from tests.integration.conftest import auth
from tests.unit.audit.tinymodel import tiny_corpus


@pytest.fixture
def record(ca: Copyalign, operator: Principal, clock: FakeClock, tmp_path: Path) -> dict:
    """A developer's scan, notice (finalised) and audit of a 10-step tiny model (it memorised nothing)."""
    corpus, _ = tiny_corpus()
    holder, _ = make_party(ca, operator, "rights_holder", "Docstring Author")
    dev, dev_key = make_party(ca, operator, "developer", "Model Lab")
    other_dev, _ = make_party(ca, operator, "developer", "Other Lab")
    provider, _ = make_party(ca, operator, "provider", "Pixel Foundry AI")
    works = [
        ca.works.register(holder, WorkInput(data=t.encode(), title=f"Docstring {i}")).id
        for i, t in enumerate(corpus.background[:3])
    ]
    ca.matching.refresh()
    data = tmp_path / "corpus"
    data.mkdir()
    (data / "a.jsonl").write_text(
        "\n".join(json.dumps({"id": f"d{i}", "text": t}) for i, t in enumerate(corpus.background[:5])) + "\n"
    )
    scan = ca.scan.scan(dev, data, tmp_path / "scan-out")
    scan_id = json.loads((tmp_path / "scan-out" / "scan.json").read_text())["scan"]
    nid = ca.notices.create(dev, NoticeInput("Lab-1", "train-genai", "commercial", "default", works)).id
    ca.notices.publish(dev, nid)
    clock.advance(days=31)
    ca.notices.finalise(dev, nid)
    model = train_tiny_lm(corpus.background[:5], tmp_path / "model", TinyLMConfig(steps=10))
    audit = ca.audit.run(dev, model, tmp_path / "audit", prefix=16, suffix=16, stride=16, max_windows=2, threads=1)
    audit_id = json.loads((tmp_path / "audit" / "audit.json").read_text())["audit"]
    return {
        "dev": dev,
        "dev_key": dev_key,
        "other_dev": other_dev,
        "provider": provider,
        "operator": operator,
        "scan": scan_id,
        "scan_index": scan.log_index,
        "notice": nid,
        "audit": audit_id,
        "audit_index": audit.log_index,
    }


def _bundle(ca: Copyalign, path: Path) -> Path:
    ca.ledger.checkpoint()
    buf = io.StringIO()
    export_bundle(ca.ledger, buf)
    path.write_text(buf.getvalue())
    return path


def test_a_model_card_from_a_scan_a_notice_and_an_audit_verifies_against_the_log_bundle(
    ca: Copyalign, record: dict, tmp_path: Path
) -> None:
    dev = record["dev"]
    declared = ca.modelcards.declare(
        dev,
        "model-lab/tiny-1",
        scans=[record["scan"]],
        notices=[record["notice"]],
        audits=[record["audit"]],
        providers=[record["provider"].party_id],
        license="apache-2.0",
    )
    assert declared["version"] == 1 and declared["guard"]["copyright_notice"]
    card = ca.modelcards.card(dev, "model-lab/tiny-1")
    # the scans that cleaned its data: decision counts and the EU summary's facts, from the scan's entry
    [scan] = card["scans"]
    assert scan["log_index"] == record["scan_index"] and sum(scan["decisions"].values()) == scan["items"] == 5
    # the notice it was trained under and its exclusion-list version
    [notice] = card["notices"]
    assert notice["notice"] == record["notice"] and [v["version"] for v in notice["exclusions"]] == [1]
    # the audit and its gate
    [audit] = card["audits"]
    assert audit["log_index"] == record["audit_index"] and audit["gate"] == "none"
    assert card["guard"]["prompt_actions"]["imitate"] == "block" and card["takedown"] == []
    # every claim is a log entry; the card verifies offline against the exported bundle
    events = [c["event"] for c in card["claims"]]
    assert events == ["model.declare", "scan.record", "notice.create", "notice.finalise", "audit.report"]
    bundle = _bundle(ca, tmp_path / "log.jsonl")
    card_file = tmp_path / "card.json"
    card_file.write_text(json.dumps(card))
    report = ca.modelcards.verify(card_file, bundle)
    assert report["verified"] and report["claims"] == 5 and report["problems"] == []
    # a card whose claim was edited does not verify
    forged = json.loads(json.dumps(card))
    forged["claims"][1]["payload"]["decisions"]["drop"] = 0
    forged["claims"][1]["payload"]["decisions"]["keep"] = 99
    bad = ca.modelcards.verify(forged, bundle)
    assert not bad["verified"] and "committed to another payload" in bad["problems"][0]
    forged = json.loads(json.dumps(card))
    forged["claims"][2]["log_index"] = forged["claims"][1]["log_index"]
    assert "is scan.record" in ca.modelcards.verify(forged, bundle)["problems"][0]
    # a card that names another log's key does not verify against this log's bundle
    from copyalign.core.log.checkpoint import generate_key
    from copyalign.errors import CopyalignError

    other = json.loads(json.dumps(card))
    other["log"]["verifier_key"] = generate_key("test.copyalign/log")[1]
    with pytest.raises(CopyalignError):
        ca.modelcards.verify(other, bundle)
    # Markdown: Hugging Face model card metadata, each statement linked to its entry
    md = ca.modelcards.markdown(dev, "model-lab/tiny-1")
    from huggingface_hub import ModelCard

    hf = ModelCard(md)
    assert hf.data.license == "apache-2.0" and "copyright-record" in hf.data.tags
    assert hf.data.to_dict()["copyalign"]["claims"] == [c["log_index"] for c in card["claims"]]
    assert f"[log entry {record['scan_index']}](#log-entry-{record['scan_index']})" in md
    assert f'<a id="log-entry-{record["audit_index"]}"></a>' in md


def test_bad_model_card_requests_are_clear_and_write_nothing(ca: Copyalign, record: dict) -> None:
    from sqlalchemy import func, select

    dev, other = record["dev"], record["other_dev"]

    def declarations() -> int:
        with ca.store.read() as s:
            return int(s.execute(select(func.count()).where(LogEntry.event == "model.declare")).scalar_one())

    with pytest.raises(NotFoundError, match="no model 'nobody/nothing' is declared"):
        ca.modelcards.card(dev, "nobody/nothing")
    with pytest.raises(NotFoundError, match="no scan scan_missing"):
        ca.modelcards.declare(dev, "m1", scans=["scan_missing"])
    with pytest.raises(PermissionDeniedError, match="another developer"):
        ca.modelcards.declare(other, "m1", notices=[record["notice"]])
    with pytest.raises(PermissionDeniedError):
        ca.modelcards.declare(other, "m1", developer_id=dev.party_id)
    with pytest.raises(InvalidInputError, match="not a model name"):
        ca.modelcards.declare(dev, "../etc")
    assert declarations() == 0
    ca.modelcards.declare(dev, "m1")
    with pytest.raises(ConflictError, match="another developer"):
        ca.modelcards.declare(other, "m1")
    assert declarations() == 1
    with pytest.raises(InvalidInputError, match="not a copyalign-model-card/1 card"):
        ca.modelcards.verify({"claims": []}, Path("unused"))


def test_model_card_over_http_and_the_cli(
    client: TestClient, ca: Copyalign, record: dict, db_url: str, tmp_path: Path
) -> None:
    h = auth(record["dev_key"])
    r = client.post("/v1/models", json={"name": "lab/tiny", "scans": [record["scan"]]}, headers=h)
    assert r.status_code == 201, r.text
    r = client.get("/v1/models/lab/tiny/card", headers=h)
    assert r.status_code == 200 and r.json()["scans"][0]["scan"] == record["scan"]
    r = client.get("/v1/models/lab/tiny/card", params={"format": "markdown"}, headers=h)
    assert r.status_code == 200 and r.text.startswith("---\n") and "## Copyright record" in r.text
    assert client.get("/v1/models/lab/none/card", headers=h).status_code == 404
    runner = CliRunner()
    base = ["--db", db_url, "--data-dir", ca.settings.data_dir, "--policy", "cn"]
    card = tmp_path / "card.json"
    # the CLI opens the log with its own key file (the tests' log signs with another): sign the checkpoint here
    # first, so the CLI signs none, and pin the log's key when verifying, as an auditor who knows it would
    bundle = _bundle(ca, tmp_path / "log.jsonl")
    result = runner.invoke(app, [*base, "model-card", "lab/tiny", "--format", "json", "--out", str(card)])
    assert result.exit_code == 0, result.stdout + result.stderr
    key = ca.ledger.verifier_key
    result = runner.invoke(app, [*base, "model", "verify", str(card), "--bundle", str(bundle), "--key", key, "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["verified"] is True
    dev = record["dev"].party_id
    result = runner.invoke(
        app, [*base, "model", "declare", "lab/cli", "--developer", dev, "--audit", record["audit"], "--json"]
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["audits"][0]["id"] == record["audit"]
    result = runner.invoke(app, [*base, "model-card", "lab/cli"])
    assert result.exit_code == 0 and result.stdout.startswith("---\n") and record["audit"] in result.stdout
    result = runner.invoke(app, [*base, "model-card", "lab/missing", "--json"])
    assert result.exit_code != 0 and "no model 'lab/missing'" in result.stdout
