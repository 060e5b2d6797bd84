"""The roles' documented rights, written out by hand as the oracle of the authorization tests.

Every row is read from the documentation — README "Roles and what they may do", the API tables ("create
(operator)", "sign now (operator)", "record a payment (operator)"), the guard's and the takedown desk's
sections, and DESIGN "Security" ("a rights holder changes only its own works") — never from
``copyalign.core.authz``: the matrix there is the code under test. Keys are the action and role *codes* (the
strings an API refusal carries), so this table imports nothing from the package.

Each cell is ``(own, other)``: may the role do the action on its own object (its own works, notices, invoices,
statements, desk, keys, itself), and on someone else's. A role that cannot own such an object (a developer has no
works; a holder has no notices) answers the same for both.
"""

from __future__ import annotations

ANY = (True, True)
OWN = (True, False)
NONE = (False, False)

ROLES = ("operator", "rights_holder", "developer", "provider", "auditor")

#: action code -> the grants of (operator, rights holder, developer, provider, auditor), in that order.
#: The operator (the CMO that runs the registry) "may do everything": its column is ANY throughout.
_TABLE: dict[str, tuple[tuple[bool, bool], ...]] = {
    # parties and keys: "create (operator) and read parties"; every party reads its own record and issues and
    # revokes its own keys; an auditor reads any record (parties' records carry no contact details)
    "party.create": (ANY, NONE, NONE, NONE, NONE),
    "party.read": (ANY, OWN, OWN, OWN, ANY),
    "key.issue": (ANY, OWN, OWN, OWN, OWN),
    "key.revoke": (ANY, OWN, OWN, OWN, OWN),
    # works: "a rights holder registers, reads and updates only its own works and preferences"; "a developer,
    # provider or auditor may … not register works"; "an auditor may also read any work's record"
    "work.register": (ANY, OWN, NONE, NONE, NONE),
    "work.read": (ANY, OWN, NONE, NONE, ANY),
    "work.update": (ANY, OWN, NONE, NONE, NONE),
    "preference.set": (ANY, OWN, NONE, NONE, NONE),
    # "may look content up and read the log" (every role); checkpoints: "sign now (operator)"
    "lookup": (ANY, ANY, ANY, ANY, ANY),
    "log.read": (ANY, ANY, ANY, ANY, ANY),
    "log.checkpoint": (ANY, NONE, NONE, NONE, NONE),
    # "a developer runs its own notices, reports usage and reads its own invoices"; "[a holder] objects for its
    # own works and reads its own statements"; "an auditor may also read … any invoice, any statement"; "money
    # moves only through the operator (payments, distributions)"
    "notice.create": (ANY, NONE, OWN, NONE, NONE),
    "notice.finalise": (ANY, NONE, OWN, NONE, NONE),
    "objection.file": (ANY, OWN, NONE, NONE, NONE),
    "usage.report": (ANY, NONE, OWN, NONE, NONE),
    "invoice.read": (ANY, NONE, OWN, NONE, ANY),
    "payment.record": (ANY, NONE, NONE, NONE, NONE),
    "distribution.run": (ANY, NONE, NONE, NONE, NONE),
    "statement.read": (ANY, OWN, NONE, NONE, ANY),
    # "[a developer] scans corpora and audits models in its own name"; "an auditor may also … run audits";
    # canaries are planted in a developer's own training data (README "The memorisation audit")
    "scan.run": (ANY, NONE, OWN, NONE, NONE),
    "audit.run": (ANY, NONE, OWN, NONE, ANY),
    "audit.canary": (ANY, NONE, OWN, NONE, NONE),
    # the guard: "a provider screens, labels and traces outputs and keeps its blocklist in its own name; a
    # rights holder curates guard terms for its own works"; "an auditor reads any trace"; a holder "sees traces
    # only through" its takedown notices
    "guard.check": (ANY, NONE, NONE, OWN, NONE),
    "guard.term": (ANY, OWN, NONE, NONE, NONE),
    "guard.block": (ANY, NONE, NONE, OWN, NONE),
    "trace.read": (ANY, NONE, NONE, OWN, ANY),
    # `copyalign blobs gc` and the conflicts queue: the operator's ("the operator's queue")
    "blob.gc": (ANY, NONE, NONE, NONE, NONE),
    "conflict.review": (ANY, NONE, NONE, NONE, NONE),
    # the takedown desk: "a rights holder files and follows its own notices … a provider runs its own desk and
    # files its own users' counter-notices; an auditor reads every notice"; a court action is reported, and a
    # complaint made, by a side of the notice: its filer or the provider whose desk received it
    "takedown.file": (ANY, OWN, NONE, NONE, NONE),
    "takedown.authorise": (ANY, OWN, NONE, NONE, NONE),
    "takedown.read": (ANY, OWN, NONE, OWN, ANY),
    "takedown.handle": (ANY, NONE, NONE, OWN, NONE),
    "takedown.counter": (ANY, NONE, NONE, OWN, NONE),
    "takedown.court_action": (ANY, OWN, NONE, OWN, NONE),
    "takedown.complain": (ANY, OWN, NONE, OWN, NONE),
    # the desk's exports: "a provider sends its own statements of reasons and seals its own transparency
    # report"; the duty-of-care dossier is the record an auditor asks for: auditors build any provider's
    "takedown.export": (ANY, NONE, NONE, OWN, NONE),
    "takedown.report": (ANY, NONE, NONE, OWN, NONE),
    "takedown.dossier": (ANY, NONE, NONE, OWN, ANY),
    # the log audit reads every table ("auditors read everything"): the operator and auditors
    "log.audit": (ANY, NONE, NONE, NONE, ANY),
    # the user journey (README "The user journey and the model card"): a provider publishes its own terms,
    # records its own users' acceptances, reads its own users' standing and registers and reviews its own users'
    # models; terms and model cards are public documents; auditors read any standing and any user model; a
    # developer declares its own models
    "journey.terms.publish": (ANY, NONE, NONE, OWN, NONE),
    "journey.terms.accept": (ANY, NONE, NONE, OWN, NONE),
    "journey.terms.read": (ANY, ANY, ANY, ANY, ANY),
    "journey.standing": (ANY, NONE, NONE, OWN, ANY),
    "journey.adapter": (ANY, NONE, NONE, OWN, NONE),
    "journey.adapter.read": (ANY, NONE, NONE, OWN, ANY),
    "journey.model.declare": (ANY, NONE, OWN, NONE, NONE),
    "journey.model.card": (ANY, ANY, ANY, ANY, ANY),
}

#: ``EXPECTED[action][role] == (own, other)``
EXPECTED: dict[str, dict[str, tuple[bool, bool]]] = {
    action: dict(zip(ROLES, grants, strict=True)) for action, grants in _TABLE.items()
}

#: who can own a work, and who can own a training notice (and so an invoice): the objects an "own" request needs
HOLDS_WORKS = frozenset({"operator", "rights_holder"})
RUNS_NOTICES = frozenset({"operator", "developer"})


def expected(role: str, action: str, *, owner: bool) -> bool:
    own, other = EXPECTED[action][role]
    return own if owner else other
