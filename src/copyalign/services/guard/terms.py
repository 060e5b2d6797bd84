"""The guard's term base: registry titles plus the characters, creators, aliases and translations that holders
and the operator curate, compiled into one automaton for the prompt filter (:mod:`copyalign.core.guard.terms`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, Role, require
from copyalign.core.guard.terms import Term, TermBase, TermKind
from copyalign.core.text import title_words
from copyalign.errors import InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.results import TermView, term_view
from copyalign.services.log.ledger import Event
from copyalign.services.registry.parties import Principal
from copyalign.store.models import GuardTerm, Party, Work

MAX_NAMES = 50
MAX_NAME_CHARS = 200


class GuardTerms(ServiceBase):
    def __init__(self, deps: Deps, *, refresh_seconds: float = 1.0) -> None:
        super().__init__(deps)
        self.refresh_seconds = refresh_seconds
        self._base: TermBase | None = None
        self._stamp: tuple[int, int] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def add(
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
                require(actor.role, Action.GUARD_TERM, owner=False)  # the refusal in words, with its codes
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
                    require(actor.role, Action.GUARD_TERM, owner=False)
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

    def revoke(self, actor: Principal, term_id: str) -> TermView:
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

    def list(self, actor: Principal, *, include_revoked: bool = False) -> list[TermView]:
        """The curated terms the actor may see: all of them for the operator, its own for a rights holder."""
        require(actor.role, Action.GUARD_TERM, owner=True)
        q = select(GuardTerm).order_by(GuardTerm.created_at, GuardTerm.id)
        if actor.role is not Role.OPERATOR:
            q = q.where(GuardTerm.holder_id == actor.party_id)
        if not include_revoked:
            q = q.where(GuardTerm.revoked_at.is_(None))
        with self.store.read() as s:
            return [term_view(r) for r in s.scalars(q)]

    def base(self) -> TermBase:
        """The compiled term base, rebuilt when a work or a term changed (checked at most every
        ``refresh_seconds``)."""
        with self._lock:
            if self._base is not None and time.monotonic() - self._checked < self.refresh_seconds:
                return self._base
            with self.store.read() as s:
                stamp = (
                    int(s.execute(select(func.coalesce(func.max(Work.log_index), -1))).scalar_one()),
                    int(s.execute(select(func.coalesce(func.max(GuardTerm.log_index), -1))).scalar_one()),
                )
                if self._base is None or stamp != self._stamp:
                    self._base = TermBase.build(self._load(s), min_name_chars=self.policy.guard.min_term_chars)
                    self._stamp = stamp
            self._checked = time.monotonic()
            return self._base

    def _load(self, s: Session) -> Iterable[Term]:
        min_words = self.policy.guard.title_min_words
        for wid, title, holder in s.execute(select(Work.id, Work.title, Work.holder_id)):
            if title_words(title) >= min_words:
                yield Term(f"work:{wid}", TermKind.TITLE, (title,), (wid,), holder)
        for row in s.scalars(select(GuardTerm).where(GuardTerm.revoked_at.is_(None))):
            yield Term(row.id, TermKind(row.kind), tuple(row.names), tuple(row.work_ids), row.holder_id)


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


__all__ = ["MAX_NAMES", "MAX_NAME_CHARS", "GuardTerms"]
