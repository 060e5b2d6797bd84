"""What each event commits the registry's rows to: the replay rules of the state audit.

One function per event the services write (their payloads are defined beside each service's ``Event(...)``),
each turning an entry into the rows and columns it creates or changes in an :class:`Expected`. A column is
named as the table names it; a row is keyed as the audit's reader keys it (``services/log/audit.py``): by its
id, or where the table has no id the log knows, by the index of the entry that created it (preferences,
objections) or by a compound ``a/b`` (revisions, exclusion lists, statements). Amounts are compared in minor
units, times in the log's spelling.

Events with no rule here (``audit.*``, ``scan.record``, ``work.conflict_resolved``, and the takedown desk's
steps after a notice is received, decided or strikes a user: measures, counter-notices, complaints, the
notice's moving status) commit to digests of files or to records this audit does not read yet; the tree still
authenticates their entries.

Example:
    >>> x = Expected()
    >>> apply(AuditEntry(3, "key.issued", "key_a", "pty_o", "2026-01-01T00:00:00.000000Z", {"party": "pty_b"}), x)
    >>> x.tables["api_keys"]["key_a"]["party_id"]
    ('pty_b', 3, 'key.issued')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from copyalign.core.log.expected import AuditEntry, Expected, Finding
from copyalign.core.money import Money
from copyalign.errors import CopyalignError

Rule = Callable[[AuditEntry, Mapping[str, Any], Expected], None]


def _minor(amount: Any, currency: Any) -> int:
    return Money.parse(amount, str(currency)).minor_units()


def _party_created(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {"name": p["name"], "role": p["role"], "email": p["email"], "created_at": e.time, "log_index": e.index}
    x.create(e, "parties", e.subject, cols)


def _key_issued(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    x.create(e, "api_keys", e.subject, {"party_id": p["party"], "created_at": e.time, "revoked_at": None})


def _key_revoked(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    x.update(e, "api_keys", e.subject, {"party_id": p["party"], "revoked_at": e.time})


def _meta(p: Mapping[str, Any]) -> dict[str, Any]:
    return {"title": p["title"], "creators": p["creators"], "identifiers": p["identifiers"]}


def _revision(e: AuditEntry, p: Mapping[str, Any], x: Expected, rev: int) -> None:
    cols = {"metadata_json": _meta(p), "actor_id": e.actor, "recorded_at": e.time, "log_index": e.index}
    x.create(e, "work_revisions", f"{e.subject}/{rev}", cols)


def _work_registered(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "holder_id": p["holder"],
        "kind": p["kind"],
        **_meta(p),
        "sha256": p["sha256"],
        "iscc": p["iscc"],
        "size_bytes": p["size"],
        "fingerprint_version": p["fingerprint_version"],
        "revision": 1,
        "created_at": e.time,
        "updated_at": e.time,
        "log_index": e.index,
    }
    x.create(e, "works", e.subject, cols)
    _revision(e, p, x, 1)


def _work_updated(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    x.update(e, "works", e.subject, {**_meta(p), "revision": p["revision"], "updated_at": e.time})
    _revision(e, p, x, int(p["revision"]))


def _preference_set(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "holder_id": p["holder"],
        "work_id": p["work"],
        "purpose": p["purpose"],
        "value": p["value"],
        "jurisdiction": p["jurisdiction"],
        "effective_at": p["effective_at"],
        "recorded_at": e.time,
        "actor_id": e.actor,
        "log_index": e.index,
    }
    x.create(e, "preferences", str(e.index), cols)


def _notice_create(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "developer_id": p["developer"],
        **{k: p[k] for k in ("title", "purpose", "use", "jurisdiction", "tariff", "currency", "window_days")},
        **{k: p[k] for k in ("report_every_days", "policy_overrides", "research")},
        "status": "draft",
        "created_at": e.time,
        "published_at": None,
        "closes_at": None,
        "finalised_at": None,
        "log_index": e.index,
    }
    x.create(e, "notices", p["notice"], cols)


def _notice_publish(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {"status": "open", "published_at": p["published_at"], "closes_at": p["closes_at"]}
    x.update(e, "notices", p["notice"], cols)


def _exclusions(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    if e.event == "notice.finalise":
        x.update(e, "notices", p["notice"], {"status": "finalised", "finalised_at": e.time})
    cols = {
        "excluded": p["excluded"],
        "licensed": p["licensed"],
        "sha256": p["sha256"],
        "lists_sha256": p["sha256"],
        "created_at": e.time,
        "log_index": e.index,
    }
    x.create(e, "exclusion_lists", f"{p['notice']}/{p['version']}", cols)


def _objection_file(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "notice_id": p["notice"],
        "work_id": p["work"],
        "holder_id": p["holder"],
        "actor_id": e.actor,
        "reason_sha256": p["reason_sha256"],
        "created_at": e.time,
        "log_index": e.index,
    }
    x.create(e, "objections", str(e.index), cols)


def _objection_withdraw(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {"notice_id": p["notice"], "work_id": e.subject, "withdrawn_at": e.time, "withdraw_log_index": e.index}
    x.create(e, "objection_withdrawals", p["objection"], cols)


def _usage_report(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "notice_id": p["notice"],
        "supersedes_id": p["supersedes"],
        "period_start": p["period"][0],
        "period_end": p["period"][1],
        "revenue_minor": _minor(p["revenue"], p["currency"]),
        "currency": p["currency"],
        "feature_share": p["feature_share"],
        "share_basis": p["share_basis"],
        "measured_share": p["measured_share"],
        "unit": p["unit"],
        "submitted_at": e.time,
        "log_index": e.index,
    }
    x.create(e, "usage_reports", p["report"], cols)


def _invoice_issue(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "report_id": p["report"],
        "amount_minor": _minor(p["amount"], p["currency"]),
        "currency": p["currency"],
        "procedure": p["procedure"],
        "status": p["status"],
        "issued_at": e.time,
        "paid_at": None,
        "distribution_id": None,
        "log_index": e.index,
    }
    x.create(e, "invoices", p["invoice"], cols)


def _invoice_void(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    x.update(e, "invoices", p["invoice"], {"status": "void"})


def _payment_record(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "invoice_id": p["invoice"],
        "amount_minor": _minor(p["amount"], p["currency"]),
        "currency": p["currency"],
        "reference": p["reference"],
        "received_at": e.time,
        "log_index": e.index,
    }
    x.create(e, "payments", p["payment"], cols)
    x.update(e, "invoices", p["invoice"], {"status": "paid", "paid_at": e.time})


def _distribution_run(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cur = p["currency"]
    cols = {
        "currency": cur,
        "collected_minor": _minor(p["collected"], cur),
        "admin_minor": _minor(p["admin"], cur),
        "distributable_minor": _minor(p["distributable"], cur),
        "admin_share": p["admin_share"],
        "invoices": p["invoices"],
        "fallback_reports": p["fallback_reports"],
        "created_at": e.time,
        "log_index": e.index,
    }
    x.create(e, "distributions", p["distribution"], cols)
    for invoice in p["invoices"]:
        x.update(e, "invoices", invoice, {"distribution_id": p["distribution"]})


def _statement_issue(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {"amount_minor": _minor(p["amount"], p["currency"]), "works": p["works"], "lines_sha256": p["lines_sha256"]}
    x.create(e, "statements", f"{p['distribution']}/{p['holder']}", cols)


def _term_add(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "kind": p["kind"],
        "names": p["names"],
        "work_ids": p["work_ids"],
        "holder_id": p["holder_id"],
        "actor_id": e.actor,
        "created_at": e.time,
        "revoked_at": None,
        "log_index": e.index,
    }
    x.create(e, "guard_terms", e.subject, cols)


def _term_revoke(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    x.update(e, "guard_terms", e.subject, {"revoked_at": e.time, "log_index": e.index})


def _block(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "provider_id": p["provider_id"],
        "kind": p["kind"],
        "sha256": p["sha256"],
        "reason": p["reason"],
        "source": p.get("source"),
        "actor_id": e.actor,
        "lifted": False,
        "log_index": e.index,
    }
    x.create(e, "blocked_outputs", p["id"], cols)


def _unblock(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    x.update(e, "blocked_outputs", p["id"], {"provider_id": p["provider_id"], "lifted": True})


def _takedown_receive(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "provider_id": p["provider"],
        "jurisdiction": p["jurisdiction"],
        "channel": p["channel"],
        "sender_ref": p["sender"],
        "principal_party_id": p["principal"],
        "received_at": e.time,
        "log_index": e.index,
    }
    x.create(e, "takedown_notices", p["notice"], cols)


def _takedown_authorisation(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "agent_id": p["agent"],
        "holder_id": p["holder"],
        "work_ids": p["works"],
        "document_sha256": p["document_sha256"],
        "valid_until": p["valid_until"],
        "actor_id": e.actor,
        "created_at": e.time,
        "revoked_at": None,
        "log_index": e.index,
    }
    x.create(e, "takedown_authorisations", p["authorisation"], cols)


def _takedown_decide(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols: dict[str, Any] = {"notice_id": p["notice"], "trigger": p["trigger"], "decided_by": e.actor}
    cols |= {"decided_at": e.time, "log_index": e.index}
    if "complaint" in p:  # a complaint's change of a decision, for the record (services/takedown/complaints.py)
        cols["outcome"] = p["outcome"]
    else:
        for k in ("ground", "automated_detection", "automated_decision", "items", "puid", "statement_sha256"):
            cols[k] = p[k]
        cols["measures"] = [m["kind"] for m in p["measures"]]
    x.create(e, "takedown_decisions", p["decision"], cols)


def _takedown_strike(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {
        "provider_id": p["provider"],
        "user_ref": p["user"],
        "notice_id": p["notice"],
        "measure_id": p["measure"],
        "issued_at": e.time,
        "removed_at": None,
        "log_index": e.index,
        "removed_log_index": None,
    }
    x.create(e, "takedown_strikes", p["strike"], cols)


def _takedown_strike_remove(e: AuditEntry, p: Mapping[str, Any], x: Expected) -> None:
    cols = {"provider_id": p["provider"], "user_ref": p["user"], "removed_at": e.time, "removed_log_index": e.index}
    x.update(e, "takedown_strikes", p["strike"], cols)


RULES: dict[str, Rule] = {
    "party.created": _party_created,
    "key.issued": _key_issued,
    "key.revoked": _key_revoked,
    "work.registered": _work_registered,
    "work.updated": _work_updated,
    "preference.set": _preference_set,
    "notice.create": _notice_create,
    "notice.publish": _notice_publish,
    "notice.finalise": _exclusions,
    "exclusions.update": _exclusions,
    "objection.file": _objection_file,
    "objection.withdraw": _objection_withdraw,
    "usage.report": _usage_report,
    "invoice.issue": _invoice_issue,
    "invoice.void": _invoice_void,
    "payment.record": _payment_record,
    "distribution.run": _distribution_run,
    "statement.issue": _statement_issue,
    "guard.term.add": _term_add,
    "guard.term.revoke": _term_revoke,
    "guard.block": _block,
    "guard.unblock": _unblock,
    "takedown.notice.receive": _takedown_receive,
    "takedown.authorisation": _takedown_authorisation,
    "takedown.decide": _takedown_decide,
    "takedown.strike": _takedown_strike,
    "takedown.strike.remove": _takedown_strike_remove,
}
"""The events whose rows the audit checks, and the rule that says what each commits them to."""

TABLES = frozenset(
    {
        "parties", "api_keys", "works", "work_revisions", "preferences", "notices", "exclusion_lists", "objections",
        "objection_withdrawals", "usage_reports", "invoices", "payments", "distributions", "statements",
        "guard_terms", "blocked_outputs", "takedown_notices", "takedown_authorisations", "takedown_decisions",
        "takedown_strikes",
    }
)  # fmt: skip
"""Every table (or view, for withdrawals and statements) the rules speak for: the reader returns each whole."""


def apply(e: AuditEntry, x: Expected) -> None:
    """Replay one entry into ``x``; a payload that lacks what its event writes is itself a finding."""
    rule = RULES.get(e.event)
    if rule is None or e.payload is None:
        return
    try:
        rule(e, e.payload, x)
    except (KeyError, IndexError, TypeError, ValueError, CopyalignError) as exc:
        x.add(
            Finding(
                e.index,
                "log_entries",
                str(e.index),
                "payload",
                f"entry {e.index} ({e.event}): the payload is not what this event records "
                f"({type(exc).__name__}: {exc})",
            )
        )


__all__ = ["RULES", "TABLES", "apply"]
