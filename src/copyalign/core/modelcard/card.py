"""A model's copyright record for deployers (seed 004 ¶56, ¶96(a); EU AI Act Art. 53(1)(b)), as claims on the log.

A model card here is a list of *claims*, each one a log entry: its index, event, subject and the payload it
committed to. Everything the card says is read from those payloads, so anyone holding the log bundle can check
the card offline (:func:`check_claims`): the entry at each index must be the one named, and the payload's
canonical JSON must hash to the digest the entry committed to. The card renders as JSON and as Markdown with the
YAML front matter of a Hugging Face model card (``huggingface_hub.ModelCard``), ready to paste into one.

Example:
    >>> c = Claim("declaration", "model.declare", "m", 0, {"model": "m"})
    >>> c.payload_sha256 == hashlib.sha256(canonical({"model": "m"})).hexdigest()
    True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from copyalign.core.canonical import canonical
from copyalign.core.log.entry import check_entry

SECTIONS = ("declaration", "scans", "notices", "audits", "guard", "takedown", "user_models")
CARD_FORMAT = "copyalign-model-card/1"


@dataclass(frozen=True, slots=True)
class Claim:
    """One log entry the card rests on."""

    section: str
    event: str
    subject: str
    log_index: int
    payload: Mapping[str, Any]

    @property
    def payload_sha256(self) -> str:
        return hashlib.sha256(canonical(dict(self.payload))).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "event": self.event,
            "subject": self.subject,
            "log_index": self.log_index,
            "payload_sha256": self.payload_sha256,
            "payload": dict(self.payload),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Claim:
        return cls(str(d["section"]), str(d["event"]), str(d["subject"]), int(d["log_index"]), dict(d["payload"]))


def check_claims(claims: Sequence[Claim], entries: Mapping[int, bytes]) -> list[str]:
    """What does not hold: for each claim, the entry at its index in ``entries`` (the bundle's bytes) must exist,
    name the claim's event and subject, and commit to the claim's payload. An empty list: every claim verifies."""
    problems: list[str] = []
    for c in claims:
        data = entries.get(c.log_index)
        if data is None:
            problems.append(f"log entry {c.log_index} ({c.event} {c.subject}) is not in the bundle")
            continue
        entry = check_entry(c.log_index, data)
        if entry["event"] != c.event or entry["subject"] != c.subject:
            problems.append(
                f"log entry {c.log_index} is {entry['event']} {entry['subject']}, not {c.event} {c.subject}"
            )
        elif entry["payload_sha256"] != c.payload_sha256:
            problems.append(f"log entry {c.log_index} ({c.event} {c.subject}) committed to another payload")
    return problems


def _yaml(value: Any) -> str:
    """A YAML scalar or flow collection: JSON is YAML 1.2, so JSON text is exact and needs no YAML library."""
    return json.dumps(value, ensure_ascii=False)


def front_matter(card: Mapping[str, Any]) -> str:
    """The Hugging Face model card metadata (``license``, ``tags``, ``base_model``) and copyalign's own key."""
    decl = card["declaration"]
    meta: dict[str, Any] = {}
    if decl.get("license"):
        meta["license"] = decl["license"]
    meta["tags"] = ["copyalign", "copyright-record"]
    if decl.get("base_model"):
        meta["base_model"] = decl["base_model"]
    meta["copyalign"] = {
        "format": CARD_FORMAT,
        "model": card["model"],
        "log_origin": card["log"]["origin"],
        "checkpoint_size": card["log"]["checkpoint"]["size"],
        "checkpoint_root": card["log"]["checkpoint"]["root"],
        "claims": [c["log_index"] for c in card["claims"]],
    }
    lines = ["---"] + [f"{k}: {_yaml(v)}" for k, v in meta.items()] + ["---"]
    return "\n".join(lines) + "\n"


def _entry(index: int) -> str:
    return f"[log entry {index}](#log-entry-{index})"


def markdown(card: Mapping[str, Any]) -> str:
    """The card as Markdown with YAML front matter: a "Copyright record" section, each statement linked to the log
    entry it rests on, and the list of entries with their digests at the end."""
    decl = card["declaration"]
    out = [front_matter(card), f"# {card['model']}", "", "## Copyright record", ""]
    out.append(
        f"Declared by `{decl['developer']}` in {_entry(decl['log_index'])}"
        + (f"; weights sha256 `{decl['sha256']}`" if decl.get("sha256") else "")
        + f". Every statement below is a log entry of `{card['log']['origin']}`, verifiable offline with the log "
        "bundle (`copyalign model-card verify`)."
    )
    out += ["", "### Training data: scans", ""]
    if not card["scans"]:
        out.append("No scan is declared.")
    for s in card["scans"]:
        counts = ", ".join(f"{k} {v}" for k, v in s["decisions"].items())
        out.append(
            f"- Scan `{s['scan']}` ({_entry(s['log_index'])}): {s['items']} items; decisions: {counts}; manifest "
            f"sha256 `{s['manifest_sha256']}`; exclusion lists: {_lists(s['exclusion_lists'])}."
        )
        eu = s["eu_summary"]
        out.append(
            f"  EU summary (AI Act Art. 53(1)(d)) facts: {eu['dropped']} items dropped (opt-outs, reservations of "
            f"rights, objections, unreadable), {eu['held']} held; {eu['web_items']} web items checked against "
            f"{', '.join(eu['checked_against']) or 'no site signal'}."
        )
    out += ["", "### Training notices and exclusions", ""]
    if not card["notices"]:
        out.append("No training notice is declared.")
    for n in card["notices"]:
        versions = "; ".join(
            f"version {v['version']}: {v['excluded']} excluded, {v['licensed']} licensed, sha256 `{v['sha256']}` "
            f"({_entry(v['log_index'])})"
            for v in n["exclusions"]
        )
        out.append(
            f"- Notice `{n['notice']}` ({_entry(n['log_index'])}): {n['purpose']}, {n['works']} works, "
            f"{n['window_days']}-day window, tariff {n['tariff']}. Exclusions: {versions or 'not finalised'}."
        )
    out += ["", "### Memorisation audits", ""]
    if not card["audits"]:
        out.append("No audit is declared.")
    for a in card["audits"]:
        out.append(
            f"- Audit `{a['audit']}` ({_entry(a['log_index'])}): {a['works']} works probed, gate {a['gate']}, "
            f"report sha256 `{a['report_sha256']}`."
        )
    out += ["", "### Deployment guard", ""]
    g = card["guard"]
    out.append(
        f"As declared ({_entry(decl['log_index'])}), under policy `{g['policy']}`: "
        + ", ".join(f"{k} {v}" for k, v in g["prompt_actions"].items())
        + f"; outputs over {g['max_copied_share']} copied share block; copyright notice in labels: "
        f"{'yes' if g['copyright_notice'] else 'no'}; terms required: {'yes' if g['require_terms'] else 'no'}."
    )
    out += ["", "### Takedown record", ""]
    if not card["takedown"]:
        out.append("No takedown measure names this model.")
    for t in card["takedown"]:
        out.append(f"- Measure `{t['measure']}` {t['kind']} {t['state']} ({_entry(t['log_index'])}).")
    if card["user_models"]:
        out += ["", "### User models built on it", ""]
        for u in card["user_models"]:
            out.append(f"- `{u['adapter']}` {u['status']} ({_entry(u['log_index'])}).")
    out += ["", "### Log entries", ""]
    for c in card["claims"]:
        out.append(
            f'- <a id="log-entry-{c["log_index"]}"></a>{c["log_index"]}: `{c["event"]}` `{c["subject"]}`, '
            f"payload sha256 `{c['payload_sha256']}`"
        )
    return "\n".join(out) + "\n"


def _lists(lists: Any) -> str:
    """A scan's exclusion lists (``[{"notice", "version", "sha256"}]``) in words."""
    if not lists:
        return "none"
    return ", ".join(f"{x.get('notice')} v{x.get('version')}" for x in lists if isinstance(x, Mapping))


__all__ = ["CARD_FORMAT", "SECTIONS", "Claim", "check_claims", "front_matter", "markdown"]
