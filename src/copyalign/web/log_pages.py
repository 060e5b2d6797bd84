"""The transparency log's latest checkpoint as a page (``/log``), for people; the JSON stays at the API.

The portal's footer links here: the size and root hash the log commits to, who signed it and with which key,
the signed note to download, and how to verify the log offline from it.
"""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from copyalign.api.deps import CaDep
from copyalign.web.pages import _principal, render

router = APIRouter(include_in_schema=False)


def _signatures(note: str) -> list[tuple[str, str]]:
    """The signature lines of a signed note (``— origin base64``): (signer, signature)."""
    out = []
    for line in note.split("\n\n", 1)[-1].splitlines():
        if line.startswith("\u2014 "):
            name, _, sig = line[2:].rpartition(" ")
            out.append((name, sig))
    return out


@router.get("/log", response_class=HTMLResponse)
def checkpoint_page(request: Request, ca: CaDep) -> Response:
    cp = ca.ledger.latest_checkpoint()
    return render(
        request,
        "checkpoint.html",
        me=_principal(request, ca),
        cp=cp,
        root_b64=base64.b64encode(cp.root).decode() if cp else None,
        root_hex=cp.root.hex() if cp else None,
        signatures=_signatures(cp.note) if cp else [],
        key=ca.ledger.verifier_key,
        origin=ca.settings.log_origin,
        entries=ca.ledger.size(),
    )


@router.get("/log/checkpoint.txt")
def checkpoint_download(ca: CaDep) -> Response:
    """The latest signed note, as a file to keep beside a receipt."""
    cp = ca.ledger.latest_checkpoint()
    if cp is None:
        return PlainTextResponse("no checkpoint has been signed yet\n", status_code=404)
    return PlainTextResponse(
        cp.note, headers={"Content-Disposition": f'attachment; filename="checkpoint-{cp.size}.txt"'}
    )


__all__ = ["router"]
