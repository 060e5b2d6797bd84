"""Dynamic warnings: how a user's flagged prompts escalate (seed 004 ¶84), as a pure function of their times.

A *flag* is a prompt of a named user that the guard warned or blocked. The profile's steps say what a run of
flags within a window brings: a stronger warning naming the terms, then a cooling-off period during which the
user's requests are refused. The level is never stored: it is computed from the flags and the clock, so that a
window that slides past old flags lightens it without a job (as the takedown desk's strikes do, which this is
distinct from: a strike needs an upheld notice, a flag only the guard's own decision).

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> steps = [EscalationStep(flags=2, within_hours=24, response="warn")]
    >>> level([t0, t0 + timedelta(hours=1)], t0 + timedelta(hours=2), steps).response
    'warn'
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Response(enum.StrEnum):
    NONE = "none"
    WARN = "warn"
    COOL_OFF = "cool_off"


class EscalationStep(BaseModel):
    """One step: ``flags`` flagged prompts within ``within_hours`` bring ``response``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flags: int = Field(ge=1, le=1000)
    within_hours: int = Field(ge=1, le=24 * 365)
    response: Literal["warn", "cool_off"]
    cool_off_hours: int = Field(default=0, ge=0, le=24 * 365)

    @model_validator(mode="after")
    def _cool_off_has_length(self) -> EscalationStep:
        if self.response == "cool_off" and self.cool_off_hours < 1:
            raise ValueError("a cool_off step needs cool_off_hours of at least 1")
        return self


@dataclass(frozen=True, slots=True)
class Level:
    """Where a user stands: the strongest step reached, the flags counted for it, and (cooling off) until when."""

    response: str
    step: int  # 1-based index of the step reached, 0 for none
    flags: int  # flags in the reached step's window (in the first step's window when none is reached)
    until: datetime | None = None

    @property
    def refusing(self) -> bool:
        return self.response == Response.COOL_OFF


def level(flags: Sequence[datetime], now: datetime, steps: Sequence[EscalationStep]) -> Level:
    """The user's level at ``now`` given the times of its flags.

    A cooling-off step is reached at the time of the flag that completed it and lasts ``cool_off_hours`` from
    then; a warning step holds while the window still counts enough flags. The strongest step in force wins.
    """
    times = sorted(t for t in flags if t <= now)
    best = Level(Response.NONE.value, 0, _count(times, now, steps[0].within_hours) if steps else 0)
    for i, step in enumerate(steps, start=1):
        window = timedelta(hours=step.within_hours)
        if step.response == Response.COOL_OFF.value:
            reached = _completed_at(times, step.flags, window)
            if reached is None:
                continue
            until = reached + timedelta(hours=step.cool_off_hours)
            if until > now:
                best = Level(step.response, i, _count(times, now, step.within_hours), until)
        elif _count(times, now, step.within_hours) >= step.flags:
            best = Level(step.response, i, _count(times, now, step.within_hours))
    return best


def _count(times: Sequence[datetime], now: datetime, hours: int) -> int:
    start = now - timedelta(hours=hours)
    return sum(1 for t in times if t > start)


def _completed_at(times: Sequence[datetime], n: int, window: timedelta) -> datetime | None:
    """The latest time at which ``n`` flags fell within ``window`` (ending at one of them), or None."""
    found: datetime | None = None
    for j in range(n - 1, len(times)):
        if times[j] - times[j - n + 1] < window:
            found = times[j]
    return found


__all__ = ["EscalationStep", "Level", "Response", "level"]
