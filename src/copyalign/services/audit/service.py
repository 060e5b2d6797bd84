"""``audit``: test a trained model for memorisation of registered works, with a report the log vouches for.

The training-phase duty of seed 004 (¶57-59, ¶94): canaries, rare-sequence probes and regression tests for
memorisation, and evidence that post-training measures suppress regurgitation. This service chooses what
to probe (registered text works, read through the blob store: all of them, a stratified sample, the works
whose owners deny the use, or named ones), runs the probes of :mod:`copyalign.services.audit`, and records:

* ``audit.canaries`` — a canary set's digest when it is made (the canaries themselves stay with the
  developer), so that an audit can later show the set existed before the model was trained;
* ``audit.report`` — the digests of the report files, the model's digest and the gate's outcome: the report
  can later be shown unaltered.

Report files are written under ``.partial`` names, entered in the log, and only then renamed: a failed run
(a model that does not load, a work too short to probe, a baseline that does not compare) leaves no report
that looks complete.

Example:
    >>> result = ca.audit.run(dev, Path("runs/model"), Path("audit-out"), works="sample:200")  # doctest: +SKIP
    >>> result.gate_passed, result.log_index  # doctest: +SKIP
    (None, 1742)
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import select

from copyalign import __version__
from copyalign.core.audit import memorisation as mem
from copyalign.core.authz import Action, require
from copyalign.core.canonical import format_time
from copyalign.core.content import decode_text
from copyalign.core.registry.preferences import Purpose, Value, parse_jurisdiction, resolve
from copyalign.errors import CopyalignError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.audit.selection import WorkSpec, read_texts
from copyalign.services.base import ServiceBase
from copyalign.services.log.ledger import Event
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.preferences import statements_for
from copyalign.store.batching import in_batches
from copyalign.store.models import Party, Work

Progress = Callable[[str, int, int], None]  # (stage, done, total)
SAMPLE_SEED = "copyalign-audit"
CONTROLS_PER_WORK = 5


@dataclass(frozen=True)
class _Ref:
    id: str
    title: str
    sha256: str
    holder: str
    characters: int


@dataclass(frozen=True)
class _Inputs:
    model: Path
    out: Path
    spec: WorkSpec
    developer_id: str | None
    baseline: Path | None
    nonmembers: Path | None
    canaries: Path | None
    block: bool
    device: str


@dataclass
class AuditResult:
    out: Path
    audit_id: str
    log_index: int
    report_sha256: str
    gate_passed: bool | None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "audit": self.audit_id,
            "log_index": self.log_index,
            "report_sha256": self.report_sha256,
            "gate_passed": self.gate_passed,
            **self.summary,
        }


@dataclass
class CanaryOutcome:
    path: Path
    set_id: str
    sha256: str
    log_index: int
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "set": self.set_id,
            "sha256": self.sha256,
            "log_index": self.log_index,
            **self.summary,
        }


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"copyalign": __version__}
    for name in ("torch", "transformers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


class AuditService(ServiceBase):
    # -- what to probe ---------------------------------------------------------------------------------

    def _refs(self, spec: WorkSpec) -> list[_Ref]:
        cols = (Work.id, Work.title, Work.sha256, Work.holder_id, Work.characters, Work.kind)
        with self.store.read() as s:
            if spec.mode == "ids":
                rows = []
                for part in in_batches(spec.ids):
                    rows += list(s.execute(select(*cols).where(Work.id.in_(part))))
                found = {r[0]: r for r in rows}
                missing = [i for i in spec.ids if i not in found]
                if missing:
                    raise NotFoundError(f"no work {missing[0]}", field="works")
                images = [i for i in spec.ids if found[i][5] != "text"]
                if images:
                    raise InvalidInputError(f"work {images[0]} is an image: only text works are probed", field="works")
                rows = [found[i] for i in spec.ids]
            else:
                rows = list(s.execute(select(*cols).where(Work.kind == "text").order_by(Work.id)))
        refs = [_Ref(r[0], r[1], r[2], r[3], int(r[4] or 0)) for r in rows]
        if spec.mode == "sample":
            strata = [(r.id, f"{r.holder}:{int(math.log2(max(1, r.characters)))}") for r in refs]
            chosen = set(mem.stratified_sample(strata, spec.count, seed=SAMPLE_SEED))
            refs = [r for r in refs if r.id in chosen]
        elif spec.mode == "denied":
            refs = [r for r in refs if r.id in self._denied([r.id for r in refs])]
        if not refs:
            raise InvalidInputError("no registered text work matches the selection", field="works")
        return refs

    def _denied(self, work_ids: Sequence[str]) -> set[str]:
        """The works whose resolved preference for the policy's blocking purpose is deny, as of now."""
        purpose = Purpose(self.policy.audit.block_purpose)
        juris = parse_jurisdiction(self.policy.profile.jurisdiction)
        default = self.policy.preferences.defaults[purpose]
        now = self.clock.now()
        out: set[str] = set()
        with self.store.read() as s:
            for part in in_batches(work_ids):
                works = s.execute(select(Work).where(Work.id.in_(part))).scalars().all()
                stmts = statements_for(s, works)
                for w in works:
                    if resolve(stmts[w.id], purpose, at=now, jurisdiction=juris, default=default).value is Value.DENY:
                        out.add(w.id)
        return out

    def _texts(self, refs: Sequence[_Ref]) -> list[Any]:
        from copyalign.services.audit.probes import WorkText

        return [WorkText(r.id, r.title, decode_text(self.blobs.get(r.sha256), field="works")) for r in refs]

    def _authorise(self, actor: Principal, action: Action, developer_id: str | None) -> str | None:
        developer_id = developer_id or (actor.party_id if actor.role.value == "developer" else None)
        require(actor.role, action, owner=developer_id is None or developer_id == actor.party_id)
        if developer_id is not None:
            with self.store.read() as s:
                if s.get(Party, developer_id) is None:
                    raise NotFoundError(f"no party {developer_id}", field="developer_id")
        return developer_id

    # -- the blocker -----------------------------------------------------------------------------------

    def blocklist(self, actor: Principal, lm: Any, *, n: int | None = None, kind: str = "set") -> Any:
        """The n-grams (in ``lm``'s tokens) of every registered text work whose owner denies the policy's
        blocking purpose: what a provider hands to :class:`copyalign.services.audit.blocker.MemFree`."""
        from copyalign.services.audit.blocker import NgramBlocklist

        require(actor.role, Action.AUDIT_RUN, owner=True)
        refs = self._refs(WorkSpec("denied"))
        texts = [t.text for t in self._texts(refs)]
        return NgramBlocklist.build(lm.encode_many(texts), n=n or self.policy.audit.blocker_ngram, kind=kind)

    # -- canaries --------------------------------------------------------------------------------------

    def make_canaries(
        self,
        actor: Principal,
        out: Path,
        *,
        developer_id: str | None = None,
        buckets: Sequence[int] = (0, 1, 4, 16, 64),
        per_bucket: int = 4,
        fmt: str | None = None,
        alphabet: str = "digits",
        length: int = 6,
        seed: bytes | None = None,
        tokenizer: Path | None = None,
    ) -> CanaryOutcome:
        """Generate a canary set into ``out`` (``canaries.json``, keep it secret; ``inserts.jsonl``, the lines to
        mix into the training data) and log its digest."""
        from copyalign.services.audit import canaries as cn

        developer_id = self._authorise(actor, Action.CANARY_MAKE, developer_id)
        codec = None
        if tokenizer is not None:
            from copyalign.services.audit.model import load_tokenizer

            codec = load_tokenizer(tokenizer)
        seed = seed if seed is not None else secrets.token_bytes(32)
        cset = cn.make_canaries(
            seed,
            set_id=new_id("cns"),
            buckets=buckets,
            per_bucket=per_bucket,
            fmt=fmt or cn.DEFAULT_FORMAT,
            alphabet=alphabet,
            length=length,
            codec=codec,
        )
        digest = cset.sha256()
        payload = {
            "set": cset.set_id,
            "sha256": digest,
            "developer": developer_id,
            "canaries": len(cset.canaries),
            "repetitions": sorted({c.repetitions for c in cset.canaries}),
            "space": str(cset.space),
        }
        out.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in cset.insertions(seed))
        partial = out / "inserts.jsonl.partial"
        partial.write_text(lines, encoding="utf-8")
        try:
            with self.store.write() as s:
                [receipt] = self.ledger.append(s, [Event("audit.canaries", actor.party_id, cset.set_id, payload)])
        except CopyalignError:
            partial.unlink(missing_ok=True)
            raise
        doc = {**cset.to_dict(), "log_index": receipt.index, "recorded_at": format_time(self.clock.now())}
        (out / "canaries.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        partial.replace(out / "inserts.jsonl")
        summary = {"canaries": len(cset.canaries), "insertions": lines.count("\n"), "space": cset.space}
        return CanaryOutcome(out / "canaries.json", cset.set_id, digest, receipt.index, summary)

    def _load_canaries(self, path: Path) -> tuple[Any, dict[str, Any]]:
        """A canary file, checked against its own digest and against the log entry it names."""
        from copyalign.services.audit.canaries import CanarySet

        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"cannot read canary file {path}: {exc}", field="canaries") from None
        cset = CanarySet.from_dict(data)
        index = data.get("log_index")
        logged: bytes | None = None
        if isinstance(index, int):
            try:
                logged = self.ledger.payload(index)
            except NotFoundError:
                logged = None
        if logged is None or json.loads(logged).get("sha256") != cset.sha256():
            raise InvalidInputError(
                f"the canary set in {path} is not the one entered in the log at entry {index}", field="canaries"
            )
        return cset, {"log_index": index, "recorded_at": data.get("recorded_at")}

    def _exposures(self, lm: Any, cset: Any, logged: dict[str, Any]) -> dict[str, Any]:
        from copyalign.services.audit import canaries as cn

        bits = self.policy.audit.canary_min_bits
        return {**cn.section(cset, cn.exposures(lm, cset, min_bits=bits), min_bits=bits), **logged}

    def test_canaries(
        self,
        actor: Principal,
        model: Path,
        canaries: Path,
        *,
        developer_id: str | None = None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> CanaryOutcome:
        """Each canary's exposure under ``model``; the result's digest is entered in the log."""
        from copyalign.services.audit.model import deterministic, load

        developer_id = self._authorise(actor, Action.AUDIT_RUN, developer_id)
        cset, logged = self._load_canaries(canaries)
        with deterministic(threads):
            lm = load(model, device=device)
            result = self._exposures(lm, cset, logged)
        digest = hashlib.sha256(json.dumps(result, sort_keys=True).encode()).hexdigest()
        payload = {
            "set": cset.set_id,
            "sha256": cset.sha256(),
            "developer": developer_id,
            "model_sha256": lm.sha256,
            "result_sha256": digest,
            "memorised_repetitions": result["memorised_repetitions"],
        }
        with self.store.write() as s:
            [receipt] = self.ledger.append(s, [Event("audit.canaries.tested", actor.party_id, cset.set_id, payload)])
        return CanaryOutcome(canaries, cset.set_id, cset.sha256(), receipt.index, {**result, "model_sha256": lm.sha256})

    # -- the audit -------------------------------------------------------------------------------------

    def run(
        self,
        actor: Principal,
        model: Path,
        out: Path,
        *,
        works: str | WorkSpec = "all",
        developer_id: str | None = None,
        baseline: Path | None = None,
        nonmembers: Path | None = None,
        canaries: Path | None = None,
        block: bool = False,
        prefix: int | None = None,
        suffix: int | None = None,
        stride: int | None = None,
        max_windows: int | None = None,
        device: str = "cpu",
        threads: int | None = None,
        progress: Progress | None = None,
    ) -> AuditResult:
        """Probe ``model`` for the selected works; write the report into ``out`` and log its digest.

        ``threads``: CPU threads for torch (default: torch's own choice); the run uses torch's deterministic
        algorithms, so the same model, works and thread count give the same report.
        """
        from copyalign.services.audit.model import deterministic
        from copyalign.services.audit.probes import ProbeConfig

        developer_id = self._authorise(actor, Action.AUDIT_RUN, developer_id)
        pol = self.policy.audit
        cfg = ProbeConfig(
            prefix=pol.prefix_tokens if prefix is None else prefix,
            suffix=pol.suffix_tokens if suffix is None else suffix,
            stride=pol.stride_tokens if stride is None else stride,
            max_windows=pol.max_windows_per_work if max_windows is None else max_windows,
            n=pol.discover_n,
            p=pol.discover_p,
            min_passage_words=pol.min_passage_words,
        )
        spec = works if isinstance(works, WorkSpec) else WorkSpec.parse(works)
        inputs = _Inputs(model, out, spec, developer_id, baseline, nonmembers, canaries, block, device)
        with deterministic(threads):
            return self._run(actor, inputs, cfg, progress or (lambda stage, done, total: None))

    def _run(self, actor: Principal, inp: _Inputs, cfg: Any, tick: Progress) -> AuditResult:
        from copyalign.services.audit import regress
        from copyalign.services.audit import report as rp
        from copyalign.services.audit.model import load
        from copyalign.services.audit.probes import aggregate, probe

        pol = self.policy.audit
        spec, developer_id, baseline, block = inp.spec, inp.developer_id, inp.baseline, inp.block
        # everything that can be refused is refused before the model runs
        base = regress.load_baseline(baseline) if baseline is not None else None
        if base is not None:
            regress.check_comparable(cfg.to_dict(), base)
        controls = read_texts(inp.nonmembers) if inp.nonmembers is not None else None
        if block and controls is None:
            raise InvalidInputError("--block compares with non-member controls: give --nonmembers", field="nonmembers")
        cset = self._load_canaries(inp.canaries) if inp.canaries is not None else None
        refs = self._refs(spec)
        lm = load(inp.model, device=inp.device)
        texts = self._texts(refs)
        counts = dict(zip([r.id for r in refs], [len(t) for t in lm.encode_many([w.text for w in texts])], strict=True))
        need = cfg.prefix + cfg.suffix
        short = [w for w in texts if counts[w.id] < need]
        if short and spec.mode == "ids":
            w = short[0]
            raise InvalidInputError(
                f"work {w.id} has {counts[w.id]} tokens, fewer than the {need} one window needs "
                f"({cfg.prefix}+{cfg.suffix})",
                field="works",
            )
        probed = [w for w in texts if counts[w.id] >= need]
        if not probed:
            raise InvalidInputError(f"no selected work has the {need} tokens one window needs", field="works")

        results = probe(lm, probed, cfg, progress=lambda d, t: tick("probe", d, t))
        summaries = [r.summary() for r in results]
        rep: dict[str, Any] = {
            "format_version": regress.REPORT_FORMAT,
            "audit": new_id("aud"),
            "generated_at": format_time(self.clock.now()),
            "developer": developer_id,
            "model": {"name": lm.name, "sha256": lm.sha256, "context": lm.context, "device": inp.device},
            "tool": _versions(),
            "config": {"probe": cfg.to_dict(), "works": _describe(spec), "policy": self.policy.profile.name},
            "works": {
                "selected": len(refs),
                "probed": len(probed),
                "ids_sha256": hashlib.sha256("\n".join(sorted(w.id for w in probed)).encode()).hexdigest(),
                "skipped": [
                    {"work": w.id, "title": w.title, "tokens": counts[w.id], "reason": f"fewer than {need} tokens"}
                    for w in short
                ],
            },
            "extraction": aggregate(results, cfg),
            "per_work": summaries,
            "worst": sorted(
                summaries,
                key=lambda r: (-r["extraction_rate"], -r["pythia_mean"], -(r["log_pz_max"] or -1e9), r["work"]),
            )[:10],
            "canaries": None,
            "membership": None,
            "takedown": None,
        }
        if cset is not None:
            tick("canaries", 0, 1)
            rep["canaries"] = self._exposures(lm, cset[0], cset[1])
        if controls is not None:
            from copyalign.services.audit.membership import membership

            tick("membership", 0, 1)
            rep["membership"] = membership(
                lm,
                [w.text for w in probed],
                controls,
                tokens=pol.membership_tokens,
                k=pol.min_k,
                rounds=pol.bootstrap_rounds,
                margin=pol.blind_margin,
            )
        if block:
            rep["takedown"] = self._takedown(actor, lm, probed, controls or [], cfg)
        rep["gate_metrics"] = regress.gate_metrics(rep)
        if base is not None:
            base_sha = hashlib.sha256(baseline.read_bytes()).hexdigest() if baseline else None
            rep["gate"] = {"baseline_sha256": base_sha, **regress.compare(rep, base, pol.gate_margins())}
        windows = [{"work": r.work, **w.to_dict()} for r in results for w in r.windows]
        rep["windows_sha256"] = rp.digest(rp.windows_bytes(windows))
        return self._record(actor, inp.out, rep, windows, developer_id)

    def _takedown(self, actor: Principal, lm: Any, probed: Sequence[Any], controls: Sequence[str], cfg: Any) -> Any:
        from copyalign.services.audit.probes import WorkText
        from copyalign.services.audit.suppression import evaluate
        from copyalign.services.audit.wordblock import WordBlocklist

        denied = self._denied([w.id for w in probed])
        protected = [w for w in probed if w.id in denied]
        if not protected:
            raise InvalidInputError(
                f"--block: no probed work is denied for {self.policy.audit.block_purpose}, so nothing is blocked",
                field="block",
            )
        # matched controls: for each protected work, the non-member texts closest to it in length
        lengths = [len(t) for t in lm.encode_many(list(controls))]
        chosen: set[int] = set()
        for ids in lm.encode_many([w.text for w in protected]):
            gaps = sorted((abs(length - len(ids)), i) for i, length in enumerate(lengths))
            chosen.update(i for _, i in gaps[:CONTROLS_PER_WORK])
        ctrl = [WorkText(f"control-{i + 1}", f"non-member text {i + 1}", controls[i]) for i in sorted(chosen)]
        words = WordBlocklist.build([w.text for w in protected], n=self.policy.audit.blocker_ngram)
        return evaluate(lm, protected, ctrl, cfg, words, margin=self.policy.audit.takedown_margin)

    def _record(
        self, actor: Principal, out: Path, rep: dict[str, Any], windows: list[dict[str, Any]], developer_id: str | None
    ) -> AuditResult:
        from copyalign.services.audit import report as rp

        files = rp.render(rep, windows)
        names = list(files)
        gate = rep.get("gate")
        payload = {
            "audit": rep["audit"],
            "developer": developer_id,
            "model_sha256": rep["model"]["sha256"],
            "works": rep["works"]["probed"],
            "works_sha256": rep["works"]["ids_sha256"],
            "report_sha256": rp.digest(files["report.json"]),
            "html_sha256": rp.digest(files["report.html"]),
            "windows_sha256": rp.digest(files["windows.jsonl"]),
            "canaries_sha256": (rep["canaries"] or {}).get("sha256"),
            "gate": "none" if gate is None else ("passed" if gate["passed"] else "failed"),
        }
        try:
            rp.write_partial(out, files)
            with self.store.write() as s:
                [receipt] = self.ledger.append(s, [Event("audit.report", actor.party_id, rep["audit"], payload)])
        except (OSError, CopyalignError):
            rp.discard(out, names)
            raise
        rp.publish(out, names)
        record = {**payload, "log_index": receipt.index, "receipt": receipt.to_dict()}
        (out / "audit.json.partial").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        (out / "audit.json.partial").replace(out / "audit.json")
        ex = rep["extraction"]
        summary = {
            "works": ex["works"],
            "windows": ex["windows"],
            "extraction_rate": ex["extraction_rate"],
            "works_extracted": ex["works_extracted"],
            "discoverable_rate": ex["discoverable_rate"],
            "canaries_memorised": (rep["canaries"] or {}).get("memorised_repetitions"),
            "membership": (rep["membership"] or {}).get("verdict"),
            "takedown": (rep["takedown"] or {}).get("verdict"),
            "gate": payload["gate"],
        }
        return AuditResult(
            out,
            rep["audit"],
            receipt.index,
            payload["report_sha256"],
            None if gate is None else gate["passed"],
            summary,
        )


def _describe(spec: WorkSpec) -> str:
    if spec.mode == "sample":
        return f"stratified sample of {spec.count} (by holder and length, seed {SAMPLE_SEED!r})"
    if spec.mode == "ids":
        return f"{len(spec.ids)} named works"
    return {"all": "all registered text works", "denied": "works whose owners deny the use"}[spec.mode]


__all__ = ["AuditResult", "AuditService", "CanaryOutcome", "WorkSpec", "read_texts"]
