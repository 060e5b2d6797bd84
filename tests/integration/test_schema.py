"""The migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from copyalign.context import Copyalign
from copyalign.store.models import Base


def test_migrations_match_the_models(ca: Copyalign) -> None:
    # A model change without its migration (a missing index, say) would pass on a fresh test database built
    # from the models and fail on every deployed one upgraded by migrations; this compares the two.
    with ca.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
