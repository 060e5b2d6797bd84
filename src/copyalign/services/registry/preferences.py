"""Setting and reading AI-use preferences: append-only statements, each with its log entry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, Role, require
from copyalign.core.canonical import format_time
from copyalign.core.registry.preferences import (
    Purpose,
    Resolved,
    Scope,
    Statement,
    Value,
    parse_jurisdiction,
    parse_purpose,
    parse_value,
    resolve_all,
)
from copyalign.errors import InvalidInputError, NotFoundError
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.log.ledger import Event, Ledger, Receipt
from copyalign.services.registry.parties import Principal
from copyalign.store.models import LogEntry, Party, Work
from copyalign.store.models import Preference as PreferenceRow


@dataclass(frozen=True, slots=True)
class PreferenceInput:
    """A preference as a caller states it; parsed with :meth:`parse` at the boundary."""

    purpose: Purpose
    value: Value
    jurisdiction: str = "*"
    effective_at: datetime | None = None  # None: from the moment it is recorded

    @classmethod
    def parse(
        cls, purpose: str, value: str, jurisdiction: str = "*", effective_at: datetime | None = None
    ) -> PreferenceInput:
        if effective_at is not None and effective_at.tzinfo is None:
            raise InvalidInputError("effective_at must carry a time zone", field="effective_at")
        return cls(parse_purpose(purpose), parse_value(value), parse_jurisdiction(jurisdiction), effective_at)


def statement(row: PreferenceRow) -> Statement:
    return Statement(
        scope=Scope.HOLDER if row.work_id is None else Scope.WORK,
        purpose=Purpose(row.purpose),
        value=Value(row.value),
        jurisdiction=row.jurisdiction,
        effective_at=row.effective_at,
        recorded_at=row.recorded_at,
        log_index=row.log_index,
    )


def record_preferences(
    session: Session,
    ledger: Ledger,
    *,
    actor: str,
    holder_id: str,
    work_ids: Sequence[str | None],
    prefs: Sequence[Sequence[PreferenceInput]],
    now: datetime,
) -> list[Receipt]:
    """Write preference rows and their log entries for many works at once (bulk registration uses it)."""
    events: list[Event] = []
    rows: list[dict[str, Any]] = []
    for work_id, plist in zip(work_ids, prefs, strict=True):
        for p in plist:
            effective = p.effective_at or now
            payload = {
                "holder": holder_id,
                "work": work_id,
                "purpose": p.purpose.value,
                "value": p.value.value,
                "jurisdiction": p.jurisdiction,
                "effective_at": format_time(effective),
            }
            events.append(Event("preference.set", actor, work_id or holder_id, payload))
            rows.append(
                {
                    "holder_id": holder_id,
                    "work_id": work_id,
                    "purpose": p.purpose.value,
                    "value": p.value.value,
                    "jurisdiction": p.jurisdiction,
                    "effective_at": effective,
                    "recorded_at": now,
                    "actor_id": actor,
                }
            )
    receipts = ledger.append(session, events, at=now)
    if rows:
        for row, r in zip(rows, receipts, strict=True):
            row["log_index"] = r.index
        session.connection().execute(insert(PreferenceRow), rows)
    return receipts


def statements_for(session: Session, works: Iterable[Work]) -> dict[str, list[Statement]]:
    """Every statement bearing on each work (its own and its holder's defaults), in one query."""
    works = list(works)
    if not works:
        return {}
    work_ids = [w.id for w in works]
    holders = {w.holder_id for w in works}
    rows = session.execute(
        select(PreferenceRow).where(
            or_(
                PreferenceRow.work_id.in_(work_ids),
                (PreferenceRow.work_id.is_(None)) & PreferenceRow.holder_id.in_(holders),
            )
        )
    ).scalars()
    by_work: dict[str, list[Statement]] = {w: [] for w in work_ids}
    by_holder: dict[str, list[Statement]] = {h: [] for h in holders}
    for row in rows:
        if row.work_id is None:
            by_holder[row.holder_id].append(statement(row))
        else:
            by_work[row.work_id].append(statement(row))
    return {w.id: by_work[w.id] + by_holder[w.holder_id] for w in works}


@dataclass(frozen=True, slots=True)
class OptOut:
    """A ``deny`` that took effect as it was recorded: what other mechanisms react to, in the same
    transaction (the training notices' dynamic filtering, seed 001 §3.2). ``work_ids`` empty: the holder's
    default for all its works changed."""

    work_ids: tuple[str, ...]
    holder_id: str
    purposes: frozenset[Purpose]
    actor_id: str
    at: datetime


OptOutHook = Callable[[Session, OptOut], None]
"""Called inside the preference's write transaction; an exception rolls the preference back too."""


class PreferenceService(ServiceBase):
    """Preferences, and the hooks that react to an opt-out. The registry sits below licensing, so it does
    not call the notices itself: :func:`copyalign.context.connect` subscribes them (``on_opt_out``)."""

    def __init__(self, deps: Deps, *, on_opt_out: Sequence[OptOutHook] = ()) -> None:
        super().__init__(deps)
        self.on_opt_out: list[OptOutHook] = list(on_opt_out)

    def set(
        self,
        actor: Principal,
        *,
        pref: PreferenceInput,
        work_id: str | None = None,
        holder_id: str | None = None,
    ) -> Receipt:
        """State a preference for one work, or (``work_id=None``) the holder's default for all its works."""
        with self.store.write() as s:
            if work_id is not None:
                work = s.get(Work, work_id)
                if work is None:
                    raise NotFoundError(f"no work {work_id}", field="work_id")
                holder = work.holder_id
            else:
                holder = holder_id or actor.party_id
                party = s.get(Party, holder)
                if party is None:
                    raise NotFoundError(f"no party {holder}", field="holder_id")
                if party.role not in (Role.RIGHTS_HOLDER.value, Role.OPERATOR.value):
                    raise InvalidInputError(f"party {holder} holds no works", field="holder_id")
            require(actor.role, Action.PREFERENCE_SET, owner=holder == actor.party_id)
            now = self.clock.now()
            [receipt] = record_preferences(
                s,
                self.ledger,
                actor=actor.party_id,
                holder_id=holder,
                work_ids=[work_id],
                prefs=[[pref]],
                now=now,
            )
            if pref.value is Value.DENY and (pref.effective_at is None or pref.effective_at <= now):
                event = OptOut(
                    tuple([work_id] if work_id else []), holder, frozenset({pref.purpose}), actor.party_id, now
                )
                for hook in self.on_opt_out:
                    hook(s, event)
        return receipt

    def history(self, actor: Principal, work_id: str) -> list[Statement]:
        """Every statement bearing on a work, oldest first: the portal's history view."""
        with self.store.read() as s:
            work = s.get(Work, work_id)
            if work is None:
                raise NotFoundError(f"no work {work_id}", field="work_id")
            require(actor.role, Action.WORK_READ, owner=work.holder_id == actor.party_id)
            items = statements_for(s, [work])[work.id]
        return sorted(items, key=lambda st: (st.recorded_at, st.log_index or 0))

    def resolved(
        self, work: Work, statements: list[Statement], *, at: datetime, jurisdiction: str
    ) -> dict[Purpose, Resolved]:
        return resolve_all(statements, at=at, jurisdiction=jurisdiction, defaults=self.policy.preferences.defaults)


@dataclass(frozen=True, slots=True)
class PreferenceProof:
    """A statement, its log entry and the entry's inclusion proof in a signed checkpoint."""

    statement: Statement
    index: int
    entry: bytes
    proof: list[bytes]


def prove_preferences(service: PreferenceService, actor: Principal, work_id: str, size: int) -> list[PreferenceProof]:
    """For each (scope, purpose, jurisdiction) bearing on a work, its latest statement logged inside the
    checkpoint of ``size``, with the inclusion proof: "my deny was logged at N, inside the tree you cited"."""
    require(actor.role, Action.LOG_READ, owner=False)
    with service.store.read() as s:
        work = s.get(Work, work_id)
        if work is None:
            raise NotFoundError(f"no work {work_id}", field="work_id")
        latest: dict[tuple[Scope, Purpose, str], Statement] = {}
        for st in statements_for(s, [work])[work.id]:
            if st.log_index is None or st.log_index >= size:
                continue
            k = (st.scope, st.purpose, st.jurisdiction)
            if k not in latest or (latest[k].log_index or 0) < st.log_index:
                latest[k] = st
        entries = {
            e.idx: bytes(e.entry)
            for e in s.execute(
                select(LogEntry).where(LogEntry.idx.in_([st.log_index for st in latest.values()]))
            ).scalars()
        }
    out = []
    for st in sorted(latest.values(), key=lambda x: x.log_index or 0):
        idx = st.log_index or 0  # never None here: the filter above kept only logged statements
        out.append(PreferenceProof(st, idx, entries[idx], service.ledger.inclusion_proof(idx, size)))
    return out
