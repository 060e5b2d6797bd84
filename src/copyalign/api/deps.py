"""FastAPI dependencies: the wired services and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from copyalign.context import Copyalign
from copyalign.services.registry.parties import Principal

COOKIE = "copyalign_key"


def get_ca(request: Request) -> Copyalign:
    ca: Copyalign = request.app.state.ca
    return ca


CaDep = Annotated[Copyalign, Depends(get_ca)]


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key") or None


def current_principal(request: Request, ca: CaDep) -> Principal:
    token = bearer(request)
    if token is None and not request.url.path.startswith("/v1"):
        token = request.cookies.get(COOKIE)
    return ca.parties.authenticate(token)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
