"""Signed notes and checkpoints, against the C2SP spec's and Go's published examples."""

from __future__ import annotations

import base64

import pytest

from copyalign.core.log.checkpoint import (
    Checkpoint,
    Ed25519Signer,
    NoteVerifier,
    generate_key,
    open_note,
    sign_note,
    verify_note,
)
from copyalign.errors import InvalidInputError, VerificationError

# golang.org/x/mod/sumdb/note package documentation (known-answer: Ed25519 is deterministic)
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + (
        "\n\u2014 PeterNeumann "
        "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    ).encode()
)
# c2sp.org/signed-note, "Example"
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n\u2014 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
).encode()


def test_go_known_answer() -> None:
    signer = Ed25519Signer.from_key(GO_SKEY)
    assert signer.verifier_key == GO_VKEY
    assert signer.key_id.hex() == "c74f20a3"
    assert sign_note(GO_TEXT, [signer]) == GO_NOTE
    assert verify_note(GO_NOTE, [NoteVerifier.from_vkey(GO_VKEY)]) == GO_TEXT


def test_spec_example_opens() -> None:
    assert verify_note(SPEC_NOTE, [NoteVerifier.from_vkey(SPEC_VKEY)]) == b"This is an example message.\n"


def test_signature_by_unknown_key_alone_is_refused_but_ignored_beside_a_known_one() -> None:
    with pytest.raises(VerificationError, match="no signature by a known key"):
        verify_note(SPEC_NOTE, [NoteVerifier.from_vkey(GO_VKEY)])
    both = sign_note(GO_TEXT, [Ed25519Signer.from_key(GO_SKEY)]) + SPEC_NOTE.split(b"\n\n")[1]
    assert verify_note(both, [NoteVerifier.from_vkey(GO_VKEY)]) == GO_TEXT


@pytest.fixture
def keys() -> tuple[Ed25519Signer, NoteVerifier]:
    skey, vkey = generate_key("log.example/test")
    return Ed25519Signer.from_key(skey), NoteVerifier.from_vkey(vkey)


def test_checkpoint_round_trip(keys: tuple[Ed25519Signer, NoteVerifier]) -> None:
    signer, verifier = keys
    cp = Checkpoint("log.example/test", 42, bytes(range(32)), ("extension line",))
    assert open_note(sign_note(cp.body(), [signer]), [verifier]) == cp
    assert cp.body().decode().splitlines()[:2] == ["log.example/test", "42"]


@pytest.mark.parametrize("change", ["size", "root", "origin", "signature"])
def test_tampering_is_detected(keys: tuple[Ed25519Signer, NoteVerifier], change: str) -> None:
    signer, verifier = keys
    note = sign_note(Checkpoint("log.example/test", 7, bytes(32)).body(), [signer]).decode()
    body, sig = note.split("\n\n")
    if change == "size":
        body = body.replace("\n7\n", "\n8\n")
    elif change == "root":
        body = body.replace(base64.b64encode(bytes(32)).decode(), base64.b64encode(bytes([1]) * 32).decode())
    elif change == "origin":
        body = body.replace("log.example/test", "log.example/evil")
    else:
        raw = bytearray(base64.b64decode(sig.split(" ")[2]))
        raw[10] ^= 1
        sig = " ".join([*sig.split(" ")[:2], base64.b64encode(bytes(raw)).decode() + "\n"])
    with pytest.raises(VerificationError):
        open_note(f"{body}\n\n{sig}".encode(), [verifier])


@pytest.mark.parametrize(
    "note",
    [b"", b"no signature block\n", b"a\n\n- not an em dash line\n", "a\n\n\u2014 name !!!\n".encode(), b"\xff\n\n"],
)
def test_malformed_notes_are_refused(keys: tuple[Ed25519Signer, NoteVerifier], note: bytes) -> None:
    with pytest.raises(VerificationError):
        open_note(note, [keys[1]])


def test_bad_keys_and_checkpoints() -> None:
    with pytest.raises(VerificationError):
        NoteVerifier.from_vkey(GO_VKEY.replace("c74f20a3", "c74f20a4"))
    with pytest.raises(InvalidInputError):
        Ed25519Signer.from_key("PRIVATE+KEY+x")
    with pytest.raises(InvalidInputError):
        Checkpoint("origin", -1, bytes(32))
    with pytest.raises(VerificationError):
        Checkpoint.parse(b"origin\n07\nAAAA\n")
