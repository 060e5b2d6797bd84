"""Matching served from the index's shards spread over a Ray cluster: one actor per shard group, replicated.

Shard ``i`` of the index belongs to group ``i % groups``; each group runs ``replicas`` actors
(:class:`ShardGroup`), each of which opens its group's shards of the on-disk index read-only (memory-mapped,
the index directory mounted at the same path on every node: one machine or a shared filesystem) and answers a
query shard by shard with :func:`~copyalign.services.matching.engine.shard_text` (``shard_image``). The caller
(:class:`RayShards`, in the process of :class:`~copyalign.services.matching.service.MatchService`) sends the
query to one replica of every group at once, round-robin, and merges the shards' answers in shard order with
the same :func:`~copyalign.services.matching.engine.gather_text` as the index in one process: the answers are
the same by construction.

A replica that dies (a node lost, an actor killed) fails the calls it held, and one that holds a call past
``call_timeout`` seconds is stopped; each such call is sent again to the group's next replica, and the lost
replica is replaced by a new actor. A query fails (503, ``matching_unavailable``)
only when every replica of a group failed it. The writer stays where it was: the service's process refreshes
the index on disk, and a replica re-reads a shard's manifest (one ``stat``) before each query, so a new
registration is visible to the replicas as soon as it is to the process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from copyalign.core.matching.query import TextQuery
from copyalign.core.matching.results import Evidence
from copyalign.core.policy import MatchingSection
from copyalign.errors import ConfigurationError, MissingExtraError, StoreUnavailableError
from copyalign.services.matching.engine import shard_image, shard_text
from copyalign.services.matching.index import open_shards, shard_count

Parts = list[tuple[int, dict[str, Evidence]]]


class ShardGroup:
    """One replica of a shard group: its shards of the index, read-only; the body of a Ray actor."""

    def __init__(self, directory: str, shard_ids: Sequence[int]) -> None:
        self.ids = list(shard_ids)
        self.shards = open_shards(Path(directory), self.ids)

    def text(self, q: TextQuery, cfg: MatchingSection) -> Parts:
        out: Parts = []
        for i, shard in zip(self.ids, self.shards, strict=True):
            shard.reload()
            out.append((i, shard_text(shard, q, cfg)))
        return out

    def image(self, q: np.ndarray, sha: bytes, cfg: MatchingSection) -> Parts:
        out: Parts = []
        for i, shard in zip(self.ids, self.shards, strict=True):
            shard.reload()
            out.append((i, shard_image(shard, q, sha, cfg)))
        return out

    def pid(self) -> int:
        return os.getpid()


class RayShards:
    """The client side: ``groups`` shard groups of ``replicas`` actors each, on the Ray cluster at ``address``
    (a local Ray instance when empty and none is running in this process)."""

    def __init__(
        self,
        directory: Path,
        *,
        groups: int,
        replicas: int = 2,
        address: str = "",
        replica_cpus: float = 1.0,
        start_timeout: float = 120.0,
        call_timeout: float = 30.0,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise MissingExtraError("the Ray matching backend", "ray") from None
        shards = shard_count(directory)
        if groups < 1 or groups > shards:
            raise ConfigurationError(
                f"{groups} Ray shard groups for an index of {shards} shards: there must be between 1 and {shards} "
                "(raise COPYALIGN_INDEX_SHARDS to spread the index further)",
                field="COPYALIGN_RAY_SHARD_GROUPS",
            )
        if replicas < 1:
            raise ConfigurationError("a shard group needs at least one replica", field="COPYALIGN_RAY_REPLICAS")
        self._ray = ray
        self.call_timeout = call_timeout
        self._started = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(include_dashboard=False, log_to_driver=False)
            self._started = True
        self.directory = str(directory.resolve())
        self.members = [[i for i in range(shards) if i % groups == g] for g in range(groups)]
        self._actor = ray.remote(ShardGroup).options(
            num_cpus=replica_cpus, scheduling_strategy="SPREAD", max_concurrency=1
        )
        self._lock = threading.Lock()
        self._next = [0] * groups
        self.replicas: list[list[Any]] = [[self._spawn(g) for _ in range(replicas)] for g in range(groups)]
        # every replica has opened its shards before the first query is served
        try:
            ray.get([a.pid.remote() for group in self.replicas for a in group], timeout=start_timeout)
        except ray.exceptions.GetTimeoutError:
            resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
            self.close()
            raise ConfigurationError(
                f"the Ray cluster did not start {groups * replicas} shard-group replicas of {replica_cpus} CPU each "
                f"within {start_timeout:.0f} s (cluster resources: {resources}); lower "
                "COPYALIGN_RAY_REPLICA_CPUS or COPYALIGN_RAY_REPLICAS, or add nodes",
                field="COPYALIGN_RAY_REPLICA_CPUS",
            ) from None

    def _spawn(self, group: int) -> Any:
        return self._actor.remote(self.directory, self.members[group])

    def text_parts(self, q: TextQuery, cfg: MatchingSection) -> list[dict[str, Evidence]]:
        """Every shard's answer to a text query, in shard order (for :func:`gather_text`)."""
        return self._fan_out("text", q, cfg)

    def image_parts(self, q: np.ndarray, sha: bytes, cfg: MatchingSection) -> list[dict[str, Evidence]]:
        return self._fan_out("image", q, sha, cfg)

    def _fan_out(self, method: str, *args: Any) -> list[dict[str, Evidence]]:
        ray = self._ray
        calls = [self._submit(g, method, args) for g in range(len(self.replicas))]
        parts: dict[int, dict[str, Evidence]] = {}
        for g, call in enumerate(calls):
            failed = 0
            while True:
                replica, ref = call
                try:
                    parts.update(ray.get(ref, timeout=self.call_timeout))
                    break
                except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as exc:
                    failed += 1
                    if isinstance(exc, ray.exceptions.GetTimeoutError):  # hung, not dead: stopped for good
                        ray.kill(replica)
                    self._replace(g, replica)
                    if failed >= len(self.replicas[g]):
                        raise StoreUnavailableError(
                            f"every replica of Ray shard group {g} failed this query (last: {type(exc).__name__})",
                            code="matching_unavailable",
                        ) from exc
                    call = self._submit(g, method, args)
        return [parts[i] for i in sorted(parts)]

    def _submit(self, group: int, method: str, args: tuple[Any, ...]) -> tuple[Any, Any]:
        with self._lock:
            replicas = self.replicas[group]
            replica = replicas[self._next[group] % len(replicas)]
            self._next[group] += 1
        return replica, getattr(replica, method).remote(*args)

    def _replace(self, group: int, dead: Any) -> None:
        """Put a new actor in the place of a replica that failed (once, however many calls saw it fail)."""
        with self._lock:
            replicas = self.replicas[group]
            for r, actor in enumerate(replicas):
                if actor is dead:
                    replicas[r] = self._spawn(group)

    def close(self) -> None:
        for group in self.replicas:
            for actor in group:
                self._ray.kill(actor)
        self.replicas = [[] for _ in self.replicas]
        if self._started:
            self._ray.shutdown()
            self._started = False


__all__ = ["RayShards", "ShardGroup"]
