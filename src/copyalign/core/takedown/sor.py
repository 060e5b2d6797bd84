"""Statements of reasons in the exact schema of the EU DSA Transparency Database API.

DSA Art. 17 requires a statement of reasons for every restriction, and Art. 24(5) requires online platforms to
submit them to the Commission's database "without undue delay", through ``POST /api/v1/statement`` (one) or
``POST /api/v1/statements`` (``{"statements": [...]}``, 1 to 100 per call; if one fails, none is created).
:mod:`.sor_rules` applies the rules the database applies (recorded there with where each comes from),
so that a statement is refused here, with the field named, rather than with a 422 later.

A puid must never be reused: :func:`puid_for` derives it from the decision's identity, so a retried export
sends the same puid and the database's uniqueness check makes the retry harmless.

Example:
    >>> from datetime import date
    >>> s = copyright_statement(puid="ca-n1-d1", legal_ground="Copyright Act §2", explanation="verbatim copy",
    ...     facts="The output reproduced a registered work.", content_date=date(2026, 5, 1),
    ...     application_date=date(2026, 5, 2), source_type=SourceType.ARTICLE_16, automated_detection=True,
    ...     automated_decision=AutomatedDecision.PARTIALLY)
    >>> s.to_payload()["category_specification"]
    ['KEYWORD_COPYRIGHT_INFRINGEMENT']
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from copyalign.core.takedown._validate import parse_enum
from copyalign.core.takedown.sor_rules import (
    PUID_MAX,
    Violation,
    check_statement,
    excluded_fields,
    validate_statement,
)
from copyalign.core.takedown.sor_vocab import (
    KEYWORD_COPYRIGHT_INFRINGEMENT,
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
from copyalign.core.takedown.states import MeasureKind
from copyalign.core.takedown.strikes import Sanction
from copyalign.errors import ConflictError, InvalidInputError

MAX_BATCH = 100
_DECISIONS = ("decision_visibility", "decision_monetary", "decision_provision", "decision_account")
_DATES = ("content_date", "application_date")
_END_DATES = (
    "end_date_account_restriction",
    "end_date_monetary_restriction",
    "end_date_service_restriction",
    "end_date_visibility_restriction",
)

__all__ = [
    "MAX_BATCH",
    "StatementOfReasons",
    "Violation",
    "batch_errors",
    "batch_payload",
    "check_new_puids",
    "check_statement",
    "copyright_statement",
    "puid_for",
    "restrictions_for",
    "validate_statement",
]


@dataclass(frozen=True)
class StatementOfReasons:
    """One statement, typed; it cannot be built unless the database would accept it (see the module docstring)."""

    puid: str
    decision_ground: DecisionGround
    content_type: tuple[ContentType, ...]
    category: Category
    content_date: date
    application_date: date
    decision_facts: str
    source_type: SourceType
    automated_detection: bool
    automated_decision: AutomatedDecision
    decision_visibility: tuple[DecisionVisibility, ...] = ()
    decision_visibility_other: str | None = None
    decision_monetary: DecisionMonetary | None = None
    decision_monetary_other: str | None = None
    decision_provision: DecisionProvision | None = None
    decision_account: DecisionAccount | None = None
    account_type: AccountType | None = None
    decision_ground_reference_url: str | None = None
    illegal_content_legal_ground: str | None = None
    illegal_content_explanation: str | None = None
    incompatible_content_ground: str | None = None
    incompatible_content_explanation: str | None = None
    incompatible_content_illegal: bool | None = None
    content_type_other: str | None = None
    category_addition: tuple[Category, ...] = ()
    category_specification: tuple[str, ...] = ()
    category_specification_other: str | None = None
    territorial_scope: tuple[str, ...] = ()
    content_language: str | None = None
    end_date_account_restriction: date | None = None
    end_date_monetary_restriction: date | None = None
    end_date_service_restriction: date | None = None
    end_date_visibility_restriction: date | None = None
    source_identity: str | None = None
    content_id_ean: str | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            v, name = getattr(self, f.name), f.name
            if name in _ENUM_TUPLES or name in ("category_specification", "territorial_scope"):
                if isinstance(v, str) or not isinstance(v, Iterable):
                    raise InvalidInputError(f"{name} is a list", field=name)
                cls = _ENUM_TUPLES.get(name)
                v = tuple(parse_enum(cls, x, name) if cls else _str(x, name) for x in v)
            elif v is None:
                continue
            elif name in _ENUM_FIELDS:
                v = parse_enum(_ENUM_FIELDS[name], v, name)
            elif name in _DATES or name in _END_DATES:
                if not isinstance(v, date) or isinstance(v, datetime):
                    raise InvalidInputError(f"{name} is a date (not a datetime)", field=name)
            elif name in ("automated_detection", "incompatible_content_illegal"):
                if not isinstance(v, bool):
                    raise InvalidInputError(f"{name} is true or false", field=name)
            else:
                _str(v, name)
            object.__setattr__(self, name, v)
        payload = self.to_payload(keep_excluded=True)
        dropped = sorted(k for k in excluded_fields(payload) if k in payload)
        if dropped:
            raise InvalidInputError(
                f"{dropped[0]} does not apply to this statement (the database would drop it)", field=dropped[0]
            )
        check_statement(payload)

    def to_payload(self, *, keep_excluded: bool = False) -> dict[str, object]:
        """The JSON body for ``POST /api/v1/statement``; unset fields are left out."""
        out: dict[str, object] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None or v == ():
                continue
            if isinstance(v, bool):
                out[f.name] = YesNo.YES.value if v else YesNo.NO.value
            elif isinstance(v, date):
                out[f.name] = v.isoformat()
            elif isinstance(v, tuple):
                out[f.name] = [str(x) for x in v]
            else:
                out[f.name] = str(v)
        if not keep_excluded:
            for k in excluded_fields(out):
                out.pop(k, None)
        return out


_ENUM_FIELDS: dict[str, type[enum.Enum]] = {
    "decision_ground": DecisionGround,
    "category": Category,
    "source_type": SourceType,
    "automated_decision": AutomatedDecision,
    "decision_monetary": DecisionMonetary,
    "decision_provision": DecisionProvision,
    "decision_account": DecisionAccount,
    "account_type": AccountType,
}
_ENUM_TUPLES: dict[str, type[enum.Enum]] = {
    "content_type": ContentType,
    "decision_visibility": DecisionVisibility,
    "category_addition": Category,
}


def _str(v: object, name: str) -> str:
    if not isinstance(v, str):
        raise InvalidInputError(f"{name} is text", field=name)
    return v


def copyright_statement(
    *,
    puid: str,
    legal_ground: str,
    explanation: str,
    facts: str,
    content_date: date,
    application_date: date,
    source_type: SourceType,
    automated_detection: bool,
    automated_decision: AutomatedDecision,
    **more: Any,
) -> StatementOfReasons:
    """A statement for a copyright decision: illegal content, intellectual-property category, copyright keyword.

    ``more`` takes any other field (content_type defaults to synthetic media, decision_visibility to
    disabling access, as for a generated output).
    """
    more.setdefault("content_type", (ContentType.SYNTHETIC_MEDIA,))
    if not any(k in more for k in _DECISIONS):
        more["decision_visibility"] = (DecisionVisibility.CONTENT_DISABLED,)
    return StatementOfReasons(
        puid=puid,
        decision_ground=DecisionGround.ILLEGAL_CONTENT,
        category=Category.INTELLECTUAL_PROPERTY_INFRINGEMENTS,
        category_specification=(KEYWORD_COPYRIGHT_INFRINGEMENT,),
        illegal_content_legal_ground=legal_ground,
        illegal_content_explanation=explanation,
        decision_facts=facts,
        content_date=content_date,
        application_date=application_date,
        source_type=source_type,
        automated_detection=automated_detection,
        automated_decision=automated_decision,
        **more,
    )


def restrictions_for(measures: Iterable[MeasureKind], sanction: Sanction = Sanction.NONE) -> dict[str, Any]:
    """The restriction fields of a statement for the measures taken and the user's resulting sanction."""
    kinds = set(measures)
    out: dict[str, Any] = {}
    vis: list[DecisionVisibility] = []
    if MeasureKind.DISABLE_OUTPUT in kinds:
        vis.append(DecisionVisibility.CONTENT_DISABLED)
    if kinds & {MeasureKind.BLOCK_REGENERATION, MeasureKind.BLOCK_PROMPT_TERMS, MeasureKind.MODEL_BLOCKLIST}:
        vis.append(DecisionVisibility.OTHER)
        out["decision_visibility_other"] = "Generation of the same or substantially similar output is blocked."
    if vis:
        out["decision_visibility"] = tuple(vis)
    if sanction is Sanction.RESTRICT:
        out["decision_provision"] = DecisionProvision.PARTIAL_SUSPENSION
    elif sanction is Sanction.SUSPEND:
        out["decision_account"] = DecisionAccount.SUSPENDED
    elif sanction is Sanction.TERMINATE:
        out["decision_account"] = DecisionAccount.TERMINATED
    return out


def puid_for(*parts: str) -> str:
    """A platform unique identifier derived from a decision's identity (e.g. ``puid_for("n-7", "decision", "2")``).

    Plain parts are joined with '-'; anything else (dots, spaces, non-ASCII) is hashed, so two different
    decisions never share a puid and the same decision always gets the same one.
    """
    if not parts or not all(isinstance(p, str) and p for p in parts):
        raise InvalidInputError("a puid is derived from one or more non-empty strings", field="puid")
    joined = "-".join(parts)
    if all(re.fullmatch(r"[A-Za-z0-9_]+", p) for p in parts) and len(joined) <= PUID_MAX:
        return joined
    return "ca--" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()  # "--" never joins plain parts


def batch_payload(statements: Sequence[StatementOfReasons], *, taken: Collection[str] = ()) -> dict[str, object]:
    """The body for ``POST /api/v1/statements``: 1 to 100 statements with puids new to the platform."""
    if not 1 <= len(statements) <= MAX_BATCH:
        raise InvalidInputError(f"a batch holds 1 to {MAX_BATCH} statements, not {len(statements)}", field="statements")
    check_new_puids([s.puid for s in statements], taken)
    return {"statements": [s.to_payload() for s in statements]}


def check_new_puids(puids: Sequence[str], taken: Collection[str] = ()) -> None:
    """ConflictError naming the first puid repeated in ``puids`` or already in ``taken`` (never reused)."""
    seen: set[str] = set()
    for p in puids:
        if p in seen or p in taken:
            raise ConflictError(
                f"the puid {p!r} is not unique within this platform", field="puid", code="puid_not_unique"
            )
        seen.add(p)


def batch_errors(body: Mapping[str, object], *, taken: Collection[str] = ()) -> dict[str, Any]:
    """The database's 422 ``errors`` object for a batch body, or {} when it would be accepted.

    Errors are keyed ``statement_<index>`` then by field, as the database answers; a test stub can serve it.
    """
    items = body.get("statements")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        return {"statements": [f"statements must be an array of 1 to {MAX_BATCH} statements"]}
    errors: dict[str, Any] = {}
    seen: set[object] = set()
    for i, item in enumerate(items):
        found = (
            validate_statement(item)
            if isinstance(item, Mapping)
            else (Violation("statement", "array", "a statement must be an object"),)
        )
        per: dict[str, list[str]] = {}
        for v in found:
            per.setdefault(v.field, []).append(v.message)
        puid = item.get("puid") if isinstance(item, Mapping) else None
        if isinstance(puid, str) and (puid in seen or puid in taken):
            per.setdefault("puid", []).append("The identifier given is not unique within this platform.")
        seen.add(puid)
        if per:
            errors[f"statement_{i}"] = per
    return errors
