"""The provider's duties along the user journey (issue 24; seed 004 ¶84, ¶80(c); seed 003 §4.3): terms of use and
their acceptance, dynamic warnings on the fake clock, and the guard's refusals that follow from them."""

from __future__ import annotations

import hashlib
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
        return list(s.execute(select(LogEntry.idx).where(LogEntry.event == event).order_by(LogEntry.idx)).scalars())


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
    # a user model: exit 0 when allowed, 11 when not (a set with an unreadable item is held)
    clean = _set(tmp_path, "clean", {"a.txt": b"my own sketches of boats"})
    [allowed] = run(
        "journey",
        "register-model",
        str(clean),
        "--provider",
        pid,
        "--name",
        "boats",
        "--base-model",
        "sd-1",
        "--user",
        "ann",
        "--json",
    )
    assert allowed["status"] == "allowed"
    held = _set(tmp_path, "held", {"a.txt": b"boats", "b.bin": b"\x00"})
    [h] = run(
        "journey",
        "register-model",
        str(held),
        "--provider",
        pid,
        "--name",
        "mixed",
        "--base-model",
        "sd-1",
        "--user",
        "ann",
        "--json",
        code=11,
    )
    assert h["status"] == "held"
    listed = run("journey", "models", "--provider", pid, "--json")
    assert [m["status"] for m in listed] == ["allowed", "held"]


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
    from copyalign.services.guard.delivery import NOTICE_FALLBACK
    from copyalign.services.guard.visible import choose_label_font, plan_label

    provider = world["provider"]
    notice = ca.policy.journey.copyright_notice
    c2pa.make_signing_identity(ca.settings.c2pa_dir, organisation="Pixel Foundry AI")
    source = _photo(256)
    d = ca.guard.deliver(provider, source, user="ann")
    assert d.marks == {"visible": True, "aigc": True, "watermark": True, "c2pa": True}
    data = d.content or b""
    # visible: the disclaimer's mark darkens the top-left corner, where the AI label (bottom-right) is not
    label = ca.policy.journey.image_notice_label
    font = choose_label_font(label, fallback_text=NOTICE_FALLBACK)  # English where this machine has no CJK font
    plan = plan_label(256, 256, text=label, corner="top-left", font=font)
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


# -- user-trained models (seed 004 ¶18, ¶26: the Ultraman LoRA case) ------------------------------------------


def _img(name: str, size: int) -> bytes:
    import io

    import skimage.data
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(getattr(skimage.data, name)()).convert("RGB").resize((size, size)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def character(ca: Copyalign, world: dict) -> dict:
    """A curated character: its holder registered its images and linked them to the character's names."""
    holder = world["holder"]
    pictures = [ca.works.register(holder, WorkInput(data=_img(n, 400), title=f"Ultraking {n}")) for n in ("astronaut",)]
    term = ca.guard.add_term(holder, kind="character", names=["Ultraking"], work_ids=[p.id for p in pictures])
    ca.matching.refresh()
    return {"works": [p.id for p in pictures], "term": term.id}


def _set(tmp_path: Path, name: str, files: dict[str, bytes]) -> Path:
    root = tmp_path / name
    root.mkdir()
    for fname, data in files.items():
        (root / fname).write_bytes(data)
    return root


def test_a_training_set_with_a_curated_characters_images_is_blocked(
    ca: Copyalign, world: dict, character: dict, tmp_path: Path
) -> None:
    provider = world["provider"]
    bad = _set(tmp_path, "bad", {"a.png": _img("astronaut", 300), "b.png": _photo(96), "c.txt": b"a plain caption"})
    a = ca.journey.register_adapter(provider, name="ultraking-lora", base_model="sd-1", training_set=bad, user="ann")
    assert a.status == "blocked" and a.findings["characters"] == 1
    [hit] = a.findings["character_hits"]
    assert hit["term"] == character["term"] and hit["works"] == character["works"]
    # provenance: the scan's log entry (naming the user model) and its manifest digest
    scan = json.loads(ca.ledger.payload(a.scan_log_index) or b"{}")
    assert scan["user_model"] == a.id and scan["manifest_sha256"] == a.manifest_sha256
    assert scan["decisions"]["keep"] + scan["decisions"]["hold"] + scan["decisions"]["drop"] >= 2
    # no training, so no trained file, and no generation through it
    with pytest.raises(ConflictError, match="blocked"):
        ca.journey.attach_adapter(provider, a.id, b"weights")
    calls: list[str] = []
    d = ca.guard.generate(provider, "a lighthouse", lambda p: calls.append(p) or "x", user="ann", model=a.id)
    assert d.decision is GuardAction.BLOCK and not calls and d.verdicts[0].reasons[0].rule == "model.blocked"


def test_a_clean_set_is_allowed_and_a_removed_adapter_can_no_longer_generate(
    ca: Copyalign, world: dict, character: dict, tmp_path: Path
) -> None:
    from copyalign.core.takedown.elements import Party
    from copyalign.services.takedown.inputs import DecisionInput, MaterialInput, NoticeFiling, WorkClaim

    provider, op = world["provider"], world["operator"]
    clean = _set(tmp_path, "clean", {"a.png": _photo(96), "b.txt": b"my own sketches of boats"})
    a = ca.journey.register_adapter(provider, name="boats", base_model="sd-1", training_set=clean, user="ann")
    assert a.status == "allowed" and a.findings["items"] == 2 and a.findings["unreadable"] == 0
    # the scan's manifest and record stay as provenance; no copy of the user's training data is kept
    kept = Path(ca.settings.data_dir) / "user-models" / a.id / "scan"
    assert (kept / "manifest.parquet").is_file() and (kept / "scan.json").is_file() and not (kept / "kept").exists()
    # a stand-in for the trained LoRA file, with its digest recorded beside the scan's provenance
    weights = b"stand-in safetensors: lora_down/lora_up for boats"
    attached = ca.journey.attach_adapter(provider, a.id, weights)
    assert attached.file_sha256 == hashlib.sha256(weights).hexdigest()
    d = ca.guard.generate(provider, "a boat at sea", lambda p: "A boat sails.", user="ann", model=a.id)
    assert d.decision is GuardAction.ALLOW
    # a rights holder's notice on that output; the desk removes the model (seed 004 ¶26)
    filing = NoticeFiling(
        (WorkClaim(description="my character", materials=(MaterialInput("trace", d.trace_id),)),),
        sender=Party(name="Northwind Press", email="np@example.org", address="1 Road", identity_proof="ID 1"),
        evidence=("certificate",),
    )
    nid = ca.takedown.file(world["holder"], filing).id
    ca.takedown.triage(op, nid)
    from copyalign.store.models import TakedownItem

    with ca.store.read() as s:  # triage saw that the output came from a user model
        [item] = s.query(TakedownItem).filter(TakedownItem.notice_id == nid).all()
        assert item.evidence["user_model"] is True
    ca.takedown.decide(op, nid, DecisionInput("upheld", "a user model of the character", measures=("remove_model",)))
    ca.takedown.act(op, nid)
    removed = ca.journey.adapter(provider, a.id)
    assert removed.removed and removed.removal_ref is not None
    calls: list[str] = []
    again = ca.guard.generate(provider, "a boat at sea", lambda p: calls.append(p) or "x", user="bob", model=a.id)
    assert again.decision is GuardAction.BLOCK and not calls
    assert again.verdicts[0].reasons[0].rule == "model.removed" and again.notice and "removed" in again.notice
    # the listing marks it; the base model is not affected
    [listed] = [x.to_dict() for x in ca.journey.list_adapters(provider) if x.id == a.id]
    assert listed["removed"] and listed["removal_measure"] == removed.removal_ref
    assert ca.guard.generate(provider, "a boat", lambda p: "A boat.", model="sd-1").decision is GuardAction.ALLOW
    assert _events(ca, "journey.adapter.remove")
    # the base model's card for deployers lists the user model built on it and the measure that removed it
    lab, _ = make_party(ca, op, "developer", "SD Lab")
    ca.modelcards.declare(lab, "sd-1")
    card = ca.modelcards.card(lab, "sd-1")
    assert [u["adapter"] for u in card["user_models"]] == [a.id]
    assert [(t["kind"], t["state"], t["target"]) for t in card["takedown"]] == [("remove_model", "applied", a.id)]
    # the desk undoes the measure (a restoration): the user model serves again, and its card says both
    ca.takedown.undo_measure(op, removed.removal_ref or "", reason="the counter-notice was not contested")
    assert not ca.journey.adapter(provider, a.id).removed
    back = ca.guard.generate(provider, "a boat at sea", lambda p: "A boat sails.", user="bob", model=a.id)
    assert back.decision is GuardAction.ALLOW
    states = [t["state"] for t in ca.modelcards.card(lab, "sd-1")["takedown"]]
    assert states == ["applied", "undone"] and _events(ca, "journey.adapter.restore")


def test_unreadable_items_hold_a_set_and_it_is_never_allowed(ca: Copyalign, world: dict, tmp_path: Path) -> None:
    provider = world["provider"]
    section = ca.policy.journey.model_copy(update={"adapter_action": "allow"})  # even the laxest profile
    ca.journey.policy = ca.policy.model_copy(update={"journey": section})
    files = {"a.png": _photo(96), "broken.png": b"\x89PNG\r\n\x1a\n not really a picture", "x.bin": b"\x00\x01"}
    a = ca.journey.register_adapter(
        provider, name="mixed", base_model="sd-1", training_set=_set(tmp_path, "m", files), user="ann"
    )
    assert a.status == "held" and a.findings["unreadable"] == 2
    assert set(a.findings["unreadable_items"]) >= {"x.bin"}
    with pytest.raises(ConflictError, match="could not be read"):
        ca.journey.review_adapter(provider, a.id, decision="allow", reason="looks fine")
    assert ca.journey.adapter(provider, a.id).status == "held"
    blocked = ca.journey.review_adapter(provider, a.id, decision="block", reason="unreadable items")
    assert blocked.status == "blocked"
    with pytest.raises(ConflictError, match="only a held"):
        ca.journey.review_adapter(provider, a.id, decision="allow", reason="again")


def test_bad_adapter_requests_write_nothing(ca: Copyalign, world: dict, tmp_path: Path) -> None:
    provider = world["provider"]
    ok = _set(tmp_path, "ok", {"a.txt": b"text"})
    with pytest.raises(InvalidInputError, match="not a folder"):
        ca.journey.register_adapter(provider, name="n", base_model="b", training_set=tmp_path / "nope", user="ann")
    with pytest.raises(InvalidInputError, match="method"):
        ca.journey.register_adapter(provider, name="n", base_model="b", training_set=ok, user="ann", method="qlora")
    with pytest.raises(PermissionDeniedError):
        ca.journey.register_adapter(
            world["other"], name="n", base_model="b", training_set=ok, user="ann", provider_id=provider.party_id
        )
    with pytest.raises(NotFoundError, match="no user model"):
        ca.journey.adapter(provider, "adp_missing")
    assert ca.journey.list_adapters(provider) == []
    assert _events(ca, "scan.record") == []
    # generation through an adapter id nobody registered is refused too
    d = ca.guard.generate(provider, "a boat", lambda p: "x", model="adp_unknown")
    assert d.decision is GuardAction.BLOCK and d.verdicts[0].reasons[0].rule == "model.unknown"


def test_adapters_over_http(client: TestClient, ca: Copyalign, world: dict) -> None:
    import base64

    h = auth(world["provider_key"])
    body = {
        "name": "boats",
        "base_model": "sd-1",
        "user": "ann",
        "items": [
            {"name": "a.txt", "text": "my own sketches of boats"},
            {"name": "b.png", "content_base64": base64.b64encode(_photo(96)).decode()},
        ],
    }
    r = client.post("/v1/journey/adapters", json=body, headers=h)
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    assert r.json()["status"] == "allowed" and r.json()["provenance"]["scan_log_entry"] >= 0
    r = client.post(f"/v1/journey/adapters/{aid}/file", json={"text": "stand-in weights"}, headers=h)
    assert r.status_code == 200 and r.json()["provenance"]["file_sha256"]
    bad = {**body, "items": [{"name": "../evil.txt", "text": "x"}]}
    assert client.post("/v1/journey/adapters", json=bad, headers=h).status_code == 422
    r = client.get("/v1/journey/adapters", headers=h)
    assert [a["id"] for a in r.json()["adapters"]] == [aid]


def test_the_guards_check_of_an_accepted_unflagged_user_reads_no_journey_table(ca: Copyalign, world: dict) -> None:
    from sqlalchemy import event

    provider = world["provider"]
    _require_terms(ca)
    # the caches' lifetimes, long here so that a loaded machine does not expire them between two checks
    ca.journey.terms.refresh_seconds = ca.journey.escalations.refresh_seconds = 3600
    ca.journey.publish_terms(provider, "v1")
    ca.journey.accept_terms(provider, "v1", users=["ann"])
    assert ca.guard.check_prompt(provider, "a lighthouse", user="ann").decision is GuardAction.ALLOW  # warms up
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(ca.store.engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            assert ca.guard.check_prompt(provider, "a lighthouse", user="ann").decision is GuardAction.ALLOW
    finally:
        event.remove(ca.store.engine, "before_cursor_execute", count)
    assert not [q for q in statements if "journey_" in q]
    # a user who has not accepted is still refused at once, and a new version is required at once
    assert ca.guard.check_prompt(provider, "a lighthouse", user="zed").decision is GuardAction.BLOCK
    ca.journey.publish_terms(provider, "v2")
    assert ca.guard.check_prompt(provider, "a lighthouse", user="ann").decision is GuardAction.BLOCK
