"""The tiny test model: its corpus, bit-identical training, and the memorisation it was built to show."""

from __future__ import annotations

from pathlib import Path

import pytest

from copyalign.services.audit.model import load, model_digest
from copyalign.services.audit.tinylm import TinyLMConfig, planted_corpus, stdlib_docstrings, train_tiny_lm
from tests.unit.audit.tinymodel import tiny_model


def test_the_corpus_is_the_standard_library_in_a_fixed_order() -> None:
    docs = stdlib_docstrings()
    assert docs == stdlib_docstrings()
    assert sum(map(len, docs)) > 300_000 and len(set(docs)) == len(docs)
    corpus = planted_corpus(repeats=8, planted=[("a canary text", 3)])
    assert corpus.documents.count(corpus.repeated) == 8 and corpus.documents.count("a canary text") == 3
    assert corpus.repeated not in corpus.background and corpus.repeated not in corpus.heldout
    assert not set(corpus.heldout) & set(corpus.background)
    assert 95_000 < sum(map(len, corpus.background)) < 110_000


def test_the_corpus_does_not_depend_on_what_this_process_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ray replaces inspect.isgenerator when imported, typing_extensions typing._collect_parameters: under
    # pytest-xdist each worker had imported different libraries first, so each trained a different tiny model
    import inspect
    import typing

    from copyalign.services.audit import tinylm

    tinylm._pristine_docstrings.cache_clear()
    before = stdlib_docstrings()
    monkeypatch.setattr(inspect, "isgenerator", lambda obj: False)  # noqa: ARG005
    monkeypatch.setattr(typing, "_collect_parameters", lambda args: ())  # noqa: ARG005
    tinylm._pristine_docstrings.cache_clear()
    assert stdlib_docstrings() == before
    assert any(d.startswith("Return true if the object is a generator.") for d in before)


def test_training_is_bit_identical(tmp_path: Path) -> None:
    docs = planted_corpus(background_chars=8_000, repeats=2).documents
    cfg = TinyLMConfig(steps=6, batch=4)
    a = train_tiny_lm(docs, tmp_path / "a", cfg)
    b = train_tiny_lm(docs, tmp_path / "b", cfg)
    c = train_tiny_lm(docs, tmp_path / "c", TinyLMConfig(steps=6, batch=4, seed=1))
    assert model_digest(a) == model_digest(b) != model_digest(c)
    assert load(a).context == 128


@pytest.mark.slow
def test_the_tiny_model_repeats_the_planted_work_and_not_a_held_out_one() -> None:
    tiny = tiny_model()
    lm = load(tiny.path)
    rep = lm.encode(tiny.corpus.repeated)
    hits = 0
    for offset in range(0, len(rep) - 64, 32):
        hits += lm.greedy([rep[offset : offset + 32]], 32)[0] == rep[offset + 32 : offset + 64]
    assert hits >= 2
    for text in tiny.corpus.heldout[:5]:
        ids = lm.encode(text)
        assert lm.greedy([ids[:32]], 32)[0] != ids[32:64]
