"""Triage, then a person's decision, with its statement of reasons.

Triage is automatic: the evidence of every item (:mod:`.evidence`) and the course the profile's thresholds
recommend for it (:func:`copyalign.core.takedown.triage.recommend`). The notice's recommendation is the
strongest of its items'; a de-minimis match puts the decision on the simplified procedure's clock (seed 003
§4.4 ③). The decision is a person's: who decided, on which ground (the law, or the terms of service), why,
and how far detection and decision were automated — the fields DSA Art. 17(3) asks of a statement of reasons,
which is built here and kept with the decision (the exports send it to the Transparency Database). A notice
found manifestly unfounded counts against its sender (DSA Art. 23).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copyalign.core.canonical import digest
from copyalign.core.takedown.sor import (
    StatementOfReasons,
    check_new_puids,
    copyright_statement,
    puid_for,
    restrictions_for,
)
from copyalign.core.takedown.sor_vocab import (
    EEA_COUNTRIES,
    KEYWORD_COPYRIGHT_INFRINGEMENT,
    AutomatedDecision,
    Category,
    ContentType,
    DecisionGround,
    SourceType,
)
from copyalign.core.takedown.states import MeasureKind, NoticeEvent, NoticeState
from copyalign.core.takedown.strikes import Sanction, Strike, standing
from copyalign.core.takedown.triage import Action, recommend
from copyalign.errors import ConflictError, InvalidInputError
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.evidence import EvidenceFinder
from copyalign.services.takedown.inputs import DecisionInput
from copyalign.services.takedown.measures import Measures
from copyalign.services.takedown.rows import advance, clocks_for, load_notice, log, notify, refresh_due
from copyalign.services.takedown.standing import Standings
from copyalign.store.models import GenerationTrace, TakedownDecision, TakedownItem, TakedownNotice

_RANK = {Action.ACT: 0, Action.SIMPLIFIED: 1, Action.HUMAN_REVIEW: 2, Action.NO_ACTION: 3}
OUTCOMES = {
    "upheld": NoticeEvent.UPHOLD,
    "partially_upheld": NoticeEvent.UPHOLD_PARTIALLY,
    "rejected": NoticeEvent.REJECT,
    "manifestly_unfounded": NoticeEvent.REJECT_UNFOUNDED,
}
GROUNDS = {"law": "illegal_content", "terms": "incompatible_content"}
AUTOMATION = {
    "fully": AutomatedDecision.FULLY,
    "partially": AutomatedDecision.PARTIALLY,
    "not": AutomatedDecision.NOT_AUTOMATED,
}
LEGAL_GROUNDS = {
    "CN": "Copyright Law of the PRC Arts. 10, 52-53; Civil Code Art. 1195 (notice and necessary measures)",
    "EU": "Directive 2001/29/EC Arts. 2-3 (reproduction, making available); national copyright law",
    "US": "17 U.S.C. §106 (exclusive rights); §512(c) (notice and takedown)",
    "JP": "Copyright Act (Japan) Arts. 21, 23 (reproduction, public transmission)",
}


def items_of(s: Session, notice_id: str) -> list[TakedownItem]:
    q = select(TakedownItem).where(TakedownItem.notice_id == notice_id).order_by(TakedownItem.position)
    return list(s.execute(q).scalars())


class Decisions(ServiceBase):
    def __init__(self, deps: Deps, evidence: EvidenceFinder, measures: Measures, standings: Standings) -> None:
        super().__init__(deps)
        self.evidence = evidence
        self.measures = measures
        self.standings = standings

    # -- triage ----------------------------------------------------------------------------------------
    def triage(self, actor: Principal, notice_id: str) -> None:
        """Gather each item's evidence and record the recommendation (the notice must be complete)."""
        thresholds = self.policy.takedown.triage_thresholds()
        with self.store.write() as s:
            n = load_notice(s, notice_id, for_update=True)
            advance(n, NoticeEvent.TRIAGE)
            now = self.clock.now()
            per_item: list[dict[str, Any]] = []
            best = Action.NO_ACTION
            for item in items_of(s, n.id):
                ev, record = self.evidence.assess(s, item, n.provider_id, now)
                rec = recommend(ev, thresholds)
                item.evidence, item.recommendation = record, rec.action.value
                item.reasons = list(rec.reasons)
                item.guard_missed = rec.guard_missed
                record["measures"] = [m.value for m in rec.measures]
                best = min(best, rec.action, key=_RANK.__getitem__)
                per_item.append(
                    {
                        "item": item.id,
                        "action": rec.action.value,
                        "match": ev.kind.value if ev.kind else None,
                        "coverage": ev.coverage,
                        "guard_missed": rec.guard_missed,
                        "licensed": ev.licensed,
                    }
                )
            n.recommendation = best.value
            n.simplified = best is Action.SIMPLIFIED
            refresh_due(s, n, clocks_for(self.policy, n.jurisdiction))
            payload = {"notice": n.id, "recommendation": best.value, "simplified": n.simplified, "items": per_item}
            n.updated_log_index = log(s, self.ledger, "takedown.notice.triage", actor.party_id, n.id, payload, now)

    # -- the decision ----------------------------------------------------------------------------------
    def decide(self, actor: Principal, notice_id: str, d: DecisionInput) -> TakedownDecision:
        """Decide a triaged notice (a complaint may later change the decision: :meth:`record`)."""
        event = check_decision(d)
        with self.store.write() as s:
            n = load_notice(s, notice_id, for_update=True)
            if n.status != NoticeState.TRIAGED:
                raise ConflictError(
                    f"notice {n.id} is {n.status}: a decision follows triage", field="state", code="notice_transition"
                )
            return self.record(s, actor, n, d, event, trigger="notice")

    def record(
        self, s: Session, actor: Principal, n: TakedownNotice, d: DecisionInput, event: NoticeEvent, *, trigger: str
    ) -> TakedownDecision:
        """Write a decision, its planned measures, its statement of reasons and its log entry; tell the sender."""
        kinds = _kinds(d.measures)
        now = self.clock.now()
        items = items_of(s, n.id)
        upheld_ids = self._upheld(items, d, event)
        advance(n, event)
        upholds = event in (NoticeEvent.UPHOLD, NoticeEvent.UPHOLD_PARTIALLY)
        for item in items:
            item.upheld = item.id in upheld_ids if upholds else False
        seq = int(s.execute(select(func.count()).where(TakedownDecision.notice_id == n.id)).scalar_one()) + 1
        chosen = [i for i in items if i.id in upheld_ids]
        if kinds is None:
            kinds = _recommended(chosen)
        explanation = d.explanation.strip()
        row = TakedownDecision(
            id=new_id("tdd"),
            notice_id=n.id,
            seq=seq,
            trigger=trigger,
            outcome=n.status,
            decided_by=actor.party_id,
            ground=GROUNDS[d.ground] if upholds else None,
            legal_ground=(d.legal_ground or LEGAL_GROUNDS.get(n.jurisdiction)) if upholds else d.legal_ground,
            explanation=explanation,
            automated_detection=d.automated_detection,
            automated_decision=AUTOMATION[d.automated_decision].value,
            measures=[],
            items=sorted(upheld_ids),
            puid=None,
            statement=None,
            decided_at=now,
            log_index=0,
        )
        s.add(row)
        s.flush()  # the measures refer to it
        did = row.id
        planned = self.measures.plan(s, n, did, chosen, kinds, now, explicit=d.measures is not None) if upholds else []
        statement = (
            self.statement(s, n, seq, d, chosen, [MeasureKind(m.kind) for m in planned], now) if upholds else None
        )
        if statement is not None:
            taken = s.execute(select(TakedownDecision.puid).where(TakedownDecision.puid == statement.puid)).scalars()
            check_new_puids([statement.puid], {p for p in taken if p})
            row.puid, row.statement = statement.puid, statement.to_payload()
        row.measures = [m.kind for m in planned]
        n.decided_at, n.upheld = now, upholds
        refresh_due(s, n, clocks_for(self.policy, n.jurisdiction))
        payload = {
            "notice": n.id,
            "decision": did,
            "trigger": trigger,
            "outcome": n.status,
            "decided_by": actor.party_id,
            "ground": row.ground,
            "automated_detection": d.automated_detection,
            "automated_decision": row.automated_decision,
            "items": row.items,
            "measures": [{"measure": m.id, "kind": m.kind, "target": m.target} for m in planned],
            "puid": row.puid,
            "statement_sha256": digest(row.statement) if row.statement else None,
        }
        row.log_index = log(s, self.ledger, "takedown.decide", actor.party_id, did, payload, now)
        n.updated_log_index = row.log_index
        for m in planned:
            m.log_index = row.log_index
        st = self.standings.record_decision(s, n.sender_ref, actor_id=actor.party_id, now=now)
        body: dict[str, Any] = {
            "notice": n.id,
            "outcome": n.status,
            "explanation": explanation,
            "statement_of_reasons": row.statement,
        }
        if st.statement:
            body["complainant_statement"] = st.statement
        self._tell_sender(s, n, "takedown.decided", body, now)
        s.flush()
        return row

    def _upheld(self, items: list[TakedownItem], d: DecisionInput, event: NoticeEvent) -> set[str]:
        known = {i.id for i in items}
        if event is NoticeEvent.UPHOLD:
            if d.items is not None and set(d.items) != known:
                raise InvalidInputError("an upheld notice upholds every item; use partially_upheld", field="items")
            return known
        if event is NoticeEvent.UPHOLD_PARTIALLY:
            chosen = set(d.items or ())
            if not chosen or not chosen < known:
                raise InvalidInputError("a partial decision names some, not all, of the notice's items", field="items")
            return chosen
        if d.items:
            raise InvalidInputError("a rejection upholds no item", field="items")
        return set()

    def _tell_sender(self, s: Session, n: TakedownNotice, kind: str, body: dict[str, Any], now: datetime) -> None:
        if n.channel == "public":
            notify(
                s,
                party_id=n.provider_id,
                kind=kind,
                subject=n.id,
                body={**body, "to": n.contact["sender"].get("email")},
                now=now,
            )
        else:
            notify(s, party_id=n.sender_ref, kind=kind, subject=n.id, body=body, now=now)

    # -- the statement of reasons ------------------------------------------------------------------------
    def statement(
        self,
        s: Session,
        n: TakedownNotice,
        seq: int,
        d: DecisionInput,
        items: list[TakedownItem],
        measures: list[MeasureKind],
        now: datetime,
    ) -> StatementOfReasons:
        """The DSA Art. 17 statement for an upheld decision: no contact details, the user by pseudonym only."""
        traces = [t for i in items if i.trace_id and (t := s.get(GenerationTrace, i.trace_id)) is not None]
        sanction = self._sanction_after(s, n, traces, now) if MeasureKind.STRIKE in measures else Sanction.NONE
        kinds = {t.kind for t in traces} | {"text" for i in items if i.material_kind in ("output_text", "prompt")}
        content_type = [ContentType.SYNTHETIC_MEDIA]
        content_type += [ContentType.TEXT] if "text" in kinds else []
        content_type += [ContentType.IMAGE] if "image" in kinds else []
        content_date = min((t.created_at for t in traces), default=n.received_at).date()
        facts = _facts(n, items, measures)
        more: dict[str, Any] = {**restrictions_for(measures, sanction), "content_type": tuple(content_type)}
        if n.jurisdiction == "EU":
            more["territorial_scope"] = tuple(sorted(EEA_COUNTRIES))
        source = SourceType.TRUSTED_FLAGGER if n.trusted_flagger else SourceType.ARTICLE_16
        puid = d.puid or puid_for(n.id, "d", str(seq))
        common: dict[str, Any] = dict(
            puid=puid,
            content_date=content_date,
            application_date=now.date(),
            source_type=source,
            automated_detection=d.automated_detection,
            automated_decision=AUTOMATION[d.automated_decision],
        )
        if d.ground == "law":
            legal = d.legal_ground or LEGAL_GROUNDS.get(n.jurisdiction, "copyright law")
            return copyright_statement(
                legal_ground=legal[:500], explanation=d.explanation.strip(), facts=facts, **common, **more
            )
        return StatementOfReasons(
            decision_ground=DecisionGround.INCOMPATIBLE_CONTENT,
            category=Category.INTELLECTUAL_PROPERTY_INFRINGEMENTS,
            category_specification=(KEYWORD_COPYRIGHT_INFRINGEMENT,),
            incompatible_content_ground=(d.legal_ground or "terms of service: copyright")[:500],
            incompatible_content_explanation=d.explanation.strip(),
            incompatible_content_illegal=True,
            decision_facts=facts,
            **common,
            **more,
        )

    def _sanction_after(self, s: Session, n: TakedownNotice, traces: list[GenerationTrace], now: datetime) -> Sanction:
        """The strongest sanction the decision's strikes will bring (the statement names account restrictions)."""
        policy = self.policy.takedown.strike_policy()
        worst = Sanction.NONE
        for user in sorted({t.user_ref for t in traces if t.user_ref}):
            rows = self.standings.strike_rows(s, n.provider_id, user)
            strikes = [Strike(user, r.notice_id, r.issued_at, r.removed_at) for r in rows]
            st = standing(user, [*strikes, Strike(user, n.id, now)], now, policy)
            worst = max(worst, st.sanction, key=lambda x: x.severity)
        return worst


def check_decision(d: DecisionInput) -> NoticeEvent:
    event = OUTCOMES.get(d.outcome)
    if event is None:
        raise InvalidInputError(
            f"unknown outcome {d.outcome!r}; expected one of {', '.join(OUTCOMES)}", field="outcome"
        )
    if d.ground not in GROUNDS:
        raise InvalidInputError("the ground is law or terms", field="ground")
    if d.automated_decision not in AUTOMATION:
        raise InvalidInputError("automated_decision is fully, partially or not", field="automated_decision")
    explanation = d.explanation.strip()
    if not explanation or len(explanation) > 2000:
        raise InvalidInputError("the explanation is 1 to 2000 characters (DSA Art. 17(3)(d))", field="explanation")
    _kinds(d.measures)
    return event


def _kinds(raw: tuple[str, ...] | None) -> list[MeasureKind] | None:
    if raw is None:
        return None
    out: list[MeasureKind] = []
    for k in raw:
        try:
            out.append(MeasureKind(k))
        except ValueError:
            known = ", ".join(m.value for m in MeasureKind)
            raise InvalidInputError(f"unknown measure {k!r}; expected one of {known}", field="measures") from None
    return list(dict.fromkeys(out))


def _recommended(items: list[TakedownItem]) -> list[MeasureKind]:
    """What triage recommended for the upheld items; for an item triage did not recommend acting on (a person
    upheld it against the recommendation), the measures of an act."""
    out: list[MeasureKind] = []
    for i in items:
        kinds = (i.evidence or {}).get("measures") or [
            MeasureKind.DISABLE_OUTPUT,
            MeasureKind.BLOCK_REGENERATION,
            MeasureKind.NOTIFY_USER,
            MeasureKind.STRIKE,
        ]
        out += [MeasureKind(k) for k in kinds]
    return list(dict.fromkeys(out))


def _facts(n: TakedownNotice, items: list[TakedownItem], measures: list[MeasureKind]) -> str:
    """The facts and circumstances (DSA Art. 17(3)(b)): what was found, by reference, never by name."""
    parts = [f"Notice {n.id} ({n.jurisdiction}) named {len(items)} upheld item(s)."]
    for i in items[:20]:
        ev = i.evidence or {}
        match = ev.get("match") or {}
        what = f"a {match['kind']} match" if match.get("kind") else "no automatic match"
        if match.get("coverage") is not None:
            what += f" covering {match['coverage'] * 100:.1f} % of the output"
        trace = (
            f"generation trace {i.trace_id}" if i.trace_id else f"{i.material_kind} material {i.material_sha256[:16]}"
        )
        work = f"registered work {i.work_id}" if i.work_id else "a described work"
        parts.append(f"The output of {trace} was compared with {work}: {what}.")
    if measures:
        parts.append("Measures: " + ", ".join(sorted({m.value for m in measures})) + ".")
    return " ".join(parts)[:5000]


__all__ = ["GROUNDS", "LEGAL_GROUNDS", "OUTCOMES", "Decisions", "check_decision", "items_of"]
