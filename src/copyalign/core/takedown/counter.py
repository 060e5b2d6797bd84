"""The user's counter-notice, and the elements each jurisdiction requires of it.

Seed 004 ¶88 asks for "a complete counter-notice and review procedure" so that a user can argue that the
content does not infringe. The required elements differ:

* **US** — 17 U.S.C. §512(g)(3): (A) a signature; (B) the material removed and where it was; (C) a statement
  under penalty of perjury of good-faith belief that it was removed by mistake or misidentification; (D) name,
  address and telephone number, and consent to the jurisdiction of the federal district court (and to accept
  service from the complainant).
* **CN** — Regulations on the Protection of the Right to Network Dissemination of Information Art. 16: (1)
  name, contact details and address; (2) the name and network address of the material to restore; (3)
  preliminary evidence of non-infringement. Civil Code Art. 1196 adds a statement that there is no
  infringement and the user's true identity.
* **EU** — an internal complaint (DSA Art. 20) has no prescribed elements beyond identifying the decision;
  the platform's electronic system must accept it as filed.
* **JP** — the poster's objection to a removal inquiry (Provider Liability Limitation Act Art. 3(2)(ii)) has
  no prescribed form.

Example:
    >>> from datetime import datetime, UTC
    >>> c = CounterNotice("c-1", "n-1", datetime(2026, 5, 3, tzinfo=UTC), Party(name="Bo", phone="+1 555 0100"))
    >>> [m.element.value for m in missing_counter_elements(c, Jurisdiction.US)]
    ['signature', 'material', 'mistake', 'address', 'consent_to_jurisdiction']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from copyalign.core.takedown._validate import parse_enum, text, utc
from copyalign.core.takedown.elements import Element, Jurisdiction, Material, MissingElement, Party
from copyalign.errors import InvalidInputError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")


@dataclass(frozen=True)
class CounterNotice:
    """A counter-notice (US), statement of non-infringement (CN) or complaint against a decision (EU).

    ``user_ref`` is the pseudonym of the user whose session produced the material: the service checks that the
    filer is that user, through the provider, before anything else.
    """

    counter_id: str
    notice_id: str
    received_at: datetime
    user: Party
    user_ref: str | None = None
    materials: tuple[Material, ...] = ()
    signature: str | None = None
    mistake_statement: bool = False
    consent_to_jurisdiction: bool = False
    explanation: str | None = None
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("counter_id", "notice_id"):
            if not isinstance(getattr(self, name), str) or not _ID.match(getattr(self, name)):
                raise InvalidInputError(f"{name} is 1-200 letters, digits and ._:- characters", field=name)
        object.__setattr__(self, "received_at", utc(self.received_at, "received_at"))
        if not isinstance(self.user, Party):
            raise InvalidInputError("user must be a Party", field="user")
        if self.user_ref is not None and not _ID.match(str(self.user_ref)):
            raise InvalidInputError("user_ref is a pseudonym of letters, digits and ._:-", field="user_ref")
        object.__setattr__(self, "materials", tuple(self.materials))
        object.__setattr__(self, "evidence", tuple(self.evidence))
        if not all(isinstance(m, Material) for m in self.materials) or len(self.materials) > 1000:
            raise InvalidInputError("materials are at most 1000 Material objects", field="materials")
        text(self.signature, "signature", limit=300)
        text(self.explanation, "explanation", limit=10_000)
        if len(self.evidence) > 100:
            raise InvalidInputError("at most 100 pieces of evidence", field="evidence")
        for item in self.evidence:
            text(item, "evidence", limit=2048, optional=False)


_G3 = "17 U.S.C. §512(g)(3)"
_CN16 = "Regulations on the Protection of the Right to Network Dissemination of Information Art. 16"
_CounterCheck = tuple[Element, str, str, str, Callable[[CounterNotice], bool]]

_CHECKS: dict[Jurisdiction, tuple[_CounterCheck, ...]] = {
    Jurisdiction.US: (
        (
            Element.SIGNATURE,
            "signature",
            f"{_G3}(A)",
            "a physical or electronic signature of the subscriber",
            lambda c: c.signature is not None,
        ),
        (
            Element.MATERIAL,
            "materials",
            f"{_G3}(B)",
            "the material removed and where it appeared before removal",
            lambda c: bool(c.materials),
        ),
        (
            Element.MISTAKE,
            "mistake_statement",
            f"{_G3}(C)",
            "a statement under penalty of perjury of good-faith "
            "belief that the material was removed by mistake or misidentification",
            lambda c: c.mistake_statement,
        ),
        (Element.NAME, "user.name", f"{_G3}(D)", "the subscriber's name", lambda c: c.user.name is not None),
        (
            Element.ADDRESS,
            "user.address",
            f"{_G3}(D)",
            "the subscriber's address",
            lambda c: c.user.address is not None,
        ),
        (
            Element.CONTACT,
            "user.phone",
            f"{_G3}(D)",
            "the subscriber's telephone number",
            lambda c: c.user.phone is not None,
        ),
        (
            Element.CONSENT_TO_JURISDICTION,
            "consent_to_jurisdiction",
            f"{_G3}(D)",
            "consent to the jurisdiction of "
            "the Federal District Court and to accept service of process from the complainant",
            lambda c: c.consent_to_jurisdiction,
        ),
    ),
    Jurisdiction.CN: (
        (Element.NAME, "user.name", f"{_CN16}(1)", "the user's name", lambda c: c.user.name is not None),
        (
            Element.CONTACT,
            "user.email",
            f"{_CN16}(1)",
            "the user's contact details (e-mail or telephone)",
            lambda c: c.user.email is not None or c.user.phone is not None,
        ),
        (Element.ADDRESS, "user.address", f"{_CN16}(1)", "the user's address", lambda c: c.user.address is not None),
        (
            Element.MATERIAL,
            "materials",
            f"{_CN16}(2)",
            "the name and network address of the material to restore",
            lambda c: bool(c.materials),
        ),
        (
            Element.EVIDENCE,
            "evidence",
            f"{_CN16}(3); Civil Code Art. 1196",
            "preliminary evidence of non-infringement",
            lambda c: bool(c.evidence),
        ),
        (
            Element.EXPLANATION,
            "explanation",
            "Civil Code Art. 1196",
            "a statement that there is no infringement",
            lambda c: c.explanation is not None,
        ),
        (
            Element.IDENTITY,
            "user.identity_proof",
            "Civil Code Art. 1196",
            "the user's true identity information",
            lambda c: c.user.identity_proof is not None,
        ),
    ),
    Jurisdiction.EU: (),
    Jurisdiction.JP: (),
}


def missing_counter_elements(counter: CounterNotice, jurisdiction: Jurisdiction | str) -> tuple[MissingElement, ...]:
    """Exactly which elements ``jurisdiction`` requires of a counter-notice and ``counter`` lacks."""
    j = parse_enum(Jurisdiction, jurisdiction, "jurisdiction")
    return tuple(
        MissingElement(el, fld, src, f"missing: {msg} ({src})")
        for el, fld, src, msg, ok in _CHECKS[j]
        if not ok(counter)
    )
