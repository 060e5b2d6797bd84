"""Shared fixtures. Integration tests run once per database backend: SQLite and PostgreSQL.

``COPYALIGN_TEST_DATABASES`` picks the backends (default ``sqlite,postgresql``) and
``COPYALIGN_TEST_POSTGRES_URL`` the server (default the local one on 127.0.0.1:5432, database ``test``).
Each PostgreSQL test gets its own schema, so tests never see each other's rows: a new one, dropped afterwards,
or for a test that uses ``ca`` one from its process's pool, every row deleted and the migration's put back
before the next test gets it (:class:`_SchemaPool`). If the PostgreSQL server is down the tests fail (they are
not skipped): ``.ci/run`` starts it.

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
# CI (``.ci/run`` sets HYPOTHESIS_PROFILE=ci): the same examples on every run, so that a red CI is a change in the
# code, reproducible by running the same command, and never a new example drawn that day. Runs elsewhere keep
# drawing new examples, which is how generator and code defects are found (test_clocks' DST fold was one).
hypothesis_settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True, database=None
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "copyalign"))

BACKENDS = [b.strip() for b in os.environ.get("COPYALIGN_TEST_DATABASES", "sqlite,postgresql").split(",") if b]
PG_URL = os.environ.get("COPYALIGN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend; for a test that uses ``ca``, a PostgreSQL schema already
    migrated (from this process's pool, its tables emptied: see :class:`_SchemaPool`)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if "ca" in request.fixturenames:
        migrated: Migrated = request.getfixturevalue("migrated")
        pooled = _POOL.take(migrated)
        if pooled is not None:
            yield pg_url(pooled)
            _POOL.give_back(pooled, migrated)
            return
    schema = f"t_{secrets.token_hex(6)}"
    with _admin().begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield pg_url(schema)
    with _admin().begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


def schema_of(url: str) -> str:
    """The schema of one of :func:`db_url`'s PostgreSQL URLs."""
    found = re.search(r"-csearch_path=(\w+)", unquote(url))
    assert found is not None, url
    return found.group(1)


def _pg_dump(schema: str, *extra: str) -> str | None:
    """``pg_dump`` of one schema as SQL a connection can run (``None``: no ``pg_dump``, or one that refuses the
    server's version): psql's meta-commands (``\\restrict``) and the schema's own creation are left out."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return None
    pg = sa.make_url(PG_URL)
    cmd = [pg_dump, "--schema", schema, "--no-owner", "--no-privileges", "--inserts", *extra,
           "-h", pg.host or "127.0.0.1", "-p", str(pg.port or 5432), "-U", pg.username or "postgres",
           pg.database or "postgres"]  # fmt: skip
    env = {**os.environ, **({"PGPASSWORD": pg.password} if pg.password else {})}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if done.returncode != 0:
        return None
    return "\n".join(ln for ln in done.stdout.splitlines() if not ln.startswith(("\\", "CREATE SCHEMA ")))


_ADMIN: list[sa.Engine] = []


def _admin() -> sa.Engine:
    """This process's connections for making, emptying and dropping schemas (every name they use is qualified:
    a dump's script leaves a connection's search_path empty)."""
    if not _ADMIN:
        _ADMIN.append(sa.create_engine(PG_URL, pool_size=1))
    return _ADMIN[0]


def _tables(conn: sa.Connection, schema: str) -> list[str]:
    return list(
        conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = :s AND c.relkind IN ('r', 'p')"
            ),
            {"s": schema},
        ).scalars()
    )


@dataclass(frozen=True)
class DatabaseCopy:
    """A database's rows at one moment, to put into another database of the same backend: a SQLite file (the
    backup API's consistent copy of an open database), or a PostgreSQL schema as ``pg_dump`` writes it (whole,
    and its rows alone)."""

    sqlite: Path | None = None
    pg: tuple[str, str, str] | None = None  # the dumped schema's name, the whole script, the rows' script

    @classmethod
    def take(cls, url: str, dest: Path) -> DatabaseCopy | None:
        """A copy of the database at ``url`` (``dest``: where a SQLite copy goes); ``None`` where none can be
        made."""
        if url.startswith("sqlite:///"):
            with sqlite3.connect(url.removeprefix("sqlite:///")) as src, sqlite3.connect(dest) as dst:
                src.backup(dst)
            return cls(sqlite=dest)
        schema = schema_of(url)
        whole, rows = _pg_dump(schema), _pg_dump(schema, "--data-only")
        return None if whole is None or rows is None else cls(pg=(schema, whole, rows))

    def put(self, url: str, *, replace_rows: bool = False) -> None:
        """Into the database at ``url`` if it is still empty (a fixture before may have opened it already, e.g.
        with ``copyalign init``: it is then left as it is). ``replace_rows`` (PostgreSQL): into a database of
        the same schema, whose rows are all replaced by the copy's."""
        if self.sqlite is not None:
            path = Path(url.removeprefix("sqlite:///"))
            if not path.exists():
                shutil.copyfile(self.sqlite, path)
            return
        assert self.pg is not None
        dumped, whole, rows = self.pg
        schema = schema_of(url)
        with _admin().begin() as conn:
            tables = _tables(conn, schema)
            if not tables:
                conn.exec_driver_sql(whole.replace(dumped, schema))
            elif replace_rows:
                # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes every table and index a
                # new file (as slow as creating them). Foreign keys are not checked while the rows go and come
                # back (replica role), sequences are set by the rows' script.
                deletes = "".join(f"DELETE FROM {schema}.{t};" for t in tables)  # noqa: S608 - catalog names
                conn.exec_driver_sql(
                    "SET LOCAL lock_timeout = '5s'; SET LOCAL session_replication_role = replica;"
                    + deletes
                    + rows.replace(dumped, schema)
                )


def _shape(conn: sa.Connection, schema: str) -> str:
    """The schema's tables, indexes, columns and defaults, without its name: equal for two copies of one
    migration (``pg_catalog``: ``information_schema`` takes a tenth of a second)."""
    return str(
        conn.execute(
            sa.text(
                "SELECT md5(coalesce(string_agg(c.relname || '.' || c.relkind::text || '.' || a.attname || ':'"
                " || format_type(a.atttypid, a.atttypmod) || ':' || coalesce(replace(pg_get_expr(d.adbin,"
                " d.adrelid), :s, ''), ''), ',' ORDER BY c.relname, a.attnum), ''))"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
                " LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum WHERE n.nspname = :s"
            ),
            {"s": schema},
        ).scalar_one()
    )


class _SchemaPool:
    """Migrated PostgreSQL schemas, reused from test to test in this process.

    Creating a schema from the migrated copy is PostgreSQL creating some 40 tables (a quarter to half a second
    a test); giving one back empties its tables and puts the migration's rows back (tens of milliseconds). A
    schema whose shape a test changed (a column altered, a table added or dropped), or whose tables a leftover
    connection still holds, is dropped instead of reused.
    """

    def __init__(self) -> None:
        self.free: list[str] = []
        self.shape: str | None = None
        self.all: set[str] = set()

    def take(self, migrated: Migrated) -> str | None:
        copy = migrated.copy("postgresql")
        if copy is None:
            return None
        if self.free:
            return self.free.pop()
        schema = f"t_{secrets.token_hex(6)}"
        with _admin().begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        self.all.add(schema)
        copy.put(pg_url(schema))
        if self.shape is None:
            with _admin().connect() as conn:
                self.shape = _shape(conn, schema)
        return schema

    def give_back(self, schema: str, migrated: Migrated) -> None:
        copy = migrated.copy("postgresql")
        assert copy is not None
        try:
            with _admin().connect() as conn:
                same = _shape(conn, schema) == self.shape
            if same:
                copy.put(pg_url(schema), replace_rows=True)
                self.free.append(schema)
                return
        except sa.exc.OperationalError:  # a lock a test left behind: this one is not reused
            pass
        self.drop(schema)

    def drop(self, schema: str) -> None:
        self.all.discard(schema)
        with _admin().begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    def close(self) -> None:
        for schema in list(self.all):
            self.drop(schema)
        self.free.clear()


_POOL = _SchemaPool()


def pg_url(schema: str) -> str:
    return f"{PG_URL}?options={quote(f'-csearch_path={schema}')}"


class Migrated:
    """A database at the newest migration, made once per test process and copied into each test's."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._copies: dict[str, DatabaseCopy | None] = {}

    def fill(self, url: str) -> None:
        """Copy the migrated database into the empty one at ``url`` (a no-op where no copy can be made: the
        store then migrates it, as it would any empty database)."""
        copy = self.copy("sqlite" if url.startswith("sqlite") else "postgresql")
        if copy is not None:
            copy.put(url)

    def copy(self, backend: str) -> DatabaseCopy | None:
        """The migrated database's copy on ``backend`` (``None``: none, every test migrates its own)."""
        if os.environ.get("COPYALIGN_TEST_MIGRATE_EACH") == "1":
            return None
        if backend not in self._copies:
            self._copies[backend] = self._migrate_one(backend)
        return self._copies[backend]

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
            url = pg_url(schema)
            Store(url).dispose()
            return DatabaseCopy.take(url, self.root / "unused")
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Migrated]:
    yield Migrated(tmp_path_factory.mktemp("migrated"))
    _POOL.close()


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
