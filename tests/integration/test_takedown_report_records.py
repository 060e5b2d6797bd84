"""The transparency report's records read in bulk equal a plain reading of the same rows, and seal the same bytes.

:class:`~copyalign.services.takedown.records.Records` reads 10^5 decisions with a few column queries, the
restriction fields extracted by the database, the accuracy samples counted per notice and strikes built only for
users who could have reached a suspension. Here a varied desk is written row by row (lists and single values in
the restriction fields, several decisions per notice, upheld notices never acted on, notices without items,
removed and expired strikes, another desk's rows, other periods) and the records are compared with a reading
that takes every ORM row and every whole statement one by one, the way a person would check them; the report
sealed from the fast records is byte for byte the one rendered from the plain ones.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from copyalign.clock import FakeClock
from copyalign.context import Copyalign
from copyalign.core.takedown.report import (
    AccuracySample,
    Ground,
    NoticeRecord,
    Period,
    SuspensionReason,
    SuspensionRecord,
)
from copyalign.core.takedown.sor_vocab import DecisionAccount, DecisionMonetary, DecisionProvision, DecisionVisibility
from copyalign.core.takedown.strikes import Sanction, Strike, standing
from copyalign.services.takedown.exports.report_files import render_transparency_report
from copyalign.services.takedown.records import restrictions_of
from copyalign.store import models as m
from tests.conftest import make_party

START = datetime(2025, 10, 1, tzinfo=UTC)  # a quarter before the reported year, to have history and strays
UPHOLDING = ("upheld", "partially_upheld")


def _statement(rng: random.Random, puid: str) -> dict[str, Any] | None:
    """A stored statement's restriction fields in the shapes the Transparency Database takes."""
    if rng.random() < 0.1:
        return None
    out: dict[str, Any] = {"puid": puid}
    shape = rng.randrange(4)
    if shape == 0:
        out["decision_visibility"] = [DecisionVisibility.CONTENT_DISABLED.value]
    elif shape == 1:
        out["decision_visibility"] = [
            DecisionVisibility.CONTENT_REMOVED.value,
            DecisionVisibility.CONTENT_DEMOTED.value,
        ]
        out["decision_account"] = DecisionAccount.TERMINATED.value
    elif shape == 2:
        out["decision_monetary"] = DecisionMonetary.SUSPENSION.value
        out["decision_provision"] = DecisionProvision.PARTIAL_SUSPENSION.value
        out["decision_visibility"] = []
    return out  # shape 3: no restriction at all ("unspecified")


def _desk(ca: Copyalign, providers: list[str], holder: str, seed: int, n: int = 240) -> None:
    rng = random.Random(seed)
    tables: dict[type, list[dict[str, Any]]] = {
        t: [] for t in (m.GenerationTrace, m.TakedownNotice, m.TakedownItem, m.TakedownDecision, m.TakedownStrike)
    }
    for i in range(n):
        provider = providers[0] if rng.random() < 0.85 else providers[1]
        received = START + timedelta(seconds=rng.uniform(0, 500 * 86400))
        decided = received + timedelta(minutes=rng.uniform(1, 90 * 24 * 60))
        outcome = rng.choice(["upheld", "upheld", "partially_upheld", "rejected"])
        acted = decided if outcome != "rejected" and rng.random() < 0.9 else None
        nid = f"tdn_t{i:05d}"
        user = f"user{rng.randrange(12):02d}"  # few users: strikes pile up to the ladder's top
        tables[m.TakedownNotice].append(
            {
                "id": nid, "provider_id": provider, "jurisdiction": "EU", "channel": "holder",
                "sender_party_id": holder, "principal_party_id": None, "authorisation_id": None,
                "sender_ref": holder, "origin_ref": None, "token_sha256": None, "contact": {}, "elements": {},
                "status": "closed", "missing": [], "recommendation": rng.choice(["act", None]),
                "simplified": False, "trusted_flagger": rng.random() < 0.2, "priority": 0,
                "upheld": outcome != "rejected", "received_at": received, "completed_at": received,
                "acknowledged_at": received, "decided_at": decided if rng.random() < 0.95 else None,
                "acted_at": acted, "user_inquired_at": None, "counter_notice_at": None,
                "counter_forwarded_at": None, "court_action_at": None, "restored_at": None, "closed_at": None,
                "due_at": None, "log_index": 0, "updated_log_index": 0,
            }
        )  # fmt: skip
        for k in range(rng.choice([0, 1, 1, 2, 3])):  # a notice stored without items counts as one
            tid = f"tr_t{i:05d}{k}"
            tables[m.GenerationTrace].append(
                {
                    "id": tid, "provider_id": provider, "user_ref": user, "kind": "text", "model": "m",
                    "prompt_sha256": None, "output_sha256": f"{i:060d}{k:04d}", "delivered_sha256": None,
                    "decision": rng.choice(["allow", "warn", "block"]), "reasons": [], "prompt_text": None,
                    "output_data": None, "retain_until": None, "created_at": received - timedelta(hours=1),
                    "leaf": "0" * 64, "sealed_index": None, "taken_down_at": None, "takedown_ref": None,
                }
            )  # fmt: skip
            tables[m.TakedownItem].append(
                {
                    "id": f"tdi_t{i:05d}{k}", "notice_id": nid, "position": k, "work_id": None,
                    "work_description": "a poem", "original_locations": [], "material_kind": "trace",
                    "material_value": tid, "material_sha256": "0" * 64, "content_sha256": None, "trace_id": tid,
                    "evidence": None, "recommendation": "act", "reasons": [], "guard_missed": True,
                    "upheld": rng.choice([True, True, False, None]),
                }
            )  # fmt: skip
        seqs = [outcome] if rng.random() < 0.7 else [rng.choice(["rejected", *UPHOLDING]), outcome]
        for seq, out in enumerate(seqs, 1):  # the first upholding decision is the one the report counts
            tables[m.TakedownDecision].append(
                {
                    "id": f"tdd_t{i:05d}{seq}", "notice_id": nid, "seq": seq, "trigger": "notice", "outcome": out,
                    "decided_by": provider, "ground": rng.choice(["illegal_content", "incompatible_content"])
                    if out in UPHOLDING else None, "legal_ground": None, "explanation": "x",
                    "automated_detection": True, "automated_decision": "AUTOMATED_DECISION_PARTIALLY",
                    "measures": [], "items": [], "puid": None,
                    "statement": _statement(rng, f"ca-{nid}-{seq}") if out in UPHOLDING else None,
                    "decided_at": decided + timedelta(minutes=seq), "log_index": 0,
                }
            )  # fmt: skip
        if outcome != "rejected" and acted is not None:
            removed = acted + timedelta(days=rng.uniform(1, 60)) if rng.random() < 0.15 else None
            tables[m.TakedownStrike].append(
                {
                    "id": f"tds_t{i:05d}", "provider_id": provider, "user_ref": user, "notice_id": nid,
                    "measure_id": None, "issued_at": acted, "removed_at": removed, "log_index": 0,
                    "removed_log_index": None,
                }
            )  # fmt: skip
    with ca.store.write() as s:
        for table, rows in tables.items():
            s.execute(insert(table), rows)


def _plain(ca: Copyalign, period: Period, provider_id: str | None) -> tuple[Any, Any, Any]:
    """Notices, suspensions and samples read row by row: every ORM row, every whole statement, every strike."""
    policy = ca.policy.takedown.strike_policy()

    def mine(provider: str) -> bool:
        return provider_id is None or provider == provider_id

    with ca.store.read() as s:
        items = list(s.execute(select(m.TakedownItem)).scalars())
        decisions = sorted(s.execute(select(m.TakedownDecision)).scalars(), key=lambda d: d.seq)
        notices_by_id = {n.id: n for n in s.execute(select(m.TakedownNotice)).scalars()}
        traces = {t.id: t for t in s.execute(select(m.GenerationTrace)).scalars()}
        strikes = list(s.execute(select(m.TakedownStrike)).scalars())
    notices = []
    for n in notices_by_id.values():
        if n.received_at not in period or not mine(n.provider_id):
            continue
        first = next((d for d in decisions if d.notice_id == n.id and d.outcome in UPHOLDING), None)
        acted = n.acted_at if first is not None else None
        notices.append(
            NoticeRecord(
                n.id,
                n.received_at,
                max(1, sum(i.notice_id == n.id for i in items)),
                n.trusted_flagger,
                acted_at=acted,
                ground=Ground(first.ground) if first is not None and acted and first.ground else None,
                restrictions=restrictions_of(first.statement) if first is not None and acted else (),
                automated_processing=n.recommendation is not None,
            )
        )
    suspensions = []
    for x in strikes:
        if x.issued_at not in period or not mine(x.provider_id):
            continue
        history = [
            Strike(o.user_ref, o.notice_id, o.issued_at, o.removed_at)
            for o in strikes
            if (o.provider_id, o.user_ref) == (x.provider_id, x.user_ref)
        ]
        now = standing(x.user_ref, history, x.issued_at, policy).sanction
        before = standing(x.user_ref, [h for h in history if h.issued_at < x.issued_at], x.issued_at, policy)
        if now in (Sanction.SUSPEND, Sanction.TERMINATE) and before.sanction.severity < now.severity:
            suspensions.append(SuspensionRecord(x.issued_at, SuspensionReason.MANIFESTLY_ILLEGAL_CONTENT))
    samples = []
    for i in items:
        n = notices_by_id[i.notice_id]
        if (
            i.upheld is None
            or i.trace_id is None
            or n.decided_at is None
            or n.decided_at not in period
            or not mine(n.provider_id)
        ):
            continue
        samples.append(AccuracySample(n.decided_at, traces[i.trace_id].decision in ("block", "warn"), i.upheld))
    return notices, suspensions, samples


def test_bulk_records_equal_a_plain_reading_and_seal_the_same_bytes(ca: Copyalign, clock: FakeClock) -> None:
    op = ca.parties.create(None, name="Operator", role="operator")
    ca.parties.issue_key(None, op.id)
    operator = ca.parties.operator()
    assert operator is not None
    provider, _ = make_party(ca, operator, "provider", "Provider")
    other, _ = make_party(ca, operator, "provider", "Other provider")
    holder, _ = make_party(ca, operator, "rights_holder", "Publisher")
    _desk(ca, [provider.party_id, other.party_id], holder.party_id, seed=18)
    clock.set(datetime(2027, 1, 5, tzinfo=UTC))
    period = ca.takedown.report_period("2026")  # the profile's time zone (Asia/Shanghai)
    for who, provider_id in ((provider, provider.party_id), (operator, None)):
        fast = ca.takedown.records.period(period, provider_id, statements=False)
        notices, suspensions, samples = _plain(ca, period, provider_id)
        assert sorted(fast.notices, key=lambda r: r.notice_id) == sorted(notices, key=lambda r: r.notice_id)
        assert Counter(fast.suspensions) == Counter(suspensions) and suspensions  # the ladder's top is reached
        assert Counter(fast.samples) == Counter(samples) and samples
        restricted = {r for n in notices for r in n.restrictions}
        assert {DecisionAccount.TERMINATED.value, DecisionVisibility.CONTENT_DEMOTED.value} <= restricted
        assert any(n.acted_at is not None and not n.restrictions for n in notices)  # unspecified restriction

        plain = dataclasses.replace(
            fast, notices=tuple(notices), suspensions=tuple(suspensions), samples=tuple(samples)
        )
        view = ca.takedown.transparency_report(who, "2026", provider_id=provider_id)
        _, files = ca.takedown.sealed_files(None, view.id)
        expected = render_transparency_report(
            plain.report(),
            period=period,
            provider="Provider" if provider_id else "every desk of Operator",
            generated_at=clock.now(),
        )
        assert {k: v for k, v in files.items() if k != "SHA256SUMS"} == expected
