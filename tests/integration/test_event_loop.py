"""Nothing that can wait runs on a worker's event loop.

A ``copyalign serve`` worker answers every request on one event loop, and the per-request checks run on it
without a thread-pool hop (``copyalign.api.deps.on_loop``). Anything that can wait must leave the loop, or every
other request of that worker waits with it: a write (a bulk import, a registration, the user journey's flag
of a named user's prompt) can wait on the database's write lock for seconds, and an index refresh that is due
can take seconds after a bulk import and waits on the index lock another worker may hold. Each case here
records, inside the store's write and the index refresh, whether it runs on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from copyalign.context import Copyalign
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.works import WorkInput
from tests.conftest import make_party
from tests.integration.conftest import auth, png

TEXT = "The lantern keeper climbed the stair each night and counted the ships that passed below. " * 6
IMITATE = "Write a new story in the style of The Lantern Keeper's Daughter"


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def provider_key(ca: Copyalign, holder: tuple[Principal, str]) -> str:
    op = ca.parties.operator()  # the one the holder fixture made
    assert op is not None
    return make_party(ca, op, "provider", "Pixel Foundry AI")[1]


def _register(ca: Copyalign, holder: tuple[Principal, str], text: str, title: str) -> None:
    ca.works.register(holder[0], WorkInput(data=text.encode(), title=title))


def _spy(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[bool]:
    """Wrap ``owner.name``: each call records whether it ran on an event loop."""
    seen: list[bool] = []
    original: Callable[..., Any] = getattr(owner, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(_on_loop())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return seen


def test_registrations_over_http_write_off_the_event_loop(
    client: TestClient, ca: Copyalign, holder: tuple[Principal, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = holder
    writes = _spy(monkeypatch, ca.store, "write")
    lines = "\n".join(f'{{"title": "Part {i}", "text": "{TEXT} part {i}"}}' for i in range(3))
    r = client.post("/v1/works/import", content=lines.encode(), headers=auth(key))
    assert r.status_code == 201, r.text
    r = client.post(
        "/v1/works/upload", files={"file": ("a.png", png(), "image/png")}, data={"title": "Red"}, headers=auth(key)
    )
    assert r.status_code == 201, r.text
    assert writes and not any(writes), "a registration wrote on the event loop"


def test_a_due_index_refresh_runs_off_the_event_loop(
    client: TestClient,
    ca: Copyalign,
    holder: tuple[Principal, str],
    provider_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refreshes = _spy(monkeypatch, ca.matching, "refresh")
    blocklist = _spy(monkeypatch, ca.guard.blocklist, "refresh")
    _register(ca, holder, TEXT, "The Lantern Keeper's Daughter")
    ca.matching._checked = float("-inf")  # as when index_refresh_seconds have passed since the last check
    r = client.post("/v1/guard/output", json={"text": TEXT}, headers=auth(provider_key))
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "block"  # the work registered a moment ago is seen: the refresh ran
    assert refreshes and not any(refreshes), "the index refresh ran on the event loop"
    assert blocklist and not any(blocklist), "the blocklist refresh ran on the event loop"
    second = TEXT + " A second printing."
    _register(ca, holder, second, "Second")
    ca.matching._checked = float("-inf")
    upload = {"file": ("b.txt", second.encode(), "text/plain")}
    r = client.post("/v1/match/upload", files=upload, headers=auth(provider_key))
    assert r.status_code == 200, r.text
    assert r.json()["matches"], "the second work registered a moment ago is found: the refresh ran"
    assert len(refreshes) == 2 and not any(refreshes)


def test_a_named_users_flagged_prompt_is_recorded_off_the_event_loop(
    client: TestClient,
    ca: Copyalign,
    holder: tuple[Principal, str],
    provider_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _register(ca, holder, TEXT, "The Lantern Keeper's Daughter")
    ca.matching.refresh()
    assert ca.policy.journey.escalation, "the profile counts flagged prompts"
    writes = _spy(monkeypatch, ca.store, "write")
    r = client.post("/v1/guard/prompt", json={"prompt": IMITATE, "user": "dan"}, headers=auth(provider_key))
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "block"
    assert writes and not any(writes), "the user journey wrote on the event loop"
