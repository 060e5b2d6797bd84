from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from copyalign.core.takedown.counter import CounterNotice, missing_counter_elements
from copyalign.core.takedown.elements import (
    ClaimedWork,
    Element,
    Jurisdiction,
    Material,
    MaterialKind,
    Notice,
    Party,
    is_complete,
    lumen_record,
    missing_elements,
    must_assist,
)
from copyalign.errors import InvalidInputError

T0 = datetime(2026, 5, 1, 9, tzinfo=UTC)
DIGEST = "ab" * 32


def full_notice(**changes: Any) -> Notice:
    """A notice that every jurisdiction accepts as complete."""
    base: dict[str, Any] = {
        "notice_id": "n-1",
        "received_at": T0,
        "sender": Party(
            name="Ada Lee",
            email="ada@example.org",
            address="1 Main St",
            phone="+1 555 0100",
            identity_proof="passport:X123",
        ),
        "recipient": "ExampleAI",
        "works": (
            ClaimedWork(
                work_id="w-7",
                description="Moon Song (lyrics)",
                original_locations=("https://example.org/moon",),
                materials=(
                    Material(MaterialKind.TRACE, "tr_9"),
                    Material(MaterialKind.DELIVERED_FILE, "sha256:" + DIGEST),
                ),
            ),
        ),
        "explanation": "The output reproduces the second verse verbatim.",
        "signature": "/Ada Lee/",
        "good_faith": True,
        "accurate": True,
        "authorised": True,
        "evidence": ("registration certificate R-1",),
    }
    base.update(changes)
    return Notice(**base)


@pytest.mark.parametrize("j", list(Jurisdiction))
def test_a_full_notice_is_complete_everywhere(j: Jurisdiction) -> None:
    assert missing_elements(full_notice(), j) == () and is_complete(full_notice(), j.value)


NO_WORK_NAME = (ClaimedWork(materials=(Material(MaterialKind.TRACE, "tr_9"),)),)
NO_MATERIAL = (ClaimedWork(work_id="w-7"),)


@pytest.mark.parametrize(
    ("j", "change", "element", "source"),
    [
        (Jurisdiction.US, {"signature": None}, Element.SIGNATURE, "512(c)(3)(A)(i)"),
        (Jurisdiction.US, {"works": NO_WORK_NAME}, Element.WORK, "512(c)(3)(A)(ii)"),
        (Jurisdiction.US, {"works": NO_MATERIAL}, Element.MATERIAL, "512(c)(3)(A)(iii)"),
        (Jurisdiction.US, {"sender": Party(name="Ada")}, Element.CONTACT, "512(c)(3)(A)(iv)"),
        (Jurisdiction.US, {"good_faith": False}, Element.GOOD_FAITH, "512(c)(3)(A)(v)"),
        (Jurisdiction.US, {"accurate": False}, Element.ACCURACY, "512(c)(3)(A)(vi)"),
        (Jurisdiction.US, {"authorised": False}, Element.AUTHORITY, "512(c)(3)(A)(vi)"),
        (Jurisdiction.EU, {"explanation": None}, Element.EXPLANATION, "DSA Art. 16(2)(a)"),
        (Jurisdiction.EU, {"works": NO_MATERIAL}, Element.MATERIAL, "DSA Art. 16(2)(b)"),
        (Jurisdiction.EU, {"sender": Party(email="ada@example.org")}, Element.NAME, "DSA Art. 16(2)(c)"),
        (Jurisdiction.EU, {"sender": Party(name="Ada", phone="1")}, Element.EMAIL, "DSA Art. 16(2)(c)"),
        (Jurisdiction.EU, {"accurate": False}, Element.ACCURACY, "DSA Art. 16(2)(d)"),
        (
            Jurisdiction.CN,
            {"sender": Party(email="a@b.cn", address="x", identity_proof="id")},
            Element.NAME,
            "Art. 14(1)",
        ),
        (Jurisdiction.CN, {"sender": Party(name="A", address="x", identity_proof="id")}, Element.CONTACT, "Art. 14(1)"),
        (
            Jurisdiction.CN,
            {"sender": Party(name="A", email="a@b.cn", identity_proof="id")},
            Element.ADDRESS,
            "Art. 14(1)",
        ),
        (Jurisdiction.CN, {"works": NO_WORK_NAME}, Element.WORK, "Art. 14(2)"),
        (Jurisdiction.CN, {"works": NO_MATERIAL}, Element.MATERIAL, "Art. 14(2)"),
        (Jurisdiction.CN, {"evidence": ()}, Element.EVIDENCE, "Art. 14(3)"),
        (
            Jurisdiction.CN,
            {"sender": Party(name="A", email="a@b.cn", address="x")},
            Element.IDENTITY,
            "Civil Code Art. 1195",
        ),
        (Jurisdiction.JP, {"works": NO_MATERIAL}, Element.MATERIAL, "Art. 3(2)(ii)"),
        (Jurisdiction.JP, {"explanation": None}, Element.EXPLANATION, "Art. 3(2)(ii)"),
    ],
)
def test_each_missing_element_is_named_with_its_source(
    j: Jurisdiction, change: dict[str, Any], element: Element, source: str
) -> None:
    missing = missing_elements(full_notice(**change), j)
    assert [m.element for m in missing] == [element]
    assert source in missing[0].source and source in missing[0].message


def test_cn_agent_must_name_the_rights_holder_whose_details_count() -> None:
    agent = Party(name="Agency Ltd", email="desk@agency.cn")
    n = full_notice(sender=agent, sender_is_agent=True)
    assert [m.element for m in missing_elements(n, Jurisdiction.CN)][0] is Element.RIGHTS_HOLDER
    holder = Party(name="Ada Lee", phone="+86 10 0000", address="Beijing", identity_proof="id-card")
    assert is_complete(full_notice(sender=agent, sender_is_agent=True, principal=holder), Jurisdiction.CN)
    assert full_notice(sender=agent, sender_is_agent=True, principal=holder).rights_holder == holder


def test_must_assist_when_the_work_material_and_contact_are_there() -> None:
    """§512(c)(3)(B)(ii): such a notice obliges the provider to reach out rather than ignore it."""
    assert must_assist(full_notice(signature=None, authorised=False))
    assert not must_assist(full_notice(works=NO_MATERIAL, signature=None))
    assert not must_assist(full_notice())


def test_amend_completes_a_notice_and_revalidates() -> None:
    n = full_notice(signature=None)
    assert not is_complete(n, "US") and is_complete(n.amend(signature="/Ada/"), "US")
    with pytest.raises(InvalidInputError) as e:
        n.amend(received_at=datetime(2026, 5, 1))
    assert e.value.field == "received_at"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Material(MaterialKind.CONTENT_DIGEST, "xyz"), "material.value"),
        (lambda: Material(MaterialKind.URL, "ftp://example.org/x"), "material.value"),
        (lambda: Material(MaterialKind.TRACE, "tr 9"), "material.value"),
        (lambda: Material(MaterialKind.OUTPUT_TEXT, "   "), "material.value"),
        (lambda: Material("telepathy", "x"), "material.kind"),  # type: ignore[arg-type]
        (lambda: ClaimedWork(original_locations=("not a url",)), "work.original_locations"),
        (lambda: Party(email="not-an-address"), "email"),
        (lambda: Party(name=""), "name"),
        (lambda: full_notice(notice_id="bad id"), "notice_id"),
        (lambda: full_notice(received_at=datetime(2026, 5, 1)), "received_at"),
        (lambda: full_notice(principal=Party(name="P")), "principal"),
        (lambda: full_notice(language="English"), "language"),
        (lambda: full_notice(jurisdiction="XX"), "jurisdiction"),
        (lambda: full_notice(evidence=("",)), "evidence"),
        (lambda: full_notice(works=("w-1",)), "works"),
    ],
)
def test_malformed_parts_cannot_be_built(build: Any, field: str) -> None:
    with pytest.raises(InvalidInputError) as e:
        build()
    assert e.value.field == field


def test_materials_name_what_the_system_knows() -> None:
    m = Material(MaterialKind.MODEL, "acme/llm-7b:v2")
    assert m.training_phase and not Material(MaterialKind.PROMPT, "draw Moon Song").training_phase
    assert full_notice().materials[1].value == "sha256:" + DIGEST


def test_lumen_record_keeps_roles_and_locations_but_no_contact_details() -> None:
    agent = Party(name="Agency Ltd", email="desk@agency.cn", phone="123")
    n = full_notice(
        sender=agent, sender_is_agent=True, principal=Party(name="Ada Lee"), jurisdiction=Jurisdiction.US, sent_at=T0
    )
    rec = lumen_record(n, action_taken="Partial")
    assert rec["type"] == "Dmca" and rec["action_taken"] == "Partial" and rec["jurisdiction_list"] == ["US"]
    assert rec["entity_notice_roles"] == [
        {"name": "sender", "entity": "Agency Ltd"},
        {"name": "principal", "entity": "Ada Lee"},
        {"name": "recipient", "entity": "ExampleAI"},
    ]
    work = rec["works"][0]  # type: ignore[index]
    assert work["copyrighted_urls"] == [{"url": "https://example.org/moon"}]
    assert work["infringing_urls"] == [{"url": "trace:tr_9"}, {"url": "delivered_file:sha256:" + DIGEST}]
    assert "desk@agency.cn" not in repr(rec) and "123" not in repr(rec)
    with pytest.raises(InvalidInputError):
        lumen_record(n, action_taken="Maybe")


def full_counter(**changes: Any) -> CounterNotice:
    base: dict[str, Any] = {
        "counter_id": "c-1",
        "notice_id": "n-1",
        "received_at": T0,
        "user": Party(
            name="Bo", email="bo@example.org", address="2 Side St", phone="+1 555 0101", identity_proof="id-card"
        ),
        "user_ref": "u_42",
        "materials": (Material(MaterialKind.TRACE, "tr_9"),),
        "signature": "/Bo/",
        "mistake_statement": True,
        "consent_to_jurisdiction": True,
        "explanation": "The verse is my own; the match is a common phrase.",
        "evidence": ("draft dated 2019",),
    }
    base.update(changes)
    return CounterNotice(**base)


@pytest.mark.parametrize(
    ("j", "change", "element"),
    [
        (Jurisdiction.US, {"signature": None}, Element.SIGNATURE),
        (Jurisdiction.US, {"materials": ()}, Element.MATERIAL),
        (Jurisdiction.US, {"mistake_statement": False}, Element.MISTAKE),
        (Jurisdiction.US, {"consent_to_jurisdiction": False}, Element.CONSENT_TO_JURISDICTION),
        (Jurisdiction.US, {"user": Party(name="Bo", address="x")}, Element.CONTACT),
        (Jurisdiction.CN, {"evidence": ()}, Element.EVIDENCE),
        (Jurisdiction.CN, {"explanation": None}, Element.EXPLANATION),
        (Jurisdiction.CN, {"user": Party(name="Bo", email="bo@example.org", address="x")}, Element.IDENTITY),
    ],
)
def test_counter_notice_elements(j: Jurisdiction, change: dict[str, Any], element: Element) -> None:
    assert missing_counter_elements(full_counter(), j) == ()
    assert [m.element for m in missing_counter_elements(full_counter(**change), j)] == [element]


def test_eu_and_jp_counter_notices_need_no_form_and_bad_ones_cannot_be_built() -> None:
    bare = CounterNotice("c-2", "n-1", T0, Party())
    assert missing_counter_elements(bare, "EU") == () == missing_counter_elements(bare, "JP")
    with pytest.raises(InvalidInputError) as e:
        CounterNotice("c-2", "n 1", T0, Party())
    assert e.value.field == "notice_id"
    with pytest.raises(InvalidInputError) as e:
        CounterNotice("c-2", "n-1", T0, Party(), user_ref="u 42")
    assert e.value.field == "user_ref"
