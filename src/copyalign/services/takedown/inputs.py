"""What callers hand the takedown desk: a notice being filed or completed, a decision, a counter-notice, a
complaint. Parsed at the boundary (the API's pydantic models, the CLI's options) into these frozen records;
the pure core then checks their form (:mod:`copyalign.core.takedown.elements`) and completeness.

Contact details arrive here and stay in the desk: they are stored in the rows' ``contact`` columns and sent
only through the outbox, never into a log entry, a statement of reasons or a public view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from copyalign.core.takedown.elements import Party


@dataclass(frozen=True, slots=True)
class MaterialInput:
    """The allegedly infringing material, as the sender names it.

    ``kind`` is a :class:`~copyalign.core.takedown.elements.MaterialKind` value. ``content`` carries the bytes
    of a delivered file (its marks lead to the trace); ``value`` carries everything else (a trace id, a digest,
    an output text, a prompt, a URL, a model id). For a delivered file ``value`` is left out: the desk writes
    the file's digest there.
    """

    kind: str
    value: str | None = None
    content: bytes | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class WorkClaim:
    """A work said to be infringed: a registered work by id, or one described (Lumen: a work with its original
    and infringing locations)."""

    work_id: str | None = None
    description: str | None = None
    original_locations: tuple[str, ...] = ()
    materials: tuple[MaterialInput, ...] = ()


@dataclass(frozen=True, slots=True)
class NoticeFiling:
    """A notice as filed. ``sender`` holds the sender's contact details (an account's are filled in from the
    registry when left out); ``principal_id`` names the rights holder an agent (or the operator) acts for;
    ``provider_id`` the provider the notice is addressed to, when no trace names it."""

    works: tuple[WorkClaim, ...] = ()
    sender: Party = field(default_factory=Party)
    principal: Party | None = None
    principal_id: str | None = None
    provider_id: str | None = None
    explanation: str | None = None
    signature: str | None = None
    good_faith: bool = False
    accurate: bool = False
    authorised: bool = False
    evidence: tuple[str, ...] = ()
    language: str | None = None
    sent_at: datetime | None = None
    jurisdiction: str | None = None
    trusted_flagger: bool = False


@dataclass(frozen=True, slots=True)
class NoticeAmendment:
    """The sender's completion of a notice: each field given replaces the notice's; ``works`` are added."""

    works: tuple[WorkClaim, ...] = ()
    sender: Party | None = None
    principal: Party | None = None
    explanation: str | None = None
    signature: str | None = None
    good_faith: bool | None = None
    accurate: bool | None = None
    authorised: bool | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DecisionInput:
    """A person's decision on a triaged notice, with what a statement of reasons needs (DSA Art. 17(3)).

    ``outcome``: upheld, partially_upheld, rejected or manifestly_unfounded. ``ground``: ``law`` (illegal
    content) or ``terms`` (incompatible with the terms of service). ``items``: the items upheld, for a partial
    decision (None: all). ``measures``: the measure kinds to take (None: what triage recommended for the
    upheld items). ``automated_decision``: fully, partially or not. ``puid``: the platform's own unique id for
    the statement (None: derived from the decision, never reused).
    """

    outcome: str
    explanation: str
    ground: str = "law"
    legal_ground: str | None = None
    automated_detection: bool = False
    automated_decision: str = "not"
    items: tuple[str, ...] | None = None
    measures: tuple[str, ...] | None = None
    puid: str | None = None


@dataclass(frozen=True, slots=True)
class CounterInput:
    """A counter-notice filed by the provider for its own user (``user``: the provider's user id, which the desk
    turns into the session's pseudonym and checks against the trace)."""

    user: str
    contact: Party = field(default_factory=Party)
    signature: str | None = None
    mistake_statement: bool = False
    consent_to_jurisdiction: bool = False
    explanation: str | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ComplaintInput:
    """An internal complaint against a decision (DSA Art. 20). ``by`` is ``user`` (filed by its provider, with
    ``user`` the provider's user id) or ``notifier``. ``subject``: ``decision``, or ``fee`` / ``de_minimis`` for
    the simplified channel (seed 003 §4.4 ③)."""

    by: str
    reason: str
    user: str | None = None
    subject: str = "decision"


__all__ = [
    "ComplaintInput",
    "CounterInput",
    "DecisionInput",
    "MaterialInput",
    "NoticeAmendment",
    "NoticeFiling",
    "WorkClaim",
]
