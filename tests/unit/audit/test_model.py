"""Loading the model under audit (and refusing what is not one), and the three questions asked of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from copyalign.errors import InvalidInputError, ModelLoadError
from copyalign.services.audit.model import LanguageModel, load, load_tokenizer, model_digest
from copyalign.services.audit.tinylm import train_tokenizer

TEXTS = [
    "Return a new list containing all items from the iterable in ascending order.",
    "The optional key argument specifies a function of one argument used to extract a comparison key.",
    "Raise ValueError if the value is not present; the reverse flag can be set to request descending order.",
] * 3


def _save(path: Path, vocab: int, *, tokenizer_vocab: int = 300, seed: int = 0) -> Path:
    tok = train_tokenizer(TEXTS, vocab=tokenizer_vocab, context=64)
    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=vocab, n_positions=64, n_embd=32, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0)
    GPT2LMHeadModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> LanguageModel:
    path = tmp_path_factory.mktemp("small") / "m"
    tok_size = len(train_tokenizer(TEXTS, vocab=300, context=64))
    return load(_save(path, tok_size))


def test_a_missing_or_foreign_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist") as e:
        load(tmp_path / "nowhere")
    assert e.value.field == "model" and e.value.code == "model_load_failed"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        load(tmp_path / "empty")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError):
        load(tmp_path / "broken")


def test_a_tokenizer_from_another_model_is_refused(tmp_path: Path) -> None:
    path = _save(tmp_path / "m", vocab=64)  # the model has 64 embeddings; the tokenizer has ~300 tokens
    with pytest.raises(ModelLoadError, match="do not belong together") as e:
        load(path)
    assert e.value.field == "tokenizer"


def test_a_model_folder_without_weights_is_refused(tmp_path: Path) -> None:
    path = _save(tmp_path / "m", vocab=300)
    (path / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="cannot load"):
        load(path)


def test_cuda_is_refused_where_there_is_none(small: LanguageModel) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(InvalidInputError, match="not available") as e:
        load(small.path, device="cuda")
    assert e.value.field == "device"


def test_greedy_matches_transformers_generate(small: LanguageModel) -> None:
    prefixes = [small.encode(t)[:6] for t in TEXTS[:3]] + [small.encode("Raise")]
    ours = small.greedy(prefixes, 12)
    for p, g in zip(prefixes, ours, strict=True):
        ref = small.model.generate(torch.tensor([p]), max_new_tokens=12, do_sample=False, pad_token_id=0)
        assert g == ref[0, len(p) :].tolist()
        assert len(g) == 12


def test_token_and_continuation_logprobs_agree(small: LanguageModel) -> None:
    head = small.encode("The optional key argument")
    conts = [small.encode(" specifies"), small.encode(" is"), small.encode(" specifies a function")]
    fast = small.continuation_logprobs(head, conts, batch=2)
    for c, value in zip(conts, fast, strict=True):
        full = small.token_logprobs([head + c])[0].logprobs
        assert value == pytest.approx(full[-len(c) :].sum(), abs=1e-4)
        tail = small.token_logprobs([head + c], last=len(c))[0].logprobs  # only the continuation scored
        assert tail.shape == (len(c),) and np.allclose(tail, full[-len(c) :], atol=1e-5)


def test_vocabulary_statistics_for_min_k_plus_plus(small: LanguageModel) -> None:
    ids = small.encode(TEXTS[0])
    s = small.token_logprobs([ids], stats=True)[0]
    assert s.logprobs.shape == (len(ids) - 1,) and s.mu is not None and s.sigma is not None
    with torch.inference_mode():
        logp = torch.log_softmax(small.model(torch.tensor([ids])).logits[0, :-1].double(), -1)
    expected_mu = (logp.exp() * logp).sum(-1).numpy()
    assert np.allclose(s.mu, expected_mu, atol=1e-4) and (s.sigma > 0).all()


def test_windows_longer_than_the_context_are_refused(small: LanguageModel) -> None:
    with pytest.raises(InvalidInputError, match="context"):
        small.greedy([[1] * 60], 10)


def test_the_digest_names_the_model_files(tmp_path: Path, small: LanguageModel) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(small.path, copy)
    assert model_digest(copy) == small.sha256
    cfg = json.loads((copy / "config.json").read_text())
    cfg["n_ctx"] = 63
    (copy / "config.json").write_text(json.dumps(cfg))
    assert model_digest(copy) != small.sha256


def test_a_tokenizer_alone(small: LanguageModel) -> None:
    codec = load_tokenizer(small.path)
    assert codec.decode(codec.encode("key argument")) == "key argument"
    with pytest.raises(ModelLoadError):
        load_tokenizer(small.path / "missing")
