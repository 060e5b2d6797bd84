"""The role × action matrix, walked through the API: every cell is one request."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from copyalign.context import Copyalign
from copyalign.core.authz import Action, Role, allowed
from copyalign.services.parties import Principal
from tests.conftest import make_party
from tests.integration.conftest import auth

ROLES = list(Role)


@pytest.fixture
def world(ca: Copyalign, op_key: str) -> dict:
    """One party of each role, and a work owned by a rights holder other than the actor."""
    op = ca.parties.authenticate(op_key)
    keys = {Role.OPERATOR: op_key}
    principals: dict[Role, Principal] = {Role.OPERATOR: op}
    for role in ROLES[1:]:
        principals[role], keys[role] = make_party(ca, op, role.value)
    other, other_key = make_party(ca, op, "rights_holder", "Other Holder")
    from copyalign.services.works import WorkInput

    theirs = ca.works.register(other, WorkInput(data=b"someone else's poem, line one", title="Theirs"))
    return {
        "keys": keys,
        "principals": principals,
        "other": other,
        "other_key": other_key,
        "theirs": theirs.id,
    }


def _own_work(ca: Copyalign, p: Principal) -> str | None:
    from copyalign.services.works import WorkInput

    if not allowed(p.role, Action.WORK_REGISTER, owner=True):
        return None
    return ca.works.register(p, WorkInput(data=f"own work of {p.party_id}".encode(), title="Mine")).id


def _request(client: TestClient, ca: Copyalign, world: dict, role: Role, action: Action, owner: bool):
    key = world["keys"][role]
    me = world["principals"][role]
    target_party = me.party_id if owner else world["other"].party_id
    work = (_own_work(ca, me) if owner else world["theirs"]) or world["theirs"]
    h = auth(key)
    match action:
        case Action.PARTY_CREATE:
            return client.post("/v1/parties", json={"name": "New", "role": "developer"}, headers=h)
        case Action.PARTY_READ:
            return client.get(f"/v1/parties/{target_party}", headers=h)
        case Action.KEY_ISSUE:
            return client.post(f"/v1/parties/{target_party}/keys", json={}, headers=h)
        case Action.KEY_REVOKE:
            k = ca.parties.issue_key(world["principals"][Role.OPERATOR], target_party)
            return client.post(f"/v1/keys/{k.key_id}/revoke", headers=h)
        case Action.WORK_REGISTER:
            body = {"title": "T", "text": f"new text by {role} {owner}"}
            if not owner:
                body["holder_id"] = world["other"].party_id
            return client.post("/v1/works", json=body, headers=h)
        case Action.WORK_READ:
            return client.get(f"/v1/works/{work}", headers=h)
        case Action.WORK_UPDATE:
            return client.patch(f"/v1/works/{work}", json={"title": "Renamed"}, headers=h)
        case Action.PREFERENCE_SET:
            return client.post(
                f"/v1/works/{work}/preferences", json={"purpose": "train-ai", "value": "deny"}, headers=h
            )
        case Action.LOOKUP:
            return client.post("/v1/lookup", json={"text": "anything at all"}, headers=h)
        case Action.LOG_READ:
            return client.get(f"/v1/log/preference-proof?work={world['theirs']}", headers=h)
        case Action.LOG_CHECKPOINT:
            return client.post("/v1/log/checkpoint", headers=h)
    raise AssertionError(action)


CELLS = [(r, a, o) for r in ROLES for a in Action for o in (True, False)]


@pytest.mark.parametrize(
    ("role", "action", "owner"),
    CELLS,
    ids=[f"{r.value}-{a.value}-{'own' if o else 'other'}" for r, a, o in CELLS],
)
def test_matrix_cell(client: TestClient, ca: Copyalign, world: dict, role: Role, action: Action, owner: bool) -> None:
    ca.ledger.checkpoint()
    r = _request(client, ca, world, role, action, owner)
    # a role that cannot hold works has no "own work": its work requests target someone else's
    holds_works = allowed(role, Action.WORK_REGISTER, owner=True)
    work_action = action in (Action.WORK_READ, Action.WORK_UPDATE, Action.PREFERENCE_SET)
    expected = allowed(role, action, owner=owner and (holds_works or not work_action))
    if expected:
        assert r.status_code < 400, (r.status_code, r.text)
    else:
        assert r.status_code == 403, (r.status_code, r.text)
        assert r.json()["error"]["code"] == "forbidden"
