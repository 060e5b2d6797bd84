"""``takedown``: the notice-and-necessary-measures desk a provider runs (seed 004 ¶84-92).

:class:`TakedownService` is the facade (``ca.takedown``): it authorises each call against the matrix of
:mod:`copyalign.core.authz` and hands it to its part — :mod:`.intake` (notices, completion, agents),
:mod:`.evidence` and :mod:`.decisions` (triage, the decision and its statement of reasons), :mod:`.measures`
(each measure applied and undone), :mod:`.counter` (counter-notices, court actions, restoration),
:mod:`.complaints` (DSA Art. 20), :mod:`.standing` (strikes and complainants), :mod:`.reading` (views and the
queue), :mod:`.records` (a period's records for the transparency report and the statement export), and, through
:class:`~.desk_exports.DeskExports`, :mod:`.statement_export` (statements of reasons to the DSA Transparency
Database) and :mod:`.sealing` (sealed transparency reports and dossiers).

The procedure, with the core's state machines deciding every step::

    file / file_public ─► (incomplete ─► complete) ─► triage ─► decide ─► act (measures)
        ─► counter_notice ─► [court_action] ─► due (restoration)      complain ─► resolve_complaint

Every step is one transaction with its log entry; the guard consults :meth:`TakedownService.user_check` before
serving a named user (``connect`` subscribes it to ``GuardService.user_checks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from copyalign.core.authz import Action, Role, require
from copyalign.core.policy import PolicyProfile
from copyalign.core.takedown.report import Period
from copyalign.core.takedown.states import MeasureKind, MeasureState
from copyalign.core.takedown.strikes import repeat_infringer_policy
from copyalign.errors import InvalidInputError, NotFoundError
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.results import Refusal
from copyalign.services.guard.service import GuardService
from copyalign.services.journey.service import JourneyService
from copyalign.services.matching.service import MatchService
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.agents import Agents
from copyalign.services.takedown.complaints import Complaints
from copyalign.services.takedown.counter import CounterNotices
from copyalign.services.takedown.decisions import Decisions
from copyalign.services.takedown.desk_exports import DeskExports
from copyalign.services.takedown.evidence import EvidenceFinder
from copyalign.services.takedown.inputs import (
    ComplaintInput,
    CounterInput,
    DecisionInput,
    NoticeAmendment,
    NoticeFiling,
)
from copyalign.services.takedown.intake import Intake
from copyalign.services.takedown.measures import Measures
from copyalign.services.takedown.reading import Reading, complaint_view, counter_view, measure_order, measure_view
from copyalign.services.takedown.records import PeriodRecords, Records
from copyalign.services.takedown.rows import handles, load_notice
from copyalign.services.takedown.sealing import Sealing
from copyalign.services.takedown.standing import Standings
from copyalign.services.takedown.statement_export import StatementExports
from copyalign.services.takedown.views import (
    AuthorisationView,
    ComplaintView,
    CounterView,
    DueReport,
    MeasureView,
    NoticeView,
    QueueEntry,
    StandingView,
)
from copyalign.store.models import Party, TakedownMeasure, TakedownNotice


class TakedownService(DeskExports, ServiceBase):
    def __init__(
        self,
        deps: Deps,
        guard: GuardService,
        matching: MatchService,
        journey: JourneyService | None = None,
        *,
        per_address: int = 5,
        per_origin: int = 20,
        window_seconds: int = 3600,
    ) -> None:
        super().__init__(deps)
        self.guard = guard
        self.standings = Standings(deps)
        self.evidence = EvidenceFinder(deps, guard, matching)
        self.intake = Intake(
            deps,
            self.evidence,
            self.standings,
            guard.keys,
            per_address=per_address,
            per_origin=per_origin,
            window_seconds=window_seconds,
        )
        self.agents = Agents(deps)
        self.measures = Measures(deps, guard, self.standings, journey)
        self.decisions = Decisions(deps, self.evidence, self.measures, self.standings)
        self.counters = CounterNotices(deps, self.measures, guard.keys)
        self.complaints = Complaints(deps, self.decisions, self.counters, self.measures)
        self.reading = Reading(deps)
        self.records = Records(deps)
        self.statement_exports = StatementExports(deps)
        self.sealing = Sealing(deps, self.records)
        self._parts: tuple[ServiceBase, ...] = (
            self.standings,
            self.evidence,
            self.intake,
            self.agents,
            self.measures,
            self.decisions,
            self.counters,
            self.complaints,
            self.reading,
            self.records,
            self.statement_exports,
            self.sealing,
        )

    # The profile is the desk's as a whole, as for the guard: setting it here sets every part's.
    @property
    def policy(self) -> PolicyProfile:
        return self._policy

    @policy.setter
    def policy(self, value: PolicyProfile) -> None:
        self._policy = value
        for part in getattr(self, "_parts", ()):
            part.policy = value

    # -- the guard's hook ------------------------------------------------------------------------------
    def user_check(self, provider_id: str, user_ref: str) -> Refusal | None:
        """What :attr:`GuardService.user_checks` calls: a suspended or terminated user is refused."""
        return self.standings.refusal(provider_id, user_ref)

    # -- notices ---------------------------------------------------------------------------------------
    def file(self, actor: Principal, filing: NoticeFiling) -> NoticeView:
        """A notice from a rights holder (its works), its agent, or the operator acting for a holder."""
        nid, _ = self.intake.file(actor, filing)
        return self.reading.notice(actor, nid)

    def file_public(self, filing: NoticeFiling, *, origin: str | None = None) -> NoticeView:
        """A notice from a sender without an account; ``origin`` is its network address (rate-limited). The
        view carries the token the sender follows and completes its notice with (shown once)."""
        nid, token = self.intake.file(None, filing, origin=origin)
        return self.reading.notice(None, nid, token=token)

    def complete(
        self, actor: Principal | None, notice_id: str, change: NoticeAmendment, *, token: str | None = None
    ) -> NoticeView:
        """The sender completes (amends) its incomplete notice; ``actor`` None: a public sender with its token."""
        self.intake.amend(actor, notice_id, change, token=token)
        return self.reading.notice(actor, notice_id)

    def withdraw(self, actor: Principal | None, notice_id: str, *, token: str | None = None) -> NoticeView:
        self.intake.withdraw(actor, notice_id, token=token)
        return self.reading.notice(actor, notice_id)

    def authorise(
        self,
        actor: Principal,
        *,
        agent_id: str,
        document: str,
        holder_id: str | None = None,
        work_ids: Sequence[str] = (),
        valid_until: datetime | None = None,
    ) -> AuthorisationView:
        """Record an agent's authority to file for a holder (the holder itself, or the operator)."""
        return self.agents.authorise(
            actor,
            agent_id=agent_id,
            document=document,
            holder_id=holder_id,
            work_ids=tuple(work_ids),
            valid_until=valid_until,
        )

    def notice(self, actor: Principal, notice_id: str) -> NoticeView:
        return self.reading.notice(actor, notice_id)

    def notice_public(self, notice_id: str, token: str) -> NoticeView:
        """A public sender's own notice, shown against its token."""
        with self.store.read() as s:
            n = load_notice(s, notice_id)
            self.intake.check_sender(None, n, token)
        return self.reading.notice(None, notice_id)

    def queue(
        self,
        actor: Principal,
        *,
        provider_id: str | None = None,
        status: str | None = None,
        overdue: bool = False,
        open_only: bool = True,
        limit: int = 100,
        offset: int = 0,
    ) -> list[QueueEntry]:
        """The desk queue, ordered by deadline (see :meth:`.reading.Reading.queue`)."""
        return self.reading.queue(
            actor,
            provider_id=provider_id,
            status=status,
            overdue=overdue,
            open_only=open_only,
            limit=limit,
            offset=offset,
        )

    # -- the desk's work -------------------------------------------------------------------------------
    def _handle(self, actor: Principal, notice_id: str) -> TakedownNotice:
        with self.store.read() as s:
            n = load_notice(s, notice_id)
        require(actor.role, Action.TAKEDOWN_HANDLE, owner=handles(actor, n))
        return n

    def triage(self, actor: Principal, notice_id: str) -> NoticeView:
        """Gather the evidence and recommend a course (automatic; a person decides)."""
        self._handle(actor, notice_id)
        self.decisions.triage(actor, notice_id)
        return self.reading.notice(actor, notice_id)

    def decide(self, actor: Principal, notice_id: str, decision: DecisionInput) -> NoticeView:
        """A person's decision, with its statement of reasons; the measures it plans are applied by :meth:`act`."""
        self._handle(actor, notice_id)
        self.decisions.decide(actor, notice_id, decision)
        return self.reading.notice(actor, notice_id)

    def act(self, actor: Principal, notice_id: str, kinds: Sequence[str] | None = None) -> NoticeView:
        """Apply the decision's planned measures (of ``kinds``, or all), each with its own log entry."""
        self._handle(actor, notice_id)
        wanted = {MeasureKind(k).value for k in kinds} if kinds is not None else None
        with self.store.read() as s:
            rows = s.execute(
                select(TakedownMeasure).where(
                    TakedownMeasure.notice_id == notice_id, TakedownMeasure.state == MeasureState.PLANNED.value
                )
            ).scalars()
            planned = [m.id for m in sorted(rows, key=measure_order) if wanted is None or m.kind in wanted]
        for mid in planned:
            self.measures.apply(actor, mid)
        if wanted is None:
            self.measures.settle(actor, notice_id)  # nothing left planned: the act clock is met
        return self.reading.notice(actor, notice_id)

    def _measure_notice(self, actor: Principal, measure_id: str) -> None:
        with self.store.read() as s:
            m = s.get(TakedownMeasure, measure_id)
            if m is None:
                raise NotFoundError(f"no takedown measure {measure_id}", field="measure_id")
            notice_id = m.notice_id
        self._handle(actor, notice_id)

    def apply_measure(self, actor: Principal, measure_id: str) -> MeasureView:
        self._measure_notice(actor, measure_id)
        return measure_view(self.measures.apply(actor, measure_id))

    def undo_measure(self, actor: Principal, measure_id: str, *, reason: str) -> MeasureView:
        """Undo one measure (its own log entry); the desk's correction, outside a restoration."""
        if not reason.strip():
            raise InvalidInputError("say why the measure is undone", field="reason")
        self._measure_notice(actor, measure_id)
        return measure_view(self.measures.undo(actor, measure_id, reason=reason.strip()))

    def attach_audit(self, actor: Principal, measure_id: str, result: dict[str, Any]) -> MeasureView:
        """Attach a model re-audit's result to the task a ``model_reaudit`` measure opened."""
        self._measure_notice(actor, measure_id)
        return measure_view(self.measures.attach_audit(actor, measure_id, result))

    def counter_notice(self, actor: Principal, notice_id: str, c: CounterInput) -> CounterView:
        """A counter-notice the provider files for its own user (the session's, checked against the trace)."""
        row = self.counters.file(
            actor,
            notice_id,
            c.user,
            c.contact,
            signature=c.signature,
            mistake_statement=c.mistake_statement,
            consent_to_jurisdiction=c.consent_to_jurisdiction,
            explanation=c.explanation,
            evidence=c.evidence,
        )
        return counter_view(row, contact=True)

    def complete_counter(self, actor: Principal, counter_id: str, c: CounterInput) -> CounterView:
        row = self.counters.complete(
            actor,
            counter_id,
            contact=c.contact,
            signature=c.signature,
            mistake_statement=c.mistake_statement or None,
            consent_to_jurisdiction=c.consent_to_jurisdiction or None,
            explanation=c.explanation,
            evidence=c.evidence,
        )
        return counter_view(row, contact=True)

    def court_action(self, actor: Principal, notice_id: str, reference: str) -> NoticeView:
        """The complainant's court action, reported before the restoration: the measures stay."""
        self.counters.court_action(actor, notice_id, reference)
        return self.reading.notice(actor, notice_id)

    def complain(self, actor: Principal, notice_id: str, c: ComplaintInput) -> ComplaintView:
        return complaint_view(self.complaints.file(actor, notice_id, c))

    def resolve_complaint(
        self,
        actor: Principal,
        complaint_id: str,
        *,
        outcome: str,
        explanation: str,
        human: bool = True,
        items: Sequence[str] | None = None,
    ) -> ComplaintView:
        row = self.complaints.resolve(
            actor,
            complaint_id,
            outcome=outcome,
            explanation=explanation,
            human=human,
            items=tuple(items) if items is not None else None,
        )
        return complaint_view(row)

    def due(self, actor: Principal, *, provider_id: str | None = None) -> DueReport:
        """The scheduled work (cron-safe, idempotent): restorations whose window opened, undos left half-way;
        then the work now overdue. A provider runs its own desk's; the operator every desk's."""
        if actor.role is Role.PROVIDER:
            provider_id = provider_id or actor.party_id
        require(actor.role, Action.TAKEDOWN_HANDLE, owner=provider_id == actor.party_id)
        restored = self.counters.due_restorations(actor, provider_id)
        self.measures.finish_undos(actor)
        overdue = self.reading.queue(actor, provider_id=provider_id, overdue=True, limit=1000)
        return DueReport(restored, overdue)

    # -- standing --------------------------------------------------------------------------------------
    def standing(
        self, actor: Principal, *, user: str | None = None, user_ref: str | None = None, provider_id: str | None = None
    ) -> StandingView:
        """A user's strikes and sanction: the provider names its user (or a pseudonym); the operator and
        auditors name the provider and the pseudonym."""
        provider_id = provider_id or actor.party_id
        require(actor.role, Action.TAKEDOWN_READ, owner=actor.role is Role.PROVIDER and provider_id == actor.party_id)
        if (user is None) == (user_ref is None):
            raise InvalidInputError("name the user or its pseudonym", field="user")
        ref = self.guard.keys.user_ref(user) if user is not None else str(user_ref)
        return self.standings.view(provider_id, ref)

    def repeat_infringer_policy(self, provider_id: str) -> str:
        """The provider's repeat-infringer policy (17 U.S.C. §512(i)(1)(A)), from the profile's strike settings."""
        with self.store.read() as s:
            p = s.get(Party, provider_id)
            if p is None or p.role != Role.PROVIDER.value:
                raise NotFoundError(f"no provider {provider_id}", field="provider_id")
        return repeat_infringer_policy(self.policy.takedown.strike_policy(), provider=p.name)

    def model_blocklist(self, actor: Principal, model: str, *, provider_id: str | None = None) -> list[str]:
        """The works upheld notices asked to block at the model level for ``model`` (what the provider feeds
        the decoding-time blocker, :mod:`copyalign.services.audit.blocker`)."""
        provider_id = provider_id or actor.party_id
        require(actor.role, Action.TAKEDOWN_READ, owner=actor.role is Role.PROVIDER and provider_id == actor.party_id)
        with self.store.read() as s:
            rows = s.execute(
                select(TakedownMeasure.detail)
                .join(TakedownNotice, TakedownNotice.id == TakedownMeasure.notice_id)
                .where(
                    TakedownNotice.provider_id == provider_id,
                    TakedownMeasure.kind == MeasureKind.MODEL_BLOCKLIST.value,
                    TakedownMeasure.state == MeasureState.APPLIED.value,
                    TakedownMeasure.target == model,
                )
            ).scalars()
            return sorted({str(d["work_id"]) for d in rows if d.get("work_id")})

    # -- for the transparency report, the statement export and the public --------------------------------
    def period_records(self, actor: Principal, period: Period, *, provider_id: str | None = None) -> PeriodRecords:
        """A period's notices, complaints, suspensions, accuracy samples and statements of reasons, as the
        core's :mod:`~copyalign.core.takedown.report` records (a provider reads its own desk's)."""
        if actor.role is Role.PROVIDER:
            provider_id = provider_id or actor.party_id
        require(actor.role, Action.TAKEDOWN_READ, owner=actor.role is Role.PROVIDER and provider_id == actor.party_id)
        if actor.role is Role.RIGHTS_HOLDER:
            require(actor.role, Action.TAKEDOWN_READ, owner=False)
        return self.records.period(period, provider_id)

    def statements(self, *, provider_id: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Statements of reasons, public (DSA Art. 17, 24(5)): no personal data, pseudonyms and ids only."""
        if not 1 <= limit <= 1000 or offset < 0:
            raise InvalidInputError("limit is 1 to 1000 and offset at least 0", field="limit")
        with self.store.read() as s:
            return self.records.statements(s, None, provider_id, limit=limit, offset=offset)


__all__ = ["TakedownService"]
