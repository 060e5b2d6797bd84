"""``lookup``: is this file registered, whose is it, and what does it allow — now or as of a past time.

Three ways to match, strongest first: the exact bytes (SHA-256), the same text after normalisation (a
re-encoded or re-wrapped copy), and ISCC Content-Code similarity (Hamming distance on 64 bits, within the
policy's ``lookup.iscc_max_distance``). The similarity index is four 16-bit bands of the code, each an
indexed column; a query probes each band with its exact value and all 16 one-bit variants, which finds every
code within distance 7 (by pigeonhole, one band then differs in at most one bit) with a handful of index
lookups instead of a scan. Near-duplicate and contained-passage matching is the matching engine's job.

*As of* T, only works registered at or before T count, and preferences resolve as the registry knew them at
T: that is the answer a rights holder can prove against a checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from copyalign.core.authz import Action, require
from copyalign.core.canonical import format_time
from copyalign.core.registry.fingerprint import Fingerprint, fingerprint
from copyalign.core.registry.iscc import band_probes, bands, hamming
from copyalign.core.registry.preferences import Purpose, Resolved, parse_jurisdiction, resolve_all
from copyalign.services.base import ServiceBase
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.preferences import statements_for
from copyalign.store.models import Party, Work

_MATCH_ORDER = {"exact": 0, "normalized": 1, "iscc": 2}


@dataclass(frozen=True, slots=True)
class Match:
    work_id: str
    title: str
    kind: str
    holder_id: str
    holder_name: str
    match: str  # exact | normalized | iscc
    distance: int
    registered_at: datetime
    iscc: str
    preferences: dict[Purpose, Resolved]

    def to_dict(self) -> dict[str, Any]:
        return {
            "work_id": self.work_id,
            "title": self.title,
            "kind": self.kind,
            "holder": {"id": self.holder_id, "name": self.holder_name},
            "match": self.match,
            "distance": self.distance,
            "registered_at": format_time(self.registered_at),
            "iscc": self.iscc,
            "preferences": {
                p.value: {
                    "value": r.value.value,
                    "source": r.source.value,
                    "since": format_time(r.statement.effective_at) if r.statement else None,
                    "log_index": r.statement.log_index if r.statement else None,
                }
                for p, r in self.preferences.items()
            },
        }


@dataclass(frozen=True, slots=True)
class LookupResult:
    as_of: datetime
    jurisdiction: str
    opt_out_binding: bool
    sha256: str
    iscc: str
    matches: list[Match]

    @property
    def registered(self) -> bool:
        return bool(self.matches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "registered": self.registered,
            "as_of": format_time(self.as_of),
            "jurisdiction": self.jurisdiction,
            "opt_out_binding": self.opt_out_binding,
            "sha256": self.sha256,
            "iscc": self.iscc,
            "matches": [m.to_dict() for m in self.matches],
        }


class LookupService(ServiceBase):
    def lookup(
        self,
        actor: Principal,
        data: bytes,
        *,
        kind: str | None = None,
        at: datetime | None = None,
        jurisdiction: str | None = None,
        limit: int = 20,
    ) -> LookupResult:
        require(actor.role, Action.LOOKUP, owner=False)
        fp = fingerprint(data, self.limits, kind=kind)
        return self.lookup_fingerprint(actor, fp, at=at, jurisdiction=jurisdiction, limit=limit)

    def lookup_fingerprint(
        self,
        actor: Principal,
        fp: Fingerprint,
        *,
        at: datetime | None = None,
        jurisdiction: str | None = None,
        limit: int = 20,
    ) -> LookupResult:
        require(actor.role, Action.LOOKUP, owner=False)
        now = self.clock.now()
        as_of = min(at, now) if at is not None else now
        juris = parse_jurisdiction(jurisdiction or self.policy.profile.jurisdiction)
        max_d = self.policy.lookup.iscc_max_distance
        b = bands(fp.iscc_content)
        conds = [Work.sha256 == fp.sha256]
        if fp.norm_sha256:
            conds.append(Work.norm_sha256 == fp.norm_sha256)
        conds += [
            Work.band0.in_(band_probes(b[0])),
            Work.band1.in_(band_probes(b[1])),
            Work.band2.in_(band_probes(b[2])),
            Work.band3.in_(band_probes(b[3])),
        ]
        with self.store.read() as s:
            candidates = s.execute(
                select(Work, Party.name)
                .join(Party, Party.id == Work.holder_id)
                .where(or_(*conds), Work.created_at <= as_of, Work.kind == fp.kind)
            ).all()
            found: list[tuple[Work, str, str, int]] = []
            for work, holder_name in candidates:
                distance = hamming(work.iscc_content & ((1 << 64) - 1), fp.iscc_content)
                if work.sha256 == fp.sha256:
                    found.append((work, holder_name, "exact", distance))
                elif fp.norm_sha256 and work.norm_sha256 == fp.norm_sha256:
                    found.append((work, holder_name, "normalized", distance))
                elif distance <= max_d:
                    found.append((work, holder_name, "iscc", distance))
            found.sort(key=lambda f: (_MATCH_ORDER[f[2]], f[3], f[0].id))
            found = found[:limit]
            stmts = statements_for(s, [f[0] for f in found])
        defaults = self.policy.preferences.defaults
        matches = [
            Match(
                work.id,
                work.title,
                work.kind,
                work.holder_id,
                holder_name,
                how,
                distance,
                work.created_at,
                work.iscc,
                resolve_all(stmts[work.id], at=as_of, jurisdiction=juris, defaults=defaults),
            )
            for work, holder_name, how, distance in found
        ]
        return LookupResult(as_of, juris, self.policy.preferences.opt_out_binding, fp.sha256, fp.iscc, matches)
