"""The guard's secret and the keys derived from it: one file, several purposes, never one key for two.

Losing the secret loses the ability to read the watermarks made with it and to tell this deployment's labels
from forged ones, so it lives beside the log key (``DATA_DIR/keys/guard.key``) and is backed up with it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from copyalign.errors import ConfigurationError


def load_or_create_secret(path: Path) -> bytes:
    """The guard's 32-byte secret, created (mode 0600) on first use."""
    if path.exists():
        raw = path.read_bytes().strip()
        try:
            secret = bytes.fromhex(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            secret = b""
        if len(secret) < 16:
            raise ConfigurationError(f"the guard key {path} is not 32 hex-encoded bytes")
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.hex() + "\n")
    return secret


@dataclass(frozen=True, slots=True)
class GuardKeys:
    """Keys for the image watermark, the AIGC label's MAC and the users' pseudonyms, each an HMAC of the
    secret with its own label."""

    watermark: bytes
    label: bytes
    user: bytes

    @classmethod
    def derive(cls, secret: bytes) -> GuardKeys:
        def sub(name: bytes) -> bytes:
            return hmac.new(secret, name, hashlib.sha256).digest()

        return cls(
            sub(b"copyalign image watermark v1"), sub(b"copyalign aigc label v1"), sub(b"copyalign user pseudonym v1")
        )

    def label_code(self, trace_id: str) -> str:
        """``ReservedCode1``: a MAC over the trace id, so this deployment can tell its labels from copies made
        by someone else (anyone can write an AIGC field; only the holder of the guard key can make this)."""
        return hmac.new(self.label, trace_id.encode(), hashlib.sha256).hexdigest()[:32]

    def user_ref(self, user: str) -> str:
        """A keyed pseudonym of a provider's user: the same user gets the same reference, and nobody without
        the key can go back from the reference to the user (no raw user id is ever stored)."""
        return hmac.new(self.user, user.encode(), hashlib.sha256).hexdigest()[:32] if user else ""


__all__ = ["GuardKeys", "load_or_create_secret"]
