"""The desk's work of a period as the pure core's records: what the transparency report and the statements-of-
reasons export are computed from (:mod:`copyalign.core.takedown.report`, :mod:`copyalign.core.takedown.sor`).

The records carry no personal data: notices by id, users by pseudonym, statements as stored (their facts name
traces and works by id). Own-initiative measures are the guard's automated refusals of outputs (DSA Art.
15(1)(c): measures taken on the provider's own initiative, detected and decided by automated means).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from copyalign.core.takedown.report import (
    AccuracySample,
    ComplaintRecord,
    Ground,
    NoticeRecord,
    OwnInitiativeRecord,
    Period,
    Row,
    SuspensionReason,
    SuspensionRecord,
    transparency_report,
)
from copyalign.core.takedown.sor import StatementOfReasons
from copyalign.core.takedown.sor_vocab import AutomatedDecision, DecisionVisibility, YesNo
from copyalign.core.takedown.states import COMPLAINT_OUTCOMES, ComplaintState
from copyalign.core.takedown.strikes import Sanction, Strike, standing
from copyalign.services.base import ServiceBase
from copyalign.store.models import (
    GenerationTrace,
    TakedownComplainant,
    TakedownComplaint,
    TakedownDecision,
    TakedownItem,
    TakedownNotice,
    TakedownStrike,
)

_RESTRICTION_FIELDS = ("decision_visibility", "decision_monetary", "decision_provision", "decision_account")
_UPHOLDING = ("upheld", "partially_upheld")


@dataclass(frozen=True, slots=True)
class PeriodRecords:
    """Everything a period's transparency report and statement export need (see the module docstring)."""

    period: Period
    provider_id: str | None
    notices: tuple[NoticeRecord, ...]
    own_initiative: tuple[OwnInitiativeRecord, ...]
    complaints: tuple[ComplaintRecord, ...]
    suspensions: tuple[SuspensionRecord, ...]
    samples: tuple[AccuracySample, ...]
    statements: tuple[StatementOfReasons, ...]

    def report(self) -> dict[str, tuple[Row, ...]]:
        """The harmonised template's sheets for this period (Implementing Regulation 2024/2835)."""
        return transparency_report(
            self.period,
            notices=self.notices,
            own_initiative=self.own_initiative,
            complaints=self.complaints,
            suspensions=self.suspensions,
            samples=self.samples,
        )


def statement_from_payload(payload: dict[str, Any]) -> StatementOfReasons:
    """A stored statement (its Transparency Database payload) as the typed statement again."""
    kw: dict[str, Any] = {}
    for k, v in payload.items():
        if k in ("automated_detection", "incompatible_content_illegal"):
            kw[k] = v == YesNo.YES.value
        elif k in ("content_date", "application_date") or k.startswith("end_date_"):
            kw[k] = date.fromisoformat(v)
        elif isinstance(v, list):
            kw[k] = tuple(v)
        else:
            kw[k] = v
    return StatementOfReasons(**kw)


def _restrictions_of_fields(fields: tuple[str | None, ...]) -> tuple[str, ...]:
    """:func:`restrictions_of` from the restriction fields as the database extracts them as text: a list
    arrives as its JSON text, a string as itself, null as ``None``."""
    out: list[str] = []
    for v in fields:
        if v and v.startswith("["):
            out += [str(x) for x in json.loads(v)]
        elif v:
            out.append(v)
    return tuple(out)


def restrictions_of(statement: dict[str, Any] | None) -> tuple[str, ...]:
    if not statement:
        return ()
    out: list[str] = []
    for f in _RESTRICTION_FIELDS:
        v = statement.get(f)
        out += [str(x) for x in v] if isinstance(v, list) else [str(v)] if v else []
    return tuple(out)


class Records(ServiceBase):
    def period(self, period: Period, provider_id: str | None, *, statements: bool = True) -> PeriodRecords:
        """The period's records; ``statements=False`` leaves the statements of reasons out (the transparency
        report does not need them, and typing 10^5 of them again is most of the time)."""
        with self.store.read() as s:
            return PeriodRecords(
                period,
                provider_id,
                self._notices(s, period, provider_id),
                self._own_initiative(s, period, provider_id),
                self._complaints(s, period, provider_id),
                self._suspensions(s, period, provider_id),
                self._samples(s, period, provider_id),
                tuple(statement_from_payload(p) for p in self.statements(s, period, provider_id)) if statements else (),
            )

    def statements(
        self, s: Session, period: Period | None, provider_id: str | None, *, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        q = (
            select(TakedownDecision.statement)
            .join(TakedownNotice, TakedownNotice.id == TakedownDecision.notice_id)
            .where(TakedownDecision.statement.is_not(None))
        )
        if period is not None:
            q = q.where(TakedownDecision.decided_at >= period.start, TakedownDecision.decided_at < period.end)
        if provider_id is not None:
            q = q.where(TakedownNotice.provider_id == provider_id)
        q = q.order_by(TakedownDecision.decided_at, TakedownDecision.id).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return [dict(p) for p in s.execute(q).scalars() if p]

    @staticmethod
    def _notice_query(provider_id: str | None) -> Any:
        q = select(TakedownNotice)
        return q if provider_id is None else q.where(TakedownNotice.provider_id == provider_id)

    def _notices(self, s: Session, period: Period, provider_id: str | None) -> tuple[NoticeRecord, ...]:
        """Columns, not ORM rows, and two queries whatever the period's size (10^5 notices in a second or two).
        Of an upholding decision's statement only the four restriction fields are read, extracted by the
        database: decoding 10^5 whole statements was most of the time."""
        within = (TakedownNotice.received_at >= period.start, TakedownNotice.received_at < period.end)
        mine = (TakedownNotice.provider_id == provider_id,) if provider_id is not None else ()
        items = (
            select(func.count())
            .select_from(TakedownItem)
            .where(TakedownItem.notice_id == TakedownNotice.id)
            .correlate(TakedownNotice)
            .scalar_subquery()
        )
        notices = s.execute(
            select(
                TakedownNotice.id,
                TakedownNotice.received_at,
                TakedownNotice.trusted_flagger,
                TakedownNotice.acted_at,
                TakedownNotice.recommendation,
                items,
            )
            .where(*within, *mine)
            .order_by(TakedownNotice.received_at)
        ).all()
        upholding: dict[str, tuple[str | None, tuple[str | None, ...]]] = {}
        for notice_id, ground, *fields in s.execute(
            select(
                TakedownDecision.notice_id,
                TakedownDecision.ground,
                *(TakedownDecision.statement[f].as_string() for f in _RESTRICTION_FIELDS),
            )
            .join(TakedownNotice, TakedownNotice.id == TakedownDecision.notice_id)
            .where(*within, *mine, TakedownNotice.acted_at.is_not(None), TakedownDecision.outcome.in_(_UPHOLDING))
            .order_by(TakedownDecision.notice_id, TakedownDecision.seq)
        ):
            upholding.setdefault(notice_id, (ground, tuple(fields)))
        grounds: dict[str, Ground] = {}
        restrictions: dict[tuple[str | None, ...], tuple[str, ...]] = {}
        out = []
        for nid, received_at, trusted, acted_at, recommendation, count in notices:
            d = upholding.get(nid)
            acted = acted_at if d is not None else None
            ground = restricted = None
            if acted is not None and d is not None:
                if d[0]:
                    ground = grounds.get(d[0]) or grounds.setdefault(d[0], Ground(d[0]))
                restricted = restrictions.get(d[1])
                if restricted is None:
                    restricted = restrictions.setdefault(d[1], _restrictions_of_fields(d[1]))
            out.append(
                NoticeRecord(
                    nid,
                    received_at,
                    max(1, count or 0),
                    trusted,
                    acted_at=acted,
                    ground=ground,
                    restrictions=restricted or (),
                    automated_processing=recommendation is not None,
                )
            )
        return tuple(out)

    def _own_initiative(self, s: Session, period: Period, provider_id: str | None) -> tuple[OwnInitiativeRecord, ...]:
        q = select(GenerationTrace.created_at).where(
            GenerationTrace.decision == "block",
            GenerationTrace.created_at >= period.start,
            GenerationTrace.created_at < period.end,
        )
        if provider_id is not None:
            q = q.where(GenerationTrace.provider_id == provider_id)
        restriction = (DecisionVisibility.CONTENT_REMOVED.value,)
        return tuple(
            OwnInitiativeRecord(at, Ground.LAW, restriction, True, AutomatedDecision.FULLY)
            for at in s.execute(q).scalars()
        )

    def _complaints(self, s: Session, period: Period, provider_id: str | None) -> tuple[ComplaintRecord, ...]:
        q = select(TakedownComplaint).join(TakedownNotice, TakedownNotice.id == TakedownComplaint.notice_id)
        q = q.where(TakedownComplaint.filed_at >= period.start, TakedownComplaint.filed_at < period.end)
        if provider_id is not None:
            q = q.where(TakedownNotice.provider_id == provider_id)
        out = []
        for c in s.execute(q).scalars():
            decided = ComplaintState(c.state) in COMPLAINT_OUTCOMES and c.decided_at is not None
            out.append(
                ComplaintRecord(
                    c.filed_at, c.decided_at if decided else None, ComplaintState(c.state) if decided else None
                )
            )
        return tuple(out)

    def _suspensions(self, s: Session, period: Period, provider_id: str | None) -> tuple[SuspensionRecord, ...]:
        """A user suspended or terminated by a strike in the period; a complainant limited under Art. 23."""
        policy = self.policy.takedown.strike_policy()
        where = [TakedownStrike.issued_at >= period.start, TakedownStrike.issued_at < period.end]
        if provider_id is not None:
            where.append(TakedownStrike.provider_id == provider_id)
        out: list[SuspensionRecord] = []
        # A new suspension (or termination) needs as many strikes in force when the strike is given as the
        # ladder's first such step (a termination reached earlier was already counted then): with fewer, the
        # standing need not be computed, nor the user's strikes built.
        need = next((n for n, x in enumerate(policy.ladder, 1) if x.severity >= Sanction.SUSPEND.severity), None)
        # every strike of the users struck in the period, in one query, grouped per provider and user; the
        # period's own strikes are among them
        struck = select(TakedownStrike.provider_id, TakedownStrike.user_ref).where(*where).distinct()
        history: dict[tuple[str, str], list[tuple[str, datetime, datetime | None]]] = {}
        for provider, user, notice, at, removed in (
            s.execute(
                select(
                    TakedownStrike.provider_id,
                    TakedownStrike.user_ref,
                    TakedownStrike.notice_id,
                    TakedownStrike.issued_at,
                    TakedownStrike.removed_at,
                ).where(tuple_(TakedownStrike.provider_id, TakedownStrike.user_ref).in_(struck))
            )
            if need is not None
            else ()
        ):
            history.setdefault((provider, user), []).append((notice, at, removed))
        expiry = timedelta(days=policy.expiry_days)
        for (_, user), raw in history.items():
            if need is None or len(raw) < need:
                continue
            strikes: list[Strike] | None = None
            for _, at, _ in raw:
                if at not in period:
                    continue
                in_force = sum(
                    1
                    for _, issued, removed in raw
                    if issued <= at < issued + expiry and (removed is None or removed > at)
                )
                if in_force < need:
                    continue
                strikes = strikes or [Strike(user, n, i, r) for n, i, r in raw]
                now = standing(user, strikes, at, policy).sanction
                if now not in (Sanction.SUSPEND, Sanction.TERMINATE):
                    continue
                before = standing(user, [x for x in strikes if x.issued_at < at], at, policy)
                if before.sanction.severity < now.severity:
                    out.append(SuspensionRecord(at, SuspensionReason.MANIFESTLY_ILLEGAL_CONTENT))
        if provider_id is None:
            days = self.policy.takedown.unfounded_period_days
            for c in s.execute(select(TakedownComplainant).where(TakedownComplainant.until.is_not(None))).scalars():
                if c.until is not None:
                    imposed = c.until - timedelta(days=days)
                    if imposed in period:
                        out.append(SuspensionRecord(imposed, SuspensionReason.UNFOUNDED_NOTICES))
        return tuple(out)

    def _samples(self, s: Session, period: Period, provider_id: str | None) -> tuple[AccuracySample, ...]:
        """Items whose truth a person decided, against what the guard did with the output. A notice's items that
        agree on both are counted by the database and share one (immutable) sample."""
        q = (
            select(TakedownItem.upheld, GenerationTrace.decision, TakedownNotice.decided_at, func.count())
            .join(TakedownNotice, TakedownNotice.id == TakedownItem.notice_id)
            .join(GenerationTrace, GenerationTrace.id == TakedownItem.trace_id)
            .where(
                TakedownItem.upheld.is_not(None),
                TakedownNotice.decided_at >= period.start,
                TakedownNotice.decided_at < period.end,
            )
            .group_by(TakedownNotice.id, TakedownNotice.decided_at, TakedownItem.upheld, GenerationTrace.decision)
        )
        if provider_id is not None:
            q = q.where(TakedownNotice.provider_id == provider_id)
        out: list[AccuracySample] = []
        for upheld, decision, at, n in s.execute(q):
            if at is not None:
                out += [AccuracySample(at, decision in ("block", "warn"), bool(upheld))] * n
        return tuple(out)


__all__ = ["PeriodRecords", "Records", "restrictions_of", "statement_from_payload"]
