from __future__ import annotations

import math
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from copyalign.errors import InvalidInputError  # noqa: E402
from copyalign.services.guard.textmark import (  # noqa: E402
    GreenListConfig,
    detect_text_watermark,
    green_list_processor,
    green_mask,
)

KEY = b"deployment secret"
PROMPTS = [[1, 2, 3, 4], [40, 41, 42, 43]]
NEW_TOKENS = 200


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    """A tiny LM trained here, and 200 sampled tokens per prompt with and without the watermark."""
    from tests.unit.guard.tinylm import VOCAB, train_tiny_lm

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small gains nothing from threads and loses much on shared cores
    try:
        model = train_tiny_lm(seed=0)
        prompt = torch.tensor(PROMPTS)
        processors = transformers.LogitsProcessorList([green_list_processor(GreenListConfig(key=KEY), VOCAB)])
        out: dict[str, Any] = {"vocab": VOCAB}
        with torch.no_grad():
            for name, kwargs in (("marked", {"logits_processor": processors}), ("plain", {})):
                torch.manual_seed(1)
                ids = model.generate(
                    prompt, do_sample=True, top_k=0, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, **kwargs
                )
                out[name] = [row[len(PROMPTS[0]) :].tolist() for row in ids]
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.mark.slow
def test_watermarked_generation_is_detected_in_every_row_of_the_batch(generated: dict[str, Any]) -> None:
    for row in generated["marked"]:
        assert len(row) == NEW_TOKENS
        result = detect_text_watermark(row, GreenListConfig(key=KEY), generated["vocab"])
        assert result.z_score > 4 and result.detected and result.p_value < 1e-4
        assert result.scored > 100  # most (previous, next) pairs are distinct: the repeats are not counted


@pytest.mark.slow
def test_unwatermarked_generation_is_not_detected(generated: dict[str, Any]) -> None:
    for row in generated["plain"]:
        result = detect_text_watermark(row, GreenListConfig(key=KEY), generated["vocab"])
        assert abs(result.z_score) < 3 and not result.detected


@pytest.mark.slow
def test_the_wrong_key_does_not_detect_the_watermark(generated: dict[str, Any]) -> None:
    for row in generated["marked"]:
        result = detect_text_watermark(row, GreenListConfig(key=b"another deployment"), generated["vocab"])
        assert abs(result.z_score) < 3 and not result.detected


# ------------------------------------------------------------------------------------- green lists, no model


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"key": b""}, "key"),
        ({"key": KEY, "gamma": 0.0}, "gamma"),
        ({"key": KEY, "gamma": 1.0}, "gamma"),
        ({"key": KEY, "delta": -1.0}, "delta"),
        ({"key": KEY, "delta": math.inf}, "delta"),
        ({"key": KEY, "context": 0}, "context"),
    ],
)
def test_bad_configs_are_refused(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        GreenListConfig(**kwargs)
    assert err.value.field == field


def test_the_key_is_not_shown_in_repr() -> None:
    assert "secret" not in repr(GreenListConfig(key=KEY))


def test_green_lists_hold_gamma_of_the_vocabulary() -> None:
    mask = green_mask(GreenListConfig(key=KEY, gamma=0.25), [[t] for t in range(500)], 1000)
    assert mask.shape == (500, 1000)
    sizes = mask.sum(dim=1).float()
    assert abs(sizes.mean().item() - 250) < 2  # each token is green with probability gamma: 250 on average
    assert (sizes - 250).abs().max().item() < 5 * math.sqrt(1000 * 0.25 * 0.75)


def test_the_detector_sees_the_same_green_lists_as_the_processor() -> None:
    config = GreenListConfig(key=KEY, context=2)
    contexts = [[a, b] for a in range(0, 64, 7) for b in range(0, 64, 5)]
    mask = green_mask(config, contexts, 64)
    for row, (a, b) in enumerate(contexts):
        for token in range(0, 64, 3):
            result = detect_text_watermark([a, b, token], config, 64)
            assert result.green == int(mask[row, token])


def test_green_lists_depend_on_context_and_key_and_nothing_else() -> None:
    config = GreenListConfig(key=KEY)
    a, b = green_mask(config, [[7], [8]], 512)
    assert not torch.equal(a, b)
    assert torch.equal(green_mask(config, [[7]], 512)[0], a)
    assert not torch.equal(green_mask(GreenListConfig(key=b"other"), [[7]], 512)[0], a)


def test_every_token_is_green_for_about_gamma_of_the_contexts() -> None:
    mask = green_mask(GreenListConfig(key=KEY), [[t] for t in range(4000)], 64)
    share = mask.float().mean(dim=0)
    assert share.min() > 0.2 and share.max() < 0.3  # no token is favoured whatever comes before it


@pytest.mark.parametrize("vocab_size", [1, 0, True, 2**32])
def test_vocabulary_sizes_out_of_range_are_refused(vocab_size: int) -> None:
    with pytest.raises(InvalidInputError):
        green_list_processor(GreenListConfig(key=KEY), vocab_size)
    with pytest.raises(InvalidInputError):
        detect_text_watermark([1, 2], GreenListConfig(key=KEY), vocab_size)


def test_the_processor_adds_delta_to_green_logits_only_and_does_so_row_by_row_in_a_batch() -> None:
    config = GreenListConfig(key=KEY, delta=2.0, context=2)
    processor = green_list_processor(config, 50)
    input_ids = torch.tensor([[5, 6, 7], [9, 9, 1], [3, 6, 7]])
    scores = torch.randn(3, 56)  # an output layer padded past the tokenizer's 50 tokens
    out = processor(input_ids, scores.clone())
    expected = green_mask(config, [[6, 7], [9, 1], [6, 7]], 50).float() * 2.0
    assert torch.allclose(out[:, :50] - scores[:, :50], expected)
    assert torch.equal(out[:, 50:], scores[:, 50:])
    short = torch.tensor([[5]])
    assert torch.equal(processor(short, scores[:1]), scores[:1])  # too short to have a context


def test_detection_counts_green_tokens_and_the_exact_z_score() -> None:
    config = GreenListConfig(key=KEY, gamma=0.25)
    vocab = 64
    ids = [0]
    for _ in range(120):  # always pick a green token that makes a new (previous, next) pair
        green = green_mask(config, [[ids[-1]]], vocab)[0].nonzero().flatten().tolist()
        seen = set(zip(ids, ids[1:], strict=False))
        ids.append(next(t for t in green if (ids[-1], t) not in seen))
    result = detect_text_watermark(ids, config, vocab)
    assert (result.green, result.scored) == (120, 120)
    assert result.z_score == pytest.approx((120 - 30) / math.sqrt(120 * 0.25 * 0.75))
    assert result.detected and result.p_value < 1e-12
    half = detect_text_watermark(ids[:61], config, vocab, z_threshold=100.0)
    assert half.green == 60 and not half.detected  # the threshold is the caller's


def test_repeated_pairs_are_scored_once() -> None:
    result = detect_text_watermark([5] * 300, GreenListConfig(key=KEY), 64)
    assert result.scored == 1


def test_too_short_a_text_is_not_detected() -> None:
    result = detect_text_watermark([3], GreenListConfig(key=KEY), 64)
    assert (result.scored, result.z_score, result.p_value, result.detected) == (0, 0.0, 1.0, False)


def test_token_ids_outside_the_vocabulary_are_refused() -> None:
    with pytest.raises(InvalidInputError) as err:
        detect_text_watermark([1, 2, 64], GreenListConfig(key=KEY), 64)
    assert err.value.field == "token_ids"
