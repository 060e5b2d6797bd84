"""The duty-of-care dossier: what a provider did, factor by factor, each claim linked to the log entries proving it.

Seed 004 ¶92 has a court weigh, before holding a generative-AI provider liable for its users' infringements,
(a) the type and operational model of the service and how far it may facilitate or induce infringement,
(b) whether generated content was labelled, (c) whether the provider recommended, ranked, selected or edited
outputs, and (d) the technical feasibility of preventive measures and the reasonableness of its response —
whether it "knew or should have known" (Civil Code Art. 1197). Issue 18 adds the record a court asks for:
response times (¶87), repeat-infringer handling (¶85; DMCA §512(i)) and the training-phase record (¶56-59,
¶94: scans, EU training-content summaries, audits). :class:`Factor` names these sections.

A dossier is only as good as its proof, so a :class:`Claim` cannot be built without at least one
:class:`LogRef` — a transparency-log index with the entry's RFC 6962 leaf hash (the ``leaf_hash`` of the
entry's receipt) — and every reference must lie inside the checkpoint the dossier is written against: a reader
checks each with ``GET /v1/log/receipts/{index}`` (or offline, with an inclusion proof at that size) and
compares the leaf hash. A factor with no claim is printed as such: a gap is shown, never hidden.

The facts are gathered by the desk and the other services (the desk: notices, measures, strikes; the guard:
labels and filters; scan and audit: the training-phase record); :func:`claims_from_report` turns a sealed
transparency report into the response-time, measure and repeat-infringer claims it proves.

Example:
    >>> from datetime import UTC, datetime
    >>> ref = LogRef(12, "ab" * 32, "takedown.report")
    >>> facts = DossierFacts(provider="Example AI", generated_at=datetime(2027, 1, 5, tzinfo=UTC),
    ...     log_origin="registry.example/log", checkpoint_size=40,
    ...     response_times=(Claim("Median time to action in 2026 was 3.5 hours.", (ref,)),))
    >>> doc = dossier_document(facts)
    >>> doc["factors"][3]["claims"][0]["proofs"][0]["index"]
    12
"""

from __future__ import annotations

import enum
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from copyalign.core.canonical import format_time
from copyalign.core.takedown.report import Period, Row
from copyalign.errors import InvalidInputError
from copyalign.services.charts import STYLE, table
from copyalign.services.takedown.exports.public import check_public, check_public_files
from copyalign.services.takedown.exports.staging import Staged, stage

__all__ = [
    "RECEIPT_URL",
    "Claim",
    "DossierFacts",
    "Factor",
    "LogRef",
    "claims_from_report",
    "dossier_document",
    "render_dossier",
    "write_dossier",
]

RECEIPT_URL = "/v1/log/receipts/{index}"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_EVENT = re.compile(r"^[a-z0-9_.:-]{0,100}$")
Figure = int | float | str


class Factor(enum.StrEnum):
    """The dossier's sections, in the order a court reads them (seed 004 ¶92 and issue 18)."""

    SERVICE = "service"
    FORESEEABILITY = "foreseeability"
    MEASURES = "measures"
    RESPONSE_TIMES = "response_times"
    REPEAT_INFRINGERS = "repeat_infringers"
    TRAINING = "training"


FACTORS: Mapping[Factor, tuple[str, str]] = {
    Factor.SERVICE: (
        "Nature of the service",
        "seed 004 ¶92(a)-(c): type and operational model; labelling of generated content; recommendation, "
        "ranking, selection or editing of outputs",
    ),
    Factor.FORESEEABILITY: (
        "Foreseeability of infringement",
        "seed 004 ¶92(a) (how far the service may facilitate or induce infringement); Civil Code Art. 1197",
    ),
    Factor.MEASURES: (
        "Measures in place and their effect",
        "seed 004 ¶92(d), ¶71-83, ¶87-89: prompt and output filters, labels and watermarks, blocking regeneration",
    ),
    Factor.RESPONSE_TIMES: ("Response times", "seed 004 ¶87: prompt action on valid notices"),
    Factor.REPEAT_INFRINGERS: ("Repeat infringers", "seed 004 ¶85 (graduated response); DMCA §512(i)"),
    Factor.TRAINING: (
        "Training-phase record",
        "seed 004 ¶56-59, ¶94: corpus scans, EU training-content summaries, memorisation audits",
    ),
}


class _Receipt(Protocol):
    @property
    def index(self) -> int: ...

    @property
    def leaf_hash(self) -> str: ...


@dataclass(frozen=True)
class LogRef:
    """One transparency-log entry: its index and its RFC 6962 leaf hash (hex), and what it records."""

    index: int
    leaf_hash: str
    event: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 0:
            raise InvalidInputError("a log index is a whole number from 0", field="index")
        if not isinstance(self.leaf_hash, str) or not _HEX64.match(self.leaf_hash):
            raise InvalidInputError("a leaf hash is 64 lower-case hex digits (SHA-256)", field="leaf_hash")
        if not isinstance(self.event, str) or not _EVENT.match(self.event):
            raise InvalidInputError("an event is a log event name such as 'takedown.decided'", field="event")

    @classmethod
    def from_receipt(cls, receipt: _Receipt, event: str = "") -> LogRef:
        """From what :meth:`copyalign.services.log.ledger.Ledger.append` returns for the entry."""
        return cls(receipt.index, receipt.leaf_hash, event)


@dataclass(frozen=True)
class Claim:
    """A statement of fact about the provider, public wording, with the entries that prove it (at least one).

    ``figures`` carries the numbers the text states (``{"median_hours": 3.5}``), for machines.
    """

    text: str
    proofs: tuple[LogRef, ...]
    figures: Mapping[str, Figure] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip() or len(self.text) > 2000:
            raise InvalidInputError("a claim is 1 to 2000 characters of text", field="text")
        check_public(self.text, field="text")
        proofs = tuple(self.proofs)
        if not proofs or not all(isinstance(p, LogRef) for p in proofs):
            raise InvalidInputError("a claim names at least one log entry that proves it", field="proofs")
        object.__setattr__(self, "proofs", proofs)
        for k, v in self.figures.items():
            if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, int | float | str):
                raise InvalidInputError("figures map names to numbers or text", field="figures")
            if isinstance(v, str):
                check_public(v, field="figures")
        object.__setattr__(self, "figures", dict(self.figures))


@dataclass(frozen=True)
class DossierFacts:
    """Everything a dossier says, gathered by the desk and the other services.

    Args:
        provider: the provider's public name.
        generated_at: when the facts were gathered (the desk's clock; aware).
        log_origin: the transparency log's origin (the first line of its checkpoints).
        checkpoint_size: the signed checkpoint the references are checked against; each index lies below it.
        service … training: the claims of each :class:`Factor`.
        period: the period the dossier covers, in words (e.g. a reporting period's label), if any.
    """

    provider: str
    generated_at: datetime
    log_origin: str
    checkpoint_size: int
    service: tuple[Claim, ...] = ()
    foreseeability: tuple[Claim, ...] = ()
    measures: tuple[Claim, ...] = ()
    response_times: tuple[Claim, ...] = ()
    repeat_infringers: tuple[Claim, ...] = ()
    training: tuple[Claim, ...] = ()
    period: str | None = None

    def __post_init__(self) -> None:
        for name in ("provider", "log_origin"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or len(value) > 500:
                raise InvalidInputError(f"{name} is 1 to 500 characters of text", field=name)
            check_public(value, field=name)
        if self.period is not None:
            check_public(self.period, field="period")
        if not isinstance(self.generated_at, datetime) or self.generated_at.utcoffset() is None:
            raise InvalidInputError("generated_at is a timezone-aware datetime", field="generated_at")
        size = self.checkpoint_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InvalidInputError(
                "checkpoint_size is the size of a signed checkpoint (1 or more)", field="checkpoint_size"
            )
        seen: dict[int, str] = {}
        for factor in Factor:
            claims = tuple(getattr(self, factor.value))
            if not all(isinstance(c, Claim) for c in claims):
                raise InvalidInputError(f"{factor.value} holds Claims", field=factor.value)
            object.__setattr__(self, factor.value, claims)
            for ref in (p for c in claims for p in c.proofs):
                if ref.index >= size:
                    raise InvalidInputError(
                        f"log entry {ref.index} is outside checkpoint {size}: sign a newer checkpoint first",
                        field="checkpoint_size",
                    )
                if seen.setdefault(ref.index, ref.leaf_hash) != ref.leaf_hash:
                    raise InvalidInputError(
                        f"log entry {ref.index} is cited with two different leaf hashes", field="proofs"
                    )

    def claims(self, factor: Factor) -> tuple[Claim, ...]:
        claims: tuple[Claim, ...] = getattr(self, factor.value)
        return claims


def claims_from_report(
    sheets: Mapping[str, Sequence[Row]], *, period: Period, proof: LogRef
) -> dict[Factor, tuple[Claim, ...]]:
    """The claims a sealed transparency report proves (``proof``: the log entry holding its digest).

    Response times (median time to action on notices and to decide complaints), the measures' effect (the
    guard's precision and recall against upheld decisions) and repeat infringers (suspensions by reason).
    A quantity with no data gives no claim.
    """
    values = {(r.indicator, r.breakdown): r.value for rows in sheets.values() for r in rows}

    def get(indicator: str, breakdown: str = "total") -> int | float | None:
        return values.get((indicator, breakdown))

    out: dict[Factor, list[Claim]] = {f: [] for f in Factor}
    p = period.label
    acted, median = get("notices_with_action"), get("median_time_to_action")
    if median is not None:
        trusted = get("median_time_to_action", "trusted_flaggers")
        also = f" (notices from trusted flaggers: {trusted:.1f} hours)" if trusted is not None else ""
        figures: dict[str, Figure] = {"median_hours_to_action": median, "notices_acted_on": acted or 0}
        out[Factor.RESPONSE_TIMES].append(
            Claim(
                f"In {p}, {acted} notices were acted on; the median time to action was {median:.1f} hours{also}.",
                (proof,),
                figures,
            )  # fmt: skip
        )
    decided, median_c = get("complaints_decided"), get("median_time_to_decision")
    if median_c is not None:
        out[Factor.RESPONSE_TIMES].append(
            Claim(
                f"In {p}, {decided} complaints were decided, in a median of {median_c:.1f} hours.",
                (proof,),
                {"median_hours_to_decision": median_c, "complaints_decided": decided or 0},
            )  # fmt: skip
        )
    precision, recall, samples = get("guard_precision"), get("guard_recall"), get("guard_samples")
    if precision is not None or recall is not None:
        shown = ", ".join(
            f"{name} {100 * v:.1f} %" for name, v in (("precision", precision), ("recall", recall)) if v is not None
        )
        figures = {k: v for k, v in (("guard_precision", precision), ("guard_recall", recall)) if v is not None}
        out[Factor.MEASURES].append(
            Claim(
                f"In {p}, measured against {samples} decided items, the guard's {shown}.",
                (proof,),
                {**figures, "samples": samples or 0},
            )  # fmt: skip
        )
    suspensions = get("suspensions")
    if suspensions is not None:
        illegal = get("suspensions", "reason:manifestly_illegal_content")
        out[Factor.REPEAT_INFRINGERS].append(
            Claim(
                f"In {p}, {suspensions} suspensions were imposed, {illegal or 0} of them for manifestly illegal "
                "content.",
                (proof,),
                {"suspensions": suspensions, "for_illegal_content": illegal or 0},
            )  # fmt: skip
        )
    return {f: tuple(c) for f, c in out.items() if c}


def _evidence(facts: DossierFacts) -> dict[int, tuple[LogRef, list[str]]]:
    """Every cited entry, by index: the reference (the first that names its event) and the claims citing it."""
    out: dict[int, tuple[LogRef, list[str]]] = {}
    for factor in Factor:
        for n, claim in enumerate(facts.claims(factor), start=1):
            for ref in claim.proofs:
                known, cited = out.setdefault(ref.index, (ref, []))
                if not known.event and ref.event:
                    out[ref.index] = (ref, cited)
                if f"{factor.value}-{n}" not in cited:
                    cited.append(f"{factor.value}-{n}")
    return dict(sorted(out.items()))


def _url(receipt_url: str, index: int) -> str:
    return receipt_url.replace("{index}", str(index))


def dossier_document(facts: DossierFacts, *, receipt_url: str = RECEIPT_URL) -> dict[str, object]:
    """The dossier as JSON-ready data: factors with their claims and proofs, and the index of cited entries.

    ``receipt_url`` is where a reader fetches an entry's receipt; ``{index}`` is filled in (by default the
    copyalign API's own ``/v1/log/receipts/{index}``, relative to the server that publishes the dossier).
    """
    if "{index}" not in receipt_url:
        raise InvalidInputError("receipt_url holds {index}", field="receipt_url")

    def proof(ref: LogRef) -> dict[str, object]:
        return {
            "index": ref.index,
            "leaf_hash": ref.leaf_hash,
            "event": ref.event,
            "receipt": _url(receipt_url, ref.index),
        }

    factors = []
    for factor in Factor:
        title, source = FACTORS[factor]
        claims = [
            {
                "id": f"{factor.value}-{n}",
                "text": c.text,
                "figures": dict(c.figures),
                "proofs": [proof(r) for r in c.proofs],
            }
            for n, c in enumerate(facts.claims(factor), start=1)
        ]
        factors.append({"factor": factor.value, "title": title, "source": source, "claims": claims})
    return {
        "dossier": "duty of care",
        "provider": facts.provider,
        "period": facts.period,
        "generated_at": format_time(facts.generated_at),
        "log": {"origin": facts.log_origin, "checkpoint_size": facts.checkpoint_size},
        "factors": factors,
        "entries": [{**proof(ref), "claims": cited} for ref, cited in _evidence(facts).values()],
    }


def render_dossier(facts: DossierFacts, *, receipt_url: str = RECEIPT_URL) -> dict[str, bytes]:
    """``dossier.json`` and ``dossier.html`` (``SHA256SUMS`` is added when they are staged)."""
    doc = dossier_document(facts, receipt_url=receipt_url)
    files = {
        "dossier.json": (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
        "dossier.html": _html(facts, receipt_url).encode("utf-8"),
    }
    check_public_files(files)
    return files


def write_dossier(
    directory: Path, facts: DossierFacts, *, receipt_url: str = RECEIPT_URL, publish: bool = True
) -> Staged:
    """Render and stage the dossier under ``directory``; publish unless ``publish`` is False (then seal
    ``staged.sha256`` into the log and call ``staged.publish()``, as for the transparency report)."""
    staged = stage(directory, render_dossier(facts, receipt_url=receipt_url))
    if publish:
        staged.publish()
    return staged


def _html(facts: DossierFacts, receipt_url: str) -> str:
    e = html.escape
    sections = []
    for factor in Factor:
        title, source = FACTORS[factor]
        items = []
        for n, claim in enumerate(facts.claims(factor), start=1):
            links = ", ".join(
                f'<a href="{e(_url(receipt_url, ref.index))}">log entry {ref.index}</a>'
                + (f" ({e(ref.event)})" if ref.event else "")
                + f' (<a href="#entry-{ref.index}">leaf <code>{ref.leaf_hash[:16]}…</code></a>)'
                for ref in claim.proofs
            )
            figures = "".join(f"<li><code>{e(k)}</code> = {e(str(v))}</li>" for k, v in claim.figures.items())
            items.append(
                f'<li id="{factor.value}-{n}"><p>{e(claim.text)}</p><p class="proof">Proved by {links}.</p>'
                + (f"<ul>{figures}</ul>" if figures else "")
                + "</li>"
            )
        body = f"<ol>{''.join(items)}</ol>" if items else "<p><strong>No claim recorded for this factor.</strong></p>"
        sections.append(f'<section id="{factor.value}"><h2>{e(title)}</h2><p><em>{e(source)}</em></p>{body}</section>')
    rows = [
        f'<tr id="entry-{i}"><td><a href="{e(_url(receipt_url, i))}">{i}</a></td><td><code>{ref.leaf_hash}</code></td>'
        f"<td>{e(ref.event)}</td><td>{_backlinks(cited)}</td></tr>"
        for i, (ref, cited) in _evidence(facts).items()
    ]
    evidence = (
        "<table><tr><th>log index</th><th>leaf hash (RFC 6962)</th><th>event</th><th>claims</th></tr>"
        + ("".join(rows) or '<tr><td colspan="4">none</td></tr>')
        + "</table>"
    )
    period = f" for {e(facts.period)}" if facts.period else ""
    summary = table(
        ["factor", "claims", "log entries cited"],
        [
            (FACTORS[f][0], len(facts.claims(f)), len({p.index for c in facts.claims(f) for p in c.proofs}))
            for f in Factor
        ],
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Duty-of-care dossier: {e(facts.provider)}</title>
<style>{STYLE}
.proof{{font-size:.9em;color:#444}}</style>
</head><body>
<h1>Duty-of-care dossier: {e(facts.provider)}</h1>
<p>The factors a court weighs before holding a generative-AI provider liable for its users' infringements (seed
004 ¶92), with the provider's record{period}, as gathered on {format_time(facts.generated_at)}. Every claim links to
the entries of the transparency log <code>{e(facts.log_origin)}</code> that prove it; each lies inside the signed
checkpoint of size {facts.checkpoint_size}, so its receipt's inclusion proof verifies against that checkpoint, and
its leaf hash must equal the one printed here.</p>
{summary}
{"".join(sections)}
<h2 id="evidence">Log entries cited</h2>
{evidence}
</body></html>
"""


def _backlinks(claim_ids: Sequence[str]) -> str:
    return " ".join(f'<a href="#{c}">{c}</a>' for c in claim_ids)
