"""The MemFree blocker: the n-gram stores, and the logits processor inside transformers' own generate()."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LogitsProcessorList

from copyalign.audit.blocker import MemFree, NgramBlocklist
from copyalign.errors import InvalidInputError

WORK = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]


def test_banned_tokens_complete_an_ngram_of_the_work() -> None:
    bl = NgramBlocklist.build([WORK, [1, 2, 3]], n=4)
    assert bl.banned([99, 11, 12, 13], vocab=64).tolist() == [14]
    assert bl.banned([17, 18, 19], vocab=64).tolist() == [20]
    assert bl.banned([1, 2, 3], vocab=64).size == 0  # shorter than n: nothing of it is blocked
    assert bl.banned([12, 11, 13], vocab=64).size == 0
    assert bl.banned([11, 12], vocab=64).size == 0  # not yet n - 1 tokens of context
    rows = bl.banned_many([[11, 12, 13], [15, 16, 17], [0, 0, 0]], vocab=64)
    assert [r.tolist() for r in rows] == [[14], [18], []]
    bloom = NgramBlocklist.build([WORK, [1, 2, 3]], n=4, kind="bloom")  # may ban more, never less
    assert 14 in bloom.banned([11, 12, 13], vocab=64).tolist() and 20 in bloom.banned([17, 18, 19], 64).tolist()


def test_a_prefix_followed_by_several_tokens_bans_them_all() -> None:
    bl = NgramBlocklist.build([[5, 6, 7], [5, 6, 8], [5, 6, 7]], n=3)
    assert sorted(bl.banned([5, 6], vocab=10).tolist()) == [7, 8]
    assert bl.ngrams == 2


def test_the_bloom_store_never_misses_and_is_smaller() -> None:
    rng = np.random.default_rng(0)
    works = [rng.integers(0, 50_000, 2000).tolist() for _ in range(20)]
    exact = NgramBlocklist.build(works, n=8, kind="set")
    bloom = NgramBlocklist.build(works, n=8, kind="bloom")
    assert bloom.nbytes < exact.nbytes / 3
    for w in works[:3]:
        for i in range(0, len(w) - 8, 97):
            assert w[i + 7] in bloom.banned(w[i : i + 7], vocab=50_000).tolist()
    unrelated = rng.integers(0, 50_000, (200, 7))
    false = sum(b.size for b in bloom.banned_many(unrelated, vocab=50_000))
    assert false <= 2  # a false positive needs both filters to err


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        NgramBlocklist.build([WORK], n=1)
    with pytest.raises(InvalidInputError):
        NgramBlocklist.build([WORK], kind="trie")
    with pytest.raises(InvalidInputError):
        NgramBlocklist.build([WORK], n=4).banned_many([[1, 2]], vocab=10)


def _copying_model() -> GPT2LMHeadModel:
    """A random GPT-2 whose greedy output, started on the work, we compare with and without the blocker."""
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=32, n_positions=64, n_embd=32, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(cfg).eval()


def test_memfree_in_generate_never_completes_a_blocked_ngram() -> None:
    model = _copying_model()
    prompt = torch.tensor([[3, 4, 5]])
    plain = model.generate(prompt, max_new_tokens=30, do_sample=False, pad_token_id=0)[0].tolist()
    # block every 3-gram of what the model says on its own: it must then say something else throughout
    bl = NgramBlocklist.build([plain], n=3)
    memfree = MemFree(bl)
    out = model.generate(
        prompt, max_new_tokens=30, do_sample=False, pad_token_id=0, logits_processor=LogitsProcessorList([memfree])
    )[0].tolist()
    grams = {tuple(plain[i : i + 3]) for i in range(len(plain) - 2)}
    produced = [tuple(out[i : i + 3]) for i in range(3, len(out) - 2)]  # n-grams ending in generated tokens
    assert not grams & set(produced[1:])
    assert memfree.blocked > 0 and memfree.masked >= memfree.blocked


def test_memfree_masks_per_row() -> None:
    bl = NgramBlocklist.build([[1, 2, 3]], n=3)
    scores = torch.zeros((2, 8))
    scores[:, 3] = 5.0
    out = MemFree(bl)(torch.tensor([[9, 1, 2], [9, 2, 1]]), scores)
    assert out[0, 3] == -float("inf") and out[1, 3] == 5.0
    assert scores[0, 3] == 5.0  # the caller's tensor is left alone
