from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from copyalign.context import Copyalign
from copyalign.server import create_app
from copyalign.services.registry.parties import Principal
from tests.conftest import make_party


@pytest.fixture
def client(ca: Copyalign) -> Iterator[TestClient]:
    with TestClient(create_app(ca, checkpoints=False)) as c:
        yield c


@pytest.fixture
def op_key(ca: Copyalign) -> str:
    party = ca.parties.create(None, name="Test CMO", role="operator")
    return ca.parties.issue_key(None, party.id).secret


@pytest.fixture
def holder(ca: Copyalign, op_key: str) -> tuple[Principal, str]:
    op = ca.parties.authenticate(op_key)
    return make_party(ca, op, "rights_holder", "Alice Author")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def png(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    img = Image.new("RGB", size, colour)
    for x in range(0, size[0], 4):
        for y in range(size[1]):
            img.putpixel((x, y), ((x * 7) % 255, (y * 5) % 255, 90))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
