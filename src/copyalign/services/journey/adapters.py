"""User-trained models (seed 004 ¶18, ¶26): registered with their training set, which is scanned like a corpus
before training is allowed, and removable by a takedown measure.

The scan (:meth:`copyalign.services.scan.service.ScanService.run`) checks the set's opt-out signals and matches it
against the registry; its manifest then shows which items match works whose holders opted out or that need a
licence, and which match the registered works of a curated character (the guard's term base links a character
to its works). The status follows :func:`copyalign.core.journey.adapters.screen`. The adapter's provenance is the
scan's log entry and manifest digest; each change of status is a log entry. A takedown measure ``remove_model``
marks it removed in the measure's transaction (:meth:`Adapters.mark_removed`): the guard then refuses any
generation through it, and its listing says so.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyalign.core.canonical import format_time
from copyalign.core.guard.terms import TermKind
from copyalign.core.journey.adapters import METHODS, AdapterStatus, Findings, listing, review, screen
from copyalign.errors import ConflictError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.results import Refusal
from copyalign.services.guard.service import GuardService
from copyalign.services.journey.results import AdapterView, adapter_view
from copyalign.services.log.ledger import Event
from copyalign.services.registry.parties import Principal
from copyalign.services.scan.service import ScanService
from copyalign.store.models import GuardTerm, JourneyAdapter, Party

ADAPTER_PREFIX = "adp_"
OPTED_OUT = ("registry:opted-out", "registry:objected")
MAX_ADAPTER_BYTES = 2 * 1024**3


class Adapters(ServiceBase):
    def __init__(self, deps: Deps, guard: GuardService, scan: ScanService, *, work_dir: Path) -> None:
        super().__init__(deps)
        self.guard = guard
        self.scan = scan
        self.work_dir = work_dir

    def register(
        self,
        actor: Principal,
        provider_id: str,
        *,
        name: str,
        base_model: str,
        training_set: Path,
        user: str,
        method: str,
    ) -> AdapterView:
        name, base_model = _text(name, "name"), _text(base_model, "base_model")
        if method not in METHODS:
            raise InvalidInputError(f"method must be one of {', '.join(METHODS)}, not {method!r}", field="method")
        if not isinstance(user, str) or not user.strip():
            raise InvalidInputError("name the user who trains the model", field="user")
        training_set = Path(training_set)
        if not training_set.is_dir():
            raise InvalidInputError(f"the training set {training_set} is not a folder", field="training_set")
        with self.store.read() as s:
            p = s.get(Party, provider_id)
            if p is None or p.role != "provider":
                raise NotFoundError(f"no provider {provider_id}", field="provider_id")
        adapter_id = new_id("adp")
        user_ref = self.guard.keys.user_ref(user)
        out = self.work_dir / adapter_id
        try:
            result = self.scan.run(
                actor.party_id,
                training_set,
                out / "scan",
                provider=provider_id,
                model=adapter_id,
                extra={"user_model": adapter_id, "provider": provider_id},
            )
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)  # nothing half-written: no scan record, no folder
            raise
        for copy in ("kept", ".work"):  # the provenance is the manifest and the record, not the user's data
            shutil.rmtree(out / "scan" / copy, ignore_errors=True)
        details = self._details(out / "scan", result.shard_errors, result.refused)
        f = _findings(details)
        status = screen(f, action=self.policy.journey.adapter_action)
        now = self.clock.now()
        summary = {**_counts(f), "action": self.policy.journey.adapter_action}
        findings = {**summary, **details}
        payload = {
            "adapter": adapter_id,
            "provider": provider_id,
            "user": user_ref,
            "name": name,
            "base_model": base_model,
            "method": method,
            "status": status.value,
            "scan": _scan_id(out / "scan"),
            "scan_log_index": result.log_index,
            "manifest_sha256": result.manifest_sha256,
            "training_set_sha256": result.corpus_sha256,
            "findings": summary,
            "findings_sha256": hashlib.sha256(json.dumps(details, sort_keys=True).encode()).hexdigest(),
        }
        with self.store.write() as s:
            [receipt] = self.ledger.append(
                s, [Event("journey.adapter.register", actor.party_id, adapter_id, payload)], at=now
            )
            row = JourneyAdapter(
                id=adapter_id,
                provider_id=provider_id,
                user_ref=user_ref,
                name=name,
                base_model=base_model,
                method=method,
                status=status.value,
                findings=findings,
                scan_id=str(payload["scan"]),
                scan_log_index=result.log_index,
                manifest_sha256=result.manifest_sha256,
                corpus_sha256=result.corpus_sha256,
                file_sha256=None,
                created_at=now,
                updated_at=now,
                log_index=receipt.index,
                removed_at=None,
                removal_ref=None,
            )
            s.add(row)
            s.flush()
            return adapter_view(row)

    def _details(
        self, scan_out: Path, shard_errors: Sequence[tuple[str, str]], refused: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        import pyarrow.parquet as pq

        table = pq.read_table(
            scan_out / "manifest.parquet", columns=["item_id", "source_id", "reasons", "matched_works", "error"]
        ).to_pylist()
        unreadable = [r["source_id"] or r["item_id"] for r in table if r["error"] or "unreadable" in r["reasons"]]
        unreadable += [p for p, _why in refused] + [sh for sh, _err in shard_errors]
        opted: set[str] = set()
        unlicensed: set[str] = set()
        matched: dict[str, set[str]] = {}
        for r in table:
            works = {m["work"] for m in json.loads(r["matched_works"] or "[]")}
            reasons = set(r["reasons"] or [])
            if reasons & set(OPTED_OUT) or any(x.startswith("reserved:") for x in reasons):
                opted.add(r["source_id"] or r["item_id"])
            if "registry:unlicensed" in reasons:
                unlicensed.add(r["source_id"] or r["item_id"])
            for w in works:
                matched.setdefault(w, set()).add(r["source_id"] or r["item_id"])
        characters = []
        with self.store.read() as s:
            terms = s.scalars(
                select(GuardTerm).where(GuardTerm.kind == TermKind.CHARACTER.value, GuardTerm.revoked_at.is_(None))
            )
            for t in terms:
                hit = sorted(w for w in t.work_ids if w in matched)
                if hit:
                    items = sorted({i for w in hit for i in matched[w]})
                    characters.append({"term": t.id, "names": list(t.names), "works": hit, "items": items})
        return {
            "items": len(table) + len(refused) + len(shard_errors),
            "unreadable_items": sorted(set(unreadable)),
            "opted_out_items": sorted(opted),
            "unlicensed_items": sorted(unlicensed),
            "character_hits": characters,
            "matched_works": sorted(matched),
        }

    def review(self, actor_id: str, adapter_id: str, *, decision: str, reason: str) -> AdapterView:
        reason = _text(reason, "reason", limit=2000)
        with self.store.write() as s:
            row = _row(s, adapter_id, for_update=True)
            new = review(AdapterStatus(row.status), decision, _findings(row.findings))
            now = self.clock.now()
            payload = {"adapter": row.id, "decision": decision, "status": new.value, "reason": reason}
            [receipt] = self.ledger.append(s, [Event("journey.adapter.review", actor_id, row.id, payload)], at=now)
            row.status, row.updated_at, row.log_index = new.value, now, receipt.index
            s.flush()
            return adapter_view(row)

    def attach(self, actor_id: str, adapter_id: str, data: bytes) -> AdapterView:
        """Record the trained file's digest: only for an allowed model, once."""
        if not isinstance(data, bytes) or not data:
            raise InvalidInputError("the adapter file is empty", field="file")
        if len(data) > MAX_ADAPTER_BYTES:
            raise InvalidInputError(f"the adapter file is {len(data)} bytes; at most {MAX_ADAPTER_BYTES}", field="file")
        sha = hashlib.sha256(data).hexdigest()
        with self.store.write() as s:
            row = _row(s, adapter_id, for_update=True)
            if row.removed_at is not None or row.status != AdapterStatus.ALLOWED:
                shown = listing(AdapterStatus(row.status), removed=row.removed_at is not None)
                raise ConflictError(
                    f"user model {adapter_id} is {shown}: training was not allowed, so no trained file is recorded"
                )
            if row.file_sha256 is not None and row.file_sha256 != sha:
                raise ConflictError(f"user model {adapter_id} already has a trained file ({row.file_sha256[:12]}…)")
            if row.file_sha256 == sha:
                return adapter_view(row)
            now = self.clock.now()
            payload = {"adapter": row.id, "file_sha256": sha, "bytes": len(data), "scan_log_index": row.scan_log_index}
            [receipt] = self.ledger.append(s, [Event("journey.adapter.attach", actor_id, row.id, payload)], at=now)
            row.file_sha256, row.updated_at, row.log_index = sha, now, receipt.index
            s.flush()
            return adapter_view(row)

    def owner(self, adapter_id: str) -> str:
        with self.store.read() as s:
            return _row(s, adapter_id).provider_id

    def get(self, adapter_id: str) -> AdapterView:
        with self.store.read() as s:
            return adapter_view(_row(s, adapter_id))

    def list(self, provider_id: str) -> list[AdapterView]:
        q = select(JourneyAdapter).where(JourneyAdapter.provider_id == provider_id)
        with self.store.read() as s:
            return [adapter_view(r) for r in s.scalars(q.order_by(JourneyAdapter.created_at, JourneyAdapter.id))]

    def refusal(self, provider_id: str, model: str) -> Refusal | None:
        """The guard's model check: a user model is served only while allowed and not removed."""
        if not model.startswith(ADAPTER_PREFIX):
            return None
        with self.store.read() as s:
            row = s.get(JourneyAdapter, model)
        if row is None or row.provider_id != provider_id:
            return Refusal(f"There is no user model {model} at this service.", "model.unknown", {"model": model})
        if row.removed_at is not None:
            return Refusal(
                f"The user model {row.name} ({model}) was removed under a copyright notice on "
                f"{format_time(row.removed_at)}; its publication and application services are stopped "
                "(seed 004 ¶26).",
                "model.removed",
                {"model": model, "measure": row.removal_ref},
            )
        if row.status != AdapterStatus.ALLOWED:
            return Refusal(
                f"The user model {row.name} ({model}) is {row.status}: its training set was not cleared.",
                f"model.{row.status}",
                {"model": model},
            )
        return None

    def exists(self, s: Session, adapter_id: str) -> bool:
        return s.get(JourneyAdapter, adapter_id) is not None

    def mark_removed(self, s: Session, adapter_id: str, *, ref: str | None, at: datetime | None, actor_id: str) -> None:
        """Mark (``at`` set) or clear (``at`` None) a user model's removal, in the takedown measure's transaction,
        with its log entry."""
        row = _row(s, adapter_id, for_update=True)
        if (row.removed_at is None) == (at is None) and row.removal_ref == ref:
            return
        row.removed_at, row.removal_ref = at, ref
        now = self.clock.now()
        row.updated_at = now
        event = "journey.adapter.remove" if at is not None else "journey.adapter.restore"
        payload = {"adapter": row.id, "provider": row.provider_id, "measure": ref}
        [receipt] = self.ledger.append(s, [Event(event, actor_id, row.id, payload)], at=now)
        row.log_index = receipt.index


def _findings(d: dict[str, Any]) -> Findings:
    return Findings(
        items=int(d.get("items", 0)),
        unreadable=len(d.get("unreadable_items", [])),
        opted_out=len(d.get("opted_out_items", [])),
        unlicensed=len(d.get("unlicensed_items", [])),
        characters=len(d.get("character_hits", [])),
    )


def _counts(f: Findings) -> dict[str, int]:
    return {
        "items": f.items,
        "unreadable": f.unreadable,
        "opted_out": f.opted_out,
        "unlicensed": f.unlicensed,
        "characters": f.characters,
    }


def _scan_id(scan_out: Path) -> str:
    return str(json.loads((scan_out / "scan.json").read_text(encoding="utf-8"))["scan"])


def _row(s: Session, adapter_id: str, *, for_update: bool = False) -> JourneyAdapter:
    q = select(JourneyAdapter).where(JourneyAdapter.id == adapter_id)
    if for_update:
        q = q.with_for_update()
    row = s.execute(q).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no user model {adapter_id}", field="adapter_id")
    return row


def _text(value: object, field: str, *, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{field} must not be empty", field=field)
    if len(value) > limit:
        raise InvalidInputError(f"{field} is {len(value)} characters; at most {limit}", field=field)
    return value.strip()


__all__ = ["ADAPTER_PREFIX", "Adapters"]
