"""The log under concurrent writers, and tampering with the database itself."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import update

from copyalign.context import Copyalign
from copyalign.errors import VerificationError
from copyalign.services.log.bundle import verify_store
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
