"""Dynamic warnings along the journey (seed 004 ¶84): the guard's decisions on a named user's prompts feed an
escalation the profile defines — a stronger warning naming the terms, then a cooling-off period.

Each prompt the guard warns or blocks is a *flag* row (no log entry: a flag is the guard's routine decision, and
the trace already records it); each step the user reaches is a log entry (``journey.escalation``), since a
cooling-off period refuses service. The level is computed from the flags on the clock
(:func:`copyalign.core.journey.escalation.level`), never stored, so it lightens as the window slides.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copyalign.core.canonical import format_time
from copyalign.core.guard.rules import GuardAction
from copyalign.core.journey.escalation import Level, Response, level
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.results import Refusal, Verdict
from copyalign.services.journey.consent import TermsOfUse
from copyalign.services.log.ledger import Event
from copyalign.store.models import JourneyFlag

FLAGGED = frozenset({GuardAction.WARN, GuardAction.BLOCK})


class Escalations(ServiceBase):
    def __init__(self, deps: Deps, terms: TermsOfUse, *, refresh_seconds: float = 1.0) -> None:
        super().__init__(deps)
        self.terms = terms
        self.refresh_seconds = refresh_seconds
        self._flagged: frozenset[tuple[str, str]] = frozenset()
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def flagged(self) -> frozenset[tuple[str, str]]:
        """The (provider, user) pairs with a flag inside the longest window: only they can be warned or paused.
        Kept in memory and read again at most every ``refresh_seconds`` (the desk's strikes' pattern), so the
        guard's check of a user with no recent flag costs no query; a flag written here is seen at once."""
        with self._lock:
            if time.monotonic() - self._checked < self.refresh_seconds:
                return self._flagged
            start = self.clock.now() - self._horizon()
            with self.store.read() as s:
                rows = s.execute(
                    select(JourneyFlag.provider_id, JourneyFlag.user_ref).where(JourneyFlag.at > start).distinct()
                ).all()
            self._flagged = frozenset((p, u) for p, u in rows)
            self._checked = time.monotonic()
            return self._flagged

    def _horizon(self) -> timedelta:
        steps = self.policy.journey.escalation
        return timedelta(hours=max((s.within_hours + s.cool_off_hours for s in steps), default=0))

    def flags(self, s: Session, provider_id: str, user_ref: str, now: datetime) -> list[datetime]:
        start = now - self._horizon()
        rows = s.execute(
            select(JourneyFlag.at).where(
                JourneyFlag.provider_id == provider_id, JourneyFlag.user_ref == user_ref, JourneyFlag.at > start
            )
        )
        return list(rows.scalars())

    def level(self, s: Session, provider_id: str, user_ref: str, now: datetime) -> Level:
        return level(self.flags(s, provider_id, user_ref, now), now, self.policy.journey.escalation)

    def record(self, provider_id: str, user_ref: str, verdict: Verdict) -> str | None:
        """The guard's prompt hook: count a flagged prompt; log a step reached; answer the user's warning."""
        steps = self.policy.journey.escalation
        if verdict.decision not in FLAGGED or not user_ref or not steps:
            return None
        with self.store.write() as s:
            now = self.clock.now()
            before = self.level(s, provider_id, user_ref, now)
            s.add(
                JourneyFlag(
                    id=new_id("flg"),
                    provider_id=provider_id,
                    user_ref=user_ref,
                    at=now,
                    decision=verdict.decision.value,
                    prompt_sha256=verdict.sha256,
                )
            )
            s.flush()
            self._checked = float("-inf")  # the pair is flagged now: the next check reads it
            after = self.level(s, provider_id, user_ref, now)
            terms = self.terms.current(s, provider_id)
            version = terms.version if terms is not None else None
            if after.step > before.step:
                payload = {
                    "provider": provider_id,
                    "user": user_ref,
                    "step": after.step,
                    "response": after.response,
                    "flags": after.flags,
                    "within_hours": steps[after.step - 1].within_hours,
                    "until": format_time(after.until) if after.until else None,
                    "terms": version,
                }
                self.ledger.append(s, [Event("journey.escalation", provider_id, user_ref, payload)], at=now)
        return self.message(after, version)

    def message(self, lv: Level, version: str | None) -> str | None:
        """What the user is told at ``lv``: nothing below the first step."""
        if lv.response == Response.NONE:
            return None
        steps = self.policy.journey.escalation
        step = steps[lv.step - 1]
        terms = f"the terms of use (version {version})" if version else "the terms of use"
        if lv.response == Response.COOL_OFF:
            return (
                f"Requests are paused until {format_time(lv.until) if lv.until else 'later'}: {lv.flags} of your "
                f"requests in {step.within_hours} hours concerned protected works, against your copyright "
                f"commitments in {terms} (seed 004 ¶84)."
            )
        nxt = next((x for x in steps[lv.step :] if x.response == Response.COOL_OFF.value), None)
        more = (
            f" At {nxt.flags} within {nxt.within_hours} hours, requests are paused for {nxt.cool_off_hours} hours."
            if nxt is not None
            else ""
        )
        return (
            f"Warning: {lv.flags} of your requests in {step.within_hours} hours concerned protected works. Under "
            f"{terms} you committed not to ask for copies or imitations of others' works.{more}"
        )

    def refusal(self, provider_id: str, user_ref: str) -> Refusal | None:
        """The guard's user check: a user in a cooling-off period is refused, told until when."""
        steps = self.policy.journey.escalation
        if not user_ref or not any(s.response == Response.COOL_OFF.value for s in steps):
            return None
        if (provider_id, user_ref) not in self.flagged():
            return None
        with self.store.read() as s:
            now = self.clock.now()
            lv = self.level(s, provider_id, user_ref, now)
            if not lv.refusing:
                return None
            terms = self.terms.current(s, provider_id)
        msg = self.message(lv, terms.version if terms is not None else None) or ""
        evidence = {"step": lv.step, "flags": lv.flags, "until": format_time(lv.until) if lv.until else None}
        return Refusal(msg, "user.cool_off", evidence)

    def total(self, s: Session, provider_id: str, user_ref: str) -> int:
        q = select(func.count()).where(JourneyFlag.provider_id == provider_id, JourneyFlag.user_ref == user_ref)
        return int(s.execute(q).scalar_one())


__all__ = ["FLAGGED", "Escalations"]
