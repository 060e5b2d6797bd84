"""The log under concurrent writers, and tampering with the database itself."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from copyalign.context import Copyalign
from copyalign.core.authz import Role
from copyalign.core.log import merkle
from copyalign.core.log.entry import entry_bytes, make_entry
from copyalign.errors import VerificationError
from copyalign.services.log.audit import audit_store
from copyalign.services.log.bundle import export_bundle, verify_bundle, verify_store
from copyalign.services.log.ledger import Event
from copyalign.store.models import LogEntry, LogNode


def test_concurrent_writers_never_fork_the_tree(ca: Copyalign) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                with ca.store.write() as s:
                    ca.ledger.append(s, [Event("test.event", f"writer-{n}", f"s-{n}-{i}", {"i": i})])
                if i % 10 == 0:
                    ca.ledger.checkpoint()
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ca.ledger.checkpoint()
    report = verify_store(ca.ledger)
    assert report.entries == 100


@pytest.mark.parametrize("what", ["entry", "leaf"])
def test_a_tampered_row_is_named_by_index(ca: Copyalign, what: str) -> None:
    with ca.store.write() as s:
        ca.ledger.append(s, [Event("test.event", "a", f"s{i}", {"i": i}) for i in range(40)])
    ca.ledger.checkpoint()
    with ca.store.write() as s:
        if what == "entry":
            s.execute(update(LogEntry).where(LogEntry.idx == 17).values(entry=b'{"forged":true}'))
        else:
            s.execute(update(LogNode).where(LogNode.level == 0, LogNode.idx == 23).values(hash=bytes(32)))
    with pytest.raises(VerificationError) as e:
        verify_store(ca.ledger)
    assert e.value.index == (17 if what == "entry" else 23)


# -- issue 20, finding 7: malformed rows, exact indexes from bundles, edits past the last checkpoint ----------


def _log(ca: Copyalign, n: int, *, start: int = 0) -> None:
    with ca.store.write() as s:
        ca.ledger.append(s, [Event("test.event", "a", f"s{i}", {"i": i}) for i in range(start, start + n)])


# PostgreSQL's bytea never holds text: a blob turned to text is a case only SQLite's type affinity allows
ON_SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        ("UPDATE log_entries SET entry = CAST(entry AS TEXT) WHERE idx = 5", 5),
        ("UPDATE log_entries SET entry = 'x' WHERE idx = 6", 6),
        ("UPDATE log_nodes SET hash = 'x' WHERE level = 0 AND idx = 7", 7),
        ("UPDATE log_entries SET payload = 'x' WHERE idx = 8", None),
        ("UPDATE log_state SET frontier = 'x'", 20),
    ],
)
@ON_SQLITE
def test_a_blob_turned_to_text_is_a_finding_not_a_traceback(
    ca: Copyalign, client: TestClient, sql: str, index: int | None
) -> None:
    _log(ca, 20)
    ca.ledger.checkpoint()
    with ca.store.write() as s:
        s.execute(text(sql))
    if index is None:  # the payload is outside the tree: the audit names it
        verify_store(ca.ledger)
        report = audit_store(ca.ledger, role=Role.OPERATOR)
        assert report.first is not None and report.first.index == 8 and "str" in report.first.message
        return
    with pytest.raises(VerificationError) as e:
        verify_store(ca.ledger)
    assert e.value.index == index and "not bytes" in str(e.value)
    report = audit_store(ca.ledger, role=Role.OPERATOR)  # the audit reports it too, and does not crash
    assert report.first is not None and report.first.index == index
    if sql.startswith("UPDATE log_entries"):  # the public API answers 422 naming the entry, never a 500
        r = client.get("/v1/log/entries?start=0&end=20")
        assert r.status_code == 422 and f"entry {index}" in r.json()["error"]["message"]


@ON_SQLITE
def test_the_cli_reports_a_text_column_without_a_traceback(db_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from copyalign.cli.main import app

    runner = CliRunner()
    base = ["--db", db_url, "--data-dir", str(tmp_path / "data")]
    assert runner.invoke(app, [*base, "init"]).exit_code == 0
    runner.invoke(app, [*base, "log", "checkpoint"])
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE log_entries SET entry = CAST(entry AS TEXT) WHERE idx = 1"))
    engine.dispose()
    r = runner.invoke(app, [*base, "log", "verify"])
    assert r.exit_code == 1 and "Traceback" not in r.output and "entry 1" in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def _bundle(ca: Copyalign, path: Path) -> list[dict]:
    with path.open("w", encoding="utf-8") as fh:
        export_bundle(ca.ledger, fh)
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, lines: list[dict]) -> None:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))


@pytest.mark.parametrize("bad", [0, 17, 38, 39])
def test_bundle_verify_names_the_first_bad_entry_not_a_range(ca: Copyalign, tmp_path: Path, bad: int) -> None:
    _log(ca, 2)
    ca.ledger.checkpoint()
    _log(ca, 38, start=2)
    ca.ledger.checkpoint()
    lines = _bundle(ca, tmp_path / "log.jsonl")
    forged = base64.b64encode(entry_bytes(make_entry("test.event", "2026-01-01T00:00:00.000000Z", "a", "x", b"{}")))
    lines[1 + bad]["entry"] = forged.decode()
    _write(tmp_path / "forged.jsonl", lines)
    with pytest.raises(VerificationError) as e:
        verify_bundle(tmp_path / "forged.jsonl", key=ca.ledger.verifier_key)
    assert e.value.index == bad, str(e.value)
    # a forger who also rewrote the bundle's stored leaf to match is located to the pair of siblings
    level0 = bytearray(base64.b64decode(lines[0]["nodes"][0]))
    level0[bad * 32 : (bad + 1) * 32] = merkle.leaf_hash(base64.b64decode(forged))
    lines[0]["nodes"][0] = base64.b64encode(bytes(level0)).decode()
    _write(tmp_path / "forged2.jsonl", lines)
    with pytest.raises(VerificationError) as e:
        verify_bundle(tmp_path / "forged2.jsonl", key=ca.ledger.verifier_key)
    assert e.value.index == bad - bad % 2 and f"entries {bad - bad % 2}..{bad - bad % 2 + 1}" in str(e.value)
    # a bundle without nodes (as written before) still fails, by the range
    del lines[0]["nodes"]
    _write(tmp_path / "old.jsonl", lines)
    with pytest.raises(VerificationError) as e:
        verify_bundle(tmp_path / "old.jsonl", key=ca.ledger.verifier_key)
    assert e.value.index == (0 if bad < 2 else 2)


def test_forged_nodes_in_a_bundle_cannot_clear_a_forged_entry(ca: Copyalign, tmp_path: Path) -> None:
    _log(ca, 16)
    ca.ledger.checkpoint()
    lines = _bundle(ca, tmp_path / "log.jsonl")
    lines[0]["nodes"] = [base64.b64encode(bytes(32 * (16 >> lv))).decode() for lv in range(5)]
    _write(tmp_path / "nodes.jsonl", lines)
    verify_bundle(tmp_path / "nodes.jsonl", key=ca.ledger.verifier_key)  # nodes are never trusted for the verdict
    lines[1 + 9]["entry"] = base64.b64encode(b'{"forged":true}').decode()
    _write(tmp_path / "both.jsonl", lines)
    with pytest.raises(VerificationError):
        verify_bundle(tmp_path / "both.jsonl", key=ca.ledger.verifier_key)


@pytest.mark.parametrize("bad", [40, 44, 49])
def test_an_edit_after_the_last_checkpoint_is_caught_by_the_frontier(ca: Copyalign, bad: int) -> None:
    _log(ca, 40)
    ca.ledger.checkpoint()
    _log(ca, 10, start=40)
    forged = entry_bytes(make_entry("test.event", "2026-01-01T00:00:00.000000Z", "a", "x", b"{}"))
    with ca.store.write() as s:  # the entry and its leaf row rewritten together, as a careful forger would
        s.execute(update(LogEntry).where(LogEntry.idx == bad).values(entry=forged))
        s.execute(update(LogNode).where(LogNode.level == 0, LogNode.idx == bad).values(hash=merkle.leaf_hash(forged)))
    with pytest.raises(VerificationError) as e:
        verify_store(ca.ledger)
    # the entry and its leaf agree, so the siblings cannot be told apart: the pair is named, first index first
    assert e.value.index == bad - bad % 2 and "frontier" in str(e.value)
    assert f"entries {bad - bad % 2}..{bad - bad % 2 + 1}" in str(e.value)
    with ca.store.write() as s:  # the leaf row alone rewritten back: the entry is named exactly
        s.execute(update(LogNode).where(LogNode.level == 0, LogNode.idx == bad).values(hash=bytes(32)))
        s.execute(update(LogEntry).where(LogEntry.idx == bad).values(entry=forged))
    with pytest.raises(VerificationError) as e:
        verify_store(ca.ledger)
    assert e.value.index == bad
