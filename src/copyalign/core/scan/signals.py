"""Machine-readable reservations against AI training, read from what a crawl captured.

Before a record (a page's text, an image) goes into a training corpus, the scanner must know whether its
source reserved its rights against AI training in any of the ways the web now says so: robots.txt groups
for AI crawlers, IETF AIPREF ``Content-Usage``, Cloudflare ``Content-Signal``, W3C TDMRep, ``noai``
robots directives, Spawning's ai.txt, an RSL licence, IPTC ``plus:DataMining`` in an image's XMP, and C2PA
training-and-data-mining assertions. This module is the pure core of that decision: it parses what was
captured and returns every signal it saw, with the evidence; it does no I/O.

Only signals that are present are reported, ALLOW ones included, so a provenance manifest shows what was
seen. Malformed captured data never raises: it becomes an ERROR signal, and an error never means "allowed"
(the scanner holds the record). Exceptions are for misuse only (an unknown purpose, agents given as one
string). A site's files are parsed once by :func:`site_signals` and reused for every record of the site.

Example:
    >>> signals = evaluate(url="https://example.org/a", headers={"Content-Usage": "train-ai=n, search=y"})
    >>> [(s.name, s.verdict.value, s.detail) for s in signals]
    [('aipref', 'deny', 'Content-Usage: train-ai=n')]
    >>> reserved(signals)
    True
"""

from __future__ import annotations

import enum
import functools
import html as htmllib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeElementTree

from copyalign.core.scan.sitefiles import (
    RobotsFile,
    RslFile,
    Statement,
    TdmRep,
    normalise_host,
    parse_dictionary,
    parse_robots,
    parse_rsl,
    parse_tdmrep,
    resolve_statements,
)
from copyalign.errors import InvalidInputError

#: User-agent tokens of crawlers that collect AI training data; always checked besides the caller's own.
TRAINING_AGENTS: tuple[str, ...] = (
    "GPTBot",
    "CCBot",
    "Google-Extended",
    "ClaudeBot",
    "anthropic-ai",
    "Applebot-Extended",
    "Bytespider",
    "meta-externalagent",
    "cohere-training-data-crawler",
    "Amazonbot",
    "PerplexityBot",
    "AI2Bot",
    "Diffbot",
    "Omgilibot",
    "ImagesiftBot",
    "FacebookBot",
)

PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DATA_MINING = f"{{{PLUS_NS}}}DataMining"
_RDF_RESOURCE = f"{{{_RDF_NS}}}resource"
_RDF_LI = f"{{{_RDF_NS}}}li"

_PURPOSES = frozenset({"train-ai", "train-genai"})
_C2PA_KEYS = {"train-genai": ("ai_generative_training", "ai_training"), "train-ai": ("ai_training",)}
_C2PA_LABEL = re.compile(r"(?:c2pa|cawg)\.training-mining(?:\.v\d+)?(?:__\d+)?")
_HEADERS = frozenset({"content-usage", "content-signal", "tdm-reservation", "tdm-policy", "x-robots-tag"})
_NOT_AGENTS = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})

_META_SCAN = re.compile(r"<(?:meta\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>|/head\s*>|body\b)", re.I)
_ATTRIBUTE = re.compile(r"([^\s=/>\"']+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?")
_ROBOTS_TOKEN = re.compile(r"([^\s,:]+)(\s*:)?")
_DMI_CODE = re.compile(r"DMI-[A-Z]+(?:-[A-Z]+)*")
_DMI_FALLBACK = re.compile(r"DataMining[^<>]*?(?:>[^<>]*?)?(DMI-[A-Z]+(?:-[A-Z]+)*)", re.I)
_XMP_BOUNDS = (
    (b"<x:xmpmeta", b"</x:xmpmeta>"),
    (b"<x:xapmeta", b"</x:xapmeta>"),
    (b"<?xpacket begin", b"<?xpacket end"),
)


class Verdict(enum.StrEnum):
    DENY = "deny"
    ALLOW = "allow"
    ERROR = "error"


_RANK = {Verdict.ALLOW: 0, Verdict.ERROR: 1, Verdict.DENY: 2}


@dataclass(frozen=True, slots=True)
class Signal:
    """One reservation signal seen for a record, with where it was read and the evidence."""

    name: str  # robots, aipref, content-signal, tdmrep, x-robots-tag, meta-robots, ai-txt, rsl, iptc, c2pa
    source: str  # robots.txt, header, meta, tdmrep.json, ai.txt, rsl, xmp, c2pa
    verdict: Verdict
    detail: str


@dataclass(frozen=True, slots=True)
class SiteSignals:
    """One site's captured policy files, parsed once and reused for every URL of the site."""

    robots: RobotsFile | None = None
    tdmrep: TdmRep | None = None
    ai_txt: RobotsFile | None = None
    rsl: RslFile | None = None


def site_signals(
    *,
    robots_txt: str | None = None,
    tdmrep_json: str | None = None,
    ai_txt: str | None = None,
    rsl_xml: str | None = None,
) -> SiteSignals:
    """Parse the files a crawl captured for one site (None: the site has no such file)."""
    for name, value in (
        ("robots_txt", robots_txt),
        ("tdmrep_json", tdmrep_json),
        ("ai_txt", ai_txt),
        ("rsl_xml", rsl_xml),
    ):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(f"{name} must be the file's text, not {type(value).__name__}", field=name)
    return SiteSignals(
        robots=None if robots_txt is None else parse_robots(robots_txt),
        tdmrep=None if tdmrep_json is None else parse_tdmrep(tdmrep_json),
        ai_txt=None if ai_txt is None else parse_robots(ai_txt, ai_txt=True),
        rsl=None if rsl_xml is None else parse_rsl(rsl_xml),
    )


def reserved(signals: Iterable[Signal]) -> bool:
    """True when any signal reserves the rights (an ERROR is not a reservation, but it is not a permission)."""
    return any(s.verdict is Verdict.DENY for s in signals)


def errors(signals: Iterable[Signal]) -> list[Signal]:
    return [s for s in signals if s.verdict is Verdict.ERROR]


@dataclass(frozen=True, slots=True)
class _Agents:
    tokens: tuple[str, ...]  # the caller's agents, then TRAINING_AGENTS, without case-insensitive repeats
    by_lower: Mapping[str, str]  # lower-cased token -> token as spelled


@functools.lru_cache(maxsize=64)
def _agents(declared: tuple[str, ...]) -> _Agents:
    by_lower: dict[str, str] = {}
    for token in (*declared, *TRAINING_AGENTS):
        by_lower.setdefault(token.lower(), token)
    return _Agents(tuple(by_lower.values()), by_lower)


def evaluate(
    *,
    url: str | None,
    site: SiteSignals | None = None,
    headers: Mapping[str, str | Sequence[str]] | None = None,
    html: str | None = None,
    xmp: str | None = None,
    c2pa: Mapping[str, Any] | None = None,
    is_image: bool = False,
    agents: Sequence[str] = (),
    purpose: str = "train-genai",
) -> list[Signal]:
    """Every reservation signal present for one record, in a fixed order (site files, headers, meta, XMP, C2PA).

    ``agents`` are the developer's declared crawler tokens; :data:`TRAINING_AGENTS` are always checked too.
    ``purpose`` is ``train-ai`` or ``train-genai``.
    """
    if purpose not in _PURPOSES:
        raise InvalidInputError(f"unknown purpose {purpose!r}; expected train-ai or train-genai", field="purpose")
    declared = (agents,) if isinstance(agents, str) else tuple(agents)
    if isinstance(agents, str) or not all(isinstance(a, str) and a.strip() for a in declared):
        raise InvalidInputError("agents must be a sequence of non-empty user-agent tokens", field="agents")
    if url is not None and not isinstance(url, str):
        raise InvalidInputError("url must be a string", field="url")
    checked = _agents(tuple(a.strip() for a in declared))
    out: list[Signal] = []
    if site is not None:
        _site(out, site, url, checked, purpose)
    if headers:
        _headers(out, headers, checked, is_image, purpose)
    if html:
        _meta(out, html, checked, is_image)
    if xmp and "DataMining" in xmp:
        _append(out, "iptc", "xmp", _iptc(xmp, purpose))
    if c2pa is not None:
        _append(out, "c2pa", "c2pa", _c2pa(c2pa, purpose))
    return out


def _append(out: list[Signal], name: str, source: str, found: tuple[Verdict, str] | None) -> None:
    if found is not None:
        out.append(Signal(name, source, *found))


def _verdict(found: tuple[str, str] | None) -> tuple[Verdict, str] | None:
    return None if found is None else (Verdict(found[0]), found[1])


def _strongest(found: Iterable[tuple[Verdict, str]]) -> tuple[Verdict, str] | None:
    """DENY over ERROR over ALLOW; the first of each kind names the evidence."""
    best: tuple[Verdict, str] | None = None
    for item in found:
        if best is None or _RANK[item[0]] > _RANK[best[0]]:
            best = item
    return best


def _site(out: list[Signal], site: SiteSignals, url: str | None, agents: _Agents, purpose: str) -> None:
    host: str | None = None
    path: str | None = None
    bad_url: str | None = None
    if url is not None:
        try:
            parts = urlsplit(url)
            host = normalise_host(parts.hostname)
        except ValueError as exc:
            bad_url = f"cannot parse URL {url[:80]!r}: {exc}"
        else:
            path = unquote(parts.path or "/") + (f"?{unquote(parts.query)}" if parts.query else "")
    shown = path if path is None or len(path) <= 200 else path[:199] + "…"  # details stay readable

    def url_rules(name: str, source: str, error: str | None) -> bool:
        """Report the file's or the URL's error; True when the file can be matched against the URL."""
        if error is not None or bad_url is not None:
            out.append(Signal(name, source, Verdict.ERROR, f"{source}: {error or bad_url}"))
            return False
        return url is not None and path is not None

    if site.robots is not None:
        robots = site.robots
        if url_rules("robots", "robots.txt", robots.error) and url is not None and path is not None:
            denied = robots.first_denied(url, agents.tokens)
            if denied is not None:
                out.append(Signal("robots", "robots.txt", Verdict.DENY, f"{denied} disallowed for {shown}"))
            else:
                detail = f"all {len(agents.tokens)} checked agents allowed for {shown}"
                out.append(Signal("robots", "robots.txt", Verdict.ALLOW, detail))
        applying = [s for s in robots.statements if s.applies(host, path)]
        _append(out, "aipref", "robots.txt", _verdict(resolve_statements(applying, "content-usage", purpose)))
        _append(out, "content-signal", "robots.txt", _verdict(resolve_statements(applying, "content-signal", purpose)))
    if site.ai_txt is not None and url_rules("ai-txt", "ai.txt", site.ai_txt.error) and url is not None:
        denied = site.ai_txt.first_denied(url, ("*", *agents.tokens))
        verdict = Verdict.ALLOW if denied is None else Verdict.DENY
        out.append(Signal("ai-txt", "ai.txt", verdict, f"{denied or '*'} {'dis' if denied else ''}allowed for {shown}"))
    if site.tdmrep is not None and url_rules("tdmrep", "tdmrep.json", site.tdmrep.error) and path is not None:
        rule = site.tdmrep.lookup(host, path)
        if rule is not None:
            policy = f"; tdm-policy: {rule.policy}" if rule.policy else ""
            detail = f"tdm-reservation: {rule.reservation} for location {rule.location.text}{policy}"
            out.append(Signal("tdmrep", "tdmrep.json", Verdict.DENY if rule.reservation else Verdict.ALLOW, detail))
    if site.rsl is not None and url_rules("rsl", "rsl", site.rsl.error) and path is not None:
        content = site.rsl.lookup(host, path)
        if content is not None:
            out.append(Signal("rsl", "rsl", Verdict(content.outcome), f"{content.pattern.text}: {content.detail}"))


def _headers(
    out: list[Signal], headers: Mapping[str, str | Sequence[str]], agents: _Agents, is_image: bool, purpose: str
) -> None:
    values: dict[str, list[str]] = {}
    for name, value in headers.items():
        key = name.lower() if isinstance(name, str) else ""
        if key not in _HEADERS:
            continue
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
        elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
            values.setdefault(key, []).extend(value)
        else:
            raise InvalidInputError(f"header {name!r} must be a string or a list of strings", field="headers")
    for kind, signal in (("content-usage", "aipref"), ("content-signal", "content-signal")):
        if kind in values:
            prefs, error = parse_dictionary(", ".join(values[kind]))
            found = resolve_statements([Statement(kind, None, prefs, error)], kind, purpose)
            _append(out, signal, "header", _verdict(found))
    if "tdm-reservation" in values:
        _append(
            out, "tdmrep", "header", _tdm(values["tdm-reservation"], values.get("tdm-policy", ()), "tdm-reservation")
        )
    denied = [
        d for v in values.get("x-robots-tag", ()) if "ai" in v.lower() and (d := _noai(v, None, agents, is_image))
    ]
    if denied:
        out.append(Signal("x-robots-tag", "header", Verdict.DENY, f"X-Robots-Tag: {denied[0]}"))


def _tdm(reservations: Iterable[str], policies: Iterable[str], label: str) -> tuple[Verdict, str] | None:
    policy = next((p.strip() for p in policies if p.strip()), "")
    suffix = f"; tdm-policy: {policy}" if policy else ""
    found: list[tuple[Verdict, str]] = []
    for raw in reservations:
        value = raw.strip()
        verdict = {"1": Verdict.DENY, "0": Verdict.ALLOW}.get(value, Verdict.ERROR)
        found.append(
            (verdict, f"{label}: {value[:40]}{suffix}" + ("" if verdict is not Verdict.ERROR else " (not 0 or 1)"))
        )
    return _strongest(found)


def _noai(value: str, agent: str | None, agents: _Agents, is_image: bool) -> str | None:
    """The ``noai``/``noimageai`` directive of a robots header or meta value that binds a checked agent."""
    scope, applies = agent, True
    for match in _ROBOTS_TOKEN.finditer(value):
        word = match.group(1)
        lower = word.lower()
        if match.group(2) and word[0].isalpha() and lower not in _NOT_AGENTS:  # "GPTBot: noai" scopes what follows
            scope, applies = agents.by_lower.get(lower, word), lower in agents.by_lower
        elif applies and (lower == "noai" or (is_image and lower == "noimageai")):
            return f"{scope}: {lower}" if scope else lower
    return None


def html_meta(html: str) -> list[tuple[str, str]]:
    """``(lower-cased name, content)`` of the ``<meta name=… content=…>`` tags before ``</head>`` or ``<body``."""
    found: list[tuple[str, str]] = []
    for tag in _META_SCAN.finditer(html):
        attributes = tag.group(1)
        if attributes is None:  # </head> or <body: the head is over
            break
        name = content = None
        for attr in _ATTRIBUTE.finditer(attributes):
            key = attr.group(1).lower()
            if key in ("name", "content"):
                raw = attr.group(2) if attr.group(2) is not None else attr.group(3) or attr.group(4) or ""
                text = htmllib.unescape(raw) if "&" in raw else raw
                if key == "name" and name is None:
                    name = text.strip().lower()
                elif key == "content" and content is None:
                    content = text.strip()
        if name and content is not None:
            found.append((name, content))
    return found


def _meta(out: list[Signal], html: str, agents: _Agents, is_image: bool) -> None:
    robots: list[str] = []
    reservations: list[str] = []
    policies: list[str] = []
    for name, content in html_meta(html):
        if name == "robots" or name in agents.by_lower:
            hit = _noai(content, "robots" if name == "robots" else agents.by_lower[name], agents, is_image)
            if hit is not None:
                robots.append(hit)
        elif name == "tdm-reservation":
            reservations.append(content)
        elif name == "tdm-policy":
            policies.append(content)
    if robots:
        out.append(Signal("meta-robots", "meta", Verdict.DENY, f"meta {robots[0]}"))
    if reservations:
        _append(out, "tdmrep", "meta", _tdm(reservations, policies, "meta tdm-reservation"))


def _iptc(xmp: str, purpose: str) -> tuple[Verdict, str] | None:
    values: list[str] = []
    try:
        root: Element = SafeElementTree.fromstring(xmp)
    except (ParseError, ValueError):
        pass  # not well-formed: the regex below still reads the value
    else:
        for element in root.iter():
            attribute = element.get(_DATA_MINING)
            if attribute is not None:
                values.append(attribute)
            if element.tag == _DATA_MINING:
                items = list(element.iter(_RDF_LI)) or [element]
                values.extend(li.get(_RDF_RESOURCE) or (li.text or "") for li in items)
    if not values:
        values = [m.group(1) for m in _DMI_FALLBACK.finditer(xmp)]
    if not values:
        return Verdict.ERROR, "XMP mentions DataMining but no plus:DataMining value could be read"
    return _strongest(found for value in values if (found := _dmi(value, purpose)) is not None)


def _dmi(value: str, purpose: str) -> tuple[Verdict, str] | None:
    """One PLUS Data Mining value; constrained counts as not allowed; None when it says nothing for ``purpose``."""
    match = _DMI_CODE.search(value.strip().upper())
    code = match.group(0) if match else ""
    detail = f"plus:DataMining {code or value.strip()[:80]}"
    if code == "DMI-UNSPECIFIED" or (code == "DMI-PROHIBITED-GENAIMLTRAINING" and purpose == "train-ai"):
        return None
    if code == "DMI-ALLOWED":
        return Verdict.ALLOW, detail
    if code.startswith("DMI-PROHIBITED") or "CONSTRAINT" in code:
        return Verdict.DENY, detail
    return Verdict.ERROR, f"{detail} (not a known PLUS Data Mining value)"


def _c2pa(store: Any, purpose: str) -> tuple[Verdict, str] | None:
    """The training-and-data-mining assertions of the active manifest (of every manifest when none is named)."""
    if not isinstance(store, Mapping):
        return Verdict.ERROR, "C2PA manifest store is not a JSON object"
    manifests = store.get("manifests")
    if manifests is None:
        return None
    if not isinstance(manifests, Mapping):
        return Verdict.ERROR, "C2PA manifests is not a JSON object"
    active = store.get("active_manifest")
    if active is None:
        chosen = list(manifests.values())
    elif isinstance(active, str) and active in manifests:
        chosen = [manifests[active]]
    else:
        return Verdict.ERROR, f"C2PA active manifest {str(active)[:80]!r} is not in the store"
    keys = _C2PA_KEYS[purpose]
    found: list[tuple[Verdict, str]] = []
    for manifest in chosen:
        assertions = manifest.get("assertions", []) if isinstance(manifest, Mapping) else None
        if not isinstance(assertions, list):
            found.append((Verdict.ERROR, "C2PA manifest without an assertions list"))
            continue
        for assertion in assertions:
            label = assertion.get("label") if isinstance(assertion, Mapping) else None
            if not isinstance(label, str) or not _C2PA_LABEL.fullmatch(label):
                continue
            data = assertion.get("data")
            entries = data.get("entries") if isinstance(data, Mapping) else None
            if not isinstance(entries, Mapping):
                found.append((Verdict.ERROR, f"{label} without an entries object"))
                continue
            for key, entry in entries.items():
                prefix, _, base = str(key).partition(".")
                if prefix not in ("c2pa", "cawg") or base not in keys:
                    continue
                use = entry.get("use") if isinstance(entry, Mapping) else None
                if use in ("notAllowed", "constrained"):
                    info = entry.get("constraint_info") if isinstance(entry, Mapping) else None
                    found.append((Verdict.DENY, f"{key}: {use}" + (f" ({str(info)[:120]})" if info else "")))
                elif use == "allowed":
                    found.append((Verdict.ALLOW, f"{key}: allowed"))
                else:
                    found.append((Verdict.ERROR, f"{key}: unknown use {str(use)[:40]!r}"))
    return _strongest(found)


def xmp_packet(data: bytes) -> str | None:
    """The XMP packet of a JPEG, PNG, WebP or TIFF file, found by scanning its bytes; None when there is none."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInputError("xmp_packet reads the file's bytes", field="data")
    raw = data if isinstance(data, bytes) else bytes(data)
    for start_tag, end_tag in _XMP_BOUNDS:
        start = raw.find(start_tag)
        if start < 0:
            continue
        end = raw.find(end_tag, start)
        if end < 0:
            continue
        end = raw.find(b">", end) if start_tag.startswith(b"<?") else end + len(end_tag) - 1
        if end >= 0:
            return raw[start : end + 1].decode("utf-8", errors="replace")
    return None
