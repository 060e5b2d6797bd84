"""Charts and tables for the reports copyalign writes as HTML: inline SVG, no JavaScript, no chart library.

The scan report, the audit report, the transparency report and the duty-of-care dossier are files handed to
auditors, regulators and courts, to be opened years later, offline, from an archive: nothing in them may load
a script or a stylesheet from a CDN, and every label is escaped (titles and reasons come from users). One
drawing function serves them all, so the reports look alike and a fix lands everywhere at once.

Example:
    >>> svg = hbars([("keep", 3), ("drop", 1)], colour="#4a7")
    >>> svg.startswith('<svg role="img"') and svg.count("<rect") == 2
    True
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

__all__ = ["STYLE", "count_bars", "hbars", "table"]

# The page style every report shares (a readable column; bordered tables).
STYLE = (
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}\n"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
)

_ROW_H, _BAR_W, _X0 = 22, 360, 230


def _plain(v: float) -> str:
    return str(v)


def hbars(
    rows: Sequence[tuple[str, float]],
    *,
    colour: str,
    top: float | None = None,
    shown: Callable[[float], str] = _plain,
    mark: float | None = None,
    colours: Sequence[str] | None = None,
) -> str:
    """Horizontal bars, one per ``(label, value)``, as an inline ``<svg>``.

    Args:
        rows: labels (escaped here) and values, drawn in the order given.
        colour: the bars' fill.
        top: the value a full-width bar stands for; values above it are drawn full width. Defaults to the
            largest value (or 1 when all are zero), so the longest bar spans the chart.
        shown: how a value is written beside its bar (``str`` by default).
        mark: where to draw a dashed vertical threshold line, on the same scale.
        colours: one fill per row, in the order of ``rows`` (overrides ``colour``: the scan report colours each
            decision as its meaning, green for keep, red for drop).

    Returns:
        The SVG element, or ``<p>none</p>`` when there is nothing to draw.
    """
    if not rows:
        return "<p>none</p>"
    scale = (max(v for _, v in rows) or 1) if top is None else top
    parts = []
    for i, (label, v) in enumerate(rows):
        w = max(1, round(_BAR_W * min(v, scale) / scale)) if scale > 0 else 1
        parts.append(
            f'<text x="0" y="{i * _ROW_H + 15}">{html.escape(label)}</text>'
            f'<rect x="{_X0}" y="{i * _ROW_H + 3}" width="{w}" height="16" fill="{colours[i] if colours else colour}"/>'
            f'<text x="{_X0 + 6 + w}" y="{i * _ROW_H + 15}">{html.escape(shown(v))}</text>'
        )
    if mark is not None and scale > 0:
        x = _X0 + round(_BAR_W * min(mark, scale) / scale)
        parts.append(f'<line x1="{x}" y1="0" x2="{x}" y2="{len(rows) * _ROW_H}" stroke="#c00" stroke-dasharray="4 3"/>')
    return (
        f'<svg role="img" width="680" height="{len(rows) * _ROW_H + 4}" font-size="13" font-family="sans-serif">'
        + "".join(parts)
        + "</svg>"
    )


def count_bars(counts: Mapping[str, int], colour: str, colours: Mapping[str, str] | None = None) -> str:
    """Bars of counts, scaled to the largest (the scan report's decisions, reasons, signals and kinds); a label
    found in ``colours`` is drawn in its own colour."""
    rows = list(counts.items())
    fills = [colours.get(label, colour) for label, _ in rows] if colours else None
    return hbars(rows, colour=colour, colours=fills)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table of escaped cells; a table with no rows says ``none``."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body or f'<tr><td colspan={len(header)}>none</td></tr>'}</table>"
