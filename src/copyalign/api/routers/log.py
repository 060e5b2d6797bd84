"""/v1/log: checkpoints, entries and proofs, always at a signed tree size."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse

from copyalign.api.deps import CaDep, PrincipalDep
from copyalign.api.schemas import INT64_MAX
from copyalign.context import Copyalign
from copyalign.core.authz import Action, require
from copyalign.core.canonical import format_time
from copyalign.errors import NotFoundError
from copyalign.services.log.audit import audit_store
from copyalign.services.log.ledger import SignedCheckpoint
from copyalign.services.registry.preferences import prove_preferences

router = APIRouter(prefix="/log", tags=["log"])

# bounded at the databases' BIGINT: a larger integer is a 422 naming the parameter, not an overflow in the driver
Index = Annotated[int, Query(ge=0, le=INT64_MAX)]
Size = Annotated[int, Query(ge=1, le=INT64_MAX)]


def _cp_json(cp: SignedCheckpoint) -> dict[str, Any]:
    return {
        "size": cp.size,
        "root": base64.b64encode(cp.root).decode(),
        "note": cp.note,
        "created_at": format_time(cp.created_at),
    }


def _latest(ca: Copyalign) -> SignedCheckpoint:
    cp = ca.ledger.latest_checkpoint()
    if cp is None:
        raise NotFoundError("no checkpoint has been signed yet")
    return cp


@router.get("/key", response_class=PlainTextResponse)
def verifier_key(ca: CaDep) -> str:
    """The public verifier key (signed-note format), for offline verification. No key needed."""
    return ca.ledger.verifier_key + "\n"


@router.get("/checkpoint")
def checkpoint(ca: CaDep, size: Annotated[int | None, Query(ge=0, le=INT64_MAX)] = None) -> dict[str, Any]:
    """The latest signed checkpoint, or the one of ``size``. Public: anyone may audit the log."""
    return _cp_json(ca.ledger.checkpoint_at(size) if size is not None else _latest(ca))


@router.post("/checkpoint", status_code=201)
def sign_checkpoint(ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    require(principal.role, Action.LOG_CHECKPOINT, owner=False)
    return _cp_json(ca.ledger.checkpoint())


@router.get("/entries")
def entries(ca: CaDep, start: Index, end: Index) -> dict[str, Any]:
    """Entries [start, end), at most 1000; each as base64 of the exact bytes hashed into the tree."""
    rows = ca.ledger.entries(start, end)
    return {"start": start, "entries": [{"index": i, "entry": base64.b64encode(e).decode()} for i, e in rows]}


@router.get("/proof/inclusion")
def inclusion(ca: CaDep, index: Index, size: Size) -> dict[str, Any]:
    proof = ca.ledger.inclusion_proof(index, size)
    return {"index": index, "size": size, "proof": [base64.b64encode(p).decode() for p in proof]}


@router.get("/proof/consistency")
def consistency(ca: CaDep, first: Index, second: Index) -> dict[str, Any]:
    proof = ca.ledger.consistency_proof(first, second)
    return {"first": first, "second": second, "proof": [base64.b64encode(p).decode() for p in proof]}


@router.get("/receipts/{index}")
def receipt(index: Annotated[int, Path(ge=0, le=INT64_MAX)], ca: CaDep) -> dict[str, Any]:
    return ca.ledger.receipt(index).to_dict()


@router.get("/preference-proof")
def preference_proof(
    ca: CaDep, principal: PrincipalDep, work: str, size: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None
) -> dict[str, Any]:
    """Inclusion proofs of the latest preference statements for ``work`` inside checkpoint ``size``."""
    cp = ca.ledger.checkpoint_at(size) if size is not None else _latest(ca)
    proofs = prove_preferences(ca.preferences, principal, work, cp.size)
    return {
        "work_id": work,
        "checkpoint": _cp_json(cp),
        "statements": [
            {
                "scope": p.statement.scope.value,
                "purpose": p.statement.purpose.value,
                "value": p.statement.value.value,
                "jurisdiction": p.statement.jurisdiction,
                "index": p.statement.log_index,
                "entry": base64.b64encode(p.entry).decode(),
                "proof": [base64.b64encode(h).decode() for h in p.proof],
            }
            for p in proofs
        ],
    }


@router.get("/audit")
def audit(ca: CaDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Replay the log and check every row it speaks for (works, parties, keys, preferences, notices, money,
    guard terms, blocklist, sealed traces) against what its entries committed to; the first divergence names
    the row and the entry. The operator and auditors only: it reads every table."""
    return audit_store(ca.ledger, role=principal.role).to_dict(limit=limit)
