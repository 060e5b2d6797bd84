"""The model audit end to end, on SQLite and PostgreSQL: a registry whose works a tiny trained model has (or
has not) seen, canaries planted in its training data, the report and its log entry, the decoding-time
blocker, the regression gate in CI, and bad input that must leave no report behind."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from typer.testing import CliRunner

from copyalign.cli.main import app
from copyalign.context import Copyalign
from copyalign.errors import InvalidInputError, ModelLoadError, NotFoundError, PermissionDeniedError
from copyalign.services.audit.tinylm import train_tokenizer
from copyalign.services.registry.preferences import PreferenceInput
from copyalign.services.registry.works import WorkInput
from copyalign.store.blobs import DirectoryBlobStore
from tests.conftest import make_party
from tests.unit.audit.tinymodel import CANARY_ARGS, CANARY_SEED, early_checkpoint, tiny_corpus, tiny_model

SMALL = {"prefix": 32, "suffix": 32, "stride": 32, "max_windows": 8, "threads": 1}
REPORT_FILES = ("report.json", "report.html", "windows.jsonl", "audit.json")


@pytest.fixture
def world(ca: Copyalign, tmp_path: Path) -> dict:
    """The registry: the work the model saw 64 times (its owner denies training), 20 it saw once, 3 it never
    saw, one too short to probe; 20 other texts it never saw; and the developer's canary set, logged."""
    corpus, _ = tiny_corpus()
    op_party = ca.parties.create(None, name="CMO", role="operator")
    ca.parties.issue_key(None, op_party.id)
    op = ca.parties.operator()
    assert op is not None
    holder, _ = make_party(ca, op, "rights_holder", "Docstring Author")
    dev, _ = make_party(ca, op, "developer", "Model Lab")
    other_dev, _ = make_party(ca, op, "developer", "Other Lab")
    deny = (PreferenceInput.parse("train-ai", "deny"),)

    def reg(text: str, title: str, prefs: tuple = ()) -> str:
        return ca.works.register(holder, WorkInput(data=text.encode(), title=title, preferences=prefs)).id

    w = {
        "repeated": reg(corpus.repeated, "The repeated docstring", deny),
        "seen": [reg(t, f"Seen once {i}") for i, t in enumerate(corpus.background[:20])],
        "unseen": [reg(t, f"Never seen {i}") for i, t in enumerate(corpus.heldout[:3])],
        "short": reg("Return the value.", "Too short"),
    }
    nonmembers = tmp_path / "nonmembers"
    nonmembers.mkdir()
    for i, t in enumerate(corpus.heldout[3:23]):
        (nonmembers / f"{i:02d}.txt").write_text(t, encoding="utf-8")
    made = ca.audit.make_canaries(dev, tmp_path / "canaries", seed=CANARY_SEED, **CANARY_ARGS)
    people = {"op": op, "holder": holder, "dev": dev, "other_dev": other_dev}
    return {**people, "works": w, "nonmembers": nonmembers, "canaries": made, "corpus": corpus}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_the_audit_finds_the_memorised_work_and_canaries_and_logs_its_report(
    ca: Copyalign, world: dict, tmp_path: Path
) -> None:
    out = tmp_path / "audit"
    result = ca.audit.run(
        world["dev"],
        tiny_model().path,
        out,
        nonmembers=world["nonmembers"],
        canaries=world["canaries"].path,
        block=True,
        **SMALL,
    )
    rep = json.loads((out / "report.json").read_text())
    rows = {r["work"]: r for r in rep["per_work"]}
    w = world["works"]
    # extraction: the repeated work, and nothing else
    assert rows[w["repeated"]]["extracted"] >= 1 and rows[w["repeated"]]["pythia_mean"] > 0.5
    assert rows[w["repeated"]]["discoverable_rate"] > 0
    others = [rows[i] for i in w["seen"] + w["unseen"] if i in rows]
    assert len(others) >= 20 and all(r["extracted"] == 0 and r["discoverable_rate"] == 0 for r in others)
    assert result.summary["works_extracted"] == 1 and rep["worst"][0]["work"] == w["repeated"]
    assert w["short"] in [s["work"] for s in rep["works"]["skipped"]]
    # canaries: the often repeated ones are memorised, the never inserted and the once inserted are not
    memorised = rep["canaries"]["memorised_repetitions"]
    assert 64 in memorised and 0 not in memorised and 1 not in memorised
    assert rep["canaries"]["log_index"] == world["canaries"].log_index
    # membership, beside the blind baseline
    assert rep["membership"]["verdict"] == "signal" and rep["membership"]["blind"]["auc_ci"][0] < 0.5
    # the blocker: the denied work is no longer reproduced verbatim, and the report says so
    td = rep["takedown"]
    assert td["measure"]["works"] == [w["repeated"]] and td["verbatim_after"] == []
    assert td["probes"]["before"]["works"]["extracted"] >= 1 and td["probes"]["after"]["works"]["extracted"] == 0
    assert result.summary["takedown"] in ("suppressed", "verbatim_only")
    assert "no longer reproduced verbatim" in (out / "report.html").read_text()
    # the log vouches for the files; nothing partial is left; no work's text is quoted
    payload = json.loads(ca.ledger.payload(result.log_index) or b"{}")
    assert payload["report_sha256"] == _sha(out / "report.json") == result.report_sha256
    assert payload["html_sha256"] == _sha(out / "report.html")
    assert payload["windows_sha256"] == _sha(out / "windows.jsonl") == rep["windows_sha256"]
    assert payload["model_sha256"] == rep["model"]["sha256"] and payload["developer"] == world["dev"].party_id
    entry = json.loads(ca.ledger.entries(result.log_index, result.log_index + 1)[0][1])
    assert entry["event"] == "audit.report" and entry["actor"] == world["dev"].party_id
    assert json.loads((out / "audit.json").read_text())["log_index"] == result.log_index
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORT_FILES)
    quote = world["corpus"].repeated[40:100]
    assert all(quote not in (out / f).read_text() for f in REPORT_FILES)


@pytest.mark.slow
def test_the_gate_fails_a_checkpoint_that_memorises_more(
    ca: Copyalign, world: dict, tmp_path: Path, db_url: str
) -> None:
    early = ca.audit.run(world["dev"], early_checkpoint(), tmp_path / "early", **SMALL)
    assert early.gate_passed is None and early.summary["works_extracted"] == 0
    baseline = tmp_path / "early" / "report.json"
    args = ["--db", db_url, "--data-dir", str(tmp_path / "data"), "--policy", "cn"]
    blobs = DirectoryBlobStore(ca.settings.blob_dir)  # the fixture keeps blobs in memory, out of the CLI's reach
    for wid in [world["works"]["repeated"], *world["works"]["seen"][:3]]:
        blobs.put(ca.works.content(world["op"], wid)[0])
    ids = ",".join([world["works"]["repeated"], *world["works"]["seen"][:3]])
    flags = ["--prefix", "32", "--suffix", "32", "--stride", "32", "--max-windows", "8", "--threads", "1", "--json"]
    cmd = ["audit", "run", str(tiny_model().path), "--works", ids, "--baseline", str(baseline), *flags]
    r = CliRunner().invoke(app, [*args, *cmd, "--out", str(tmp_path / "late")])
    assert r.exit_code == 3, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["gate_passed"] is False and res["gate"] == "failed"
    gate = json.loads((tmp_path / "late" / "report.json").read_text())["gate"]
    assert gate["common_works"] == 4 and {"extraction_rate", "pythia_mean"} <= {
        c["metric"] for c in gate["checks"] if c["worse"]
    }
    # the same model against its own report passes (and the human-readable output says what was found)
    own = str(tmp_path / "late" / "report.json")
    again = ["audit", "run", str(tiny_model().path), "--works", ids, "--baseline", own, *flags[:-1]]
    r = CliRunner().invoke(app, [*args, *again, "--out", str(tmp_path / "again")])
    assert r.exit_code == 0, r.output
    assert "4 works" in r.output and "(from 1 of the works)" in r.output and "regression gate: passed" in r.output


def _mismatched(path: Path) -> Path:
    """A model of 64 embeddings saved with a tokenizer of ~300 tokens."""
    texts = ["Return the number of items in the container, counting duplicates once."] * 5
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=64, n_positions=128, n_embd=32, n_layer=1, n_head=2)
    GPT2LMHeadModel(cfg).save_pretrained(path)
    train_tokenizer(texts, vocab=300, context=128).save_pretrained(path)
    return path


def test_bad_input_gets_a_clear_error_and_leaves_no_report(ca: Copyalign, world: dict, tmp_path: Path) -> None:
    dev, out = world["dev"], tmp_path / "out"
    with pytest.raises(ModelLoadError, match="does not exist") as e:
        ca.audit.run(dev, tmp_path / "no-such-model", out)
    assert e.value.field == "model"
    with pytest.raises(ModelLoadError, match="do not belong together") as e:
        ca.audit.run(dev, _mismatched(tmp_path / "mismatched"), out)
    assert e.value.field == "tokenizer"
    with pytest.raises(InvalidInputError, match="not a work id") as e:
        ca.audit.run(dev, tmp_path / "no-such-model", out, works="some,thing")
    assert e.value.field == "works"
    with pytest.raises(NotFoundError):
        ca.audit.run(dev, tmp_path / "no-such-model", out, works="wrk_" + "0" * 26)
    with pytest.raises(InvalidInputError, match="give --nonmembers"):
        ca.audit.run(dev, tmp_path / "no-such-model", out, block=True)
    bad_baseline = tmp_path / "baseline.json"
    bad_baseline.write_text(
        json.dumps({"format_version": "copyalign.audit/1", "config": {"probe": {}}, "per_work": []})
    )
    with pytest.raises(InvalidInputError, match="probed differently") as e:
        ca.audit.run(dev, tmp_path / "no-such-model", out, baseline=bad_baseline)
    assert e.value.field == "baseline"
    tampered = tmp_path / "tampered.json"
    doc = json.loads(world["canaries"].path.read_text())
    doc["body"]["canaries"][0]["repetitions"] = 1000
    tampered.write_text(json.dumps(doc))
    with pytest.raises(InvalidInputError, match="altered"):
        ca.audit.run(dev, tmp_path / "no-such-model", out, canaries=tampered)
    forged = tmp_path / "forged.json"
    doc = json.loads(world["canaries"].path.read_text())
    doc["log_index"] = 0  # a real entry, but not this set's
    forged.write_text(json.dumps(doc))
    with pytest.raises(InvalidInputError, match="not the one entered in the log"):
        ca.audit.run(dev, tmp_path / "no-such-model", out, canaries=forged)
    with pytest.raises(PermissionDeniedError):
        ca.audit.run(dev, tmp_path / "no-such-model", out, developer_id=world["other_dev"].party_id)
    with pytest.raises(PermissionDeniedError):
        ca.audit.run(world["holder"], tmp_path / "no-such-model", out)
    assert not out.exists()


@pytest.mark.slow
def test_a_work_too_short_to_probe_is_refused_when_named(ca: Copyalign, world: dict, tmp_path: Path) -> None:
    out, model = tmp_path / "out", tiny_model().path
    ids = f"{world['works']['repeated']},{world['works']['short']}"
    with pytest.raises(InvalidInputError, match="fewer than the 64 one window needs") as e:
        ca.audit.run(world["dev"], model, out, works=ids, **SMALL)
    assert e.value.field == "works"
    with pytest.raises(InvalidInputError, match="context of 128") as e:
        ca.audit.run(world["dev"], model, out, works="all", prefix=100, suffix=100)
    assert e.value.field == "prefix"
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_cli_canaries_make_and_test(ca: Copyalign, world: dict, tmp_path: Path, db_url: str) -> None:
    args = ["--db", db_url, "--data-dir", str(tmp_path / "data"), "--policy", "cn"]
    made = tmp_path / "made"
    seed = CANARY_SEED.hex()
    cmd = ["audit", "canaries", "make", "--out", str(made), "--seed", seed, "--per-bucket", "2", "--length", "3"]
    r = CliRunner().invoke(app, [*args, *cmd, "--tokenizer", str(tiny_model().path), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["canaries"] == 10 and res["insertions"] == 2 * (1 + 4 + 16 + 64)
    logged = json.loads(ca.ledger.payload(res["log_index"]) or b"{}")
    assert logged["sha256"] == res["sha256"] and "secret" not in json.dumps(logged)  # the digest only
    inserts = (made / "inserts.jsonl").read_text().splitlines()
    assert len(inserts) == res["insertions"]
    # the same seed gives the canaries the model was trained with: the test finds the frequent ones
    r = CliRunner().invoke(
        app, [*args, "audit", "canaries", "test", str(tiny_model().path), "--canaries", str(made / "canaries.json")]
    )
    assert r.exit_code == 0, r.output
    assert "64x  2/2" in r.output and "    0x  0/2" in r.output
    r = CliRunner().invoke(
        app, [*args, "audit", "canaries", "test", str(tmp_path / "nope"), "--canaries", str(made / "canaries.json")]
    )
    assert r.exit_code == 1 and "does not exist" in r.output
