"""Deployment settings: the only place that reads the environment.

Library code takes a :class:`Settings` object; the CLI and the server build one with :meth:`Settings.from_env`
(CLI flags override). :data:`SETTINGS` is the one table that documents them all: the README's settings table is
checked against it by a test.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from copyalign.core.content import Limits
from copyalign.errors import ConfigurationError

#: The kinds of blob store ``COPYALIGN_BLOB_STORE`` may name.
BLOB_STORES = ("directory", "pack")

#: (environment variable, field, default, what it does)
SETTINGS: tuple[tuple[str, str, str, str], ...] = (
    (
        "COPYALIGN_DATABASE_URL",
        "database_url",
        "sqlite:///copyalign.db",
        "Database URL: a SQLite file (embedded default, WAL mode) or postgresql://user@host/db.",
    ),
    (
        "COPYALIGN_DATA_DIR",
        "data_dir",
        "copyalign-data",
        "Directory for content blobs (blobs/), the log signing key (keys/log.key) and the match index (index/).",
    ),
    (
        "COPYALIGN_POLICY",
        "policy",
        "cn",
        "Policy profile: a preset (cn, eu, jp, us) or the path of a TOML profile.",
    ),
    (
        "COPYALIGN_LOG_ORIGIN",
        "log_origin",
        "copyalign.local/log",
        "The log's origin line in checkpoints; make it your registry's public name.",
    ),
    (
        "COPYALIGN_MAX_UPLOAD_BYTES",
        "max_upload_bytes",
        str(50 * 1024 * 1024),
        "Largest accepted upload or content item, in bytes (HTTP 413 above it).",
    ),
    (
        "COPYALIGN_MAX_IMAGE_PIXELS",
        "max_image_pixels",
        "40000000",
        "Largest accepted image in pixels, checked before decoding (decompression bombs).",
    ),
    (
        "COPYALIGN_IMAGE_DECODE_BUDGET_BYTES",
        "image_decode_budget_bytes",
        str(1024 * 1024 * 1024),
        "Memory that images being decoded and worked on may take in one process at once, estimated at 12 bytes "
        "a pixel; larger images wait their turn, one whose estimate alone is over it gets HTTP 413.",
    ),
    (
        "COPYALIGN_IDEMPOTENCY_TTL_SECONDS",
        "idempotency_ttl_seconds",
        "86400",
        "How long a stored Idempotency-Key response (secrets redacted) is replayed before it is deleted.",
    ),
    (
        "COPYALIGN_BLOB_GC_GRACE_SECONDS",
        "blob_gc_grace_seconds",
        "86400",
        "Age under which an unreferenced content blob is never deleted by `copyalign blobs gc` (an import may "
        "still be about to commit the rows that refer to it).",
    ),
    (
        "COPYALIGN_BLOB_STORE",
        "blob_store",
        "directory",
        "How content blobs are kept under blobs/: directory (a file per blob) or pack (appended to 256 MB pack "
        "files with a SQLite index, for registries of millions of works). Changing it does not move blobs.",
    ),
    (
        "COPYALIGN_INDEX_SHARDS",
        "index_shards",
        "1",
        "Number of match-index shards (works are spread by a hash of their id); changing it rebuilds the index.",
    ),
    (
        "COPYALIGN_INDEX_REFRESH_SECONDS",
        "index_refresh_seconds",
        "1.0",
        "Longest time a new registration may stay invisible to matching; 0 checks the store on every query.",
    ),
    (
        "COPYALIGN_WORKERS",
        "workers",
        "0",
        "Processes for bulk fingerprinting (registration, index builds); 0 means one per CPU core.",
    ),
    (
        "COPYALIGN_TEXT_EMBEDDER",
        "text_embedder",
        "",
        "Text embedding model for semantic matching (ml extra): empty for none, minilm for the packaged "
        "all-MiniLM-L6-v2, or a sentence-transformers model directory.",
    ),
    (
        "COPYALIGN_IMAGE_EMBEDDER",
        "image_embedder",
        "",
        "Image embedding model for semantic matching (ml extra): empty for none, or an .onnx or TorchScript "
        "file (e.g. SSCD) taking ImageNet-normalised RGB.",
    ),
    (
        "COPYALIGN_IMAGE_EMBEDDER_SIZE",
        "image_embedder_size",
        "224",
        "Side in pixels of the square input the image embedding model expects (SSCD: 288 or 320).",
    ),
    (
        "COPYALIGN_MATCHING_BACKEND",
        "matching_backend",
        "local",
        "Where matching and the guard's checks search the index: local (this process) or ray (the index's shards "
        "served by Ray actors, one per shard group, replicated; the index directory shared by every node).",
    ),
    (
        "COPYALIGN_RAY_ADDRESS",
        "ray_address",
        "",
        "The Ray cluster the ray backend joins (e.g. ray://head:10001 or auto); empty starts a local Ray instance.",
    ),
    (
        "COPYALIGN_RAY_SHARD_GROUPS",
        "ray_shard_groups",
        "2",
        "Shard groups of the ray backend (shard i goes to group i mod groups); at most COPYALIGN_INDEX_SHARDS.",
    ),
    (
        "COPYALIGN_RAY_REPLICAS",
        "ray_replicas",
        "2",
        "Actors serving each shard group; a query a dying replica held is sent again to another.",
    ),
    (
        "COPYALIGN_RAY_REPLICA_CPUS",
        "ray_replica_cpus",
        "1.0",
        "CPUs Ray reserves for each replica actor.",
    ),
    (
        "COPYALIGN_RAY_CALL_TIMEOUT_SECONDS",
        "ray_call_timeout_seconds",
        "30.0",
        "Longest a replica may hold a query before it is stopped, replaced, and the query sent to another replica.",
    ),
    (
        "COPYALIGN_DSA_ENDPOINT",
        "dsa_endpoint",
        "https://transparency.dsa.ec.europa.eu",
        "The EU DSA Transparency Database that statements of reasons are exported to (https; http only on a "
        "loopback address, for a local twin); each provider sends its own platform token.",
    ),
)


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///copyalign.db"
    data_dir: str = "copyalign-data"
    policy: str = "cn"
    log_origin: str = "copyalign.local/log"
    max_upload_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    image_decode_budget_bytes: int = 1024 * 1024 * 1024
    idempotency_ttl_seconds: int = 86400
    blob_gc_grace_seconds: int = 86400
    blob_store: str = "directory"
    index_shards: int = 1
    index_refresh_seconds: float = 1.0
    workers: int = 0
    text_embedder: str = ""
    image_embedder: str = ""
    image_embedder_size: int = 224
    dsa_endpoint: str = "https://transparency.dsa.ec.europa.eu"
    matching_backend: str = "local"
    ray_address: str = ""
    ray_shard_groups: int = 2
    ray_replicas: int = 2
    ray_replica_cpus: float = 1.0
    ray_call_timeout_seconds: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for var, name, _default, _doc in SETTINGS:
            if var in env and env[var] != "":
                raw = env[var]
                if types[name] in ("int", int, "float", float):
                    conv = float if types[name] in ("float", float) else int
                    try:
                        values[name] = conv(raw)
                    except ValueError:
                        what = "a number" if conv is float else "an integer"
                        raise ConfigurationError(f"{var} must be {what}, not {raw!r}", field=var) from None
                else:
                    values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        out = replace(cls(), **values)
        if out.max_upload_bytes <= 0 or out.max_image_pixels <= 0 or out.image_decode_budget_bytes <= 0:
            raise ConfigurationError("size limits must be positive")
        if out.idempotency_ttl_seconds <= 0 or out.blob_gc_grace_seconds < 0:
            raise ConfigurationError(
                "the idempotency time to live must be positive and the blob grace period not negative"
            )
        if out.blob_store not in BLOB_STORES:
            raise ConfigurationError(
                f"COPYALIGN_BLOB_STORE must be one of {', '.join(BLOB_STORES)}, not {out.blob_store!r}",
                field="COPYALIGN_BLOB_STORE",
            )
        if out.index_shards < 1 or out.index_shards > 4096:
            raise ConfigurationError(
                "COPYALIGN_INDEX_SHARDS must be between 1 and 4096", field="COPYALIGN_INDEX_SHARDS"
            )
        if out.matching_backend not in ("local", "ray"):
            raise ConfigurationError(
                f"COPYALIGN_MATCHING_BACKEND must be local or ray, not {out.matching_backend!r}",
                field="COPYALIGN_MATCHING_BACKEND",
            )
        if out.ray_shard_groups < 1 or out.ray_replicas < 1 or out.ray_replica_cpus < 0:
            raise ConfigurationError(
                "COPYALIGN_RAY_SHARD_GROUPS and COPYALIGN_RAY_REPLICAS must be at least 1, "
                "COPYALIGN_RAY_REPLICA_CPUS not negative"
            )
        if out.ray_call_timeout_seconds <= 0:
            raise ConfigurationError(
                "COPYALIGN_RAY_CALL_TIMEOUT_SECONDS must be positive", field="COPYALIGN_RAY_CALL_TIMEOUT_SECONDS"
            )
        if out.index_refresh_seconds < 0 or out.workers < 0:
            raise ConfigurationError("index refresh seconds and workers cannot be negative")
        return out

    @property
    def limits(self) -> Limits:
        return Limits(
            max_bytes=self.max_upload_bytes,
            max_image_pixels=self.max_image_pixels,
            decode_budget_bytes=self.image_decode_budget_bytes,
        )

    @property
    def blob_dir(self) -> Path:
        return Path(self.data_dir) / "blobs"

    @property
    def index_dir(self) -> Path:
        return Path(self.data_dir) / "index"

    @property
    def worker_count(self) -> int:
        return self.workers or (os.cpu_count() or 1)

    @property
    def key_file(self) -> Path:
        return Path(self.data_dir) / "keys" / "log.key"

    @property
    def guard_key_file(self) -> Path:
        """The guard's secret: keys the image watermark and pseudonymises user ids in traces."""
        return Path(self.data_dir) / "keys" / "guard.key"

    @property
    def c2pa_dir(self) -> Path:
        """Where ``copyalign init`` puts the C2PA signing certificate and key (with the ``c2pa`` extra)."""
        return Path(self.data_dir) / "keys" / "c2pa"

    @property
    def blocklist_dir(self) -> Path:
        """The match index of the outputs that takedowns marked (the guard's blocklist)."""
        return Path(self.data_dir) / "blocklist-index"
