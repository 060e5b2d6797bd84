"""Statements of reasons to the EU DSA Transparency Database: the client of its submission API.

DSA Art. 24(5) has online platforms submit every statement of reasons (Art. 17) to the Commission's database
"without undue delay". The database takes them at ``POST /api/v1/statement`` (one) and
``POST /api/v1/statements`` (``{"statements": [...]}``, 1 to 100, all created or none), as JSON with a Bearer
token; it answers ``201 Created`` and nothing else means created. This module is the one place copyalign
talks to it: the one seam, an :class:`httpx.BaseTransport` the caller may replace (with
:meth:`.dsa_stub.DsaStub.transport` in tests and dry runs, or an ``httpx.MockTransport``).

Three rules it keeps:

1. **Nothing invalid leaves.** Every statement is checked with the core's copy of the database's rules
   (:func:`~copyalign.core.takedown.sor_rules.validate_statement`, unknown fields refused too) before any
   call; a statement that fails raises :class:`~copyalign.errors.InvalidInputError` naming the field (in a
   batch, :class:`~copyalign.errors.ItemError` with its position) and nothing is sent.
2. **A puid is used once.** puids the desk has already sent (``taken``) or repeated in one batch raise
   :class:`~copyalign.errors.ConflictError` before the call, and so does the database's own 422 for a puid
   it holds. The statement is then never re-sent under a new puid: the database already holds it (often
   because an earlier call timed out after the database had created it); :meth:`DsaClient.existing` fetches
   what it holds.
3. **Every answer is a record.** A call that reached the database returns one :class:`Submission` per
   statement — puid, SHA-256 of the exact JSON sent for it, HTTP status, and the database's ``uuid``/``id``/
   ``permalink`` or its errors for that statement — for the desk to log.

Answers that are not about a statement map onto the error tree, ``from`` httpx's error::

    transport failure, timeout, 5xx   StoreUnavailableError (503, code dsa_unavailable): retry, same puids
    401, 403                          ConfigurationError (code dsa_token_refused): the token is wrong or revoked
    429                               RateLimitedError (retry_after from Retry-After, default 60 s)
    422 naming a puid it holds        ConflictError (code puid_not_unique)
    422 otherwise                     returned: Submission.errors; raise_for_rejection() raises ItemError
    anything else (404, 405, 413, …)  ConfigurationError (code dsa_unexpected_answer): check the base URL

Example:
    >>> from datetime import date
    >>> from copyalign.core.takedown.sor import copyright_statement
    >>> from copyalign.core.takedown.sor_vocab import AutomatedDecision, SourceType
    >>> s = copyright_statement(puid="ca-n1-d1", legal_ground="Copyright Act §2", explanation="verbatim copy",
    ...     facts="The output reproduced a registered work.", content_date=date(2026, 5, 1),
    ...     application_date=date(2026, 5, 2), source_type=SourceType.ARTICLE_16, automated_detection=True,
    ...     automated_decision=AutomatedDecision.PARTIALLY)
    >>> with DsaClient.dry_run() as client:
    ...     sent = client.submit(s)
    >>> sent.created, sent.puid
    (True, 'ca-n1-d1')
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx

from copyalign.core.canonical import canonical
from copyalign.core.takedown.sor import MAX_BATCH, StatementOfReasons, check_new_puids
from copyalign.core.takedown.sor_rules import excluded_fields, validate_statement
from copyalign.errors import (
    ConfigurationError,
    ConflictError,
    CopyalignError,
    InvalidInputError,
    ItemError,
    RateLimitedError,
    StoreUnavailableError,
)

if TYPE_CHECKING:
    from copyalign.services.takedown.exports.dsa_stub import DsaStub

__all__ = ["PRODUCTION_URL", "DsaClient", "ExportResult", "Submission", "prepare"]

PRODUCTION_URL = "https://transparency.dsa.ec.europa.eu"
SINGLE, BATCH = "/api/v1/statement", "/api/v1/statements"
EXISTING = "/api/v1/statement/existing-puid/{puid}"
_STATEMENT_KEY = re.compile(r"^statement_(\d+)$")
_NOT_UNIQUE = re.compile(r"not (all )?unique", re.I)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Submission:
    """What was sent for one statement and what the database answered: the record the desk logs.

    ``sha256`` is the SHA-256 of the statement's canonical JSON (RFC 8785), the exact bytes the request
    carried for it. ``errors`` holds the database's messages per field when it refused the call (``status``
    422), and is empty when it created the statement (``status`` 201).
    """

    puid: str
    sha256: str
    endpoint: str
    position: int
    status: int
    uuid: str | None = None
    id: str | None = None
    permalink: str | None = None
    errors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def created(self) -> bool:
        return self.status == 201

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (for a log entry's payload)."""
        return {
            "puid": self.puid,
            "sha256": self.sha256,
            "endpoint": self.endpoint,
            "position": self.position,
            "status": self.status,
            "uuid": self.uuid,
            "id": self.id,
            "permalink": self.permalink,
            "errors": {k: list(v) for k, v in self.errors.items()},
        }

    def raise_for_rejection(self) -> None:
        """ItemError (its position, the first field the database named) when the database refused it."""
        if self.errors:
            name, messages = next(iter(self.errors.items()))
            cause = InvalidInputError(
                f"the DSA Transparency Database refused statement {self.puid!r}: {name}: {messages[0]}",
                field=name,
                code="statement_rejected",
            )
            raise ItemError(self.position, cause)


@dataclass(frozen=True)
class ExportResult:
    """One call's outcome: a :class:`Submission` per statement, in the order given; all created, or none."""

    status: int
    submissions: tuple[Submission, ...]

    @property
    def created(self) -> bool:
        return self.status == 201

    @property
    def rejected(self) -> tuple[Submission, ...]:
        return tuple(s for s in self.submissions if s.errors)

    def raise_for_rejection(self) -> None:
        for s in self.submissions:
            s.raise_for_rejection()


def prepare(statement: StatementOfReasons | Mapping[str, object]) -> dict[str, object]:
    """The JSON body of one statement, checked with the database's rules (InvalidInputError naming the field).

    A :class:`~copyalign.core.takedown.sor.StatementOfReasons` is valid by construction and is checked again;
    a mapping (a stored payload) is held to the same rules, and stricter on two points: a field the database
    does not know, or one it would drop because its condition does not hold, is refused rather than silently
    lost.
    """
    if isinstance(statement, StatementOfReasons):
        payload = statement.to_payload()
    elif isinstance(statement, Mapping):
        payload = dict(statement)
    else:
        raise InvalidInputError("a statement of reasons is a StatementOfReasons or a JSON object", field="statement")
    dropped = sorted(k for k in excluded_fields(payload) if k in payload)
    if dropped:
        raise InvalidInputError(
            f"{dropped[0]} does not apply to this statement (the database would drop it)", field=dropped[0]
        )
    found = validate_statement(payload, strict=True)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise InvalidInputError(f"statement of reasons: {found[0].message}{more}", field=found[0].field)
    try:
        canonical(payload)
    except (TypeError, ValueError) as exc:  # a value JSON cannot carry exactly (a float, a date object)
        raise InvalidInputError(f"statement of reasons is not plain JSON: {exc}", field="statement") from exc
    return payload


class DsaClient:
    """A client of the database's submission API for one platform (one token).

    Args:
        base_url: the database's address (https only, unless ``transport`` is given or the host is a loopback
            address: a twin needs no TLS).
        token: the platform's API token (sent as ``Authorization: Bearer``; never logged or shown).
        transport: the I/O seam; ``None`` for the network.
        timeout: seconds per request.
    """

    def __init__(
        self, base_url: str, token: str, *, transport: httpx.BaseTransport | None = None, timeout: float = 30.0
    ) -> None:
        parts = urlsplit(base_url)
        plain_ok = transport is not None or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
        if not parts.netloc or (parts.scheme != "https" and not plain_ok):
            raise ConfigurationError(f"the DSA Transparency Database URL must be https://…, not {base_url!r}")
        if not token or not token.strip():
            raise ConfigurationError("the DSA Transparency Database needs the platform's API token")
        if not all("!" <= c <= "~" for c in token):  # it goes in a header: visible ASCII, no spaces
            raise ConfigurationError("the platform's API token holds a character that is not visible ASCII")
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=timeout,
            follow_redirects=False,  # the existing-puid lookup answers 302 with the statement itself
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )

    @classmethod
    def production(cls, token: str, *, timeout: float = 30.0) -> DsaClient:
        """The Commission's production database."""
        return cls(PRODUCTION_URL, token, timeout=timeout)

    @classmethod
    def dry_run(cls, stub: DsaStub | None = None) -> DsaClient:
        """A client of an in-memory :class:`~.dsa_stub.DsaStub` (a fresh one unless given): the same rules and
        answers, nothing leaves the process. For rehearsing an export before sandbox access."""
        from copyalign.services.takedown.exports.dsa_stub import DsaStub

        stub = stub if stub is not None else DsaStub()
        return cls(stub.base_url, stub.token, transport=stub.transport())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DsaClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DsaClient({str(self._http.base_url)!r})"

    # -- the calls ------------------------------------------------------------------------------------------

    def submit(
        self, statement: StatementOfReasons | Mapping[str, object], *, taken: Collection[str] = ()
    ) -> Submission:
        """``POST /api/v1/statement``: one statement, checked first; ``taken`` are the puids already sent."""
        payload = prepare(statement)
        puid = str(payload["puid"])
        check_new_puids([puid], taken)
        response = self._post(SINGLE, payload)
        body = _json(response)
        sha = _sha(payload)
        if response.status_code == 201:
            return _created(puid, sha, SINGLE, 0, body)
        if response.status_code == 422:
            errors = _errors(body.get("errors"))
            if "existing" in body or any(_NOT_UNIQUE.search(m) for m in errors.get("puid", ())):
                raise _taken([puid], body.get("existing"))
            return Submission(puid, sha, SINGLE, 0, 422, errors=errors or {"statement": (_message(body),)})
        raise _unexpected(response, body)

    def submit_batch(
        self, statements: Sequence[StatementOfReasons | Mapping[str, object]], *, taken: Collection[str] = ()
    ) -> ExportResult:
        """``POST /api/v1/statements``: 1 to 100 statements, all checked before the call; all or none created."""
        if not 1 <= len(statements) <= MAX_BATCH:
            raise InvalidInputError(
                f"a batch holds 1 to {MAX_BATCH} statements, not {len(statements)}", field="statements"
            )
        payloads = []
        for i, s in enumerate(statements):
            try:
                payloads.append(prepare(s))
            except CopyalignError as exc:
                raise ItemError(i, exc) from exc
        puids = [str(p["puid"]) for p in payloads]
        check_new_puids(puids, taken)
        response = self._post(BATCH, {"statements": payloads})
        body = _json(response)
        shas = [_sha(p) for p in payloads]
        if response.status_code == 201:
            by_puid = {
                str(s.get("puid")): s for s in body.get("statements", ()) if isinstance(s, Mapping)
            }  # the database returns them in no particular order
            subs = tuple(
                _created(p, h, BATCH, i, by_puid.get(p, {})) for i, (p, h) in enumerate(zip(puids, shas, strict=True))
            )
            return ExportResult(201, subs)
        if response.status_code == 422:
            return ExportResult(422, self._rejected(body, puids, shas))
        raise _unexpected(response, body)

    def existing(self, puid: str) -> dict[str, Any] | None:
        """What the database holds under ``puid`` (``GET …/existing-puid/{puid}``), or None.

        The database indexes new statements for this lookup with a delay (its documentation says usually
        within 24 hours), so None right after a submission does not prove absence.
        """
        try:
            response = self._http.get(EXISTING.format(puid=quote(puid, safe="")))
        except httpx.HTTPError as exc:
            raise _unavailable(exc) from exc
        if response.status_code == 302:
            body = _json(response)
            return body or None
        if response.status_code == 404:
            return None
        raise _unexpected(response, _json(response))

    # -- helpers --------------------------------------------------------------------------------------------

    def _post(self, path: str, body: object) -> httpx.Response:
        try:
            return self._http.post(path, content=canonical(body), headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise _unavailable(exc) from exc

    def _rejected(self, body: Mapping[str, Any], puids: list[str], shas: list[str]) -> tuple[Submission, ...]:
        raw = body.get("errors")
        raw = raw if isinstance(raw, Mapping) else {}
        existing = raw.get("existing_puids")
        if isinstance(existing, list) and existing:
            raise _taken([str(p) for p in existing], None)
        per: dict[int, dict[str, tuple[str, ...]]] = {}
        shared: dict[str, tuple[str, ...]] = {}
        for key, value in raw.items():
            m = _STATEMENT_KEY.match(str(key))
            if m and int(m.group(1)) < len(puids):
                per[int(m.group(1))] = _errors(value)
            else:
                shared.update(_errors({key: value}))
        for i, errs in per.items():
            if any(_NOT_UNIQUE.search(msg) for msg in errs.get("puid", ())):
                raise _taken([puids[i]], None)
        if not per and not shared:
            shared = {"statements": (_message(body),)}
        return tuple(
            Submission(p, h, BATCH, i, 422, errors={**shared, **per.get(i, {})})
            for i, (p, h) in enumerate(zip(puids, shas, strict=True))
        )


def _sha(payload: Mapping[str, object]) -> str:
    return hashlib.sha256(canonical(payload)).hexdigest()


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(body: Mapping[str, Any]) -> str:
    return str(body.get("message") or "the database refused the call without saying why")


def _errors(raw: object) -> dict[str, tuple[str, ...]]:
    """``{field: [messages]}`` as the database writes it, as tuples of strings (anything else stringified)."""
    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for k, v in raw.items():
        out[str(k)] = tuple(str(m) for m in v) if isinstance(v, list) else (str(v),)
    return out


def _created(puid: str, sha: str, endpoint: str, position: int, body: Mapping[str, Any]) -> Submission:
    def text(key: str) -> str | None:
        v = body.get(key)
        return None if v is None else str(v)

    return Submission(puid, sha, endpoint, position, 201, uuid=text("uuid"), id=text("id"), permalink=text("permalink"))


def _taken(puids: list[str], existing: object) -> ConflictError:
    held = ""
    if isinstance(existing, Mapping) and existing.get("uuid"):
        held = f" as statement {existing['uuid']}"
    names = ", ".join(repr(p) for p in puids)
    what = "puid" if len(puids) == 1 else "puids"
    return ConflictError(
        f"the DSA Transparency Database already holds the {what} {names}{held}; a statement is never sent again "
        "under a new puid: look up what it holds (DsaClient.existing) and record that",
        field="puid",
        code="puid_not_unique",
    )


def _unavailable(exc: httpx.HTTPError) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"the DSA Transparency Database could not be reached ({type(exc).__name__}); retry with the same puids",
        code="dsa_unavailable",
    )


def _unexpected(response: httpx.Response, body: Mapping[str, Any]) -> CopyalignError:
    status = response.status_code
    said = body.get("message")
    detail = f": {said}" if said else ""
    if status >= 500:
        return StoreUnavailableError(
            f"the DSA Transparency Database failed ({status}{detail}); retry with the same puids (one it turns out to "
            "hold then answers puid_not_unique)",
            code="dsa_unavailable",
        )
    if status in (401, 403):
        return ConfigurationError(
            f"the DSA Transparency Database refused the token ({status}{detail}); generate a new one in its profile",
            code="dsa_token_refused",
        )
    if status == 429:
        after = response.headers.get("Retry-After", "")
        return RateLimitedError(
            "the DSA Transparency Database is rate-limiting this platform",
            retry_after=int(after) if after.isdigit() else 60,
        )
    return ConfigurationError(
        f"unexpected answer {status} from the DSA Transparency Database{detail}; check its base URL",
        code="dsa_unexpected_answer",
    )
