"""The database seam: one :class:`Store` per database URL, migrations applied on open.

Two details make the same service code correct on both databases:

* **SQLite** runs in WAL mode with ``synchronous=FULL`` (a committed registration survives a power cut, not
  only a crash) and a busy timeout. Write transactions start with ``BEGIN IMMEDIATE`` so that two writers
  queue for the lock instead of both reading the log size and one failing at commit; readers use a plain
  ``BEGIN`` and never block writers.
* **NUL characters** are refused in every string parameter on both databases (:func:`_refuse_nul`):
  PostgreSQL's text columns cannot hold one and SQLite's can, so without the check the same input is stored on
  one and a driver error on the other.
* **PostgreSQL** serialises log appends with ``SELECT … FOR UPDATE`` on the single ``log_state`` row (see
  ``services.log.ledger``), so two API workers can never fork the tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import SQLAlchemyError as _SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import ClauseElement

from copyalign.errors import ConfigurationError, InvalidInputError, StoreUnavailableError

SQLAlchemyError = _SQLAlchemyError


def _normalise_url(url: str) -> str:
    """Accept ``postgresql://`` as shorthand for the psycopg 3 driver we ship."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # one statement on its own (the API key lookup of every request): no BEGIN … ROLLBACK around it
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("copyalign_write", False) else "BEGIN")


def _has_nul(params: Any) -> bool:
    if isinstance(params, str):
        return "\x00" in params
    items = params.values() if isinstance(params, dict) else params if isinstance(params, list | tuple) else ()
    for v in items:
        if isinstance(v, str):
            if "\x00" in v:
                return True
        elif isinstance(v, dict | list | tuple) and _has_nul(v):
            return True
    return False


def _refuse_nul(engine: Engine) -> None:
    """The last line behind the API's own checks (a body's strings, the URL's parameters, which name the field):
    whatever else brings a NUL to a statement (a form field, a file read by the CLI) gets the same clear refusal
    rather than PostgreSQL's driver error, and nothing of its transaction is written."""

    @event.listens_for(engine, "before_cursor_execute")
    def _check(_conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if _has_nul(parameters):
            raise InvalidInputError(
                "a value contains a NUL character (U+0000), which no text field can hold", code="nul_character"
            )


class Store:
    """Engine, sessions and migrations for one database.

    Example:
        >>> store = Store("sqlite://")  # doctest: +SKIP
        >>> with store.write() as s: ...  # doctest: +SKIP
    """

    def __init__(self, url: str, *, migrate: bool = True, pool_size: int = 5) -> None:
        self.url = _normalise_url(url)
        try:
            parsed = make_url(self.url)
        except Exception as exc:
            raise ConfigurationError(f"invalid database URL {url!r}: {exc}") from exc
        self.dialect = parsed.get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise ConfigurationError(f"unsupported database {self.dialect!r}: use sqlite or postgresql")
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            else:
                raise ConfigurationError("an in-memory SQLite database cannot be shared; give a file path")
        else:
            kwargs.update(pool_size=pool_size, pool_pre_ping=True)
        self.engine = create_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _sqlite_events(self.engine)
        _refuse_nul(self.engine)
        self._write_engine = self.engine.execution_options(copyalign_write=True)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self._write_engine, expire_on_commit=False)
        self._compiled: dict[ClauseElement, tuple[str, tuple[str, ...] | None]] = {}
        if migrate:
            self.migrate()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def migrate(self) -> None:
        from copyalign.store.migrate import upgrade

        try:
            upgrade(self.engine)
        except OperationalError as exc:
            raise StoreUnavailableError(f"cannot open database {self.safe_url}: {exc.orig}") from exc

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: commits on success, rolls back on any exception."""
        with self._writer() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    def read_one(self, statement: ClauseElement, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a read, on a pooled driver connection, outside any transaction.

        For the reads every request makes (an API key's owner): a SQLAlchemy ``Connection`` with its events
        and reset costs ~100 µs on SQLite where the query itself costs ~10 µs, and on PostgreSQL a
        transaction is two more round trips. The statement is compiled once per store and cached. What it
        skips is the ``before_cursor_execute`` NUL check: callers pass parameters they have validated.
        """
        compiled = self._compiled.get(statement)
        if compiled is None:
            c: Any = statement.compile(self.engine)  # a SQLCompiler: its positiontup is the ? order
            positional = self.engine.dialect.positional
            compiled = self._compiled[statement] = (str(c), tuple(c.positiontup or ()) if positional else None)
        sql, order = compiled
        args: Any = tuple(params[k] for k in order) if order is not None else params
        conn = self.engine.raw_connection()
        try:
            driver: Any = conn.driver_connection
            if not self.is_sqlite:  # SQLite connections already are (we issue BEGIN ourselves)
                driver.autocommit = True  # one round trip instead of BEGIN, SELECT, ROLLBACK
            try:
                cur = conn.cursor()
                cur.execute(sql, args)
                row = cur.fetchone()
                cur.close()
            finally:
                if not self.is_sqlite:
                    driver.autocommit = False  # as every other user of the pool expects it
        finally:
            conn.close()
        return None if row is None else tuple(row)

    def dispose(self) -> None:
        self.engine.dispose()
