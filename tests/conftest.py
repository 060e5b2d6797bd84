"""Shared fixtures. Integration tests run once per database backend: SQLite and PostgreSQL.

``COPYALIGN_TEST_DATABASES`` picks the backends (default ``sqlite,postgresql``) and
``COPYALIGN_TEST_POSTGRES_URL`` the server (default the local one on 127.0.0.1:5432, database ``test``).
Each PostgreSQL test gets its own schema, dropped afterwards, so tests never see each other's rows. If the
PostgreSQL server is down the tests fail (they are not skipped): ``.ci/run`` starts it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from copyalign.clock import FakeClock
from copyalign.context import Copyalign, connect
from copyalign.core.log.checkpoint import Ed25519Signer, generate_key
from copyalign.policy import load_policy
from copyalign.services.registry.parties import Principal
from copyalign.settings import Settings
from copyalign.store.blobs import MemoryBlobStore

# No test depends on wall time: Hypothesis's default 200 ms deadline per example would make every property test a
# timing test on a loaded machine (and under pytest-xdist). The "too slow" health check is a timing check too.
# Loaded here, before any test module builds its @settings, so that they inherit it; HYPOTHESIS_PROFILE picks
# another registered profile.
hypothesis_settings.register_profile("copyalign", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "copyalign"))

BACKENDS = [b.strip() for b in os.environ.get("COPYALIGN_TEST_DATABASES", "sqlite,postgresql").split(",") if b]
PG_URL = os.environ.get("COPYALIGN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    schema = f"t_{secrets.token_hex(6)}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield f"{PG_URL}?options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def signer() -> Ed25519Signer:
    skey, _ = generate_key("test.copyalign/log")
    return Ed25519Signer.from_key(skey)


@pytest.fixture
def ca(db_url: str, clock: FakeClock, signer: Ed25519Signer, tmp_path: Path) -> Iterator[Copyalign]:
    settings = Settings(
        database_url=db_url,
        data_dir=str(tmp_path / "data"),
        log_origin="test.copyalign/log",
        max_upload_bytes=2 * 1024 * 1024,
        max_image_pixels=4_000_000,
    )
    ca = connect(settings, clock=clock, signer=signer, blobs=MemoryBlobStore(), policy=load_policy("cn"))
    yield ca
    ca.close()


@pytest.fixture
def operator(ca: Copyalign) -> Principal:
    party = ca.parties.create(None, name="Test CMO", role="operator")
    ca.parties.issue_key(None, party.id)
    op = ca.parties.operator()
    assert op is not None
    return op


def make_party(ca: Copyalign, operator: Principal, role: str, name: str | None = None) -> tuple[Principal, str]:
    """A party of ``role`` and its API key."""
    view = ca.parties.create(operator, name=name or f"{role} {secrets.token_hex(2)}", role=role)
    key = ca.parties.issue_key(operator, view.id)
    return ca.parties.authenticate(key.secret), key.secret
