"""The API key lookup every request makes: a driver connection outside any transaction (``Store.read_one``).

It borrows connections from the same pool as every write, so a connection it hands back must be exactly as
it took it: on PostgreSQL it switches the driver to autocommit for one statement, and a connection left that
way would make the next write transaction on it write half of what it was given when it fails. And since it
skips the store's NUL check, what it sends must already be safe: the key id is letters and digits or a 401.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from copyalign.context import Copyalign
from copyalign.errors import AuthenticationError
from copyalign.store.models import Party
from tests.integration.conftest import auth


def test_a_failed_write_after_key_lookups_writes_nothing(ca: Copyalign, op_key: str) -> None:
    for _ in range(3):  # the pool's connections, each borrowed and handed back by the lookup
        assert ca.parties.authenticate(op_key).role.value == "operator"
    for attempt in range(3):
        with pytest.raises(RuntimeError), ca.store.write() as s:
            now = datetime.now(UTC)
            s.add(Party(id=f"pty_half{attempt}", name="Half", role="operator", created_at=now, log_index=0))
            s.flush()  # the row is sent to the database inside the transaction
            raise RuntimeError("refused after the first statement")
    with ca.store.read() as s:
        assert s.scalars(select(Party.id).where(Party.id.like("pty_half%"))).all() == []


def test_the_lookup_sees_a_revocation_at_once(ca: Copyalign, op_key: str) -> None:
    op = ca.parties.authenticate(op_key)
    other = ca.parties.create(op, name="Developer", role="developer")
    key = ca.parties.issue_key(op, other.id)
    assert ca.parties.authenticate(key.secret).party_id == other.id
    ca.parties.revoke_key(op, key.key_id)
    with pytest.raises(AuthenticationError, match="revoked"):
        ca.parties.authenticate(key.secret)


@pytest.mark.parametrize(
    "token",
    [
        "ca_a'b_secret",  # quote
        "ca_a%b_secret",
        "ca_a\x00b_secret",  # NUL
        "ca_\u00e9t\u00e9_secret",  # letters, not ASCII
        "ca_a b_secret",
        "ca_\uff41\uff42_secret",  # full-width letters (isalnum, not ASCII)
    ],
)
def test_a_key_id_other_than_letters_and_digits_is_malformed(ca: Copyalign, token: str) -> None:
    with pytest.raises(AuthenticationError, match="malformed"):
        ca.parties.authenticate(token)


def test_over_http_a_malformed_key_is_a_401_that_names_the_form(client: TestClient, op_key: str) -> None:
    key_id = op_key.split("_")[1]
    forged = op_key.replace(key_id, key_id[:5] + "-" + key_id[5:], 1)
    r = client.get("/v1/me", headers=auth(forged))
    assert r.status_code == 401
    assert "ca_<id>_<secret>" in r.json()["error"]["message"]
    assert client.get("/v1/me", headers=auth(op_key)).status_code == 200
