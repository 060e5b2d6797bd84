from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from copyalign.core.takedown.report import (
    AccuracySample,
    ComplaintRecord,
    Ground,
    NoticeRecord,
    OwnInitiativeRecord,
    Row,
    SuspensionReason,
    SuspensionRecord,
    automated_means_sheet,
    complaints_sheet,
    notices_sheet,
    own_initiative_sheet,
    period_of,
    reporting_period,
    transparency_report,
)
from copyalign.core.takedown.sor_vocab import AutomatedDecision
from copyalign.core.takedown.states import ComplaintState
from copyalign.errors import InvalidInputError

P = reporting_period("annual", 2026)
T = datetime(2026, 3, 2, 8, tzinfo=UTC)
DISABLED = "DECISION_VISIBILITY_CONTENT_DISABLED"
SUSPENDED = "DECISION_ACCOUNT_SUSPENDED"


def value(rows: tuple[Row, ...], indicator: str, breakdown: str = "total") -> object:
    [row] = [r for r in rows if r.indicator == indicator and r.breakdown == breakdown]
    return row.value


def h(hours: float) -> datetime:
    return T + timedelta(hours=hours)


def test_notices_sheet_by_hand() -> None:
    records = [
        NoticeRecord(
            "a",
            T,
            items=3,
            trusted_flagger=True,
            acted_at=h(2),
            ground=Ground.LAW,
            restrictions=(DISABLED,),
            automated_processing=True,
        ),
        NoticeRecord("b", T, items=1, acted_at=h(10), ground=Ground.LAW, restrictions=(DISABLED, SUSPENDED)),
        NoticeRecord(
            "c", T, items=2, trusted_flagger=True, acted_at=h(5), ground=Ground.TERMS, restrictions=(DISABLED,)
        ),
        NoticeRecord("d", T, items=1),  # rejected: no action
        NoticeRecord("e", datetime(2025, 12, 31, 23, tzinfo=UTC), acted_at=h(1), ground=Ground.LAW),  # last year
    ]
    rows = notices_sheet(records, P)
    assert value(rows, "notices_received") == 4
    assert value(rows, "notices_received", "trusted_flaggers") == 2
    assert value(rows, "notices_received", "category:STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS") == 4
    assert value(rows, "items_in_notices") == 7
    assert value(rows, "notices_with_action") == 3
    assert value(rows, "actions", f"ground:illegal_content|restriction:{DISABLED}") == 2
    assert value(rows, "actions", f"ground:illegal_content|restriction:{SUSPENDED}") == 1
    assert value(rows, "actions", f"ground:incompatible_content|restriction:{DISABLED}") == 1
    assert value(rows, "notices_processed_by_automated_means") == 1
    assert value(rows, "median_time_to_action") == 5.0  # median of 2, 10, 5 hours
    assert value(rows, "median_time_to_action", "trusted_flaggers") == 3.5  # median of 2 and 5
    assert all(r.sheet == "notices" for r in rows)


def test_own_initiative_sheet_counts_solely_automated_decisions() -> None:
    rows = own_initiative_sheet(
        [
            OwnInitiativeRecord(T, Ground.LAW, (DISABLED,), True, AutomatedDecision.FULLY),
            OwnInitiativeRecord(T, Ground.LAW, (DISABLED,), True, AutomatedDecision.PARTIALLY),
            OwnInitiativeRecord(T, Ground.TERMS, (), False, AutomatedDecision.NOT_AUTOMATED),
        ],
        P,
    )
    assert value(rows, "measures") == 3 and value(rows, "detected_by_automated_means") == 2
    assert value(rows, "decisions", "automation:AUTOMATED_DECISION_FULLY") == 1
    assert value(rows, "measures", "ground:incompatible_content|restriction:unspecified") == 1


def test_complaints_and_suspensions_by_hand() -> None:
    complaints = [
        ComplaintRecord(T, h(24), ComplaintState.UPHELD),
        ComplaintRecord(T, h(48), ComplaintState.REVERSED),
        ComplaintRecord(T, h(12), ComplaintState.PARTIALLY_REVERSED),
        ComplaintRecord(T, h(96), ComplaintState.REVERSED),
        ComplaintRecord(T),  # pending
    ]
    suspensions = [
        SuspensionRecord(T, SuspensionReason.UNFOUNDED_NOTICES),
        SuspensionRecord(T, SuspensionReason.MANIFESTLY_ILLEGAL_CONTENT),
        SuspensionRecord(T, SuspensionReason.UNFOUNDED_NOTICES),
    ]
    rows = complaints_sheet(complaints, suspensions, P)
    assert (value(rows, "complaints_received"), value(rows, "complaints_decided")) == (5, 4)
    assert value(rows, "complaints_decided", "outcome:reversed") == 2
    assert value(rows, "complaints_decided", "outcome:partially_reversed") == 1
    assert value(rows, "median_time_to_decision") == 36.0  # median of 12, 24, 48, 96
    assert value(rows, "suspensions") == 3
    assert value(rows, "suspensions", "reason:manifestly_unfounded_notices") == 2
    assert value(rows, "suspensions", "reason:manifestly_unfounded_complaints") == 0


def test_precision_and_recall_of_the_guard() -> None:
    samples = [
        AccuracySample(T, flagged=f, infringing=i)
        for f, i in [(True, True)] * 6 + [(True, False)] * 2 + [(False, True)] * 3 + [(False, False)] * 9
    ]
    rows = automated_means_sheet(samples, P)
    assert value(rows, "guard_outcomes", "true_positive") == 6
    assert value(rows, "guard_outcomes", "true_negative") == 9
    assert value(rows, "guard_precision") == 6 / 8
    assert value(rows, "guard_recall") == 6 / 9
    empty = automated_means_sheet([], P)
    assert value(empty, "guard_precision") is None and value(empty, "guard_recall") is None


def test_periods_follow_implementing_regulation_2024_2835() -> None:
    h1, h2 = reporting_period("six-monthly", 2026, 1), reporting_period("six-monthly", 2026, 2)
    assert (h1.label, h1.end, h2.start) == ("2026-H1", datetime(2026, 7, 1, tzinfo=UTC), h1.end)
    assert datetime(2026, 6, 30, 23, 59, tzinfo=UTC) in h1 and datetime(2026, 7, 1, tzinfo=UTC) not in h1
    assert period_of("six-monthly", datetime(2026, 6, 30, 23, tzinfo=UTC), time_zone="Europe/Berlin").label == "2026-H2"
    berlin = reporting_period("annual", 2026, time_zone="Europe/Berlin")
    assert berlin.start == datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Berlin"))
    for args, field in [
        (("quarterly", 2026), "kind"),
        (("six-monthly", 2026, 3), "half"),
        (("annual", 2026, 1), "half"),
        (("annual", 1999), "year"),
    ]:
        with pytest.raises(InvalidInputError) as e:
            reporting_period(*args)  # type: ignore[arg-type]
        assert e.value.field == field


def test_the_report_has_every_sheet_and_rows_serialise() -> None:
    report = transparency_report(P, notices=[NoticeRecord("a", T)], samples=[AccuracySample(T, True, True)])
    assert list(report) == ["notices", "own_initiative", "complaints_suspensions", "automated_means"]
    assert report["notices"][0].as_dict() == {
        "sheet": "notices",
        "indicator": "notices_received",
        "breakdown": "total",
        "value": 1,
        "unit": "count",
    }
    assert value(report["notices"], "median_time_to_action") is None  # no data is not zero


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: NoticeRecord("a", T, acted_at=T - timedelta(hours=1), ground=Ground.LAW), "acted_at"),
        (lambda: NoticeRecord("a", T, acted_at=h(1)), "ground"),
        (lambda: NoticeRecord("a", T, items=0), "items"),
        (lambda: NoticeRecord("a", T, restrictions=("REMOVED",)), "restrictions"),
        (lambda: NoticeRecord("a", T, category="COPYRIGHT"), "category"),
        (lambda: ComplaintRecord(T, h(1)), "outcome"),
        (lambda: ComplaintRecord(T, h(1), ComplaintState.FILED), "outcome"),
        (lambda: SuspensionRecord(T, "bad manners"), "reason"),  # type: ignore[arg-type]
        (lambda: AccuracySample(datetime(2026, 1, 1), True, True), "decided_at"),
    ],
)
def test_records_cannot_be_built_invalid(build: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as e:
        build()  # type: ignore[operator]
    assert e.value.field == field


def test_periods_as_people_write_them() -> None:
    from copyalign.core.takedown.report import parse_period, previous_period

    assert parse_period("2026") == reporting_period("annual", 2026)
    assert parse_period("2026H1") == parse_period("2026-h1") == reporting_period("six-monthly", 2026, 1)
    berlin = parse_period("2026-H2", time_zone="Europe/Berlin")
    assert berlin.start == datetime(2026, 6, 30, 22, tzinfo=UTC) and berlin.label == "2026-H2"
    for bad in ("2026H3", "26", "2026Q1", "", "2026 H1"):
        with pytest.raises(InvalidInputError) as exc:
            parse_period(bad)
        assert exc.value.field == "period"
    # the report due on 2 January is the one of the year before; six-monthly on 2 July, the first half
    assert previous_period("annual", datetime(2027, 1, 2, tzinfo=UTC)).label == "2026"
    assert previous_period("six-monthly", datetime(2026, 7, 2, tzinfo=UTC)).label == "2026-H1"
    assert previous_period("six-monthly", datetime(2026, 3, 1, tzinfo=UTC)).label == "2025-H2"
