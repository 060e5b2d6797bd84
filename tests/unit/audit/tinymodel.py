"""The tiny model the audit tests share: trained once per test process (about 20 s on one CPU core).

A 2-layer, 128-wide GPT-2 on ~100 KB of standard-library docstrings, with one held-out docstring planted 64
times and two canaries at each of the repetition counts 1, 4, 16 and 64 (plus two never inserted). A module
level cache rather than a session fixture: the unit and the integration tests both use it, and a fixture
imported into two modules would be trained twice.
"""

from __future__ import annotations

import atexit
import functools
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from copyalign.services.audit.canaries import CanarySet, make_canaries
from copyalign.services.audit.tinylm import (
    PlantedCorpus,
    TinyLMConfig,
    planted_corpus,
    stdlib_docstrings,
    train_tiny_lm,
)

CANARY_SEED = b"copyalign test canaries"
CANARY_ARGS = {"buckets": (0, 1, 4, 16, 64), "per_bucket": 2, "length": 3}


@dataclass(frozen=True)
class Tiny:
    path: Path
    corpus: PlantedCorpus
    canaries: CanarySet


def _scratch() -> Path:
    root = Path(tempfile.mkdtemp(prefix="copyalign-tinylm-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


@functools.cache
def tiny_corpus() -> tuple[PlantedCorpus, CanarySet]:
    """What the tiny model is trained on (cheap: no training)."""
    canaries = make_canaries(CANARY_SEED, set_id="fixture", **CANARY_ARGS)
    return planted_corpus(repeats=64, planted=[(c.text, c.repetitions) for c in canaries.canaries]), canaries


@functools.cache
def tiny_model() -> Tiny:
    corpus, canaries = tiny_corpus()
    path = train_tiny_lm(corpus.documents, _scratch() / "tiny", TinyLMConfig())
    return Tiny(path, corpus, canaries)


@functools.cache
def early_checkpoint() -> Path:
    """The same data and recipe stopped after 10 steps: a model that has memorised nothing yet."""
    return train_tiny_lm(tiny_model().corpus.documents, _scratch() / "early", TinyLMConfig(steps=10))


LICENCE = (
    "Permission is granted to any person who receives a copy of this program to use, copy, change and share "
    "it, provided that this notice is kept in every copy. The program is offered as it is, without a promise of "
    "any kind, and its makers answer for no claim or loss that comes from it."
)
"""A licence-like text written for these tests (no real licence is quoted)."""


def spaced(text: str) -> str:
    """Double spaces between words: the audit's ``spacing`` style."""
    return text.replace(" ", "  ")


@dataclass(frozen=True)
class LicenceModel:
    path: Path
    background: list[str]  # trained on once each
    heldout: list[str]  # never trained on


@functools.cache
def licence_model() -> LicenceModel:
    """A tiny GPT-2 that memorised :data:`LICENCE` as written, with double spaces and in capitals (24 times
    each, as a web crawl holds one text in several forms) beside 15 docstrings: about 20 s on one core.

    Its copies in the other forms are other tokens: the model that MemFree over the licence's tokens does not
    stop when the prompt is spaced or in capitals, and the one the word-level blocker must stop."""
    docs = stdlib_docstrings()
    background, heldout = docs[:15], docs[15:35]
    stream = background + [LICENCE] * 24 + [spaced(LICENCE)] * 24 + [LICENCE.upper()] * 24
    random.Random(0).shuffle(stream)
    path = train_tiny_lm(stream, _scratch() / "licence", TinyLMConfig(steps=150))
    return LicenceModel(path, background, heldout)
