"""``store.bulk.insert_rows``: a ``COPY`` on PostgreSQL stores exactly what an ``executemany`` insert stores.

Bulk registration writes its works, revisions, log entries and tree nodes with it. Each column type's own bind
processing runs first (JSON as SQLAlchemy writes it, aware datetimes in UTC, bytes, signed 64-bit integers,
NULLs), so the stored rows read back identical, text for text, to the same rows inserted the usual way; and a
NUL is refused with the same error the store's statement hook gives, writing nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, insert

from copyalign.context import Copyalign
from copyalign.errors import InvalidInputError
from copyalign.store.bulk import COPY_MIN, insert_rows
from copyalign.store.models import LogNode, Party, Work, WorkRevision

TEXT_COLUMNS = "SELECT {} FROM works ORDER BY log_index"
COLUMNS = [
    "id", "holder_id", "kind", "title", "creators::text", "identifiers::text", "media_type", "size_bytes", "sha256",
    "norm_sha256", "iscc", "iscc_content", "band0", "band3", "width", "height", "characters", "created_at::text",
    "updated_at::text", "log_index",
]  # fmt: skip


def _rows(n: int, holder: str, tag: str, start: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    at = datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=timezone(timedelta(hours=8)))  # stored in UTC
    works, revisions = [], []
    for i in range(n):
        wid = f"wrk_{tag}{i:05d}"
        works.append(
            {
                "id": wid,
                "holder_id": holder,
                "kind": "image" if i % 2 else "text",
                "title": f"Tïtle \\ {i}\t'\"\n漢字 🎨",  # COPY's own escapes: backslash, tab, newline
                "creators": ["Ann", "Bø \\N", "\u00e9"] if i % 3 else [],
                "identifiers": {"isbn": "9780306406157", "note": "a\\b"} if i % 2 else {},
                "media_type": "text/plain; charset=utf-8",
                "size_bytes": 2**40 + i,
                "sha256": f"{tag}{i:063d}"[-64:],
                "norm_sha256": None if i % 2 else "ab" * 32,
                "iscc": "ISCC:KACSKDNZNYGUUF5AXOQWVQ6AV4TJQHDE5N5MC4B5OUQOGHV4RHNYJIY",
                "iscc_content": -(2**63) + i if i % 2 else 2**63 - 1 - i,
                "band0": i % 65536,
                "band1": 0,
                "band2": 1,
                "band3": 65535,
                "width": 64 if i % 2 else None,
                "height": 48 if i % 2 else None,
                "characters": None if i % 2 else 1000 + i,
                "fingerprint_version": 1,
                "revision": 1,
                "created_at": at,
                "updated_at": at,
                "log_index": start + i,
            }
        )
        meta = {"title": works[-1]["title"], "creators": works[-1]["creators"], "identifiers": {}}
        revisions.append(
            {"work_id": wid, "revision": 1, "actor_id": holder, "recorded_at": at, "log_index": start + i,
             "metadata_json": meta}
        )  # fmt: skip
    return works, revisions


def test_copy_stores_what_executemany_stores(ca: Copyalign, operator: object) -> None:
    n = COPY_MIN + 5
    with ca.store.read() as s:
        holder = s.execute(Party.__table__.select().limit(1)).mappings().one()["id"]
    copied, copied_revisions = _rows(n, holder, "c", 0)
    usual, usual_revisions = _rows(n, holder, "u", n)
    with ca.store.write() as s:
        conn = s.connection()
        insert_rows(conn, Work, copied)
        insert_rows(conn, WorkRevision, copied_revisions)
        conn.execute(insert(Work), usual)
        conn.execute(insert(WorkRevision), usual_revisions)
        nodes = [{"level": 40, "idx": 2**40 + i, "hash": bytes([i]) * 32 + b"\\\x00\n"} for i in range(n)]
        insert_rows(conn, LogNode, nodes)
    cast = ca.store.is_sqlite
    columns = [c.removesuffix("::text") if cast else c for c in COLUMNS]
    with ca.store.read() as s:
        conn = s.connection()
        rows = [list(r) for r in conn.exec_driver_sql(TEXT_COLUMNS.format(", ".join(columns))).all()]
        meta = "metadata_json" if cast else "metadata_json::text"
        revisions = conn.exec_driver_sql(
            f"SELECT {meta}, recorded_at, actor_id FROM work_revisions ORDER BY log_index"  # noqa: S608 - constants
        ).all()
        stored = conn.exec_driver_sql("SELECT level, idx, hash FROM log_nodes WHERE level = 40 ORDER BY idx").all()
    assert len(rows) == 2 * n
    for a, b in zip(rows[:n], rows[n:], strict=True):
        assert a[0].replace("wrk_c", "wrk_u") == b[0]
        assert [x for j, x in enumerate(a) if j not in (0, 8, 19)] == [
            x for j, x in enumerate(b) if j not in (0, 8, 19)
        ]
    assert [tuple(r) for r in revisions[:n]] == [tuple(r) for r in revisions[n:]]
    assert [(r[0], r[1], bytes(r[2])) for r in stored] == [(d["level"], d["idx"], d["hash"]) for d in nodes]


@pytest.mark.parametrize("count", [COPY_MIN - 1, COPY_MIN + 1], ids=["executemany", "copy"])
def test_a_nul_is_refused_and_nothing_is_written(ca: Copyalign, operator: object, count: int) -> None:
    with ca.store.read() as s:
        holder = s.execute(Party.__table__.select().limit(1)).mappings().one()["id"]
    works, _ = _rows(count, holder, "n", 0)
    works[-1]["title"] = "Ann\x00"
    with pytest.raises(InvalidInputError) as caught, ca.store.write() as s:
        insert_rows(s.connection(), Work, works)
    assert caught.value.code == "nul_character"
    with ca.store.write() as s:
        assert s.execute(delete(Work)).rowcount == 0  # type: ignore[attr-defined]
