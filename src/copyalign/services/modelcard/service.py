"""``modelcards``: a model's copyright record for the people who deploy it (seed 004 ¶56, ¶96(a); EU AI Act
Art. 53(1)(b)), assembled from the log.

A developer *declares* a model: its name, the scans that cleaned its training data, the training notices it was
trained under, the memorisation audits it passed or failed, the providers that deploy it, and the guard
configuration it is deployed with. The declaration is a log entry (``model.declare``) that names each of those
by its own log entry, after checking that they exist and are the developer's. The card then reads only log
entries: the declaration, the scans' records (decision counts, exclusion-list versions, the EU summary's facts),
the notices' creation and every exclusion-list version, the audits' reports and gates, the takedown measures
that name the model, the user models built on it. Each statement links its entry, and
:meth:`ModelCardService.verify` checks the card against an exported log bundle, offline.

This mechanism sits above every other: it reads their log entries, never calls their services.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, Role, require
from copyalign.core.canonical import format_time
from copyalign.core.modelcard.card import CARD_FORMAT, Claim, check_claims, markdown
from copyalign.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.log.bundle import bundle_entries, verify_bundle
from copyalign.services.log.ledger import Event
from copyalign.services.registry.parties import Principal
from copyalign.store.models import LogEntry, Party

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
MAX_LINKS = 100
_TAKEDOWN_EVENTS = ("takedown.measure.apply", "takedown.measure.undo")


class ModelCardService(ServiceBase):
    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)

    # -- declaring -------------------------------------------------------------------------------------
    def declare(
        self,
        actor: Principal,
        name: str,
        *,
        developer_id: str | None = None,
        sha256: str | None = None,
        scans: Sequence[str] = (),
        notices: Sequence[str] = (),
        audits: Sequence[str] = (),
        providers: Sequence[str] = (),
        license: str | None = None,  # noqa: A002 - the Hugging Face metadata key
        base_model: str | None = None,
    ) -> dict[str, Any]:
        """Declare a model and what its copyright record is made of; each link must be a log entry of the
        developer's. Declaring the same name again (a new audit, a new notice) supersedes the last declaration."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInputError(f"not a model name: {name!r}", field="name")
        developer_id = developer_id or (actor.party_id if actor.role is Role.DEVELOPER else None)
        if developer_id is None:
            raise InvalidInputError("name the developer (developer_id)", field="developer_id")
        require(actor.role, Action.JOURNEY_MODEL_DECLARE, owner=developer_id == actor.party_id)
        if sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise InvalidInputError("sha256 must be 64 lowercase hex digits", field="sha256")
        for field, ids in (("scans", scans), ("notices", notices), ("audits", audits), ("providers", providers)):
            if len(ids) > MAX_LINKS:
                raise InvalidInputError(f"{len(ids)} {field}; at most {MAX_LINKS}", field=field)
        with self.store.write() as s:
            dev = s.get(Party, developer_id)
            if dev is None or dev.role != Role.DEVELOPER.value:
                raise NotFoundError(f"no developer {developer_id}", field="developer_id")
            last = _latest(s, ("model.declare",), name)
            if last is not None and _payload(last).get("developer") != developer_id:
                raise ConflictError(f"model {name} is declared by another developer", field="name")
            links = {
                "scans": [self._link(s, ("scan.record",), x, "scans", developer_id) for x in dict.fromkeys(scans)],
                "notices": [
                    self._link(s, ("notice.create",), x, "notices", developer_id) for x in dict.fromkeys(notices)
                ],
                "audits": [self._link(s, ("audit.report",), x, "audits", developer_id) for x in dict.fromkeys(audits)],
            }
            for p in dict.fromkeys(providers):
                row = s.get(Party, p)
                if row is None or row.role != Role.PROVIDER.value:
                    raise NotFoundError(f"no provider {p}", field="providers")
            payload = {
                "model": name,
                "developer": developer_id,
                "sha256": sha256,
                "base_model": base_model,
                "license": license,
                **links,
                "providers": list(dict.fromkeys(providers)),
                "guard": self._guard_config(),
                "version": 1 if last is None else int(_payload(last).get("version", 1)) + 1,
            }
            [receipt] = self.ledger.append(s, [Event("model.declare", actor.party_id, name, payload)])
        return {**payload, "log_index": receipt.index}

    def _link(self, s: Session, events: tuple[str, ...], subject: str, field: str, developer_id: str) -> dict[str, Any]:
        row = _latest(s, events, subject)
        if row is None:
            raise NotFoundError(f"no {field[:-1]} {subject} in the log", field=field)
        owner = _payload(row).get("developer")
        if owner not in (developer_id, None):
            raise PermissionDeniedError(f"{field[:-1]} {subject} belongs to another developer")
        return {"id": subject, "log_index": int(row.idx)}

    def _guard_config(self) -> dict[str, Any]:
        g, j = self.policy.guard, self.policy.journey
        return {
            "policy": self.policy.profile.name,
            "prompt_actions": {
                "reference": g.prompt_reference,
                "imitate": g.prompt_imitate,
                "reproduce": g.prompt_reproduce,
                "creator_style": g.prompt_creator_style,
                "depict": g.prompt_depict,
                "continuation": g.prompt_continuation,
                "circumvent": g.prompt_circumvent,
            },
            "min_passage_chars": g.min_passage_chars,
            "max_copied_share": g.max_copied_share,
            "perceptual_action": g.perceptual_action,
            "disclosure": g.disclosure,
            "copyright_notice": dict(j.copyright_notice),
            "require_terms": j.require_terms,
            "escalation": [step.model_dump() for step in j.escalation],
            "adapter_action": j.adapter_action,
        }

    # -- the card --------------------------------------------------------------------------------------
    def card(self, actor: Principal, name: str) -> dict[str, Any]:
        """The model's copyright record as JSON (:meth:`markdown` renders it); every claim a log entry."""
        require(actor.role, Action.JOURNEY_MODEL_CARD, owner=True)
        with self.store.read() as s:
            decl_row = _latest(s, ("model.declare",), name) if isinstance(name, str) else None
            if decl_row is None:
                raise NotFoundError(
                    f"no model {name!r} is declared (copyalign model declare NAME --scan ... --notice ... --audit ...)",
                    field="model",
                )
            decl = _payload(decl_row)
            claims = [Claim("declaration", "model.declare", name, int(decl_row.idx), decl)]
            scans = []
            for link in decl["scans"]:
                c = _claim(s, "scans", link["log_index"])
                claims.append(c)
                scans.append(_scan(c))
            notices = []
            for link in decl["notices"]:
                c = _claim(s, "notices", link["log_index"])
                claims.append(c)
                versions = []
                for row in _all(s, ("notice.finalise", "exclusions.update"), link["id"]):
                    v = Claim("notices", row.event, row.subject, int(row.idx), _payload(row))
                    claims.append(v)
                    versions.append(
                        {
                            **{k: v.payload.get(k) for k in ("version", "excluded", "licensed", "sha256")},
                            "log_index": v.log_index,
                        }
                    )
                p = c.payload
                notices.append(
                    {
                        "notice": link["id"],
                        "log_index": c.log_index,
                        "purpose": p.get("purpose"),
                        "works": p.get("works"),
                        "window_days": p.get("window_days"),
                        "tariff": p.get("tariff"),
                        "exclusions": versions,
                    }
                )
            audits = []
            for link in decl["audits"]:
                c = _claim(s, "audits", link["log_index"])
                claims.append(c)
                audits.append(
                    {
                        "audit": link["id"],
                        "log_index": c.log_index,
                        "works": c.payload.get("works"),
                        "gate": c.payload.get("gate"),
                        "report_sha256": c.payload.get("report_sha256"),
                        "model_sha256": c.payload.get("model_sha256"),
                    }
                )
            user_models = []
            for row in _events(s, ("journey.adapter.register",)):
                p = _payload(row)
                if p.get("base_model") == name:
                    claims.append(Claim("user_models", row.event, row.subject, int(row.idx), p))
                    user_models.append({"adapter": row.subject, "status": p.get("status"), "log_index": int(row.idx)})
            targets = {name, *(u["adapter"] for u in user_models)}
            takedown = []
            for row in _events(s, _TAKEDOWN_EVENTS):
                p = _payload(row)
                if p.get("target") in targets and p.get("kind") in ("model_blocklist", "model_reaudit", "remove_model"):
                    claims.append(Claim("takedown", row.event, row.subject, int(row.idx), p))
                    takedown.append(
                        {
                            "measure": row.subject,
                            "kind": p.get("kind"),
                            "state": p.get("state"),
                            "target": p.get("target"),
                            "log_index": int(row.idx),
                        }
                    )
        checkpoint = self.ledger.latest_checkpoint()
        if checkpoint is None or checkpoint.size <= max(c.log_index for c in claims):
            checkpoint = self.ledger.checkpoint()  # the card's entries must be in a signed tree
        return {
            "format": CARD_FORMAT,
            "model": name,
            "generated_at": format_time(self.clock.now()),
            "log": {
                "origin": self.ledger.origin,
                "verifier_key": self.ledger.verifier_key,
                "checkpoint": {"size": checkpoint.size, "root": checkpoint.root.hex()},
            },
            "declaration": {
                "developer": decl["developer"],
                "sha256": decl.get("sha256"),
                "license": decl.get("license"),
                "base_model": decl.get("base_model"),
                "providers": decl.get("providers", []),
                "version": decl.get("version"),
                "log_index": int(decl_row.idx),
            },
            "scans": scans,
            "notices": notices,
            "audits": audits,
            "guard": decl["guard"],
            "takedown": takedown,
            "user_models": user_models,
            "claims": [c.to_dict() for c in claims],
        }

    def markdown(self, actor: Principal, name: str) -> str:
        return markdown(self.card(actor, name))

    def verify(self, card: dict[str, Any] | Path, bundle: Path, *, key: str | None = None) -> dict[str, Any]:
        """Check a card (JSON, or its file) against an exported log bundle, offline: the bundle verifies against
        its signed checkpoints (under ``key``, else the card's verifier key), and each claim's entry and payload
        digest match."""
        if isinstance(card, Path):
            try:
                card = json.loads(card.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InvalidInputError(f"cannot read the card {card}: {exc}", field="card") from exc
        if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
            raise InvalidInputError(f"not a {CARD_FORMAT} card", field="card")
        try:
            claims = [Claim.from_dict(c) for c in card["claims"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"the card's claims are malformed: {exc}", field="card") from exc
        log: dict[str, Any] = card["log"] if isinstance(card.get("log"), dict) else {}
        # the key pinned by the caller, else the one the card names: a bundle of another log does not verify
        report = verify_bundle(bundle, key=key or log.get("verifier_key") or None)
        entries = bundle_entries(bundle, {c.log_index for c in claims})
        problems = check_claims(claims, entries)
        return {
            "model": card.get("model"),
            "claims": len(claims),
            "log_size": report.entries,
            "verified": not problems,
            "problems": problems,
        }


def _payload(row: LogEntry) -> dict[str, Any]:
    return dict(json.loads(row.payload)) if row.payload is not None else {}


def _latest(s: Session, events: tuple[str, ...], subject: str) -> LogEntry | None:
    q = select(LogEntry).where(LogEntry.event.in_(events), LogEntry.subject == subject)
    return s.scalars(q.order_by(LogEntry.idx.desc()).limit(1)).first()


def _all(s: Session, events: tuple[str, ...], subject: str) -> list[LogEntry]:
    q = select(LogEntry).where(LogEntry.event.in_(events), LogEntry.subject == subject).order_by(LogEntry.idx)
    return list(s.scalars(q))


def _events(s: Session, events: tuple[str, ...]) -> list[LogEntry]:
    return list(s.scalars(select(LogEntry).where(LogEntry.event.in_(events)).order_by(LogEntry.idx)))


def _claim(s: Session, section: str, index: int) -> Claim:
    row = s.get(LogEntry, index)
    if row is None:
        raise NotFoundError(f"log entry {index} is missing", field="model")
    return Claim(section, row.event, row.subject, int(row.idx), _payload(row))


def _scan(c: Claim) -> dict[str, Any]:
    p = c.payload
    decisions = dict(p.get("decisions") or {})
    checks = p.get("signal_checks") or {}
    return {
        "scan": c.subject,
        "log_index": c.log_index,
        "items": p.get("items"),
        "decisions": decisions,
        "manifest_sha256": p.get("manifest_sha256"),
        "corpus_sha256": p.get("corpus_sha256"),
        "exclusion_lists": p.get("exclusion_lists") or [],
        "research": p.get("research"),
        "eu_summary": {
            "dropped": decisions.get("drop", 0),
            "held": decisions.get("hold", 0),
            "web_items": checks.get("web_items", 0),
            "checked_against": sorted(checks.get("checked_against") or []),
        },
    }


__all__ = ["ModelCardService"]
