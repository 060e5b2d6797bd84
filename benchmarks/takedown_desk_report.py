"""The transparency report through the desk: 100,000 stored decisions read, counted, rendered and sealed.

``takedown_reports.py`` times the core's quantities and the files over records built in memory; this times
what an operator runs, ``ca.takedown.transparency_report`` (``copyalign takedown report``), on a SQLite store
holding a year of a busy desk: ``--decisions`` notices (1-3 items each, every item on a stored generation trace,
8 % from trusted flaggers), 80 % upheld with a statement of reasons and acted on 1 minute to 72 hours after
receipt, the rest rejected; a strike for every upheld notice (users drawn so that some reach suspension); 5 %
with a complaint, most decided. The rows are written in bulk (``INSERT``), not through the procedure: the
procedure's own speed is ``takedown.py``'s. Timed, best of ``--repeat``:

* ``records`` — :meth:`Records.period`: the period's notices, own-initiative measures, complaints,
  suspensions and accuracy samples read from the store as the core's records;
* ``seal`` — the whole call: records, the four sheets, the files rendered and staged, the digest sealed in the
  log (one entry), the files published.

The target is issue 18's: the report over 10^5 decisions in under 10 s.

    nice -n 10 python benchmarks/takedown_desk_report.py [--decisions 100000] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from copyalign.clock import FakeClock  # noqa: E402
from copyalign.context import connect  # noqa: E402
from copyalign.core.takedown.report import parse_period  # noqa: E402
from copyalign.core.takedown.sor import copyright_statement  # noqa: E402
from copyalign.core.takedown.sor_vocab import AutomatedDecision, SourceType  # noqa: E402
from copyalign.policy import load_policy  # noqa: E402
from copyalign.settings import Settings  # noqa: E402
from copyalign.store import models as m  # noqa: E402

TARGET_SECONDS = 10.0
START = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 5000


def rows(decisions: int, provider: str, holder: str, seed: int) -> dict[type, list[dict[str, Any]]]:
    rng = random.Random(seed)
    out: dict[type, list[dict[str, Any]]] = {
        t: []
        for t in (
            m.GenerationTrace,
            m.TakedownNotice,
            m.TakedownItem,
            m.TakedownDecision,
            m.TakedownStrike,
            m.TakedownComplaint,
        )
    }
    for i in range(decisions):
        received = START + timedelta(seconds=rng.uniform(0, 360 * 86400))
        upheld = rng.random() < 0.8
        decided = received + timedelta(minutes=rng.uniform(1, 72 * 60))
        nid, did = f"tdn_b{i:09d}", f"tdd_b{i:09d}"
        user = f"user{rng.randrange(decisions // 3 + 1):08d}"
        out[m.TakedownNotice].append(
            {
                "id": nid, "provider_id": provider, "jurisdiction": "EU", "channel": "holder",
                "sender_party_id": holder, "principal_party_id": None, "authorisation_id": None,
                "sender_ref": holder, "origin_ref": None, "token_sha256": None, "contact": {}, "elements": {},
                "status": "measures_applied" if upheld else "closed", "missing": [], "recommendation": "act",
                "simplified": False, "trusted_flagger": rng.random() < 0.08, "priority": 0, "upheld": upheld,
                "received_at": received, "completed_at": received, "acknowledged_at": received,
                "decided_at": decided, "acted_at": decided if upheld else None, "user_inquired_at": None,
                "counter_notice_at": None, "counter_forwarded_at": None, "court_action_at": None,
                "restored_at": None, "closed_at": None if upheld else decided, "due_at": None,
                "log_index": 0, "updated_log_index": 0,
            }
        )  # fmt: skip
        for k in range(rng.randint(1, 3)):
            tid = f"tr_b{i:09d}{k}"
            out[m.GenerationTrace].append(
                {
                    "id": tid, "provider_id": provider, "user_ref": user, "kind": "text", "model": "m",
                    "prompt_sha256": None, "output_sha256": f"{i:060d}{k:04d}", "delivered_sha256": None,
                    "decision": "warn" if rng.random() < 0.3 else "allow", "reasons": [], "prompt_text": None,
                    "output_data": None, "retain_until": None, "created_at": received - timedelta(hours=1),
                    "leaf": "0" * 64, "sealed_index": None, "taken_down_at": None, "takedown_ref": None,
                }
            )  # fmt: skip
            out[m.TakedownItem].append(
                {
                    "id": f"tdi_b{i:09d}{k}", "notice_id": nid, "position": k, "work_id": None,
                    "work_description": "a poem", "original_locations": [], "material_kind": "trace",
                    "material_value": tid, "material_sha256": "0" * 64, "content_sha256": None, "trace_id": tid,
                    "evidence": None, "recommendation": "act", "reasons": [], "guard_missed": True,
                    "upheld": upheld,
                }
            )  # fmt: skip
        puid = f"ca-{nid}-d-1"
        statement = (
            copyright_statement(
                puid=puid, legal_ground="Directive 2001/29/EC Arts. 2-3", explanation="a copy",
                facts="A notice named a delivered output; the matching engine found a passage.",
                content_date=received.date(), application_date=decided.date(), source_type=SourceType.ARTICLE_16,
                automated_detection=True, automated_decision=AutomatedDecision.PARTIALLY,
            ).to_payload()
            if upheld
            else None
        )  # fmt: skip
        out[m.TakedownDecision].append(
            {
                "id": did, "notice_id": nid, "seq": 1, "trigger": "notice",
                "outcome": "upheld" if upheld else "rejected", "decided_by": provider,
                "ground": "illegal_content" if upheld else None, "legal_ground": None, "explanation": "x",
                "automated_detection": True, "automated_decision": "AUTOMATED_DECISION_PARTIALLY",
                "measures": [], "items": [], "puid": puid if upheld else None, "statement": statement,
                "decided_at": decided, "log_index": 0,
            }
        )  # fmt: skip
        if upheld:
            out[m.TakedownStrike].append(
                {
                    "id": f"tds_b{i:09d}", "provider_id": provider, "user_ref": user, "notice_id": nid,
                    "measure_id": None, "issued_at": decided, "removed_at": None, "log_index": 0,
                    "removed_log_index": None,
                }
            )  # fmt: skip
        if rng.random() < 0.05:
            filed = decided + timedelta(days=rng.uniform(0, 20))
            done = rng.random() < 0.9
            out[m.TakedownComplaint].append(
                {
                    "id": f"tdc_b{i:09d}", "notice_id": nid, "decision_id": did, "by": "user",
                    "complainant_ref": user, "filed_by": provider, "channel": "internal", "subject": "decision",
                    "state": rng.choice(["upheld", "partially_reversed", "reversed"]) if done else "filed",
                    "reason": "mine", "explanation": None, "decided_by": provider if done else None,
                    "filed_at": filed, "due_at": filed + timedelta(days=14),
                    "decided_at": filed + timedelta(hours=rng.uniform(2, 300)) if done else None,
                    "log_index": 0, "decided_log_index": None,
                }
            )  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--decisions", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="5,000 decisions, one run")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.decisions, args.repeat = 5000, 1
    name = "takedown_desk_report-quick.json" if args.quick else "takedown_desk_report.json"
    out = args.out or Path(__file__).parent / "results" / name
    tmp = Path(tempfile.mkdtemp(prefix="desk-report-"))
    clock = FakeClock(datetime(2027, 1, 5, tzinfo=UTC))
    settings = Settings(database_url=f"sqlite:///{tmp / 'desk.db'}", data_dir=str(tmp / "data"))
    ca = connect(settings, clock=clock, policy=load_policy("eu"))
    op_party = ca.parties.create(None, name="Operator", role="operator")
    op = ca.parties.authenticate(ca.parties.issue_key(None, op_party.id).secret)
    provider = ca.parties.create(op, name="Provider", role="provider").id
    holder = ca.parties.create(op, name="Publisher", role="rights_holder").id

    t0 = time.perf_counter()
    data = rows(args.decisions, provider, holder, seed=20261206)
    with ca.store.write() as s:
        for table, items in data.items():
            for i in range(0, len(items), CHUNK):
                s.execute(insert(table), items[i : i + CHUNK])
    load_s = time.perf_counter() - t0
    print(f"stored {args.decisions} decisions in {load_s:.1f} s", flush=True)

    period = parse_period("2026")
    runs = []
    for r in range(args.repeat):
        t = time.perf_counter()
        recs = ca.takedown.records.period(period, provider, statements=False)
        records_s = time.perf_counter() - t
        t = time.perf_counter()
        view = ca.takedown.transparency_report(op, "2026", provider_id=provider, out=tmp / f"report-{r}")
        seal_s = time.perf_counter() - t
        runs.append({"records": round(records_s, 3), "seal": round(seal_s, 3)})
        print(runs[-1], flush=True)
    best = min(x["seal"] for x in runs)
    doc = json.loads((tmp / "report-0" / "report.json").read_text())
    notices = {(x["indicator"], x["breakdown"]): x["value"] for x in doc["sheets"]["notices"]["rows"]}
    result = {
        "benchmark": "takedown_desk_report",
        "machine": machine_info(),
        "database": "sqlite",
        "decisions": args.decisions,
        "quick": args.quick,
        "stored_rows": {t.__tablename__: len(v) for t, v in data.items()},
        "records": {k: len(getattr(recs, k)) for k in ("notices", "complaints", "suspensions", "samples")},
        "seconds": {"load": round(load_s, 1), "seal_best": best, "runs": runs},
        "check": {
            "notices_received": notices[("notices_received", "total")],
            "median_time_to_action_hours": notices[("median_time_to_action", "total")],
            "sealed_sha256": view.sha256,
        },
        "floor": {"seconds": TARGET_SECONDS},
        "floor_met": best < TARGET_SECONDS,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("records", "seconds", "check", "floor_met")}, indent=2))
    ca.close()


if __name__ == "__main__":
    main()
