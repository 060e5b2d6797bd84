"""The word-level MemFree: its n-grams see through case, spacing and punctuation; the logits processor refuses
exactly what a brute-force statement of its rule refuses, inside transformers' own generate() too; and it
stops copies in another form that the token-level one lets through, while leaving unrelated text alone."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import GPT2Config, GPT2LMHeadModel, LogitsProcessorList

from copyalign.core.matching import textfp
from copyalign.errors import InvalidInputError
from copyalign.services.audit.blocker import MemFree, NgramBlocklist
from copyalign.services.audit.probes import verbatim_run
from copyalign.services.audit.tinylm import stdlib_docstrings, train_tokenizer
from copyalign.services.audit.wordblock import WordBlocklist, WordMemFree, word_hashes
from tests.unit.audit.tinymodel import LICENCE, spaced

N = 4  # small, so that short generated texts complete many protected n-grams


@functools.cache
def _tokenizer() -> Any:
    """A byte-level BPE tokenizer trained here in about a second (nothing is downloaded): the model's
    tokenizer, as far as WordMemFree is concerned."""
    return train_tokenizer([*stdlib_docstrings()[:30], LICENCE], vocab=512, context=128)


def _decode(ids: Sequence[int]) -> str:
    return str(_tokenizer().decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False))


def test_word_ngrams_see_through_case_spacing_and_punctuation() -> None:
    bl = WordBlocklist.build([LICENCE], n=N)
    assert bl.ngrams == len(textfp.tokenize(LICENCE)[0]) - N + 1
    for before, added in [
        ("Permission is granted", " to"),
        ("PERMISSION  IS\nGRANTED", " TO"),
        ("“Permission”, is — granted;", " to!"),
        ("permission is granted t", "o"),  # the word is refused as it stands: "to" could still become "today"
        ("It says: kept in every", " copy."),
    ]:
        assert bl.completes(before, added), (before, added)
    assert not bl.completes("Permission is granted", " for")
    assert not bl.completes("Permission is granted to", "")
    assert not bl.completes("Permission is granted to", "day")
    assert not bl.completes("Permission is", " gr")
    assert bl.completes("Permission is granted to", " any")  # "is granted to any": the new word ends it


def test_the_word_bloom_store_never_misses_and_is_smaller() -> None:
    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(5000)]
    texts = [" ".join(rng.choice(vocab, 400)) for _ in range(20)]
    exact, bloom = WordBlocklist.build(texts, n=6), WordBlocklist.build(texts, n=6, kind="bloom")
    assert bloom.nbytes < exact.nbytes / 3
    hashes = [word_hashes(textfp.tokenize(t)[0]) for t in texts]
    grams = np.concatenate([np.lib.stride_tricks.sliding_window_view(h, 6) for h in hashes])
    assert exact.contains(grams).all() and bloom.contains(grams).all()
    unrelated = word_hashes([f"u{i}" for i in range(6000)]).reshape(1000, 6)
    assert not exact.contains(unrelated).any() and bloom.contains(unrelated).sum() <= 2
    with pytest.raises(InvalidInputError):
        WordBlocklist.build(texts, n=1)
    with pytest.raises(InvalidInputError):
        WordBlocklist.build(texts, kind="trie")
    with pytest.raises(InvalidInputError):
        WordMemFree(exact, _tokenizer(), top_k=0)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZé版 ,.'-\n\t½ﬁ_")), max_size=60))
def test_the_words_are_the_matching_engines(text: str) -> None:
    """A word here is a word to the matching engine: same split, same 64-bit hash."""
    assert word_hashes(textfp.tokenize(text)[0]).tolist() == textfp.text_fingerprint(text).token_hashes.tolist()


WORDS = textfp.tokenize(LICENCE)[0]
CASES = [str.lower, str.upper, str.title, str.capitalize]
SEPARATORS = [" ", "  ", "\n", ", ", " — ", ".\n\n", "-\n", "'", "\t", " “", "” "]
FILLERS = ["版权所有", "déjà", "naïve café", "½", "ﬁne", "the", "copy", "today", "x"]


@st.composite
def _generations(draw: st.DrawFn) -> str:
    """Texts that copy runs of the licence in other forms, among other words: what a model might say."""
    parts = []
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            start = draw(st.integers(0, len(WORDS) - 1))
            run = WORDS[start : start + draw(st.integers(2, 10))]
            case = draw(st.sampled_from(CASES))
            parts.append(draw(st.sampled_from(SEPARATORS)).join(case(w) for w in run))
        else:
            parts.append(draw(st.sampled_from(FILLERS)))
    return "".join(p + draw(st.sampled_from(SEPARATORS)) for p in parts)


@settings(max_examples=60, deadline=None)
@given(
    text=_generations(),
    prompt=st.integers(0, 6),
    others=st.lists(st.integers(0, 511), max_size=4),
    fresh=st.booleans(),
)
def test_word_memfree_refuses_exactly_what_the_rule_refuses(
    text: str, prompt: int, others: list[int], fresh: bool
) -> None:
    """Token by token, each candidate is refused iff :meth:`WordBlocklist.completes` says so of the decoded
    texts: the cached tails, the context-free token texts, characters split over tokens and the shortcut
    of the known prefixes change how it is found, never what."""
    tok, bl = _tokenizer(), WordBlocklist.build([LICENCE], n=N)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    memfree = WordMemFree(bl, tok, top_k=1 + len(set(others)))
    for t in range(min(prompt, len(ids) - 1), len(ids)):
        row = ids[:t]
        candidates = list(dict.fromkeys([ids[t], *others]))
        scores = torch.zeros((1, len(tok)))
        scores[0, candidates] = torch.arange(10.0, 10.0 - len(candidates), -1.0)
        if fresh:
            memfree = WordMemFree(bl, tok, top_k=len(candidates))
        out = memfree(torch.tensor([row if row else [tok.eos_token_id]]), scores)
        before = _decode(row).rstrip("\ufffd")
        for c in candidates:
            after = _decode([*row, c]).rstrip("\ufffd")
            assert after.startswith(before)
            expected = bl.completes(before, after[len(before) :])
            assert bool(torch.isinf(out[0, c])) == expected, (before, after)


def test_word_memfree_checks_the_top_k_and_nothing_else() -> None:
    tok, bl = _tokenizer(), WordBlocklist.build([LICENCE], n=N)
    row = tok("Permission  IS granted", add_special_tokens=False)["input_ids"]
    to, fo = (tok(" to", add_special_tokens=False)["input_ids"], tok(" for", add_special_tokens=False)["input_ids"])
    assert len(to) == len(fo) == 1
    scores = torch.zeros((2, len(tok)))
    scores[:, to[0]], scores[:, fo[0]] = 9.0, 8.0
    other = tok("It was given", add_special_tokens=False)["input_ids"]
    other = [tok.eos_token_id] * (len(row) - len(other)) + other  # left padding, as a batch has it
    memfree = WordMemFree(bl, tok, top_k=2)
    out = memfree(torch.tensor([row, other]), scores)
    assert out[0, to[0]] == -float("inf") and out[0, fo[0]] == 8.0  # refused, and the next best kept
    assert out[1, to[0]] == 9.0 and out[1, fo[0]] == 8.0  # the other row completes nothing
    assert torch.isinf(out).sum(dim=-1).tolist() == [len(tok) - 1, len(tok) - 2]  # nothing unchecked survives
    assert memfree.blocked == memfree.masked == 1 and scores[0, to[0]] == 9.0
    # every one of the top k refused: the next k are checked, and the best of them is kept
    memfree = WordMemFree(bl, tok, top_k=1)
    out = memfree(torch.tensor([row]), scores[:1])
    assert out[0, to[0]] == -float("inf") and out[0, fo[0]] == 8.0


def _force(target: list[int], prompt: int, processor: Any, vocab: int) -> list[int]:
    """Greedy decoding under a stand-in for a model that memorised ``target``: at every step it wants the
    target's next token, and every other token a little less (seeded noise)."""
    gen = torch.Generator().manual_seed(0)
    seq = target[:prompt]
    while len(seq) < len(target):
        scores = torch.rand((1, vocab), generator=gen)
        scores[0, target[len(seq)]] = 10.0
        seq.append(int(processor(torch.tensor([seq]), scores).argmax()))
    return seq[prompt:]


@pytest.mark.parametrize("form", [spaced, str.upper], ids=["spacing", "upper"])
def test_word_memfree_stops_a_copy_in_another_form_that_token_memfree_lets_through(form: Any) -> None:
    tok = _tokenizer()
    plain = tok(LICENCE, add_special_tokens=False)["input_ids"]
    target = tok(form(LICENCE), add_special_tokens=False)["input_ids"]
    prompt = len(tok(form(" ".join(LICENCE.split()[:6])), add_special_tokens=False)["input_ids"])
    by_tokens = _force(target, prompt, MemFree(NgramBlocklist.build([plain], n=8)), len(tok))
    words = WordMemFree(WordBlocklist.build([LICENCE], n=8), tok)
    by_words = _force(target, prompt, words, len(tok))
    assert verbatim_run(_decode(by_tokens), LICENCE) >= 40  # other tokens: not one 8-gram of the licence's
    assert verbatim_run(_decode(by_words), LICENCE) <= 7 and words.blocked > 0
    assert verbatim_run(_decode(by_words), form(LICENCE)) <= 7  # in the copy's own form either


def test_word_memfree_leaves_unrelated_text_alone() -> None:
    tok = _tokenizer()
    words = WordMemFree(WordBlocklist.build([LICENCE], n=8), tok)
    for doc in stdlib_docstrings()[40:45]:  # never seen by the tokenizer either
        target = tok(doc[:400], add_special_tokens=False)["input_ids"]
        assert _force(target, 4, words, len(tok)) == target[4:]
    assert words.masked == 0


@pytest.mark.parametrize("sample", [False, True], ids=["greedy", "sampling"])
def test_word_memfree_in_generate_never_completes_a_blocked_word_ngram(sample: bool) -> None:
    """Inside transformers' own ``generate``, greedy or sampling (its top-k warper, then ours): block every
    word 3-gram of what a random model says on its own, and no generated token completes one."""
    tok = _tokenizer()
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=len(tok), n_positions=128, n_embd=32, n_layer=1, n_head=2)
    model = GPT2LMHeadModel(cfg).eval()
    prompt = torch.tensor([tok("Permission is granted", add_special_tokens=False)["input_ids"]])
    kw: dict[str, Any] = {"max_new_tokens": 40, "pad_token_id": tok.eos_token_id, "do_sample": sample}
    torch.manual_seed(1)
    plain = model.generate(prompt, **kw)[0].tolist()
    bl = WordBlocklist.build([_decode(plain)], n=3)
    memfree = WordMemFree(bl, tok)
    torch.manual_seed(1)  # the same draws: the run follows the first until a word 3-gram of it would complete
    out = model.generate(prompt, logits_processor=LogitsProcessorList([memfree]), **kw)[0].tolist()
    for t in range(prompt.shape[1], len(out)):
        before, after = _decode(out[:t]).rstrip("\ufffd"), _decode(out[: t + 1]).rstrip("\ufffd")
        assert not bl.completes(before, after[len(before) :])
    assert memfree.masked > 0
