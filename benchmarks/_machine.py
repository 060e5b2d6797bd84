"""Machine facts recorded with every benchmark result, so figures are compared only like with like."""

from __future__ import annotations

import os
import platform
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import quote


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(packages: tuple[str, ...] = ("copyalign", "sqlalchemy", "psycopg", "iscc-core", "numpy")) -> dict:
    """CPU model (``/proc/cpuinfo``), core count, platform, Python, ``packages``' versions and a UTC timestamp.

    Example:
        >>> machine_info(("sqlalchemy",))["packages"]  # doctest: +SKIP
        {'sqlalchemy': '2.1.9'}
    """
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    """A URL of an empty database: a new SQLite file, or a new PostgreSQL schema dropped afterwards."""
    import sqlalchemy as sa

    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{secrets.token_hex(3)}.db'}"
        return
    schema = f"bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG)
    with admin.begin() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as c:
            c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
