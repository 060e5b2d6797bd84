"""Terms of use and their acceptance (seed 004 ¶84: disclaimers before use; seed 003 §4.3: the users' compliance
commitments written into the user agreement).

A provider publishes versions of its terms (its own texts, or the profile's copyright commitments); each
version is a log entry committing to its texts' digest. The provider reports the users who accepted a version in
batches; each batch is a log entry committing to the digest of its pseudonyms. When the profile requires it, the
guard refuses a named user who has not accepted the provider's current version, saying which one (the journey
subscribes :meth:`TermsOfUse.refusal` to ``GuardService.user_checks``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from copyalign.core.journey.consent import batch_digest, check_texts, check_version, texts_digest
from copyalign.errors import ConflictError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.results import Refusal
from copyalign.services.journey.results import AcceptanceBatch, TermsView, terms_view
from copyalign.services.log.ledger import Event
from copyalign.store.batching import in_batches
from copyalign.store.models import JourneyAcceptance, JourneyTerms, Party


class TermsOfUse(ServiceBase):
    def __init__(self, deps: Deps, *, refresh_seconds: float = 1.0) -> None:
        super().__init__(deps)
        self.refresh_seconds = refresh_seconds
        # the guard's check on every named request: the providers' current versions, read again at most every
        # refresh_seconds (at once after a version published here), and the acceptances already seen (an
        # acceptance is never withdrawn, so a user seen to have accepted costs no query again)
        self._current: dict[str, tuple[float, str, str, str] | None] = {}
        self._accepted: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def publish(
        self, provider_id: str, actor_id: str, version: str, texts: Mapping[str, str] | None = None
    ) -> TermsView:
        """Publish ``version`` of the provider's terms: ``texts`` per language, or the profile's commitments.
        The newest version published is the current one; a version is never changed once published."""
        version = check_version(version)
        clean = check_texts(texts if texts is not None else self.policy.journey.terms)
        with self.store.write() as s:
            provider_row(s, provider_id)
            clash = s.execute(
                select(JourneyTerms.id).where(JourneyTerms.provider_id == provider_id, JourneyTerms.version == version)
            ).scalar_one_or_none()
            if clash is not None:
                raise ConflictError(
                    f"terms version {version} is already published; publish a new version instead", field="version"
                )
            tid = new_id("tou")
            now = self.clock.now()
            sha = texts_digest(clean)
            payload = {
                "terms": tid,
                "provider": provider_id,
                "version": version,
                "texts_sha256": sha,
                "languages": sorted(clean),
                "policy": self.policy.profile.name,
            }
            [receipt] = self.ledger.append(s, [Event("journey.terms.publish", actor_id, tid, payload)], at=now)
            row = JourneyTerms(
                id=tid,
                provider_id=provider_id,
                version=version,
                texts=clean,
                texts_sha256=sha,
                published_at=now,
                log_index=receipt.index,
            )
            s.add(row)
            s.flush()
            with self._lock:
                self._current.pop(provider_id, None)
            return terms_view(row, current=True)

    def versions(self, provider_id: str) -> list[TermsView]:
        with self.store.read() as s:
            provider_row(s, provider_id)
            rows = list(s.scalars(_ordered(provider_id)))
        return [terms_view(r, current=i == len(rows) - 1) for i, r in enumerate(rows)]

    def current(self, s: Session, provider_id: str) -> JourneyTerms | None:
        """The provider's current terms: the newest version published."""
        q = (
            select(JourneyTerms)
            .where(JourneyTerms.provider_id == provider_id)
            .order_by(JourneyTerms.published_at.desc(), JourneyTerms.log_index.desc())
        )
        return s.scalars(q).first()

    def get(self, s: Session, provider_id: str, version: str) -> JourneyTerms:
        row = s.execute(
            select(JourneyTerms).where(JourneyTerms.provider_id == provider_id, JourneyTerms.version == version)
        ).scalar_one_or_none()
        if row is None:
            known = [r.version for r in s.scalars(_ordered(provider_id))]
            listed = ", ".join(known) if known else "none published"
            raise NotFoundError(
                f"no terms version {version!r} of provider {provider_id} (versions: {listed})", field="version"
            )
        return row

    def accept(self, provider_id: str, actor_id: str, version: str, user_refs: Sequence[str]) -> AcceptanceBatch:
        """Record that ``user_refs`` accepted ``version``: one log entry for the batch, committing to the
        digest of its pseudonyms; users who had already accepted it are counted, not recorded twice."""
        version = check_version(version)
        refs = list(dict.fromkeys(user_refs))
        with self.store.write() as s:
            provider_row(s, provider_id)
            terms = self.get(s, provider_id, version)
            already: set[str] = set()
            for chunk in in_batches(refs):
                already.update(
                    s.execute(
                        select(JourneyAcceptance.user_ref).where(
                            JourneyAcceptance.terms_id == terms.id, JourneyAcceptance.user_ref.in_(chunk)
                        )
                    ).scalars()
                )
            new = [u for u in refs if u not in already]
            batch = new_id("acb")
            sha = batch_digest(refs)
            if not new:
                return AcceptanceBatch(batch, provider_id, version, len(refs), 0, sha, None, refs)
            now = self.clock.now()
            payload = {
                "batch": batch,
                "provider": provider_id,
                "terms": terms.id,
                "version": version,
                "texts_sha256": terms.texts_sha256,
                "users": len(new),
                "users_sha256": batch_digest(new),
            }
            [receipt] = self.ledger.append(s, [Event("journey.terms.accept", actor_id, batch, payload)], at=now)
            s.add_all(
                JourneyAcceptance(
                    terms_id=terms.id,
                    user_ref=u,
                    provider_id=provider_id,
                    accepted_at=now,
                    batch=batch,
                    log_index=receipt.index,
                )
                for u in new
            )
            return AcceptanceBatch(
                batch, provider_id, version, len(refs), len(new), batch_digest(new), receipt.index, refs
            )

    def accepted(self, s: Session, provider_id: str, user_ref: str) -> list[str]:
        """The versions the user accepted at the provider, oldest first."""
        rows = s.execute(
            select(JourneyTerms.version)
            .join(JourneyAcceptance, JourneyAcceptance.terms_id == JourneyTerms.id)
            .where(JourneyAcceptance.provider_id == provider_id, JourneyAcceptance.user_ref == user_ref)
            .order_by(JourneyTerms.published_at, JourneyTerms.log_index)
        )
        return list(rows.scalars())

    def refusal(self, provider_id: str, user_ref: str) -> Refusal | None:
        """The guard's user check: with ``journey.require_terms``, a user who has not accepted the provider's
        current terms is refused, told which version to accept."""
        if not self.policy.journey.require_terms or not user_ref:
            return None
        current = self._current_of(provider_id)
        if current is None:
            return Refusal(
                "This service requires its users to accept its terms of use, and has published none yet; "
                "no request is served until it does (seed 004 ¶84).",
                "user.terms",
                {"terms": None},
            )
        terms_id, version, sha = current
        if (terms_id, user_ref) in self._accepted:
            return None
        with self.store.read() as s:
            ok = s.get(JourneyAcceptance, (terms_id, user_ref)) is not None
        if ok:
            with self._lock:
                self._accepted.add((terms_id, user_ref))
            return None
        return Refusal(
            f"Accept the terms of use (version {version}) before using this service: they include your "
            "copyright commitments (no prompts highly correlated with others' copyrighted works, no imitation of "
            "specific works, characters or protected creators' styles) (seed 004 ¶84).",
            "user.terms",
            {"terms": version, "terms_sha256": sha},
        )

    def _current_of(self, provider_id: str) -> tuple[str, str, str] | None:
        """(id, version, texts digest) of the provider's current terms, cached for ``refresh_seconds``."""
        with self._lock:
            cached = self._current.get(provider_id)
            if cached is not None and time.monotonic() - cached[0] < self.refresh_seconds:
                return None if not cached[1] else (cached[1], cached[2], cached[3])
        with self.store.read() as s:
            row = self.current(s, provider_id)
            found = (row.id, row.version, row.texts_sha256) if row is not None else ("", "", "")
        with self._lock:
            if len(self._accepted) > 1_000_000:  # a bound on memory, not on correctness
                self._accepted.clear()
            self._current[provider_id] = (time.monotonic(), *found)
        return found if found[0] else None


def _ordered(provider_id: str) -> Select[JourneyTerms]:
    return (
        select(JourneyTerms)
        .where(JourneyTerms.provider_id == provider_id)
        .order_by(JourneyTerms.published_at, JourneyTerms.log_index)
    )


def provider_row(s: Session, provider_id: str) -> Party:
    p = s.get(Party, provider_id)
    if p is None or p.role != "provider":
        raise NotFoundError(f"no provider {provider_id}", field="provider_id")
    return p


__all__ = ["TermsOfUse", "provider_row"]
