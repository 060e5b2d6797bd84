"""Apply the Alembic migrations that ship inside the package, on the store's own connection.

Opening a store that is already at the newest revision is the common case (every CLI command, every test):
:func:`current_head` reads the migration files' ``revision`` / ``down_revision`` lines and
:func:`needs_upgrade` compares the database's ``alembic_version`` with it, so that case costs one query and
never imports Alembic (a third of a second of a short command's start-up).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r'^revision\s*=\s*["\']([^"\']+)["\']', re.M)
_DOWN = re.compile(r'^down_revision\s*=\s*(?:["\']([^"\']+)["\']|None)', re.M)


@lru_cache(maxsize=1)
def current_head() -> str | None:
    """The single head of the shipped migrations (None if they do not form one chain: let Alembic decide)."""
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text("utf-8")
        rev, down = _REVISION.search(source), _DOWN.search(source)
        if rev is None or down is None:
            return None
        revisions[rev.group(1)] = down.group(1)
    heads = set(revisions) - {d for d in revisions.values() if d is not None}
    return next(iter(heads)) if len(heads) == 1 else None


def needs_upgrade(engine: Engine) -> bool:
    """Whether the database is not yet at the shipped head (an empty database, or an older revision)."""
    head = current_head()
    if head is None:
        return True
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return True
        found = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
    return found != [head]


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    if revision == "head" and not needs_upgrade(engine):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
