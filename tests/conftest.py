"""Shared fixtures. Integration tests run once per database backend: SQLite and PostgreSQL.

``COPYALIGN_TEST_DATABASES`` picks the backends (default ``sqlite,postgresql``) and
``COPYALIGN_TEST_POSTGRES_URL`` the server (default the local one on 127.0.0.1:5432, database ``test``).
Each PostgreSQL test gets its own schema, dropped afterwards, so tests never see each other's rows. If the
PostgreSQL server is down the tests fail (they are not skipped): ``.ci/run`` starts it.

The ``ca`` fixture's database starts as a copy of one migrated once per test process (:class:`Migrated`): the
SQLite file copied, the PostgreSQL schema restored from ``pg_dump`` of a migrated one. The migrations ran for
0.3-1 s per test before, about half of an API test's time; the copy is the same schema and rows
(``alembic_version`` included), and the migrations themselves still run, once per process and in the tests
that open a store of their own. ``COPYALIGN_TEST_MIGRATE_EACH=1`` migrates every test's database instead.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy.pool import NullPool

from copyalign.clock import FakeClock
from copyalign.context import Copyalign, connect
from copyalign.core.log.checkpoint import Ed25519Signer, generate_key
from copyalign.policy import load_policy
from copyalign.services.registry.parties import Principal
from copyalign.settings import Settings
from copyalign.store.blobs import MemoryBlobStore
from copyalign.store.db import Store

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


def schema_of(url: str) -> str:
    """The schema of one of :func:`db_url`'s PostgreSQL URLs."""
    found = re.search(r"-csearch_path=(\w+)", unquote(url))
    assert found is not None, url
    return found.group(1)


@dataclass(frozen=True)
class DatabaseCopy:
    """A database's rows at one moment, to put into an empty database of the same backend: a SQLite file (the
    backup API's consistent copy of an open database), or a PostgreSQL schema as ``pg_dump`` writes it."""

    sqlite: Path | None = None
    pg: tuple[str, str] | None = None  # the dumped schema's name and the script

    @classmethod
    def take(cls, url: str, dest: Path) -> DatabaseCopy | None:
        """A copy of the database at ``url`` (``dest``: where a SQLite copy goes); ``None`` where none can be
        made (no ``pg_dump``, or one that refuses the server's version)."""
        if url.startswith("sqlite:///"):
            with sqlite3.connect(url.removeprefix("sqlite:///")) as src, sqlite3.connect(dest) as dst:
                src.backup(dst)
            return cls(sqlite=dest)
        schema = schema_of(url)
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            return None
        pg = sa.make_url(PG_URL)
        cmd = [pg_dump, "--schema", schema, "--no-owner", "--no-privileges", "--inserts",
               "-h", pg.host or "127.0.0.1", "-p", str(pg.port or 5432), "-U", pg.username or "postgres",
               pg.database or "postgres"]  # fmt: skip
        env = {**os.environ, **({"PGPASSWORD": pg.password} if pg.password else {})}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603
        if done.returncode != 0:
            return None
        # psql's meta-commands (\restrict) and the schema's own creation are not for a schema that exists
        lines = [ln for ln in done.stdout.splitlines() if not ln.startswith(("\\", "CREATE SCHEMA "))]
        return cls(pg=(schema, "\n".join(lines)))

    def put(self, url: str) -> None:
        """Into the database at ``url`` if it is still empty (a fixture before may have opened it already, e.g.
        with ``copyalign init``: it is then left as it is)."""
        if self.sqlite is not None:
            path = Path(url.removeprefix("sqlite:///"))
            if not path.exists():
                shutil.copyfile(self.sqlite, path)
            return
        assert self.pg is not None
        dumped, script = self.pg
        schema = schema_of(url)
        # a connection of its own, closed after (the script empties its search_path)
        with sa.create_engine(PG_URL, poolclass=NullPool).begin() as conn:
            tables = conn.execute(
                sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"), {"s": schema}
            ).scalar_one()
            if tables == 0:
                conn.exec_driver_sql(script.replace(dumped, schema))


class Migrated:
    """A database at the newest migration, made once per test process and copied into each test's."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._copies: dict[str, DatabaseCopy | None] = {}

    def fill(self, url: str) -> None:
        """Copy the migrated database into the empty one at ``url`` (a no-op where no copy can be made: the
        store then migrates it, as it would any empty database)."""
        if os.environ.get("COPYALIGN_TEST_MIGRATE_EACH") == "1":
            return
        backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        if backend not in self._copies:
            self._copies[backend] = self._migrate_one(backend)
        copy = self._copies[backend]
        if copy is not None:
            copy.put(url)

    def _migrate_one(self, backend: str) -> DatabaseCopy | None:
        if backend == "sqlite":
            url = f"sqlite:///{self.root / 'migrating.db'}"
            Store(url).dispose()
            return DatabaseCopy.take(url, self.root / "migrated.db")
        schema = f"tmpl_{secrets.token_hex(6)}"
        admin = sa.create_engine(PG_URL, poolclass=NullPool)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            url = f"{PG_URL}?options={quote(f'-csearch_path={schema}')}"
            Store(url).dispose()
            return DatabaseCopy.take(url, self.root / "unused")
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Migrated:
    return Migrated(tmp_path_factory.mktemp("migrated"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def signer() -> Ed25519Signer:
    skey, _ = generate_key("test.copyalign/log")
    return Ed25519Signer.from_key(skey)


@pytest.fixture
def ca(db_url: str, clock: FakeClock, signer: Ed25519Signer, tmp_path: Path, migrated: Migrated) -> Iterator[Copyalign]:
    migrated.fill(db_url)
    ca = make_ca(db_url, clock, signer, tmp_path)
    yield ca
    ca.close()


def make_ca(
    db_url: str, clock: FakeClock, signer: Ed25519Signer, tmp_path: Path, blobs: MemoryBlobStore | None = None
) -> Copyalign:
    """The services the ``ca`` fixture gives, over ``db_url`` as it is."""
    settings = Settings(
        database_url=db_url,
        data_dir=str(tmp_path / "data"),
        log_origin="test.copyalign/log",
        max_upload_bytes=2 * 1024 * 1024,
        max_image_pixels=4_000_000,
    )
    return connect(settings, clock=clock, signer=signer, blobs=blobs or MemoryBlobStore(), policy=load_policy("cn"))


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
