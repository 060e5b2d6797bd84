"""A tiny causal language model trained from scratch in about a second, for the text-watermark tests.

Its training text comes from a random first-order Markov chain over :data:`VOCAB` tokens, each token followed
by a handful of likely successors: text with a few nats of entropy per token, as a real model's output has, so
the watermark has choices to bias. Nothing is downloaded.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import GPT2Config, GPT2LMHeadModel

VOCAB = 64


def markov_corpus(n_sequences: int, length: int, *, seed: int) -> torch.Tensor:
    """``(n_sequences, length)`` token ids sampled from a fixed random bigram chain."""
    gen = torch.Generator().manual_seed(seed)
    alpha = torch.full((VOCAB,), 0.3)
    transitions = torch.distributions.Dirichlet(alpha).sample((VOCAB,))  # uses the global RNG: seed it too
    out = torch.empty((n_sequences, length), dtype=torch.int64)
    out[:, 0] = torch.randint(0, VOCAB, (n_sequences,), generator=gen)
    for i in range(1, length):
        out[:, i] = torch.multinomial(transitions[out[:, i - 1]], 1, generator=gen).squeeze(1)
    return out


def train_tiny_lm(*, seed: int = 0, steps: int = 30) -> Any:
    """A 2-layer GPT-2 (64-dimensional) fitted to :func:`markov_corpus` for ``steps`` AdamW steps on CPU: far
    from converged, but no longer uniform, which is all a watermark test needs of it."""
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=VOCAB, n_positions=256, n_embd=64, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=None
    )
    model: Any = GPT2LMHeadModel(config)
    data = markov_corpus(256, 32, seed=seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        batch = data[torch.randint(0, data.shape[0], (16,), generator=gen)]
        loss = model(input_ids=batch, labels=batch).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = None
    return model
