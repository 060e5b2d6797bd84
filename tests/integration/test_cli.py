"""The CLI on a real database: the newcomer's path and the ``--json`` contract."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from copyalign.cli.main import app
from copyalign.core.canonical import canonical

runner = CliRunner()


@pytest.fixture
def cli(db_url: str, tmp_path: Path):
    base = ["--db", db_url, "--data-dir", str(tmp_path / "data")]

    def run(*args: str, ok: bool = True) -> tuple[int, list[dict], str]:
        result = runner.invoke(app, [*base, *args])
        lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
        if ok:
            assert result.exit_code == 0, (result.stdout, result.stderr)
        return result.exit_code, lines, result.stdout + result.stderr

    return run


def test_init_is_idempotent_and_shows_the_key_once(cli) -> None:
    _, [first], _ = cli("init", "--json")
    assert first["operator_key"].startswith("ca_") and first["verifier_key"]
    _, [second], _ = cli("init", "--json")
    assert second["operator_key"] is None and second["verifier_key"] == first["verifier_key"]


def test_add_lookup_and_prefer(cli, tmp_path: Path) -> None:
    cli("init")
    poem = tmp_path / "poem.txt"
    poem.write_text("Shall I compare thee to a summer's day? Thou art more lovely and more temperate.")
    _, [added], _ = cli("works", "add", str(poem), "--title", "Sonnet 18", "--deny", "train-ai", "--json")
    assert added["path"] == str(poem) and added["title"] == "Sonnet 18" and added["kind"] == "text"

    _, [found], _ = cli("works", "lookup", str(poem), "--json")
    assert found["registered"] and found["matches"][0]["work_id"] == added["id"]
    assert found["matches"][0]["preferences"]["train-ai"]["value"] == "deny"

    other = tmp_path / "other.txt"
    other.write_text("Not a registered text at all.")
    _, [missing], _ = cli("works", "lookup", str(other), "--json")
    assert missing == {**missing, "registered": False, "matches": [], "path": str(other)}

    _, [pref], _ = cli("works", "prefer", added["id"], "train-ai", "allow", "--json")
    assert pref["receipt"]["entry"]["event"] == "preference.set"
    _, [now], _ = cli("works", "lookup", str(poem), "--json")
    assert now["matches"][0]["preferences"]["train-ai"]["value"] == "allow"
    _, [then], _ = cli("works", "lookup", str(poem), "--at", added["created_at"], "--json")
    assert then["matches"][0]["preferences"]["train-ai"]["value"] == "deny"


def test_errors_are_messages_not_tracebacks(cli, tmp_path: Path) -> None:
    cli("init")
    code, [line], output = cli("works", "add", str(tmp_path / "nope.txt"), "--json", ok=False)
    assert code == 1 and line["error"]["code"] == "invalid_input" and "no such file" in line["error"]["message"]
    assert "Traceback" not in output
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café".encode("latin-1"))
    code, _, output = cli("works", "add", str(bad), ok=False)
    assert code == 1 and "not valid UTF-8" in output and "Traceback" not in output


def test_import_manifest_all_or_nothing(cli, tmp_path: Path) -> None:
    cli("init")
    (tmp_path / "texts").mkdir()
    for i in range(3):
        (tmp_path / "texts" / f"{i}.txt").write_text(f"Text number {i}, long enough to be a work of its own.")
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps({"title": f"T{i}", "path": f"texts/{i}.txt"}) for i in range(3)))
    _, lines, _ = cli("works", "import", str(good), "--json")
    assert [x["line"] for x in lines] == [1, 2, 3]

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "ok", "text": "a brand new text"}\n{"title": "escape", "path": "../../etc/passwd"}\n')
    code, [err], _ = cli("works", "import", str(bad), "--json", ok=False)
    assert code == 1 and err["error"]["line"] == 2 and err["error"]["field"] == "path"
    _, listed, _ = cli("works", "list", "--json")
    assert len(listed) == 3  # nothing from the bad manifest


def test_log_export_verify_and_tamper(cli, tmp_path: Path) -> None:
    cli("init")
    for i in range(5):
        p = tmp_path / f"w{i}.txt"
        p.write_text(f"work {i} with some words in it")
        cli("works", "add", str(p), "--deny", "train-ai")
    cli("log", "checkpoint")
    _, [ok], _ = cli("log", "verify", "--json")
    assert ok["ok"] and ok["entries"] >= 11
    bundle = tmp_path / "log.jsonl"
    cli("log", "export", str(bundle))
    _, _, printed = cli("log", "key")
    vkey = printed.strip()
    _, [offline], _ = cli("log", "verify", str(bundle), "--key", vkey, "--json")
    assert offline["entries"] == ok["entries"]

    # tamper with one entry of the bundle: the verifier names the range/index, no traceback
    lines = bundle.read_text().splitlines()
    entry = json.loads(lines[4])
    forged = json.loads(base64.b64decode(entry["entry"]))
    forged["subject"] = "wrk_forged"
    entry["entry"] = base64.b64encode(canonical(forged)).decode()
    lines[4] = json.dumps(entry)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n")
    code, [err], output = cli("log", "verify", str(tampered), "--key", vkey, "--json", ok=False)
    assert code == 1 and err["error"]["code"] == "verification_failed" and "Traceback" not in output
    assert err["error"]["index"] <= 3  # the first entry of the checkpoint range that holds entry 3

    # a dropped entry is named exactly
    dropped = tmp_path / "dropped.jsonl"
    dropped.write_text("\n".join(lines[:3] + lines[4:]) + "\n")
    code, [err], _ = cli("log", "verify", str(dropped), "--key", vkey, "--json", ok=False)
    assert err["error"]["index"] == 2 and "missing" in err["error"]["message"]


def test_prove_preference(cli, tmp_path: Path) -> None:
    cli("init")
    p = tmp_path / "w.txt"
    p.write_text("a work whose opt-out must be provable later")
    _, [w], _ = cli("works", "add", str(p), "--deny", "train-ai", "--json")
    _, [cp], _ = cli("log", "checkpoint", "--json")
    cli("works", "prefer", w["id"], "train-ai", "allow")
    cli("log", "checkpoint")
    _, [proof], _ = cli("log", "prove-preference", w["id"], "--at", str(cp["size"]), "--json")
    [st] = proof["statements"]
    assert st["value"] == "deny" and st["index"] < cp["size"] and st["proof"]
    _, [latest], _ = cli("log", "prove-preference", w["id"], "--json")
    assert [s["value"] for s in latest["statements"]] == ["allow"]


def test_policy_commands(cli, tmp_path: Path) -> None:
    _, [shown], _ = cli("policy", "show", "eu", "--json")
    assert shown["profile"]["jurisdiction"] == "EU"
    bad = tmp_path / "p.toml"
    bad.write_text('[profile]\nname="x"\njurisdiction="EU"\nrule="r"\nsource="s"\n[lookup]\nmax = 3\n')
    code, [err], _ = cli("policy", "validate", str(bad), "--json", ok=False)
    assert code == 1 and err["error"]["field"] == "lookup.max"


def test_demo_seed_is_idempotent(ca) -> None:  # type: ignore[no-untyped-def]
    from copyalign.cli.demo import seed

    party = ca.parties.create(None, name="CMO", role="operator")
    ca.parties.issue_key(None, party.id)
    op = ca.parties.operator()
    first = seed(ca, op)
    second = seed(ca, op)
    assert first.holder_id == second.holder_id and first.works == second.works == 6
    assert first.api_key != second.api_key
    looked = ca.lookup.lookup(op, "静夜思".encode() + b"x")  # unrelated text: not registered
    assert not looked.registered


def test_manifest_symlink_leading_outside_is_refused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("init")
    outside = tmp_path / "outside.txt"
    outside.write_text("a file the manifest's folder does not contain")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "link.txt").symlink_to(outside)
    manifest = corpus / "m.jsonl"
    manifest.write_text(json.dumps({"title": "sneaky", "path": "link.txt"}) + "\n")
    code, [err], _ = cli("works", "import", str(manifest), "--json", ok=False)
    assert code == 1 and err["error"]["field"] == "path" and "leads outside" in err["error"]["message"]


def test_notices_close_due_from_the_cli_and_distribute_refuses_an_empty_period(
    cli, db_url: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from copyalign.clock import FakeClock
    from copyalign.context import connect
    from copyalign.core.licensing.notices import NoticeInput
    from copyalign.services.registry.works import WorkInput
    from copyalign.settings import Settings
    from tests.conftest import make_party

    cli("init")
    # a notice published 60 days ago: its 30-day window is over
    ca = connect(
        Settings(database_url=db_url, data_dir=str(tmp_path / "data")),
        clock=FakeClock(datetime.now(UTC) - timedelta(days=60)),
    )
    op = ca.parties.operator()
    assert op is not None
    holder, _ = make_party(ca, op, "rights_holder")
    dev, _ = make_party(ca, op, "developer")
    work = ca.works.register(holder, WorkInput(data=b"a poem the model would like to read", title="P")).id
    nid = ca.notices.create(dev, NoticeInput("Model", "train-ai", "commercial", "default", [work])).id
    ca.notices.publish(dev, nid)
    ca.close()
    _, [listed], _ = cli("notices", "list", "--json")
    assert listed["id"] == nid and listed["status"] == "open"
    _, [done], _ = cli("notices", "close-due", "--json")
    assert done == {"finalised": [nid]}
    _, [again], _ = cli("notices", "close-due", "--json")
    assert again == {"finalised": []}
    _, [final], _ = cli("notices", "list", "--status", "finalised", "--json")
    assert final["counts"] == {"licensed": 1}
    code, [error], _ = cli("distribute", "CNY", "--json", ok=False)
    assert code == 1 and error["error"]["code"] == "conflict" and "no paid invoices" in error["error"]["message"]


def test_import_with_a_lone_surrogate_names_the_line(cli, tmp_path: Path) -> None:
    """Issue 20 finding 2: such a line printed a traceback with no line number."""
    cli("init")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "ok", "text": "a brand new text"}\n{"title": "bad", "text": "a \\ud800 b"}\n')
    code, [err], out = cli("works", "import", str(bad), "--json", ok=False)
    assert code == 1 and err["error"]["line"] == 2 and err["error"]["field"] == "text"
    assert "Traceback" not in out
    code, _, out = cli("works", "import", str(bad), ok=False)
    assert code == 1 and "line 2" in out and "Traceback" not in out
