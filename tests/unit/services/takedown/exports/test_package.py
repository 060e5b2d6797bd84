"""The exports package's public names, and every example in its docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

from copyalign.services.takedown import exports

MODULES = ("sor_export", "dsa_stub", "report_files", "dossier", "staging", "public")


def test_the_public_names_are_pinned() -> None:
    assert exports.__all__ == [
        "Claim",
        "DossierFacts",
        "DsaClient",
        "DsaStub",
        "ExportResult",
        "Factor",
        "LogRef",
        "Staged",
        "Submission",
        "claims_from_report",
        "render_dossier",
        "render_transparency_report",
        "write_dossier",
        "write_transparency_report",
    ]
    assert all(hasattr(exports, name) for name in exports.__all__)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"copyalign.services.takedown.exports.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
