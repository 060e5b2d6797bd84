"""What a newcomer meets first (issue 21): offline API docs, plain refusals, the manifest's errors, exit codes a
script can branch on, user text printed as written, bad JSON said with its line and column, refusals in words,
and the checkpoint as a page. On both databases."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from copyalign.cli.main import app
from copyalign.context import Copyalign
from copyalign.services.registry.manifest import ManifestLine
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.works import WorkInput
from tests.conftest import make_party
from tests.integration.conftest import auth

ROOT = Path(__file__).resolve().parents[2]
RANDOM = bytes([0x81]) + bytes(range(1, 200))  # no image's first bytes, and not UTF-8 text
runner = CliRunner()


@pytest.fixture
def cli(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    base = ["--db", db_url, "--data-dir", str(tmp_path / "data")]

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, [*base, *args])
        return result.exit_code, result.stdout, result.stderr

    run("init")
    return run


# -- /v1/docs offline --------------------------------------------------------------------------------------


def test_api_docs_load_swagger_ui_from_this_server_only(client: TestClient) -> None:
    page = client.get("/v1/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources  # no CDN
    for asset in ("/v1/docs/assets/swagger-ui-bundle.js", "/v1/docs/assets/swagger-ui.css"):
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 10_000
    assert "/v1/openapi.json" in page.text


# -- point 7: a file that is neither text nor an image, said plainly --------------------------------------


def test_the_portal_says_plainly_why_a_bad_png_was_refused(client: TestClient, holder: tuple[Principal, str]) -> None:
    client.post("/signin", data={"api_key": holder[1]})
    r = client.post("/works/new", files={"file": ("cover.png", RANDOM)}, data={"title": "Cover"})
    assert r.status_code == 400
    alert = r.text[r.text.index('role="alert"') : r.text.index("</div>", r.text.index('role="alert"'))]
    shown = alert.split("<details>")[0]
    assert "cover.png is named like a PNG image, but it is not a PNG image" in shown
    assert "export it again as PNG or JPEG" in shown
    for jargon in ("UTF-8", "byte 0", "\\x81", "magic"):
        assert jargon not in shown
    assert "Technical details" in alert  # the precise message is kept, folded away


def test_the_cli_says_it_as_plainly(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "cover.png"
    bad.write_bytes(RANDOM)
    code, _out, err = cli("works", "add", str(bad))
    assert code == 1 and "is named like a PNG image, but it is not a PNG image" in err and "byte 0" not in err
    notes = tmp_path / "notes.doc"
    notes.write_bytes(RANDOM)
    code, _out, err = cli("works", "add", str(notes))
    assert code == 1 and "it is not plain text either" in err


# -- point 8: the manifest ------------------------------------------------------------------------------------


def test_an_unknown_manifest_field_lists_the_allowed_ones(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = tmp_path / "m.jsonl"
    m.write_text('{"title": "A", "text": "a text"}\n{"title": "B", "file": "b.txt"}\n')
    code, _out, err = cli("works", "import", str(m))
    assert code == 1 and "line 2: unknown field 'file'" in err
    assert "title, path, text, content_base64, kind, creators, identifiers, preferences" in err
    m.write_text('{"title": "A", "text": "x", "preferences": [{"purpose": "train-ai", "value": "deny", "deny": 1}]}\n')
    code, _out, err = cli("works", "import", str(m))
    assert "unknown field 'preferences.0.deny'" in err and "purpose, value, jurisdiction, effective_at" in err


def test_the_readme_documents_every_manifest_field() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### `works import`: the manifest format") :]
    section = section[: section.index("\n### ")]
    documented = re.findall(r"^\| `(\w+)` \|", section, re.M)
    assert documented == list(ManifestLine.model_fields)
    for line in re.search(r"```json\n(.*?)```", section, re.S).group(1).splitlines():  # type: ignore[union-attr]
        ManifestLine.model_validate(json.loads(line))  # the example is a valid manifest


# -- point 9: rough edges ----------------------------------------------------------------------------------


def test_user_text_is_printed_as_written_not_as_rich_markup(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    poem = tmp_path / "poem.txt"
    poem.write_text("Markup is not for titles: brackets belong to whoever wrote them, every one of them.")
    title = "[c2pa] Poems [bold]loud[/bold] [/]"
    code, out, _ = cli("works", "add", str(poem), "--title", title)
    assert code == 0 and title in out
    code, out, _ = cli("works", "lookup", str(poem))
    assert title in out
    code, out, _ = cli("works", "list")
    assert "[c2pa]" in out and "[bold]loud[/bold]" in out


def test_guard_exit_codes_say_the_decision(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the README's example, on a fresh registry
    assert cli("guard", "prompt", "draw Zorblax in the style of Mara Quill")[0] == 0  # no term yet: allow
    assert cli("guard", "term", "add", "creator", "Mara Quill")[0] == 0
    assert cli("guard", "term", "add", "character", "Zorblax", "佐布拉克")[0] == 0
    code, out, _ = cli("guard", "prompt", "draw Zorblax in the style of Mara Quill")
    assert code == 11 and out.startswith("block")
    code, out, _ = cli("guard", "prompt", "who created Zorblax?", "--json")
    assert code == 0 and json.loads(out)["decision"] == "allow"
    # warn: a short passage of a registered text in an output (below guard.min_passage_chars)
    work = tmp_path / "work.txt"
    words = (
        "the lantern keeper counted every boat that crossed the harbour mouth before the fog came rolling in from "
        "the grey and silent sea"
    )
    work.write_text(f"{words}. Afterwards the town slept, and the sea kept its own counsel until the morning tide.")
    assert cli("works", "add", str(work), "--title", "Lantern")[0] == 0
    output = tmp_path / "output.txt"
    fresh = " ".join(f"Sentence {i} of a new story tells of orchards, kettles and a patient dog." for i in range(16))
    output.write_text(f"Here is a story. {words}. {fresh}")  # the passage is under 15 % of the output
    code, out, _ = cli("guard", "output", str(output), "--json")
    assert (code, json.loads(out)["decision"]) == (10, "warn")
    output.write_text("A text about nothing registered at all, written fresh for this check.")
    assert cli("guard", "output", str(output))[0] == 0


def test_notices_list_says_the_counts_in_words(cli, ca: Copyalign, db_url: str) -> None:  # type: ignore[no-untyped-def]
    from copyalign.services.licensing.notices import NoticeInput

    op = ca.parties.operator()
    assert op is not None
    holder, _ = make_party(ca, op, "rights_holder")
    dev, _ = make_party(ca, op, "developer")
    works = [ca.works.register(holder, WorkInput(data=f"work number {i}".encode(), title=f"W{i}")).id for i in range(3)]
    nid = ca.notices.create(dev, NoticeInput("Model", "train-ai", "commercial", "default", works)).id
    ca.notices.publish(dev, nid)
    code, out, _ = cli("notices", "list")
    assert code == 0 and "3 listed" in out and "{" not in out


def test_signals_fetch_exits_1_when_every_fetch_failed(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # port 9 (discard) on this machine refuses the connection at once: no site answers
    (corpus / "pages.jsonl").write_text(json.dumps({"text": "a page", "url": "http://127.0.0.1:9/page"}) + "\n")
    code, _out, err = cli("signals", "fetch", str(corpus), "--timeout", "2")
    assert code == 1 and "every fetch failed" in err


def test_bad_json_is_said_with_its_line_and_column(client: TestClient, op_key: str) -> None:
    r = client.post(
        "/v1/works",
        content=b'{"title": "T",\n  "text": }',
        headers={**auth(op_key), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid_json" and (err["line"], err["column"]) == (2, 11)
    assert "line 2, column 11" in err["message"] and "Expecting value" in err["message"]
    assert "field" not in err


def test_a_refusal_on_a_page_is_in_words(client: TestClient, holder: tuple[Principal, str]) -> None:
    client.post("/signin", data={"api_key": holder[1]})
    r = client.get("/invoices", headers={"Accept": "text/html"})
    assert r.status_code == 403 and "a rights holder may not read invoices" in r.text
    assert "invoice.read" not in r.text and "rights_holder" not in r.text
    api = client.get("/v1/invoices", headers=auth(holder[1])).json()["error"]
    assert api["code"] == "forbidden" and api["action"] == "invoice.read"  # the machine code stays


# -- point 10: the checkpoint as a page ---------------------------------------------------------------------


def test_the_footer_checkpoint_is_a_page_with_a_download(client: TestClient, ca: Copyalign, op_key: str) -> None:
    assert 'href="/log"' in client.get("/").text
    assert "No checkpoint has been signed yet" in client.get("/log").text
    cp = ca.ledger.checkpoint()
    page = client.get("/log").text
    assert f'<dd class="size">{cp.size}' in page and "Root hash" in page and "Signature" in page
    assert "copyalign log verify" in page and ca.ledger.verifier_key in page
    note = client.get("/log/checkpoint.txt")
    assert note.text == cp.note and "attachment" in note.headers["content-disposition"]
