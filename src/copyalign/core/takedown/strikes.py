"""Graduated response to users, and the standing of complainants whose notices are manifestly unfounded.

**Users** (seed 004 ¶85: "first-time infringers should receive a warning ... repeat infringers should face
escalating consequences, including access restrictions and account termination"). The anchor is YouTube's
copyright strikes: each upheld notice gives one strike; a strike expires after a period (90 days); the number
of active strikes selects a sanction from a ladder (by default warn, restrict, terminate: three active strikes
terminate, as on YouTube). Termination is not undone by later expiry; it is undone only when the strikes that
caused it are removed (a reversed decision or a restoration removes its strike). A suspension lasts
``suspend_days`` from the strike that caused it. 17 U.S.C. §512(i)(1)(A) makes a published repeat-infringer
policy a condition of the safe harbour: :func:`repeat_infringer_policy` writes it from the same numbers.

**Complainants** (DSA Art. 23(2)-(3)): a provider suspends, for a reasonable period and after a prior warning,
the processing of notices from those who frequently submit manifestly unfounded ones, judged on the absolute
number in a time frame and their share of all notices submitted. Here: at least ``threshold`` unfounded
decisions within ``window_days`` that are also at least ``min_share`` of the decided notices; the first time,
a warning is due; an unfounded notice after a warning starts a period of ``period_days`` during which the
complainant's notices are deprioritised or refused.

Example:
    >>> from datetime import datetime, timedelta, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s = [Strike("u1", f"n{i}", t0 + timedelta(days=10 * i)) for i in range(2)]
    >>> standing("u1", s, t0 + timedelta(days=15), StrikePolicy()).sanction.value
    'restrict'
    >>> standing("u1", s, t0 + timedelta(days=95), StrikePolicy()).sanction.value   # the first has expired
    'warn'
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from copyalign.core.takedown._validate import fraction, parse_enum, text, to_utc_fields, utc
from copyalign.errors import InvalidInputError


class Sanction(enum.StrEnum):
    NONE = "none"
    WARN = "warn"
    RESTRICT = "restrict"
    SUSPEND = "suspend"
    TERMINATE = "terminate"

    @property
    def severity(self) -> int:
        return list(Sanction).index(self)


def _days(value: int, field: str, *, lo: int = 1, hi: int = 3650) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInputError(f"{field} is a whole number of days from {lo} to {hi}", field=field)


@dataclass(frozen=True)
class StrikePolicy:
    expiry_days: int = 90
    ladder: tuple[Sanction, ...] = (Sanction.WARN, Sanction.RESTRICT, Sanction.TERMINATE)
    suspend_days: int = 7

    def __post_init__(self) -> None:
        _days(self.expiry_days, "expiry_days")
        _days(self.suspend_days, "suspend_days")
        ladder = tuple(parse_enum(Sanction, s, "ladder") for s in self.ladder)
        object.__setattr__(self, "ladder", ladder)
        if not ladder or Sanction.NONE in ladder:
            raise InvalidInputError("the ladder lists at least one sanction, and none is 'none'", field="ladder")
        if any(a.severity > b.severity for a, b in zip(ladder, ladder[1:], strict=False)):
            raise InvalidInputError(
                "the ladder never goes down: each step is at least as severe as the last", field="ladder"
            )

    def sanction_for(self, active: int) -> Sanction:
        return Sanction.NONE if active <= 0 else self.ladder[min(active, len(self.ladder)) - 1]


@dataclass(frozen=True)
class Strike:
    """One strike against a user pseudonym (or a provider account) for one upheld notice."""

    subject: str
    notice_id: str
    issued_at: datetime
    removed_at: datetime | None = None

    def __post_init__(self) -> None:
        text(self.subject, "subject", limit=200, optional=False)
        text(self.notice_id, "notice_id", limit=200, optional=False)
        to_utc_fields(self, "issued_at", "removed_at")
        if self.removed_at is not None and self.removed_at < self.issued_at:
            raise InvalidInputError("a strike cannot be removed before it was issued", field="removed_at")

    def expires_at(self, policy: StrikePolicy) -> datetime:
        return self.issued_at + timedelta(days=policy.expiry_days)

    def active(self, at: datetime, policy: StrikePolicy) -> bool:
        at = utc(at, "at")
        removed = self.removed_at is not None and self.removed_at <= at
        return self.issued_at <= at < self.expires_at(policy) and not removed


@dataclass(frozen=True)
class Standing:
    subject: str
    sanction: Sanction
    active: int
    until: datetime | None  # when the sanction next lightens; None for none and for termination
    terminated_at: datetime | None = None


def active_strikes(strikes: Iterable[Strike], at: datetime, policy: StrikePolicy) -> tuple[Strike, ...]:
    return tuple(s for s in strikes if s.active(at, policy))


def standing(subject: str, strikes: Iterable[Strike], now: datetime, policy: StrikePolicy) -> Standing:
    """The sanction ``subject`` is under at ``now``, from its strike history."""
    now = utc(now, "now")
    mine = sorted((s for s in strikes if s.subject == subject), key=lambda s: s.issued_at)
    # Judge history as it stands now: a strike removed by now never counted, so neither does what it caused.
    kept = [s for s in mine if s.issued_at <= now and (s.removed_at is None or s.removed_at > now)]
    for s in kept:
        at_issue = sum(1 for o in kept if o.issued_at <= s.issued_at < o.expires_at(policy))
        if policy.sanction_for(at_issue) is Sanction.TERMINATE:
            return Standing(subject, Sanction.TERMINATE, len(active_strikes(kept, now, policy)), None, s.issued_at)
    active = active_strikes(kept, now, policy)
    sanction = policy.sanction_for(len(active))
    until = min((s.expires_at(policy) for s in active), default=None)
    if sanction is Sanction.SUSPEND:
        ends = active[-1].issued_at + timedelta(days=policy.suspend_days)
        if now >= ends:
            milder = [x for x in policy.ladder if x.severity < Sanction.SUSPEND.severity]
            sanction = milder[-1] if milder else Sanction.NONE
        else:
            until = min(ends, until) if until else ends
    return Standing(subject, sanction, len(active), until)


def repeat_infringer_policy(policy: StrikePolicy, *, provider: str) -> str:
    """The repeat-infringer policy text that §512(i)(1)(A) requires a provider to adopt and publish."""
    text(provider, "provider", limit=300, optional=False)
    steps = []
    for n, sanction in enumerate(policy.ladder, start=1):
        if n > 1 and sanction is policy.ladder[n - 2]:
            continue
        what = {
            Sanction.WARN: "a warning",
            Sanction.RESTRICT: "restricted use of the service (generation of the works concerned is blocked)",
            Sanction.SUSPEND: f"suspension of the account for {policy.suspend_days} days",
            Sanction.TERMINATE: "termination of the account",
        }[sanction]
        steps.append(f"{n} active strike{'s' if n > 1 else ''}: {what}")
    return (
        f"{provider} terminates, in appropriate circumstances, the accounts of users who repeatedly infringe "
        f"copyright (17 U.S.C. §512(i)(1)(A)). Each infringement notice that {provider} upholds against a user gives "
        f"that user one strike; a strike expires {policy.expiry_days} days after it is given, and a strike whose "
        "notice is withdrawn, reversed on complaint or answered by a counter-notice that leads to restoration is "
        "removed. The number of active strikes decides the response: " + "; ".join(steps) + ". A terminated "
        "account stays terminated after its strikes expire. Users are told of every strike, with the statement of "
        "reasons and how to file a counter-notice or a complaint."
    )


# -- complainants (DSA Art. 23) ---------------------------------------------------------------------------------


class ComplainantStatus(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    DEPRIORITISE = "deprioritise"
    REFUSE = "refuse"


@dataclass(frozen=True)
class UnfoundedPolicy:
    threshold: int = 3
    window_days: int = 180
    min_share: float = 0.5
    action: ComplainantStatus = ComplainantStatus.DEPRIORITISE
    period_days: int = 30

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int) or not 1 <= self.threshold <= 10_000:
            raise InvalidInputError("threshold is a whole number from 1 to 10000", field="threshold")
        _days(self.window_days, "window_days")
        _days(self.period_days, "period_days")
        fraction(self.min_share, "min_share", optional=False)
        action = parse_enum(ComplainantStatus, self.action, "action")
        if action not in (ComplainantStatus.DEPRIORITISE, ComplainantStatus.REFUSE):
            raise InvalidInputError("the action is deprioritise or refuse", field="action")
        object.__setattr__(self, "action", action)


@dataclass(frozen=True)
class Decided:
    """One decided notice of a complainant: when, and whether it was manifestly unfounded."""

    decided_at: datetime
    unfounded: bool

    def __post_init__(self) -> None:
        to_utc_fields(self, "decided_at")


@dataclass(frozen=True)
class ComplainantStanding:
    status: ComplainantStatus
    unfounded: int
    total: int
    warning_due: bool
    until: datetime | None
    statement: str


def complainant_standing(
    decisions: Sequence[Decided], warnings: Sequence[datetime], now: datetime, policy: UnfoundedPolicy
) -> ComplainantStanding:
    """Whether a complainant's notices are processed normally, warned about, deprioritised or refused at ``now``."""
    now = utc(now, "now")
    warnings = [utc(w, "warnings") for w in warnings]
    window = timedelta(days=policy.window_days)

    def frequent(at: datetime) -> tuple[bool, int, int]:
        recent = [d for d in decisions if at - window < d.decided_at <= at]
        bad = sum(d.unfounded for d in recent)
        return bad >= policy.threshold and bad >= policy.min_share * len(recent), bad, len(recent)

    for d in sorted(decisions, key=lambda d: d.decided_at, reverse=True):
        ends = d.decided_at + timedelta(days=policy.period_days)
        warned = any(d.decided_at - window < w < d.decided_at for w in warnings)
        if d.unfounded and d.decided_at <= now < ends and warned and frequent(d.decided_at)[0]:
            _, bad, total = frequent(now)
            verb = "processed after others" if policy.action is ComplainantStatus.DEPRIORITISE else "not processed"
            return ComplainantStanding(
                policy.action,
                bad,
                total,
                False,
                ends,
                (
                    f"After a prior warning, you again submitted a notice that was manifestly unfounded ({bad} of your "
                    f"{total} notices decided in the last {policy.window_days} days). Until {ends.date().isoformat()} "
                    f"your notices will be {verb} (DSA Art. 23(2)-(3)). You may complain about this decision."
                ),
            )
    is_frequent, bad, total = frequent(now)
    if not is_frequent:
        return ComplainantStanding(ComplainantStatus.OK, bad, total, False, None, "")
    due = not any(now - window < w <= now for w in warnings)
    return ComplainantStanding(
        ComplainantStatus.WARN,
        bad,
        total,
        due,
        None,
        (
            f"{bad} of your {total} notices decided in the last {policy.window_days} days were manifestly unfounded. "
            f"If you submit another, your notices will be {policy.action.value}d for {policy.period_days} days "
            "(DSA Art. 23(2))."
        ),
    )
