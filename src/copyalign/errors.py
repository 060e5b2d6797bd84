"""The exceptions copyalign raises, one tree under :class:`CopyalignError`.

Every error carries a stable machine ``code`` (what API clients and ``--json`` CLI output switch on), a human
``message``, and where it applies the ``field`` at fault. One table (``copyalign.api.errors``) maps the classes
to HTTP statuses; the CLI prints the message and exits non-zero. Third-party errors are caught at the seam
that meets them and re-raised as the most specific class below, ``from`` the original.

::

    CopyalignError
    ├── InvalidInputError            400  a value is malformed or out of range
    │   ├── UnsupportedContentError  415  a file we cannot read as the kind it claims
    │   ├── ContentTooLargeError     413  over a configured size or pixel limit
    │   ├── ManifestError            400  a bad line in a bulk manifest (carries ``line``)
    │   ├── CurrencyMismatchError    400  amounts in two currencies combined
    │   ├── CorruptShardError        400  a corpus shard that cannot be read as a whole (scan goes on)
    │   └── ModelLoadError           400  a model folder that is not a causal LM, or whose tokenizer does not fit it
    ├── AuthenticationError          401  no key, an unknown key or a revoked key
    ├── PermissionDeniedError        403  the role or the ownership does not allow the action
    ├── NotFoundError                404  no such party, key, work, entry or checkpoint
    ├── ConflictError                409  already registered; idempotency key reused with another body
    ├── ConfigurationError           500  a policy profile or setting that does not validate
    ├── StoreUnavailableError        503  the database cannot be reached or opened
    ├── VerificationError            ---  a log, proof or signature that does not verify (``index``)
    └── MissingExtraError            ---  an optional feature whose extra is not installed
"""

from __future__ import annotations


class CopyalignError(Exception):
    """Root of every error copyalign raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        return out


class InvalidInputError(CopyalignError):
    code = "invalid_input"


class UnsupportedContentError(InvalidInputError):
    code = "unsupported_content"


class ContentTooLargeError(InvalidInputError):
    code = "content_too_large"


class ManifestError(InvalidInputError):
    """A manifest line that cannot be imported; ``line`` is 1-based."""

    code = "invalid_manifest"

    def __init__(self, message: str, *, line: int, field: str | None = None) -> None:
        super().__init__(f"line {line}: {message}", field=field)
        self.line = line

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["line"] = self.line
        return out


class CurrencyMismatchError(InvalidInputError):
    """Two amounts in different currencies met in one sum; nothing converts between currencies silently."""

    code = "currency_mismatch"


class CorruptShardError(InvalidInputError):
    """A corpus shard that cannot be read as a whole (a truncated tar, a Parquet file without its footer);
    the scan records it, names it in the report and goes on with the other shards."""

    code = "corrupt_shard"


class AuthenticationError(CopyalignError):
    code = "unauthenticated"


class PermissionDeniedError(CopyalignError):
    code = "forbidden"


class NotFoundError(CopyalignError):
    code = "not_found"


class ConflictError(CopyalignError):
    code = "conflict"


class ConfigurationError(CopyalignError):
    code = "invalid_configuration"


class StoreUnavailableError(CopyalignError):
    code = "store_unavailable"


class VerificationError(CopyalignError):
    """A proof, signature or log history that does not verify.

    ``index`` names the first log entry at fault where one can be named, so that an auditor is pointed at the
    row to look at rather than handed a traceback.
    """

    code = "verification_failed"

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        if self.index is not None:
            out["index"] = self.index
        return out


class MissingExtraError(CopyalignError):
    code = "missing_extra"

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(f"{feature} needs the '{extra}' extra: pip install 'copyalign[{extra}]'")
        self.extra = extra


class ModelLoadError(InvalidInputError):
    """A model to audit that cannot be loaded as a causal language model from a local folder, or whose
    tokenizer does not belong to it (more tokens than the model has embeddings)."""

    code = "model_load_failed"
