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
    # issue 20: checking every row the log speaks for against its entries (`copyalign log audit`)
    LOG_AUDIT = "log.audit"
    TAKEDOWN_FILE = "takedown.file"
    TAKEDOWN_AUTHORISE = "takedown.authorise"
    TAKEDOWN_READ = "takedown.read"
    TAKEDOWN_HANDLE = "takedown.handle"
    TAKEDOWN_COUNTER = "takedown.counter"
    TAKEDOWN_COURT_ACTION = "takedown.court_action"
    TAKEDOWN_COMPLAIN = "takedown.complain"
    # issue 18's exports: statements of reasons to the DSA Transparency Database, a sealed transparency report,
    # the duty-of-care dossier
    TAKEDOWN_EXPORT = "takedown.export"
    TAKEDOWN_REPORT = "takedown.report"
    TAKEDOWN_DOSSIER = "takedown.dossier"
    CONFLICT_REVIEW = "conflict.review"
    # issue 24: the provider's duties along the user journey and downstream
    JOURNEY_TERMS_PUBLISH = "journey.terms.publish"
    JOURNEY_TERMS_ACCEPT = "journey.terms.accept"
    JOURNEY_TERMS_READ = "journey.terms.read"
    JOURNEY_STANDING = "journey.standing"
    JOURNEY_ADAPTER = "journey.adapter"
    JOURNEY_ADAPTER_READ = "journey.adapter.read"
    JOURNEY_MODEL_DECLARE = "journey.model.declare"
    JOURNEY_MODEL_CARD = "journey.model.card"


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
        # the state audit reads every table (names, e-mails, contracts): the operator and auditors only
        Action.LOG_AUDIT: (_A, _N, _N, _N, _A),
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
        # a provider sends its own desk's statements of reasons (with its own platform token) and seals its own
        # transparency report; the operator does either for any desk. The dossier is the record a court or an
        # auditor asks for: a provider builds its own, auditors and the operator any. Reading a sealed report
        # or a statement is public and needs no key.
        Action.TAKEDOWN_EXPORT: (_A, _N, _N, _O, _N),
        Action.TAKEDOWN_REPORT: (_A, _N, _N, _O, _N),
        Action.TAKEDOWN_DOSSIER: (_A, _N, _N, _O, _A),
        # registration conflicts (a near-duplicate of another holder's work): the CMO's queue to resolve
        Action.CONFLICT_REVIEW: (_A, _N, _N, _N, _N),
        # the user journey (seed 004 ¶84, ¶18, ¶26): a provider publishes its own terms and records its own users'
        # acceptances; the terms are public to every role; a provider reads its own users' standing (and shows it
        # to them), auditors any; a provider registers, reviews and reads its own users' models, auditors read
        # any. Downstream (¶56, ¶96(a)): a developer declares its own models; their model cards are for everyone.
        Action.JOURNEY_TERMS_PUBLISH: (_A, _N, _N, _O, _N),
        Action.JOURNEY_TERMS_ACCEPT: (_A, _N, _N, _O, _N),
        Action.JOURNEY_TERMS_READ: (_A, _A, _A, _A, _A),
        Action.JOURNEY_STANDING: (_A, _N, _N, _O, _A),
        Action.JOURNEY_ADAPTER: (_A, _N, _N, _O, _N),
        Action.JOURNEY_ADAPTER_READ: (_A, _N, _N, _O, _A),
        Action.JOURNEY_MODEL_DECLARE: (_A, _N, _O, _N, _N),
        Action.JOURNEY_MODEL_CARD: (_A, _A, _A, _A, _A),
    }.items()
}

#: How a message says each role and action to a person (the portal shows these); the machine codes stay on the
#: error (``action``, ``role``). An action missing here is said by its code.
ROLE_WORDS: Mapping[Role, str] = {
    Role.OPERATOR: "the registry operator",
    Role.RIGHTS_HOLDER: "a rights holder",
    Role.DEVELOPER: "an AI developer",
    Role.PROVIDER: "an AI service provider",
    Role.AUDITOR: "an auditor",
}
#: (what the action does, the same restricted to one's own objects)
ACTION_WORDS: Mapping[Action, tuple[str, str]] = {
    Action.PARTY_CREATE: ("create parties", "create only itself"),
    Action.PARTY_READ: ("read parties' records", "read only its own record"),
    Action.KEY_ISSUE: ("issue API keys", "issue API keys only for itself"),
    Action.KEY_REVOKE: ("revoke API keys", "revoke only its own API keys"),
    Action.WORK_REGISTER: ("register works", "register works only in its own name"),
    Action.WORK_READ: ("read works' records", "read only its own works' records"),
    Action.WORK_UPDATE: ("change works", "change only its own works"),
    Action.PREFERENCE_SET: ("state preferences for works", "state preferences only for its own works"),
    Action.LOOKUP: ("look content up", "look content up"),
    Action.LOG_READ: ("read the log", "read the log"),
    Action.LOG_CHECKPOINT: ("sign log checkpoints", "sign log checkpoints"),
    Action.NOTICE_CREATE: ("publish training notices", "publish training notices only in its own name"),
    Action.NOTICE_FINALISE: ("finalise training notices", "finalise only its own training notices"),
    Action.OBJECTION_FILE: ("object to training notices", "object only for its own works"),
    Action.USAGE_REPORT: ("report usage", "report usage only under its own notices"),
    Action.INVOICE_READ: ("read invoices", "read only its own invoices"),
    Action.PAYMENT_RECORD: ("record payments", "record payments"),
    Action.DISTRIBUTION_RUN: ("run distributions", "run distributions"),
    Action.STATEMENT_READ: ("read royalty statements", "read only its own royalty statements"),
    Action.SCAN_RUN: ("scan corpora", "scan corpora only in its own name"),
    Action.GUARD_CHECK: ("screen prompts and outputs", "screen prompts and outputs only in its own name"),
    Action.GUARD_TERM: ("curate the prompt filter's terms", "curate terms only for its own works"),
    Action.GUARD_BLOCK: ("add outputs to a blocklist", "add outputs only to its own blocklist"),
    Action.TRACE_READ: ("read generation traces", "read only its own generation traces"),
    Action.AUDIT_RUN: ("run model audits", "run model audits only in its own name"),
    Action.CANARY_MAKE: ("make audit canaries", "make audit canaries only in its own name"),
    Action.CONFLICT_REVIEW: ("review registration conflicts", "review registration conflicts"),
    Action.BLOB_GC: ("delete unreferenced content blobs", "delete unreferenced content blobs"),
    Action.LOG_AUDIT: ("audit the registry against its log", "audit the registry against its log"),
    Action.TAKEDOWN_FILE: ("file takedown notices", "file takedown notices only for its own works"),
    Action.TAKEDOWN_AUTHORISE: ("authorise agents to file takedown notices", "authorise agents only for itself"),
    Action.TAKEDOWN_READ: ("read takedown notices", "read only its own takedown notices"),
    Action.TAKEDOWN_HANDLE: ("handle takedown notices", "handle takedown notices only at its own desk"),
    Action.TAKEDOWN_COUNTER: ("file counter-notices", "file counter-notices only for its own users' sessions"),
    Action.TAKEDOWN_COURT_ACTION: ("record court actions", "record court actions only on its own notices"),
    Action.TAKEDOWN_COMPLAIN: ("complain about takedown decisions", "complain only about its own decisions"),
    Action.TAKEDOWN_EXPORT: (
        "export statements of reasons to the DSA Transparency Database",
        "export only its own desk's statements of reasons",
    ),
    Action.TAKEDOWN_REPORT: ("seal transparency reports", "seal only its own desk's transparency report"),
    Action.TAKEDOWN_DOSSIER: ("build duty-of-care dossiers", "build only its own duty-of-care dossier"),
    Action.JOURNEY_TERMS_PUBLISH: ("publish terms of use", "publish only its own terms of use"),
    Action.JOURNEY_TERMS_ACCEPT: ("record acceptances of terms", "record acceptances only of its own terms"),
    Action.JOURNEY_TERMS_READ: ("read terms of use", "read terms of use"),
    Action.JOURNEY_STANDING: ("read users' standing", "read only its own users' standing"),
    Action.JOURNEY_ADAPTER: ("register and review user models", "register and review only its own users' models"),
    Action.JOURNEY_ADAPTER_READ: ("read user models", "read only its own users' models"),
    Action.JOURNEY_MODEL_DECLARE: ("declare models", "declare only its own models"),
    Action.JOURNEY_MODEL_CARD: ("read model cards", "read model cards"),
}


def refusal(role: Role, action: Action) -> str:
    """Why ``role`` may not do ``action``, in words: "a rights holder may not read invoices", "a rights holder
    may change only its own works"."""
    who = ROLE_WORDS.get(role, f"a {role.value}")
    anything, own = ACTION_WORDS.get(action, (f"perform {action.value}", f"perform {action.value} only on its own"))
    return f"{who} may {own}" if MATRIX[action][role] is Grant.OWN else f"{who} may not {anything}"


def allowed(role: Role, action: Action, *, owner: bool) -> bool:
    grant = MATRIX[action][role]
    return grant is Grant.ANY or (grant is Grant.OWN and owner)


def require(role: Role, action: Action, *, owner: bool) -> None:
    """Raise :class:`PermissionDeniedError` naming the role and action when the matrix says no."""
    if not allowed(role, action, owner=owner):
        raise PermissionDeniedError(refusal(role, action), action=action.value, role=role.value)
