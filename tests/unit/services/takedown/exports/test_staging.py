"""Crash-safe files with digests to log, and the check that keeps personal data out of them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from copyalign.errors import InvalidInputError
from copyalign.services.takedown.exports.public import check_public, check_public_files
from copyalign.services.takedown.exports.staging import SUMS, stage, sums


def test_nothing_is_under_its_final_name_until_published(tmp_path: Path) -> None:
    staged = stage(tmp_path, {"b.csv": b"x\n", "a.json": b"{}"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SHA256SUMS.partial", "a.json.partial", "b.csv.partial"]
    assert staged.digests == {"a.json": hashlib.sha256(b"{}").hexdigest(), "b.csv": hashlib.sha256(b"x\n").hexdigest()}
    staged.publish()
    assert sorted(p.name for p in tmp_path.iterdir()) == [SUMS, "a.json", "b.csv"]
    summary = (tmp_path / SUMS).read_bytes()
    assert summary == sums(staged.digests)
    assert summary.decode().splitlines() == [f"{staged.digests['a.json']}  a.json", f"{staged.digests['b.csv']}  b.csv"]
    assert staged.sha256 == hashlib.sha256(summary).hexdigest()  # one digest commits to every file


def test_a_discarded_stage_leaves_nothing(tmp_path: Path) -> None:
    stage(tmp_path, {"a.json": b"{}"}).discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "SHA256SUMS", "x.partial", ""])
def test_only_plain_file_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInputError):
        stage(tmp_path, {name: b""})
    with pytest.raises(InvalidInputError):
        stage(tmp_path, {})


@pytest.mark.parametrize("text", ["mail alice@example.com", "alice%40example.org", "x&#64;mail.example.de"])
def test_an_email_address_is_never_published(text: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        check_public(text, field="claim")
    assert err.value.field == "claim"
    with pytest.raises(InvalidInputError, match="page.html"):
        check_public_files({"ok.csv": b"1,2", "page.html": text.encode()})


def test_ordinary_text_passes() -> None:
    check_public("Median time to action: 3.5 hours (trusted flaggers @ 1.2 h); see §512(i).", field="claim")
    check_public_files({"a.csv": b"period,indicator\n2026,notices_received\n"})
