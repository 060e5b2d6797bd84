from __future__ import annotations

import pytest

from copyalign.core.registry.identifiers import canonical, canonical_all
from copyalign.errors import InvalidInputError


@pytest.mark.parametrize(
    ("scheme", "raw", "want"),
    [
        ("isbn", "0-306-40615-2", "9780306406157"),
        ("isbn", "978-0-306-40615-7", "9780306406157"),
        ("isbn", "0-8044-2957-X", "9780804429573"),
        ("ISRC", "us-s1z-99-00001", "USS1Z9900001"),
        ("iswc", "T-034.524.680-1", "T0345246801"),
        ("doi", "https://doi.org/10.1000/XYZ123", "10.1000/xyz123"),
        ("doi", "doi:10.48550/arXiv.2202.07646", "10.48550/arxiv.2202.07646"),
        ("url", "https://example.org/poem", "https://example.org/poem"),
    ],
)
def test_valid_identifiers_are_canonicalised(scheme: str, raw: str, want: str) -> None:
    assert canonical(scheme, raw) == want


@pytest.mark.parametrize(
    ("scheme", "raw"),
    [
        ("isbn", "0-306-40615-3"),  # bad check digit
        ("isbn", "978-0-306-40615-8"),
        ("isrc", "US-S1Z-99-0000"),
        ("iswc", "T-034.524.680-2"),
        ("doi", "11.1000/xyz"),
        ("url", "ftp://example.org/x"),
        ("url", "not a url"),
    ],
)
def test_invalid_identifiers_name_the_scheme(scheme: str, raw: str) -> None:
    with pytest.raises(InvalidInputError) as e:
        canonical(scheme, raw)
    assert e.value.field == f"identifiers.{scheme}"


def test_unknown_scheme() -> None:
    with pytest.raises(InvalidInputError, match="unknown identifier scheme"):
        canonical_all({"issn": "1234-5678"})
