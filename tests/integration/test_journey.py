"""The provider's duties along the user journey (issue 24; seed 004 ¶84, ¶80(c); seed 003 §4.3): terms of use and
their acceptance, dynamic warnings on the fake clock, and the guard's refusals that follow from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from copyalign.clock import FakeClock
from copyalign.context import Copyalign
from copyalign.core.guard.rules import GuardAction
from copyalign.core.journey.consent import batch_digest
from copyalign.core.journey.escalation import EscalationStep
from copyalign.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.works import WorkInput
from copyalign.store.models import JourneyAcceptance, JourneyTerms, LogEntry
from tests.conftest import make_party
from tests.integration.conftest import auth

IMITATE = "Write a new story in the style of The Lantern Keeper's Daughter"


@pytest.fixture
def world(ca: Copyalign, operator: Principal) -> dict:
    holder, _ = make_party(ca, operator, "rights_holder", "Northwind Press")
    provider, provider_key = make_party(ca, operator, "provider", "Pixel Foundry AI")
    other, other_key = make_party(ca, operator, "provider", "Other AI")
    work = ca.works.register(
        holder,
        WorkInput(
            data=b"The lantern keeper climbed the stair each night. " * 20, title="The Lantern Keeper's Daughter"
        ),
    )
    ca.matching.refresh()
    return {
        "operator": operator,
        "holder": holder,
        "provider": provider,
        "provider_key": provider_key,
        "other": other,
        "other_key": other_key,
        "work": work.id,
    }


def _require_terms(ca: Copyalign, **journey: object) -> None:
    section = ca.policy.journey.model_copy(update={"require_terms": True, **journey})
    policy = ca.policy.model_copy(update={"journey": section})
    ca.journey.policy = policy
    ca.guard.policy = policy


def _events(ca: Copyalign, event: str) -> list[int]:
    from sqlalchemy import select

    with ca.store.read() as s:
        return list(s.execute(select(LogEntry.idx).where(LogEntry.event == event)).scalars())


def test_a_user_without_the_current_terms_is_refused_accepts_and_is_served(ca: Copyalign, world: dict) -> None:
    provider = world["provider"]
    _require_terms(ca)
    # no terms published yet: the profile requires them, so nobody named is served
    v = ca.guard.check_prompt(provider, "a watercolour of a lighthouse", user="ann")
    assert v.decision is GuardAction.BLOCK and v.reasons[0].rule == "user.terms"
    # the provider publishes its terms: the profile's copyright commitments in Chinese and English
    t1 = ca.journey.publish_terms(provider, "2026-03")
    assert set(t1.texts) == {"en", "zh"} and "style" in t1.texts["en"] and t1.current
    refused = ca.guard.check_prompt(provider, "a watercolour of a lighthouse", user="ann")
    assert refused.decision is GuardAction.BLOCK
    assert "version 2026-03" in refused.reasons[0].evidence["message"]
    # a delivery for the refused user is traced, never generated, and says why
    calls: list[str] = []
    d = ca.guard.generate(provider, "a lighthouse", lambda p: calls.append(p) or "text", user="ann")
    assert d.decision is GuardAction.BLOCK and not calls and d.notice is not None and "2026-03" in d.notice
    # ann accepts: she is served; an unnamed request was never subject to the terms
    batch = ca.journey.accept_terms(provider, "2026-03", users=["ann", "bob", "ann"])
    assert (batch.users, batch.new) == (2, 2) and batch.log_index is not None
    assert ca.guard.check_prompt(provider, "a watercolour of a lighthouse", user="ann").decision is GuardAction.ALLOW
    # accepting again writes nothing
    again = ca.journey.accept_terms(provider, "2026-03", users=["ann"])
    assert again.new == 0 and again.log_index is None
    # a new version: ann must accept it before she is served again
    ca.journey.publish_terms(provider, "2026-04", texts={"en": "Version four: no copies of others' works."})
    assert ca.guard.check_prompt(provider, "a lighthouse", user="ann").decision is GuardAction.BLOCK
    ca.journey.accept_terms(provider, "2026-04", users=["ann"])
    assert ca.guard.check_prompt(provider, "a lighthouse", user="ann").decision is GuardAction.ALLOW
    st = ca.journey.standing(provider, user="ann")
    assert st.accepted_terms == ["2026-03", "2026-04"] and st.accepted_current and st.current_terms == "2026-04"
    # one log entry per version, one per batch, the batch's entry committing to the digest of its pseudonyms
    assert len(_events(ca, "journey.terms.publish")) == 2
    assert len(_events(ca, "journey.terms.accept")) == 2
    payload = json.loads(ca.ledger.payload(_events(ca, "journey.terms.accept")[0]) or b"{}")
    assert payload["users"] == 2 and payload["version"] == "2026-03"
    assert payload["users_sha256"] == batch_digest([ca.guard.keys.user_ref("ann"), ca.guard.keys.user_ref("bob")])
    assert "ann" not in json.dumps(payload)  # pseudonyms only, and only by digest


def test_bad_terms_input_is_refused_and_nothing_is_written(ca: Copyalign, world: dict) -> None:
    provider, other = world["provider"], world["other"]
    ca.journey.publish_terms(provider, "v1")
    with pytest.raises(NotFoundError, match="no terms version 'v9'.*versions: v1"):
        ca.journey.accept_terms(provider, "v9", users=["ann"])
    with pytest.raises(ConflictError, match="already published"):
        ca.journey.publish_terms(provider, "v1")
    with pytest.raises(InvalidInputError, match="not a terms version"):
        ca.journey.publish_terms(provider, "../v2")
    with pytest.raises(InvalidInputError, match="empty"):
        ca.journey.publish_terms(provider, "v2", texts={"en": "  "})
    # acceptance by another provider's users: a provider records acceptances of its own terms only
    with pytest.raises(PermissionDeniedError, match="only of its own terms"):
        ca.journey.accept_terms(other, "v1", users=["carl"], provider_id=provider.party_id)
    with pytest.raises(NotFoundError, match="no terms version"):
        ca.journey.accept_terms(other, "v1", users=["carl"])  # the other provider has published none
    with pytest.raises(InvalidInputError, match="pseudonym"):
        ca.journey.accept_terms(provider, "v1", user_refs=["not-a-ref"])
    with ca.store.read() as s:
        assert s.query(JourneyTerms).count() == 1
        assert s.query(JourneyAcceptance).count() == 0
    assert _events(ca, "journey.terms.accept") == []


def test_a_user_crosses_the_escalation_thresholds_on_the_fake_clock(
    ca: Copyalign, world: dict, clock: FakeClock
) -> None:
    provider = world["provider"]
    ca.journey.publish_terms(provider, "2026-03")
    steps = ca.policy.journey.escalation
    assert [(s.flags, s.response) for s in steps] == [(3, "warn"), (5, "cool_off")]
    # two flagged prompts: the guard's own notice, no escalation yet
    for _ in range(2):
        v = ca.guard.check_prompt(provider, IMITATE, user="dan")
        assert v.decision is GuardAction.BLOCK and v.notice is None
        clock.advance(minutes=30)
    # the third within a day: a stronger warning naming the terms and what comes next
    third = ca.guard.check_prompt(provider, IMITATE, user="dan")
    assert third.notice is not None and "version 2026-03" in third.notice and "3 of your requests" in third.notice
    assert "paused for 24 hours" in third.notice
    # allowed prompts are not flags, and still carry the warning while it holds
    ok = ca.guard.check_prompt(provider, "a lighthouse at dusk", user="dan")
    assert ok.decision is GuardAction.ALLOW and ok.notice is None
    st = ca.journey.standing(provider, user="dan")
    assert (st.response, st.flags, st.step) == ("warn", 3, 1)
    # the fourth and fifth: a cooling-off period, logged, refusing every request of dan's
    clock.advance(minutes=30)
    ca.guard.check_prompt(provider, IMITATE, user="dan")
    fifth = ca.guard.check_prompt(provider, IMITATE, user="dan")
    assert fifth.notice is not None and "paused until" in fifth.notice
    refused = ca.guard.check_prompt(provider, "a lighthouse at dusk", user="dan")
    assert refused.decision is GuardAction.BLOCK and refused.reasons[0].rule == "user.cool_off"
    # another user and another provider are untouched; the desk's strikes are a different thing
    assert ca.guard.check_prompt(provider, "a lighthouse at dusk", user="eve").decision is GuardAction.ALLOW
    assert ca.guard.check_prompt(world["other"], "a lighthouse", user="dan").decision is GuardAction.ALLOW
    assert ca.takedown.standing(provider, user="dan").sanction == "none"
    st = ca.journey.standing(provider, user="dan")
    assert st.response == "cool_off" and st.until is not None and st.flags_total == 5
    assert len(_events(ca, "journey.escalation")) == 2  # the warning step and the cooling-off step
    # 24 hours after the fifth flag the pause ends; a day after the flags the window is empty again
    clock.advance(hours=24, seconds=1)
    assert ca.guard.check_prompt(provider, "a lighthouse at dusk", user="dan").decision is GuardAction.ALLOW
    assert ca.journey.standing(provider, user="dan").response == "none"


def test_escalation_steps_are_validated() -> None:
    with pytest.raises(ValueError, match="cool_off_hours"):
        EscalationStep(flags=2, within_hours=1, response="cool_off")
    from copyalign.core.policy import parse_policy
    from copyalign.errors import ConfigurationError

    text = (
        '[profile]\nname="x"\njurisdiction="EU"\nrule="r"\nsource="s"\n'
        "[[journey.escalation]]\nflags = 5\nwithin_hours = 24\nresponse = 'warn'\n"
        "[[journey.escalation]]\nflags = 3\nwithin_hours = 24\nresponse = 'warn'\n"
    )
    with pytest.raises(ConfigurationError, match="strictly increasing"):
        parse_policy(text)


def test_terms_and_standing_over_http(client: TestClient, ca: Copyalign, world: dict) -> None:
    h = auth(world["provider_key"])
    r = client.post("/v1/journey/terms", json={"version": "v1"}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == "v1" and r.json()["current"]
    r = client.post("/v1/journey/terms/v1/acceptances", json={"users": ["ann"]}, headers=h)
    assert r.status_code == 200 and r.json()["new"] == 1
    r = client.post("/v1/journey/terms/v7/acceptances", json={"users": ["ann"]}, headers=h)
    assert r.status_code == 404 and r.json()["error"]["field"] == "version"
    r = client.get("/v1/journey/terms", params={"provider_id": world["provider"].party_id}, headers=h)
    assert [t["version"] for t in r.json()["terms"]] == ["v1"]
    for _ in range(3):
        client.post("/v1/guard/prompt", json={"prompt": IMITATE, "user": "ann"}, headers=h)
    r = client.get("/v1/journey/standing", params={"user": "ann"}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["terms"]["accepted"] == ["v1"] and body["escalation"]["response"] == "warn"
    assert "version v1" in body["escalation"]["message"]
    # another provider cannot read this provider's users
    r = client.get(
        "/v1/journey/standing",
        params={"user": "ann", "provider_id": world["provider"].party_id},
        headers=auth(world["other_key"]),
    )
    assert r.status_code == 403


def test_cli_publishes_terms_records_acceptances_and_shows_standing(
    ca: Copyalign, world: dict, db_url: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from copyalign.cli.main import app

    runner = CliRunner()
    base = ["--db", db_url, "--data-dir", ca.settings.data_dir, "--policy", "cn"]
    pid = world["provider"].party_id

    def run(*args: str, code: int = 0) -> list[dict]:
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == code, result.stdout + result.stderr
        return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]

    texts = tmp_path / "terms.json"
    texts.write_text(json.dumps({"en": "No copies of others' works.", "zh": "不得复制他人作品。"}), "utf-8")
    [published] = run("journey", "publish-terms", "v1", "--provider", pid, "--texts", str(texts), "--json")
    assert published["texts"]["zh"] == "不得复制他人作品。"
    users = tmp_path / "users.txt"
    users.write_text("ann\nbob\n\nann\n", "utf-8")
    [batch] = run("journey", "accept", "v1", "--provider", pid, "--users", str(users), "--json")
    assert (batch["users"], batch["new"]) == (2, 2) and "user_refs" not in batch
    [err] = run("journey", "accept", "v2", "--provider", pid, "--users", str(users), "--json", code=1)
    assert err["error"]["code"] == "not_found" and "v2" in err["error"]["message"]
    ref = ca.guard.keys.user_ref("ann")
    [st] = run("journey", "standing", "--provider", pid, "--user-ref", ref, "--json")
    assert st["terms"]["accepted"] == ["v1"] and st["escalation"]["response"] == "none"
    assert [t["version"] for t in run("journey", "terms", "--provider", pid, "--json")] == ["v1"]


# -- copyright disclaimers in labels (seed 004 ¶80(c)) -------------------------------------------------------


def _photo(size: int = 256) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    arr = np.clip(rng.normal(215, 25, (size, size, 3)), 0, 255).astype(np.uint8)  # a bright, textured picture
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def test_a_delivered_text_carries_the_copyright_disclaimer_in_every_layer(
    ca: Copyalign, world: dict, db_url: str, tmp_path: Path
) -> None:
    provider = world["provider"]
    notice = ca.policy.journey.copyright_notice
    assert set(notice) == {"zh", "en"}  # Chinese and English by default
    d = ca.guard.deliver(provider, "A short poem about the sea.", user="ann")
    assert d.decision is GuardAction.ALLOW and d.text is not None
    # visible: after the AI disclosure, both languages
    assert d.text.startswith("A short poem about the sea.")
    assert ca.policy.guard.disclosure in d.text and notice["zh"] in d.text and notice["en"] in d.text
    # metadata beside the text (a text file carries none) and the trace, sealed with it
    assert d.copyright_notice == notice and d.aigc["ProduceID"] == d.trace_id
    assert ca.guard.trace(provider, d.trace_id).copyright_notice == notice
    found = ca.guard.trace_content(provider, d.content or b"")
    assert found.trace is not None and found.trace.copyright_notice == notice
    # `copyright trace` shows it
    from typer.testing import CliRunner

    from copyalign.cli.main import app

    out = tmp_path / "delivered.txt"
    out.write_bytes(d.content or b"")
    base = ["--db", db_url, "--data-dir", ca.settings.data_dir, "--policy", "cn"]
    result = CliRunner().invoke(app, [*base, "trace", str(out)])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"[en] {notice['en']}" in result.stdout and f"[zh] {notice['zh']}" in result.stdout


def test_a_delivered_image_carries_the_copyright_disclaimer_in_every_layer(ca: Copyalign, world: dict) -> None:
    import io

    import numpy as np
    from PIL import Image

    from copyalign.core.guard.containers import read_rights
    from copyalign.services.guard import c2pa
    from copyalign.services.guard.visible import plan_label

    provider = world["provider"]
    notice = ca.policy.journey.copyright_notice
    c2pa.make_signing_identity(ca.settings.c2pa_dir, organisation="Pixel Foundry AI")
    source = _photo(256)
    d = ca.guard.deliver(provider, source, user="ann")
    assert d.marks == {"visible": True, "aigc": True, "watermark": True, "c2pa": True}
    data = d.content or b""
    # visible: the disclaimer's mark darkens the top-left corner, where the AI label (bottom-right) is not
    plan = plan_label(256, 256, text=ca.policy.journey.image_notice_label, corner="top-left")
    before = np.asarray(Image.open(io.BytesIO(source)).convert("L").crop(plan.box), dtype=float)
    after = np.asarray(Image.open(io.BytesIO(data)).convert("L").crop(plan.box), dtype=float)
    assert after.mean() < before.mean() - 60
    # the GB 45438 metadata's XMP packet: dc:rights beside the AIGC field, by language
    assert read_rights(data) == notice
    # the C2PA manifest, signed after it
    manifest = c2pa.read_c2pa(data, "image/png")
    assert manifest is not None and manifest["copyright_notice"] == notice and manifest["signature_valid"]
    # trace: what the file says and what the sealed trace records
    found = ca.guard.trace_content(provider, data)
    assert found.rights == notice and found.trace is not None and found.trace.copyright_notice == notice
    assert found.to_dict()["copyright_notice"] == notice


def test_without_a_disclaimer_in_the_profile_nothing_is_added(ca: Copyalign, world: dict) -> None:
    from copyalign.core.guard.containers import read_rights

    section = ca.policy.journey.model_copy(update={"copyright_notice": {}, "image_notice_label": ""})
    ca.guard.policy = ca.policy.model_copy(update={"journey": section})
    d = ca.guard.deliver(world["provider"], "A short poem about the sea.")
    assert d.text == f"A short poem about the sea.\n\n{ca.policy.guard.disclosure}"
    image = ca.guard.deliver(world["provider"], _photo(128))
    assert read_rights(image.content or b"") is None and image.copyright_notice == {}
