"""Inserting many rows at once: ``COPY`` on PostgreSQL, an ``executemany`` insert on SQLite.

A bulk registration writes four rows per work (the work, its first revision, its log entry and, on average, one
tree node). Through ``executemany`` each row costs SQLAlchemy's and psycopg's per-row parameter handling and
PostgreSQL a parsed and planned ``INSERT``: 40 to 90 µs of this process and 30 to 90 µs of the server per work and
table in batches of 10^4 works. ``COPY FROM STDIN`` streams the same values with one statement (about half of
each); what the server stores is the same, since every value first goes through the column type's own bind
processing (the same JSON text, the same UTC timestamps).

``COPY`` does not pass SQLAlchemy's ``before_cursor_execute`` hook, so the NUL refusal that hook makes for every
statement (:func:`copyalign.store.db._refuse_nul`) is made here on the rows, with the same error.

Example:
    >>> insert_rows(session.connection(), Work, rows)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert

from copyalign.errors import InvalidInputError
from copyalign.store.db import _has_nul
from copyalign.store.models import Base

#: Fewer rows than this go through ``executemany``: a ``COPY`` is a statement and a round trip of its own.
COPY_MIN = 32

__all__ = ["COPY_MIN", "insert_rows"]


def insert_rows(conn: Connection, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts of the same columns) into ``model``'s table in ``conn``'s transaction."""
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model maps one table
        raise TypeError(f"{model.__name__} does not map a table")
    if not rows:
        return
    if conn.dialect.name != "postgresql" or len(rows) < COPY_MIN:
        conn.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    processors = [_once_per_object(table.c[name].type._cached_bind_processor(conn.dialect)) for name in names]
    # the values the driver gets, which the hook checks (a JSON column's value is its serialisation by then)
    values = [
        [v if p is None or v is None else p(v) for v, p in zip((row[n] for n in names), processors, strict=True)]
        for row in rows
    ]
    if _any_nul(values):
        raise InvalidInputError(
            "a value contains a NUL character (U+0000), which no text field can hold", code="nul_character"
        )
    columns = ", ".join(conn.dialect.identifier_preparer.quote(name) for name in names)
    statement = f"COPY {conn.dialect.identifier_preparer.format_table(table)} ({columns}) FROM STDIN"
    cursor: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for value in values:
                copy.write_row(value)
    finally:
        cursor.close()


def _once_per_object(process: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """``process``, run once for consecutive rows holding the same object: the rows of a bulk write share their
    timestamps, whose UTC conversion cost more than anything else done to a row here."""
    if process is None:
        return None
    last: list[Any] = [object(), None]

    def run(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return run


def _any_nul(values: Sequence[Sequence[Any]]) -> bool:
    """Whether any of the rows' values holds a NUL where the statement hook looks (``_has_nul``): its strings at
    once, then its containers."""
    if "\x00" in "".join([v for row in values for v in row if isinstance(v, str)]):
        return True
    return any(_has_nul(v) for row in values for v in row if isinstance(v, dict | list | tuple))
