"""``guard``: the deployment-phase duty of care, in process or behind the API.

Seed 004 ¶71-83: before generation the provider screens the prompt (explicit references to protected works,
characters and creators; the intent to imitate or reproduce; circumvention); after generation it screens the
output against the registry (hash matching for copies, contained passages, similarity); it labels every
delivered output as AI-generated, visibly and in the file's metadata (China's labelling measures and
GB 45438-2025), watermarks it invisibly, and keeps a trace linking the content to the generation session so
that a rights holder who finds it later can be answered.

A provider uses it three ways:

- ``check_prompt`` / ``check_output``: a decision (allow, warn, block) with reasons naming the matched works,
  the rule and the evidence;
- ``deliver``: label, watermark and trace an output the provider is about to hand over;
- ``generate``: all of it around the provider's own generator function.

Traces are rows, not log entries (a busy service makes millions); :meth:`GuardService.seal` commits every
unsealed trace to the log in one entry (the Merkle root of their leaves), automatically every
:data:`SEAL_EVERY` traces, so that a trace can later be shown to have existed, unaltered, by then.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import rfc8785
from PIL import Image
from sqlalchemy import func, select, update

from copyalign.core import merkle
from copyalign.core.authz import Action, Role, require
from copyalign.core.content import decode_text, guess_kind, normalised_sha256, open_image
from copyalign.core.guardrules import GuardAction, OutputHit, OutputRules, Reason, judge_output, strongest
from copyalign.core.terms import PromptQuote, PromptRules, Term, TermBase, TermKind, screen_prompt
from copyalign.core.watermark import MIN_SIDE as WATERMARK_MIN_SIDE
from copyalign.core.watermark import detect_watermark, embed_watermark
from copyalign.errors import (
    ConfigurationError,
    ContentTooLargeError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from copyalign.guard import labels
from copyalign.guard.results import (
    TRACE_PREFIX,
    BlockedView,
    Delivery,
    TermView,
    TraceLookup,
    TraceView,
    Verdict,
    term_view,
    trace_id_from_payload,
    trace_payload,
    trace_view,
)
from copyalign.ids import new_id
from copyalign.index.matchindex import MatchIndex
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.ledger import Event, format_time
from copyalign.services.matching import (
    MatchResult,
    MatchService,
    TextQuery,
    find_image,
    find_text,
    image_query,
    index_entry,
    pixel_sha256,
)
from copyalign.services.parties import Principal
from copyalign.store.models import BlockedOutput, GenerationTrace, GuardTerm, Party, Work

SEAL_EVERY = 1000
"""Unsealed traces that trigger a seal on the next delivery."""
MAX_NAMES = 50
MAX_NAME_CHARS = 200
MAX_PROMPT_CHARS = 100_000
PRODUCER = "copyalign"


def load_or_create_secret(path: Path) -> bytes:
    """The guard's 32-byte secret, created (mode 0600) on first use. Losing it loses the ability to read the
    watermarks made with it, so it lives beside the log key and is backed up with it."""
    if path.exists():
        raw = path.read_bytes().strip()
        try:
            secret = bytes.fromhex(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            secret = b""
        if len(secret) < 16:
            raise ConfigurationError(f"the guard key {path} is not 32 hex-encoded bytes")
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.hex() + "\n")
    return secret


class GuardService(ServiceBase):
    def __init__(
        self,
        deps: Deps,
        matching: MatchService,
        *,
        secret: bytes,
        blocklist: MatchIndex,
        c2pa_dir: Path | None = None,
        refresh_seconds: float = 1.0,
    ) -> None:
        super().__init__(deps)
        self.matching = matching
        self.blocklist = blocklist
        self.c2pa_dir = c2pa_dir
        self.refresh_seconds = refresh_seconds
        self._wm_key = hmac.new(secret, b"copyalign image watermark v1", hashlib.sha256).digest()
        self._label_key = hmac.new(secret, b"copyalign aigc label v1", hashlib.sha256).digest()
        self._user_key = hmac.new(secret, b"copyalign user pseudonym v1", hashlib.sha256).digest()
        self._terms: TermBase | None = None
        self._terms_stamp: tuple[int, int] | None = None
        self._terms_checked = float("-inf")
        self._terms_lock = threading.Lock()
        self._blocklist_checked = float("-inf")

    # -- rules from the policy -------------------------------------------------------------------------
    @property
    def prompt_rules(self) -> PromptRules:
        return PromptRules.from_profile(self.policy.guard)

    @property
    def output_rules(self) -> OutputRules:
        return OutputRules.from_profile(self.policy.guard)

    # -- the term base ---------------------------------------------------------------------------------
    def add_term(
        self,
        actor: Principal,
        *,
        kind: str,
        names: Sequence[str],
        work_ids: Sequence[str] = (),
        holder_id: str | None = None,
    ) -> TermView:
        """Add a character, a creator who asked for protection, or a title's aliases and translations.

        A rights holder adds terms for its own works and its own name; the operator curates any term.
        """
        try:
            term_kind = TermKind(kind)
        except ValueError:
            allowed = ", ".join(k.value for k in TermKind)
            raise InvalidInputError(f"unknown term kind {kind!r}; expected one of {allowed}", field="kind") from None
        clean = _clean_names(names)
        wids = list(dict.fromkeys(work_ids))
        if actor.role is Role.RIGHTS_HOLDER:
            if holder_id not in (None, actor.party_id):
                raise PermissionDeniedError("a rights holder may add terms only in its own name")
            holder_id = actor.party_id
        require(actor.role, Action.GUARD_TERM, owner=True)
        with self.store.write() as s:
            if holder_id is not None and s.get(Party, holder_id) is None:
                raise NotFoundError(f"no party {holder_id}", field="holder_id")
            if wids:
                rows = s.execute(select(Work.id, Work.holder_id).where(Work.id.in_(wids))).all()
                known = {r.id: r.holder_id for r in rows}
                missing = [w for w in wids if w not in known]
                if missing:
                    raise NotFoundError(f"no work {missing[0]}", field="work_ids")
                if actor.role is Role.RIGHTS_HOLDER and any(h != actor.party_id for h in known.values()):
                    raise PermissionDeniedError("a rights holder may add terms only for its own works")
            term_id = new_id("term")
            now = self.clock.now()
            payload = {"id": term_id, "kind": term_kind.value, "names": clean, "work_ids": wids, "holder_id": holder_id}
            [receipt] = self.ledger.append(s, [Event("guard.term.add", actor.party_id, term_id, payload)], at=now)
            row = GuardTerm(
                id=term_id,
                kind=term_kind.value,
                names=clean,
                work_ids=wids,
                holder_id=holder_id,
                actor_id=actor.party_id,
                created_at=now,
                revoked_at=None,
                log_index=receipt.index,
            )
            s.add(row)
            s.flush()
            return term_view(row)

    def revoke_term(self, actor: Principal, term_id: str) -> TermView:
        with self.store.write() as s:
            row = s.get(GuardTerm, term_id)
            if row is None:
                raise NotFoundError(f"no term {term_id}", field="term_id")
            require(actor.role, Action.GUARD_TERM, owner=row.holder_id == actor.party_id)
            if row.revoked_at is not None:
                return term_view(row)
            now = self.clock.now()
            [receipt] = self.ledger.append(
                s, [Event("guard.term.revoke", actor.party_id, term_id, {"id": term_id})], at=now
            )
            row.revoked_at = now
            row.log_index = receipt.index  # the term base's staleness stamp moves with it
            s.flush()
            return term_view(row)

    def terms(self, actor: Principal, *, include_revoked: bool = False) -> list[TermView]:
        """The curated terms the actor may see: all of them for the operator, its own for a rights holder."""
        require(actor.role, Action.GUARD_TERM, owner=True)
        q = select(GuardTerm).order_by(GuardTerm.created_at, GuardTerm.id)
        if actor.role is not Role.OPERATOR:
            q = q.where(GuardTerm.holder_id == actor.party_id)
        if not include_revoked:
            q = q.where(GuardTerm.revoked_at.is_(None))
        with self.store.read() as s:
            return [term_view(r) for r in s.scalars(q)]

    def term_base(self) -> TermBase:
        """The compiled term base, rebuilt when a work or a term changed (checked at most every
        ``refresh_seconds``)."""
        with self._terms_lock:
            if self._terms is not None and time.monotonic() - self._terms_checked < self.refresh_seconds:
                return self._terms
            with self.store.read() as s:
                stamp = (
                    int(s.execute(select(func.coalesce(func.max(Work.log_index), -1))).scalar_one()),
                    int(s.execute(select(func.coalesce(func.max(GuardTerm.log_index), -1))).scalar_one()),
                )
                if self._terms is None or stamp != self._terms_stamp:
                    self._terms = TermBase.build(self._load_terms(s), min_name_chars=self.policy.guard.min_term_chars)
                    self._terms_stamp = stamp
            self._terms_checked = time.monotonic()
            return self._terms

    def _load_terms(self, s: Any) -> Iterable[Term]:
        min_words = self.policy.guard.title_min_words
        for wid, title, holder in s.execute(select(Work.id, Work.title, Work.holder_id)):
            if _words(title) >= min_words:
                yield Term(f"work:{wid}", TermKind.TITLE, (title,), (wid,), holder)
        for row in s.scalars(select(GuardTerm).where(GuardTerm.revoked_at.is_(None))):
            yield Term(row.id, TermKind(row.kind), tuple(row.names), tuple(row.work_ids), row.holder_id)

    # -- screening -------------------------------------------------------------------------------------
    def check_prompt(self, actor: Principal, prompt: str) -> Verdict:
        require(actor.role, Action.GUARD_CHECK, owner=actor.role is Role.PROVIDER)
        return self._check_prompt(prompt)

    def _check_prompt(self, prompt: str) -> Verdict:
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInputError("the prompt is empty", field="prompt")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise ContentTooLargeError(
                f"the prompt is {len(prompt)} characters, over the limit of {MAX_PROMPT_CHARS}", field="prompt"
            )
        verdict = screen_prompt(prompt, self.term_base(), self.prompt_rules, quotes=self._prompt_quotes(prompt))
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

    def _prompt_quotes(self, prompt: str) -> list[PromptQuote]:
        """Registered text the prompt carries, for the continuation rule: the matching engine on the prompt
        (literal matches only: a paraphrase is no prefix to continue), with the works' titles."""
        self.matching.maybe_refresh()
        found = find_text(self.matching.index, TextQuery.of(prompt, prompt.encode()), self.policy.matching)
        literal = {
            wid: ev for wid, ev in found.items() if ev.match in ("exact", "normalized", "near_duplicate", "passage")
        }
        if not literal:
            return []
        with self.store.read() as s:
            titles = {w: t for w, t in s.execute(select(Work.id, Work.title).where(Work.id.in_(list(literal))))}
        whole = ((0, len(prompt)),)  # a copy of a whole work carries no spans
        return [PromptQuote(wid, titles[wid], tuple(sp.query for sp in ev.spans) or whole, ev.match)
                for wid, ev in literal.items() if wid in titles]  # fmt: skip

    def check_output(
        self,
        actor: Principal,
        content: str | bytes | Image.Image,
        *,
        kind: str | None = None,
        provider_id: str | None = None,
    ) -> Verdict:
        """Screen an output against the registry and the provider's blocklist.

        ``content`` is text, an encoded file, or, from a provider's own serving code, the generator's image
        as it is in memory: then nothing is encoded or decoded, and the verdict's digest is that of the
        pixels (:func:`pixel_sha256`), since there is no file yet. ``provider_id`` is whose blocklist
        applies: the provider itself, or, for the operator, any one provider (None: every provider's).
        """
        own = actor.role is Role.PROVIDER and provider_id in (None, actor.party_id)
        require(actor.role, Action.GUARD_CHECK, owner=own)
        if actor.role is Role.PROVIDER:
            provider_id = actor.party_id
        return self._check_output(_as_output(content), kind, provider_id)[0]

    def _check_output(
        self, data: bytes | Image.Image, kind: str | None, provider_id: str | None
    ) -> tuple[Verdict, Any]:
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
        self._refresh_blocklist()
        if kind == "text":
            text = decode_text(raw, field="output")
            q = TextQuery.of(text, raw)
            result = self.matching.search_text(text, raw, limit=50, query=q)
            blocked = find_text(self.blocklist, q, self.policy.matching)
            decoded: Any = text
        elif kind == "image":
            img = pixels if pixels is not None else open_image(raw, self.limits, field="output")[0]
            query = image_query(img)
            # without a file, search_image digests the pixels (pixel_sha256)
            result = self.matching.search_image(img, None if pixels is not None else raw, limit=50, query=query)
            sha = bytes.fromhex(result.sha256)
            blocked = find_image(self.blocklist, img, sha, self.policy.matching, query=query)
            decoded = img
        else:
            raise InvalidInputError(f"unknown kind {kind!r}; expected text or image", field="kind")
        hits = _hits(result) + self._blocklist_hits(blocked, provider_id)
        decision, reasons = judge_output(hits, self.output_rules, output_chars=len(decoded) if kind == "text" else None)
        return Verdict("output", kind, result.sha256, decision, reasons), decoded

    # -- delivery --------------------------------------------------------------------------------------
    def deliver(
        self,
        actor: Principal,
        output: str | bytes | Image.Image,
        *,
        prompt: str | None = None,
        user: str = "",
        model: str = "",
        kind: str | None = None,
    ) -> Delivery:
        """Screen an output (and its prompt, when given), then label, watermark and trace it.

        A blocked output is not delivered (``content`` is None) but its trace is still kept: the provider
        can show what it refused and why. An in-memory image is delivered as PNG.
        """
        require(actor.role, Action.GUARD_CHECK, owner=actor.role is Role.PROVIDER)
        verdicts: list[Verdict] = []
        if prompt is not None:
            verdicts.append(self._check_prompt(prompt))
        data = _as_output(output)
        verdict, decoded = self._check_output(data, kind, actor.party_id)
        verdicts.append(verdict)
        return self._deliver(actor, data, decoded, verdict.kind, verdicts, prompt=prompt, user=user, model=model)

    def generate(
        self,
        actor: Principal,
        prompt: str,
        generator: Callable[[str], str | bytes | Image.Image],
        *,
        user: str = "",
        model: str = "",
    ) -> Delivery:
        """Guard one generation end to end: a blocked prompt never reaches ``generator``."""
        require(actor.role, Action.GUARD_CHECK, owner=actor.role is Role.PROVIDER)
        pv = self._check_prompt(prompt)
        if pv.decision is GuardAction.BLOCK:
            return self._record_blocked(actor, [pv], prompt=prompt, user=user, model=model)
        data = _as_output(generator(prompt))
        ov, decoded = self._check_output(data, None, actor.party_id)
        return self._deliver(actor, data, decoded, ov.kind, [pv, ov], prompt=prompt, user=user, model=model)

    def _deliver(
        self,
        actor: Principal,
        data: bytes | Image.Image,
        decoded: Any,
        kind: str,
        verdicts: list[Verdict],
        *,
        prompt: str | None,
        user: str,
        model: str,
    ) -> Delivery:
        decision = strongest(v.decision for v in verdicts)
        trace_id = trace_id_from_payload(os.urandom(8))
        notice = _notice(verdicts) if decision is GuardAction.WARN else None
        if decision is GuardAction.BLOCK:
            self._record(actor, trace_id, kind, data, None, decision, verdicts, prompt=prompt, user=user, model=model)
            return Delivery(trace_id, decision, kind, None, "", tuple(verdicts), notice=_notice(verdicts))
        label = labels.AigcLabel(
            label="1",
            content_producer=PRODUCER,
            produce_id=trace_id,
            reserved_code1=self._label_code(trace_id),
            content_propagator=actor.party_id,
            propagate_id=trace_id,
        )
        g = self.policy.guard
        marks = {"visible": True, "aigc": False, "watermark": False, "c2pa": False}
        if kind == "text":
            delivered = labels.label_text(decoded, disclosure=g.disclosure, position="append").encode()
            media_type = "text/plain; charset=utf-8"
            marks["aigc"] = True  # travels beside the text (the API response), as text files carry no metadata
        else:
            delivered, media_type = self._mark_image(decoded, data, trace_id, label, marks)
        self._record(actor, trace_id, kind, data, delivered, decision, verdicts, prompt=prompt, user=user, model=model)
        return Delivery(
            trace_id, decision, kind, delivered, media_type, tuple(verdicts), label.to_dict(), marks, notice
        )

    def _mark_image(
        self,
        img: Image.Image,
        data: bytes | Image.Image,
        trace_id: str,
        label: labels.AigcLabel,
        marks: dict[str, bool],
    ) -> tuple[bytes, str]:
        """Visible mark, then the invisible watermark over the whole picture, then the metadata, then C2PA
        (last, because its signature covers the bytes before it). A JPEG stays a JPEG; anything else,
        an in-memory image included, is delivered as PNG."""
        fmt = "PNG" if isinstance(data, Image.Image) else (Image.open(io.BytesIO(data)).format or "PNG").upper()
        alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
        visible = labels.label_image(img.convert("RGB"), text=self.policy.guard.image_label)
        rgb = np.asarray(visible.convert("RGB"))
        if min(rgb.shape[:2]) >= WATERMARK_MIN_SIDE:
            marked = Image.fromarray(embed_watermark(rgb, trace_payload(trace_id), key=self._wm_key))
            marks["watermark"] = True
        else:  # too small to carry 64 bits; the labels and the trace still do their part
            marked = visible.convert("RGB")
        buf = io.BytesIO()
        if fmt == "JPEG":
            marked.save(buf, "JPEG", quality=95, subsampling=0)
            media_type = "image/jpeg"
        else:
            if alpha is not None:
                marked.putalpha(alpha)
            marked.save(buf, "PNG", compress_level=1)  # level 6 costs 90 ms on a 512x512 picture, for ~8 % less
            media_type = "image/png"
        out = labels.write_aigc(buf.getvalue(), label)
        marks["aigc"] = True
        identity = self._c2pa_identity()
        if identity is not None:
            from copyalign.guard import c2pa

            out = c2pa.sign_c2pa(out, media_type, identity, trace_id=trace_id, producer=PRODUCER)
            marks["c2pa"] = True
        return out, media_type

    def _c2pa_identity(self) -> Any:
        if self.c2pa_dir is None or not (self.c2pa_dir / "c2pa-cert.pem").exists():
            return None
        try:
            from copyalign.guard import c2pa
        except ImportError:  # pragma: no cover - the module itself imports c2pa lazily
            return None
        if not c2pa.available():
            return None
        return c2pa.load_signing_identity(self.c2pa_dir)

    def _record_blocked(
        self, actor: Principal, verdicts: list[Verdict], *, prompt: str | None, user: str, model: str
    ) -> Delivery:
        trace_id = trace_id_from_payload(os.urandom(8))
        self._record(
            actor, trace_id, "text", b"", None, GuardAction.BLOCK, verdicts, prompt=prompt, user=user, model=model
        )
        return Delivery(trace_id, GuardAction.BLOCK, "text", None, "", tuple(verdicts), notice=_notice(verdicts))

    def _record(
        self,
        actor: Principal,
        trace_id: str,
        kind: str,
        output: bytes | Image.Image,
        delivered: bytes | None,
        decision: GuardAction,
        verdicts: Sequence[Verdict],
        *,
        prompt: str | None,
        user: str,
        model: str,
    ) -> None:
        g = self.policy.guard
        now = self.clock.now()
        if isinstance(output, Image.Image):  # kept as PNG, traced by the digest its check reported
            output_sha = pixel_sha256(output).hex()
            output = _png(output) if g.keep_content else b""
        else:
            output_sha = hashlib.sha256(output).hexdigest()
        user_ref = hmac.new(self._user_key, user.encode(), hashlib.sha256).hexdigest()[:32] if user else ""
        fields = {
            "id": trace_id,
            "provider_id": actor.party_id,
            "user_ref": user_ref,
            "kind": kind,
            "model": model[:200],
            "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest() if prompt is not None else None,
            "output_sha256": output_sha,
            "delivered_sha256": hashlib.sha256(delivered).hexdigest() if delivered is not None else None,
            "decision": decision.value,
            "reasons": [v.to_dict() for v in verdicts],
        }
        leaf = hashlib.sha256(rfc8785.dumps({**fields, "created_at": format_time(now)})).hexdigest()
        with self.store.write() as s:
            s.add(
                GenerationTrace(
                    **fields,
                    prompt_text=prompt if g.keep_content else None,
                    output_data=output if g.keep_content and output else None,
                    retain_until=now + timedelta(days=g.retention_days) if g.keep_content else None,
                    created_at=now,
                    leaf=leaf,
                    sealed_index=None,
                )
            )
            unsealed = int(
                s.execute(
                    select(func.count()).select_from(GenerationTrace).where(GenerationTrace.sealed_index.is_(None))
                ).scalar_one()
            )
        if unsealed >= SEAL_EVERY:
            self._seal(actor.party_id)

    def _label_code(self, trace_id: str) -> str:
        """``ReservedCode1``: a MAC over the trace id, so this deployment can tell its labels from copies made
        by someone else (anyone can write an AIGC field; only the holder of the guard key can make this)."""
        return hmac.new(self._label_key, trace_id.encode(), hashlib.sha256).hexdigest()[:32]

    # -- traces ----------------------------------------------------------------------------------------
    def trace(self, actor: Principal, trace_id: str) -> TraceView:
        trace_payload(trace_id)  # validates the form
        with self.store.read() as s:
            row = s.get(GenerationTrace, trace_id)
            if row is None:
                raise NotFoundError(f"no trace {trace_id}", field="trace_id")
            require(actor.role, Action.TRACE_READ, owner=row.provider_id == actor.party_id)
            return trace_view(row, self.clock.now())

    def trace_content(self, actor: Principal, data: bytes) -> TraceLookup:
        """Read every mark a file carries (AIGC metadata, C2PA manifest, invisible watermark; for text, its
        digest) and return the trace it leads to, if the actor may read it."""
        require(actor.role, Action.TRACE_READ, owner=True)
        if not data:
            raise InvalidInputError("the file is empty", field="content")
        if len(data) > self.limits.max_bytes:
            raise ContentTooLargeError(f"the file is {len(data)} bytes, over the limit of {self.limits.max_bytes}")
        kind = guess_kind(data)
        sha = hashlib.sha256(data).hexdigest()
        found: dict[str, str] = {}
        notes: list[str] = []
        aigc: dict[str, str] | None = None
        authentic: bool | None = None
        c2pa_info: dict[str, Any] | None = None
        wm: dict[str, Any] | None = None
        if kind == "image":
            report = labels.read_labels(data)
            if report.aigc is not None:
                aigc = report.aigc.to_dict()
                authentic = hmac.compare_digest(report.aigc.reserved_code1, self._label_code(report.aigc.produce_id))
                if report.aigc.produce_id.startswith(TRACE_PREFIX):
                    found["aigc"] = report.aigc.produce_id
            c2pa_info = report.c2pa
            notes.extend(report.notes)
            if c2pa_info and isinstance(c2pa_info.get("trace_id"), str):
                found["c2pa"] = c2pa_info["trace_id"]
            img, _ = open_image(data, self.limits, field="content")
            pixels = np.asarray(img.convert("RGB"))
            det = detect_watermark(pixels, key=self._wm_key) if min(pixels.shape[:2]) >= WATERMARK_MIN_SIDE else None
            if det is not None:
                wm = {
                    "trace_id": trace_id_from_payload(det.payload),
                    "score": round(float(det.score), 4),
                    "bit_errors": det.bit_errors,
                    "scale": round(float(det.scale), 4),
                }
                found["watermark"] = wm["trace_id"]
            else:
                notes.append("no watermark made with this deployment's key was found")
        else:
            text = decode_text(data, field="content")
            digests = {sha, hashlib.sha256(text.strip().encode()).hexdigest()}
            with self.store.read() as s:
                row = s.scalars(
                    select(GenerationTrace.id)
                    .where(GenerationTrace.delivered_sha256.in_(digests) | GenerationTrace.output_sha256.in_(digests))
                    .order_by(GenerationTrace.created_at)
                ).first()
            if row is not None:
                found["digest"] = row
            else:
                notes.append("text carries no metadata; no delivered output has this digest")
        ids = list(dict.fromkeys(found.values()))
        if len(ids) > 1:
            notes.append(f"the marks disagree: {found}")
        trace: TraceView | None = None
        for tid in ids:
            try:
                trace = self.trace(actor, tid)
                break
            except NotFoundError:
                notes.append(f"trace {tid} is not in this registry")
            except PermissionDeniedError:
                notes.append(f"trace {tid} belongs to another provider")
        return TraceLookup(kind, sha, found, aigc, authentic, c2pa_info, wm, trace, notes)

    def seal(self, actor: Principal) -> int | None:
        """Commit every unsealed trace to the log; returns the log index, or None when nothing was unsealed."""
        require(actor.role, Action.GUARD_CHECK, owner=actor.role is Role.PROVIDER)
        return self._seal(actor.party_id)

    def _seal(self, actor_id: str) -> int | None:
        with self.store.write() as s:
            rows = s.execute(
                select(GenerationTrace.id, GenerationTrace.leaf)
                .where(GenerationTrace.sealed_index.is_(None))
                .order_by(GenerationTrace.created_at, GenerationTrace.id)
            ).all()
            if not rows:
                return None
            root = merkle.root_from_leaves([merkle.leaf_hash(bytes.fromhex(r.leaf)) for r in rows])
            payload = {"first": rows[0].id, "last": rows[-1].id, "count": len(rows), "root": root.hex()}
            [receipt] = self.ledger.append(s, [Event("guard.traces.seal", actor_id, rows[-1].id, payload)])
            ids = [r.id for r in rows]
            for i in range(0, len(ids), 900):  # SQLite's bound-parameter limit
                s.execute(
                    update(GenerationTrace)
                    .where(GenerationTrace.id.in_(ids[i : i + 900]))
                    .values(sealed_index=receipt.index)
                )
            self._purge(s)
            return receipt.index

    def _purge(self, s: Any) -> int:
        """Erase kept prompts and outputs whose retention ended (the digests and the leaf stay)."""
        res = s.execute(
            update(GenerationTrace)
            .where(GenerationTrace.retain_until.is_not(None), GenerationTrace.retain_until <= self.clock.now())
            .values(prompt_text=None, output_data=None, retain_until=None)
        )
        return int(res.rowcount or 0)

    # -- the blocklist ---------------------------------------------------------------------------------
    def block_output(
        self,
        actor: Principal,
        content: str | bytes,
        *,
        reason: str,
        source: str | None = None,
        provider_id: str | None = None,
        kind: str | None = None,
    ) -> BlockedView:
        """Add an output that a takedown marked to a provider's blocklist; it and its near copies block."""
        if actor.role is Role.PROVIDER:
            if provider_id not in (None, actor.party_id):
                raise PermissionDeniedError("a provider may add only to its own blocklist")
            provider_id = actor.party_id
        require(actor.role, Action.GUARD_BLOCK, owner=True)
        if provider_id is None:
            raise InvalidInputError("name the provider whose blocklist this is", field="provider_id")
        reason = reason.strip()
        if not reason:
            raise InvalidInputError("say why the output is blocked", field="reason")
        data = content.encode() if isinstance(content, str) else content
        if len(data) > self.limits.max_bytes:
            raise ContentTooLargeError(f"the output is {len(data)} bytes, over the limit of {self.limits.max_bytes}")
        kind = kind or guess_kind(data)
        norm: str | None = None
        if kind == "text":
            norm = normalised_sha256(decode_text(data, field="content")).hex()
        elif kind == "image":
            open_image(data, self.limits, field="content")
        else:
            raise InvalidInputError(f"unknown kind {kind!r}; expected text or image", field="kind")
        sha = self.blobs.put(data)
        block_id = new_id("blk")
        with self.store.write() as s:
            provider = s.get(Party, provider_id)
            if provider is None or provider.role != Role.PROVIDER.value:
                raise NotFoundError(f"no provider {provider_id}", field="provider_id")
            payload = {"id": block_id, "provider_id": provider_id, "kind": kind, "sha256": sha, "reason": reason[:500]}
            if source:
                payload["source"] = source[:80]
            [receipt] = self.ledger.append(s, [Event("guard.block", actor.party_id, block_id, payload)])
            row = BlockedOutput(
                id=block_id,
                provider_id=provider_id,
                kind=kind,
                sha256=sha,
                norm_sha256=norm,
                reason=reason[:500],
                source=source[:80] if source else None,
                actor_id=actor.party_id,
                created_at=self.clock.now(),
                log_index=receipt.index,
            )
            s.add(row)
            s.flush()
            view = BlockedView(block_id, provider_id, kind, sha, row.reason, row.source, receipt.index)
        self._refresh_blocklist(force=True)
        return view

    def _refresh_blocklist(self, *, force: bool = False) -> None:
        self.blocklist.reload()
        if not force and time.monotonic() - self._blocklist_checked < self.refresh_seconds:
            return
        self._blocklist_checked = time.monotonic()
        with self.blocklist.lock():
            mark = self.blocklist.watermark
            with self.store.read() as s:
                rows = s.execute(
                    select(BlockedOutput.id, BlockedOutput.kind, BlockedOutput.sha256, BlockedOutput.norm_sha256)
                    .add_columns(BlockedOutput.log_index)
                    .where(BlockedOutput.log_index > mark)
                    .order_by(BlockedOutput.log_index)
                ).all()
            if not rows:
                return
            entries = [
                index_entry(r.id, r.kind, r.sha256, r.norm_sha256, self.blobs.get(r.sha256), self.limits) for r in rows
            ]
            self.blocklist.add(entries)
            self.blocklist.set_watermark(int(rows[-1].log_index))

    def _blocklist_hits(self, found: dict[str, Any], provider_id: str | None) -> list[OutputHit]:
        if not found:
            return []
        with self.store.read() as s:
            q = select(BlockedOutput).where(BlockedOutput.id.in_(list(found)))
            if provider_id is not None:
                q = q.where(BlockedOutput.provider_id == provider_id)
            rows = list(s.scalars(q))
        return [
            OutputHit(
                r.id,
                found[r.id].match,
                found[r.id].score,
                spans=tuple(sp.query for sp in found[r.id].spans),
                distance=found[r.id].distance,
                blocklist=True,
                detail={"reason": r.reason, "source": r.source},
            )
            for r in rows
        ]


def _as_output(content: str | bytes | Image.Image) -> bytes | Image.Image:
    return content.encode() if isinstance(content, str) else content


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


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


def _notice(verdicts: Sequence[Verdict]) -> str:
    """What the user is told: which works, never the evidence (that is for the provider)."""
    titles = sorted(
        {t for v in verdicts for r in v.reasons if r.action is not GuardAction.ALLOW for t in r.titles if t}
    )
    blocked = any(v.decision is GuardAction.BLOCK for v in verdicts)
    head = "This request was not fulfilled" if blocked else "Note"
    if titles:
        shown = "; ".join(titles[:5]) + ("; ..." if len(titles) > 5 else "")
        return f"{head}: it concerns protected works ({shown})."
    return f"{head}: it may concern protected works."


def _words(title: str) -> int:
    cjk = sum(1 for ch in title if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")
    return max(len(title.split()), 2 if cjk >= 2 else 0)


def _clean_names(names: Sequence[str]) -> list[str]:
    if isinstance(names, str) or not names:
        raise InvalidInputError("give at least one name (a list of strings)", field="names")
    if len(names) > MAX_NAMES:
        raise InvalidInputError(f"{len(names)} names; at most {MAX_NAMES} per term", field="names")
    out: list[str] = []
    for i, n in enumerate(names):
        if not isinstance(n, str) or not n.strip():
            raise InvalidInputError(f"name {i + 1} is empty", field="names")
        if len(n) > MAX_NAME_CHARS:
            raise InvalidInputError(f"name {i + 1} is {len(n)} characters; at most {MAX_NAME_CHARS}", field="names")
        out.append(" ".join(n.split()))
    return list(dict.fromkeys(out))


__all__ = [
    "BlockedView",
    "Delivery",
    "GuardService",
    "TermView",
    "TraceLookup",
    "TraceView",
    "Verdict",
    "load_or_create_secret",
    "trace_id_from_payload",
    "trace_payload",
]
