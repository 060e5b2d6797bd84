"""/v1/conflicts: the operator's queue of registrations that duplicate another holder's work.

A registration answers with ``conflicts`` and ``warnings`` when it duplicates another holder's work; under the
profile's ``registry.conflict_action = "flag"`` the conflict waits here until the operator resolves it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from copyalign.api.deps import CaDep, PrincipalDep
from copyalign.api.schemas import Input

router = APIRouter(tags=["works"])


class Resolve(Input):
    decision: str = Field(description="both-stand, first-holder or second-holder")
    note: str = Field(default="", max_length=2000)


@router.get("/conflicts")
def list_conflicts(
    ca: CaDep,
    principal: PrincipalDep,
    status: Annotated[str, Query(description="open, noted, resolved, or all")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    views = ca.conflicts.list(principal, status=None if status == "all" else status, limit=limit)
    return {"conflicts": [v.to_dict() for v in views]}


@router.get("/works/{work_id}/conflicts")
def work_conflicts(work_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"conflicts": [v.to_dict() for v in ca.conflicts.for_work(principal, work_id)]}


@router.post("/conflicts/{conflict_id}/resolve")
def resolve(conflict_id: str, body: Resolve, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.conflicts.resolve(principal, conflict_id, decision=body.decision, note=body.note).to_dict()
