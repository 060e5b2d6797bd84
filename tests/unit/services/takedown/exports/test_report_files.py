"""The transparency report's files: a CSV per sheet, the JSON, the HTML with charts, and no personal data."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.takedown.report import (
    AccuracySample,
    ComplaintRecord,
    Ground,
    NoticeRecord,
    OwnInitiativeRecord,
    Row,
    SuspensionReason,
    SuspensionRecord,
    reporting_period,
    transparency_report,
)
from copyalign.core.takedown.sor_vocab import AutomatedDecision
from copyalign.core.takedown.states import ComplaintState
from copyalign.errors import InvalidInputError
from copyalign.services.takedown.exports.report_files import (
    CSV_COLUMNS,
    render_transparency_report,
    write_transparency_report,
)
from copyalign.services.takedown.exports.staging import SUMS

P = reporting_period("annual", 2026)
T = datetime(2026, 3, 2, 8, tzinfo=UTC)
AT = datetime(2027, 1, 4, 9, tzinfo=UTC)
EMAIL = "complainant.person@example.com"
USER_ID = "usr_01hq3v8k2m9x4c7p5r6t0w1y2z"
DISABLED = "DECISION_VISIBILITY_CONTENT_DISABLED"
SHEET_FILES = ("notices.csv", "own_initiative.csv", "complaints_suspensions.csv", "automated_means.csv")


def sheets() -> dict[str, tuple[Row, ...]]:
    """A year of the desk's work, with an e-mail address and a user id planted where ids go."""
    notices = [
        NoticeRecord(EMAIL, T, items=3, trusted_flagger=True, acted_at=T + timedelta(hours=2), ground=Ground.LAW,
                     restrictions=(DISABLED,), automated_processing=True),
        NoticeRecord(USER_ID, T, acted_at=T + timedelta(hours=30), ground=Ground.LAW,
                     restrictions=(DISABLED, "DECISION_ACCOUNT_SUSPENDED")),
        NoticeRecord("n-3", T, items=2),
    ]  # fmt: skip
    own = [
        OwnInitiativeRecord(T, Ground.TERMS, (DISABLED,), True, AutomatedDecision.FULLY),
        OwnInitiativeRecord(T, Ground.LAW, ("DECISION_VISIBILITY_OTHER",), True, AutomatedDecision.PARTIALLY),
    ]
    complaints = [
        ComplaintRecord(T, T + timedelta(hours=20), ComplaintState.UPHELD),
        ComplaintRecord(T, T + timedelta(hours=50), ComplaintState.REVERSED),
        ComplaintRecord(T),
    ]
    suspensions = [SuspensionRecord(T, SuspensionReason.MANIFESTLY_ILLEGAL_CONTENT)]
    samples = [AccuracySample(T, flagged=f, infringing=i) for f, i in ((1, 1), (1, 1), (1, 0), (0, 1), (0, 0))]
    return transparency_report(
        P, notices=notices, own_initiative=own, complaints=complaints, suspensions=suspensions, samples=samples
    )


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_one_csv_per_sheet_with_the_template_columns(tmp_path: Path) -> None:
    rep = sheets()
    staged = write_transparency_report(tmp_path, rep, period=P, provider="Example AI", generated_at=AT)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([*SHEET_FILES, "report.json", "report.html", SUMS])
    for name, rows in rep.items():
        data = (tmp_path / f"{name}.csv").read_bytes()
        assert data.splitlines()[0].decode() == ",".join(CSV_COLUMNS)
        got = read_csv(data)
        assert [(r["indicator"], r["breakdown"], r["unit"]) for r in got] == [
            (r.indicator, r.breakdown, r.unit) for r in rows
        ]
        assert all(r["period"] == "2026" for r in got)
    notices = {(r["indicator"], r["breakdown"]): r["value"] for r in read_csv((tmp_path / "notices.csv").read_bytes())}
    assert notices[("notices_received", "total")] == "3"
    assert notices[("median_time_to_action", "total")] == "16.0"
    automated = read_csv((tmp_path / "automated_means.csv").read_bytes())
    assert [r["value"] for r in automated if r["indicator"] == "guard_precision"] == [str(2 / 3)]
    assert staged.digests == {n: hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in staged.digests}
    assert staged.sha256 == hashlib.sha256((tmp_path / SUMS).read_bytes()).hexdigest()


def test_no_data_is_an_empty_cell_never_zero(tmp_path: Path) -> None:
    write_transparency_report(tmp_path, transparency_report(P), period=P, provider="Example AI", generated_at=AT)
    rows = read_csv((tmp_path / "notices.csv").read_bytes())
    assert [r["value"] for r in rows if r["indicator"] == "median_time_to_action"] == ["", ""]
    doc = json.loads((tmp_path / "report.json").read_text())
    assert [r["value"] for r in doc["sheets"]["automated_means"]["rows"] if r["unit"] == "ratio"] == [None, None]
    assert "no data" in (tmp_path / "report.html").read_text()


def test_the_json_holds_everything(tmp_path: Path) -> None:
    rep = sheets()
    write_transparency_report(tmp_path, rep, period=P, provider="Example AI", generated_at=AT)
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["provider"] == "Example AI" and doc["period"]["label"] == "2026"
    assert doc["period"]["start"].startswith("2026-01-01T00:00:00") and doc["generated_at"].startswith("2027-01-04")
    assert "2024/2835" in doc["template"]
    assert list(doc["sheets"]) == list(rep)
    for name, rows in rep.items():
        assert doc["sheets"][name]["legal_basis"].startswith("DSA Art")
        assert doc["sheets"][name]["rows"] == [
            {"indicator": r.indicator, "breakdown": r.breakdown, "value": r.value, "unit": r.unit} for r in rows
        ]


def test_the_page_draws_charts_inline_and_publishes_no_personal_data(tmp_path: Path) -> None:
    write_transparency_report(tmp_path, sheets(), period=P, provider="Example AI", generated_at=AT)
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") >= 8 and page.count("<section") == 4
    assert "Median times (hours)" in page and "to action: trusted flaggers" in page and "16.0 h" in page
    assert "precision: total" in page and "66.7 %" in page
    assert "<script" not in page and not re.search(r"(src|href)=\"https?:", page)  # no CDN, nothing fetched
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        assert EMAIL.encode() not in data and USER_ID.encode() not in data, path.name
        assert b"@" not in data, path.name


def test_free_text_with_an_email_address_is_refused_and_nothing_written(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as err:
        write_transparency_report(tmp_path, sheets(), period=P, provider=f"Example AI <{EMAIL}>", generated_at=AT)
    assert err.value.field == "provider"
    assert list(tmp_path.iterdir()) == []


def test_unpublished_until_the_desk_has_logged_the_digest(tmp_path: Path) -> None:
    staged = write_transparency_report(
        tmp_path, sheets(), period=P, provider="Example AI", generated_at=AT, publish=False
    )
    assert all(p.name.endswith(".partial") for p in tmp_path.iterdir())
    staged.publish()
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_the_same_report_renders_to_the_same_bytes() -> None:
    a = render_transparency_report(sheets(), period=P, provider="Example AI", generated_at=AT)
    b = render_transparency_report(sheets(), period=P, provider="Example AI", generated_at=AT)
    assert a == b


def test_rows_must_belong_to_their_sheet() -> None:
    rep = sheets()
    with pytest.raises(InvalidInputError, match="another sheet"):
        render_transparency_report(
            {"notices": rep["complaints_suspensions"]}, period=P, provider="Example AI", generated_at=AT
        )
    with pytest.raises(InvalidInputError, match="sheet name"):
        render_transparency_report({"../x": ()}, period=P, provider="Example AI", generated_at=AT)
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        render_transparency_report(rep, period=P, provider="Example AI", generated_at=datetime(2027, 1, 1))


@settings(deadline=None, max_examples=25)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 364 * 24),
            st.integers(1, 9),
            st.booleans(),
            st.one_of(st.none(), st.floats(0, 500, allow_nan=False)),
        ),
        max_size=30,
    )
)
def test_the_csv_reads_back_as_the_sheet(items: list[tuple[int, int, bool, float | None]]) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = [
        NoticeRecord(f"n{i}", start + timedelta(hours=h), items=n, trusted_flagger=t,
                     acted_at=None if a is None else start + timedelta(hours=h + a),
                     ground=None if a is None else Ground.LAW)
        for i, (h, n, t, a) in enumerate(items)
    ]  # fmt: skip
    rep = transparency_report(P, notices=records)
    files = render_transparency_report(rep, period=P, provider="Example AI", generated_at=AT)
    got = read_csv(files["notices.csv"])
    assert [
        (r["indicator"], r["breakdown"], None if r["value"] == "" else float(r["value"]), r["unit"]) for r in got
    ] == [(r.indicator, r.breakdown, None if r.value is None else float(r.value), r.unit) for r in rep["notices"]]
