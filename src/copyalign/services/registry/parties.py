"""Parties (operator, rights holders, developers, providers, auditors) and their API keys.

A key is ``ca_<key id>_<secret>``; only the SHA-256 of the secret is stored (the secret has 190 bits of
entropy, so a slow password hash would add nothing), and the full key is shown once, when issued. Lookups go
by key id, and the secret is compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select

from copyalign.core.authz import Action, Role, require
from copyalign.errors import AuthenticationError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import ServiceBase
from copyalign.services.log.ledger import Event, Receipt
from copyalign.store.models import ApiKey, Party

#: The actor recorded for what the system does on its own (the first operator's creation).
SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: the authenticated party and its role."""

    party_id: str
    role: Role
    name: str = ""
    key_id: str | None = None


@dataclass(frozen=True, slots=True)
class PartyView:
    id: str
    name: str
    role: Role
    created_at: datetime
    receipt: Receipt | None = None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    party_id: str
    secret: str  # the whole key, shown once
    receipt: Receipt


def _parse_role(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise InvalidInputError(
            f"unknown role {raw!r}; expected one of {', '.join(r.value for r in Role)}", field="role"
        ) from None


def _split_key(token: str) -> tuple[str, str]:
    parts = token.strip().split("_", 2)
    # the id goes to the database as it is (Store.read_one skips the NUL check): letters and digits only
    if len(parts) != 3 or parts[0] != "ca" or not (parts[1].isascii() and parts[1].isalnum()) or not parts[2]:
        raise AuthenticationError("malformed API key: expected ca_<id>_<secret>")
    return f"key_{parts[1]}", parts[2]


_KEY_LOOKUP = (
    select(ApiKey.secret_sha256, ApiKey.revoked_at, Party.id, Party.role, Party.name)
    .join(Party, Party.id == ApiKey.party_id)
    .where(ApiKey.id == bindparam("key_id"))
)


class PartyService(ServiceBase):
    def create(self, actor: Principal | None, *, name: str, role: str, email: str | None = None) -> PartyView:
        """Create a party. ``actor=None`` is the bootstrap: allowed only while no operator exists."""
        name = name.strip()
        if not name or len(name) > 300:
            raise InvalidInputError("name must be 1 to 300 characters", field="name")
        parsed = _parse_role(role)
        if email is not None and ("@" not in email or len(email) > 320):
            raise InvalidInputError(f"{email!r} is not an email address", field="email")
        with self.store.write() as s:
            if actor is None:
                has_operator = s.execute(
                    select(func.count()).select_from(Party).where(Party.role == Role.OPERATOR.value)
                ).scalar_one()
                if has_operator or parsed is not Role.OPERATOR:
                    raise AuthenticationError("only the first operator can be created without a key")
            else:
                require(actor.role, Action.PARTY_CREATE, owner=False)
            now = self.clock.now()
            party_id = new_id("pty")
            [receipt] = self.ledger.append(
                s,
                [
                    Event(
                        "party.created",
                        actor.party_id if actor else SYSTEM,
                        party_id,
                        {"name": name, "role": parsed.value, "email": email},
                    )
                ],
                at=now,
            )
            s.add(
                Party(
                    id=party_id,
                    name=name,
                    role=parsed.value,
                    email=email,
                    created_at=now,
                    log_index=receipt.index,
                )
            )
        return PartyView(party_id, name, parsed, now, receipt)

    def get(self, actor: Principal, party_id: str) -> PartyView:
        require(actor.role, Action.PARTY_READ, owner=actor.party_id == party_id)
        with self.store.read() as s:
            p = s.get(Party, party_id)
            if p is None:
                raise NotFoundError(f"no party {party_id}", field="party_id")
            return PartyView(p.id, p.name, Role(p.role), p.created_at)

    def list(self, actor: Principal) -> list[PartyView]:
        require(actor.role, Action.PARTY_READ, owner=False)
        with self.store.read() as s:
            rows = s.execute(select(Party).order_by(Party.id)).scalars()
            return [PartyView(p.id, p.name, Role(p.role), p.created_at) for p in rows]

    def operator(self) -> Principal | None:
        """The first operator: who the local CLI acts as on an embedded database."""
        with self.store.read() as s:
            p = s.execute(
                select(Party).where(Party.role == Role.OPERATOR.value).order_by(Party.created_at).limit(1)
            ).scalar()
            return None if p is None else Principal(p.id, Role.OPERATOR, p.name)

    # -- keys -------------------------------------------------------------------------------------------

    def issue_key(self, actor: Principal | None, party_id: str, *, label: str = "") -> IssuedKey:
        """Issue a key; ``actor=None`` only for the bootstrap key of the first operator."""
        if len(label) > 200:
            raise InvalidInputError("label must be at most 200 characters", field="label")
        with self.store.write() as s:
            party = s.get(Party, party_id)
            if party is None:
                raise NotFoundError(f"no party {party_id}", field="party_id")
            if actor is None:
                has_key = s.execute(
                    select(func.count()).select_from(ApiKey).where(ApiKey.party_id == party_id)
                ).scalar_one()
                if party.role != Role.OPERATOR.value or has_key:
                    raise AuthenticationError("a key can be issued without a key only to a new operator")
            else:
                require(actor.role, Action.KEY_ISSUE, owner=actor.party_id == party_id)
            key_id = new_id("key")
            secret = secrets.token_urlsafe(24)
            now = self.clock.now()
            [receipt] = self.ledger.append(
                s,
                [Event("key.issued", actor.party_id if actor else SYSTEM, key_id, {"party": party_id})],
                at=now,
            )
            s.add(
                ApiKey(
                    id=key_id,
                    party_id=party_id,
                    secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                    label=label,
                    created_at=now,
                    revoked_at=None,
                )
            )
        return IssuedKey(key_id, party_id, f"ca_{key_id[4:]}_{secret}", receipt)

    def revoke_key(self, actor: Principal, key_id: str) -> Receipt:
        with self.store.write() as s:
            key = s.get(ApiKey, key_id)
            if key is None:
                raise NotFoundError(f"no key {key_id}", field="key_id")
            require(actor.role, Action.KEY_REVOKE, owner=key.party_id == actor.party_id)
            if key.revoked_at is not None:
                raise InvalidInputError(f"key {key_id} is already revoked", field="key_id")
            now = self.clock.now()
            [receipt] = self.ledger.append(
                s, [Event("key.revoked", actor.party_id, key_id, {"party": key.party_id})], at=now
            )
            key.revoked_at = now
        return receipt

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise AuthenticationError("an API key is required: send 'Authorization: Bearer ca_…'")
        key_id, secret = _split_key(token)
        # every API request runs this: one statement on a driver connection outside any transaction, compiled
        # once (a tenth of the CPU of a SQLAlchemy Connection on SQLite; one round trip on PostgreSQL)
        row = self.store.read_one(_KEY_LOOKUP, {"key_id": key_id})
        digest = hashlib.sha256(secret.encode()).hexdigest()
        if row is None or not hmac.compare_digest(row[0], digest):
            raise AuthenticationError("unknown API key")
        _secret, revoked_at, party_id, role, name = row
        if revoked_at is not None:
            raise AuthenticationError("this API key was revoked")
        return Principal(party_id, Role(role), name, key_id)
