"""``journey``: the provider's duties along its users' journey (seed 004 ¶84, ¶18, ¶26; seed 003 §4.3).

Before use, the provider publishes terms of use with the users' copyright commitments and records who accepted
which version (:mod:`.consent`); while in use, the guard's decisions on a user's prompts feed dynamic warnings
and a cooling-off period (:mod:`.escalation`); a user who fine-tunes a model registers it with its training set,
which is scanned like a corpus before training is allowed (:mod:`.adapters`). The journey sits above the guard:
it subscribes to the guard's hooks (``user_checks``, ``prompt_hooks``, ``model_checks``), which ``connect``
wires, as the takedown desk subscribes its strikes.

:class:`JourneyService` is the facade that authorises each call.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from copyalign.core.authz import Action, Role, require
from copyalign.core.journey.consent import clean_users
from copyalign.core.policy import PolicyProfile
from copyalign.errors import InvalidInputError
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.results import Refusal, Verdict
from copyalign.services.guard.service import GuardService
from copyalign.services.journey.adapters import Adapters
from copyalign.services.journey.consent import TermsOfUse, provider_row
from copyalign.services.journey.escalation import Escalations
from copyalign.services.journey.results import AcceptanceBatch, AdapterView, TermsView, UserStanding
from copyalign.services.registry.parties import Principal
from copyalign.services.scan.service import ScanService

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class JourneyService(ServiceBase):
    def __init__(self, deps: Deps, guard: GuardService, scan: ScanService, *, work_dir: Path) -> None:
        super().__init__(deps)
        self.guard = guard
        self.terms = TermsOfUse(deps)
        self.escalations = Escalations(deps, self.terms)
        self.adapters = Adapters(deps, guard, scan, work_dir=work_dir)
        self._parts: tuple[ServiceBase, ...] = (self.terms, self.escalations, self.adapters)

    @property
    def policy(self) -> PolicyProfile:
        return self._policy

    @policy.setter
    def policy(self, value: PolicyProfile) -> None:
        self._policy = value
        for part in getattr(self, "_parts", ()):
            part.policy = value

    # -- the guard's hooks -----------------------------------------------------------------------------
    def user_check(self, provider_id: str, user_ref: str) -> Refusal | None:
        """Terms first (a user who has not accepted the current version), then a cooling-off period."""
        return self.terms.refusal(provider_id, user_ref) or self.escalations.refusal(provider_id, user_ref)

    def prompt_hook(self, provider_id: str, user_ref: str, verdict: Verdict) -> str | None:
        return self.escalations.record(provider_id, user_ref, verdict)

    def model_check(self, provider_id: str, model: str) -> Refusal | None:
        return self.adapters.refusal(provider_id, model)

    # -- terms of use ----------------------------------------------------------------------------------
    def publish_terms(
        self,
        actor: Principal,
        version: str,
        *,
        texts: Mapping[str, str] | None = None,
        provider_id: str | None = None,
    ) -> TermsView:
        """Publish a version of the provider's terms (``texts`` per language, else the profile's commitments)."""
        provider_id = self._provider(actor, provider_id)
        require(actor.role, Action.JOURNEY_TERMS_PUBLISH, owner=provider_id == actor.party_id)
        return self.terms.publish(provider_id, actor.party_id, version, texts)

    def list_terms(self, actor: Principal, provider_id: str | None = None) -> list[TermsView]:
        provider_id = self._provider(actor, provider_id)
        require(actor.role, Action.JOURNEY_TERMS_READ, owner=True)
        return self.terms.versions(provider_id)

    def accept_terms(
        self,
        actor: Principal,
        version: str,
        *,
        users: Sequence[str] = (),
        user_refs: Sequence[str] = (),
        provider_id: str | None = None,
    ) -> AcceptanceBatch:
        """Record that the provider's ``users`` (named, or by pseudonym) accepted ``version`` of its terms. A
        provider records acceptances of its own terms only: naming another provider is refused."""
        provider_id = self._provider(actor, provider_id)
        require(actor.role, Action.JOURNEY_TERMS_ACCEPT, owner=provider_id == actor.party_id)
        named = clean_users(users) if users else []
        refs = clean_users(user_refs) if user_refs else []
        if not named and not refs:
            raise InvalidInputError("the batch names no user", field="users")
        for r in refs:
            if len(r) != 32 or any(c not in "0123456789abcdef" for c in r):
                raise InvalidInputError(f"not a user pseudonym: {r!r} (32 hex digits)", field="user_refs")
        all_refs = [self.guard.keys.user_ref(u) for u in named] + refs
        return self.terms.accept(provider_id, actor.party_id, version, all_refs)

    # -- a user's standing -----------------------------------------------------------------------------
    def standing(
        self,
        actor: Principal,
        *,
        user: str | None = None,
        user_ref: str | None = None,
        provider_id: str | None = None,
    ) -> UserStanding:
        """A user's standing along the journey at a provider: terms accepted and escalation level. The provider
        names its user (or a pseudonym) and shows the answer to the user; the operator and auditors name the
        provider and the pseudonym."""
        provider_id = self._provider(actor, provider_id)
        require(actor.role, Action.JOURNEY_STANDING, owner=provider_id == actor.party_id)
        if (user is None) == (user_ref is None):
            raise InvalidInputError("name the user or its pseudonym", field="user")
        ref = self.guard.keys.user_ref(user) if user is not None else str(user_ref)
        if not ref:
            raise InvalidInputError("the user is empty", field="user")
        with self.store.read() as s:
            provider_row(s, provider_id)
            now = self.clock.now()
            lv = self.escalations.level(s, provider_id, ref, now)
            current = self.terms.current(s, provider_id)
            accepted = self.terms.accepted(s, provider_id, ref)
            total = self.escalations.total(s, provider_id, ref)
        version = current.version if current is not None else None
        return UserStanding(
            provider_id,
            ref,
            version,
            accepted,
            version is not None and version in accepted,
            self.policy.journey.require_terms,
            lv.response,
            lv.step,
            lv.flags,
            lv.until,
            total,
            self.escalations.message(lv, version),
        )

    # -- user models -----------------------------------------------------------------------------------
    def register_adapter(
        self,
        actor: Principal,
        *,
        name: str,
        base_model: str,
        training_set: Path,
        user: str,
        method: str = "lora",
        provider_id: str | None = None,
    ) -> AdapterView:
        """Register a user model with its training set; the set is scanned before training is allowed."""
        provider_id = self._provider(actor, provider_id)
        require(actor.role, Action.JOURNEY_ADAPTER, owner=provider_id == actor.party_id)
        return self.adapters.register(
            actor, provider_id, name=name, base_model=base_model, training_set=training_set, user=user, method=method
        )

    def register_adapter_items(
        self,
        actor: Principal,
        items: Sequence[tuple[str, bytes]],
        *,
        name: str,
        base_model: str,
        user: str,
        method: str = "lora",
        provider_id: str | None = None,
    ) -> AdapterView:
        """:meth:`register_adapter` for a training set sent as ``(file name, bytes)`` items (the API's upload):
        they are written to a temporary folder that is gone afterwards."""
        provider_id = self._provider(actor, provider_id)
        require(actor.role, Action.JOURNEY_ADAPTER, owner=provider_id == actor.party_id)
        if not items:
            raise InvalidInputError("the training set has no item", field="items")
        with tempfile.TemporaryDirectory(prefix="copyalign-user-model-") as tmp:
            root = Path(tmp) / "set"
            root.mkdir()
            for i, (fname, data) in enumerate(items):
                if not _SAFE_NAME.match(fname) or (root / fname).exists():
                    raise InvalidInputError(f"item {i + 1}: {fname!r} is not a new plain file name", field="items")
                (root / fname).write_bytes(data)
            return self.register_adapter(
                actor,
                name=name,
                base_model=base_model,
                training_set=root,
                user=user,
                method=method,
                provider_id=provider_id,
            )

    def review_adapter(self, actor: Principal, adapter_id: str, *, decision: str, reason: str) -> AdapterView:
        """The provider's review of a held user model: allow (not while items are unreadable) or block."""
        owner = self.adapters.owner(adapter_id)
        require(actor.role, Action.JOURNEY_ADAPTER, owner=owner == actor.party_id)
        return self.adapters.review(actor.party_id, adapter_id, decision=decision, reason=reason)

    def attach_adapter(self, actor: Principal, adapter_id: str, data: bytes) -> AdapterView:
        """Record the trained adapter's file digest (training happened after the set was allowed)."""
        owner = self.adapters.owner(adapter_id)
        require(actor.role, Action.JOURNEY_ADAPTER, owner=owner == actor.party_id)
        return self.adapters.attach(actor.party_id, adapter_id, data)

    def adapter(self, actor: Principal, adapter_id: str) -> AdapterView:
        owner = self.adapters.owner(adapter_id)
        require(actor.role, Action.JOURNEY_ADAPTER_READ, owner=owner == actor.party_id)
        return self.adapters.get(adapter_id)

    def list_adapters(self, actor: Principal, provider_id: str | None = None) -> list[AdapterView]:
        provider_id = self._provider(actor, provider_id)
        require(actor.role, Action.JOURNEY_ADAPTER_READ, owner=provider_id == actor.party_id)
        return self.adapters.list(provider_id)

    @staticmethod
    def _provider(actor: Principal, provider_id: str | None) -> str:
        if provider_id is not None:
            return provider_id
        if actor.role is Role.PROVIDER:
            return actor.party_id
        raise InvalidInputError("name the provider (provider_id)", field="provider_id")


__all__ = ["JourneyService"]
