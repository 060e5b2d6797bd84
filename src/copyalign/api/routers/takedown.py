"""/v1/takedown: the notice-and-necessary-measures desk over HTTP (seed 004 ¶84-92).

Rights holders (and their agents) file and follow notices; a provider runs its desk (queue, triage, decision,
measures, counter-notices for its users, complaints); auditors read. A sender without an account files through
``/v1/takedown/public/notices`` (no key; rate-limited per e-mail address and network address, 429 with
``Retry-After``) and follows its notice with the token it gets back, sent as ``X-Takedown-Token``. Statements
of reasons and the repeat-infringer policy are public. Routes parse, call ``ca.takedown`` and render.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime, Field

from copyalign.api.deps import CaDep, PrincipalDep
from copyalign.api.schemas import INT64_MAX, Input
from copyalign.core.takedown.elements import Party
from copyalign.errors import InvalidInputError
from copyalign.services.takedown.inputs import (
    ComplaintInput,
    CounterInput,
    DecisionInput,
    MaterialInput,
    NoticeAmendment,
    NoticeFiling,
    WorkClaim,
)

router = APIRouter(tags=["takedown"])
TokenHeader = Annotated[str | None, Header(alias="X-Takedown-Token", max_length=200)]


class PartyIn(Input):
    name: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=254)
    address: str | None = Field(default=None, max_length=1000)
    phone: str | None = Field(default=None, max_length=50)
    identity_proof: str | None = Field(default=None, max_length=500)

    def parse(self) -> Party:
        return Party(self.name, self.email, self.address, self.phone, self.identity_proof)


class MaterialIn(Input):
    """The material: ``kind`` trace, delivered_file, content_digest, output_text, prompt, url or model. A
    delivered file is given as ``content_base64`` (or ``text`` for a text file); anything else as ``value``."""

    kind: str = Field(max_length=20)
    value: str | None = Field(default=None, max_length=100_000)
    content_base64: str | None = None
    text: str | None = None
    note: str | None = Field(default=None, max_length=2000)

    def parse(self) -> MaterialInput:
        content: bytes | None = None
        if self.text is not None:
            content = self.text.encode("utf-8")
        elif self.content_base64 is not None:
            try:
                content = base64.b64decode(self.content_base64, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidInputError("content_base64 is not valid base64", field="content_base64") from None
        return MaterialInput(self.kind, self.value, content, self.note)


class WorkClaimIn(Input):
    work_id: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    original_locations: list[str] = Field(default_factory=list, max_length=100)
    materials: list[MaterialIn] = Field(default_factory=list, max_length=1000)

    def parse(self) -> WorkClaim:
        return WorkClaim(
            self.work_id, self.description, tuple(self.original_locations), tuple(x.parse() for x in self.materials)
        )


class NoticeIn(Input):
    works: list[WorkClaimIn] = Field(default_factory=list, max_length=1000)
    sender: PartyIn | None = None
    principal: PartyIn | None = None
    principal_id: str | None = Field(default=None, description="The rights holder an agent (or the CMO) acts for.")
    provider_id: str | None = Field(default=None, description="The provider addressed, when no trace names it.")
    explanation: str | None = Field(default=None, max_length=10_000)
    signature: str | None = Field(default=None, max_length=300)
    good_faith: bool = False
    accurate: bool = False
    authorised: bool = False
    evidence: list[str] = Field(default_factory=list, max_length=100)
    language: str | None = Field(default=None, max_length=35)
    sent_at: AwareDatetime | None = None
    jurisdiction: str | None = Field(default=None, max_length=4)
    trusted_flagger: bool = False

    def parse(self) -> NoticeFiling:
        return NoticeFiling(
            works=tuple(w.parse() for w in self.works),
            sender=self.sender.parse() if self.sender else Party(),
            principal=self.principal.parse() if self.principal else None,
            principal_id=self.principal_id,
            provider_id=self.provider_id,
            explanation=self.explanation,
            signature=self.signature,
            good_faith=self.good_faith,
            accurate=self.accurate,
            authorised=self.authorised,
            evidence=tuple(self.evidence),
            language=self.language,
            sent_at=self.sent_at,
            jurisdiction=self.jurisdiction,
            trusted_flagger=self.trusted_flagger,
        )


class AmendIn(Input):
    works: list[WorkClaimIn] = Field(default_factory=list, max_length=1000)
    sender: PartyIn | None = None
    principal: PartyIn | None = None
    explanation: str | None = Field(default=None, max_length=10_000)
    signature: str | None = Field(default=None, max_length=300)
    good_faith: bool | None = None
    accurate: bool | None = None
    authorised: bool | None = None
    evidence: list[str] = Field(default_factory=list, max_length=100)

    def parse(self) -> NoticeAmendment:
        return NoticeAmendment(
            works=tuple(w.parse() for w in self.works),
            sender=self.sender.parse() if self.sender else None,
            principal=self.principal.parse() if self.principal else None,
            explanation=self.explanation,
            signature=self.signature,
            good_faith=self.good_faith,
            accurate=self.accurate,
            authorised=self.authorised,
            evidence=tuple(self.evidence),
        )


class DecisionIn(Input):
    outcome: str = Field(description="upheld, partially_upheld, rejected or manifestly_unfounded")
    explanation: str = Field(min_length=1, max_length=2000)
    ground: str = Field(default="law", description="law or terms")
    legal_ground: str | None = Field(default=None, max_length=500)
    automated_detection: bool = False
    automated_decision: str = Field(default="not", description="fully, partially or not")
    items: list[str] | None = Field(default=None, max_length=1000)
    measures: list[str] | None = Field(default=None, max_length=20)
    puid: str | None = Field(default=None, max_length=500)


class ActIn(Input):
    measures: list[str] | None = Field(default=None, max_length=20, description="Measure kinds (omitted: all).")


class ReasonIn(Input):
    reason: str = Field(min_length=1, max_length=200)


class CounterIn(Input):
    user: str = Field(min_length=1, max_length=200, description="The provider's own user id (its session's).")
    contact: PartyIn = Field(default_factory=PartyIn)
    signature: str | None = Field(default=None, max_length=300)
    mistake_statement: bool = False
    consent_to_jurisdiction: bool = False
    explanation: str | None = Field(default=None, max_length=10_000)
    evidence: list[str] = Field(default_factory=list, max_length=100)

    def parse(self) -> CounterInput:
        return CounterInput(
            self.user,
            self.contact.parse(),
            self.signature,
            self.mistake_statement,
            self.consent_to_jurisdiction,
            self.explanation,
            tuple(self.evidence),
        )


class CourtActionIn(Input):
    reference: str = Field(min_length=1, max_length=500)


class ComplaintIn(Input):
    by: str = Field(description="user (filed by its provider) or notifier")
    reason: str = Field(min_length=1, max_length=10_000)
    user: str | None = Field(default=None, max_length=200)
    subject: str = Field(default="decision", description="decision, fee or de_minimis")


class ComplaintDecisionIn(Input):
    outcome: str = Field(description="upheld, partially_reversed or reversed")
    explanation: str = Field(min_length=1, max_length=2000)
    items: list[str] | None = Field(default=None, max_length=1000)


class AuthorisationIn(Input):
    agent_id: str
    document: str = Field(min_length=1, max_length=500)
    holder_id: str | None = None
    work_ids: list[str] = Field(default_factory=list, max_length=100_000)
    valid_until: AwareDatetime | None = None


class AuditResultIn(Input):
    audit: str = Field(min_length=1, max_length=200)
    report_sha256: str | None = Field(default=None, max_length=64)
    log_index: int | None = Field(default=None, ge=0, le=INT64_MAX)
    verdict: str | None = Field(default=None, max_length=200)
    gate: str | None = Field(default=None, max_length=20)


# -- notices ----------------------------------------------------------------------------------------------


@router.post("/takedown/notices", status_code=201)
def file_notice(body: NoticeIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """File a notice for your own works, as an agent with an authorisation on record, or (the CMO) for a holder.
    A notice lacking an element is kept as ``incomplete``; ``missing`` lists what to add (PATCH)."""
    return ca.takedown.file(principal, body.parse()).to_dict()


@router.post("/takedown/public/notices", status_code=201)
def file_public_notice(body: NoticeIn, request: Request, ca: CaDep) -> dict[str, Any]:
    """File a notice without an account: give your e-mail address; keep the ``token`` to follow the notice."""
    origin = request.client.host if request.client else None
    return ca.takedown.file_public(body.parse(), origin=origin).to_dict()


@router.get("/takedown/public/notices/{notice_id}")
def public_notice(notice_id: str, ca: CaDep, token: TokenHeader = None) -> dict[str, Any]:
    return ca.takedown.notice_public(notice_id, token or "").to_dict()


@router.patch("/takedown/public/notices/{notice_id}")
def complete_public_notice(notice_id: str, body: AmendIn, ca: CaDep, token: TokenHeader = None) -> dict[str, Any]:
    return ca.takedown.complete(None, notice_id, body.parse(), token=token or "").to_dict()


@router.get("/takedown/notices")
def queue(
    ca: CaDep,
    principal: PrincipalDep,
    provider_id: str | None = None,
    status: str | None = None,
    overdue: bool = False,
    closed: bool = Query(default=False, description="Include closed notices."),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=INT64_MAX),
) -> dict[str, Any]:
    """The notices you may see, ordered by priority and then by the earliest pending deadline."""
    entries = ca.takedown.queue(
        principal,
        provider_id=provider_id,
        status=status,
        overdue=overdue,
        open_only=not closed,
        limit=limit,
        offset=offset,
    )
    return {"notices": [e.to_dict() for e in entries]}


@router.get("/takedown/notices/{notice_id}")
def get_notice(notice_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.takedown.notice(principal, notice_id).to_dict()


@router.patch("/takedown/notices/{notice_id}")
def complete_notice(notice_id: str, body: AmendIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Complete (amend) your incomplete notice; the clocks start when it is complete."""
    return ca.takedown.complete(principal, notice_id, body.parse()).to_dict()


@router.post("/takedown/notices/{notice_id}/withdraw")
def withdraw_notice(notice_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.takedown.withdraw(principal, notice_id).to_dict()


# -- the desk ---------------------------------------------------------------------------------------------


@router.post("/takedown/notices/{notice_id}/triage")
def triage(notice_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.takedown.triage(principal, notice_id).to_dict()


@router.post("/takedown/notices/{notice_id}/decision")
def decide(notice_id: str, body: DecisionIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    d = DecisionInput(
        body.outcome,
        body.explanation,
        body.ground,
        body.legal_ground,
        body.automated_detection,
        body.automated_decision,
        tuple(body.items) if body.items is not None else None,
        tuple(body.measures) if body.measures is not None else None,
        body.puid,
    )
    return ca.takedown.decide(principal, notice_id, d).to_dict()


@router.post("/takedown/notices/{notice_id}/measures")
def act(notice_id: str, ca: CaDep, principal: PrincipalDep, body: ActIn | None = None) -> dict[str, Any]:
    """Apply the decision's planned measures (each with its own log entry)."""
    return ca.takedown.act(principal, notice_id, body.measures if body else None).to_dict()


@router.post("/takedown/measures/{measure_id}/apply")
def apply_measure(measure_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.takedown.apply_measure(principal, measure_id).to_dict()


@router.post("/takedown/measures/{measure_id}/undo")
def undo_measure(measure_id: str, body: ReasonIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.takedown.undo_measure(principal, measure_id, reason=body.reason).to_dict()


@router.post("/takedown/measures/{measure_id}/audit")
def attach_audit(measure_id: str, body: AuditResultIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Attach a model re-audit's result to the task a ``model_reaudit`` measure opened."""
    result = body.model_dump(exclude_none=True)
    return ca.takedown.attach_audit(principal, measure_id, result).to_dict()


@router.post("/takedown/notices/{notice_id}/counter-notices", status_code=201)
def counter_notice(notice_id: str, body: CounterIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """A provider files its own user's counter-notice (for the user's own session only)."""
    return ca.takedown.counter_notice(principal, notice_id, body.parse()).to_dict()


@router.patch("/takedown/counter-notices/{counter_id}")
def complete_counter(counter_id: str, body: CounterIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.takedown.complete_counter(principal, counter_id, body.parse()).to_dict()


@router.post("/takedown/notices/{notice_id}/court-action")
def court_action(notice_id: str, body: CourtActionIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.takedown.court_action(principal, notice_id, body.reference).to_dict()


@router.post("/takedown/notices/{notice_id}/complaints", status_code=201)
def complain(notice_id: str, body: ComplaintIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    c = ComplaintInput(body.by, body.reason, body.user, body.subject)
    return ca.takedown.complain(principal, notice_id, c).to_dict()


@router.post("/takedown/complaints/{complaint_id}/decision")
def decide_complaint(
    complaint_id: str, body: ComplaintDecisionIn, ca: CaDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Decide a complaint (a person, never solely automated means: DSA Art. 20(6))."""
    return ca.takedown.resolve_complaint(
        principal, complaint_id, outcome=body.outcome, explanation=body.explanation, items=body.items
    ).to_dict()


@router.post("/takedown/authorisations", status_code=201)
def authorise(body: AuthorisationIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.takedown.authorise(
        principal,
        agent_id=body.agent_id,
        document=body.document,
        holder_id=body.holder_id,
        work_ids=body.work_ids,
        valid_until=body.valid_until,
    ).to_dict()


@router.post("/takedown/due")
def due(ca: CaDep, principal: PrincipalDep, provider_id: str | None = None) -> dict[str, Any]:
    """Perform the restorations that fell due; list the overdue work (idempotent)."""
    return ca.takedown.due(principal, provider_id=provider_id).to_dict()


@router.get("/takedown/standing")
def standing(
    ca: CaDep,
    principal: PrincipalDep,
    user: str | None = None,
    user_ref: str | None = None,
    provider_id: str | None = None,
) -> dict[str, Any]:
    """A user's strikes and sanction (the provider names its own user; others name the pseudonym)."""
    return ca.takedown.standing(principal, user=user, user_ref=user_ref, provider_id=provider_id).to_dict()


@router.get("/takedown/model-blocklist")
def model_blocklist(ca: CaDep, principal: PrincipalDep, model: str, provider_id: str | None = None) -> dict[str, Any]:
    return {"model": model, "works": ca.takedown.model_blocklist(principal, model, provider_id=provider_id)}


# -- public -----------------------------------------------------------------------------------------------


@router.get("/takedown/statements")
def statements(
    ca: CaDep,
    provider_id: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=INT64_MAX),
) -> dict[str, Any]:
    """Statements of reasons (DSA Art. 17) in the Transparency Database's schema: public, no personal data."""
    return {"statements": ca.takedown.statements(provider_id=provider_id, limit=limit, offset=offset)}


@router.get("/takedown/providers/{provider_id}/repeat-infringer-policy", response_class=PlainTextResponse)
def repeat_infringer_policy(provider_id: str, ca: CaDep) -> str:
    return ca.takedown.repeat_infringer_policy(provider_id)
