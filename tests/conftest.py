"""Shared fixtures. Integration tests run once per database backend: SQLite and PostgreSQL.

``COPYALIGN_TEST_DATABASES`` picks the backends (default ``sqlite,postgresql``) and
``COPYALIGN_TEST_POSTGRES_URL`` the server (default the local one on 127.0.0.1:5432, database ``test``).
Each PostgreSQL test gets its own schema, dropped afterwards, so tests never see each other's rows. If the
PostgreSQL server is down the tests fail (they are not skipped): ``.ci/run`` starts it.

The ``ca`` fixture's database starts as a copy of one migrated once per test process (:class:`_Migrated`): the
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
import subprocess
from collections.abc import Iterator
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


class _Migrated:
    """A database at the newest migration, made once per test process and copied into each test's."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sqlite: Path | None = None
        self._pg_script: tuple[str, str] | None | bool = False  # False: not tried yet; None: not available

    def fill(self, url: str) -> None:
        """Copy the migrated database into the empty one at ``url`` (a no-op where no copy can be made: the
        store then migrates it, as it would any empty database)."""
        if os.environ.get("COPYALIGN_TEST_MIGRATE_EACH") == "1":
            return
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            if not path.exists():  # a fixture before this one may have opened it already (``copyalign init``)
                shutil.copyfile(self._sqlite_template(), path)
            return
        script = self._pg_template()
        if script is None:
            return
        placeholder, sql = script
        schema = re.search(r"-csearch_path=(\w+)", unquote(url))
        assert schema is not None, url
        # a connection of its own, closed after (the script empties its search_path)
        with sa.create_engine(PG_URL, poolclass=NullPool).begin() as conn:
            tables = conn.execute(
                sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema.group(1)},
            ).scalar_one()
            if tables == 0:  # as for SQLite: only an empty database
                conn.exec_driver_sql(sql.replace(placeholder, schema.group(1)))

    def _sqlite_template(self) -> Path:
        if self._sqlite is None:
            path = self.root / "migrated.db"
            Store(f"sqlite:///{path}").dispose()  # closing the last connection checkpoints the WAL into the file
            self._sqlite = path
        return self._sqlite

    def _pg_template(self) -> tuple[str, str] | None:
        if self._pg_script is False:
            self._pg_script = self._dump_migrated_schema()
        return self._pg_script  # type: ignore[return-value]

    def _dump_migrated_schema(self) -> tuple[str, str] | None:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            return None
        url = sa.make_url(PG_URL)
        schema = f"tmpl_{secrets.token_hex(6)}"
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        try:
            Store(f"{PG_URL}?options={quote(f'-csearch_path={schema}')}").dispose()
            cmd = [pg_dump, "--schema", schema, "--no-owner", "--no-privileges", "--inserts",
                   "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres",
                   url.database or "postgres"]  # fmt: skip
            env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()
        if done.returncode != 0:  # e.g. a pg_dump older than the server: every test migrates instead
            return None
        # psql's meta-commands (\restrict) and the schema's own creation are not for a schema that exists
        lines = [ln for ln in done.stdout.splitlines() if not ln.startswith(("\\", "CREATE SCHEMA "))]
        return schema, "\n".join(lines)


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> _Migrated:
    return _Migrated(tmp_path_factory.mktemp("migrated"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def signer() -> Ed25519Signer:
    skey, _ = generate_key("test.copyalign/log")
    return Ed25519Signer.from_key(skey)


@pytest.fixture
def ca(
    db_url: str, clock: FakeClock, signer: Ed25519Signer, tmp_path: Path, migrated: _Migrated
) -> Iterator[Copyalign]:
    migrated.fill(db_url)
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
