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

:class:`GuardService` is the facade that authorises each call and hands it to its part: the term base
(:mod:`.terms`), screening (:mod:`.screening`), delivery (:mod:`.delivery`), traces (:mod:`.traces`) and
the provider's blocklist (:mod:`.blocklist`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image

from copyalign.core.authz import Action, Role, require
from copyalign.core.guard.prompts import PromptRules
from copyalign.core.guard.rules import GuardAction, OutputRules, Reason
from copyalign.core.guard.terms import TermBase
from copyalign.core.policy import PolicyProfile
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.blocklist import Blocklist
from copyalign.services.guard.delivery import Deliveries
from copyalign.services.guard.keys import GuardKeys, load_or_create_secret
from copyalign.services.guard.results import (
    BlockedView,
    Delivery,
    ModelCheck,
    PromptHook,
    Refusal,
    TermView,
    TraceLookup,
    TraceView,
    UserCheck,
    Verdict,
    trace_id_from_payload,
    trace_payload,
)
from copyalign.services.guard.screening import Screening, as_output
from copyalign.services.guard.terms import GuardTerms
from copyalign.services.guard.traces import Traces
from copyalign.services.matching.index import MatchIndex
from copyalign.services.matching.service import MatchService
from copyalign.services.registry.parties import Principal


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
        self.keys = GuardKeys.derive(secret)
        self.term_store = GuardTerms(deps, refresh_seconds=refresh_seconds)
        self.blocklist = Blocklist(deps, blocklist, refresh_seconds=refresh_seconds)
        self.screening = Screening(deps, matching, self.term_store, self.blocklist)
        self.traces = Traces(deps, self.keys)
        self.deliveries = Deliveries(deps, self.keys, self.traces, c2pa_dir=c2pa_dir)
        self.user_checks: list[UserCheck] = []
        """Consulted, with the provider id and the user's pseudonym, before a request of a named user is
        screened: the first :class:`Refusal` refuses it. The takedown desk, a mechanism above the guard,
        subscribes its graduated response here (seed 004 ¶85: a suspended user's requests are refused), as
        ``PreferenceService.on_opt_out`` lets the notices react to an opt-out. The user journey subscribes the
        terms of use (a user who has not accepted the current version) and the cooling-off period (¶84)."""
        self.model_checks: list[ModelCheck] = []
        """Consulted with the provider id and the model a generation goes through: the user journey refuses a
        user model that is not allowed or that a takedown measure removed (seed 004 ¶26)."""
        self.prompt_hooks: list[PromptHook] = []
        """Called after a named user's prompt is screened, with the verdict: the user journey counts flagged
        prompts and answers the stronger warning of its escalation (seed 004 ¶84), which the verdict carries."""
        self._parts: tuple[ServiceBase, ...] = (
            self.term_store,
            self.blocklist,
            self.screening,
            self.traces,
            self.deliveries,
        )

    # The profile and the refresh cadence are the guard's as a whole: setting them here sets every part's
    # (an operator reloading a policy, a test that changes one rule).
    @property
    def policy(self) -> PolicyProfile:
        return self._policy

    @policy.setter
    def policy(self, value: PolicyProfile) -> None:
        self._policy = value
        for part in getattr(self, "_parts", ()):
            part.policy = value

    @property
    def refresh_seconds(self) -> float:
        return self.term_store.refresh_seconds

    @refresh_seconds.setter
    def refresh_seconds(self, value: float) -> None:
        self.term_store.refresh_seconds = value
        self.blocklist.refresh_seconds = value

    # -- rules from the policy -------------------------------------------------------------------------
    @property
    def prompt_rules(self) -> PromptRules:
        return self.screening.prompt_rules

    @property
    def output_rules(self) -> OutputRules:
        return self.screening.output_rules

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
        """Add a character, a creator who asked for protection, or a title's aliases and translations."""
        return self.term_store.add(actor, kind=kind, names=names, work_ids=work_ids, holder_id=holder_id)

    def revoke_term(self, actor: Principal, term_id: str) -> TermView:
        return self.term_store.revoke(actor, term_id)

    def terms(self, actor: Principal, *, include_revoked: bool = False) -> list[TermView]:
        return self.term_store.list(actor, include_revoked=include_revoked)

    def term_base(self) -> TermBase:
        return self.term_store.base()

    # -- screening -------------------------------------------------------------------------------------
    def check_prompt(self, actor: Principal, prompt: str, *, user: str = "") -> Verdict:
        """Screen a prompt; with ``user``, a user under a sanction that refuses service is refused first."""
        require(actor.role, Action.GUARD_CHECK, owner=actor.role is Role.PROVIDER)
        refused = self.refusal(actor.party_id, user, prompt)
        return refused if refused is not None else self._screen_prompt(actor.party_id, user, prompt)

    def refusal(self, provider_id: str, user: str, prompt: str | None = None, *, model: str = "") -> Verdict | None:
        """The verdict refusing ``user``'s request, when a user check refuses it (None for an unnamed user), or
        refusing the generation's ``model``, when a model check refuses it."""
        if model and self.model_checks:
            for mcheck in self.model_checks:
                found = mcheck(provider_id, model)
                if found is not None:
                    return _refusal_verdict(found, self.keys.user_ref(user), prompt)
        if not user or not self.user_checks:
            return None
        user_ref = self.keys.user_ref(user)
        for check in self.user_checks:
            found = check(provider_id, user_ref)
            if found is not None:
                return _refusal_verdict(found, user_ref, prompt)
        return None

    def _screen_prompt(self, provider_id: str, user: str, prompt: str) -> Verdict:
        """Screen a prompt; a named user's verdict goes to the prompt hooks, whose notice it then carries."""
        verdict = self.screening.prompt(prompt)
        if not user or not self.prompt_hooks:
            return verdict
        user_ref = self.keys.user_ref(user)
        notices = [n for hook in self.prompt_hooks if (n := hook(provider_id, user_ref, verdict)) is not None]
        return dataclasses.replace(verdict, notice=" ".join(notices)) if notices else verdict

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
        pixels (:func:`~copyalign.core.matching.query.pixel_sha256`), since there is no file yet.
        ``provider_id`` is whose blocklist applies: the provider itself, or, for the operator, any one
        provider (None: every provider's).
        """
        own = actor.role is Role.PROVIDER and provider_id in (None, actor.party_id)
        require(actor.role, Action.GUARD_CHECK, owner=own)
        if actor.role is Role.PROVIDER:
            provider_id = actor.party_id
        return self.screening.output(as_output(content), kind, provider_id)[0]

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
        refused = self.refusal(actor.party_id, user, prompt, model=model)
        if refused is not None:
            return self._refused(actor.party_id, refused, prompt=prompt, user=user, model=model)
        verdicts: list[Verdict] = []
        if prompt is not None:
            verdicts.append(self._screen_prompt(actor.party_id, user, prompt))
        data = as_output(output)
        verdict, decoded = self.screening.output(data, kind, actor.party_id)
        verdicts.append(verdict)
        d = self.deliveries.deliver(
            actor.party_id, data, decoded, verdict.kind, verdicts, prompt=prompt, user=user, model=model
        )
        return _with_escalation(d, verdicts[0] if prompt is not None else None)

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
        refused = self.refusal(actor.party_id, user, prompt, model=model)
        if refused is not None:
            return self._refused(actor.party_id, refused, prompt=prompt, user=user, model=model)
        pv = self._screen_prompt(actor.party_id, user, prompt)
        if pv.decision is GuardAction.BLOCK:
            d = self.deliveries.refused(actor.party_id, [pv], prompt=prompt, user=user, model=model)
            return _with_escalation(d, pv)
        data = as_output(generator(prompt))
        ov, decoded = self.screening.output(data, None, actor.party_id)
        d = self.deliveries.deliver(
            actor.party_id, data, decoded, ov.kind, [pv, ov], prompt=prompt, user=user, model=model
        )
        return _with_escalation(d, pv)

    def _refused(self, provider_id: str, verdict: Verdict, *, prompt: str | None, user: str, model: str) -> Delivery:
        """A request refused for its user: traced, never screened or generated; the user is told why."""
        d = self.deliveries.refused(provider_id, [verdict], prompt=prompt, user=user, model=model)
        return dataclasses.replace(d, notice=verdict.reasons[0].evidence.get("message"))

    # -- traces ----------------------------------------------------------------------------------------
    def trace(self, actor: Principal, trace_id: str) -> TraceView:
        return self.traces.get(actor, trace_id)

    def trace_content(self, actor: Principal, data: bytes) -> TraceLookup:
        """Read every mark a file carries and return the trace it leads to, if the actor may read it."""
        return self.traces.lookup_content(actor, data)

    def seal(self, actor: Principal) -> int | None:
        """Commit every unsealed trace to the log; returns the log index, or None when nothing was unsealed."""
        require(actor.role, Action.GUARD_CHECK, owner=actor.role is Role.PROVIDER)
        return self.traces.seal(actor.party_id)

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
        return self.blocklist.add(actor, content, reason=reason, source=source, provider_id=provider_id, kind=kind)

    def unblock_output(self, actor: Principal, block_id: str, *, reason: str) -> BlockedView:
        """Lift a block when the takedown that asked for it is restored or reversed (seed 004 ¶88)."""
        return self.blocklist.lift(actor, block_id, reason=reason)


def _with_escalation(d: Delivery, prompt_verdict: Verdict | None) -> Delivery:
    """The delivery with the escalation's warning (carried by the prompt's verdict) put before its notice."""
    if prompt_verdict is None or prompt_verdict.notice is None:
        return d
    notice = prompt_verdict.notice if d.notice is None else f"{prompt_verdict.notice} {d.notice}"
    return dataclasses.replace(d, notice=notice)


def _refusal_verdict(refusal: Refusal, user_ref: str, prompt: str | None) -> Verdict:
    evidence = {"message": refusal.message, "user": user_ref, **refusal.evidence}
    sha = hashlib.sha256((prompt or "").encode()).hexdigest()
    return Verdict(
        "prompt", "text", sha, GuardAction.BLOCK, (Reason(refusal.rule, GuardAction.BLOCK, (), (), evidence),)
    )


__all__ = [
    "BlockedView",
    "Delivery",
    "GuardService",
    "ModelCheck",
    "PromptHook",
    "Refusal",
    "TermView",
    "TraceLookup",
    "TraceView",
    "UserCheck",
    "Verdict",
    "load_or_create_secret",
    "trace_id_from_payload",
    "trace_payload",
]
