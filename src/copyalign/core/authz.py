"""Who may do what: the role × action matrix, in one table.

Keeping the matrix as data (rather than ``if role == ...`` scattered through routes) means the tests can walk
every cell, the README can print it, and a new action is one row. Ownership is the second axis: some
actions are allowed on one's own objects only, unless the role is the operator (the collective management
organisation that runs the registry and acts for the holders it represents).

Example:
    >>> allowed(Role.RIGHTS_HOLDER, Action.WORK_UPDATE, owner=True)
    True
    >>> allowed(Role.RIGHTS_HOLDER, Action.WORK_UPDATE, owner=False)
    False
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from copyalign.errors import PermissionDeniedError


class Role(enum.StrEnum):
    OPERATOR = "operator"
    RIGHTS_HOLDER = "rights_holder"
    DEVELOPER = "developer"
    PROVIDER = "provider"
    AUDITOR = "auditor"


class Action(enum.StrEnum):
    PARTY_CREATE = "party.create"
    PARTY_READ = "party.read"
    KEY_ISSUE = "key.issue"
    KEY_REVOKE = "key.revoke"
    WORK_REGISTER = "work.register"
    WORK_READ = "work.read"
    WORK_UPDATE = "work.update"
    PREFERENCE_SET = "preference.set"
    LOOKUP = "lookup"
    LOG_READ = "log.read"
    LOG_CHECKPOINT = "log.checkpoint"
    NOTICE_CREATE = "notice.create"
    NOTICE_FINALISE = "notice.finalise"
    OBJECTION_FILE = "objection.file"
    USAGE_REPORT = "usage.report"
    INVOICE_READ = "invoice.read"
    PAYMENT_RECORD = "payment.record"
    DISTRIBUTION_RUN = "distribution.run"
    STATEMENT_READ = "statement.read"
    SCAN_RUN = "scan.run"
    GUARD_CHECK = "guard.check"
    GUARD_TERM = "guard.term"
    GUARD_BLOCK = "guard.block"
    TRACE_READ = "trace.read"
    AUDIT_RUN = "audit.run"
    CANARY_MAKE = "audit.canary"
    # issue 20: deleting content blobs no row refers to (`copyalign blobs gc`)
    BLOB_GC = "blob.gc"
    TAKEDOWN_FILE = "takedown.file"
    TAKEDOWN_AUTHORISE = "takedown.authorise"
    TAKEDOWN_READ = "takedown.read"
    TAKEDOWN_HANDLE = "takedown.handle"
    TAKEDOWN_COUNTER = "takedown.counter"
    TAKEDOWN_COURT_ACTION = "takedown.court_action"
    TAKEDOWN_COMPLAIN = "takedown.complain"


class Grant(enum.Enum):
    NONE = "none"
    OWN = "own"  # only on objects the actor owns (its own works, itself)
    ANY = "any"


_O, _N, _A = Grant.OWN, Grant.NONE, Grant.ANY

#: The matrix. Rows: actions; columns: roles in the order of :class:`Role`.
#: Reading works is ``OWN`` for holders because a work's record carries contact and identifier details;
#: what anyone may learn about someone else's work goes through ``lookup``, which answers the public facts.
MATRIX: Mapping[Action, Mapping[Role, Grant]] = {
    action: dict(zip(Role, grants, strict=True))
    for action, grants in {
        #                    operator holder developer provider auditor
        Action.PARTY_CREATE: (_A, _N, _N, _N, _N),
        Action.PARTY_READ: (_A, _O, _O, _O, _A),
        Action.KEY_ISSUE: (_A, _O, _O, _O, _O),
        Action.KEY_REVOKE: (_A, _O, _O, _O, _O),
        Action.WORK_REGISTER: (_A, _O, _N, _N, _N),
        Action.WORK_READ: (_A, _O, _N, _N, _A),
        Action.WORK_UPDATE: (_A, _O, _N, _N, _N),
        Action.PREFERENCE_SET: (_A, _O, _N, _N, _N),
        Action.LOOKUP: (_A, _A, _A, _A, _A),
        Action.LOG_READ: (_A, _A, _A, _A, _A),
        Action.LOG_CHECKPOINT: (_A, _N, _N, _N, _N),
        # training notices and the default licence: a developer runs its own notices and reports; holders
        # object for their own works and read their own statements; money moves only through the operator
        Action.NOTICE_CREATE: (_A, _N, _O, _N, _N),
        Action.NOTICE_FINALISE: (_A, _N, _O, _N, _N),
        Action.OBJECTION_FILE: (_A, _O, _N, _N, _N),
        Action.USAGE_REPORT: (_A, _N, _O, _N, _N),
        Action.INVOICE_READ: (_A, _N, _O, _N, _A),
        Action.PAYMENT_RECORD: (_A, _N, _N, _N, _N),
        Action.DISTRIBUTION_RUN: (_A, _N, _N, _N, _N),
        Action.STATEMENT_READ: (_A, _O, _N, _N, _A),
        # a corpus scan reads the developer's notices and writes a log entry in its name
        Action.SCAN_RUN: (_A, _N, _O, _N, _N),
        # the deployment guard: a provider checks, labels and traces in its own name; holders curate the
        # terms of their own works (characters, aliases, their own name); a takedown feeds the blocklist;
        # the holder who files a notice reads a trace through the takedown desk, not directly
        Action.GUARD_CHECK: (_A, _N, _N, _O, _N),
        Action.GUARD_TERM: (_A, _O, _N, _N, _N),
        Action.GUARD_BLOCK: (_A, _N, _N, _O, _N),
        Action.TRACE_READ: (_A, _N, _N, _O, _A),
        # the model audit: a developer audits its own models and plants its own canaries; an auditor may run an
        # audit on a model it was given (the report and its log entry are in the auditor's name)
        Action.AUDIT_RUN: (_A, _N, _O, _N, _A),
        Action.CANARY_MAKE: (_A, _N, _O, _N, _N),
        # storage housekeeping: only the operator who runs the registry deletes unreferenced content blobs
        Action.BLOB_GC: (_A, _N, _N, _N, _N),
        # the takedown desk (seed 004 ¶84-92): a holder files and follows notices for its own works, or as an agent
        # with an authorisation on record, and names its agents; the CMO acts for the holders it represents. A
        # provider runs its own desk (triage, decisions, measures, complaints) and files its users' counter-
        # notices, for their own sessions only (checked against the trace). The complainant (or the provider that
        # received it) records a court action; either side complains about a decision (DSA Art. 20). Auditors read
        # every notice, never contact details. The public channel (no account) and the statements of reasons
        # need no key: they are not cells of this matrix.
        Action.TAKEDOWN_FILE: (_A, _O, _N, _N, _N),
        Action.TAKEDOWN_AUTHORISE: (_A, _O, _N, _N, _N),
        Action.TAKEDOWN_READ: (_A, _O, _N, _O, _A),
        Action.TAKEDOWN_HANDLE: (_A, _N, _N, _O, _N),
        Action.TAKEDOWN_COUNTER: (_A, _N, _N, _O, _N),
        Action.TAKEDOWN_COURT_ACTION: (_A, _O, _N, _O, _N),
        Action.TAKEDOWN_COMPLAIN: (_A, _O, _N, _O, _N),
    }.items()
}


def allowed(role: Role, action: Action, *, owner: bool) -> bool:
    grant = MATRIX[action][role]
    return grant is Grant.ANY or (grant is Grant.OWN and owner)


def require(role: Role, action: Action, *, owner: bool) -> None:
    """Raise :class:`PermissionDeniedError` naming the role and action when the matrix says no."""
    if not allowed(role, action, owner=owner):
        whose = "its own" if MATRIX[action][role] is Grant.OWN else "any"
        if MATRIX[action][role] is Grant.NONE:
            raise PermissionDeniedError(f"a {role.value} may not perform {action.value}")
        raise PermissionDeniedError(f"a {role.value} may perform {action.value} only on {whose} objects")
