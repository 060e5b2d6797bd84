"""The lifecycles of notices, measures, counter-notices and complaints, as pure state machines.

Each machine is a table of ``(state, event) -> state``: a service loads the current state, asks
:meth:`StateMachine.advance` for the next one, and writes it together with the log entry. An event that the
table does not allow raises :class:`~copyalign.errors.ConflictError` (409) naming the state and the event, so a
late or repeated request (restoring twice, deciding an incomplete notice) is refused rather than half-applied.

The notice's path follows the procedure the seeds and statutes describe: a notice is received, found
incomplete or complete (only a complete one starts the clocks, 17 U.S.C. §512(c)(3)(B)); it is triaged and
decided — upheld, partially upheld, rejected, or rejected as manifestly unfounded (which counts against the
complainant, DSA Art. 23(2)); measures are applied (seed 004 ¶87); the user may counter-notify (¶88), after
which the measures are restored or kept; a complaint may reverse the decision (DSA Art. 20(4)); then it
closes. Measures are applied and undone one by one, each with its own log entry. A complaint against a
decision is reviewed and ends upheld, partially reversed or reversed (Art. 20), and is never decided solely
by automated means (Art. 20(6)).

Example:
    >>> NOTICE.advance(NoticeState.RECEIVED, NoticeEvent.FIND_COMPLETE)
    <NoticeState.COMPLETE: 'complete'>
    >>> NOTICE.can(NoticeState.RECEIVED, NoticeEvent.UPHOLD)   # advance() would raise ConflictError
    False
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from copyalign.errors import ConflictError, InvalidInputError

S = TypeVar("S", bound=enum.Enum)
E = TypeVar("E", bound=enum.Enum)


@dataclass(frozen=True)
class StateMachine(Generic[S, E]):
    """A transition table with a name (for messages) and an initial state."""

    name: str
    initial: S
    transitions: Mapping[tuple[S, E], S]

    def allowed(self, state: S) -> tuple[E, ...]:
        return tuple(e for (s, e) in self.transitions if s == state)

    def can(self, state: S, event: E) -> bool:
        return (state, event) in self.transitions

    def advance(self, state: S, event: E) -> S:
        try:
            return self.transitions[(state, event)]
        except KeyError:
            allowed = ", ".join(str(e.value) for e in self.allowed(state)) or "none (final)"
            raise ConflictError(
                f"cannot {event.value} a {self.name} that is {state.value}; allowed: {allowed}",
                field="state",
                code=f"{self.name.replace(' ', '_')}_transition",
            ) from None

    def is_final(self, state: S) -> bool:
        return not self.allowed(state)

    def states(self) -> frozenset[S]:
        return frozenset({self.initial} | {s for s, _ in self.transitions} | set(self.transitions.values()))


# -- notices ----------------------------------------------------------------------------------------------------


class NoticeState(enum.StrEnum):
    RECEIVED = "received"
    INCOMPLETE = "incomplete"
    COMPLETE = "complete"
    TRIAGED = "triaged"
    UPHELD = "upheld"
    PARTIALLY_UPHELD = "partially_upheld"
    REJECTED = "rejected"
    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
    MEASURES_APPLIED = "measures_applied"
    COUNTER_NOTICED = "counter_noticed"
    RESTORED = "restored"
    KEPT = "kept"
    CLOSED = "closed"


class NoticeEvent(enum.StrEnum):
    FIND_INCOMPLETE = "find_incomplete"
    FIND_COMPLETE = "find_complete"
    TRIAGE = "triage"
    UPHOLD = "uphold"
    UPHOLD_PARTIALLY = "uphold_partially"
    REJECT = "reject"
    REJECT_UNFOUNDED = "reject_unfounded"
    APPLY_MEASURES = "apply_measures"
    RECEIVE_COUNTER_NOTICE = "receive_counter_notice"
    RESTORE = "restore"
    KEEP = "keep"
    REVERSE = "reverse"
    WITHDRAW = "withdraw"
    CLOSE = "close"


DECIDED = frozenset(
    {NoticeState.UPHELD, NoticeState.PARTIALLY_UPHELD, NoticeState.REJECTED, NoticeState.MANIFESTLY_UNFOUNDED}
)

_N, _NE = NoticeState, NoticeEvent
NOTICE: StateMachine[NoticeState, NoticeEvent] = StateMachine(
    "notice",
    _N.RECEIVED,
    {
        (_N.RECEIVED, _NE.FIND_INCOMPLETE): _N.INCOMPLETE,
        (_N.RECEIVED, _NE.FIND_COMPLETE): _N.COMPLETE,
        (_N.RECEIVED, _NE.WITHDRAW): _N.CLOSED,
        # An amendment that still lacks an element leaves the notice incomplete; the sender is told again.
        (_N.INCOMPLETE, _NE.FIND_INCOMPLETE): _N.INCOMPLETE,
        (_N.INCOMPLETE, _NE.FIND_COMPLETE): _N.COMPLETE,
        (_N.INCOMPLETE, _NE.WITHDRAW): _N.CLOSED,
        (_N.INCOMPLETE, _NE.CLOSE): _N.CLOSED,
        (_N.COMPLETE, _NE.TRIAGE): _N.TRIAGED,
        (_N.COMPLETE, _NE.WITHDRAW): _N.CLOSED,
        (_N.TRIAGED, _NE.UPHOLD): _N.UPHELD,
        (_N.TRIAGED, _NE.UPHOLD_PARTIALLY): _N.PARTIALLY_UPHELD,
        (_N.TRIAGED, _NE.REJECT): _N.REJECTED,
        (_N.TRIAGED, _NE.REJECT_UNFOUNDED): _N.MANIFESTLY_UNFOUNDED,
        (_N.TRIAGED, _NE.WITHDRAW): _N.CLOSED,
        (_N.UPHELD, _NE.APPLY_MEASURES): _N.MEASURES_APPLIED,
        (_N.PARTIALLY_UPHELD, _NE.APPLY_MEASURES): _N.MEASURES_APPLIED,
        # The complainant's own complaint (DSA Art. 20(1)(a) covers notifiers) may turn a rejection into a decision
        # to act; otherwise a rejection closes.
        (_N.REJECTED, _NE.UPHOLD): _N.UPHELD,
        (_N.REJECTED, _NE.UPHOLD_PARTIALLY): _N.PARTIALLY_UPHELD,
        (_N.REJECTED, _NE.CLOSE): _N.CLOSED,
        (_N.MANIFESTLY_UNFOUNDED, _NE.UPHOLD): _N.UPHELD,
        (_N.MANIFESTLY_UNFOUNDED, _NE.UPHOLD_PARTIALLY): _N.PARTIALLY_UPHELD,
        (_N.MANIFESTLY_UNFOUNDED, _NE.CLOSE): _N.CLOSED,
        (_N.MEASURES_APPLIED, _NE.RECEIVE_COUNTER_NOTICE): _N.COUNTER_NOTICED,
        (_N.MEASURES_APPLIED, _NE.REVERSE): _N.RESTORED,
        (_N.MEASURES_APPLIED, _NE.CLOSE): _N.CLOSED,
        (_N.COUNTER_NOTICED, _NE.RESTORE): _N.RESTORED,
        (_N.COUNTER_NOTICED, _NE.KEEP): _N.KEPT,
        (_N.COUNTER_NOTICED, _NE.REVERSE): _N.RESTORED,
        (_N.KEPT, _NE.REVERSE): _N.RESTORED,
        (_N.KEPT, _NE.CLOSE): _N.CLOSED,
        (_N.RESTORED, _NE.CLOSE): _N.CLOSED,
    },
)


# -- measures ---------------------------------------------------------------------------------------------------


class MeasureKind(enum.StrEnum):
    """The necessary measures of seed 004 ¶87-89 and the graduated response of ¶85."""

    DISABLE_OUTPUT = "disable_output"  # the delivered output; its trace is marked taken down
    BLOCK_REGENERATION = "block_regeneration"  # output and work into the provider's blocklist index (¶89)
    BLOCK_PROMPT_TERMS = "block_prompt_terms"  # the prompt's terms into the provider's term base (¶87)
    MODEL_BLOCKLIST = "model_blocklist"  # decoding-time blocker for the provider's model (¶89, model level)
    MODEL_REAUDIT = "model_reaudit"  # a re-audit task whose result is attached (¶87, "optimisation")
    NOTIFY_USER = "notify_user"  # statement of reasons and how to counter-notify (DSA Art. 17)
    STRIKE = "strike"  # graduated response (¶85)
    REMOVE_MODEL = "remove_model"  # a user-trained model removed, its publication and application stopped (¶26)


class MeasureState(enum.StrEnum):
    PLANNED = "planned"
    APPLIED = "applied"
    UNDONE = "undone"
    CANCELLED = "cancelled"


class MeasureEvent(enum.StrEnum):
    APPLY = "apply"
    UNDO = "undo"
    CANCEL = "cancel"


_M, _ME = MeasureState, MeasureEvent
MEASURE: StateMachine[MeasureState, MeasureEvent] = StateMachine(
    "measure",
    _M.PLANNED,
    {
        (_M.PLANNED, _ME.APPLY): _M.APPLIED,
        (_M.PLANNED, _ME.CANCEL): _M.CANCELLED,
        (_M.APPLIED, _ME.UNDO): _M.UNDONE,
        # A restored measure is applied again when a later decision (a court, a second complaint) says so.
        (_M.UNDONE, _ME.APPLY): _M.APPLIED,
    },
)


# -- counter-notices --------------------------------------------------------------------------------------------


class CounterState(enum.StrEnum):
    RECEIVED = "received"
    INCOMPLETE = "incomplete"
    COMPLETE = "complete"
    FORWARDED = "forwarded"
    RESTORED = "restored"
    KEPT = "kept"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class CounterEvent(enum.StrEnum):
    FIND_INCOMPLETE = "find_incomplete"
    FIND_COMPLETE = "find_complete"
    FORWARD = "forward"
    RESTORE = "restore"
    RECORD_COURT_ACTION = "record_court_action"
    REJECT = "reject"
    WITHDRAW = "withdraw"


_C, _CE = CounterState, CounterEvent
COUNTER_NOTICE: StateMachine[CounterState, CounterEvent] = StateMachine(
    "counter-notice",
    _C.RECEIVED,
    {
        (_C.RECEIVED, _CE.FIND_INCOMPLETE): _C.INCOMPLETE,
        (_C.RECEIVED, _CE.FIND_COMPLETE): _C.COMPLETE,
        (_C.RECEIVED, _CE.REJECT): _C.REJECTED,  # not the user of the session, or no measure to contest
        (_C.RECEIVED, _CE.WITHDRAW): _C.WITHDRAWN,
        (_C.INCOMPLETE, _CE.FIND_INCOMPLETE): _C.INCOMPLETE,
        (_C.INCOMPLETE, _CE.FIND_COMPLETE): _C.COMPLETE,
        (_C.INCOMPLETE, _CE.REJECT): _C.REJECTED,
        (_C.INCOMPLETE, _CE.WITHDRAW): _C.WITHDRAWN,
        (_C.COMPLETE, _CE.FORWARD): _C.FORWARDED,  # §512(g)(2)(B); Civil Code Art. 1196
        (_C.COMPLETE, _CE.WITHDRAW): _C.WITHDRAWN,
        (_C.FORWARDED, _CE.RESTORE): _C.RESTORED,  # the window passed with no court action
        (_C.FORWARDED, _CE.RECORD_COURT_ACTION): _C.KEPT,  # §512(g)(2)(C); E-Commerce Law Art. 43
        (_C.FORWARDED, _CE.WITHDRAW): _C.WITHDRAWN,
    },
)


# -- internal complaints (DSA Art. 20) --------------------------------------------------------------------------


class ComplaintState(enum.StrEnum):
    FILED = "filed"
    UNDER_REVIEW = "under_review"
    UPHELD = "upheld"  # the decision stands
    PARTIALLY_REVERSED = "partially_reversed"
    REVERSED = "reversed"
    INADMISSIBLE = "inadmissible"  # filed after the window, or by someone the decision does not concern
    WITHDRAWN = "withdrawn"


class ComplaintEvent(enum.StrEnum):
    REVIEW = "review"
    UPHOLD = "uphold"
    REVERSE_PARTIALLY = "reverse_partially"
    REVERSE = "reverse"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"


_P, _PE = ComplaintState, ComplaintEvent
COMPLAINT: StateMachine[ComplaintState, ComplaintEvent] = StateMachine(
    "complaint",
    _P.FILED,
    {
        (_P.FILED, _PE.REVIEW): _P.UNDER_REVIEW,
        (_P.FILED, _PE.REFUSE): _P.INADMISSIBLE,
        (_P.FILED, _PE.WITHDRAW): _P.WITHDRAWN,
        (_P.UNDER_REVIEW, _PE.UPHOLD): _P.UPHELD,
        (_P.UNDER_REVIEW, _PE.REVERSE_PARTIALLY): _P.PARTIALLY_REVERSED,
        (_P.UNDER_REVIEW, _PE.REVERSE): _P.REVERSED,
        (_P.UNDER_REVIEW, _PE.WITHDRAW): _P.WITHDRAWN,
    },
)

COMPLAINT_OUTCOMES = frozenset({_P.UPHELD, _P.PARTIALLY_REVERSED, _P.REVERSED})


def check_complaint_reviewer(*, human: bool) -> None:
    """DSA Art. 20(6): a complaint is decided under the supervision of qualified staff, not solely by automated
    means; a service calls this before recording an outcome."""
    if not human:
        raise InvalidInputError(
            "a complaint may not be decided solely by automated means (DSA Art. 20(6))", field="decided_by"
        )
