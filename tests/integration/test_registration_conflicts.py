"""A second holder registering a copy of a registered work: warned, flagged, allowed or refused as the profile
says, through the API, the CLI and the portal, and queued for the operator; on both databases."""

from __future__ import annotations

import base64
import io
import json

import pytest
import skimage.data
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from copyalign.context import Copyalign
from copyalign.core.policy import RegistrySection
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.works import WorkInput
from tests.conftest import make_party
from tests.integration.conftest import auth

POEM = (
    "The river keeps the names of every town it passes, and in the spring it says them over to the willows, "
    "slowly, one by one, until the willows learn them too and whisper them back to the rain that falls at night."
)
# the same poem, lightly edited: a near-duplicate for MinHash, not the same bytes or the same normalised text
POEM_EDITED = POEM.replace("every town", "each town").replace("at night", "at dusk")


def _jpeg(img: Image.Image, quality: int = 60) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _with(ca: Copyalign, action: str) -> None:
    """Run the registry under ``registry.conflict_action = action`` (the profile is read at each registration)."""
    ca.works.policy = ca.policy.model_copy(update={"registry": RegistrySection(conflict_action=action)})


@pytest.fixture
def two_holders(ca: Copyalign, op_key: str) -> dict[str, object]:
    op = ca.parties.authenticate(op_key)
    alice, alice_key = make_party(ca, op, "rights_holder", "Alice Author")
    bob, bob_key = make_party(ca, op, "rights_holder", "Bob Borrower")
    return {"op": op, "op_key": op_key, "alice": alice, "alice_key": alice_key, "bob": bob, "bob_key": bob_key}


def test_the_default_flags_a_near_duplicate_image_names_the_other_work_and_queues_it(
    client: TestClient, ca: Copyalign, two_holders: dict
) -> None:
    assert ca.policy.registry.conflict_action == "flag"  # the default, and the cn preset's
    photo = Image.fromarray(skimage.data.astronaut())
    first = client.post(
        "/v1/works",
        json={"title": "Astronaut", "content_base64": base64.b64encode(_png(photo)).decode()},
        headers=auth(two_holders["alice_key"]),
    )
    assert first.status_code == 201 and "conflicts" not in first.json()
    # a recompressed, resized copy: other bytes, the same picture
    copy = base64.b64encode(_jpeg(photo.resize((400, 400)))).decode()
    r = client.post(
        "/v1/works", json={"title": "My astronaut", "content_base64": copy}, headers=auth(two_holders["bob_key"])
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["conflicts"]["action"] == "flag"
    [c] = body["conflicts"]["works"]
    assert c["work_id"] == first.json()["id"] and c["holder"]["name"] == "Alice Author" and c["match"] == "perceptual"
    [warning] = body["warnings"]
    assert "'Astronaut'" in warning and "Alice Author" in warning and "flagged" in warning

    # the log says so at registration
    entry = json.loads(ca.ledger.payload(body["log_index"]) or b"{}")
    assert entry["conflicts"]["works"][0]["work"] == first.json()["id"]

    # the operator's queue has it; a holder may not read the queue
    queue = client.get("/v1/conflicts", headers=auth(two_holders["op_key"])).json()["conflicts"]
    assert [q["work"]["id"] for q in queue] == [body["id"]] and queue[0]["duplicates"]["holder"][
        "name"
    ] == "Alice Author"
    refused = client.get("/v1/conflicts", headers=auth(two_holders["bob_key"]))
    assert refused.status_code == 403 and refused.json()["error"]["action"] == "conflict.review"
    # both holders see it on their own work
    for key, wid in ((two_holders["alice_key"], first.json()["id"]), (two_holders["bob_key"], body["id"])):
        mine = client.get(f"/v1/works/{wid}/conflicts", headers=auth(key)).json()["conflicts"]
        assert [m["status"] for m in mine] == ["open"]

    # resolved once, with a logged decision; not twice
    cid = queue[0]["id"]
    done = client.post(
        f"/v1/conflicts/{cid}/resolve",
        json={"decision": "first-holder", "note": "Alice showed the photographer's contract"},
        headers=auth(two_holders["op_key"]),
    )
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    assert json.loads(ca.ledger.payload(done.json()["resolution_log_index"]) or b"{}")["decision"] == "first-holder"
    again = client.post(
        f"/v1/conflicts/{cid}/resolve", json={"decision": "both-stand"}, headers=auth(two_holders["op_key"])
    )
    assert again.status_code == 409
    assert client.get("/v1/conflicts", headers=auth(two_holders["op_key"])).json()["conflicts"] == []
    bad = client.post(
        f"/v1/conflicts/{cid}/resolve", json={"decision": "toss-a-coin"}, headers=auth(two_holders["op_key"])
    )
    assert bad.status_code == 400 and "first-holder" in bad.json()["error"]["message"]


def test_refuse_keeps_a_near_duplicate_text_out_and_says_whose_it_is(
    client: TestClient, ca: Copyalign, two_holders: dict
) -> None:
    _with(ca, "refuse")
    alice_work = ca.works.register(two_holders["alice"], WorkInput(data=POEM.encode(), title="River"))
    r = client.post("/v1/works", json={"title": "Stream", "text": POEM_EDITED}, headers=auth(two_holders["bob_key"]))
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert (
        err["code"] == "registration_conflict" and alice_work.id in err["message"] and "Alice Author" in err["message"]
    )
    assert ca.works.list(two_holders["bob"]) == []  # nothing registered


def test_allow_registers_with_a_warning_and_leaves_the_queue_empty(ca: Copyalign, two_holders: dict) -> None:
    _with(ca, "allow")
    ca.works.register(two_holders["alice"], WorkInput(data=POEM.encode(), title="River"))
    view = ca.works.register(two_holders["bob"], WorkInput(data=POEM_EDITED.encode(), title="Stream"))
    assert [c.match for c in view.conflicts] == ["near_duplicate"] and "registered all the same" in view.warnings[0]
    assert ca.conflicts.list(two_holders["op"]) == []
    assert [c.status for c in ca.conflicts.list(two_holders["op"], status="noted")] == ["noted"]


def test_a_holder_registering_its_own_near_duplicate_is_no_conflict(ca: Copyalign, two_holders: dict) -> None:
    ca.works.register(two_holders["alice"], WorkInput(data=POEM.encode(), title="River"))
    view = ca.works.register(two_holders["alice"], WorkInput(data=POEM_EDITED.encode(), title="River, revised"))
    assert view.conflicts == () and view.warnings == []


def test_a_passage_quoted_in_a_longer_text_is_not_a_second_claim(ca: Copyalign, two_holders: dict) -> None:
    ca.works.register(two_holders["alice"], WorkInput(data=POEM.encode(), title="River"))
    essay = "An essay on rivers in modern verse. " * 8 + POEM + " The poem ends there; what follows is commentary. " * 8
    assert ca.works.register(two_holders["bob"], WorkInput(data=essay.encode(), title="Essay")).conflicts == ()


def test_the_cli_warns_lists_and_resolves(ca: Copyalign, two_holders: dict, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from copyalign.cli.main import app

    runner = CliRunner()
    base = ["--db", ca.settings.database_url, "--data-dir", ca.settings.data_dir, "--policy", "cn"]
    (tmp_path / "river.txt").write_text(POEM)  # through the CLI too: its blob store is the data folder's
    add = [*base, "works", "add", str(tmp_path / "river.txt"), "--title", "River [first edition]"]
    assert runner.invoke(app, [*add, "--holder", two_holders["alice"].party_id]).exit_code == 0
    f = tmp_path / "stream.txt"
    f.write_text(POEM_EDITED)
    r = runner.invoke(app, [*base, "works", "add", str(f), "--holder", two_holders["bob"].party_id])
    assert r.exit_code == 0, r.output
    # Rich markup would have eaten "[first edition]"
    assert "warning:" in r.output and "'River [first edition]'" in r.output and "Alice Author" in r.output
    r = runner.invoke(app, [*base, "works", "conflicts", "--json"])
    [row] = [json.loads(line) for line in r.stdout.splitlines()]
    assert row["status"] == "open" and row["duplicates"]["holder"]["name"] == "Alice Author"
    r = runner.invoke(app, [*base, "works", "resolve", row["id"], "--decision", "both-stand", "--note", "co-owned"])
    assert r.exit_code == 0 and "both-stand" in r.output
    r = runner.invoke(app, [*base, "works", "conflicts"])
    assert "no open registration conflict" in r.output


def test_the_portal_warns_the_holder_and_the_operator_resolves(
    client: TestClient, ca: Copyalign, two_holders: dict
) -> None:
    ca.works.register(two_holders["alice"], WorkInput(data=POEM.encode(), title="River"))
    client.post("/signin", data={"api_key": two_holders["bob_key"]})
    r = client.post("/works/new", files={"file": ("stream.txt", POEM_EDITED.encode())}, data={"title": "Stream"})
    assert r.status_code == 200 and "Registered and recorded" in r.text
    assert "This work duplicates another holder's work" in r.text and "Alice Author" in r.text
    assert "The registry operator will review" in r.text
    client.post("/signin", data={"api_key": two_holders["op_key"]})
    page = client.get("/conflicts")
    assert page.status_code == 200 and "Stream" in page.text and "River" in page.text and "Bob Borrower" in page.text
    cid = ca.conflicts.list(two_holders["op"])[0].id
    done = client.post(f"/conflicts/{cid}/resolve", data={"decision": "second-holder", "note": "Bob's is the original"})
    assert done.status_code == 200 and "resolved and recorded" in done.text
    assert ca.conflicts.list(two_holders["op"], status="resolved")[0].decision == "second-holder"


def test_only_the_operator_reviews_conflicts(ca: Copyalign, operator: Principal) -> None:
    from copyalign.errors import PermissionDeniedError

    for role in ("rights_holder", "developer", "provider", "auditor"):
        who, _ = make_party(ca, operator, role)
        with pytest.raises(PermissionDeniedError):
            ca.conflicts.list(who)


def test_a_bulk_import_finds_the_conflicts_inside_it_as_one_registration_would(
    ca: Copyalign, two_holders: dict
) -> None:
    """A batch of 70 (its queries computed on the process pool): the copies of Alice's poem and photo are the
    conflicts, in their places; the other items have none."""
    _with(ca, "allow")
    photo = Image.fromarray(skimage.data.astronaut())
    river = ca.works.register(two_holders["alice"], WorkInput(data=POEM.encode(), title="River"))
    astronaut = ca.works.register(two_holders["alice"], WorkInput(data=_png(photo), title="Astronaut"))
    ca.matching.workers = 2
    batch = [
        WorkInput(
            data=f"Letter {i}: the weather was {'fine' if i % 2 else 'wet'} on day {i} of {i * 7}.".encode(),
            title=f"L{i}",
        )
        for i in range(68)
    ]
    batch.insert(10, WorkInput(data=POEM_EDITED.encode(), title="Stream"))
    batch.insert(50, WorkInput(data=_jpeg(photo.resize((400, 400))), title="My astronaut", kind="image"))
    views = ca.works.register_many(two_holders["bob"], batch, workers=2)
    found = {i: [c.work_id for c in v.conflicts] for i, v in enumerate(views) if v.conflicts}
    assert found == {10: [river.id], 50: [astronaut.id]}


def test_a_bulk_import_probed_while_fingerprinting_still_names_its_first_error_in_order(
    ca: Copyalign, two_holders: dict
) -> None:
    """A bulk import probes each part for conflicts as the pool fingerprints it; what it refuses is unchanged: a
    bad item later in the batch is named before an earlier conflict (fingerprints come first), without a bad
    item the first conflict is refused, and either way nothing is registered."""
    from copyalign.errors import ItemError

    _with(ca, "refuse")
    ca.works.register(two_holders["alice"], WorkInput(data=POEM.encode(), title="River"))
    ca.matching.workers = 2
    batch = [WorkInput(data=f"Letter {i} of {i * 13}: all is well here.".encode(), title=f"L{i}") for i in range(80)]
    batch[5] = WorkInput(data=POEM_EDITED.encode(), title="Stream")  # a conflict early in the batch
    bad = [*batch[:70], WorkInput(data=b"not a picture", title="broken", kind="image"), *batch[71:]]
    with pytest.raises(ItemError) as caught:
        ca.works.register_many(two_holders["bob"], bad, workers=2)
    assert caught.value.position == 70 and caught.value.error.code != "registration_conflict"
    with pytest.raises(ItemError) as caught:
        ca.works.register_many(two_holders["bob"], batch, workers=2)
    assert caught.value.position == 5 and caught.value.error.code == "registration_conflict"
    assert ca.works.list(two_holders["bob"]) == []


def _index_images(ca: Copyalign) -> list[tuple[str, bytes, tuple[float, ...]]]:
    """Every image hash of the index: (work, PDQ words, region)."""
    out = []
    for shard in ca.matching.index.shards:
        for seg in shard.live():
            a = seg.arrays
            for r in range(a["pdq"].shape[0]):
                wid = seg.work_id(int(a["pdq_work"][r]))
                out.append((wid, bytes(a["pdq"][r].tobytes()), tuple(a["pdq_region"][r].tolist())))
    return sorted(out)


@pytest.mark.parametrize("kept", [None, 10], ids=["all-kept", "ten-kept"])
def test_a_bulk_import_of_images_indexes_exactly_what_a_rebuild_would(
    ca: Copyalign, two_holders: dict, kept: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of 70 images: the pool decodes each once for its conflict query and its index hashes (with the
    crops), which the index then takes instead of decoding the blob again. The copy of Alice's photo is found
    in its place, and the index holds the very hashes a rebuild from the blobs computes, also when only some of
    the batch's hashes were kept."""
    import numpy as np

    from copyalign.services.matching import service

    if kept is not None:
        monkeypatch.setattr(service, "IMAGE_HASHES_KEPT", kept)
    _with(ca, "allow")
    photo = Image.fromarray(skimage.data.astronaut())
    astronaut = ca.works.register(two_holders["alice"], WorkInput(data=_png(photo), title="Astronaut"))
    rng = np.random.default_rng(3)
    batch = []
    for i in range(69):
        ramp = np.linspace(0, 255, 96)[None, :, None] * rng.random(3)[None, None, :]
        pixels = (ramp + rng.integers(0, 90, size=(96, 96, 3))).clip(0, 255).astype(np.uint8)
        batch.append(WorkInput(data=_png(Image.fromarray(pixels)), title=f"I{i}", kind="image"))
    batch.insert(33, WorkInput(data=_jpeg(photo.resize((300, 300))), title="My astronaut", kind="image"))
    ca.matching.workers = 2
    views = ca.works.register_many(two_holders["bob"], batch, workers=2)
    assert {i: [c.work_id for c in v.conflicts] for i, v in enumerate(views) if v.conflicts} == {33: [astronaut.id]}
    assert len(ca.matching._image_hashes) == (kept or 70)
    ca.matching.refresh()
    assert ca.matching._image_hashes == {}  # taken by the index
    indexed = _index_images(ca)
    assert {w for w, _, _ in indexed} == {astronaut.id, *(v.id for v in views)}
    ca.matching.rebuild()
    assert _index_images(ca) == indexed


def _same_on_pool_and_here(
    ca: Copyalign, holder: str, contents: list[tuple[str, bytes]], found_at: dict[int, str]
) -> None:
    """``contents``' conflicts for ``holder`` checked on a 2-worker pool and in this process: the same, and
    exactly ``found_at`` (item -> the work it copies)."""
    ca.matching.workers = 2
    on_pool = ca.matching.duplicates(contents, holder)
    ca.matching.workers = 1
    assert on_pool == ca.matching.duplicates(contents, holder)
    assert {i: [c.work_id for c in found] for i, found in enumerate(on_pool) if found} == {
        at: [wid] for at, wid in found_at.items()
    }


def test_a_bulk_imports_conflicts_are_the_same_searched_on_the_pool_or_here(ca: Copyalign, two_holders: dict) -> None:
    """The pool's workers search the index on disk themselves, the registering process the works the index has
    not taken yet: the conflicts of a 70-image batch are those a check in this process alone finds, for copies
    of works on disk and of works registered a moment ago."""
    import numpy as np
    from PIL import ImageOps

    _with(ca, "allow")
    on_disk = {n: Image.fromarray(getattr(skimage.data, n)()).convert("RGB") for n in ("astronaut", "coffee")}
    pending = {n: Image.fromarray(getattr(skimage.data, n)()).convert("RGB") for n in ("rocket", "chelsea")}
    ids = {n: ca.works.register(two_holders["alice"], WorkInput(data=_png(p), title=n)).id for n, p in on_disk.items()}
    ca.matching.refresh()
    ids |= {n: ca.works.register(two_holders["alice"], WorkInput(data=_png(p), title=n)).id for n, p in pending.items()}
    rng = np.random.default_rng(8)
    contents = [("image", _png(Image.fromarray(rng.integers(0, 256, (72, 80, 3), dtype=np.uint8)))) for _ in range(66)]
    copies = {
        7: ("astronaut", _jpeg(on_disk["astronaut"].resize((256, 256)))),
        20: ("coffee", _png(ImageOps.mirror(on_disk["coffee"]))),
        41: ("rocket", _jpeg(pending["rocket"].resize((400, 260)))),
        60: ("chelsea", _png(pending["chelsea"].crop((23, 15, 451, 300)))),  # the 95 % crop at the corner
    }
    for at, (_, data) in sorted(copies.items()):
        contents.insert(at, ("image", data))
    _same_on_pool_and_here(ca, two_holders["bob"].party_id, contents, {at: ids[n] for at, (n, _) in copies.items()})  # type: ignore[attr-defined]


def test_a_bulk_imports_text_conflicts_are_the_same_searched_on_the_pool_or_here(
    ca: Copyalign, two_holders: dict
) -> None:
    """Texts: the pool's workers compute the queries and search the index on disk; this process searches the
    works registered a moment ago. Copies of both, and texts made mostly of one, are found as a check here
    alone finds them."""
    import random

    _with(ca, "allow")
    words = [f"{a}{b}" for a in "bcdfgklmnprst" for b in ("an", "el", "or", "us", "ix", "ep")]

    def text(seed: int, n: int = 120) -> str:
        rng = random.Random(seed)
        return " ".join(rng.choice(words) for _ in range(n))

    alice = two_holders["alice"]
    on_disk = {f"d{i}": text(i) for i in range(3)}
    pending = {f"p{i}": text(100 + i) for i in range(2)}
    ids = {n: ca.works.register(alice, WorkInput(data=t.encode(), title=n)).id for n, t in on_disk.items()}
    ca.matching.refresh()
    ids |= {n: ca.works.register(alice, WorkInput(data=t.encode(), title=n)).id for n, t in pending.items()}
    contents = [("text", text(1000 + i).encode()) for i in range(66)]
    copies = {
        4: ("d0", on_disk["d0"]),
        18: ("d2", f"{on_disk['d2']} {text(5001, 10)}"),
        39: ("p0", pending["p0"]),
        57: ("p1", f"{text(5002, 8)} {pending['p1']}"),
    }
    for at, (_, t) in sorted(copies.items()):
        contents.insert(at, ("text", t.encode()))
    _same_on_pool_and_here(ca, two_holders["bob"].party_id, contents, {at: ids[n] for at, (n, _) in copies.items()})  # type: ignore[attr-defined]
