"""The suite's own isolation: a pooled PostgreSQL schema comes back with the migration's rows and nothing else,
and one whose shape a test changed is never handed out again (``tests/conftest.py``, ``_SchemaPool``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.conftest import Migrated, _admin, _SchemaPool, pg_url


@pytest.fixture
def pool(migrated: Migrated, monkeypatch: pytest.MonkeyPatch) -> Iterator[_SchemaPool]:
    monkeypatch.delenv("COPYALIGN_TEST_MIGRATE_EACH", raising=False)  # the pool needs the migrated copy
    made = _SchemaPool()
    yield made
    made.close()


def _rows(schema: str) -> dict[str, int]:
    engine = sa.create_engine(pg_url(schema))
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            return {t: int(conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar_one()) for t in tables}  # noqa: S608
    finally:
        engine.dispose()


def test_a_schema_given_back_holds_only_the_migrations_rows(pool: _SchemaPool, migrated: Migrated) -> None:
    schema = pool.take(migrated)
    assert schema is not None
    fresh = _rows(schema)
    assert fresh["alembic_version"] == 1
    engine = sa.create_engine(pg_url(schema))
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO parties (id, name, role, email, created_at, log_index)"
            " VALUES ('pty_x', 'Left behind', 'rights_holder', NULL, now(), 0)"
        )
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'tampered'")
    engine.dispose()
    pool.give_back(schema, migrated)
    assert pool.take(migrated) == schema  # reused
    assert _rows(schema) == fresh
    with sa.create_engine(pg_url(schema)).connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one() != "tampered"


def test_a_schema_whose_shape_changed_is_dropped_not_reused(pool: _SchemaPool, migrated: Migrated) -> None:
    schema = pool.take(migrated)
    assert schema is not None
    with _admin().begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE {schema}.parties ADD COLUMN extra text")
    pool.give_back(schema, migrated)
    assert schema not in pool.free
    with _admin().connect() as conn:
        found = conn.execute(sa.text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema})
        assert found.scalar_one() == 0
