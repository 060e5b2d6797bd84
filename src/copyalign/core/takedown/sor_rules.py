"""The validation rules of the EU DSA Transparency Database, applied before a statement is sent.

:func:`validate_statement` applies the rules the database applies, so that a statement is refused here, with
the field named, rather than with a 422 later. Where each rule comes from (github.com/digital-services-act/
transparency-database, June 2026 head):

* ``app/Http/Requests/StatementStoreRequest.php::rules()`` — the single endpoint: ``required`` fields
  (decision_ground, content_type, category, content_date, application_date, decision_facts, source_type,
  automated_detection, automated_decision, puid); ``required_without_all`` over decision_visibility /
  decision_monetary / decision_provision / decision_account (at least one restriction); ``required_if`` /
  ``exclude_unless`` pairs (illegal_content_* with DECISION_GROUND_ILLEGAL_CONTENT, incompatible_content_*
  with DECISION_GROUND_INCOMPATIBLE_CONTENT, decision_monetary_other with DECISION_MONETARY_OTHER,
  decision_visibility_other and content_type_other with their ``*_OTHER`` values); source_identity
  excluded for SOURCE_VOLUNTARY; ``max`` lengths (500 for grounds, other-texts, URLs, source_identity and
  puid; 2000 for explanations; 5000 for decision_facts); ``date_format:Y-m-d`` with content_date in
  2000-01-01..2038-01-01, application_date in 2020-01-01..2038-01-01 and end dates up to 2038-01-01; puid
  ``^[a-zA-Z0-9-_]+$``; content_id EAN-13 as 13 digits; ``in`` lists from ``app/Models/Statement.php``
  (see :mod:`.sor_vocab`).
* ``app/Services/GroupedSubmissionsService.php::multi_rules()`` — the same rules for each statement of a batch;
  ``StatementMultipleAPIController::store`` — ``statements`` ``required|array|between:1,100``, errors keyed
  ``statement_<index>``, and puids unique within the platform (``PlatformUniqueIdService``: a reused puid is a
  422 naming it, in a batch or across calls).
* ``resources/markdown/api-documentation.md`` — the end dates "must be after or equal to the application
  date"; the server's validator does not check this, we do.

Two deliberate differences, both stricter: text fields must be strings (Laravel's ``max`` would compare a
JSON number by value), and unknown keys are reported when ``strict=True`` (the server ignores them).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from copyalign.core.takedown.sor_vocab import (
    EEA_COUNTRIES,
    KEYWORDS,
    LANGUAGES,
    AccountType,
    AutomatedDecision,
    Category,
    ContentType,
    DecisionAccount,
    DecisionGround,
    DecisionMonetary,
    DecisionProvision,
    DecisionVisibility,
    SourceType,
    YesNo,
)
from copyalign.errors import InvalidInputError

PUID_MAX = 500
_PUID = re.compile(r"^[a-zA-Z0-9\-_]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EAN13 = re.compile(r"^[0-9]{13}$")
_ILLEGAL, _INCOMPATIBLE = DecisionGround.ILLEGAL_CONTENT.value, DecisionGround.INCOMPATIBLE_CONTENT.value
_DECISIONS = ("decision_visibility", "decision_monetary", "decision_provision", "decision_account")
_MAX = {
    "decision_visibility_other": 500,
    "decision_monetary_other": 500,
    "category_specification_other": 500,
    "decision_ground_reference_url": 500,
    "illegal_content_legal_ground": 500,
    "illegal_content_explanation": 2000,
    "incompatible_content_ground": 500,
    "incompatible_content_explanation": 2000,
    "content_type_other": 500,
    "decision_facts": 5000,
    "source_identity": 500,
    "puid": PUID_MAX,
}
_SCALAR_IN: dict[str, Collection[str]] = {
    "decision_monetary": {m.value for m in DecisionMonetary},
    "decision_provision": {m.value for m in DecisionProvision},
    "decision_account": {m.value for m in DecisionAccount},
    "account_type": {m.value for m in AccountType},
    "decision_ground": {m.value for m in DecisionGround},
    "category": {m.value for m in Category},
    "content_language": LANGUAGES,
    "source_type": {m.value for m in SourceType},
    "automated_detection": {m.value for m in YesNo},
    "automated_decision": {m.value for m in AutomatedDecision},
    "incompatible_content_illegal": {m.value for m in YesNo},
}
_ARRAY_IN: dict[str, Collection[str]] = {
    "decision_visibility": {m.value for m in DecisionVisibility},
    "content_type": {m.value for m in ContentType},
    "category_addition": {m.value for m in Category},
    "category_specification": KEYWORDS,
    "territorial_scope": EEA_COUNTRIES,
}
_REQUIRED = (
    "decision_ground",
    "content_type",
    "category",
    "content_date",
    "application_date",
    "decision_facts",
    "source_type",
    "automated_detection",
    "automated_decision",
    "puid",
)
_DATES = {"content_date": ("2000-01-01", "2038-01-01"), "application_date": ("2020-01-01", "2038-01-01")}
_END_DATES = (
    "end_date_account_restriction",
    "end_date_monetary_restriction",
    "end_date_service_restriction",
    "end_date_visibility_restriction",
)
KNOWN_FIELDS = frozenset(
    set(_MAX) | set(_SCALAR_IN) | set(_ARRAY_IN) | set(_REQUIRED) | set(_END_DATES) | {"content_id", "content_id_ean"}
)


@dataclass(frozen=True)
class Violation:
    field: str
    rule: str
    message: str


def _present(v: object) -> bool:
    return v is not None and not (isinstance(v, str) and not v.strip()) and not (isinstance(v, list | dict) and not v)


def excluded_fields(payload: Mapping[str, object]) -> frozenset[str]:
    """Fields the server drops unvalidated because their condition does not hold (``exclude_unless``/``excludeIf``)."""
    vis, ctype = payload.get("decision_visibility"), payload.get("content_type")
    ground = payload.get("decision_ground")
    out = set()
    if not (isinstance(vis, list) and DecisionVisibility.OTHER.value in vis):
        out.add("decision_visibility_other")
    if payload.get("decision_monetary") != DecisionMonetary.OTHER.value:
        out.add("decision_monetary_other")
    if not (isinstance(ctype, list) and ContentType.OTHER.value in ctype):
        out.add("content_type_other")
    if ground != _ILLEGAL:
        out |= {"illegal_content_legal_ground", "illegal_content_explanation"}
    if ground != _INCOMPATIBLE:
        out |= {"incompatible_content_ground", "incompatible_content_explanation", "incompatible_content_illegal"}
    if payload.get("source_type") == SourceType.VOLUNTARY.value:
        out.add("source_identity")
    return frozenset(out)


def validate_statement(payload: Mapping[str, object], *, strict: bool = False) -> tuple[Violation, ...]:
    """Every rule of the database that ``payload`` breaks; empty when the API would accept it."""
    out: list[Violation] = []
    bad = out.append
    skip = excluded_fields(payload)
    p = {k: v for k, v in payload.items() if k not in skip}
    if strict:
        for k in sorted(set(payload) - KNOWN_FIELDS):
            bad(Violation(k, "unknown", f"{k} is not a field of the statement of reasons"))
    if not any(_present(p.get(k)) for k in _DECISIONS):
        for k in _DECISIONS:
            others = " / ".join(o for o in _DECISIONS if o != k)
            bad(Violation(k, "required_without_all", f"{k} is required when none of {others} is present"))
    for k in _REQUIRED:
        if not _present(p.get(k)):
            bad(Violation(k, "required", f"{k} is required"))
    conditional = {
        "decision_visibility_other": "decision_visibility is DECISION_VISIBILITY_OTHER",
        "decision_monetary_other": "decision_monetary is DECISION_MONETARY_OTHER",
        "content_type_other": "content_type includes CONTENT_TYPE_OTHER",
        "illegal_content_legal_ground": f"decision_ground is {_ILLEGAL}",
        "illegal_content_explanation": f"decision_ground is {_ILLEGAL}",
        "incompatible_content_ground": f"decision_ground is {_INCOMPATIBLE}",
        "incompatible_content_explanation": f"decision_ground is {_INCOMPATIBLE}",
    }
    for k, when in conditional.items():
        if k not in skip and not _present(p.get(k)):
            bad(Violation(k, "required_if", f"{k} is required when {when}"))
    for k, allowed in _SCALAR_IN.items():
        v = p.get(k)
        if v is not None and v not in allowed:
            bad(Violation(k, "in", f"the selected {k} {v!r} is invalid"))
    for k, allowed in _ARRAY_IN.items():
        v = p.get(k)
        if v is None:
            continue
        if not isinstance(v, list):
            bad(Violation(k, "array", f"{k} must be an array"))
        elif any(x not in allowed for x in v):
            bad(Violation(k, "in", f"the selected {k} {[x for x in v if x not in allowed]!r} is invalid"))
    for k, limit in _MAX.items():
        v = p.get(k)
        if v is None:
            continue
        if not isinstance(v, str):
            bad(Violation(k, "string", f"{k} must be a string"))
        elif len(v) > limit:
            bad(Violation(k, "max", f"{k} may not be greater than {limit} characters"))
    puid = p.get("puid")
    if isinstance(puid, str) and puid and not _PUID.match(puid):
        bad(Violation("puid", "regex", "the puid format is invalid: letters, digits, '-' and '_' only"))
    url = p.get("decision_ground_reference_url")
    if isinstance(url, str) and url and not _is_url(url):
        bad(Violation("decision_ground_reference_url", "url", "decision_ground_reference_url must be a valid URL"))
    out.extend(_date_violations(p))
    out.extend(_content_id_violations(p))
    return tuple(out)


def _is_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ftp") and bool(parts.netloc) and " " not in url


def _date_violations(p: Mapping[str, object]) -> Iterable[Violation]:
    parsed: dict[str, date] = {}
    for k in (*_DATES, *_END_DATES):
        v = p.get(k)
        if v is None or (k in _DATES and not _present(v)):
            continue
        try:
            if not isinstance(v, str) or not _DATE.match(v):
                raise ValueError
            parsed[k] = date.fromisoformat(v)
        except ValueError:
            yield Violation(k, "date_format", f"{k} does not match the format YYYY-MM-DD")
            continue
        lo, hi = _DATES.get(k, (None, "2038-01-01"))
        if lo is not None and v < lo:
            yield Violation(k, "after_or_equal", f"{k} must be a date after or equal to {lo}")
        if v > hi:
            yield Violation(k, "before_or_equal", f"{k} must be a date before or equal to {hi}")
    start = parsed.get("application_date")
    for k in _END_DATES:
        if start is not None and k in parsed and parsed[k] < start:
            yield Violation(k, "after_or_equal", f"{k} must be after or equal to the application date (API docs)")


def _content_id_violations(p: Mapping[str, object]) -> Iterable[Violation]:
    cid, ean = p.get("content_id"), p.get("content_id_ean")
    if cid is not None:
        if not isinstance(cid, dict):
            yield Violation("content_id", "array", "content_id must be an object of identifiers")
        elif "EAN-13" in cid and not (isinstance(cid["EAN-13"], str) and _EAN13.match(cid["EAN-13"])):
            yield Violation("content_id.EAN-13", "regex", "an EAN-13 is 13 digits")
    if ean is not None and not (isinstance(ean, str) and _EAN13.match(ean)):
        yield Violation("content_id_ean", "regex", "an EAN-13 is 13 digits")


def check_statement(payload: Mapping[str, object]) -> None:
    """Raise InvalidInputError naming the first field the database would refuse."""
    found = validate_statement(payload)
    if found:
        v = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise InvalidInputError(f"statement of reasons: {v.message}{more}", field=v.field)
