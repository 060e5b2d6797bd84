"""When a licence's usage reports are due, and which are overdue.

Seed 002 §3.2 asks that developers "submit training-data use reports periodically" (定期提交训练数据使用报告) for
compliance review. A finalised notice's licence carries a reporting period (``licensing.report_every_days``
when it was created) and a grace (``report_grace_days``): its reports must cover the licence without a gap from
the finalisation on, one period after another, each due ``grace`` days after its period ends.

Coverage runs from the finalisation through every report whose period starts no later than the coverage so far
(one day's slack for reports cut at a date boundary); a report counts only up to the moment it was submitted, so
a period that ends in the future covers nothing yet, and a gap stops the coverage where it begins. The next period
starts where the coverage ends.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> fin = datetime(2026, 1, 1, tzinfo=UTC)
    >>> due = next_due(fin, [], every_days=90, grace_days=30)
    >>> due.period_end - fin, due.due_at - fin
    (datetime.timedelta(days=90), datetime.timedelta(days=120))
    >>> is_overdue(due, fin + timedelta(days=121))
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from copyalign.core.canonical import format_time

SLACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ReportDue:
    """The next report a licence owes: the period it covers and when it is due."""

    period_start: datetime
    period_end: datetime
    due_at: datetime

    def days_overdue(self, now: datetime) -> int:
        return max(0, (now - self.due_at).days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": [format_time(self.period_start), format_time(self.period_end)],
            "due_at": format_time(self.due_at),
        }


def covered_until(finalised_at: datetime, reports: Iterable[tuple[datetime, datetime, datetime]]) -> datetime:
    """How far the reports ``(period_start, period_end, submitted_at)`` cover the licence without a gap."""
    covered = finalised_at
    for start, end, submitted in sorted(reports):
        if start > covered + SLACK:
            break
        covered = max(covered, min(end, submitted))
    return covered


def next_due(
    finalised_at: datetime,
    reports: Iterable[tuple[datetime, datetime, datetime]],
    *,
    every_days: int,
    grace_days: int,
) -> ReportDue:
    """The period the next report covers, and its due date."""
    start = covered_until(finalised_at, reports)
    end = start + timedelta(days=every_days)
    return ReportDue(start, end, end + timedelta(days=grace_days))


def is_overdue(due: ReportDue, now: datetime) -> bool:
    return now > due.due_at


__all__ = ["SLACK", "ReportDue", "covered_until", "is_overdue", "next_due"]
