"""Evidence: what the system knows about a notice's material, gathered automatically before a person decides.

At filing, :meth:`EvidenceFinder.resolve` turns each piece of material into what this deployment can find: a
trace id is looked up; a delivered file is read for its marks (the AIGC label, whose MAC proves it is this
deployment's, the C2PA manifest, the invisible watermark, or for text its digest) and leads to its trace; an
output text or a digest is matched to a delivered output. A label whose MAC fails is refused: a forged label
must not point the desk at someone else's session (seed 003 §4.2: the label carries a verifiable hash).

At triage, :meth:`EvidenceFinder.assess` answers the questions of :class:`copyalign.core.takedown.triage.Evidence`
for one item: the matching engine's verdict for the named work against the material (kind, spans, the share
of the output they cover, PDQ distance, semantic score), what the guard decided when it delivered the output
and why, whether the prompt named the work, and whether the holder had licensed the use (a finalised notice
covering the work, or a recorded ``allow``; seed 001 §3.2-3.3).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from copyalign.core.canonical import format_time
from copyalign.core.content import decode_text, guess_kind, open_image
from copyalign.core.guard.rules import covered_chars
from copyalign.core.licensing.notices import ListingStatus, NoticeStatus
from copyalign.core.matching.results import MatchResult, WorkMatch
from copyalign.core.registry.preferences import Purpose, Scope, Value, parse_jurisdiction, resolve
from copyalign.core.takedown.elements import Material, MaterialKind
from copyalign.core.takedown.triage import COPY_KINDS, Evidence, MatchKind
from copyalign.errors import ContentTooLargeError, InvalidInputError, NotFoundError
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.results import trace_payload
from copyalign.services.guard.service import GuardService
from copyalign.services.matching.service import MatchService
from copyalign.services.registry.preferences import statements_for
from copyalign.services.takedown.inputs import MaterialInput
from copyalign.services.takedown.rows import DESK
from copyalign.store.models import GenerationTrace, JourneyAdapter, Notice, NoticeWork, TakedownItem, Work

MAX_SPANS = 20
LICENSING_PURPOSES = (Purpose.TRAIN_GENAI, Purpose.AI_INPUT)
"""A recorded ``allow`` for either licenses a generative service's use of the work (seed 001 §3.3)."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """One piece of material as the desk stores it: its core form, the trace it leads to, and where the content
    to compare with the work is kept (a blob the sender gave)."""

    material: Material
    trace_id: str | None
    provider_id: str | None
    content_sha256: str | None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EvidenceFinder(ServiceBase):
    def __init__(self, deps: Deps, guard: GuardService, matching: MatchService) -> None:
        super().__init__(deps)
        self.guard = guard
        self.matching = matching

    # -- at filing -------------------------------------------------------------------------------------
    def resolve(self, m: MaterialInput) -> Resolved:
        """Resolve one piece of material (see the module docstring); raises a 4xx naming what is wrong."""
        try:
            kind = MaterialKind(m.kind)
        except ValueError:
            known = ", ".join(k.value for k in MaterialKind)
            raise InvalidInputError(
                f"unknown material kind {m.kind!r}; expected one of {known}", field="material.kind"
            ) from None
        if kind is MaterialKind.DELIVERED_FILE:
            return self._delivered_file(m)
        if m.value is None:
            raise InvalidInputError(f"a {kind.value} material needs its value", field="material.value")
        if m.content is not None:
            raise InvalidInputError("only a delivered file carries content", field="material.content")
        material = Material(kind, m.value, m.note)
        if kind is MaterialKind.TRACE:
            trace_payload(m.value)  # the form of a trace id: tr_ and 16 hex digits
            row = self._trace(m.value)
            if row is None:
                raise NotFoundError(
                    f"no trace {m.value}: no output of this service has that id", field="material.value"
                )
            return Resolved(material, row.id, row.provider_id, None)
        if kind is MaterialKind.CONTENT_DIGEST:
            digest = m.value.removeprefix("sha256:")
            row = self._trace_by_digest({digest})
            return Resolved(material, row.id if row else None, row.provider_id if row else None, None)
        if kind is MaterialKind.OUTPUT_TEXT:
            raw = m.value.encode()
            self._check_size(raw)
            row = self._trace_by_digest({_sha(raw), _sha(m.value.strip().encode())})
            return Resolved(material, row.id if row else None, row.provider_id if row else None, self.blobs.put(raw))
        return Resolved(material, None, None, None)  # a prompt, a URL or a model: nothing to resolve here

    def _delivered_file(self, m: MaterialInput) -> Resolved:
        if not m.content:
            raise InvalidInputError("a delivered file is given as its content", field="material.content")
        self._check_size(m.content)
        found = self.guard.traces.lookup_content(DESK, m.content)
        if found.aigc_authentic is False:
            raise InvalidInputError(
                "the file's AIGC label does not verify (its MAC is not this deployment's): the label is forged or "
                "altered, so it cannot identify a session",
                field="material.content",
                code="forged_label",
            )
        if found.trace is None:
            if found.found:
                tid = next(iter(found.found.values()))
                raise NotFoundError(
                    f"the file's marks name trace {tid}, which this service never delivered", field="material.content"
                )
            raise InvalidInputError(
                "the file carries no mark of this deployment (no authentic label, manifest or watermark) and matches "
                "no delivered output: name it as an output text or a content digest instead",
                field="material.content",
                code="untraceable_file",
            )
        digest = _sha(m.content)
        material = Material(MaterialKind.DELIVERED_FILE, digest, m.note)
        return Resolved(material, found.trace.id, found.trace.provider_id, self.blobs.put(m.content))

    def _check_size(self, data: bytes) -> None:
        if len(data) > self.limits.max_bytes:
            raise ContentTooLargeError(f"the material is {len(data)} bytes, over the limit of {self.limits.max_bytes}")

    def _trace(self, trace_id: str) -> GenerationTrace | None:
        with self.store.read() as s:
            return s.get(GenerationTrace, trace_id)

    def _trace_by_digest(self, digests: set[str]) -> GenerationTrace | None:
        with self.store.read() as s:
            return (
                s.execute(
                    select(GenerationTrace)
                    .where(
                        or_(GenerationTrace.delivered_sha256.in_(digests), GenerationTrace.output_sha256.in_(digests))
                    )
                    .order_by(GenerationTrace.created_at)
                    .limit(1)
                )
                .scalars()
                .first()
            )

    # -- at triage -------------------------------------------------------------------------------------
    def assess(
        self, s: Session, item: TakedownItem, provider_id: str, now: datetime
    ) -> tuple[Evidence, dict[str, Any]]:
        """The core's evidence for one item, and the record of it that the desk keeps (JSON)."""
        trace = s.get(GenerationTrace, item.trace_id) if item.trace_id else None
        record: dict[str, Any] = {"work_id": item.work_id, "content": None, "match": None}
        data, kind = self._content(item, trace, now, record)
        match: WorkMatch | None = None
        chars: int | None = None
        if data is not None and item.work_id is not None:
            match, chars = self._match(data, kind, item.work_id)
        ev: dict[str, Any] = {"kind": None, "coverage": None, "pdq_distance": None, "semantic_score": None}
        if match is not None:
            ev = _match_evidence(match, chars)
            record["match"] = {
                "kind": match.match,
                "score": round(match.score, 4),
                "spans": [list(sp.query) for sp in match.spans[:MAX_SPANS]],
                "distance": match.distance,
                "coverage": ev["coverage"],
            }
        guard = _guard(trace, item.work_id)
        record["guard"] = guard
        named, names = guard["prompt_named_work"], list(guard["prompt_names"])
        if item.material_kind == MaterialKind.PROMPT and item.work_id is not None:
            verdict = self.guard.screening.prompt(item.material_value)
            hits = [r for r in verdict.reasons if item.work_id in r.refs]
            named = named or bool(hits)
            names += [t for r in hits for t in r.titles]
        record["prompt_named_work"], record["prompt_names"] = named, sorted(set(names))
        licensed, ref = self._licensed(s, item.work_id, provider_id, trace, now) if item.work_id else (False, None)
        record["licensed"], record["licence_ref"] = licensed, ref
        model = item.material_value if item.material_kind == MaterialKind.MODEL else (trace.model if trace else "")
        # a user-trained model (seed 004 ¶26): the journey's table, read here as the desk reads the traces'
        record["user_model"] = bool(model) and s.get(JourneyAdapter, model) is not None
        if trace is not None:
            record["trace"] = {
                "id": trace.id,
                "provider_id": trace.provider_id,
                "user": trace.user_ref,
                "model": trace.model,
                "kind": trace.kind,
                "created_at": format_time(trace.created_at),
                "prompt_sha256": trace.prompt_sha256,
                "output_sha256": trace.output_sha256,
                "delivered_sha256": trace.delivered_sha256,
                "decision": trace.decision,
                "sealed_in_log_entry": trace.sealed_index,
            }
        evidence = Evidence(
            MatchKind(ev["kind"]) if ev["kind"] else None,
            coverage=ev["coverage"],
            pdq_distance=ev["pdq_distance"],
            semantic_score=ev["semantic_score"],
            guard_saw=guard["saw"],
            guard_allowed=guard["allowed"],
            guard_reason=guard["reason"],
            licensed=licensed,
            licence_ref=ref,
            prompt_named_work=named,
            user_model=record["user_model"],
        )
        return evidence, record

    def _content(
        self, item: TakedownItem, trace: GenerationTrace | None, now: datetime, record: dict[str, Any]
    ) -> tuple[bytes | None, str | None]:
        """The output to compare with the work: what the sender gave, or what the trace kept (until its
        retention ends)."""
        if item.content_sha256 is not None:
            record["content"] = "submitted"
            data = self.blobs.get(item.content_sha256)
            return data, "text" if item.material_kind == MaterialKind.OUTPUT_TEXT else None
        if trace is not None and trace.output_data and trace.retain_until is not None and trace.retain_until > now:
            record["content"] = "retained by the trace"
            return bytes(trace.output_data), trace.kind
        return None, None

    def _match(self, data: bytes, kind: str | None, work_id: str) -> tuple[WorkMatch | None, int | None]:
        kind = kind or guess_kind(data)
        self.matching.maybe_refresh()
        result: MatchResult
        if kind == "image":
            img, _ = open_image(data, self.limits, field="material.content")
            result = self.matching.search_image(img, data, limit=50)
            chars = None
        else:
            text = decode_text(data, field="material.content")
            result = self.matching.search_text(text, data, limit=50)
            chars = len(text)
        return next((m for m in result.matches if m.work_id == work_id), None), chars

    def _licensed(
        self, s: Session, work_id: str, provider_id: str, trace: GenerationTrace | None, now: datetime
    ) -> tuple[bool, str | None]:
        """Whether the holder licensed this use: a finalised training notice of this provider (or for the
        trace's model) lists the work as licensed, or a recorded preference allows generative use."""
        q = (
            select(Notice.id)
            .join(NoticeWork, NoticeWork.notice_id == Notice.id)
            .where(
                NoticeWork.work_id == work_id,
                NoticeWork.status == ListingStatus.LICENSED,
                Notice.status == NoticeStatus.FINALISED,
            )
        )
        owners = [Notice.developer_id == provider_id]
        if trace is not None and trace.model:
            owners.append(Notice.title == trace.model)
        notice = s.execute(q.where(or_(*owners)).order_by(Notice.finalised_at).limit(1)).scalar_one_or_none()
        if notice is not None:
            return True, f"finalised training notice {notice}"
        work = s.get(Work, work_id)
        if work is None:
            return False, None
        stmts = statements_for(s, [work])[work_id]
        juris = parse_jurisdiction(self.policy.profile.jurisdiction)
        for purpose in LICENSING_PURPOSES:
            r = resolve(stmts, purpose, at=now, jurisdiction=juris, default=Value.DENY)
            if r.value is Value.ALLOW and r.source is not Scope.POLICY and r.statement is not None:
                return True, f"the holder's preference {purpose.value}=allow (log entry {r.statement.log_index})"
        return False, None


def _match_evidence(m: WorkMatch, chars: int | None) -> dict[str, Any]:
    kind = MatchKind(m.match)
    coverage: float | None = None
    if kind in COPY_KINDS:
        coverage = 1.0
    elif chars:
        coverage = min(1.0, covered_chars([sp.query for sp in m.spans]) / chars)
    return {
        "kind": kind.value,
        "coverage": None if coverage is None else round(coverage, 6),
        "pdq_distance": m.distance if kind is MatchKind.PERCEPTUAL else None,
        "semantic_score": max(-1.0, min(1.0, m.score)) if kind is MatchKind.SEMANTIC else None,
    }


def _guard(trace: GenerationTrace | None, work_id: str | None) -> dict[str, Any]:
    """What the guard decided when the output was generated, and whether the prompt named the work."""
    if trace is None:
        return {
            "saw": False,
            "allowed": False,
            "decision": None,
            "reason": None,
            "rules": [],
            "prompt_named_work": False,
            "prompt_names": [],
        }
    reasons = [r for v in trace.reasons for r in v.get("reasons", [])]
    fired = [r for r in reasons if r.get("action") != "allow"]
    rules = sorted({str(r.get("rule")) for r in reasons})
    prompt = [
        r
        for v in trace.reasons
        if v.get("stage") == "prompt"
        for r in v.get("reasons", [])
        if work_id in r.get("refs", [])
    ]
    allowed = trace.decision in ("allow", "warn")
    why = ", ".join(sorted({str(r.get("rule")) for r in fired})) or "no rule fired"
    return {
        "saw": True,
        "allowed": allowed,
        "decision": trace.decision,
        "reason": f"{trace.decision}: {why}"[:500],
        "rules": rules,
        "prompt_named_work": bool(prompt),
        "prompt_names": sorted({str(t) for r in prompt for t in r.get("titles", [])}),
    }


__all__ = ["EvidenceFinder", "Resolved"]
