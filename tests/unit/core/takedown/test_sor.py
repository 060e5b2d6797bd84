from __future__ import annotations

import copy
import re
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.takedown.sor import (
    MAX_BATCH,
    StatementOfReasons,
    batch_errors,
    batch_payload,
    check_new_puids,
    check_statement,
    copyright_statement,
    puid_for,
    restrictions_for,
    validate_statement,
)
from copyalign.core.takedown.sor_rules import excluded_fields
from copyalign.core.takedown.sor_vocab import (
    EEA_COUNTRIES,
    AutomatedDecision,
    ContentType,
    DecisionAccount,
    DecisionGround,
    DecisionProvision,
    DecisionVisibility,
    SourceType,
)
from copyalign.core.takedown.states import MeasureKind
from copyalign.core.takedown.strikes import Sanction
from copyalign.errors import ConflictError, InvalidInputError


def valid() -> dict[str, Any]:
    """A statement in the shape of the database's own documentation, for a copyright decision."""
    return {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_DISABLED"],
        "decision_account": "DECISION_ACCOUNT_SUSPENDED",
        "end_date_account_restriction": "2026-06-08",
        "account_type": "ACCOUNT_TYPE_PRIVATE",
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
        "decision_ground_reference_url": "https://eur-lex.europa.eu/eli/dir/2001/29/oj",
        "illegal_content_legal_ground": "Directive 2001/29/EC Art. 2-3 (reproduction, communication to the public)",
        "illegal_content_explanation": "The generated text reproduces a registered work's chorus verbatim.",
        "content_type": ["CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_TEXT"],
        "category": "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "category_specification": ["KEYWORD_COPYRIGHT_INFRINGEMENT"],
        "territorial_scope": ["DE", "FR", "NO"],
        "content_language": "EN",
        "content_date": "2026-05-01",
        "application_date": "2026-05-02",
        "decision_facts": "A rights holder's notice named trace tr_9; the matching engine found a 40 % passage.",
        "source_type": "SOURCE_ARTICLE_16",
        "source_identity": "a rights holder",
        "automated_detection": "Yes",
        "automated_decision": "AUTOMATED_DECISION_PARTIALLY",
        "puid": "ca-n-1-decision-1",
    }


def test_the_documented_examples_pass() -> None:
    assert validate_statement(valid()) == ()
    check_statement(valid())
    incompatible = {
        **valid(),
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "incompatible_content_ground": "Terms of use §4",
        "incompatible_content_explanation": "copying",
        "incompatible_content_illegal": "Yes",
    }
    assert validate_statement(incompatible) == ()
    assert "illegal_content_legal_ground" in excluded_fields(incompatible)


def _set(**kv: Any) -> Any:
    def apply(p: dict[str, Any]) -> None:
        p.update(kv)

    return apply


def _drop(*keys: str) -> Any:
    def apply(p: dict[str, Any]) -> None:
        for k in keys:
            p.pop(k, None)

    return apply


# One failing example for every rule the database applies, with the field and rule it must name.
CASES = [
    (_drop("decision_visibility", "decision_account"), "decision_visibility", "required_without_all"),
    (_set(decision_visibility=[], decision_account=None), "decision_account", "required_without_all"),
    (_drop("decision_ground"), "decision_ground", "required"),
    (_set(content_type=[]), "content_type", "required"),
    (_drop("category"), "category", "required"),
    (_drop("content_date"), "content_date", "required"),
    (_drop("application_date"), "application_date", "required"),
    (_set(decision_facts="   "), "decision_facts", "required"),
    (_drop("source_type"), "source_type", "required"),
    (_drop("automated_detection"), "automated_detection", "required"),
    (_drop("automated_decision"), "automated_decision", "required"),
    (_drop("puid"), "puid", "required"),
    (_drop("illegal_content_legal_ground"), "illegal_content_legal_ground", "required_if"),
    (_drop("illegal_content_explanation"), "illegal_content_explanation", "required_if"),
    (
        _set(decision_ground="DECISION_GROUND_INCOMPATIBLE_CONTENT", incompatible_content_explanation="x"),
        "incompatible_content_ground",
        "required_if",
    ),
    (
        _set(decision_ground="DECISION_GROUND_INCOMPATIBLE_CONTENT", incompatible_content_ground="x"),
        "incompatible_content_explanation",
        "required_if",
    ),
    (_set(decision_visibility=["DECISION_VISIBILITY_OTHER"]), "decision_visibility_other", "required_if"),
    (_set(decision_monetary="DECISION_MONETARY_OTHER"), "decision_monetary_other", "required_if"),
    (_set(content_type=["CONTENT_TYPE_OTHER"]), "content_type_other", "required_if"),
    (_set(decision_visibility=["DECISION_VISIBILITY_GONE"]), "decision_visibility", "in"),
    (_set(decision_visibility="DECISION_VISIBILITY_CONTENT_DISABLED"), "decision_visibility", "array"),
    (_set(decision_monetary="DECISION_MONETARY_FINE"), "decision_monetary", "in"),
    (_set(decision_provision="DECISION_PROVISION_SOME"), "decision_provision", "in"),
    (_set(decision_account="DECISION_ACCOUNT_FROZEN"), "decision_account", "in"),
    (_set(account_type="ACCOUNT_TYPE_ROBOT"), "account_type", "in"),
    (_set(decision_ground="DECISION_GROUND_VIBES"), "decision_ground", "in"),
    (_set(content_type=["CONTENT_TYPE_HOLOGRAM"]), "content_type", "in"),
    (_set(category="STATEMENT_CATEGORY_COPYRIGHT"), "category", "in"),
    (_set(category_addition=["STATEMENT_CATEGORY_NOPE"]), "category_addition", "in"),
    (_set(category_specification=["KEYWORD_PIRACY"]), "category_specification", "in"),
    (_set(territorial_scope=["US"]), "territorial_scope", "in"),
    (_set(territorial_scope="DE"), "territorial_scope", "array"),
    (_set(content_language="en"), "content_language", "in"),
    (_set(source_type="SOURCE_RUMOUR"), "source_type", "in"),
    (_set(automated_detection=True), "automated_detection", "in"),
    (_set(automated_decision="AUTOMATED_DECISION_MAYBE"), "automated_decision", "in"),
    (
        _set(
            decision_ground="DECISION_GROUND_INCOMPATIBLE_CONTENT",
            incompatible_content_ground="g",
            incompatible_content_explanation="e",
            incompatible_content_illegal="Perhaps",
        ),
        "incompatible_content_illegal",
        "in",
    ),
    (_set(illegal_content_legal_ground="x" * 501), "illegal_content_legal_ground", "max"),
    (_set(illegal_content_explanation="x" * 2001), "illegal_content_explanation", "max"),
    (_set(decision_facts="x" * 5001), "decision_facts", "max"),
    (_set(source_identity="x" * 501), "source_identity", "max"),
    (_set(category_specification_other="x" * 501), "category_specification_other", "max"),
    (_set(decision_ground_reference_url="https://example.org/" + "x" * 500), "decision_ground_reference_url", "max"),
    (_set(puid="x" * 501), "puid", "max"),
    (_set(decision_facts=12), "decision_facts", "string"),
    (_set(puid="ca n/1"), "puid", "regex"),
    (_set(decision_ground_reference_url="not a url"), "decision_ground_reference_url", "url"),
    (_set(content_date="2026-5-1"), "content_date", "date_format"),
    (_set(application_date="2026-02-30"), "application_date", "date_format"),
    (_set(content_date="1999-12-31"), "content_date", "after_or_equal"),
    (_set(application_date="2019-12-31"), "application_date", "after_or_equal"),
    (_set(application_date="2038-01-02"), "application_date", "before_or_equal"),
    (_set(end_date_account_restriction="2038-01-02"), "end_date_account_restriction", "before_or_equal"),
    (_set(end_date_visibility_restriction="08/06/2026"), "end_date_visibility_restriction", "date_format"),
    (_set(end_date_account_restriction="2026-05-01"), "end_date_account_restriction", "after_or_equal"),
    (_set(content_id={"EAN-13": "123"}), "content_id.EAN-13", "regex"),
    (_set(content_id_ean="12345678901234"), "content_id_ean", "regex"),
]


@pytest.mark.parametrize(("mutate", "field", "rule"), CASES, ids=[f"{c[1]}-{c[2]}" for c in CASES])
def test_each_rule_has_a_failing_example_naming_its_field(mutate: Any, field: str, rule: str) -> None:
    payload = valid()
    mutate(payload)
    found = validate_statement(payload)
    assert (field, rule) in [(v.field, v.rule) for v in found], found
    with pytest.raises(InvalidInputError) as e:
        check_statement(payload)
    assert e.value.field == found[0].field


def test_excluded_fields_are_dropped_like_the_server_does() -> None:
    voluntary = {**valid(), "source_type": "SOURCE_VOLUNTARY", "source_identity": "x" * 900}
    assert validate_statement(voluntary) == ()  # source_identity is excluded for own-initiative decisions
    stray = {**valid(), "incompatible_content_ground": "x" * 900, "decision_monetary_other": 5}
    assert validate_statement(stray) == ()
    assert [v.field for v in validate_statement({**valid(), "colour": "red"}, strict=True)] == ["colour"]


def statement(**changes: Any) -> StatementOfReasons:
    base: dict[str, Any] = {
        "puid": "ca-n-1-decision-1",
        "legal_ground": "Copyright Act of Germany (UrhG) §§ 16, 19a",
        "explanation": "The output reproduces the registered work's chorus.",
        "facts": "Notice n-1; trace tr_9; passage match covering 40 % of the output.",
        "content_date": date(2026, 5, 1),
        "application_date": date(2026, 5, 2),
        "source_type": SourceType.ARTICLE_16,
        "automated_detection": True,
        "automated_decision": AutomatedDecision.PARTIALLY,
        "territorial_scope": ("DE", "AT"),
    }
    base.update(changes)
    return copyright_statement(**base)


def test_the_builder_makes_what_the_database_accepts() -> None:
    s = statement(content_type=[ContentType.SYNTHETIC_MEDIA, ContentType.IMAGE], content_language="DE")
    p = s.to_payload()
    assert validate_statement(p) == ()
    assert p["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert p["category"] == "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"
    assert p["automated_detection"] == "Yes" and p["content_date"] == "2026-05-01"
    assert s.content_type == (ContentType.SYNTHETIC_MEDIA, ContentType.IMAGE)
    assert "incompatible_content_ground" not in p and "end_date_account_restriction" not in p


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"puid": "has space"}, "puid"),
        ({"content_date": datetime(2026, 5, 1)}, "content_date"),
        ({"application_date": date(2019, 1, 1)}, "application_date"),
        ({"automated_detection": "Yes"}, "automated_detection"),
        ({"automated_decision": "AUTOMATED_DECISION_SOMETIMES"}, "automated_decision"),
        ({"territorial_scope": ("US",)}, "territorial_scope"),
        ({"territorial_scope": "DE"}, "territorial_scope"),
        ({"incompatible_content_ground": "terms"}, "incompatible_content_ground"),
        ({"decision_visibility": (DecisionVisibility.OTHER,)}, "decision_visibility_other"),
        ({"explanation": "x" * 2001}, "illegal_content_explanation"),
        ({"facts": 42}, "decision_facts"),
    ],
)
def test_the_builder_refuses_what_the_database_would(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as e:
        statement(**changes)
    assert e.value.field == field


def test_batches_hold_1_to_100_statements_with_new_puids() -> None:
    many = [statement(puid=puid_for("n", str(i), "d1")) for i in range(MAX_BATCH + 1)]
    body = batch_payload(many[:MAX_BATCH])
    assert len(body["statements"]) == MAX_BATCH  # type: ignore[arg-type]
    assert batch_errors(body) == {}
    for bad in ([], many):
        with pytest.raises(InvalidInputError) as e:
            batch_payload(bad)
        assert e.value.field == "statements"
    with pytest.raises(ConflictError) as c:
        batch_payload([many[0], many[0]])
    assert c.value.field == "puid" and c.value.code == "puid_not_unique"
    with pytest.raises(ConflictError):
        batch_payload([many[1]], taken={many[1].puid})
    check_new_puids(["a", "b"], taken={"c"})


def test_batch_errors_answer_like_the_database() -> None:
    good, bad = valid(), {**valid(), "puid": "p2", "decision_ground": "NOPE"}
    dup = {**valid()}
    errors = batch_errors({"statements": [good, bad, dup]})
    assert set(errors) == {"statement_1", "statement_2"}
    assert "decision_ground" in errors["statement_1"]
    assert errors["statement_2"]["puid"] == ["The identifier given is not unique within this platform."]
    assert "statements" in batch_errors({"statements": []}) and "statements" in batch_errors({})
    assert "statement_0" in batch_errors({"statements": [valid()]}, taken={valid()["puid"]})


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=5),
    other=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=5),
)
def test_puids_are_valid_stable_and_distinct(parts: list[str], other: list[str]) -> None:
    p = puid_for(*parts)
    assert re.fullmatch(r"[a-zA-Z0-9\-_]+", p) and len(p) <= 500
    assert p == puid_for(*parts)
    if other != parts:
        assert puid_for(*other) != p


@settings(max_examples=100, deadline=None)
@given(
    scope=st.lists(st.sampled_from(sorted(EEA_COUNTRIES)), unique=True, max_size=5),
    types=st.lists(st.sampled_from([c for c in ContentType if c is not ContentType.OTHER]), min_size=1, unique=True),
    detected=st.booleans(),
    decision=st.sampled_from(list(AutomatedDecision)),
    source=st.sampled_from(list(SourceType)),
    facts=st.text(min_size=1, max_size=5000).filter(str.strip),
    day=st.dates(date(2020, 1, 1), date(2037, 12, 31)),
)
def test_built_statements_always_validate(
    scope: list[str],
    types: list[ContentType],
    detected: bool,
    decision: AutomatedDecision,
    source: SourceType,
    facts: str,
    day: date,
) -> None:
    s = statement(
        territorial_scope=tuple(scope),
        content_type=tuple(types),
        automated_detection=detected,
        automated_decision=decision,
        source_type=source,
        facts=facts,
        content_date=day,
        application_date=day,
    )
    payload = s.to_payload()
    assert validate_statement(copy.deepcopy(payload)) == ()


def test_restrictions_for_measures_and_sanctions() -> None:
    r = restrictions_for([MeasureKind.DISABLE_OUTPUT, MeasureKind.BLOCK_REGENERATION], Sanction.TERMINATE)
    assert r["decision_visibility"] == (DecisionVisibility.CONTENT_DISABLED, DecisionVisibility.OTHER)
    assert r["decision_account"] is DecisionAccount.TERMINATED and r["decision_visibility_other"]
    assert restrictions_for([], Sanction.RESTRICT) == {"decision_provision": DecisionProvision.PARTIAL_SUSPENSION}
    s = statement(**restrictions_for([MeasureKind.DISABLE_OUTPUT, MeasureKind.MODEL_BLOCKLIST], Sanction.SUSPEND))
    assert s.decision_account is DecisionAccount.SUSPENDED and s.decision_ground is DecisionGround.ILLEGAL_CONTENT
