"""``scan``: clean a training corpus against opt-out signals and the registry, with an auditable record.

The training-phase duty (seed 004 ¶52, ¶56-59, ¶94; seed 001 §3.2-3.3; seed 003 §4.4): train only on
lawful sources, honour reservations of rights, drop works whose owners opted out or objected, deduplicate,
keep provenance for every item, and be able to show later which registry state the training set was
cleaned against. Steps:

1. *prepare* — refresh the match index, sign a log checkpoint, list the corpus's shards; with ``fetch_signals``,
   capture the opt-out files of every site the corpus names that has no fresh capture (a web item whose site
   was never captured is held: ``signals:not-captured``);
2. *scan* (parallel, :mod:`copyalign.services.scan.pipeline`) — per shard: signals, matching, fingerprints;
3. *decide* (here, one pass) — the registry's facts for every matched work as of now, the decision per
   item, deduplication across the whole corpus;
4. *write* (parallel) — the kept records in the input's format;
5. *record* — manifest, usage summary, reports, EU summary, and one log entry committing to the corpus
   digest, the checkpoint, the exclusion-list versions and the manifest digest.

Steps 2 and 4 are resumable: a rerun with the same configuration skips finished shards.

A scan may claim the profile's research exception (:mod:`copyalign.core.licensing.research`): the claim is
checked before anything runs, changes the decisions as :mod:`copyalign.core.scan.decide` says, and is recorded in
the log entry, the report and the EU summary.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from copyalign.core.authz import Action, require
from copyalign.core.canonical import format_time
from copyalign.core.licensing.research import ResearchClaim
from copyalign.core.registry.preferences import Purpose, parse_jurisdiction, resolve
from copyalign.core.scan.decide import WorkFacts, decide_item, deduplicate, work_use
from copyalign.engines import executor as make_executor
from copyalign.errors import InvalidInputError, NotFoundError
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.log.ledger import Event
from copyalign.services.matching.service import MatchService
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.preferences import statements_for
from copyalign.services.scan import outputs, report_html
from copyalign.services.scan.pipeline import ScanConfig, ShardOutcome, result_path, scan_shard, sites_digest
from copyalign.services.scan.readers import Shard, list_corpus, write_kept
from copyalign.services.scan.sites import SiteFetcher, corpus_hosts
from copyalign.store.batching import in_batches
from copyalign.store.models import ExclusionList, Notice, NoticeWork, Party, Work

Progress = Callable[[str, int, int, int], None]  # (step, shards done, shards, records so far)


@dataclass
class ScanResult:
    out: Path
    items: int
    decisions: dict[str, int]
    shard_errors: list[tuple[str, str]]
    log_index: int
    manifest_sha256: str
    corpus_sha256: str
    steps: dict[str, Any] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    signal_checks: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "items": self.items,
            "decisions": self.decisions,
            "shard_errors": [{"shard": s, "error": e} for s, e in self.shard_errors],
            "log_index": self.log_index,
            "manifest_sha256": self.manifest_sha256,
            "corpus_sha256": self.corpus_sha256,
            "steps": self.steps,
            "refused_paths": [{"path": p, "why": w} for p, w in self.refused],
            "signal_checks": self.signal_checks,
        }


def write_shard(cfg: ScanConfig, task: tuple[Shard, list[str], str]) -> int:
    """Step 4 for one shard (a module-level function so that process pools and Ray can ship it)."""
    shard, keep, out = task
    return write_kept(Path(cfg.corpus), shard, set(keep), Path(out))


class ScanService(ServiceBase):
    def __init__(self, deps: Deps, matching: MatchService) -> None:
        super().__init__(deps)
        self.matching = matching

    def scan(
        self,
        actor: Principal,
        corpus: Path,
        out: Path,
        *,
        developer_id: str | None = None,
        engine: str = "local",
        workers: int = 1,
        address: str | None = None,
        dedup: bool = False,
        agents: Sequence[str] = (),
        sites: Path | None = None,
        text_field: str = "text",
        provider: str | None = None,
        model: str | None = None,
        progress: Progress | None = None,
        fetch_signals: SiteFetcher | None = None,
        refresh_signals: bool = False,
        research: tuple[str, Sequence[str]] | None = None,
    ) -> ScanResult:
        """Scan ``corpus`` into ``out`` for ``developer_id`` (the actor itself when it is a developer).

        ``fetch_signals`` captures the sites the corpus names first (missing, failed or stale captures; all of
        them with ``refresh_signals``); ``research`` claims the profile's research exception: ``(use,
        conditions)``, e.g. ``("research", ["non-commercial", "lawful-access", ...])``.
        """
        developer_id = developer_id or (actor.party_id if actor.role.value == "developer" else None)
        require(actor.role, Action.SCAN_RUN, owner=developer_id == actor.party_id or developer_id is None)
        return self.run(
            actor.party_id,
            corpus,
            out,
            developer_id=developer_id,
            engine=engine,
            workers=workers,
            address=address,
            dedup=dedup,
            agents=agents,
            sites=sites,
            text_field=text_field,
            provider=provider,
            model=model,
            progress=progress,
            fetch_signals=fetch_signals,
            refresh_signals=refresh_signals,
            research=research,
        )

    def run(
        self,
        actor_id: str,
        corpus: Path,
        out: Path,
        *,
        developer_id: str | None = None,
        engine: str = "local",
        workers: int = 1,
        address: str | None = None,
        dedup: bool = False,
        agents: Sequence[str] = (),
        sites: Path | None = None,
        text_field: str = "text",
        provider: str | None = None,
        model: str | None = None,
        progress: Progress | None = None,
        fetch_signals: SiteFetcher | None = None,
        refresh_signals: bool = False,
        research: tuple[str, Sequence[str]] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ScanResult:
        """The scan itself, in ``actor_id``'s name, authorised by the caller: :meth:`scan` for a developer's
        corpus, the user journey for a user model's training set (whose ``extra`` facts, such as the user
        model it is for, the log entry records)."""
        claim: ResearchClaim | None = None
        if research is not None:
            claim = self.policy.research.claim(research[0], self.policy.scan.purpose, research[1])
        corpus, out = corpus.resolve(), out.resolve()
        if not corpus.is_dir():
            raise InvalidInputError(f"corpus {corpus} is not a folder", field="corpus")
        if out == corpus or out.is_relative_to(corpus):
            raise InvalidInputError("the output folder must not lie inside the corpus", field="out")
        if developer_id is not None:
            with self.store.read() as s:
                if s.get(Party, developer_id) is None:
                    raise NotFoundError(f"no party {developer_id}", field="developer_id")
        sites = sites or (corpus / ".copyalign-sites")
        tick = progress or (lambda step, done, total, records: None)
        steps: dict[str, Any] = {}

        # 1. prepare
        t0 = time.perf_counter()
        self.matching.maybe_refresh()
        checkpoint = self.ledger.checkpoint()
        listing = list_corpus(corpus)
        fetched: list[dict[str, Any]] = []
        if fetch_signals is not None:
            hosts = corpus_hosts(corpus, listing, text_field=text_field)
            fetched = fetch_signals.capture(hosts, sites, refresh=refresh_signals)
        scan_cfg = self.policy.scan
        cfg = ScanConfig(
            corpus=str(corpus),
            work_dir=str(out / ".work"),
            index_dir=str(self.matching.index.directory),
            sites_dir=str(sites) if sites.is_dir() else None,
            matching=self.policy.matching,
            limits=self.limits,
            agents=tuple(dict.fromkeys([*agents, *scan_cfg.agents])),
            purpose=scan_cfg.purpose.value,
            dedup=dedup,
            text_field=text_field,
            index_watermark=self.matching.index.watermark,
        )
        cfg.digest()  # computed here once (it reads every site capture) and carried to the workers with cfg
        out.mkdir(parents=True, exist_ok=True)
        steps["prepare"] = {
            "shards": len(listing.shards),
            "refused": len(listing.refused),
            "sites_fetched": sum(1 for f in fetched if not f.get("cached")),
            "sites_cached": sum(1 for f in fetched if f.get("cached")),
            "seconds": round(time.perf_counter() - t0, 3),
        }

        # 2. scan, in parallel
        t0 = time.perf_counter()
        ex = make_executor(engine, workers=workers, address=address)
        started = time.perf_counter() - t0  # ray.init takes seconds: reported apart from the scan's rate
        t0 = time.perf_counter()
        outcomes: dict[int, ShardOutcome] = {}
        try:
            tick("scan", 0, len(listing.shards), 0)
            records = 0
            for i, outcome in ex.map(scan_shard, cfg, listing.shards):
                outcomes[i] = outcome
                records += outcome.records
                tick("scan", len(outcomes), len(listing.shards), records)
            seconds = time.perf_counter() - t0
            shard_errors = [(o.shard, o.error) for _, o in sorted(outcomes.items()) if o.error]
            rows = self._rows(cfg, [s for i, s in enumerate(listing.shards) if not outcomes[i].error])
            steps["scan"] = {
                "records": len(rows),
                "skipped_shards": sum(1 for o in outcomes.values() if o.skipped),
                "corrupt_shards": len(shard_errors),
                "seconds": round(seconds, 3),
                "records_per_second": round(len(rows) / seconds, 1) if seconds else None,
                "engine": ex.name,
                "engine_start_seconds": round(started, 3),
                "workers": workers,
            }

            # 3. decide
            t0 = time.perf_counter()
            facts, exclusion_lists, notices = self._facts(rows, developer_id)
            decisions = [
                decide_item(
                    r,
                    facts,
                    unlicensed_action=scan_cfg.unlicensed_action,
                    uncaptured_action=scan_cfg.uncaptured_action,
                    exempt=claim is not None,
                    opt_outs_bind=claim is None or claim.honour_opt_outs,
                )
                for r in rows
            ]
            if dedup:
                deduplicate(rows, decisions, jaccard=scan_cfg.dedup_jaccard, pdq_distance=scan_cfg.dedup_pdq_distance)
            steps["decide"] = {"works_matched": len(facts), "seconds": round(time.perf_counter() - t0, 3)}

            # 4. write what was kept, in parallel
            t0 = time.perf_counter()
            keep: dict[str, list[str]] = {}
            for r, d in zip(rows, decisions, strict=True):
                if d.decision in ("keep", "keep-licensed"):
                    keep.setdefault(r["shard"], []).append(r["id"])
            good = [s for i, s in enumerate(listing.shards) if not outcomes[i].error]
            tasks = [(s, keep.get(s.id, []), str(out / "kept")) for s in good]
            written = 0
            tick("write", 0, len(tasks), 0)
            for n, (_, count) in enumerate(ex.map(write_shard, cfg, tasks), 1):
                written += count
                tick("write", n, len(tasks), written)
            steps["write"] = {"kept_records": written, "seconds": round(time.perf_counter() - t0, 3)}
        finally:
            ex.close()

        # 5. record
        refused = list(listing.refused) + [r for _, o in sorted(outcomes.items()) for r in o.refused]
        manifest_sha = outputs.write_manifest(out / "manifest.parquet", rows, decisions)
        corpus_sha = _corpus_digest(rows)
        counts = {k: sum(1 for d in decisions if d.decision == k) for k in outputs.DECISIONS}
        checks = outputs.signal_checks(rows, decisions)
        scan_id = f"scan_{uuid.uuid4().hex[:20]}"
        payload = {
            "scan": scan_id,
            "developer": developer_id,
            "corpus_sha256": corpus_sha,
            "items": len(rows),
            "decisions": counts,
            "checkpoint": {"size": checkpoint.size, "root": checkpoint.root.hex()},
            "index_watermark": cfg.index_watermark,
            "exclusion_lists": exclusion_lists,
            "manifest_sha256": manifest_sha,
            "config_sha256": cfg.digest(),
            "corrupt_shards": [s for s, _ in shard_errors],
            "refused_paths": len(refused),
            "sites_sha256": sites_digest(cfg.sites_dir),
            "signal_checks": {
                "web_items": checks["web_items"],
                "not_web_items": checks["not_web_items"],
                "checked_against": checks["checked_against"],
                "not_captured": {k: checks["not_captured"][k] for k in ("items", "held", "dropped", "kept", "hosts")},
            },
            "research": claim.to_dict() if claim is not None else None,
            "policy_overrides": [d.to_dict() for d in self.policy.departures()],
            **({"model": model} if model else {}),
            **dict(extra or {}),
        }
        with self.store.write() as s:
            [receipt] = self.ledger.append(s, [Event("scan.record", actor_id, scan_id, payload)])
        record = {
            **payload,
            "corpus": str(corpus),
            "log_index": receipt.index,
            "recorded_at": format_time(self.clock.now()),
            "licensing_notices": notices,
        }
        uses = work_use(rows, decisions)
        rep = outputs.report(rows, decisions, shard_errors=shard_errors, refused=refused, steps=steps, record=record)
        rep["listing"] = report_html.listing(  # the HTML report's per-item table
            rows,
            decisions,
            facts,
            self._holder_names(facts),
            out=out,
            corpus=Path(corpus),
            sites=Path(cfg.sites_dir) if cfg.sites_dir else None,
            cap=report_html.CAP,
        )
        summary = outputs.eu_summary(rows, decisions, provider=provider, model=model, agents=cfg.agents, record=record)
        outputs.write_outputs(out, rep=rep, usage=outputs.usage_summary(uses, facts), summary=summary)
        tmp = out / "scan.json.partial"
        tmp.write_text(json.dumps({**record, "receipt": receipt.to_dict()}, indent=2, default=str) + "\n")
        os.replace(tmp, out / "scan.json")
        return ScanResult(
            out, len(rows), counts, shard_errors, receipt.index, manifest_sha, corpus_sha, steps, refused, checks
        )

    # -- internals -------------------------------------------------------------------------------------
    def _holder_names(self, facts: Mapping[str, WorkFacts]) -> dict[str, str]:
        ids = sorted({f.holder_id for f in facts.values()})
        with self.store.read() as s:
            return {
                pid: name
                for part in in_batches(ids)
                for pid, name in s.execute(select(Party.id, Party.name).where(Party.id.in_(part)))
            }

    @staticmethod
    def _rows(cfg: ScanConfig, shards: Sequence[Shard]) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        rows: list[dict[str, Any]] = []
        for shard in shards:
            rows += pq.read_table(result_path(cfg, shard)).to_pylist()
        return rows

    def _facts(
        self, rows: Sequence[dict[str, Any]], developer_id: str | None
    ) -> tuple[dict[str, WorkFacts], list[dict[str, Any]], list[str]]:
        """The registry's facts, as of now, for every matched work; the developer's exclusion lists."""
        wanted = sorted({m["work"] for r in rows if r["matches"] != "[]" for m in json.loads(r["matches"])})
        now = self.clock.now()
        purpose = Purpose(self.policy.scan.purpose)
        juris = parse_jurisdiction(self.policy.profile.jurisdiction)
        default = self.policy.preferences.defaults[purpose]
        facts: dict[str, WorkFacts] = {}
        with self.store.read() as s:
            licensed: dict[str, str] = {}
            excluded: dict[str, str] = {}
            lists: list[dict[str, Any]] = []
            notices: list[str] = []
            if developer_id is not None:
                finalised = (
                    s.execute(
                        select(Notice.id).where(Notice.developer_id == developer_id, Notice.status == "finalised")
                    )
                    .scalars()
                    .all()
                )
                notices = sorted(finalised)
                for nid in notices:
                    latest = s.execute(
                        select(ExclusionList)
                        .where(ExclusionList.notice_id == nid)
                        .order_by(ExclusionList.version.desc())
                        .limit(1)
                    ).scalar_one_or_none()
                    if latest is not None:
                        lists.append({"notice": nid, "version": latest.version, "sha256": latest.sha256})
            for part in in_batches(wanted):
                works = s.execute(select(Work).where(Work.id.in_(part))).scalars().all()
                stmts = statements_for(s, works)
                if notices:
                    for nw in s.execute(
                        select(NoticeWork).where(NoticeWork.notice_id.in_(notices), NoticeWork.work_id.in_(part))
                    ).scalars():
                        if nw.status == "licensed":
                            licensed.setdefault(nw.work_id, nw.notice_id)
                        elif nw.status == "excluded":
                            excluded[nw.work_id] = nw.reason or "excluded"
                for w in works:
                    value = resolve(stmts[w.id], purpose, at=now, jurisdiction=juris, default=default).value.value
                    facts[w.id] = WorkFacts(w.holder_id, w.title, value, licensed.get(w.id), excluded.get(w.id))
        return facts, lists, notices


def _corpus_digest(rows: Sequence[dict[str, Any]]) -> str:
    """SHA-256 over ``id, sha256`` of every item in corpus order: the same corpus gives the same digest
    whatever the engine, and any changed, added or removed item changes it."""
    h = hashlib.sha256()
    for r in rows:
        h.update(f"{r['id']}\0{r['sha256'] or ''}\n".encode())
    return h.hexdigest()


__all__ = ["ScanResult", "ScanService", "write_shard"]
