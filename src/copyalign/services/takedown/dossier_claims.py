"""The duty-of-care dossier's claims, gathered from the desk's rows, each citing the log entries that prove it.

Seed 004 ¶92's factors (:class:`~.exports.dossier.Factor`): the service (the provider's registration, its labelled
and traced outputs, the guard's refusals), foreseeability (the notices it received), the measures in place (the
necessary measures applied and undone; the guard's measured precision and recall), response times and repeat
infringers (strikes; the latest sealed transparency report's figures). A claim cites at most :data:`MAX_PROOFS`
entries, and says so when there were more; the training phase is recorded under the developer's name by the
scanner and the audit, so the desk leaves that factor as a visible gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copyalign.core.canonical import format_time
from copyalign.core.log import merkle
from copyalign.core.takedown.report import Period, Row
from copyalign.errors import NotFoundError
from copyalign.services.takedown.exports.dossier import Claim, DossierFacts, Factor, LogRef, claims_from_report
from copyalign.store.models import (
    GenerationTrace,
    LogEntry,
    Party,
    TakedownExport,
    TakedownMeasure,
    TakedownNotice,
    TakedownStrike,
)

MAX_PROOFS = 50
REPORT_EVENT = "takedown.report_sealed"


def parse_time(text: str) -> datetime:
    """An instant as :func:`~copyalign.core.canonical.format_time` wrote it."""
    return datetime.fromisoformat(text)


def sheets_from(detail: Mapping[str, Any]) -> tuple[dict[str, tuple[Row, ...]], Period]:
    """A sealed report's sheets and period, from its export row's ``detail``."""
    p = detail["period"]
    period = Period(parse_time(p["start"]), parse_time(p["end"]), p["label"])
    sheets = {name: tuple(Row(**r) for r in rows) for name, rows in detail["sheets"].items()}
    return sheets, period


def gather_claims(s: Session, provider_id: str) -> dict[Factor, list[Claim]]:
    """The claims the desk's rows prove about ``provider_id``, by factor (see :mod:`.sealing`)."""
    out: dict[Factor, list[Claim]] = {f: [] for f in Factor}
    party = s.get(Party, provider_id)
    if party is None:
        raise NotFoundError(f"no provider {provider_id}", field="provider_id")
    refs = _Refs(s)
    out[Factor.SERVICE].append(
        Claim(
            f"{party.name} is registered as an AI service provider since {format_time(party.created_at)}.",
            refs([party.log_index], "party.created"),
        )
    )
    traces = select(GenerationTrace.sealed_index).where(GenerationTrace.provider_id == provider_id)
    delivered = s.execute(traces.where(GenerationTrace.decision != "block").order_by(GenerationTrace.created_at))
    sealed = [i for (i,) in delivered if i is not None]
    blocked = s.execute(
        select(func.count())
        .select_from(GenerationTrace)
        .where(GenerationTrace.provider_id == provider_id, GenerationTrace.decision == "block")
    ).scalar_one()
    if sealed:
        out[Factor.SERVICE].append(
            Claim(
                f"{len(sealed)} generated outputs were delivered labelled, each with a trace sealed in the log; "
                f"the guard refused {blocked} outputs{_cited(sealed)}.",
                refs(sorted(set(sealed)), "guard.traces.seal"),
                {"delivered": len(sealed), "refused": int(blocked)},
            )
        )
    notices = list(
        s.execute(
            select(TakedownNotice.log_index, TakedownNotice.upheld)
            .where(TakedownNotice.provider_id == provider_id)
            .order_by(TakedownNotice.received_at)
        )
    )
    if notices:
        upheld = sum(1 for _, u in notices if u)
        out[Factor.FORESEEABILITY].append(
            Claim(
                f"{len(notices)} takedown notices were received at this desk, {upheld} of them upheld"
                f"{_cited([i for i, _ in notices])}.",
                refs([i for i, _ in notices], "takedown.notice.receive"),
                {"notices": len(notices), "upheld": upheld},
            )
        )
    applied = list(
        s.execute(
            select(TakedownMeasure.kind, TakedownMeasure.applied_log_index, TakedownMeasure.undone_at)
            .join(TakedownNotice, TakedownNotice.id == TakedownMeasure.notice_id)
            .where(TakedownNotice.provider_id == provider_id, TakedownMeasure.applied_log_index.is_not(None))
            .order_by(TakedownMeasure.applied_at)
        )
    )
    if applied:
        kinds: dict[str, int] = {}
        for k, _, _ in applied:
            kinds[k] = kinds.get(k, 0) + 1
        undone = sum(1 for *_, u in applied if u is not None)
        listed = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(kinds.items()))
        indices = [int(i) for _, i, _ in applied if i is not None]
        out[Factor.MEASURES].append(
            Claim(
                f"{len(applied)} necessary measures were applied ({listed}); {undone} were later undone"
                f"{_cited(indices)}.",
                refs(indices, "takedown.measure.apply"),
                {"applied": len(applied), "undone": undone},
            )
        )
    strikes = list(
        s.execute(
            select(TakedownStrike.log_index, TakedownStrike.user_ref)
            .where(TakedownStrike.provider_id == provider_id)
            .order_by(TakedownStrike.issued_at)
        )
    )
    if strikes:
        users = len({u for _, u in strikes})
        out[Factor.REPEAT_INFRINGERS].append(
            Claim(
                f"{len(strikes)} strikes were issued against {users} users under the repeat-infringer policy"
                f"{_cited([i for i, _ in strikes])}.",
                refs([i for i, _ in strikes], "takedown.strike"),
                {"strikes": len(strikes), "users": users},
            )
        )
    report = s.execute(
        select(TakedownExport)
        .where(TakedownExport.kind == "report", TakedownExport.provider_id == provider_id)
        .order_by(TakedownExport.created_at.desc(), TakedownExport.id.desc())
        .limit(1)
    ).scalar()
    if report is not None:
        sheets, period = sheets_from(report.detail)
        [proof] = refs([report.log_index], REPORT_EVENT)
        for factor, more in claims_from_report(sheets, period=period, proof=proof).items():
            out[factor].extend(more)
    return out


class _Refs:
    """LogRefs for log indices (at most MAX_PROOFS), with each entry's RFC 6962 leaf hash read from the log."""

    def __init__(self, s: Session) -> None:
        self.s = s

    def __call__(self, indices: Sequence[int], event: str) -> tuple[LogRef, ...]:
        picked = list(dict.fromkeys(indices))[:MAX_PROOFS]
        rows = self.s.execute(select(LogEntry.idx, LogEntry.entry).where(LogEntry.idx.in_(picked))).all()
        leaves = {int(i): merkle.leaf_hash(bytes(e)).hex() for i, e in rows}
        return tuple(LogRef(i, leaves[i], event) for i in picked if i in leaves)


def _cited(indices: Sequence[int]) -> str:
    n = len(set(indices))
    return f" (the first {MAX_PROOFS} of {n} log entries cited)" if n > MAX_PROOFS else ""


def facts_detail(facts: DossierFacts) -> dict[str, Any]:
    return {
        "provider": facts.provider,
        "generated_at": format_time(facts.generated_at),
        "log_origin": facts.log_origin,
        "checkpoint_size": facts.checkpoint_size,
        "period": facts.period,
        "claims": {
            f.value: [
                {
                    "text": c.text,
                    "figures": dict(c.figures),
                    "proofs": [[p.index, p.leaf_hash, p.event] for p in c.proofs],
                }
                for c in facts.claims(f)
            ]
            for f in Factor
        },
    }


def facts_from(d: Mapping[str, Any]) -> DossierFacts:
    claims = {
        f: tuple(
            Claim(c["text"], tuple(LogRef(int(i), h, e) for i, h, e in c["proofs"]), c["figures"])
            for c in d["claims"].get(f, ())
        )
        for f in (x.value for x in Factor)
    }
    return DossierFacts(
        provider=d["provider"],
        generated_at=parse_time(d["generated_at"]),
        log_origin=d["log_origin"],
        checkpoint_size=int(d["checkpoint_size"]),
        period=d["period"],
        **claims,
    )


__all__ = ["MAX_PROOFS", "facts_detail", "facts_from", "gather_claims", "parse_time", "sheets_from"]
