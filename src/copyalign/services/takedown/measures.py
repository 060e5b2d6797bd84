"""Necessary measures (seed 004 ¶87-89): each one planned by a decision, applied and undone on its own, each step
with its log entry.

* ``disable_output`` — the delivered output's trace is marked taken down (``/v1/traces/{id}`` says so).
* ``block_regeneration`` — the output and the named work go into the provider's blocklist, which blocks them
  and their near copies for that provider ("prevent the regeneration of the same content", ¶87).
* ``block_prompt_terms`` — the names the prompt used for the work go into the term base, so that a prompt to
  imitate or reproduce it by those names is blocked (¶87).
* ``model_blocklist`` — the work is listed for the provider's model, for the decoding-time blocker (¶89:
  model-level protection; :meth:`TakedownService.model_blocklist` lists them for MemFree).
* ``model_reaudit`` — a task to audit the model again, whose result is attached later (¶87: "optimisation").
* ``notify_user`` — the statement of reasons and how to contest it, through the provider (DSA Art. 17).
* ``strike`` — one strike against the user's pseudonym (¶85); the guard refuses a suspended user.

A guard call (the blocklist, the term base) commits in the guard's own transaction, before the measure's: the
block carries the measure's id as its ``source``, so a retried application finds it instead of adding it
again, and a measure never says ``applied`` without what it applied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyalign.core.canonical import format_time
from copyalign.core.content import guess_kind
from copyalign.core.takedown.states import MEASURE, MeasureEvent, MeasureKind, MeasureState, NoticeEvent, NoticeState
from copyalign.errors import InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.service import GuardService
from copyalign.services.journey.service import JourneyService
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.rows import advance, clocks_for, desk_grant, load_notice, log, notify, refresh_due
from copyalign.services.takedown.standing import Standings
from copyalign.store.models import (
    BlockedOutput,
    GenerationTrace,
    GuardTerm,
    TakedownDecision,
    TakedownItem,
    TakedownMeasure,
    TakedownNotice,
    TakedownStrike,
    Work,
)

PER_TRACE = (MeasureKind.DISABLE_OUTPUT,)
PER_USER = (MeasureKind.NOTIFY_USER, MeasureKind.STRIKE)
_GUARD_SIDE = frozenset({MeasureKind.BLOCK_REGENERATION, MeasureKind.BLOCK_PROMPT_TERMS})

CONTEST = {
    "US": "You may send a counter notification (17 U.S.C. §512(g)(3)) through this service: your signature, the "
    "material, a statement under penalty of perjury that it was removed by mistake or misidentification, your name, "
    "address and telephone number, and your consent to the federal court's jurisdiction. The material is restored "
    "10 to 14 business days later unless the complainant files an action in court.",
    "CN": "You may send a statement of non-infringement with preliminary evidence through this service (Civil Code "
    "Art. 1196): it is forwarded to the complainant, and the measures end 15 days after it arrives unless the "
    "complainant shows a complaint or a suit (E-Commerce Law Art. 43).",
    "EU": "You may complain about this decision through this service's internal complaint-handling system within "
    "six months (DSA Art. 20), or use an out-of-court dispute settlement body (Art. 21) or the courts.",
    "JP": "You may object through this service (Provider Liability Limitation Act Art. 3(2)(ii)); you may also "
    "complain about this decision.",
}


def measure_view_row(m: TakedownMeasure) -> dict[str, Any]:
    return {"measure": m.id, "notice": m.notice_id, "kind": m.kind, "target": m.target, "refs": list(m.refs)}


class Measures(ServiceBase):
    def __init__(
        self, deps: Deps, guard: GuardService, standings: Standings, journey: JourneyService | None = None
    ) -> None:
        super().__init__(deps)
        self.guard = guard
        self.standings = standings
        self.journey = journey

    # -- planning (inside the decision's transaction) -------------------------------------------------------
    def plan(
        self,
        s: Session,
        n: TakedownNotice,
        decision_id: str,
        items: list[TakedownItem],
        kinds: list[MeasureKind],
        now: datetime,
        *,
        explicit: bool,
    ) -> list[TakedownMeasure]:
        """The measures of a decision: one per trace, user, item or model they apply to. A kind the decider
        named that applies to nothing is refused (400); a recommended one is left out."""
        traces = {i.trace_id: s.get(GenerationTrace, i.trace_id) for i in items if i.trace_id}
        out: list[TakedownMeasure] = []

        def add(kind: MeasureKind, target: str, item: TakedownItem | None, detail: dict[str, Any]) -> None:
            out.append(
                TakedownMeasure(
                    id=new_id("tdm"),
                    notice_id=n.id,
                    decision_id=decision_id,
                    item_id=item.id if item else None,
                    kind=kind.value,
                    state=MeasureState.PLANNED.value,
                    target=target[:200],
                    refs=[],
                    detail=detail,
                    created_at=now,
                    log_index=0,
                )
            )

        for kind in kinds:
            before = len(out)
            if kind is MeasureKind.DISABLE_OUTPUT:
                for tid, tr in traces.items():
                    if tr is not None and tid is not None and tr.decision != "block":
                        add(kind, tid, next(i for i in items if i.trace_id == tid), {})
            elif kind in PER_USER:
                users = sorted({tr.user_ref for tr in traces.values() if tr is not None and tr.user_ref})
                for u in users:
                    add(kind, u, None, {})
            elif kind is MeasureKind.BLOCK_REGENERATION:
                for i in items:
                    output = self._output_blob(i, traces.get(i.trace_id) if i.trace_id else None, now)
                    if output is not None or i.work_id is not None:
                        add(kind, i.trace_id or i.id, i, {"output_sha256": output, "work_id": i.work_id})
            elif kind is MeasureKind.BLOCK_PROMPT_TERMS:
                for i in items:
                    names = self._prompt_names(s, i)
                    if i.work_id is not None and names:
                        add(kind, i.work_id, i, {"names": names, "work_id": i.work_id})
            elif kind is MeasureKind.MODEL_BLOCKLIST:
                for i in items:
                    model = _model(i, traces.get(i.trace_id) if i.trace_id else None)
                    if model and i.work_id is not None:
                        add(kind, model, i, {"model": model, "work_id": i.work_id})
            elif kind is MeasureKind.MODEL_REAUDIT:
                models = sorted({m for i in items if (m := _model(i, traces.get(i.trace_id) if i.trace_id else None))})
                for model in models:
                    add(kind, model, None, {"model": model, "status": "open"})
            elif kind is MeasureKind.REMOVE_MODEL:  # a user-trained model (seed 004 ¶26)
                found = {m for i in items if (m := _model(i, traces.get(i.trace_id) if i.trace_id else None))}
                users = sorted(m for m in found if self.journey is not None and self.journey.adapters.exists(s, m))
                for model in users:
                    add(kind, model, None, {"model": model})
            if explicit and len(out) == before:
                raise InvalidInputError(f"the measure {kind.value} applies to nothing in this notice", field="measures")
        for planned in out:
            s.add(planned)
        return out

    def _output_blob(self, item: TakedownItem, trace: GenerationTrace | None, now: datetime) -> str | None:
        if item.content_sha256 is not None:
            return item.content_sha256
        if trace is not None and trace.output_data and trace.retain_until is not None and trace.retain_until > now:
            return self.blobs.put(bytes(trace.output_data))
        return None

    @staticmethod
    def _prompt_names(s: Session, item: TakedownItem) -> list[str]:
        names = list((item.evidence or {}).get("prompt_names") or [])
        if not names and (item.evidence or {}).get("prompt_named_work") and item.work_id:
            title = s.execute(select(Work.title).where(Work.id == item.work_id)).scalar_one_or_none()
            names = [title] if title else []
        return sorted(set(names))

    # -- applying and undoing ----------------------------------------------------------------------------
    def apply(self, actor: Principal, measure_id: str) -> TakedownMeasure:
        """Apply one planned (or undone) measure; applying an applied one changes nothing."""
        with self.store.read() as s:
            m = _measure(s, measure_id)
            n = load_notice(s, m.notice_id)
        if m.state == MeasureState.APPLIED:
            return m
        MEASURE.advance(MeasureState(m.state), MeasureEvent.APPLY)
        refs = self._guard_apply(actor, n, m) if MeasureKind(m.kind) in _GUARD_SIDE else []
        with self.store.write() as s:
            m = _measure(s, measure_id, for_update=True)
            n = load_notice(s, m.notice_id, for_update=True)
            if m.state == MeasureState.APPLIED:
                return m
            m.state = MEASURE.advance(MeasureState(m.state), MeasureEvent.APPLY).value
            now = self.clock.now()
            kind = MeasureKind(m.kind)
            if kind is MeasureKind.DISABLE_OUTPUT:
                self.guard.traces.mark_taken_down(s, m.target, ref=m.id, at=now)
                refs = [m.target]
            elif kind is MeasureKind.STRIKE:
                strike = self.standings.issue_strike(
                    s,
                    provider_id=n.provider_id,
                    user_ref=m.target,
                    notice_id=n.id,
                    measure_id=m.id,
                    actor_id=actor.party_id,
                    now=now,
                )
                refs = [strike.id]
            elif kind is MeasureKind.NOTIFY_USER:
                self._notify_user(s, n, m, now)
            elif kind is MeasureKind.MODEL_REAUDIT:
                m.detail = {**m.detail, "status": "open"}
            elif kind is MeasureKind.REMOVE_MODEL and self.journey is not None:
                self.journey.adapters.mark_removed(s, m.target, ref=m.id, at=now, actor_id=actor.party_id)
                refs = [m.target]
            m.refs, m.applied_at, m.undone_at = refs, now, None
            m.applied_log_index = log(
                s,
                self.ledger,
                "takedown.measure.apply",
                actor.party_id,
                m.id,
                {**measure_view_row(m), "state": m.state},
                now,
            )
            if m.log_index == 0:
                m.log_index = m.applied_log_index
            self._acted(s, n, now)
            return m

    def undo(self, actor: Principal, measure_id: str, *, reason: str) -> TakedownMeasure:
        """Undo one applied measure (a restoration, a reversed decision, or the desk's own correction)."""
        with self.store.read() as s:
            m = _measure(s, measure_id)
            n = load_notice(s, m.notice_id)
        if m.state == MeasureState.UNDONE:
            return m
        MEASURE.advance(MeasureState(m.state), MeasureEvent.UNDO)
        if MeasureKind(m.kind) in _GUARD_SIDE:
            self._guard_undo(actor, n, m, reason)
        with self.store.write() as s:
            m = _measure(s, measure_id, for_update=True)
            n = load_notice(s, m.notice_id, for_update=True)
            if m.state == MeasureState.UNDONE:
                return m
            m.state = MEASURE.advance(MeasureState(m.state), MeasureEvent.UNDO).value
            now = self.clock.now()
            kind = MeasureKind(m.kind)
            if kind is MeasureKind.DISABLE_OUTPUT:
                other = s.execute(
                    select(TakedownMeasure.id).where(
                        TakedownMeasure.kind == kind.value,
                        TakedownMeasure.target == m.target,
                        TakedownMeasure.state == MeasureState.APPLIED.value,
                        TakedownMeasure.id != m.id,
                    )
                ).scalar()
                self.guard.traces.mark_taken_down(s, m.target, ref=other, at=now if other else None)
            elif kind is MeasureKind.STRIKE:
                for strike in s.execute(select(TakedownStrike).where(TakedownStrike.measure_id == m.id)).scalars():
                    self.standings.remove_strike(s, strike, actor_id=actor.party_id, reason=reason, now=now)
            elif kind is MeasureKind.NOTIFY_USER:
                notify(
                    s,
                    party_id=n.provider_id,
                    kind="takedown.measure.reversed",
                    subject=n.id,
                    body={"notice": n.id, "user": m.target, "reason": reason},
                    now=now,
                )
            elif kind is MeasureKind.MODEL_REAUDIT:
                m.detail = {**m.detail, "status": "cancelled"}
            elif kind is MeasureKind.REMOVE_MODEL and self.journey is not None:
                other = s.execute(
                    select(TakedownMeasure.id).where(
                        TakedownMeasure.kind == kind.value,
                        TakedownMeasure.target == m.target,
                        TakedownMeasure.state == MeasureState.APPLIED.value,
                        TakedownMeasure.id != m.id,
                    )
                ).scalar()
                self.journey.adapters.mark_removed(
                    s, m.target, ref=other, at=now if other else None, actor_id=actor.party_id
                )
            m.undone_at = now
            m.undone_log_index = log(
                s,
                self.ledger,
                "takedown.measure.undo",
                actor.party_id,
                m.id,
                {**measure_view_row(m), "state": m.state, "reason": reason[:200]},
                now,
            )
            refresh_due(s, n, clocks_for(self.policy, n.jurisdiction))
            return m

    def request_undo(
        self, s: Session, notice_id: str, reason: str, *, kinds: frozenset[MeasureKind] | None = None
    ) -> list[str]:
        """Mark the notice's applied measures (of ``kinds``, or all) to be undone, in the caller's transaction
        (a restoration or a reversal records its decision first); :meth:`finish_undos` then undoes them."""
        rows = s.execute(
            select(TakedownMeasure).where(
                TakedownMeasure.notice_id == notice_id, TakedownMeasure.state == MeasureState.APPLIED.value
            )
        ).scalars()
        marked = []
        for m in rows:
            if kinds is None or MeasureKind(m.kind) in kinds:
                m.undo_reason = reason[:200]
                marked.append(m.id)
        return marked

    def finish_undos(self, actor: Principal, notice_id: str | None = None) -> list[str]:
        """Undo every applied measure marked to be undone (of one notice, or all: ``takedown due``)."""
        q = select(TakedownMeasure.id, TakedownMeasure.undo_reason).where(
            TakedownMeasure.state == MeasureState.APPLIED.value, TakedownMeasure.undo_reason.is_not(None)
        )
        if notice_id is not None:
            q = q.where(TakedownMeasure.notice_id == notice_id)
        with self.store.read() as s:
            pending = s.execute(q.order_by(TakedownMeasure.created_at, TakedownMeasure.id)).all()
        for mid, reason in pending:
            self.undo(actor, mid, reason=reason or "restored")
        return [p[0] for p in pending]

    def cancel_planned(self, s: Session, notice_id: str, actor_id: str, now: datetime) -> list[str]:
        """Cancel the measures still planned (a decision reversed before they were applied)."""
        rows = s.execute(
            select(TakedownMeasure).where(
                TakedownMeasure.notice_id == notice_id, TakedownMeasure.state == MeasureState.PLANNED.value
            )
        ).scalars()
        done = []
        for m in rows:
            m.state = MEASURE.advance(MeasureState(m.state), MeasureEvent.CANCEL).value
            done.append(m.id)
        if done:
            log(
                s,
                self.ledger,
                "takedown.measure.cancel",
                actor_id,
                notice_id,
                {"notice": notice_id, "measures": done},
                now,
            )
        return done

    def attach_audit(self, actor: Principal, measure_id: str, result: dict[str, Any]) -> TakedownMeasure:
        """Attach a re-audit's result (its id, report digest and verdict) to the task the measure opened."""
        with self.store.write() as s:
            m = _measure(s, measure_id, for_update=True)
            if m.kind != MeasureKind.MODEL_REAUDIT or m.state != MeasureState.APPLIED:
                raise InvalidInputError(f"measure {m.id} is not an open re-audit task", field="measure_id")
            now = self.clock.now()
            clean: dict[str, Any] = {
                k: result[k] for k in ("audit", "report_sha256", "log_index", "verdict", "gate") if k in result
            }
            if not clean.get("audit"):
                raise InvalidInputError("name the audit whose result is attached", field="audit")
            m.detail = {**m.detail, "status": "done", "result": clean, "attached_at": format_time(now)}
            log(s, self.ledger, "takedown.reaudit.attach", actor.party_id, m.id, {"measure": m.id, **clean}, now)
            return m

    def settle(self, actor: Principal, notice_id: str) -> None:
        """An upheld decision with no measure this system can take (the material is a URL the provider removes
        itself, say): acting is recording that it acted, with its log entry."""
        with self.store.write() as s:
            n = load_notice(s, notice_id, for_update=True)
            if n.status not in (NoticeState.UPHELD, NoticeState.PARTIALLY_UPHELD):
                return
            planned = s.execute(
                select(TakedownMeasure.id).where(
                    TakedownMeasure.notice_id == n.id, TakedownMeasure.state == MeasureState.PLANNED.value
                )
            ).first()
            if planned is not None:
                return
            now = self.clock.now()
            self._acted(s, n, now)
            n.updated_log_index = log(
                s, self.ledger, "takedown.notice.act", actor.party_id, n.id, {"notice": n.id, "status": n.status}, now
            )

    # -- helpers ---------------------------------------------------------------------------------------
    def _acted(self, s: Session, n: TakedownNotice, now: datetime) -> None:
        """When a decision's last planned measure is applied, the notice's act clock is met."""
        s.flush()
        planned = s.execute(
            select(TakedownMeasure.id).where(
                TakedownMeasure.notice_id == n.id, TakedownMeasure.state == MeasureState.PLANNED.value
            )
        ).first()
        if planned is None and n.status in (NoticeState.UPHELD, NoticeState.PARTIALLY_UPHELD):
            advance(n, NoticeEvent.APPLY_MEASURES)
            n.acted_at = now
        refresh_due(s, n, clocks_for(self.policy, n.jurisdiction))

    def _guard_apply(self, actor: Principal, n: TakedownNotice, m: TakedownMeasure) -> list[str]:
        grant = desk_grant(actor)
        reason = f"takedown notice {n.id}"
        if m.kind == MeasureKind.BLOCK_PROMPT_TERMS:
            with self.store.read() as s:
                holder = s.execute(select(Work.holder_id).where(Work.id == m.detail["work_id"])).scalar_one_or_none()
            term = self.guard.add_term(
                grant, kind="title", names=m.detail["names"], work_ids=[m.detail["work_id"]], holder_id=holder
            )
            return [term.id]
        refs: list[str] = []
        contents: list[tuple[str, str | None]] = []
        if m.detail.get("output_sha256"):
            contents.append((m.detail["output_sha256"], None))
        if m.detail.get("work_id"):
            with self.store.read() as s:
                w = s.get(Work, m.detail["work_id"])
            if w is not None:
                contents.append((w.sha256, w.kind))
        for sha, kind in contents:
            with self.store.read() as s:
                found = s.execute(
                    select(BlockedOutput.id).where(
                        BlockedOutput.source == m.id, BlockedOutput.sha256 == sha, BlockedOutput.lifted_at.is_(None)
                    )
                ).scalar()
            if found is None:
                data = self.blobs.get(sha)
                view = self.guard.block_output(
                    grant, data, reason=reason, source=m.id, provider_id=n.provider_id, kind=kind or guess_kind(data)
                )
                found = view.id
            refs.append(found)
        return refs

    def _guard_undo(self, actor: Principal, n: TakedownNotice, m: TakedownMeasure, reason: str) -> None:
        grant = desk_grant(actor)
        for ref in m.refs:
            if m.kind == MeasureKind.BLOCK_REGENERATION:
                self.guard.unblock_output(grant, ref, reason=f"takedown notice {n.id}: {reason}"[:500])
            else:
                with self.store.read() as s:
                    term = s.get(GuardTerm, ref)
                if term is not None and term.revoked_at is None:
                    self.guard.revoke_term(grant, ref)

    def _notify_user(self, s: Session, n: TakedownNotice, m: TakedownMeasure, now: datetime) -> None:
        decision = s.get(TakedownDecision, m.decision_id) if m.decision_id else None
        profile = clocks_for(self.policy, n.jurisdiction)
        until = profile.calendar.add_months(n.decided_at or now, profile.complaint_window_months)
        body = {
            "notice": n.id,
            "user": m.target,
            "statement_of_reasons": decision.statement if decision is not None else None,
            "explanation": decision.explanation if decision is not None else None,
            "how_to_contest": CONTEST.get(n.jurisdiction, CONTEST["EU"]),
            "complaint_until": format_time(until),
        }
        notify(s, party_id=n.provider_id, kind="takedown.user_notice", subject=n.id, body=body, now=now)


def _measure(s: Session, measure_id: str, *, for_update: bool = False) -> TakedownMeasure:
    q = select(TakedownMeasure).where(TakedownMeasure.id == measure_id)
    if for_update:
        q = q.with_for_update()
    m = s.execute(q).scalar_one_or_none()
    if m is None:
        raise NotFoundError(f"no takedown measure {measure_id}", field="measure_id")
    return m


def _model(item: TakedownItem, trace: GenerationTrace | None) -> str | None:
    if item.material_kind == "model":
        return item.material_value
    return trace.model if trace is not None and trace.model else None


__all__ = ["CONTEST", "Measures", "measure_view_row"]
