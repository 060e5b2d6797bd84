"""User-trained models (LoRA or full fine-tunes) and the screening of their training sets (seed 004 ¶18, ¶26).

In the Ultraman LoRA case a platform let users upload a character's images and train LoRA models of it; the court
ordered the models removed and effective measures against recurrence. Here a user model is registered with its
training set, which is scanned like a corpus before training; what the scan finds decides its status, with the
profile's action for findings. An item the scan could not read is never "allowed": nobody knows what it holds.

Example:
    >>> screen(Findings(items=2, unreadable=0, opted_out=0, unlicensed=0, characters=0), action="block")
    <AdapterStatus.ALLOWED: 'allowed'>
    >>> screen(Findings(items=2, unreadable=1, opted_out=0, unlicensed=0, characters=0), action="allow")
    <AdapterStatus.HELD: 'held'>
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from copyalign.errors import ConflictError, InvalidInputError

METHODS = ("lora", "full")


class AdapterStatus(enum.StrEnum):
    HELD = "held"  # waiting for the provider's review; training not allowed
    BLOCKED = "blocked"  # training refused
    ALLOWED = "allowed"  # training allowed (with the findings on record, if any)


class Review(enum.StrEnum):
    ALLOW = "allow"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class Findings:
    """What the scan of a training set found, in counts."""

    items: int
    unreadable: int
    opted_out: int
    unlicensed: int
    characters: int

    @property
    def problems(self) -> int:
        return self.opted_out + self.unlicensed + self.characters


def screen(f: Findings, *, action: str) -> AdapterStatus:
    """The status a training set's scan brings: unreadable items hold it; findings take the profile's action
    (block, hold, allow); an empty set holds (nothing was shown to be lawful)."""
    if f.unreadable or f.items == 0:
        return AdapterStatus.HELD
    if f.problems:
        return {"block": AdapterStatus.BLOCKED, "hold": AdapterStatus.HELD, "allow": AdapterStatus.ALLOWED}[action]
    return AdapterStatus.ALLOWED


def review(status: AdapterStatus, decision: str, f: Findings) -> AdapterStatus:
    """The provider's review of a held model: allow or block. Only a held model is reviewed, and one with
    unreadable items cannot be allowed (register it again with a readable set)."""
    try:
        d = Review(decision)
    except ValueError:
        raise InvalidInputError(f"review decision must be allow or block, not {decision!r}", field="decision") from None
    if status is not AdapterStatus.HELD:
        raise ConflictError(f"only a held user model is reviewed; this one is {status.value}")
    if d is Review.ALLOW and (f.unreadable or f.items == 0):
        raise ConflictError(
            f"{f.unreadable} item(s) of the training set could not be read: a model whose training set is not "
            "known cannot be allowed; register it again with a readable set"
        )
    return AdapterStatus.ALLOWED if d is Review.ALLOW else AdapterStatus.BLOCKED


def listing(status: AdapterStatus, *, removed: bool) -> str:
    """What a listing shows: ``removed`` once a takedown measure removed it, whatever its screening said."""
    return "removed" if removed else status.value


__all__ = ["METHODS", "AdapterStatus", "Findings", "Review", "listing", "review", "screen"]
