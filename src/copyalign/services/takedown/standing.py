"""Standing: the graduated response to users (strikes, seed 004 ¶85) and to complainants (DSA Art. 23).

A strike is a row per upheld notice against the user's pseudonym at one provider; the sanction is never
stored but computed from the strike history by :func:`copyalign.core.takedown.strikes.standing`, so an
expired strike lightens it without a job and a removed one (a restoration, a reversed decision) undoes what it
caused. The guard asks :meth:`Standings.refusal` before serving a named user: a suspended or terminated user
is refused with the reason (the desk subscribes it to ``GuardService.user_checks``).

A complainant's standing is computed from the decisions on its notices and the warnings it was given; the
``takedown_complainants`` row keeps the counts and the warnings.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copyalign.core.canonical import format_time
from copyalign.core.takedown.states import DECIDED, NoticeState
from copyalign.core.takedown.strikes import (
    ComplainantStanding,
    Decided,
    Sanction,
    Standing,
    Strike,
    complainant_standing,
    standing,
)
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.results import Refusal
from copyalign.services.takedown.rows import log
from copyalign.services.takedown.views import StandingView
from copyalign.store.models import Party, TakedownComplainant, TakedownDecision, TakedownNotice, TakedownStrike

REFUSING = frozenset({Sanction.SUSPEND, Sanction.TERMINATE})
_DECIDED = frozenset(s.value for s in DECIDED)


def _strike(row: TakedownStrike) -> Strike:
    return Strike(row.user_ref, row.notice_id, row.issued_at, row.removed_at)


class Standings(ServiceBase):
    def __init__(self, deps: Deps, *, refresh_seconds: float = 1.0) -> None:
        super().__init__(deps)
        self.refresh_seconds = refresh_seconds
        self._struck: frozenset[tuple[str, str]] = frozenset()
        self._stamp: tuple[int, int, int] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def struck(self) -> frozenset[tuple[str, str]]:
        """The (provider, user) pairs with a strike not removed: only they can be under a sanction. Kept in
        memory and checked against the table at most every ``refresh_seconds`` (the term base's pattern), so
        the guard's check of a user with no strike costs no query; a strike written by this process is seen
        at once, one written by another within ``refresh_seconds``."""
        with self._lock:
            if time.monotonic() - self._checked < self.refresh_seconds:
                return self._struck
            with self.store.read() as s:
                stamp = s.execute(
                    select(
                        func.coalesce(func.max(TakedownStrike.log_index), -1),
                        func.coalesce(func.max(TakedownStrike.removed_log_index), -1),
                        func.count(),
                    )
                ).one()
                key = (int(stamp[0]), -1 if stamp[1] is None else int(stamp[1]), int(stamp[2]))
                if key != self._stamp:
                    rows = s.execute(
                        select(TakedownStrike.provider_id, TakedownStrike.user_ref)
                        .where(TakedownStrike.removed_at.is_(None))
                        .distinct()
                    ).all()
                    self._struck, self._stamp = frozenset((p, u) for p, u in rows), key
            self._checked = time.monotonic()
            return self._struck

    def _changed(self) -> None:
        self._checked = float("-inf")

    # -- users -----------------------------------------------------------------------------------------
    def strike_rows(self, s: Session, provider_id: str, user_ref: str) -> list[TakedownStrike]:
        q = select(TakedownStrike).where(TakedownStrike.provider_id == provider_id, TakedownStrike.user_ref == user_ref)
        return list(s.execute(q.order_by(TakedownStrike.issued_at, TakedownStrike.id)).scalars())

    def user_standing(self, s: Session, provider_id: str, user_ref: str, now: datetime) -> Standing:
        strikes = [_strike(r) for r in self.strike_rows(s, provider_id, user_ref)]
        return standing(user_ref, strikes, now, self.policy.takedown.strike_policy())

    def view(self, provider_id: str, user_ref: str) -> StandingView:
        now = self.clock.now()
        with self.store.read() as s:
            rows = self.strike_rows(s, provider_id, user_ref)
            st = standing(user_ref, [_strike(r) for r in rows], now, self.policy.takedown.strike_policy())
        return StandingView(
            provider_id,
            user_ref,
            st.sanction.value,
            st.active,
            st.until,
            st.terminated_at,
            [
                {
                    "id": r.id,
                    "notice_id": r.notice_id,
                    "issued_at": format_time(r.issued_at),
                    "removed_at": format_time(r.removed_at) if r.removed_at else None,
                    "log_index": r.log_index,
                }
                for r in rows
            ],
        )

    def refusal(self, provider_id: str, user_ref: str) -> Refusal | None:
        """The guard's user check: a suspended or terminated user is refused, saying why and until when."""
        if not user_ref or (provider_id, user_ref) not in self.struck():
            return None
        now = self.clock.now()
        with self.store.read() as s:
            st = self.user_standing(s, provider_id, user_ref, now)
            if st.sanction not in REFUSING:
                return None
            name = s.execute(select(Party.name).where(Party.id == provider_id)).scalar_one_or_none() or provider_id
        policy = self.policy.takedown.strike_policy()
        if st.sanction is Sanction.TERMINATE:
            what = "terminated"
        else:
            what = f"suspended until {format_time(st.until)}" if st.until else "suspended"
        message = (
            f"This account is {what} under {name}'s repeat-infringer policy: {st.active} copyright notice(s) "
            f"against it were upheld in the last {policy.expiry_days} days (seed 004 ¶85; 17 U.S.C. §512(i)). "
            "A counter-notice or a complaint against a decision may lift it."
        )
        evidence = {
            "sanction": st.sanction.value,
            "active_strikes": st.active,
            "until": format_time(st.until) if st.until else None,
        }
        return Refusal(message, f"user.{st.sanction.value}", evidence)

    def issue_strike(
        self,
        s: Session,
        *,
        provider_id: str,
        user_ref: str,
        notice_id: str,
        measure_id: str,
        actor_id: str,
        now: datetime,
    ) -> TakedownStrike:
        sid = new_id("stk")
        before = self.user_standing(s, provider_id, user_ref, now).sanction
        payload = {"strike": sid, "provider": provider_id, "user": user_ref, "notice": notice_id, "measure": measure_id}
        row = TakedownStrike(
            id=sid,
            provider_id=provider_id,
            user_ref=user_ref,
            notice_id=notice_id,
            measure_id=measure_id,
            issued_at=now,
            removed_at=None,
            log_index=0,
            removed_log_index=None,
        )
        s.add(row)
        s.flush()
        after = self.user_standing(s, provider_id, user_ref, now).sanction
        payload["sanction"] = after.value
        payload["previous_sanction"] = before.value
        row.log_index = log(s, self.ledger, "takedown.strike", actor_id, sid, payload, now)
        self._changed()
        return row

    def remove_strike(self, s: Session, row: TakedownStrike, *, actor_id: str, reason: str, now: datetime) -> None:
        if row.removed_at is not None:
            return
        row.removed_at = now
        payload = {"strike": row.id, "provider": row.provider_id, "user": row.user_ref, "reason": reason[:200]}
        row.removed_log_index = log(s, self.ledger, "takedown.strike.remove", actor_id, row.id, payload, now)
        self._changed()

    # -- complainants ----------------------------------------------------------------------------------
    def decided(self, s: Session, ref: str) -> list[Decided]:
        """The complainant's decided notices: the latest decision on each, unfounded or not."""
        rows = s.execute(
            select(TakedownDecision.notice_id, TakedownDecision.outcome, TakedownDecision.decided_at)
            .join(TakedownNotice, TakedownNotice.id == TakedownDecision.notice_id)
            .where(TakedownNotice.sender_ref == ref, TakedownDecision.outcome.in_(_DECIDED))
            .order_by(TakedownDecision.notice_id, TakedownDecision.seq)
        ).all()
        latest: dict[str, tuple[str, datetime]] = {}
        first: dict[str, datetime] = {}
        for notice_id, outcome, at in rows:
            latest[notice_id] = (outcome, at)
            first.setdefault(notice_id, at)
        return [Decided(first[n], o == NoticeState.MANIFESTLY_UNFOUNDED) for n, (o, _at) in latest.items()]

    def complainant(self, s: Session, ref: str, now: datetime) -> ComplainantStanding:
        row = s.get(TakedownComplainant, ref)
        warnings = [datetime.fromisoformat(w) for w in row.warnings] if row is not None else []
        return complainant_standing(self.decided(s, ref), warnings, now, self.policy.takedown.unfounded_policy())

    def record_decision(self, s: Session, ref: str, *, actor_id: str, now: datetime) -> ComplainantStanding:
        """Update the complainant's row after a decision on one of its notices; a warning that falls due is
        given (and logged) now, as DSA Art. 23(2) asks before any suspension."""
        s.flush()
        st = self.complainant(s, ref, now)
        row = s.get(TakedownComplainant, ref)
        if row is None:
            row = TakedownComplainant(ref=ref, decided=0, unfounded=0, warnings=[], status="ok", until=None)
            s.add(row)
        if st.warning_due:
            row.warnings = [*row.warnings, format_time(now)]
            log(s, self.ledger, "takedown.complainant.warn", actor_id, ref, {"complainant": ref, **_counts(st)}, now)
        row.decided, row.unfounded = st.total, st.unfounded
        row.status, row.until, row.updated_at = st.status.value, st.until, now
        return st


def _counts(st: ComplainantStanding) -> dict[str, int]:
    return {"unfounded": st.unfounded, "decided": st.total}


__all__ = ["REFUSING", "Standings"]
