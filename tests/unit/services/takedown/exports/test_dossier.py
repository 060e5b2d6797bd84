"""The duty-of-care dossier: every claim links to the log entries that prove it, and gaps are shown."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from copyalign.core.takedown.report import (
    AccuracySample,
    ComplaintRecord,
    Ground,
    NoticeRecord,
    SuspensionReason,
    SuspensionRecord,
    reporting_period,
    transparency_report,
)
from copyalign.core.takedown.states import ComplaintState
from copyalign.errors import InvalidInputError
from copyalign.services.log.ledger import Receipt
from copyalign.services.takedown.exports.dossier import (
    Claim,
    DossierFacts,
    Factor,
    LogRef,
    claims_from_report,
    dossier_document,
    render_dossier,
    write_dossier,
)
from copyalign.services.takedown.exports.staging import SUMS

AT = datetime(2027, 1, 5, 10, tzinfo=UTC)


def ref(index: int, event: str = "") -> LogRef:
    return LogRef(index, hashlib.sha256(f"entry {index}".encode()).hexdigest(), event)


def facts(**more: object) -> DossierFacts:
    base: dict[str, object] = {
        "provider": "Example AI",
        "generated_at": AT,
        "log_origin": "registry.example/log",
        "checkpoint_size": 500,
        "period": "2026",
        "service": (
            Claim("A text-to-image service; outputs are not ranked, recommended or edited.",
                  (ref(3, "party.registered"),)),
            Claim("Every delivered output carries a visible AIGC label and a watermark with its trace id.",
                  (ref(40, "guard.labels.enabled"), ref(41))),
        ),
        "measures": (
            Claim("The output filter blocked 1,204 near copies of registered works.", (ref(200, "guard.stats"),),
                  {"blocked": 1204}),
        ),
        "repeat_infringers": (
            Claim("Strikes expire after 90 days; the third within that time suspends the account.",
                  (ref(12, "takedown.policy"),)),
        ),
        "training": (
            Claim("The training corpus was scanned against registry checkpoint 310.", (ref(311, "scan.recorded"),)),
            Claim("A memorisation audit found no verbatim extraction above the threshold.",
                  (ref(330, "audit.recorded"), ref(311))),
        ),
    }  # fmt: skip
    base.update(more)
    return DossierFacts(**base)  # type: ignore[arg-type]


def test_every_claim_links_to_its_entries_in_the_json() -> None:
    f = facts()
    doc = dossier_document(f)
    assert [x["factor"] for x in doc["factors"]] == [x.value for x in Factor]
    claims = [c for x in doc["factors"] for c in x["claims"]]
    assert len(claims) == 6
    for c in claims:
        assert c["proofs"], c["id"]
        for p in c["proofs"]:
            assert p["receipt"] == f"/v1/log/receipts/{p['index']}"
            assert re.fullmatch(r"[0-9a-f]{64}", p["leaf_hash"])
    cited = {(p["index"], p["leaf_hash"]) for c in claims for p in c["proofs"]}
    assert {(e["index"], e["leaf_hash"]) for e in doc["entries"]} == cited
    [e311] = [e for e in doc["entries"] if e["index"] == 311]
    assert e311["claims"] == ["training-1", "training-2"] and e311["event"] == "scan.recorded"
    assert [e["index"] for e in doc["entries"]] == sorted(e["index"] for e in doc["entries"])
    assert doc["log"] == {"origin": "registry.example/log", "checkpoint_size": 500}


def test_the_page_links_each_claim_to_receipts_and_back(tmp_path: Path) -> None:
    staged = write_dossier(tmp_path, facts(), receipt_url="https://registry.example/v1/log/receipts/{index}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["dossier.json", "dossier.html", SUMS])
    assert staged.sha256 == hashlib.sha256((tmp_path / SUMS).read_bytes()).hexdigest()
    page = (tmp_path / "dossier.html").read_text()
    doc = json.loads((tmp_path / "dossier.json").read_text())
    for factor in doc["factors"]:
        for c in factor["claims"]:
            item = re.search(rf'<li id="{c["id"]}">(.*?)</li>', page, re.S)
            assert item, c["id"]
            for p in c["proofs"]:
                assert f'href="https://registry.example/v1/log/receipts/{p["index"]}"' in item.group(1)
                assert f'href="#entry-{p["index"]}"' in item.group(1)
    for e in doc["entries"]:
        row = re.search(rf'<tr id="entry-{e["index"]}">(.*?)</tr>', page, re.S)
        assert row and e["leaf_hash"] in row.group(1)
        assert all(f'href="#{c}"' in row.group(1) for c in e["claims"])
    assert "<script" not in page


def test_a_factor_without_claims_is_shown_as_a_gap() -> None:
    files = render_dossier(facts())
    page = files["dossier.html"].decode()
    sections = re.findall(r'<section id="(\w+)">(.*?)</section>', page, re.S)
    gaps = [name for name, body in sections if "No claim recorded for this factor" in body]
    assert gaps == ["foreseeability", "response_times"]
    doc = json.loads(files["dossier.json"])
    assert [x["claims"] for x in doc["factors"] if x["factor"] == "response_times"] == [[]]


def test_claims_from_a_sealed_report() -> None:
    p = reporting_period("annual", 2026)
    t = datetime(2026, 4, 1, tzinfo=UTC)
    sheets = transparency_report(
        p,
        notices=[NoticeRecord(f"n{h}", t, acted_at=t + timedelta(hours=h), ground=Ground.LAW) for h in (1, 3, 8)],
        complaints=[ComplaintRecord(t, t + timedelta(hours=30), ComplaintState.UPHELD)],
        suspensions=[SuspensionRecord(t, SuspensionReason.MANIFESTLY_ILLEGAL_CONTENT)],
        samples=[AccuracySample(t, True, True), AccuracySample(t, True, False), AccuracySample(t, False, True)],
    )
    sealed = ref(450, "takedown.report")
    claims = claims_from_report(sheets, period=p, proof=sealed)
    assert set(claims) == {Factor.RESPONSE_TIMES, Factor.MEASURES, Factor.REPEAT_INFRINGERS}
    action, complaint = claims[Factor.RESPONSE_TIMES]
    assert action.figures == {"median_hours_to_action": 3.0, "notices_acted_on": 3}
    assert "3.0 hours" in action.text and "30.0 hours" in complaint.text
    assert claims[Factor.MEASURES][0].figures == {"guard_precision": 0.5, "guard_recall": 0.5, "samples": 3}
    assert all(c.proofs == (sealed,) for cs in claims.values() for c in cs)
    f = facts(response_times=claims[Factor.RESPONSE_TIMES], measures=claims[Factor.MEASURES])
    assert dossier_document(f)["entries"][-1]["index"] == 450
    empty = claims_from_report(transparency_report(p), period=p, proof=sealed)
    assert list(empty) == [Factor.REPEAT_INFRINGERS]  # no median, no ratio: no claim; zero suspensions is a fact
    assert empty[Factor.REPEAT_INFRINGERS][0].figures["suspensions"] == 0


def test_a_reference_comes_from_a_receipt() -> None:
    receipt = Receipt(index=7, entry={"event": "takedown.report"}, leaf_hash="ab" * 32)
    assert LogRef.from_receipt(receipt, "takedown.report") == LogRef(7, "ab" * 32, "takedown.report")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Claim("A claim with no proof.", ()), "proofs"),
        (lambda: Claim(" ", (ref(1),)), "text"),
        (lambda: Claim("Write to legal@example.com for details.", (ref(1),)), "text"),
        (lambda: Claim("ok", (ref(1),), {"n": True}), "figures"),
        (lambda: LogRef(-1, "ab" * 32), "index"),
        (lambda: LogRef(1, "AB" * 32), "leaf_hash"),
        (lambda: LogRef(1, "ab" * 31), "leaf_hash"),
        (lambda: LogRef(1, "ab" * 32, "Bad Event!"), "event"),
        (lambda: facts(checkpoint_size=300), "checkpoint_size"),  # entries 311, 330 lie beyond it
        (lambda: facts(foreseeability=(Claim("x", (LogRef(3, "cd" * 32),)),)), "proofs"),  # entry 3, two hashes
        (lambda: facts(provider="ops@example.ai"), "provider"),
        (lambda: facts(generated_at=datetime(2027, 1, 5)), "generated_at"),
        (lambda: facts(service=("not a claim",)), "service"),
    ],
)
def test_what_cannot_be_built(build: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        build()  # type: ignore[operator]
    assert err.value.field == field


def test_the_receipt_url_needs_a_place_for_the_index() -> None:
    with pytest.raises(InvalidInputError):
        dossier_document(facts(), receipt_url="https://registry.example/receipts")
