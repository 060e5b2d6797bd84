"""The exceptions copyalign raises, one tree under :class:`CopyalignError`.

Every error carries a stable machine ``code`` (what API clients and ``--json`` CLI output switch on), a human
``message``, where it applies the ``field`` at fault, and the HTTP ``status`` it answers with (the API maps
errors to responses by this attribute alone; the CLI prints the message and exits non-zero). Third-party errors
are caught at the seam that meets them and re-raised as the most specific class below, ``from`` the original.
The pure core raises only these (pydantic validators excepted, which must raise ``ValueError`` and are turned
into :class:`ConfigurationError` or :class:`InvalidInputError` where a profile or a request is parsed).

The tree, with each class's status (``tests/unit/test_errors.py`` holds it to the classes)::

    CopyalignError                   400  root of every error raised on purpose
    ├── InvalidInputError            400  a value is malformed or out of range
    │   ├── UnsupportedContentError  415  a file we cannot read as the kind it claims
    │   ├── ContentTooLargeError     413  over a configured size or pixel limit
    │   ├── ManifestError            400  a bad line in a bulk manifest (carries ``line``)
    │   ├── ItemError                400  an item of a batch at fault (carries ``position``; status of its cause)
    │   ├── CurrencyMismatchError    400  amounts in two currencies combined
    │   ├── CorruptShardError        400  a corpus shard that cannot be read as a whole (scan goes on)
    │   └── ModelLoadError           400  a model folder that is not a causal LM, or whose tokenizer does not fit it
    ├── AuthenticationError          401  no key, an unknown key or a revoked key
    ├── PermissionDeniedError        403  the role or the ownership does not allow the action
    ├── NotFoundError                404  no such party, key, work, entry or checkpoint
    ├── ConflictError                409  already registered; idempotency key reused; a state that forbids the step
    ├── VerificationError            422  a log, proof or signature that does not verify (carries ``index``)
    ├── RateLimitedError             429  too many requests from one sender; retry after ``retry_after`` seconds
    ├── ConfigurationError           500  a policy profile or setting that does not validate
    ├── MissingExtraError            501  an optional feature whose extra is not installed
    └── StoreUnavailableError        503  the database cannot be reached or opened
"""

from __future__ import annotations


class CopyalignError(Exception):
    """Root of every error copyalign raises on purpose."""

    code = "error"
    status = 400

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
    status = 415


class ContentTooLargeError(InvalidInputError):
    code = "content_too_large"
    status = 413


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
    status = 401


class PermissionDeniedError(CopyalignError):
    """A refusal by role or ownership. The message is for people ("a rights holder may not read invoices");
    ``action`` and ``role``, where known, are the machine codes (``invoice.read``, ``rights_holder``)."""

    code = "forbidden"
    status = 403

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        action: str | None = None,
        role: str | None = None,
    ) -> None:
        super().__init__(message, field=field, code=code)
        self.action = action
        self.role = role

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        if self.action is not None:
            out["action"] = self.action
        if self.role is not None:
            out["role"] = self.role
        return out


class NotFoundError(CopyalignError):
    code = "not_found"
    status = 404


class ConflictError(CopyalignError):
    code = "conflict"
    status = 409


class ConfigurationError(CopyalignError):
    code = "invalid_configuration"
    status = 500


class StoreUnavailableError(CopyalignError):
    code = "store_unavailable"
    status = 503


class VerificationError(CopyalignError):
    """A proof, signature or log history that does not verify.

    ``index`` names the first log entry at fault where one can be named, so that an auditor is pointed at the
    row to look at rather than handed a traceback.
    """

    code = "verification_failed"
    status = 422

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        if self.index is not None:
            out["index"] = self.index
        return out


class RateLimitedError(CopyalignError):
    """Too many requests from one sender (an address, an IP, a key) within a window."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["retry_after"] = self.retry_after
        return out


class ItemError(InvalidInputError):
    """One item of a batch (0-based ``position``) failed with ``error``; nothing of the batch was kept.

    It answers with its cause's status and code, so a batch of one reads like the single call.
    """

    def __init__(self, position: int, error: CopyalignError) -> None:
        super().__init__(f"item {position + 1}: {error.message}", field=error.field)
        self.position = position
        self.error = error
        self.code = error.code
        self.status = error.status

    def to_dict(self) -> dict[str, object]:
        out = self.error.to_dict()
        out["message"] = self.message
        out["index"] = self.position
        return out


class MissingExtraError(CopyalignError):
    code = "missing_extra"
    status = 501

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(f"{feature} needs the '{extra}' extra: pip install 'copyalign[{extra}]'")
        self.extra = extra


class ModelLoadError(InvalidInputError):
    """A model to audit that cannot be loaded as a causal language model from a local folder, or whose
    tokenizer does not belong to it (more tokens than the model has embeddings)."""

    code = "model_load_failed"
