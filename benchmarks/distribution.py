"""Distribution at scale: fees of a period allocated over 1,000,000 licensed works and 10,000 rights holders.

Works are spread over holders by a power law (a few publishers hold many works, most authors a few). The
period holds five paid usage reports with per-work measures (token counts) covering 1,000,000, 600,000,
300,000, 100,000 and 50,000 works, and one blanket report without measures, split equally over its
notice's 200,000 licensed works. ``copyalign.core.distribution.distribute`` allocates exactly (fractions,
one largest-remainder pass); the peer is what a spreadsheet or a pandas script does: float64 shares,
rounded per work. Both run on the same input in the same process; the table reports time, peak memory
(ru_maxrss, the whole process) and how far each lands from the distributable amount.

    python benchmarks/distribution.py [--works 1000000] [--holders 10000]
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
from copyalign.core.distribution import Contribution, distribute  # noqa: E402
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--works", type=int, default=1_000_000)
    ap.add_argument("--holders", type=int, default=10_000)
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
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "machine"}, indent=1))
    return 0 if report["floor_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
