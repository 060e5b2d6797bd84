"""Signed checkpoints in the C2SP ``tlog-checkpoint`` and ``signed-note`` formats, with Ed25519 keys.

A checkpoint commits to a tree: ``<origin>\\n<size>\\n<base64 root>\\n`` plus optional extension lines. A
signed note is that text, a blank line, and one line per signature: ``— <key name> <base64(key id ||
signature)>``. Keys are encoded as Go's ``golang.org/x/mod/sumdb/note`` does, so Go tooling (and any other
C2SP verifier) can check our checkpoints:

* key id = the first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key);
* verifier key ``<name>+<8 hex key id>+<base64(0x01 || public key)>``;
* signer key ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>``.

Example:
    >>> skey, vkey = generate_key("example.org/log")
    >>> note = sign_note(Checkpoint("example.org/log", 0, bytes(32)).body(), [Ed25519Signer.from_key(skey)])
    >>> open_note(note, [NoteVerifier.from_vkey(vkey)]).size
    0
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from copyalign.errors import InvalidInputError, VerificationError

ALG_ED25519 = 0x01
_DASH = "\u2014"


def _b64decode(s: str) -> bytes:
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(f"{s!r} is not base64") from None


def _valid_name(name: str) -> bool:
    return bool(name) and not any(c.isspace() or c == "+" for c in name)


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree size and root under an origin; validated on construction."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise InvalidInputError("a checkpoint origin is one non-empty line", field="origin")
        if self.size < 0:
            raise InvalidInputError("a tree size cannot be negative", field="size")
        if len(self.root) != 32:
            raise InvalidInputError("a root hash is 32 bytes", field="root")
        if any(not e or "\n" in e for e in self.extensions):
            raise InvalidInputError("extension lines must be non-empty single lines", field="extensions")

    def body(self) -> bytes:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def parse(cls, body: bytes) -> Checkpoint:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise VerificationError("a checkpoint is UTF-8 text") from None
        if not text.endswith("\n"):
            raise VerificationError("a checkpoint ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise VerificationError("a checkpoint has an origin, a size and a root line")
        origin, size_s, root_s, *ext = lines
        if not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
            raise VerificationError(f"checkpoint size {size_s!r} is not a decimal number")
        root = _b64decode(root_s)
        if len(root) != 32:
            raise VerificationError("the checkpoint root is not 32 bytes")
        try:
            return cls(origin, int(size_s), root, tuple(ext))
        except InvalidInputError as exc:
            raise VerificationError(f"malformed checkpoint: {exc.message}") from None


class Signer(Protocol):
    name: str

    @property
    def key_id(self) -> bytes: ...

    @property
    def verifier_key(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


class Ed25519Signer:
    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        if not _valid_name(name):
            raise InvalidInputError(f"invalid key name {name!r}", field="name")
        self.name = name
        self._private = private
        self._public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def from_key(cls, skey: str) -> Ed25519Signer:
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise InvalidInputError("not a signer key (PRIVATE+KEY+name+id+key)", field="key")
        _, _, name, hex_id, b64 = parts
        raw = base64.b64decode(b64)
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise InvalidInputError("not an Ed25519 signer key", field="key")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.key_id.hex() != hex_id:
            raise InvalidInputError("the signer key's id does not match its key", field="key")
        return signer

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self._public)

    @property
    def verifier_key(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + self._public).decode()}"

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


def generate_key(name: str) -> tuple[str, str]:
    """A fresh Ed25519 key pair as (signer key, verifier key) strings."""
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    signer = Ed25519Signer(name, private)
    skey = f"PRIVATE+KEY+{name}+{signer.key_id.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + seed).decode()}"
    return skey, signer.verifier_key


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3 or not _valid_name(parts[0]):
            raise VerificationError("a verifier key is name+id+key")
        name, hex_id, b64 = parts
        raw = _b64decode(b64)
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise VerificationError("not an Ed25519 verifier key")
        if len(hex_id) != 8 or key_id(name, raw[1:]).hex() != hex_id.lower():
            raise VerificationError("the verifier key's id does not match its key")
        return cls(name, bytes.fromhex(hex_id), raw[1:])

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def sign_note(body: bytes, signers: Sequence[Signer]) -> bytes:
    if not body.endswith(b"\n"):
        raise InvalidInputError("a note body ends with a newline")
    lines = [f"{_DASH} {s.name} {base64.b64encode(s.key_id + s.sign(body)).decode()}\n" for s in signers]
    return body + b"\n" + "".join(lines).encode()


def open_note(note: bytes, verifiers: Sequence[NoteVerifier]) -> Checkpoint:
    """Check a signed checkpoint: strict format, and a valid signature by at least one known key."""
    return Checkpoint.parse(verify_note(note, verifiers))


def verify_note(note: bytes, verifiers: Sequence[NoteVerifier]) -> bytes:
    """Check any signed note and return its verified text.

    A signature by an unknown key is ignored; a known key's bad signature is an error.
    """
    try:
        text = note.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError("a signed note is UTF-8 text") from None
    sep = text.rfind("\n\n")
    if sep < 0 or not text.endswith("\n"):
        raise VerificationError("a signed note is a body, a blank line and signature lines")
    body, sigs = text[: sep + 1], text[sep + 2 :]
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = False
    for line in sigs[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH:
            raise VerificationError(f"malformed signature line {line!r}")
        raw = _b64decode(parts[2])
        if len(raw) < 5:
            raise VerificationError("a signature is too short")
        verifier = known.get((parts[1], raw[:4]))
        if verifier is None:
            continue
        if not verifier.verify(body.encode(), raw[4:]):
            raise VerificationError(f"the signature by {parts[1]} does not verify")
        verified = True
    if not verified:
        raise VerificationError("no signature by a known key")
    return body.encode()
