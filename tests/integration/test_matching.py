"""The matching engine end to end, on SQLite and PostgreSQL: library, HTTP API and CLI."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
import skimage.data
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from copyalign import match
from copyalign.cli.main import app
from copyalign.context import Copyalign, connect
from copyalign.core.text import CJK
from copyalign.errors import ContentTooLargeError, InvalidInputError, UnsupportedContentError
from copyalign.services.matching.index import MatchIndex
from copyalign.services.matching.service import MatchService
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.preferences import PreferenceInput
from copyalign.services.registry.works import WorkInput
from tests.integration.conftest import auth

ZH_SEED = Path(__file__).resolve().parents[1] / "data" / "zh_seed_excerpt.txt"  # from ../shared/seeds/002
HAMLET = (
    "To be, or not to be, that is the question: Whether 'tis nobler in the mind to suffer the slings and arrows "
    "of outrageous fortune, or to take arms against a sea of troubles and by opposing end them. To die, to sleep; "
    "no more; and by a sleep to say we end the heart-ache and the thousand natural shocks that flesh is heir to: "
    "'tis a consummation devoutly to be wish'd. To die, to sleep; to sleep, perchance to dream, ay, there's the rub."
)
OTHER = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of "
    "a wife. However little known the feelings or views of such a man may be on his first entering a neighbourhood, "
    "this truth is so well fixed in the minds of the surrounding families, that he is considered the rightful "
    "property of some one or other of their daughters."
)


def _png(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def op(ca: Copyalign) -> Principal:
    ca.parties.create(None, name="CMO", role="operator")
    ca.matching.refresh_seconds = 0  # every query sees every registration
    principal = ca.parties.operator()
    assert principal is not None
    return principal


def _register(ca: Copyalign, op: Principal, data: bytes, title: str, kind: str) -> str:
    return ca.works.register(op, WorkInput(data=data, title=title, kind=kind)).id


def test_contained_passage_is_found_with_offsets_in_both_texts(ca: Copyalign, op: Principal) -> None:
    hamlet = _register(ca, op, HAMLET.encode(), "Hamlet III.1", "text")
    _register(ca, op, OTHER.encode(), "Pride and Prejudice", "text")
    copied = HAMLET[45:380]
    own = (
        "My essay begins here, with some words of my own about doubt, duty and delay in the theatre of the time, "
        "and about why a soliloquy still holds an audience four centuries after it was first spoken aloud. "
    )
    query = own + copied.upper().replace(" ", "\n  ") + " The end."
    result = match.match_text(ca, query)
    assert [m.work_id for m in result.matches] == [hamlet]
    m = result.matches[0]
    assert m.match == "passage" and 0 < m.score < 1 and m.holder_name == "CMO"
    (span,) = m.spans
    q0, q1 = span.query
    w0, w1 = span.work
    assert query[q0:q1].split()[0].lower() == HAMLET[w0:w1].split()[0].lower()
    assert abs(w0 - 45) <= 10 and abs(w1 - 380) <= 10
    assert set(m.preferences) == {"train-ai", "train-genai", "ai-input", "search"}


def test_exact_normalized_and_unrelated(ca: Copyalign, op: Principal) -> None:
    wid = _register(ca, op, HAMLET.encode(), "Hamlet", "text")
    assert match.match_text(ca, HAMLET).matches[0].match == "exact"
    assert match.match_text(ca, HAMLET.upper()).matches[0].match == "normalized"
    edited = HAMLET.replace("question", "problem").replace("troubles", "sorrows")
    near = match.match_text(ca, edited).matches[0]
    assert near.work_id == wid and near.match in ("near_duplicate", "passage")
    assert match.match_text(ca, OTHER).matches == []


def test_chinese_seed_passage_is_found(ca: Copyalign, op: Principal) -> None:
    text = ZH_SEED.read_text("utf-8")
    wid = _register(ca, op, text.encode(), "Chinese paper", "text")
    query = "引言。" + text[1000:1200].replace("，", ", ").replace("。", ". ") + "结语。"
    (m,) = match.match_text(ca, query).matches
    assert m.work_id == wid and m.match == "passage"
    (span,) = m.spans
    assert abs(span.work[0] - 1000) <= 4 and abs(span.work[1] - 1200) <= 4  # punctuation at the edges


def test_chinese_passages_at_the_shortest_reportable_length_are_found(ca: Copyalign, op: Principal) -> None:
    """A Chinese passage counts each character as half a word, so the shortest one reported is twice
    ``min_passage_tokens`` characters; the engine asks Chinese queries for more shared fingerprints before it
    verifies a work (far fewer works to verify), and must still find every passage of exactly that length,
    alone, among unrelated Chinese text, and beside English."""
    import random

    text = ZH_SEED.read_text("utf-8")
    wid = _register(ca, op, text.encode(), "Chinese paper", "text")
    shortest = 2 * ca.policy.matching.min_passage_tokens
    rng = random.Random(7)

    def filler(n: int) -> str:  # unrelated Chinese: characters the paper has, in an order it never has
        return "".join(rng.choice(text[:2000]) for _ in range(n))

    def cjk_passage(at: int) -> str | None:  # the shortest run from ``at`` holding ``shortest`` characters
        n = 0
        for end in range(at, len(text)):
            if text[end].isascii() and text[end].isalnum():
                return None  # a Latin word or a number would change the passage's weight
            n += bool(CJK.fullmatch(text[end]))
            if n == shortest:
                return text[at : end + 1]
        return None

    passages = [p for p in (cjk_passage(at) for at in range(0, len(text), 29)) if p][:25]
    assert len(passages) == 25
    for passage in passages:
        for query in (passage, filler(300) + passage + filler(300), OTHER[:150] + passage + OTHER[150:]):
            found = [m for m in match.match_text(ca, query).matches if m.match == "passage"]
            assert [m.work_id for m in found] == [wid], query
    assert match.match_text(ca, text[100 : 100 + shortest - 6]).matches == []  # shorter: a stock phrase


def test_a_preference_change_and_a_new_registration_are_visible_at_once(ca: Copyalign, op: Principal) -> None:
    assert match.match_text(ca, HAMLET[:300]).matches == []
    wid = _register(ca, op, HAMLET.encode(), "Hamlet", "text")
    first = match.match_text(ca, HAMLET[:300]).matches[0]
    assert first.work_id == wid
    ca.preferences.set(op, pref=PreferenceInput.parse("train-genai", "deny"), work_id=wid)
    after = match.match_text(ca, HAMLET[:300]).matches[0]
    assert after.preferences["train-genai"]["value"] == "deny"
    assert first.preferences["train-genai"]["value"] != "deny"


def test_image_copies_match_and_flat_images_never_do(ca: Copyalign, op: Principal) -> None:
    photo = Image.fromarray(skimage.data.astronaut())
    wid = _register(ca, op, _png(photo), "Astronaut", "image")
    _register(ca, op, _png(Image.new("RGB", (200, 200), (10, 120, 40))), "Green", "image")
    jpeg = _png(photo.resize((256, 256)), "JPEG", quality=50)
    (m,) = match.match_image(ca, jpeg).matches
    assert m.work_id == wid and m.match == "perceptual" and m.distance is not None and m.distance <= 31
    w, h = photo.size
    (c,) = match.match_image(ca, _png(photo.crop((0, 0, int(w * 0.95), int(h * 0.95))))).matches
    assert c.work_id == wid and c.region is not None
    # another flat image is not a copy of the registered flat one, and neither is another photo
    assert match.match_image(ca, _png(Image.new("RGB", (300, 100), (200, 10, 10)))).matches == []
    assert match.match_image(ca, _png(Image.fromarray(skimage.data.coffee()))).matches == []


def test_bad_input_is_refused_with_a_named_reason(ca: Copyalign, op: Principal) -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        match.match_text(ca, "")
    with pytest.raises(InvalidInputError, match="whitespace"):
        match.match_text(ca, "   \n\t ")
    with pytest.raises(UnsupportedContentError, match="NUL"):
        match.match_text(ca, b"\x00\x01binary\x00")
    with pytest.raises(InvalidInputError, match="UTF-8"):
        match.match_text(ca, b"\xff\xfe\xfa")
    with pytest.raises(ContentTooLargeError, match="over the limit"):
        match.match_text(ca, b"a " * (ca.settings.max_upload_bytes // 2 + 1))
    with pytest.raises(UnsupportedContentError, match="not an image"):
        match.match_image(ca, b"GIF89a this is not really a gif")
    bomb = _png(Image.new("L", (5000, 5000)))  # 25 megapixels in a few kilobytes; the limit here is 4
    with pytest.raises(ContentTooLargeError, match="pixels"):
        match.match_image(ca, bomb)
    results = match.match_texts(ca, [HAMLET, "", OTHER])
    assert isinstance(results[1], InvalidInputError) and not isinstance(results[0], Exception)


def test_removal_compaction_and_shards_keep_answers_right(ca: Copyalign, op: Principal, tmp_path: Path) -> None:
    ids = [
        _register(ca, op, f"{HAMLET} Variant number {i}. {OTHER[: 40 + i]}".encode(), f"v{i}", "text") for i in range(3)
    ]
    hamlet_only = _register(ca, op, (HAMLET + " Coda.").encode(), "h", "text")
    assert ca.matching.refresh() == 4  # registration does not index; the next refresh or query does
    found = {m.work_id for m in match.match_text(ca, HAMLET[:400]).matches}
    assert found == {*ids, hamlet_only}
    ca.matching.index.remove([ids[0]])
    assert ids[0] not in {m.work_id for m in match.match_text(ca, HAMLET[:400]).matches}
    ca.matching.index.compact()
    assert {m.work_id for m in match.match_text(ca, HAMLET[:400]).matches} == {ids[1], ids[2], hamlet_only}
    # the same registry through a three-shard index, rebuilt from the store, answers the same
    sharded = MatchService(ca.matching.deps, MatchIndex(tmp_path / "sharded", shards=3))
    sharded.refresh_seconds = 0
    assert sharded.rebuild() == 4
    assert all(len(s.names) <= 1 for s in sharded.index.shards)  # an empty shard needs no segment
    assert {m.work_id for m in sharded.match_text(op, HAMLET[:400]).matches} == found


def test_a_bulk_refresh_leaves_one_segment_and_finds_every_batch(
    ca: Copyalign, op: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Queries probe every segment: a refresh that indexed several batches merges them, so a bulk load does
    # not leave the guard's latency path probing one segment per batch.
    from copyalign.services.matching import service as matching

    monkeypatch.setattr(matching, "REFRESH_BATCH", 2)
    ids = [_register(ca, op, f"{HAMLET} Variant number {i}.".encode(), f"v{i}", "text") for i in range(5)]
    assert ca.matching.refresh() == 5
    assert [len(s.names) for s in ca.matching.index.shards] == [1]
    assert {m.work_id for m in match.match_text(ca, HAMLET[:400]).matches} == set(ids)
    extra = _register(ca, op, f"{HAMLET} One more.".encode(), "v5", "text")
    assert ca.matching.refresh() == 1  # one batch: a new segment beside the merged one, no full merge
    assert [len(s.names) for s in ca.matching.index.shards] == [2]
    assert extra in {m.work_id for m in match.match_text(ca, HAMLET[:400]).matches}


def test_index_is_persisted_and_reloaded_by_another_process_view(ca: Copyalign, op: Principal) -> None:
    wid = _register(ca, op, HAMLET.encode(), "Hamlet", "text")
    match.match_text(ca, HAMLET[:300])  # indexes it
    again = connect(ca.settings, clock=ca.clock, blobs=ca.blobs, policy=ca.policy)
    try:
        again.matching.refresh_seconds = 3600  # no refresh: the answer must come from the files on disk
        assert again.matching.index.watermark == ca.matching.index.watermark
        assert [m.work_id for m in match.match_text(again, HAMLET[:300]).matches] == [wid]
    finally:
        again.close()


def test_http_match_json_and_upload(client: TestClient, ca: Copyalign, op_key: str) -> None:
    ca.matching.refresh_seconds = 0
    r = client.post("/v1/works", json={"title": "Hamlet", "text": HAMLET}, headers=auth(op_key))
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    body = client.post("/v1/match", json={"text": "Intro. " + HAMLET[20:400]}, headers=auth(op_key)).json()
    assert body["kind"] == "text" and body["matches"][0]["work_id"] == wid
    assert body["matches"][0]["spans"][0]["query"][0] >= 7
    photo = _png(Image.fromarray(skimage.data.camera()))
    client.post("/v1/works/upload", files={"file": ("c.png", photo)}, data={"title": "Camera"}, headers=auth(op_key))
    b64 = base64.b64encode(_png(Image.fromarray(skimage.data.camera()), "JPEG", quality=50)).decode()
    img = client.post("/v1/match", json={"content_base64": b64}, headers=auth(op_key)).json()
    assert img["kind"] == "image" and img["matches"][0]["match"] == "perceptual"
    up = client.post("/v1/match/upload", files={"file": ("q.txt", HAMLET.encode())}, headers=auth(op_key)).json()
    assert up["matches"][0]["match"] == "exact"
    bad = client.post("/v1/match", json={"text": ""}, headers=auth(op_key))
    assert bad.status_code == 400 and "empty" in bad.text


def test_cli_match_json_one_object_per_path(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--db", db_url, "--data-dir", str(tmp_path / "data")]
    assert runner.invoke(app, [*base, "init"]).exit_code == 0
    work = tmp_path / "hamlet.txt"
    work.write_text(HAMLET)
    assert runner.invoke(app, [*base, "works", "add", str(work), "--title", "Hamlet"]).exit_code == 0
    quote = tmp_path / "quote.txt"
    quote.write_text("He said: " + HAMLET[30:360])
    other = tmp_path / "other.txt"
    other.write_text(OTHER)
    missing = tmp_path / "missing.txt"
    res = runner.invoke(app, [*base, "match", str(quote), str(other), str(missing), "--json"])
    assert res.exit_code == 1  # one path could not be read
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert [x["path"] for x in lines] == [str(quote), str(other), str(missing)]
    assert lines[0]["matches"][0]["title"] == "Hamlet" and lines[0]["matches"][0]["spans"]
    assert lines[1]["matches"] == [] and "error" in lines[2]
    built = runner.invoke(app, [*base, "index", "build", "--json"])
    assert built.exit_code == 0 and json.loads(built.stdout)["works"] == 1
