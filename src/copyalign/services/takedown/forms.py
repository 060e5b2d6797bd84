"""The stored notice and the pure core's forms of it.

A notice is stored as rows (the notice, one item per claimed work and piece of material) and two JSON columns
(``elements``: what the notice says; ``contact``: who sent it). :func:`core_notice` rebuilds the core's
:class:`~copyalign.core.takedown.elements.Notice` from them, so that completeness is always judged by
:func:`~copyalign.core.takedown.elements.missing_elements` on the notice as it now stands.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from copyalign.core.takedown.elements import (
    ClaimedWork,
    Jurisdiction,
    Material,
    MaterialKind,
    MissingElement,
    Notice,
    Party,
)
from copyalign.store.models import TakedownItem, TakedownNotice


def missing_dicts(missing: tuple[MissingElement, ...]) -> list[dict[str, str]]:
    return [{"element": m.element.value, "field": m.field, "source": m.source, "message": m.message} for m in missing]


def core_notice(n: TakedownNotice, items: list[TakedownItem]) -> Notice:
    """The stored notice as the pure core's :class:`~copyalign.core.takedown.elements.Notice`."""
    by_id = {i.id: i for i in items}
    e, c = n.elements, n.contact
    works = tuple(
        ClaimedWork(
            w.get("work_id"),
            w.get("description"),
            tuple(w.get("original_locations", ())),
            tuple(
                Material(MaterialKind(by_id[m["item"]].material_kind), by_id[m["item"]].material_value, m.get("note"))
                for m in w.get("materials", ())
            ),
        )
        for w in e.get("works", ())
    )
    return Notice(
        n.id,
        n.received_at,
        Party(**c["sender"]),
        Party(**c["principal"]) if c.get("principal") else None,
        sender_is_agent=bool(e.get("sender_is_agent")),
        authorisation=e.get("authorisation"),
        recipient=e.get("recipient"),
        works=works,
        explanation=e.get("explanation"),
        signature=e.get("signature"),
        good_faith=bool(e.get("good_faith")),
        accurate=bool(e.get("accurate")),
        authorised=bool(e.get("authorised")),
        evidence=tuple(e.get("evidence", ())),
        sent_at=datetime.fromisoformat(e["sent_at"]) if e.get("sent_at") else None,
        language=e.get("language"),
        jurisdiction=Jurisdiction(n.jurisdiction),
        trusted_flagger=n.trusted_flagger,
    )


def elements_of(notice: Notice, old: dict[str, Any] | None, items: list[TakedownItem]) -> dict[str, Any]:
    return {
        **(old or {}),
        "explanation": notice.explanation,
        "signature": notice.signature,
        "good_faith": notice.good_faith,
        "accurate": notice.accurate,
        "authorised": notice.authorised,
        "evidence": list(notice.evidence),
        "language": notice.language,
        "sent_at": notice.sent_at.isoformat() if notice.sent_at else None,
        "sender_is_agent": notice.sender_is_agent,
        "authorisation": notice.authorisation,
        "recipient": notice.recipient,
        "items": len(items),
    }


__all__ = ["core_notice", "elements_of", "missing_dicts"]
