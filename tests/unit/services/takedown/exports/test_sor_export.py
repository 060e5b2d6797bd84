"""The statement-of-reasons exporter against the database's twin: what it sends, refuses and records."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.canonical import canonical
from copyalign.core.takedown.sor_rules import Violation
from copyalign.core.takedown.sor_vocab import ContentType, SourceType
from copyalign.errors import (
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    ItemError,
    RateLimitedError,
    StoreUnavailableError,
)
from copyalign.services.takedown.exports.dsa_stub import DsaStub
from copyalign.services.takedown.exports.sor_export import DsaClient, Submission, prepare

from .conftest import TOKEN, statement


def sha(payload: Mapping[str, object]) -> str:
    return hashlib.sha256(canonical(payload)).hexdigest()


def posts(stub: DsaStub) -> list[tuple[str, str, int]]:
    return [c for c in stub.calls if c[0] == "POST"]


# -- one statement ----------------------------------------------------------------------------------------


def test_one_statement_is_created_and_recorded(client: DsaClient, stub: DsaStub) -> None:
    s = statement("ca-n1-d1")
    sent = client.submit(s)
    assert sent.created and sent.status == 201 and sent.errors == {}
    assert sent.puid == "ca-n1-d1" and sent.endpoint == "/api/v1/statement" and sent.position == 0
    assert sent.sha256 == sha(s.to_payload())
    stored = stub.statements["ca-n1-d1"]
    assert (sent.uuid, sent.id, sent.permalink) == (stored["uuid"], str(stored["id"]), stored["permalink"])
    assert {k: stored[k] for k in s.to_payload()} == s.to_payload()  # what was stored is what was sent
    assert json.loads(json.dumps(sent.to_dict()))["sha256"] == sent.sha256  # JSON-ready for the log


def test_a_stored_payload_is_accepted_as_a_mapping(client: DsaClient, stub: DsaStub) -> None:
    payload = statement("ca-n1-d2").to_payload()
    assert client.submit(payload).created
    assert "ca-n1-d2" in stub.statements


# -- batches ----------------------------------------------------------------------------------------------


def test_a_batch_of_100_is_created_and_matched_by_puid(client: DsaClient, stub: DsaStub) -> None:
    batch = [statement(f"ca-b-{i:03d}") for i in range(100)]
    result = client.submit_batch(batch)
    assert result.created and result.status == 201 and result.rejected == ()
    assert [s.puid for s in result.submissions] == [s.puid for s in batch]
    assert [s.position for s in result.submissions] == list(range(100))
    assert len(posts(stub)) == 1 and len(stub.statements) == 100
    for sub, s in zip(result.submissions, batch, strict=True):
        # the database answers in no particular order: each record carries its own statement's uuid
        assert sub.uuid == stub.statements[s.puid]["uuid"]
        assert sub.sha256 == sha(s.to_payload())


def test_a_batch_of_101_is_refused_before_any_call(client: DsaClient, stub: DsaStub) -> None:
    with pytest.raises(InvalidInputError, match="1 to 100") as err:
        client.submit_batch([statement(f"ca-b-{i}") for i in range(101)])
    assert err.value.field == "statements"
    with pytest.raises(InvalidInputError):
        client.submit_batch([])
    assert stub.calls == []


# -- refused locally: nothing invalid leaves --------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.pop("decision_facts"), "decision_facts"),
        (lambda p: p.update(content_date="2026-13-01"), "content_date"),
        (lambda p: p.update(category_specification=["KEYWORD_PIRACY"]), "category_specification"),
        (lambda p: p.update(puid="has space"), "puid"),
        (lambda p: p.update(decision_fact="typo"), "decision_fact"),  # the database would ignore it silently
        (lambda p: p.update(incompatible_content_ground="x"), "incompatible_content_ground"),  # it would drop it
    ],
)
def test_an_invalid_statement_is_refused_locally_naming_the_field(
    client: DsaClient, stub: DsaStub, change: Any, field: str
) -> None:
    payload = statement("ca-bad").to_payload()
    change(payload)
    with pytest.raises(InvalidInputError) as err:
        client.submit(payload)
    assert err.value.field == field
    batch: list[Any] = [statement(f"ca-ok-{i}") for i in range(5)]
    batch[3] = payload
    with pytest.raises(ItemError) as item:
        client.submit_batch(batch)
    assert (item.value.position, item.value.field) == (3, field)
    assert stub.calls == []  # not one request


def test_prepare_refuses_what_is_not_a_statement() -> None:
    with pytest.raises(InvalidInputError, match="StatementOfReasons or a JSON object"):
        prepare(["not", "a", "statement"])  # type: ignore[arg-type]


# -- refused by the database: its 422 mapped back to the statement ----------------------------------------


def scope_required(statement: Mapping[str, object]) -> Iterable[Violation]:
    """A rule the core does not apply (its API documentation calls territorial_scope required): drift."""
    if not statement.get("territorial_scope"):
        yield Violation("territorial_scope", "required", "The territorial scope field is required.")


def test_a_422_for_one_statement_is_mapped_to_it() -> None:
    stub = DsaStub(token=TOKEN, extra_rules=[scope_required])
    with DsaClient.dry_run(stub) as client:
        sent = client.submit(statement("ca-drift"))
    assert not sent.created and sent.status == 422
    assert sent.errors == {"territorial_scope": ("The territorial scope field is required.",)}
    assert stub.statements == {}
    with pytest.raises(ItemError) as err:
        sent.raise_for_rejection()
    assert (err.value.position, err.value.field, err.value.code) == (0, "territorial_scope", "statement_rejected")


def test_a_422_in_a_batch_is_mapped_to_each_statement_and_nothing_is_created() -> None:
    stub = DsaStub(token=TOKEN, extra_rules=[scope_required])
    batch = [statement(f"ca-d-{i}", territorial_scope=("DE",)) for i in range(8)]
    batch[2] = statement("ca-d-2")
    batch[5] = statement("ca-d-5")
    with DsaClient.dry_run(stub) as client:
        result = client.submit_batch(batch)
    assert result.status == 422 and not result.created
    assert [s.position for s in result.rejected] == [2, 5]
    assert [s.puid for s in result.rejected] == ["ca-d-2", "ca-d-5"]
    assert all(set(s.errors) == {"territorial_scope"} for s in result.rejected)
    assert stub.statements == {}  # all or none
    with pytest.raises(ItemError) as err:
        result.raise_for_rejection()
    assert (err.value.position, err.value.field) == (2, "territorial_scope")


def test_a_batch_level_422_applies_to_every_statement() -> None:
    answer = {"message": "statements must be an array", "errors": {"statements": ["statements must be an array"]}}
    transport = httpx.MockTransport(lambda request: httpx.Response(422, json=answer))
    with DsaClient("https://db.test", TOKEN, transport=transport) as client:
        result = client.submit_batch([statement("ca-x-1"), statement("ca-x-2")])
    assert [s.errors for s in result.submissions] == [{"statements": ("statements must be an array",)}] * 2


# -- a puid is used once ----------------------------------------------------------------------------------


def test_a_duplicate_puid_is_a_conflict_naming_it_and_is_never_resent(client: DsaClient, stub: DsaStub) -> None:
    s = statement("ca-n7-d1")
    first = client.submit(s)
    with pytest.raises(ConflictError) as err:
        client.submit(s)  # e.g. a retry after a timeout that the database had in fact completed
    assert err.value.code == "puid_not_unique" and err.value.field == "puid"
    assert "'ca-n7-d1'" in err.value.message and first.uuid in err.value.message  # names what it holds
    assert len(posts(stub)) == 2 and len(stub.statements) == 1  # tried once more, never under a new puid
    assert client.existing("ca-n7-d1")["uuid"] == first.uuid
    assert client.existing("ca-never") is None


def test_puids_already_sent_are_refused_before_the_call(client: DsaClient, stub: DsaStub) -> None:
    with pytest.raises(ConflictError, match="ca-old"):
        client.submit(statement("ca-old"), taken={"ca-old"})
    with pytest.raises(ConflictError, match="ca-twice"):
        client.submit_batch([statement("ca-twice"), statement("ca-other"), statement("ca-twice")])
    with pytest.raises(ConflictError, match="ca-old"):
        client.submit_batch([statement("ca-new"), statement("ca-old")], taken=["ca-old"])
    assert stub.calls == []


def test_a_batch_naming_a_held_puid_is_a_conflict_and_nothing_of_it_is_created(
    client: DsaClient, stub: DsaStub
) -> None:
    client.submit(statement("ca-held"))
    with pytest.raises(ConflictError, match="'ca-held'") as err:
        client.submit_batch([statement("ca-fresh-1"), statement("ca-held"), statement("ca-fresh-2")])
    assert err.value.code == "puid_not_unique"
    assert set(stub.statements) == {"ca-held"}


# -- answers that are not about a statement ---------------------------------------------------------------


def answering(status: int, headers: Mapping[str, str] | None = None, body: Any = None) -> DsaClient:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, headers=headers, json=body or {}))
    return DsaClient("https://db.test", TOKEN, transport=transport)


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (401, ConfigurationError, "dsa_token_refused"),
        (403, ConfigurationError, "dsa_token_refused"),
        (404, ConfigurationError, "dsa_unexpected_answer"),
        (500, StoreUnavailableError, "dsa_unavailable"),
        (503, StoreUnavailableError, "dsa_unavailable"),
    ],
)
def test_http_failures_map_onto_the_error_tree(status: int, error: type[Exception], code: str) -> None:
    with pytest.raises(error) as err:
        answering(status).submit(statement("ca-h-1"))
    assert err.value.code == code  # type: ignore[attr-defined]


def test_a_rate_limit_says_when_to_retry() -> None:
    with pytest.raises(RateLimitedError) as err:
        answering(429, {"Retry-After": "120"}).submit_batch([statement("ca-r-1")])
    assert err.value.retry_after == 120


def test_a_network_failure_is_unavailable_from_the_httpx_error() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(StoreUnavailableError) as err:
        DsaClient("https://db.test", TOKEN, transport=httpx.MockTransport(fail)).submit(statement("ca-t-1"))
    assert isinstance(err.value.__cause__, httpx.ConnectTimeout)


def test_the_wrong_token_is_refused_by_the_twin_too(stub: DsaStub) -> None:
    with (
        DsaClient(stub.base_url, "not-the-token", transport=stub.transport()) as client,
        pytest.raises(ConfigurationError, match="refused the token"),
    ):
        client.submit(statement("ca-w-1"))


def test_the_client_sends_the_bearer_token_and_canonical_json() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"uuid": "u-1", "id": 7, "puid": "ca-j-1"})

    s = statement("ca-j-1")
    sent = DsaClient("https://db.test", TOKEN, transport=httpx.MockTransport(record)).submit(s)
    [request] = seen
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json" and request.url.path == "/api/v1/statement"
    assert hashlib.sha256(request.content).hexdigest() == sent.sha256  # the digest is of the bytes sent
    assert (sent.uuid, sent.id) == ("u-1", "7")


def test_configuration_is_checked_and_the_token_never_shown() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        DsaClient("http://transparency.example", TOKEN)
    with pytest.raises(ConfigurationError, match="token"):
        DsaClient("https://transparency.example", " ")
    for bad in ("tøken", "to ken", "tok\nen"):  # sent in a header: refused in words, never a crash in httpx
        with pytest.raises(ConfigurationError, match="visible ASCII"):
            DsaClient("https://transparency.example", bad)
    client = DsaClient.production(TOKEN)
    assert TOKEN not in repr(client) and "transparency.dsa.ec.europa.eu" in repr(client)
    client.close()


# -- property: whatever the batch, one record per statement, in order, with the digest of what was sent -----

kinds = st.lists(st.sampled_from([ContentType.SYNTHETIC_MEDIA, ContentType.TEXT, ContentType.IMAGE]), min_size=1)


@settings(deadline=None, max_examples=15)
@given(
    st.lists(
        st.tuples(st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True), kinds, st.sampled_from(list(SourceType))),
        min_size=1,
        max_size=100,
        unique_by=lambda t: t[0],
    )
)
def test_any_valid_batch_is_created_whole_and_recorded_in_order(items: list[Any]) -> None:
    batch = [statement(p, content_type=tuple(dict.fromkeys(k)), source_type=src) for p, k, src in items]
    stub = DsaStub(token=TOKEN)
    with DsaClient.dry_run(stub) as client:
        result = client.submit_batch(batch)
    assert result.created and len(stub.statements) == len(batch)
    assert [(s.puid, s.sha256) for s in result.submissions] == [(b.puid, sha(b.to_payload())) for b in batch]
    assert all(isinstance(s, Submission) and s.uuid == stub.statements[s.puid]["uuid"] for s in result.submissions)
