"""Screening: the prompt filter and the output filter, the guard's two checks before delivery (seed 004
¶71-83). The rules are pure (:mod:`copyalign.core.guard.terms`, :mod:`copyalign.core.guard.rules`); this
module gathers their evidence — the term base, the matching engine's answer against the registry, the
provider's blocklist — and applies the policy profile's actions. It authorises nobody: the guard's facade
does, so that delivery can screen on its caller's behalf.
"""

from __future__ import annotations

import hashlib
from typing import Any

from PIL import Image
from sqlalchemy import select

from copyalign.core.content import decode_text, encode_text, guess_kind, open_image
from copyalign.core.guard.prompts import PromptQuote, PromptRules, screen_prompt
from copyalign.core.guard.rules import OutputHit, OutputRules, Reason, judge_output
from copyalign.core.matching.query import TextQuery, image_query
from copyalign.core.matching.results import MatchResult
from copyalign.errors import ContentTooLargeError, InvalidInputError
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.blocklist import Blocklist
from copyalign.services.guard.results import Verdict
from copyalign.services.guard.terms import GuardTerms
from copyalign.services.matching.service import MatchService
from copyalign.store.models import Work

MAX_PROMPT_CHARS = 100_000
LITERAL_MATCHES = frozenset({"exact", "normalized", "near_duplicate", "passage"})
"""What counts as registered text carried in a prompt (a paraphrase is no prefix to continue)."""

Output = bytes | Image.Image
"""An output as screened: encoded bytes (text or a file), or the generator's image still in memory."""


def as_output(content: str | bytes | Image.Image) -> Output:
    return encode_text(content, field="text") if isinstance(content, str) else content


class Screening(ServiceBase):
    def __init__(self, deps: Deps, matching: MatchService, terms: GuardTerms, blocklist: Blocklist) -> None:
        super().__init__(deps)
        self.matching = matching
        self.terms = terms
        self.blocklist = blocklist

    @property
    def prompt_rules(self) -> PromptRules:
        return PromptRules.from_profile(self.policy.guard)

    @property
    def output_rules(self) -> OutputRules:
        return OutputRules.from_profile(self.policy.guard)

    def prompt(self, prompt: str) -> Verdict:
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInputError("the prompt is empty", field="prompt")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise ContentTooLargeError(
                f"the prompt is {len(prompt)} characters, over the limit of {MAX_PROMPT_CHARS}", field="prompt"
            )
        verdict = screen_prompt(prompt, self.terms.base(), self.prompt_rules, quotes=self.prompt_quotes(prompt))
        reasons = tuple(
            Reason(
                r.rule,
                r.action,
                r.work_ids or ((r.term_id,) if r.term_id else ()),
                (r.name,) if r.name else (),
                {"span": list(r.span), "intent": r.intent, "term": r.term_id},
            )
            for r in verdict.reasons
        )
        sha = hashlib.sha256(prompt.encode()).hexdigest()
        return Verdict("prompt", "text", sha, verdict.decision, reasons)

    def prompt_quotes(self, prompt: str) -> list[PromptQuote]:
        """Registered text the prompt carries, for the continuation rule: the matching engine on the prompt
        (literal matches only: a paraphrase is no prefix to continue), with the works' titles."""
        self.matching.maybe_refresh()
        found = self.matching.find_text(TextQuery.of(prompt, prompt.encode()))
        literal = {wid: ev for wid, ev in found.items() if ev.match in LITERAL_MATCHES}
        if not literal:
            return []
        with self.store.read() as s:
            rows = s.execute(select(Work.id, Work.title).where(Work.id.in_(list(literal))))
            titles = {wid: title for wid, title in rows}
        whole = ((0, len(prompt)),)  # a copy of a whole work carries no spans
        return [
            PromptQuote(wid, titles[wid], tuple(sp.query for sp in ev.spans) or whole, ev.match)
            for wid, ev in literal.items()
            if wid in titles
        ]

    def output(self, data: Output, kind: str | None, provider_id: str | None) -> tuple[Verdict, Any]:
        """The verdict, and the decoded content (a str or an image) so delivery does not decode twice."""
        pixels = data if isinstance(data, Image.Image) else None  # the generator's image, not a file yet
        raw = data if isinstance(data, bytes) else b""
        if pixels is not None:
            if kind not in (None, "image"):
                raise InvalidInputError(f"an in-memory image is checked as kind image, not {kind!r}", field="kind")
            w, h = pixels.size
            if w * h > self.limits.max_image_pixels:
                raise ContentTooLargeError(
                    f"image is {w}x{h} = {w * h} pixels, over the limit of {self.limits.max_image_pixels}",
                    field="output",
                    code="image_too_large",
                )
            kind = "image"
        elif len(raw) > self.limits.max_bytes:
            raise ContentTooLargeError(f"the output is {len(raw)} bytes, over the limit of {self.limits.max_bytes}")
        kind = kind or guess_kind(raw)
        self.matching.maybe_refresh()
        self.blocklist.refresh()
        if kind == "text":
            text = decode_text(raw, field="output")
            q = TextQuery.of(text, raw)
            result = self.matching.search_text(text, raw, limit=50, query=q)
            blocked = self.blocklist.find_text(q)
            decoded: Any = text
        elif kind == "image":
            img = pixels if pixels is not None else open_image(raw, self.limits, field="output")[0]
            query = image_query(img)
            # without a file, search_image digests the pixels (pixel_sha256)
            result = self.matching.search_image(img, None if pixels is not None else raw, limit=50, query=query)
            blocked = self.blocklist.find_image(img, bytes.fromhex(result.sha256), query)
            decoded = img
        else:
            raise InvalidInputError(f"unknown kind {kind!r}; expected text or image", field="kind")
        hits = _hits(result) + self.blocklist.hits(blocked, provider_id)
        decision, reasons = judge_output(hits, self.output_rules, output_chars=len(decoded) if kind == "text" else None)
        return Verdict("output", kind, result.sha256, decision, reasons), decoded


def _hits(result: MatchResult) -> list[OutputHit]:
    return [
        OutputHit(
            m.work_id,
            m.match,
            m.score,
            m.title,
            tuple(sp.query for sp in m.spans),
            m.distance,
            detail={"holder": {"id": m.holder_id, "name": m.holder_name}},
        )
        for m in result.matches
    ]


__all__ = ["MAX_PROMPT_CHARS", "Output", "Screening", "as_output"]
