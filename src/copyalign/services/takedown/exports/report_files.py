"""The transparency report as files: one CSV per template sheet, a JSON of everything, an HTML page with charts.

The quantities are the core's (:func:`copyalign.core.takedown.report.transparency_report`, the sections of the
EU harmonised templates of Commission Implementing Regulation (EU) 2024/2835 that a takedown desk feeds); this
module only writes them down:

* ``notices.csv``, ``own_initiative.csv``, ``complaints_suspensions.csv``, ``automated_means.csv`` — one per
  sheet, columns :data:`CSV_COLUMNS`; a median or ratio with no data is an empty cell, never 0;
* ``report.json`` — provider, period, generation time and every sheet with its title and legal basis;
* ``report.html`` — the same, readable, with inline SVG charts (:mod:`copyalign.services.charts`: no script,
  no CDN) and every row in a table;
* ``SHA256SUMS`` — see :mod:`.staging`: its digest is the one the desk seals into the log.

Public content only: the sheets are aggregates (no notice id, no user, no sender reaches them), the free
text (the provider's name) is checked, and the rendered files are checked again for e-mail addresses
(:mod:`.public`). The bytes depend only on the arguments — ``generated_at`` is passed in, from the desk's
clock — so the same report renders to the same digest.

Example:
    >>> from datetime import UTC, datetime
    >>> from copyalign.core.takedown.report import reporting_period, transparency_report
    >>> p = reporting_period("annual", 2026)
    >>> files = render_transparency_report(transparency_report(p), period=p, provider="Example AI",
    ...     generated_at=datetime(2027, 1, 2, tzinfo=UTC))
    >>> sorted(files)[:2]
    ['automated_means.csv', 'complaints_suspensions.csv']
    >>> files["notices.csv"].splitlines()[0]
    b'period,indicator,breakdown,value,unit'
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from copyalign.core.canonical import format_time
from copyalign.core.takedown.report import Period, Row
from copyalign.errors import InvalidInputError
from copyalign.services.charts import STYLE, hbars, table
from copyalign.services.takedown.exports.public import check_public, check_public_files
from copyalign.services.takedown.exports.staging import Staged, stage

__all__ = ["CSV_COLUMNS", "SHEETS", "render_transparency_report", "write_transparency_report"]

CSV_COLUMNS = ("period", "indicator", "breakdown", "value", "unit")
TEMPLATE = "Commission Implementing Regulation (EU) 2024/2835, Annex I (quantitative template)"

# sheet -> (title, legal basis); a sheet the core adds later is written too, under its own name.
SHEETS: Mapping[str, tuple[str, str]] = {
    "notices": ("Notices received and the actions taken on them", "DSA Art. 15(1)(b)"),
    "own_initiative": ("Measures taken on the provider's own initiative", "DSA Art. 15(1)(c)"),
    "complaints_suspensions": ("Complaints and their outcomes; suspensions", "DSA Arts. 15(1)(d), 24(1)(a)-(b)"),
    "automated_means": ("Accuracy of the automated means (the guard)", "DSA Art. 15(1)(e)"),
}
_LABELS = {
    "notices_received": "Notices received",
    "items_in_notices": "Items named in notices",
    "notices_with_action": "Notices acted on",
    "actions": "Actions on notices",
    "notices_processed_by_automated_means": "Processed by automated means",
    "median_time_to_action": "Median time to action",
    "measures": "Own-initiative measures",
    "detected_by_automated_means": "Detected by automated means",
    "decisions": "Decisions",
    "complaints_received": "Complaints received",
    "complaints_decided": "Complaints decided",
    "median_time_to_decision": "Median time to decide a complaint",
    "suspensions": "Suspensions",
    "guard_samples": "Items with a known outcome",
    "guard_outcomes": "Guard outcomes",
    "guard_precision": "Guard precision",
    "guard_recall": "Guard recall",
}
# the shorter names the medians' and ratios' charts use
_CHART = {
    "median_time_to_action": "to action",
    "median_time_to_decision": "to decide",
    "guard_precision": "precision",
    "guard_recall": "recall",
}
_SHEET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PREFIXES = re.compile(
    r"^(STATEMENT_CATEGORY_|DECISION_VISIBILITY_|DECISION_MONETARY_|DECISION_PROVISION_|DECISION_ACCOUNT_|"
    r"AUTOMATED_DECISION_)"
)
_COLOURS = ("#36c", "#c63", "#4a7", "#a50", "#639", "#888")


def render_transparency_report(
    sheets: Mapping[str, Sequence[Row]], *, period: Period, provider: str, generated_at: datetime
) -> dict[str, bytes]:
    """Every file's bytes, by name (``SHA256SUMS`` is added when they are staged)."""
    check_public(provider, field="provider")
    if not provider.strip():
        raise InvalidInputError("the report names its provider", field="provider")
    if generated_at.utcoffset() is None:
        raise InvalidInputError("generated_at is a timezone-aware datetime", field="generated_at")
    for name, rows in sheets.items():
        if not _SHEET_NAME.match(name):
            raise InvalidInputError(f"{name!r} is not a sheet name", field="sheets")
        for row in rows:
            if not isinstance(row, Row) or row.sheet != name:
                raise InvalidInputError(f"a row of sheet {name!r} belongs to another sheet", field="sheets")
    files = {f"{name}.csv": _csv(rows, period) for name, rows in sheets.items()}
    document = _document(sheets, period=period, provider=provider, generated_at=generated_at)
    files["report.json"] = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    files["report.html"] = _html(sheets, period=period, provider=provider, generated_at=generated_at).encode("utf-8")
    check_public_files(files)
    return files


def write_transparency_report(
    directory: Path,
    sheets: Mapping[str, Sequence[Row]],
    *,
    period: Period,
    provider: str,
    generated_at: datetime,
    publish: bool = True,
) -> Staged:
    """Render and stage the files under ``directory``; publish them unless ``publish`` is False.

    With ``publish=False`` the desk seals ``staged.sha256`` into the log first, then calls
    ``staged.publish()`` (or ``staged.discard()`` if the log write failed): a report under its final name is
    then always one the log holds.
    """
    staged = stage(
        directory, render_transparency_report(sheets, period=period, provider=provider, generated_at=generated_at)
    )
    if publish:
        staged.publish()
    return staged


def _csv(rows: Sequence[Row], period: Period) -> bytes:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for r in rows:
        out.writerow((period.label, r.indicator, r.breakdown, "" if r.value is None else r.value, r.unit))
    return buf.getvalue().encode("utf-8")


def _document(
    sheets: Mapping[str, Sequence[Row]], *, period: Period, provider: str, generated_at: datetime
) -> dict[str, object]:
    return {
        "report": "transparency report",
        "template": TEMPLATE,
        "provider": provider,
        "period": {"label": period.label, "start": format_time(period.start), "end": format_time(period.end)},
        "generated_at": format_time(generated_at),
        "sheets": {
            name: {
                "title": SHEETS.get(name, (name.replace("_", " "), ""))[0],
                "legal_basis": SHEETS.get(name, ("", ""))[1],
                "rows": [
                    {"indicator": r.indicator, "breakdown": r.breakdown, "value": r.value, "unit": r.unit} for r in rows
                ],
            }
            for name, rows in sheets.items()
        },
    }


# -- the page ---------------------------------------------------------------------------------------------


def _label(indicator: str) -> str:
    return _LABELS.get(indicator, indicator.replace("_", " ").capitalize())


def _fit(text: str) -> str:
    """A chart label that fits the chart's label column (the table keeps the exact value)."""
    return text if len(text) <= 34 else text[:33] + "…"


def _short(breakdown: str) -> str:
    """``ground:illegal_content|restriction:DECISION_VISIBILITY_CONTENT_DISABLED`` -> ``illegal content /
    content disabled``."""
    parts = [_PREFIXES.sub("", part.split(":", 1)[-1]).replace("_", " ").lower() for part in breakdown.split("|")]
    return " / ".join(parts)


def _by(breakdowns: Sequence[str]) -> str:
    """What an indicator is broken down by, from its breakdowns' keys (``ground:…|restriction:…``)."""
    keys = {" and ".join(p.split(":", 1)[0] for p in b.split("|")) if ":" in b else "" for b in breakdowns}
    return f"by {keys.pop()}" if len(keys) == 1 and "" not in keys else "by breakdown"


def _hours(v: float) -> str:
    return f"{v:.1f} h"


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def _charts(rows: Sequence[Row]) -> str:
    """Totals in one chart, each broken-down count in its own, medians in hours, ratios on a 0-100 % scale."""
    out: list[str] = []
    totals = [(_fit(_label(r.indicator)), r.value) for r in rows if r.breakdown == "total" and r.unit == "count"]
    if totals:
        out.append("<h3>Totals</h3>" + hbars(_drawn(totals), colour=_COLOURS[0]))
    broken = dict.fromkeys(r.indicator for r in rows if r.unit == "count" and r.breakdown != "total")
    for n, ind in enumerate(broken, start=1):
        mine = [r for r in rows if r.indicator == ind and r.breakdown != "total"]
        title = f"{_label(ind)}, {_by([r.breakdown for r in mine])}"
        chart = hbars(_drawn([(_fit(_short(r.breakdown)), r.value) for r in mine]), colour=_COLOURS[n % 6])
        out.append(f"<h3>{html.escape(title)}</h3>{chart}")
    for unit, title in (("hours", "Median times (hours)"), ("ratio", "Ratios")):
        picked = [
            (_fit(f"{_CHART.get(r.indicator, r.indicator)}: {_short(r.breakdown)}"), r.value)
            for r in rows
            if r.unit == unit
        ]
        if not picked:
            continue
        drawn = _drawn(picked)
        if not drawn:
            chart = "<p>no data</p>"
        elif unit == "ratio":
            chart = hbars(drawn, colour="#c63", top=1.0, shown=_pct)
        else:
            chart = hbars(drawn, colour="#c63", shown=_hours)
        missing = len(picked) - len(drawn)
        note = f"<p>{missing} with no data (reported empty, never as zero).</p>" if missing else ""
        out.append(f"<h3>{title}</h3>{chart}{note}")
    return "".join(out)


def _drawn(rows: Sequence[tuple[str, int | float | None]]) -> list[tuple[str, float]]:
    """The rows that have a value (a median or ratio with no data is not drawn as zero)."""
    return [(label, v) for label, v in rows if v is not None]


def _html(sheets: Mapping[str, Sequence[Row]], *, period: Period, provider: str, generated_at: datetime) -> str:
    sections = []
    for name, rows in sheets.items():
        title, basis = SHEETS.get(name, (name.replace("_", " "), ""))
        # "ground:…|restriction:…" gets room to wrap on the page; the CSV and JSON keep it exact
        cells = [
            (
                r.indicator,
                r.breakdown.replace("|", " | ").replace(":", ": "),
                "" if r.value is None else r.value,
                r.unit,
            )
            for r in rows
        ]
        sections.append(
            f'<section id="{html.escape(name)}"><h2>{html.escape(title)}</h2>'
            f"<p>{html.escape(basis)} · file <code>{html.escape(name)}.csv</code></p>"
            + _charts(rows)
            + "<h3>All rows</h3>"
            + table(["indicator", "breakdown", "value", "unit"], cells)
            + "</section>"
        )
    e = html.escape
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Transparency report {e(period.label)}</title>
<style>{STYLE}</style>
</head><body>
<h1>Transparency report: {e(provider)}</h1>
<p>Reporting period {e(period.label)} ({format_time(period.start)} to {format_time(period.end)}, end
exclusive), generated {format_time(generated_at)}, following {e(TEMPLATE)}. Times are medians in hours; a median
or ratio with no data is left empty, never zero. The same figures are in <code>report.json</code> and one CSV
per sheet; <code>SHA256SUMS</code> lists every file's digest, and its own digest is entered in the transparency
log.</p>
{"".join(sections)}
</body></html>
"""
