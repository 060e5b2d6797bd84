"""A tiny GPT-2 trained from scratch in seconds, with planted canaries and a work repeated many times.

An audit has to be tested against a model whose memorisation is known. Real checkpoints are gigabytes and
their training data unknown; this module trains a 2-layer, 128-wide GPT-2 on Python's own standard-library
docstrings (collected with :mod:`inspect` from a fixed list of modules, in a fixed order: nothing is
downloaded), with texts planted at chosen repetition counts. Seeds, one thread and torch's deterministic
algorithms make two trainings bit-identical.

The recipe was tuned on this machine's CPU for memorisation within ~200 steps (a work repeated 32 times in
~100 KB of text is reproduced verbatim; one seen once is not). Two choices matter: an initialisation scale
of 0.06 rather than GPT-2's 0.02 (loss 3.9 instead of 5.0 after 150 steps), and no dropout.

Example:
    >>> corpus = planted_corpus(repeats=32)  # doctest: +SKIP
    >>> path = train_tiny_lm(corpus.documents, Path("/tmp/tiny"))  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from copyalign.services.audit.model import deterministic, quiet_transformers, require_torch

EOS = "<|endoftext|>"

#: Modules whose docstrings make the corpus, in this order (each module's members in name order).
STDLIB_MODULES = (
    "abc", "argparse", "ast", "asyncio", "base64", "bisect", "calendar", "collections", "concurrent.futures",
    "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "email",
    "enum", "fractions", "functools", "gettext", "glob", "gzip", "hashlib", "heapq", "hmac", "html",
    "http.client", "imaplib", "inspect", "io", "ipaddress", "itertools", "json", "logging", "mailbox",
    "multiprocessing", "numbers", "operator", "optparse", "os", "pathlib", "pickle", "pprint", "queue",
    "random", "re", "sched", "secrets", "selectors", "shelve", "shlex", "shutil", "smtplib", "socket",
    "sqlite3", "ssl", "statistics", "string", "struct", "subprocess", "tarfile", "tempfile", "textwrap",
    "threading", "tokenize", "traceback", "typing", "unittest", "urllib.parse", "urllib.request", "uuid",
    "warnings", "weakref", "xml.dom.minidom", "zipfile",
)  # fmt: skip


def stdlib_docstrings(*, min_chars: int = 200) -> list[str]:
    """Distinct docstrings of at least ``min_chars`` characters from :data:`STDLIB_MODULES` (about 470 KB on
    CPython 3.11), in a fixed order: each module, then its classes and functions by name, then methods.

    Read in a fresh interpreter with no site packages (``python -I -S``): in this process, a library imported
    earlier may have replaced a standard function (typing_extensions replaces ``typing._collect_parameters``,
    Ray ``inspect.isgenerator``), and one docstring more or less reshuffles the whole corpus, so the model
    trained on it would depend on what the process happened to import first. :data:`LEFT_OUT` are left out
    everywhere: the recipe was tuned (and the audit tests calibrated) on the corpus of a process that had
    imported typing_extensions, as every process with pydantic or SQLAlchemy has."""
    return list(_pristine_docstrings(min_chars))


#: Standard functions that the corpus leaves out: those a common library replaces at import.
LEFT_OUT = ("typing._collect_parameters",)


_COLLECT = """
import importlib, inspect, json, sys, warnings
warnings.simplefilter("ignore")  # typing.io and typing.re warn when their docstrings are read
names, left_out, min_chars = json.loads(sys.stdin.read())
out, seen = [], set()
for name in names:
    try:
        module = importlib.import_module(name)
    except ImportError:  # a Python built without ssl or sqlite3: the corpus is a little smaller
        continue
    members = [
        v
        for k, v in sorted(vars(module).items())
        if (inspect.isclass(v) or inspect.isfunction(v)) and getattr(v, "__module__", None) == module.__name__
        and f"{name}.{k}" not in left_out
    ]
    for obj in [module, *members]:
        items = [obj]
        if inspect.isclass(obj):
            items += [v for _, v in sorted(vars(obj).items()) if inspect.isfunction(v)]
        for item in items:
            doc = inspect.getdoc(item)
            if doc and len(doc) >= min_chars and doc not in seen:
                seen.add(doc)
                out.append(doc)
sys.stdout.write(json.dumps(out))
"""


@functools.cache
def _pristine_docstrings(min_chars: int) -> tuple[str, ...]:
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-I", "-S", "-c", _COLLECT],
        input=json.dumps([list(STDLIB_MODULES), list(LEFT_OUT), min_chars]),
        capture_output=True,
        text=True,
        check=True,
    )
    return tuple(json.loads(done.stdout))


@dataclass(frozen=True)
class PlantedCorpus:
    """A training stream and the texts an audit of the model trained on it should (not) find."""

    documents: list[str]  # the training stream, repetitions included, shuffled
    background: list[str]  # training texts seen once
    heldout: list[str]  # texts of the same kind that were never trained on
    repeated: str  # the text repeated ``repeats`` times
    repeats: int
    planted: list[tuple[str, int]] = field(default_factory=list)  # other texts and their repetitions


def planted_corpus(
    *,
    background_chars: int = 100_000,
    heldout: int = 60,
    repeats: int = 64,
    planted: Sequence[tuple[str, int]] = (),
    seed: int = 0,
) -> PlantedCorpus:
    """Docstrings split into background (trained once) and held-out texts; one held-out text of 500-800
    characters is moved into training ``repeats`` times, and each ``(text, count)`` of ``planted``
    (canaries) ``count`` times."""
    docs = stdlib_docstrings()
    rng = random.Random(seed)  # noqa: S311 - a reproducible shuffle, not a secret
    rng.shuffle(docs)
    pool = docs[: heldout + 1]
    at = next(i for i, d in enumerate(pool) if 500 <= len(d) <= 800)
    repeated = pool[at]
    held = (pool[:at] + pool[at + 1 :])[:heldout]
    background: list[str] = []
    size = 0
    for d in docs[heldout + 1 :]:
        if size >= background_chars:
            break
        background.append(d)
        size += len(d)
    stream = background + [repeated] * repeats + [t for t, n in planted for _ in range(n)]
    rng.shuffle(stream)
    return PlantedCorpus(stream, background, held, repeated, repeats, list(planted))


@dataclass(frozen=True)
class TinyLMConfig:
    layers: int = 2
    width: int = 128
    heads: int = 4
    context: int = 128
    vocab: int = 1024
    steps: int = 200
    batch: int = 8
    learning_rate: float = 5e-3
    warmup: int = 10
    decay: bool = False  # cosine decay to a tenth of the learning rate over the steps (off: constant)
    init_scale: float = 0.06
    seed: int = 0
    threads: int = 1


def _schedule(cfg: TinyLMConfig, step: int) -> float:
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    if not cfg.decay:
        return 1.0
    done = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done))


def train_tokenizer(texts: Sequence[str], *, vocab: int, context: int) -> Any:
    """A byte-level BPE tokenizer (GPT-2's scheme, so every string survives the round trip) trained on
    ``texts``, as a ``PreTrainedTokenizerFast`` that ``AutoTokenizer.from_pretrained`` loads back."""
    require_torch()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    # no model_max_length: the audit reads the context from the model, and long works are windowed
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS)  # type: ignore[no-untyped-call]


def train_tiny_lm(documents: Sequence[str], out: Path, config: TinyLMConfig | None = None) -> Path:
    """Train a GPT-2 on ``documents`` (a stream: repeat a text to repeat it in training) and save it to
    ``out`` as a HuggingFace model folder (weights, config, tokenizer, and ``training.json``).

    The documents are joined with end-of-text tokens into one token stream; each step trains on ``batch``
    windows of ``context`` tokens starting at uniformly drawn positions. The tokenizer learns from the
    distinct documents only, so a repeated text does not earn itself whole-word tokens.
    """
    cfg = config or TinyLMConfig()
    torch = require_torch()
    from transformers import GPT2Config, GPT2LMHeadModel

    distinct = list(dict.fromkeys(documents))
    tokenizer = train_tokenizer(distinct, vocab=cfg.vocab, context=cfg.context)
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    for ids in tokenizer(list(documents), add_special_tokens=False)["input_ids"]:
        stream += [*ids, eos]
    data = torch.tensor(stream, dtype=torch.long)
    if data.numel() <= cfg.context + 1:
        raise ValueError("the documents are shorter than one training window")
    with deterministic(cfg.threads), quiet_transformers():
        torch.manual_seed(cfg.seed)
        model_cfg = GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=cfg.context,
            n_embd=cfg.width,
            n_layer=cfg.layers,
            n_head=cfg.heads,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            initializer_range=cfg.init_scale,
            bos_token_id=eos,
            eos_token_id=eos,
        )
        model: Any = GPT2LMHeadModel(model_cfg)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, betas=(0.9, 0.95), weight_decay=0.0)
        gen = torch.Generator().manual_seed(cfg.seed)
        offsets = torch.arange(cfg.context)
        losses: list[float] = []
        model.train()
        for step in range(cfg.steps):
            for group in opt.param_groups:
                group["lr"] = cfg.learning_rate * _schedule(cfg, step)
            starts = torch.randint(0, data.numel() - cfg.context, (cfg.batch,), generator=gen)
            batch = data[starts[:, None] + offsets]
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
        model.eval()
    out.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    digest = hashlib.sha256("\0".join(documents).encode()).hexdigest()
    record = {"config": asdict(cfg), "documents": len(documents), "documents_sha256": digest, "tokens": len(stream)}
    record["final_loss"] = round(sum(losses[-20:]) / len(losses[-20:]), 4)
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return out


__all__ = [
    "EOS",
    "STDLIB_MODULES",
    "PlantedCorpus",
    "TinyLMConfig",
    "planted_corpus",
    "stdlib_docstrings",
    "train_tiny_lm",
    "train_tokenizer",
]
