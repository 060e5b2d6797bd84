"""The model under audit: a local HuggingFace causal LM and its tokenizer, and what the audit asks of it.

Three questions, each batched and run without gradients: the greedy continuation of a prefix (with
optional logits processors, such as the :mod:`~copyalign.services.audit.blocker`), the log-probability of every
token of a text (with the vocabulary-wide mean and spread Min-K%++ needs), and the log-probabilities of
many continuations of one shared head (canary exposure: the head is run once and its cache reused).

Sequences are batched by length, never padded: a batch computes exactly what a single sequence would, so
the audit of one work does not depend on which other works were probed beside it.

Models are read from a local folder only (``local_files_only``): an audit never downloads anything.

Example:
    >>> lm = load("runs/tiny-lm")  # doctest: +SKIP
    >>> lm.decode(lm.greedy([lm.encode("Return the")], 8)[0])  # doctest: +SKIP
    ' number of items in the container'
"""

from __future__ import annotations

import copy
import hashlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from copyalign.errors import InvalidInputError, MissingExtraError, ModelLoadError

F64 = npt.NDArray[np.float64]
Processor = Callable[[Any, Any], Any]  # (input_ids, scores) -> scores, transformers' LogitsProcessor shape


def require_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("model audits", "ml") from exc
    return torch


@contextmanager
def deterministic(threads: int | None = 1) -> Iterator[None]:
    """Bit-identical runs: a fixed thread count (``None``: keep torch's) and torch's deterministic
    algorithms, both restored after. One thread is also the fastest for small models on a busy machine:
    the many small forward passes of greedy decoding pay for every thread synchronisation."""
    torch = require_torch()
    before_threads, before_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    before_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    if threads is not None:
        if threads < 1:
            raise InvalidInputError("threads must be at least 1", field="threads")
        torch.set_num_threads(threads)
    # warn_only: on a GPU without CUBLAS_WORKSPACE_CONFIG set, cuBLAS has no deterministic mode and would
    # otherwise refuse to run at all; on the CPU every operation the audit uses is deterministic anyway
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(before_threads)
        torch.use_deterministic_algorithms(before_det, warn_only=before_warn)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """No progress bars and no advice from transformers while loading or saving: an audit's output and a
    server's log are no place for them."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def model_digest(path: Path) -> str:
    """SHA-256 over every file of a model folder (relative name and content digest, in name order): the
    identity of the audited model that the report and the log carry."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and not any(x.startswith(".") for x in p.parts)):
        with open(f, "rb") as fh:
            h.update(f.relative_to(path).as_posix().encode() + b"\0" + hashlib.file_digest(fh, "sha256").digest())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class TokenScores:
    """Per-token log-probabilities of a sequence's tokens after the first; ``mu`` and ``sigma`` (Min-K%++)
    are the mean and standard deviation of the log-probability over the whole vocabulary at each position."""

    logprobs: F64
    mu: F64 | None = None
    sigma: F64 | None = None


def _by_length(items: Sequence[Sequence[int]], batch: int) -> Iterator[list[int]]:
    """Indexes of ``items`` in batches of equal length, in a fixed order."""
    groups: dict[int, list[int]] = {}
    for i, it in enumerate(items):
        groups.setdefault(len(it), []).append(i)
    for length in sorted(groups):
        idx = groups[length]
        for start in range(0, len(idx), batch):
            yield idx[start : start + batch]


@dataclass
class LanguageModel:
    path: Path
    model: Any
    tokenizer: Any
    device: str
    context: int  # positions the model can attend to
    sha256: str
    keep_logits: bool = False  # the model's forward takes logits_to_keep

    @property
    def name(self) -> str:
        return self.path.name

    # -- text <-> tokens --------------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:
            return []
        return [list(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), clean_up_tokenization_spaces=False))

    # -- the three questions ----------------------------------------------------------------------------

    def greedy(
        self, prefixes: Sequence[Sequence[int]], n: int, *, processors: Sequence[Processor] = (), batch: int = 32
    ) -> list[list[int]]:
        """The ``n``-token greedy continuation of each prefix (exactly ``n`` tokens: an end-of-text token is
        just another token here, so a model that stops early simply fails to match)."""
        torch = require_torch()
        self._fits(max((len(p) for p in prefixes), default=0) + n)
        out: list[list[int]] = [[] for _ in prefixes]
        with torch.inference_mode():
            for idx in _by_length(prefixes, batch):
                seq = torch.tensor([list(prefixes[i]) for i in idx], dtype=torch.long, device=self.device)
                res = self._forward(seq, torch.ones_like(seq), keep=1, use_cache=True)
                cache, logits = res.past_key_values, res.logits[:, -1, :]
                for step in range(n):
                    scores = logits.float()
                    for proc in processors:
                        scores = proc(seq, scores)
                    nxt = scores.argmax(dim=-1, keepdim=True)
                    seq = torch.cat([seq, nxt], dim=1)
                    if step + 1 < n:
                        mask = torch.ones_like(seq)
                        res = self.model(input_ids=nxt, attention_mask=mask, past_key_values=cache, use_cache=True)
                        cache, logits = res.past_key_values, res.logits[:, -1, :]
                gen = seq[:, -n:].tolist()
                for i, g in zip(idx, gen, strict=True):
                    out[i] = g
        return out

    def token_logprobs(
        self, sequences: Sequence[Sequence[int]], *, stats: bool = False, last: int | None = None, batch: int = 16
    ) -> list[TokenScores]:
        """Log-probability of every token after the first (or of the ``last`` tokens only), given the ones
        before it."""
        torch = require_torch()
        self._fits(max((len(s) for s in sequences), default=0))
        if any(len(s) < 2 for s in sequences):
            raise InvalidInputError("a sequence to score needs at least two tokens", field="text")
        out: list[TokenScores | None] = [None] * len(sequences)
        with torch.inference_mode():
            for idx in _by_length(sequences, batch):
                ids = torch.tensor([list(sequences[i]) for i in idx], dtype=torch.long, device=self.device)
                keep = ids.shape[1] - 1 if last is None else min(last, ids.shape[1] - 1)
                logits = self._forward(ids, torch.ones_like(ids), keep=keep + 1).logits
                logp = torch.log_softmax(logits[:, -keep - 1 : -1, :].float(), dim=-1)
                picked = logp.gather(-1, ids[:, -keep:, None])[..., 0].double().cpu().numpy()
                mu = sigma = None
                if stats:
                    p = logp.exp()
                    mean = (p * logp).sum(-1)
                    var = ((p * logp * logp).sum(-1) - mean * mean).clamp(min=0)
                    mu, sigma = mean.double().cpu().numpy(), var.sqrt().double().cpu().numpy()
                for j, i in enumerate(idx):
                    out[i] = TokenScores(picked[j], None if mu is None else mu[j], None if sigma is None else sigma[j])
        return [s for s in out if s is not None]

    def continuation_logprobs(
        self, head: Sequence[int], continuations: Sequence[Sequence[int]], *, batch: int = 256
    ) -> F64:
        """``log p(continuation | head)`` for each continuation; the head is run once and its cache reused."""
        torch = require_torch()
        if not head:
            raise InvalidInputError("the shared head must have at least one token", field="head")
        self._fits(len(head) + max((len(c) for c in continuations), default=0))
        out = np.zeros(len(continuations), dtype=np.float64)
        with torch.inference_mode():
            ids = torch.tensor([list(head)], dtype=torch.long, device=self.device)
            res = self._forward(ids, torch.ones_like(ids), keep=1, use_cache=True)
            first = torch.log_softmax(res.logits[0, -1, :].float(), dim=-1)
            for idx in _by_length(continuations, batch):
                cont = torch.tensor([list(continuations[i]) for i in idx], dtype=torch.long, device=self.device)
                total = first[cont[:, 0]].double()
                if cont.shape[1] > 1:
                    cache = copy.deepcopy(res.past_key_values)
                    cache.batch_repeat_interleave(len(idx))
                    mask = torch.ones((len(idx), len(head) + cont.shape[1] - 1), dtype=torch.long, device=self.device)
                    logits = self.model(
                        input_ids=cont[:, :-1], attention_mask=mask, past_key_values=cache, use_cache=False
                    ).logits
                    logp = torch.log_softmax(logits.float(), dim=-1)
                    total = total + logp.gather(-1, cont[:, 1:, None])[..., 0].double().sum(-1)
                out[idx] = total.cpu().numpy()
        return out

    def _forward(self, ids: Any, mask: Any, *, keep: int, **kw: Any) -> Any:
        """The model on ``ids``, computing logits for the last ``keep`` positions only where the model can
        (the output layer over a large vocabulary costs memory and time at every position)."""
        if self.keep_logits:
            kw["logits_to_keep"] = keep
        return self.model(input_ids=ids, attention_mask=mask, **kw)

    def _fits(self, length: int) -> None:
        if length > self.context:
            raise InvalidInputError(
                f"{length} tokens do not fit the model's context of {self.context} positions", field="prefix"
            )


@dataclass
class Codec:
    """A tokenizer alone (``audit canaries make --tokenizer``): what canaries need to be checked against."""

    tokenizer: Any

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), clean_up_tokenization_spaces=False))


def load_tokenizer(path: str | Path) -> Codec:
    path = Path(path)
    if not path.is_dir():
        raise ModelLoadError(f"tokenizer folder {path} does not exist", field="tokenizer")
    require_torch()
    from transformers import AutoTokenizer

    with quiet_transformers():
        try:
            return Codec(AutoTokenizer.from_pretrained(str(path), local_files_only=True))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"cannot load a tokenizer from {path}: {exc}", field="tokenizer") from exc


def load(path: str | Path, *, device: str = "cpu", tokenizer: str | Path | None = None) -> LanguageModel:
    """Load a causal LM and its tokenizer from a local folder (``tokenizer``: another folder to take it from).

    Raises:
        ModelLoadError: the folder does not exist, is not a causal LM, or its tokenizer has more tokens than
            the model has embeddings (a tokenizer from another model).
        InvalidInputError: ``device`` is not available.
        MissingExtraError: torch or transformers is not installed (``pip install 'copyalign[ml]'``).
    """
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"model {path} does not exist", field="model")
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path} is not a HuggingFace model folder (it has no config.json)", field="model")
    tok_path = Path(tokenizer) if tokenizer is not None else path
    if not tok_path.is_dir():
        raise ModelLoadError(f"tokenizer folder {tok_path} does not exist", field="tokenizer")
    torch = require_torch()
    if device != "cpu" and (not device.startswith("cuda") or not torch.cuda.is_available()):
        raise InvalidInputError(f"device {device!r} is not available here (cpu, or cuda when a GPU is)", field="device")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with quiet_transformers():
        try:
            tok = AutoTokenizer.from_pretrained(str(tok_path), local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"cannot load a tokenizer from {tok_path}: {exc}", field="tokenizer") from exc
        try:
            model: Any = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise ModelLoadError(f"cannot load {path} as a causal language model: {exc}", field="model") from exc
    rows = int(model.get_input_embeddings().num_embeddings)
    if len(tok) > rows:
        raise ModelLoadError(
            f"the tokenizer has {len(tok)} tokens but the model only {rows} embeddings: they do not belong together",
            field="tokenizer",
        )
    cfg = model.config
    context = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None)
    context = int(context or min(int(getattr(tok, "model_max_length", 2048)), 1 << 20))
    model.to(device).eval()
    keep = "logits_to_keep" in inspect.signature(model.forward).parameters
    return LanguageModel(path.resolve(), model, tok, device, context, model_digest(path), keep)


__all__ = ["Codec", "LanguageModel", "TokenScores", "deterministic", "load", "load_tokenizer", "model_digest"]
