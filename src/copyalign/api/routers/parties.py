"""/v1/parties, /v1/keys, /v1/me"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from copyalign.api.deps import CaDep, PrincipalDep
from copyalign.api.schemas import (
    KeyCreate,
    KeyIssued,
    KeyRevoked,
    Me,
    PartyCreate,
    PartyCreated,
    PartyList,
    PartyOut,
    party_json,
)

router = APIRouter(tags=["parties"])


@router.get("/me", response_model=Me)
def me(principal: PrincipalDep) -> dict[str, Any]:
    return {
        "party_id": principal.party_id,
        "role": principal.role.value,
        "name": principal.name,
        "key_id": principal.key_id,
    }


@router.post("/parties", status_code=201, response_model=PartyCreated)
def create_party(body: PartyCreate, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    party = ca.parties.create(principal, name=body.name, role=body.role, email=body.email)
    out = party_json(party)
    if body.issue_key:
        key = ca.parties.issue_key(principal, party.id, label="first key")
        out["api_key"] = key.secret
        out["key_id"] = key.key_id
    return out


@router.get("/parties", response_model=PartyList)
def list_parties(ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"parties": [party_json(p) for p in ca.parties.list(principal)]}


@router.get("/parties/{party_id}", response_model=PartyOut)
def get_party(party_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return party_json(ca.parties.get(principal, party_id))


@router.post("/parties/{party_id}/keys", status_code=201, response_model=KeyIssued)
def issue_key(party_id: str, body: KeyCreate, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    key = ca.parties.issue_key(principal, party_id, label=body.label)
    return {
        "key_id": key.key_id,
        "party_id": key.party_id,
        "api_key": key.secret,
        "receipt": key.receipt.to_dict(),
    }


@router.post("/keys/{key_id}/revoke", response_model=KeyRevoked)
def revoke_key(key_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    receipt = ca.parties.revoke_key(principal, key_id)
    return {"key_id": key_id, "revoked": True, "receipt": receipt.to_dict()}
