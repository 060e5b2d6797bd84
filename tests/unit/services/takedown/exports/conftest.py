"""Statements and a stub database shared by the export tests."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from copyalign.core.takedown.sor import StatementOfReasons, copyright_statement
from copyalign.core.takedown.sor_vocab import AutomatedDecision, SourceType
from copyalign.services.takedown.exports.dsa_stub import DsaStub
from copyalign.services.takedown.exports.sor_export import DsaClient

TOKEN = "test-token"


def statement(puid: str, **more: Any) -> StatementOfReasons:
    """A copyright decision on a generated output, as the desk would export it."""
    fields: dict[str, Any] = {
        "legal_ground": "Directive 2001/29/EC Art. 2 (reproduction)",
        "explanation": "The generated text reproduces a registered work's chorus verbatim.",
        "facts": "A rights holder's notice named a delivered output; the matching engine found a 40 % passage.",
        "content_date": date(2026, 5, 1),
        "application_date": date(2026, 5, 2),
        "source_type": SourceType.ARTICLE_16,
        "automated_detection": True,
        "automated_decision": AutomatedDecision.PARTIALLY,
    }
    return copyright_statement(puid=puid, **{**fields, **more})


@pytest.fixture
def stub() -> DsaStub:
    return DsaStub(token=TOKEN)


@pytest.fixture
def client(stub: DsaStub) -> Any:
    with DsaClient.dry_run(stub) as c:
        yield c
