"""The operator's registration-conflict queue in the portal: ``/conflicts`` and its resolve form.

A registration that duplicates another holder's work is flagged under the profile's
``registry.conflict_action = "flag"`` (:mod:`copyalign.core.registry.conflicts`); the operator reads the two
claims side by side here and records a decision, which the log keeps (``work.conflict_resolved``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from copyalign.api.deps import CaDep
from copyalign.core.registry.conflicts import Resolution
from copyalign.services.registry.parties import Principal
from copyalign.web.pages import _form_post, _principal, _signin, render

router = APIRouter(include_in_schema=False)

DECISIONS = [
    (Resolution.FIRST_HOLDER.value, "the first holder's: the earlier registration stands alone"),
    (Resolution.SECOND_HOLDER.value, "the second holder's: the flagged registration is the right one"),
    (Resolution.BOTH_STAND.value, "both stand (a licensed edition, a co-owned work)"),
]


@router.get("/conflicts", response_class=HTMLResponse)
def conflicts_page(request: Request, ca: CaDep, status: str = "open", done: str | None = None) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    views = ca.conflicts.list(me, status=None if status == "all" else status)
    return render(request, "conflicts.html", me=me, conflicts=views, shown=status, decisions=DECISIONS, done=done)


@router.post("/conflicts/{conflict_id}/resolve", response_class=HTMLResponse)
def resolve_form(
    request: Request,
    ca: CaDep,
    conflict_id: str,
    decision: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    def act(me: Principal) -> str:
        ca.conflicts.resolve(me, conflict_id, decision=decision, note=note)
        return f"/conflicts?done={conflict_id}"

    return _form_post(request, ca, act)


__all__ = ["router"]
