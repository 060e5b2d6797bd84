"""The training notice's rules (seed 001 §3.2, 002 §3.2): its states, its window, and how each listed work is
decided at the close. Pure: the service reads the rows, asks these functions, and writes what they say.

A notice is a ``draft`` until published, ``open`` for objections during its window (at least the profile's
``minimum_window_days``, 30 in every preset: "a window of at least 30 days"), and ``finalised`` once the
window has closed: each listed work is then ``excluded`` (its holder objected, or its preference denies the
purpose — before publication, ``denied``; during the window, ``opted_out``) or ``licensed``. Nothing goes
back: a finalised notice changes only by new exclusion-list versions (a later opt-out, dynamic filtering).

Example:
    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 3, 1, tzinfo=UTC)
    >>> publish(NoticeStatus.DRAFT, "ntc_1")
    <NoticeStatus.OPEN: 'open'>
    >>> decide(ListingStatus.LISTED, objected=False, denied=True)
    (<ListingStatus.EXCLUDED: 'excluded'>, <ExclusionReason.OPTED_OUT: 'opted_out'>)
    >>> is_due(NoticeStatus.OPEN, closes_at(t, 30), t)
    False
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from copyalign.core.canonical import format_time
from copyalign.core.licensing.tariffs import EXEMPT_USES, Use
from copyalign.core.registry.preferences import Purpose, parse_jurisdiction
from copyalign.errors import ConflictError, InvalidInputError


class NoticeStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    FINALISED = "finalised"


class ListingStatus(enum.StrEnum):
    """Where a listed work stands in a notice."""

    LISTED = "listed"
    EXCLUDED = "excluded"
    LICENSED = "licensed"


class ObjectionState(enum.StrEnum):
    """An objection stands until its holder withdraws it, which is possible only while the window is open; a
    withdrawn objection stays in the history."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


def objection_state(withdrawn_at: datetime | None) -> ObjectionState:
    return ObjectionState.ACTIVE if withdrawn_at is None else ObjectionState.WITHDRAWN


class ExclusionReason(enum.StrEnum):
    DENIED = "denied"  # the preference denied the purpose when the notice was published
    OBJECTED = "objected"  # the holder objected during the window
    OPTED_OUT = "opted_out"  # the preference came to deny the purpose during the window or after the close


NOTICE_PURPOSES = (Purpose.TRAIN_AI, Purpose.TRAIN_GENAI, Purpose.AI_INPUT)
MAX_WINDOW_DAYS = 3650
"""Ten years: a window longer than that is a mistake, not a procedure."""
MAX_NOTICE_WORKS = 1_000_000
MAX_TITLE_CHARS = 300
MAX_REASON_CHARS = 2000
PUBLIC_STATUSES = (NoticeStatus.OPEN, NoticeStatus.FINALISED)
"""What the public board shows: a draft is the developer's own."""


@dataclass(frozen=True, slots=True)
class NoticeInput:
    """A notice as a developer drafts it, valid by construction (strings are parsed into the vocabulary).

    The window is checked against the profile's minimum by :func:`window_days`, since that depends on the
    profile in force.
    """

    title: str
    purpose: Purpose
    use: Use
    tariff: str
    works: tuple[str, ...]
    window_days: int | None = None  # None: the profile's notice_window_days
    jurisdiction: str | None = None  # None: the profile's
    conditions: tuple[str, ...] = ()  # a research or analysis use: the exception's conditions declared

    def __init__(
        self,
        title: str,
        purpose: str | Purpose,
        use: str | Use,
        tariff: str,
        works: Sequence[str],
        window_days: int | None = None,
        jurisdiction: str | None = None,
        conditions: Sequence[str] = (),
    ) -> None:
        clean = title.strip() if isinstance(title, str) else ""
        if not clean or len(clean) > MAX_TITLE_CHARS:
            raise InvalidInputError(f"title must be 1 to {MAX_TITLE_CHARS} characters", field="title")
        try:
            p = Purpose(purpose)
        except ValueError:
            raise InvalidInputError(
                f"purpose must be one of {', '.join(p.value for p in NOTICE_PURPOSES)}, not {purpose!r}",
                field="purpose",
            ) from None
        if p not in NOTICE_PURPOSES:
            raise InvalidInputError(f"a training notice cannot be for {p.value}", field="purpose")
        try:
            u = Use(use)
        except ValueError:
            known = ", ".join(x.value for x in Use)
            raise InvalidInputError(f"use must be one of {known}, not {use!r}", field="use") from None
        if isinstance(conditions, str) or not all(isinstance(c, str) for c in conditions):
            raise InvalidInputError("conditions must be a list of condition names", field="conditions")
        if conditions and u not in EXEMPT_USES:
            raise InvalidInputError("conditions are declared only for a research or analysis use", field="conditions")
        if isinstance(works, str):
            raise InvalidInputError("works must be a list of work ids", field="works")
        ids = tuple(sorted(set(works)))
        if not ids:
            raise InvalidInputError("a notice must list at least one work", field="works")
        if len(ids) > MAX_NOTICE_WORKS:
            raise InvalidInputError(f"a notice lists at most {MAX_NOTICE_WORKS} works", field="works")
        if window_days is not None and (isinstance(window_days, bool) or not isinstance(window_days, int)):
            raise InvalidInputError(
                f"window_days must be a whole number of days, not {window_days!r}", field="window_days"
            )
        juris = None if jurisdiction is None else parse_jurisdiction(jurisdiction)
        for name, value in (
            ("title", clean),
            ("purpose", p),
            ("use", u),
            ("tariff", tariff),
            ("works", ids),
            ("window_days", window_days),
            ("jurisdiction", juris),
            ("conditions", tuple(dict.fromkeys(conditions))),
        ):
            object.__setattr__(self, name, value)


def window_days(requested: int | None, *, default: int, minimum: int) -> int:
    """The window a notice gets: ``requested`` or the profile's ``default``, never below ``minimum``."""
    window = default if requested is None else requested
    if window < minimum:
        raise InvalidInputError(
            f"the objection window must be at least {minimum} days, not {window}", field="window_days"
        )
    if window > MAX_WINDOW_DAYS:
        raise InvalidInputError(f"the objection window cannot exceed {MAX_WINDOW_DAYS} days", field="window_days")
    return window


def closes_at(published_at: datetime, days: int) -> datetime:
    """The end of the window: ``days`` of 24 hours after publication (an instant, not a calendar date)."""
    return published_at + timedelta(days=days)


def publish(status: NoticeStatus, notice_id: str) -> NoticeStatus:
    """A draft opens; anything else was published already."""
    if status is not NoticeStatus.DRAFT:
        raise ConflictError(f"notice {notice_id} is already {status.value}", field="status")
    return NoticeStatus.OPEN


def require_window_open(status: NoticeStatus, closes: datetime | None, now: datetime, notice_id: str) -> None:
    """Objections and withdrawals are taken only while the window is open."""
    if status is NoticeStatus.DRAFT or closes is None:
        raise ConflictError(f"notice {notice_id} has not been published", field="status")
    if status is not NoticeStatus.OPEN or now >= closes:
        raise ConflictError(
            f"the objection window of notice {notice_id} closed at {format_time(closes)}", field="closes_at"
        )


def can_finalise(status: NoticeStatus, closes: datetime | None, now: datetime, notice_id: str) -> bool:
    """Whether the close should run now: False when it already ran (finalising is idempotent); raises while the
    notice is a draft or its window is still open."""
    if status is NoticeStatus.FINALISED:
        return False
    if status is not NoticeStatus.OPEN or closes is None:
        raise ConflictError(f"notice {notice_id} has not been published", field="status")
    if now < closes:
        raise ConflictError(
            f"the objection window of notice {notice_id} is open until {format_time(closes)}", field="closes_at"
        )
    return True


def is_due(status: NoticeStatus, closes: datetime | None, now: datetime) -> bool:
    """An open notice whose window has closed: the scheduled close finalises it."""
    return status is NoticeStatus.OPEN and closes is not None and closes <= now


def decide(listing: ListingStatus, *, objected: bool, denied: bool) -> tuple[ListingStatus, ExclusionReason | None]:
    """A listed work at the close: an objection excludes it first, then a preference that now denies the
    purpose; otherwise it is licensed. A work already decided keeps its decision."""
    if listing is not ListingStatus.LISTED:
        return listing, None
    if objected:
        return ListingStatus.EXCLUDED, ExclusionReason.OBJECTED
    if denied:
        return ListingStatus.EXCLUDED, ExclusionReason.OPTED_OUT
    return ListingStatus.LICENSED, None


def parse_board_status(raw: str) -> NoticeStatus:
    """The public board lists open or finalised notices, never drafts."""
    try:
        status = NoticeStatus(raw)
    except ValueError:
        status = NoticeStatus.DRAFT
    if status not in PUBLIC_STATUSES:
        raise InvalidInputError("status must be open or finalised", field="status")
    return status


__all__ = [
    "MAX_NOTICE_WORKS",
    "MAX_REASON_CHARS",
    "MAX_TITLE_CHARS",
    "MAX_WINDOW_DAYS",
    "NOTICE_PURPOSES",
    "ExclusionReason",
    "ListingStatus",
    "NoticeInput",
    "NoticeStatus",
    "ObjectionState",
    "can_finalise",
    "closes_at",
    "decide",
    "is_due",
    "objection_state",
    "parse_board_status",
    "publish",
    "require_window_open",
    "window_days",
]
