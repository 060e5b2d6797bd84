"""A site's policy files — robots.txt, ai.txt, ``/.well-known/tdmrep.json``, an RSL licence — parsed once.

A corpus holds many records from few sites, so :func:`copyalign.core.scan.signals.site_signals` parses each file
here into a small structure that answers "what applies to this path?" cheaply, and every record of the site
reuses it. Nothing here reads the network or the disk. A malformed file never raises: it parses to an object
whose ``error`` says what was wrong, and the caller reports an ERROR signal for every record of the site (an
unreadable reservation is never read as "allowed").

Path patterns follow robots.txt (RFC 9309): ``*`` matches any run of characters, a final ``$`` anchors the
end, anything else matches as a prefix; a pattern that starts with ``*`` therefore matches anywhere.

Example:
    >>> rules = parse_tdmrep('[{"location": "/news/*", "tdm-reservation": 1}]')
    >>> rules.lookup("example.org", "/news/a.html").reservation
    1
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeElementTree
from protego import Protego

from copyalign.errors import InvalidInputError

Outcome = Literal["deny", "allow", "error"]

RSL_NS = "https://rslstandard.org/rsl"
#: RSL usage tokens that cover training a model ("train-ai" is how early RSL drafts spelled it).
_RSL_TRAINING = frozenset({"all", "ai-all", "ai-train", "train-ai"})
_RSL_FREE = frozenset({"free", "attribution"})
_RSL_TOKENS = re.compile(r"[\s,]+")

_PREFERENCE_LINE = re.compile(r"\s*(content-usage|content-signal)\s*:\s*(.*)", re.I)
_USER_AGENT_LINE = re.compile(r"\s*user[-\s]*agent\b\s*:?\s*(.*)", re.I)
#: Spawning writes file-type rules as ``Disallow: *.jpg``; a leading ``/`` makes a robots parser match them.
_BARE_WILDCARD = re.compile(r"^(\s*(?:dis)?allow\s*:\s*)\*", re.I | re.M)
_SF_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_SF_ITEM = re.compile(
    r"[A-Za-z*][\w!#$%&'*+\-.^`|~:/]*|-?\d{1,15}(?:\.\d{1,3})?|\"(?:[^\"\\]|\\.)*\"|\?[01]|:[\w+/=]*:"
)
_MAX_PLANS = 32


def normalise_host(host: str | None) -> str | None:
    """Lower-cased, without a leading ``www.``: a licence for example.com also covers www.example.com."""
    return host.lower().removeprefix("www.") if host else None


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A robots.txt-style path pattern; one written as an absolute URL also pins the host."""

    text: str
    host: str | None
    parts: tuple[str, ...]
    anchored: bool

    @classmethod
    def parse(cls, text: str) -> PathPattern:
        """Raises InvalidInputError for an empty pattern or an absolute URL that does not parse."""
        raw = text.strip()
        if not raw:
            raise InvalidInputError("empty path pattern", field="pattern")
        host, path = None, raw
        if raw[:8].lower().startswith(("http://", "https://")):
            try:
                parts = urlsplit(raw)
                host = normalise_host(parts.hostname)
            except ValueError as exc:
                raise InvalidInputError(f"cannot parse URL {raw[:80]!r}: {exc}", field="pattern") from None
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        anchored = path.endswith("$")
        path = unquote(path[:-1] if anchored else path)
        if not path.startswith(("/", "*")):
            path = "/" + path
        return cls(raw, host, tuple(re.sub(r"\*+", "*", path).split("*")), anchored)

    def matches(self, host: str | None, path: str) -> bool:
        """Whether ``path`` (percent-decoded, with its query) on ``host`` falls under the pattern."""
        if self.host is not None and host is not None and self.host != host:
            return False
        parts, first = self.parts, self.parts[0]
        if len(parts) == 1:
            return path == first if self.anchored else path.startswith(first)
        if not path.startswith(first):
            return False
        pos = len(first)
        for part in parts[1:-1]:  # leftmost match of each piece: linear, no backtracking
            found = path.find(part, pos)
            if found < 0:
                return False
            pos = found + len(part)
        last = parts[-1]
        if self.anchored:
            return len(path) - len(last) >= pos and path.endswith(last)
        return path.find(last, pos) >= 0


def parse_dictionary(text: str) -> tuple[dict[str, str], str | None]:
    """A structured-field dictionary (RFC 9651) as ``{key: value}``, or ``({}, why)`` when it does not parse.

    Parameters are dropped, keys are lower-cased, a bare key reads as ``?1`` and a quoted string loses its
    quotes: lenient where leniency can only find more reservations, strict about shape.
    """
    prefs: dict[str, str] = {}
    for member in text.split(","):
        item = member.split(";", 1)[0].strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not _SF_KEY.fullmatch(key) or (sep and not _SF_ITEM.fullmatch(value)):
            return {}, f"malformed member {_clip(item)!r}"
        prefs[key] = value.strip('"') if sep else "?1"
    return prefs, None


@dataclass(frozen=True, slots=True)
class Statement:
    """One ``Content-Usage`` or ``Content-Signal`` line of a robots.txt, site-wide or for a path prefix."""

    field: str  # "content-usage" or "content-signal"
    scope: PathPattern | None
    prefs: Mapping[str, str]
    error: str | None

    def applies(self, host: str | None, path: str | None) -> bool:
        return self.scope is None or (path is not None and self.scope.matches(host, path))


#: AIPREF keys consulted for a purpose, most specific first (train-genai < train-ai < bots in the vocabulary).
_USAGE_KEYS = {"train-genai": ("train-genai", "train-ai", "bots"), "train-ai": ("train-ai", "bots")}
_RANK: dict[Outcome, int] = {"allow": 0, "error": 1, "deny": 2}


def resolve_statements(statements: Iterable[Statement], kind: str, purpose: str) -> tuple[Outcome, str] | None:
    """Resolve the ``kind`` statements (Content-Usage y/n, Content-Signal yes/no) for ``purpose``.

    A statement that names the purpose decides it; otherwise the broader category does (train-genai falls
    back to train-ai). A value other than yes/no for a consulted key is an error. Across statements a refusal
    wins over an error, an error over a permission; None when no statement speaks to the purpose.
    """
    usage = kind == "content-usage"
    keys, yes, no = (_USAGE_KEYS[purpose], "y", "n") if usage else (("ai-train",), "yes", "no")
    label = "Content-Usage" if usage else "Content-Signal"
    best: tuple[Outcome, str] | None = None
    for s in statements:
        if s.field != kind:
            continue
        scope = f"{_clip(s.scope.text)} " if s.scope is not None else ""
        bad = [k for k in keys if k in s.prefs and s.prefs[k].lower() not in (yes, no)]
        key = next((k for k in keys if k in s.prefs), None)
        found: tuple[Outcome, str] | None = None
        if s.error is not None:
            found = "error", f"{label}: {scope}{s.error}"
        elif bad:
            found = "error", f"{label}: {scope}{bad[0]}={_clip(s.prefs[bad[0]])} is neither {yes} nor {no}"
        elif key is not None:
            value = s.prefs[key].lower()
            found = "deny" if value == no else "allow", f"{label}: {scope}{key}={value}"
        if found is not None and (best is None or _RANK[found[0]] > _RANK[best[0]]):
            best = found
    return best


def _statement(name: str, value: str) -> Statement:
    scope = None
    pieces = value.split(None, 1)
    if pieces and pieces[0].startswith(("/", "*")) and "=" not in pieces[0]:
        scope = PathPattern.parse(pieces[0])
        value = pieces[1] if len(pieces) > 1 else ""
    prefs, error = parse_dictionary(value)
    return Statement(name, scope, prefs, error)


@dataclass(frozen=True, slots=True)
class RobotsFile:
    """A parsed robots.txt (or ai.txt) and the AI-preference lines that protego does not read."""

    parser: Protego | None
    groups: frozenset[str]  # lower-cased user-agent names of the file's groups, "*" left out
    statements: tuple[Statement, ...] = ()
    error: str | None = None
    # agents -> the subset worth asking protego about (agents of no named group all share the "*" answer)
    _plans: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def first_denied(self, url: str, agents: tuple[str, ...]) -> str | None:
        """The first of ``agents`` that may not fetch ``url``, or None when all may."""
        if self.parser is None:
            return None
        plan = self._plans.get(agents)
        if plan is None:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            plan = self._plans[agents] = self._plan(agents)
        for agent in plan:
            if not self.parser.can_fetch(url, agent):
                return agent
        return None

    def _plan(self, agents: tuple[str, ...]) -> tuple[str, ...]:
        # Over-approximates protego's group matching (substring, not token boundary), so it never drops an
        # agent that has its own group; the agents left all fall back to "*" and give one answer.
        plan: list[str] = []
        generic = False
        for agent in agents:
            lower = agent.lower()
            if any(group in lower for group in self.groups):
                plan.append(agent)
            elif not generic:
                generic = True
                plan.append(agent)
        return tuple(plan)


def parse_robots(text: str, *, ai_txt: bool = False) -> RobotsFile:
    """Parse robots.txt, or Spawning's ai.txt with ``ai_txt=True`` (bare ``*.ext`` rules match anywhere)."""
    text = text.removeprefix("\ufeff")
    if ai_txt:
        text = _BARE_WILDCARD.sub(r"\1/*", text)
    groups: set[str] = set()
    statements: list[Statement] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0]
        agent = _USER_AGENT_LINE.match(line)
        if agent is not None:
            name = agent.group(1).strip().lower()
            groups.update(g for g in (name, name.replace("*", "")) if g and g != "*")
        elif not ai_txt and (pref := _PREFERENCE_LINE.match(line)) is not None:
            statements.append(_statement(pref.group(1).lower(), pref.group(2).strip()))
    try:
        parser = Protego.parse(text)
    except Exception as exc:  # a third-party parser on untrusted text: whatever it raises is a broken file
        return RobotsFile(None, frozenset(), tuple(statements), error=f"unparseable: {_clip(str(exc))}")
    return RobotsFile(parser, frozenset(groups), tuple(statements))


@dataclass(frozen=True, slots=True)
class TdmRule:
    location: PathPattern
    reservation: int  # 1 reserved, 0 not reserved
    policy: str | None


@dataclass(frozen=True, slots=True)
class TdmRep:
    """A parsed ``/.well-known/tdmrep.json``: its rules in file order, or the reason it is unusable."""

    rules: tuple[TdmRule, ...]
    error: str | None = None

    def lookup(self, host: str | None, path: str) -> TdmRule | None:
        """The first rule in file order whose location matches (W3C TDMRep), or None."""
        return next((rule for rule in self.rules if rule.location.matches(host, path)), None)


def parse_tdmrep(text: str) -> TdmRep:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return TdmRep((), f"invalid JSON: {_clip(str(exc))}")
    if not isinstance(data, list):
        return TdmRep((), "not a JSON array of rules")
    rules: list[TdmRule] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            return TdmRep((), f"rule {i} is not an object")
        location, reservation, policy = item.get("location"), item.get("tdm-reservation"), item.get("tdm-policy")
        if not isinstance(location, str) or not location.strip():
            return TdmRep((), f"rule {i}: location must be a non-empty string")
        if isinstance(reservation, bool) or reservation not in (0, 1):
            return TdmRep((), f"rule {i}: tdm-reservation must be 0 or 1, not {_clip(repr(reservation))}")
        if policy is not None and not isinstance(policy, str):
            return TdmRep((), f"rule {i}: tdm-policy must be a string")
        try:
            pattern = PathPattern.parse(location)
        except InvalidInputError as exc:
            return TdmRep((), f"rule {i}: bad location {_clip(location)!r}: {exc}")
        rules.append(TdmRule(pattern, int(reservation), policy))
    return TdmRep(tuple(rules))


@dataclass(frozen=True, slots=True)
class RslContent:
    """One ``<content>`` of an RSL licence and what its terms mean for AI training."""

    pattern: PathPattern
    outcome: Outcome
    detail: str


@dataclass(frozen=True, slots=True)
class RslFile:
    contents: tuple[RslContent, ...]
    error: str | None = None

    def lookup(self, host: str | None, path: str) -> RslContent | None:
        """Of the ``<content>`` elements that match, the first that denies, else one in error, else allows."""
        chosen: RslContent | None = None
        for content in self.contents:
            if content.pattern.matches(host, path):
                if content.outcome == "deny":
                    return content
                if chosen is None or (chosen.outcome == "allow" and content.outcome == "error"):
                    chosen = content
        return chosen


def _rsl_name(tag: object) -> str:
    """The local name of an element in the RSL namespace (or none); "" for anything else."""
    if not isinstance(tag, str):
        return ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return local if namespace == RSL_NS else ""
    return tag


def _rsl_licence(licence: Element) -> tuple[Outcome, str]:
    permits: set[str] = set()
    prohibits: set[str] = set()
    listed = False
    payments: list[str] = []
    for child in licence:
        name, kind = _rsl_name(child.tag), (child.get("type") or "").strip().lower()
        if name in ("permits", "prohibits") and kind in ("usage", ""):
            tokens = {t for t in _RSL_TOKENS.split((child.text or "").lower()) if t}
            if name == "permits":
                listed = True
                permits |= tokens
            else:
                prohibits |= tokens
        elif name == "payment":
            payments.append(kind or "untyped")
    if banned := sorted(prohibits & _RSL_TRAINING):
        return "deny", f"prohibits usage {', '.join(banned)}"
    if listed and not permits & _RSL_TRAINING:
        return "deny", f"permits usage only {', '.join(sorted(permits)) or 'nothing'}"
    if paid := [p for p in payments if p not in _RSL_FREE]:
        return "deny", f"a licence must be bought (payment type {_clip(paid[0])})"
    scope = "usage " + ", ".join(sorted(permits & _RSL_TRAINING)) if listed else "all usage"
    return "allow", f"permits {scope} ({payments[0] if payments else 'free'})"


def _rsl_terms(content: Element) -> tuple[Outcome, str]:
    server = (content.get("server") or "").strip()
    if server:
        return "deny", f"licence server {_clip(server)} requires a licence"
    terms = [_rsl_licence(child) for child in content if _rsl_name(child.tag) == "license"]
    if not terms:
        return "error", "<content> has no <license> and no server"
    # Several licences are alternatives: one that allows training free of charge is enough.
    return next((t for t in terms if t[0] == "allow"), terms[0])


def parse_rsl(text: str) -> RslFile:
    """Parse an RSL 1.0 licence document with defusedxml (entity expansion and external entities refused)."""
    try:
        root: Element = SafeElementTree.fromstring(text)
    except (ParseError, ValueError) as exc:  # defusedxml's refusals are ValueErrors
        return RslFile((), f"malformed XML: {_clip(str(exc))}")
    contents: list[RslContent] = []
    for element in root.iter():
        if _rsl_name(element.tag) != "content":
            continue
        url = (element.get("url") or "").strip()
        try:
            pattern = PathPattern.parse(url)
        except InvalidInputError as exc:
            return RslFile((), f"<content> url {_clip(url)!r}: {exc}")
        contents.append(RslContent(pattern, *_rsl_terms(element)))
    if not contents:
        return RslFile((), "no <content> element")
    return RslFile(tuple(contents))
