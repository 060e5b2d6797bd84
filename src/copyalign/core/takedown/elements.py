"""A takedown notice, the material it names, and the elements each jurisdiction requires of it.

The notice is modelled on what the field already records: the six elements of 17 U.S.C. §512(c)(3)(A), the
four of DSA Art. 16(2), the three of the PRC Regulations on the Protection of the Right to Network
Dissemination of Information Art. 14 (with Civil Code Art. 1195's "preliminary evidence and true identity"),
the "infringing information, right and reason" of Japan's Provider Liability Limitation Act Art. 3(2)(ii), and
the Lumen database's notice record (type; sender, principal and recipient roles; works with their infringing
and original locations; dates sent and received; action taken; jurisdiction).

Construction checks *form* (an e-mail address looks like one, a digest is hex, times carry a zone) and raises
:class:`~copyalign.errors.InvalidInputError` naming the field. *Completeness* is a separate question, because
an incomplete notice is still a notice the desk must answer: :func:`missing_elements` lists exactly what a
jurisdiction requires and the notice lacks, each with its source, so the sender can be told and can complete
it; until then the provider's clocks do not start (§512(c)(3)(B)(i)).

The material is named by what this system knows: a generation trace id, the digest of a delivered file (its
label, C2PA manifest or watermark resolves it to a trace), a content digest, an output text, a prompt, a URL,
or a model (for training-phase complaints).

Example:
    >>> from datetime import datetime, UTC
    >>> n = Notice("n-1", datetime(2026, 5, 1, tzinfo=UTC), Party(name="Ada", email="ada@example.org"),
    ...            works=(ClaimedWork(description="Moon Song", materials=(Material(MaterialKind.TRACE, "tr_9"),)),))
    >>> [m.element.value for m in missing_elements(n, Jurisdiction.US)]
    ['signature', 'good_faith', 'accuracy', 'authority']
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from copyalign.core.takedown._validate import parse_enum, to_utc_fields, utc
from copyalign.core.takedown._validate import text as _t
from copyalign.errors import InvalidInputError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$")  # "org/name:revision", as model hubs write them
_DIGEST = re.compile(r"^(sha256:)?[0-9a-f]{64}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_TEXT_MAX = 100_000


class Jurisdiction(enum.StrEnum):
    CN = "CN"
    EU = "EU"
    JP = "JP"
    US = "US"


class MaterialKind(enum.StrEnum):
    TRACE = "trace"
    DELIVERED_FILE = "delivered_file"
    CONTENT_DIGEST = "content_digest"
    OUTPUT_TEXT = "output_text"
    PROMPT = "prompt"
    URL = "url"
    MODEL = "model"


def _url(value: str, field: str) -> None:
    _t(value, field, limit=2048, optional=False)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(f"{field} must be an http(s) URL, not {value!r}", field=field)


@dataclass(frozen=True)
class Material:
    """The allegedly infringing material, named the way this system can find it."""

    kind: MaterialKind
    value: str
    note: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", parse_enum(MaterialKind, self.kind, "material.kind"))
        if self.kind in (MaterialKind.DELIVERED_FILE, MaterialKind.CONTENT_DIGEST):
            if not isinstance(self.value, str) or not _DIGEST.match(self.value):
                raise InvalidInputError(
                    "a digest is 64 lowercase hex digits, optionally after 'sha256:'", field="material.value"
                )
        elif self.kind is MaterialKind.URL:
            _url(self.value, "material.value")
        elif self.kind in (MaterialKind.TRACE, MaterialKind.MODEL):
            pattern = _ID if self.kind is MaterialKind.TRACE else _MODEL_ID
            if not isinstance(self.value, str) or not pattern.match(self.value):
                raise InvalidInputError(
                    f"a {self.kind.value} id is 1-200 letters, digits and ._:- characters", field="material.value"
                )
        else:
            _t(self.value, "material.value", limit=_TEXT_MAX, optional=False)
        _t(self.note, "material.note", limit=2000)

    @property
    def training_phase(self) -> bool:
        """A complaint about a model concerns training, not one output (seed 004 ¶89: model-level protection)."""
        return self.kind is MaterialKind.MODEL


@dataclass(frozen=True)
class ClaimedWork:
    """A work the notice says is infringed (Lumen: a work with its copyrighted and infringing URLs)."""

    work_id: str | None = None
    description: str | None = None
    original_locations: tuple[str, ...] = ()
    materials: tuple[Material, ...] = ()

    def __post_init__(self) -> None:
        if self.work_id is not None and not _ID.match(str(self.work_id)):
            raise InvalidInputError("work_id is 1-200 letters, digits and ._:- characters", field="work.work_id")
        _t(self.description, "work.description", limit=5000)
        object.__setattr__(self, "original_locations", tuple(self.original_locations))
        object.__setattr__(self, "materials", tuple(self.materials))
        for loc in self.original_locations:
            _url(loc, "work.original_locations")
        if not all(isinstance(m, Material) for m in self.materials) or len(self.materials) > 1000:
            raise InvalidInputError("materials are at most 1000 Material objects", field="work.materials")

    @property
    def identified(self) -> bool:
        return self.work_id is not None or self.description is not None


@dataclass(frozen=True)
class Party:
    """A sender, principal or user; every field may be missing from an incomplete notice."""

    name: str | None = None
    email: str | None = None
    address: str | None = None
    phone: str | None = None
    identity_proof: str | None = None  # a reference to the identity document (Civil Code Art. 1195)

    def __post_init__(self) -> None:
        _t(self.name, "name", limit=300)
        _t(self.address, "address", limit=1000)
        _t(self.phone, "phone", limit=50)
        _t(self.identity_proof, "identity_proof", limit=500)
        if self.email is not None and (
            not isinstance(self.email, str) or not _EMAIL.match(self.email) or len(self.email) > 254
        ):
            raise InvalidInputError(f"not an e-mail address: {self.email!r}", field="email")

    @property
    def contact(self) -> bool:
        return any(v is not None for v in (self.email, self.phone, self.address))


@dataclass(frozen=True)
class Notice:
    """An infringement notice as received; see the module docstring for what each field answers to.

    ``sender_is_agent`` says the sender acts for ``principal``, the rights holder; ``authorisation`` refers to
    the document on record that says so. ``good_faith`` is the belief that the use is not authorised
    (§512(c)(3)(A)(v)); ``accurate`` the statement that the notice is accurate and complete (§512(c)(3)(A)(vi),
    DSA Art. 16(2)(d)); ``authorised`` the statement, under penalty of perjury, that the sender may act for the
    owner (§512(c)(3)(A)(vi)).
    """

    notice_id: str
    received_at: datetime
    sender: Party
    principal: Party | None = None
    sender_is_agent: bool = False
    authorisation: str | None = None
    recipient: str | None = None
    works: tuple[ClaimedWork, ...] = ()
    explanation: str | None = None
    signature: str | None = None
    good_faith: bool = False
    accurate: bool = False
    authorised: bool = False
    evidence: tuple[str, ...] = ()
    sent_at: datetime | None = None
    language: str | None = None
    jurisdiction: Jurisdiction | None = None
    trusted_flagger: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.notice_id, str) or not _ID.match(self.notice_id):
            raise InvalidInputError("notice_id is 1-200 letters, digits and ._:- characters", field="notice_id")
        object.__setattr__(self, "received_at", utc(self.received_at, "received_at"))
        to_utc_fields(self, "sent_at")
        for name in ("sender", "principal"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Party):
                raise InvalidInputError(f"{name} must be a Party", field=name)
        if self.principal is not None and not self.sender_is_agent:
            raise InvalidInputError("a principal is named only when the sender acts as its agent", field="principal")
        object.__setattr__(self, "works", tuple(self.works))
        object.__setattr__(self, "evidence", tuple(self.evidence))
        if not all(isinstance(w, ClaimedWork) for w in self.works) or len(self.works) > 1000:
            raise InvalidInputError("works are at most 1000 ClaimedWork objects", field="works")
        _t(self.explanation, "explanation", limit=10_000)
        _t(self.signature, "signature", limit=300)
        _t(self.authorisation, "authorisation", limit=500)
        _t(self.recipient, "recipient", limit=300)
        if len(self.evidence) > 100:
            raise InvalidInputError("at most 100 pieces of evidence", field="evidence")
        for item in self.evidence:
            _t(item, "evidence", limit=2048, optional=False)
        if self.language is not None and not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", str(self.language)):
            raise InvalidInputError("language is a BCP 47 tag such as 'en' or 'zh-Hans'", field="language")
        if self.jurisdiction is not None:
            object.__setattr__(self, "jurisdiction", parse_enum(Jurisdiction, self.jurisdiction, "jurisdiction"))

    @property
    def rights_holder(self) -> Party | None:
        return self.principal if self.sender_is_agent else self.sender

    @property
    def materials(self) -> tuple[Material, ...]:
        return tuple(m for w in self.works for m in w.materials)

    def amend(self, **changes: Any) -> Notice:
        """The notice with the sender's completions applied (validated like a new one)."""
        return replace(self, **changes)


class Element(enum.StrEnum):
    SIGNATURE = "signature"
    WORK = "work"
    MATERIAL = "material"
    CONTACT = "contact"
    NAME = "name"
    EMAIL = "email"
    ADDRESS = "address"
    GOOD_FAITH = "good_faith"
    ACCURACY = "accuracy"
    AUTHORITY = "authority"
    EXPLANATION = "explanation"
    EVIDENCE = "evidence"
    IDENTITY = "identity"
    RIGHTS_HOLDER = "rights_holder"
    MISTAKE = "mistake"
    CONSENT_TO_JURISDICTION = "consent_to_jurisdiction"


@dataclass(frozen=True)
class MissingElement:
    element: Element
    field: str
    source: str
    message: str


Check = tuple[Element, str, str, str, Callable[[Notice], bool]]

_DMCA = "17 U.S.C. §512(c)(3)(A)"
_DSA = "DSA Art. 16(2)"
_CN_REG = "Regulations on the Protection of the Right to Network Dissemination of Information Art. 14"
_JP = "Provider Liability Limitation Act Art. 3(2)(ii)"


def _holder(n: Notice) -> Party:
    return n.rights_holder or Party()


_CHECKS: dict[Jurisdiction, tuple[Check, ...]] = {
    Jurisdiction.US: (
        (
            Element.SIGNATURE,
            "signature",
            f"{_DMCA}(i)",
            "a physical or electronic signature of a person authorised to act for the owner",
            lambda n: n.signature is not None,
        ),
        (
            Element.WORK,
            "works",
            f"{_DMCA}(ii)",
            "the copyrighted work claimed to be infringed (or a representative list)",
            lambda n: any(w.identified for w in n.works),
        ),
        (
            Element.MATERIAL,
            "works.materials",
            f"{_DMCA}(iii)",
            "the infringing material and information reasonably "
            "sufficient to locate it (a trace id, file, digest, text, URL or model)",
            lambda n: bool(n.materials),
        ),
        (
            Element.CONTACT,
            "sender",
            f"{_DMCA}(iv)",
            "an address, telephone number or e-mail address to contact the complaining party",
            lambda n: n.sender.contact,
        ),
        (
            Element.GOOD_FAITH,
            "good_faith",
            f"{_DMCA}(v)",
            "a statement of good-faith belief that the use is not authorised by the owner, its agent or the law",
            lambda n: n.good_faith,
        ),
        (
            Element.ACCURACY,
            "accurate",
            f"{_DMCA}(vi)",
            "a statement that the information in the notification is accurate",
            lambda n: n.accurate,
        ),
        (
            Element.AUTHORITY,
            "authorised",
            f"{_DMCA}(vi)",
            "a statement, under penalty of perjury, that the complaining party is authorised to act for the owner",
            lambda n: n.authorised,
        ),
    ),
    Jurisdiction.EU: (
        (
            Element.EXPLANATION,
            "explanation",
            f"{_DSA}(a)",
            "a sufficiently substantiated explanation of why the content is alleged to be illegal",
            lambda n: n.explanation is not None,
        ),
        (
            Element.MATERIAL,
            "works.materials",
            f"{_DSA}(b)",
            "the exact electronic location of the content (a trace id, file, digest or URL)",
            lambda n: bool(n.materials),
        ),
        (
            Element.NAME,
            "sender.name",
            f"{_DSA}(c)",
            "the name of the individual or entity submitting the notice",
            lambda n: n.sender.name is not None,
        ),
        (
            Element.EMAIL,
            "sender.email",
            f"{_DSA}(c)",
            "the e-mail address of the individual or entity submitting the notice",
            lambda n: n.sender.email is not None,
        ),
        (
            Element.ACCURACY,
            "accurate",
            f"{_DSA}(d)",
            "a statement of bona fide belief that the information and allegations are accurate and complete",
            lambda n: n.accurate,
        ),
    ),
    Jurisdiction.CN: (
        (
            Element.RIGHTS_HOLDER,
            "principal",
            f"{_CN_REG}(1)",
            "the rights holder on whose behalf the agent acts",
            lambda n: not n.sender_is_agent or (n.principal is not None and n.principal.name is not None),
        ),
        (
            Element.NAME,
            "sender.name",
            f"{_CN_REG}(1)",
            "the rights holder's name",
            lambda n: _holder(n).name is not None,
        ),
        (
            Element.CONTACT,
            "sender.email",
            f"{_CN_REG}(1)",
            "the rights holder's contact details (e-mail or telephone)",
            lambda n: _holder(n).email is not None or _holder(n).phone is not None,
        ),
        (
            Element.ADDRESS,
            "sender.address",
            f"{_CN_REG}(1)",
            "the rights holder's address",
            lambda n: _holder(n).address is not None,
        ),
        (
            Element.WORK,
            "works",
            f"{_CN_REG}(2)",
            "the name of the work concerned",
            lambda n: any(w.identified for w in n.works),
        ),
        (
            Element.MATERIAL,
            "works.materials",
            f"{_CN_REG}(2)",
            "the network address of the infringing material (a trace id, file, digest, text, URL or model)",
            lambda n: bool(n.materials),
        ),
        (
            Element.EVIDENCE,
            "evidence",
            f"{_CN_REG}(3); Civil Code Art. 1195",
            "preliminary evidence of infringement",
            lambda n: bool(n.evidence),
        ),
        (
            Element.IDENTITY,
            "sender.identity_proof",
            "Civil Code Art. 1195",
            "the rights holder's true identity information",
            lambda n: _holder(n).identity_proof is not None,
        ),
    ),
    Jurisdiction.JP: (
        (
            Element.MATERIAL,
            "works.materials",
            f"{_JP} (侵害情報)",
            "the infringing information (a trace id, file, digest, text, URL or model)",
            lambda n: bool(n.materials),
        ),
        (
            Element.WORK,
            "works",
            f"{_JP} (侵害されたとする権利)",
            "the right said to be infringed: the work",
            lambda n: any(w.identified for w in n.works),
        ),
        (
            Element.EXPLANATION,
            "explanation",
            f"{_JP} (権利が侵害されたとする理由)",
            "the reasons the right is said to be infringed",
            lambda n: n.explanation is not None,
        ),
        (
            Element.NAME,
            "sender.name",
            "Copyright guidelines under the Act (送信防止措置申出書)",
            "the requester's name",
            lambda n: n.sender.name is not None,
        ),
        (
            Element.CONTACT,
            "sender.email",
            "Copyright guidelines under the Act (送信防止措置申出書)",
            "the requester's contact details",
            lambda n: n.sender.contact,
        ),
    ),
}


def missing_elements(notice: Notice, jurisdiction: Jurisdiction | str) -> tuple[MissingElement, ...]:
    """Exactly which elements ``jurisdiction`` requires and ``notice`` lacks, in the statute's order."""
    j = parse_enum(Jurisdiction, jurisdiction, "jurisdiction")
    return tuple(
        MissingElement(el, fld, src, f"missing: {msg} ({src})")
        for el, fld, src, msg, ok in _CHECKS[j]
        if not ok(notice)
    )


def is_complete(notice: Notice, jurisdiction: Jurisdiction | str) -> bool:
    return not missing_elements(notice, jurisdiction)


def must_assist(notice: Notice) -> bool:
    """§512(c)(3)(B)(ii): a US notice that names the work, the material and a contact, but lacks other elements,
    obliges the provider to contact the complainant promptly rather than ignore it."""
    missing = {m.element for m in missing_elements(notice, Jurisdiction.US)}
    return bool(missing) and not missing & {Element.WORK, Element.MATERIAL, Element.CONTACT}


def lumen_record(notice: Notice, *, action_taken: str | None = None) -> dict[str, object]:
    """The notice as a Lumen database record (``action_taken``: ``Yes``, ``No``, ``Partial`` or none yet).

    Contact details stay out: Lumen publishes entity names only.
    """
    if action_taken not in (None, "Yes", "No", "Partial"):
        raise InvalidInputError("action_taken is Yes, No or Partial", field="action_taken")
    roles: list[dict[str, str]] = [{"name": "sender", "entity": notice.sender.name or ""}]
    if notice.principal is not None:
        roles.append({"name": "principal", "entity": notice.principal.name or ""})
    if notice.recipient is not None:
        roles.append({"name": "recipient", "entity": notice.recipient})
    return {
        "type": "Dmca",
        "title": f"Copyright notice {notice.notice_id}",
        "date_sent": notice.sent_at.date().isoformat() if notice.sent_at else None,
        "date_received": notice.received_at.date().isoformat(),
        "jurisdiction_list": [notice.jurisdiction.value] if notice.jurisdiction else [],
        "language": notice.language,
        "action_taken": action_taken,
        "entity_notice_roles": roles,
        "works": [
            {
                "description": w.description or w.work_id or "",
                "copyrighted_urls": [{"url": u} for u in w.original_locations],
                "infringing_urls": [
                    {"url": f"{m.kind.value}:{m.value}" if m.kind is not MaterialKind.URL else m.value}
                    for m in w.materials
                    if m.kind not in (MaterialKind.OUTPUT_TEXT, MaterialKind.PROMPT)
                ],
            }
            for w in notice.works
        ],
    }
