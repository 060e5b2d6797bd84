"""Distribution at scale: fees of a period allocated over 1,000,000 licensed works and 10,000 rights holders.

Works are spread over holders by a power law (a few publishers hold many works, most authors a few). The
period holds five paid usage reports with per-work measures (token counts) covering 1,000,000, 600,000,
300,000, 100,000 and 50,000 works, and one blanket report without measures, split equally over its
notice's 200,000 licensed works. ``copyalign.core.licensing.distribution.distribute`` allocates exactly (fractions,
one largest-remainder pass); the peer is what a spreadsheet or a pandas script does: float64 shares,
rounded per work. Both run on the same input in the same process; the table reports time, peak memory
(ru_maxrss, the whole process) and how far each lands from the distributable amount.

``--service`` also measures the real path, ``LicensingService.distribute`` on SQLite: the same works,
holders, notices, usage lines and paid invoices are written straight into a fresh database (registering
a million works through the registry would take half an hour and measure the registry, not this), then one
call reads the paid invoices and their lines, allocates, writes a million allocation rows and one signed
log entry per holder statement, and commits. The process's peak memory is reported for that call too.

    python benchmarks/distribution.py [--works 1000000] [--holders 10000] [--service]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from copyalign.core.licensing.distribution import Contribution, distribute  # noqa: E402
from copyalign.core.money import Money  # noqa: E402

ADMIN_SHARE = Decimal("0.10")
REPORT_SIZES = (1.0, 0.6, 0.3, 0.1, 0.05)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def float_peer(
    reports: list[tuple[int, np.ndarray, np.ndarray]], blanket: tuple[int, np.ndarray], n: int
) -> np.ndarray:
    """Per-work float64 shares of the distributable money, each rounded to the cent on its own."""
    share = np.zeros(n, dtype=np.float64)
    for cents, works, measures in reports:
        share[works] += cents * (1 - float(ADMIN_SHARE)) * measures / measures.sum()
    cents, works = blanket
    share[works] += cents * (1 - float(ADMIN_SHARE)) / works.size
    return np.round(share).astype(np.int64)


WORK_ROW = {
    "kind": "text", "creators": [], "identifiers": {}, "media_type": "text/plain", "size_bytes": 1, "norm_sha256": None,
    "iscc": "", "iscc_content": 0, "band0": 0, "band1": 0, "band2": 0, "band3": 0, "width": None, "height": None,
    "characters": 1, "fingerprint_version": 1, "revision": 1,
}  # fmt: skip
NOTICE_ROW = {
    "developer_id": "dev_0", "purpose": "train-ai", "use": "commercial", "jurisdiction": "CN", "tariff": "default",
    "currency": "CNY", "window_days": 30, "status": "finalised",
}  # fmt: skip
REPORT_ROW = {
    "developer_id": "dev_0", "supersedes_id": None, "revenue_minor": 0, "currency": "CNY", "feature_share": "0",
    "unit": "tokens", "quote": {},
}  # fmt: skip
INVOICE_ROW = {"developer_id": "dev_0", "currency": "CNY", "status": "paid", "distribution_id": None}


def service_run(
    n: int, holder_idx: np.ndarray, h: int, raw_reports: list, blanket: tuple[int, np.ndarray]
) -> dict[str, object]:
    """Write the period straight into SQLite, then time ``LicensingService.distribute``."""
    import tempfile
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from copyalign.context import connect
    from copyalign.services.log.ledger import Event
    from copyalign.settings import Settings
    from copyalign.store.models import Invoice, Notice, NoticeWork, Party, UsageLine, UsageReport, Work

    now = datetime(2026, 11, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        ca = connect(Settings(database_url=f"sqlite:///{tmp}/d.db", data_dir=f"{tmp}/data"))
        ca.parties.create(None, name="CMO", role="operator")
        op = ca.parties.operator()
        assert op is not None
        t0 = time.perf_counter()
        with ca.store.write() as s:
            conn = s.connection()
            [rc] = ca.ledger.append(s, [Event("benchmark.setup", op.party_id, "setup", {"works": n})], at=now)
            stamp = {"created_at": now, "log_index": rc.index}

            def party(pid: str, role: str) -> dict[str, object]:
                return {"id": pid, "name": pid, "role": role, "email": None, **stamp}

            def work(i: int) -> dict[str, object]:
                return {
                    **WORK_ROW, "id": f"wrk_{i:08d}", "holder_id": f"hld_{holder_idx[i]:05d}", "sha256": f"{i:064x}",
                    "title": f"W{i}", "updated_at": now, **stamp,
                }  # fmt: skip

            conn.execute(insert(Party), [party(f"hld_{i:05d}", "rights_holder") for i in range(h)])
            conn.execute(insert(Party), [party("dev_0", "developer")])
            for start in range(0, n, 50_000):
                conn.execute(insert(Work), [work(i) for i in range(start, min(n, start + 50_000))])
            reports = [*raw_reports, (blanket[0], blanket[1], None, "rpt_blanket")]
            for k, (cents, works, measures, rid) in enumerate(reports):
                nid = f"ntc_{k:02d}"
                notice = {**NOTICE_ROW, "id": nid, "title": nid, "published_at": now, "closes_at": now}
                conn.execute(insert(Notice), [{**notice, "finalised_at": now, **stamp}])
                ids = [f"wrk_{i:08d}" for i in works.tolist()]
                holders = [f"hld_{holder_idx[i]:05d}" for i in works.tolist()]
                listed = [
                    {"notice_id": nid, "work_id": w, "holder_id": hd, "status": "licensed", "reason": None,
                     "decided_at": now}
                    for w, hd in zip(ids, holders, strict=True)
                ]  # fmt: skip
                for start in range(0, len(listed), 50_000):
                    conn.execute(insert(NoticeWork), listed[start : start + 50_000])
                times = {"period_start": now, "period_end": now, "submitted_at": now, "log_index": rc.index}
                conn.execute(insert(UsageReport), [{**REPORT_ROW, "id": rid, "notice_id": nid, **times}])
                if measures is not None:
                    lines = [
                        {"report_id": rid, "work_id": w, "measure": str(m)}
                        for w, m in zip(ids, measures.tolist(), strict=True)
                    ]
                    for start in range(0, len(lines), 50_000):
                        conn.execute(insert(UsageLine), lines[start : start + 50_000])
                paid = {"id": f"inv_{k:02d}", "report_id": rid, "amount_minor": cents, "issued_at": now, "paid_at": now}
                conn.execute(insert(Invoice), [{**INVOICE_ROW, **paid, "log_index": rc.index}])
        setup_s = time.perf_counter() - t0
        gc.collect()
        before = peak_mb()
        t0 = time.perf_counter()
        result = ca.licensing.distribute(op, "CNY")
        run_s = time.perf_counter() - t0
        after = peak_mb()
        ca.close()
    return {
        "database": "sqlite",
        "setup_seconds_direct_inserts": round(setup_s, 1),
        "distribute_seconds": round(run_s, 2),
        "peak_rss_mb_whole_process": round(after, 1),
        "peak_rss_mb_before_distribute": round(before, 1),
        "holders_paid": result["holders"],
        "works_paid": result["works"],
        "distributable": result["distributable"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--works", type=int, default=1_000_000)
    ap.add_argument("--holders", type=int, default=10_000)
    ap.add_argument("--service", action="store_true", help="also time LicensingService.distribute on SQLite")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "distribution.json")
    args = ap.parse_args()
    rng = np.random.default_rng(20261123)
    n, h = args.works, args.holders
    weights = 1 / np.arange(1, h + 1) ** 0.8  # power law: holder i holds ~ i**-0.8 of the works
    holder_idx = rng.choice(h, size=n, p=weights / weights.sum())
    work_ids = [f"wrk_{i:08d}" for i in range(n)]
    holder_of = {w: f"hld_{holder_idx[i]:05d}" for i, w in enumerate(work_ids)}
    raw_reports = []
    for k, frac in enumerate(REPORT_SIZES):
        works = np.sort(rng.choice(n, size=int(n * frac), replace=False))
        measures = rng.integers(1, 200_000, size=works.size)  # tokens used per work
        cents = int(rng.integers(10**8, 10**10))  # 1 to 100 million yuan
        raw_reports.append((cents, works, measures, f"rpt_{k:02d}"))
    blanket_works = np.sort(rng.choice(n, size=n // 5, replace=False))
    blanket_cents = int(rng.integers(10**7, 10**9))
    contributions = [
        Contribution(
            rid, Money.from_minor(cents, "CNY"), dict(zip([work_ids[i] for i in works], measures.tolist(), strict=True))
        )
        for cents, works, measures, rid in raw_reports
    ]
    contributions.append(
        Contribution("rpt_blanket", Money.from_minor(blanket_cents, "CNY"), {}, [work_ids[i] for i in blanket_works])
    )
    gc.collect()
    mb_before = peak_mb()

    t0 = time.perf_counter()
    d = distribute(contributions, currency="CNY", admin_share=ADMIN_SHARE, holder_of=holder_of)
    ours_s = time.perf_counter() - t0
    mb_after = peak_mb()
    assert sum(d.per_holder.values()) == d.distributable and d.admin + d.distributable == d.collected

    t0 = time.perf_counter()
    peer = float_peer([(c, w, m.astype(np.float64)) for c, w, m, _ in raw_reports], (blanket_cents, blanket_works), n)
    peer_s = time.perf_counter() - t0
    peer_total = int(peer.sum())
    ours = np.array([d.per_work.get(w, 0) for w in work_ids], dtype=np.int64)
    report = {
        "benchmark": "distribution",
        "machine": machine_info(("copyalign", "numpy")),
        "works": n,
        "holders": h,
        "holders_paid": len(d.per_holder),
        "reports": len(contributions),
        "report_lines": sum(len(c.measures) or len(c.licensed) for c in contributions),
        "collected_cents": d.collected,
        "distributable_cents": d.distributable,
        "copyalign": {
            "seconds": round(ours_s, 2),
            "peak_rss_mb_whole_process": round(mb_after, 1),
            "peak_rss_mb_before_distribution": round(mb_before, 1),
            "cents_off_distributable": d.distributable - sum(d.per_holder.values()),
        },
        "float64_rounded_per_work": {
            "seconds": round(peer_s, 3),
            "cents_off_distributable": d.distributable - peer_total,
            "works_differing_from_exact": int((peer != ours).sum()),
        },
        "floor": {"seconds": 60, "memory_mb": 4096},
        "floor_met": ours_s < 60 and mb_after < 4096,
    }
    if args.service:
        del contributions, ours, peer
        gc.collect()
        svc = report["service"] = service_run(n, holder_idx, h, raw_reports, (blanket_cents, blanket_works))
        assert svc["distributable"] == f"{Decimal(d.distributable) / 100:.2f}", (svc, d.distributable)
        report["floor_met"] = (
            report["floor_met"] and svc["distribute_seconds"] < 60 and svc["peak_rss_mb_whole_process"] < 4096
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "machine"}, indent=1))
    return 0 if report["floor_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
