"""Wiring: one :class:`Copyalign` object holds every service over one store, ledger, clock and policy.

This is the Python library's entry point for in-process use, and what the API and CLI build on. Services are
built on first use: a command that looks a file up does not import, or build, the guard, the scanner or the
audit (start-up is paid for what is used).

Example:
    >>> from copyalign import connect  # doctest: +SKIP
    >>> ca = connect(Settings(database_url="sqlite:///registry.db"))  # doctest: +SKIP
    >>> ca.lookup.lookup(ca.parties.operator(), b"some text").registered  # doctest: +SKIP
    False
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from copyalign.clock import Clock, SystemClock
from copyalign.core.log.checkpoint import Ed25519Signer, Signer, generate_key
from copyalign.core.policy import PolicyProfile
from copyalign.errors import ConfigurationError
from copyalign.policy import load_policy
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.log.ledger import Ledger
from copyalign.settings import Settings
from copyalign.store.blobs import BlobStore, DirectoryBlobStore
from copyalign.store.db import Store

if TYPE_CHECKING:
    from copyalign.services.audit.service import AuditService
    from copyalign.services.guard.service import GuardService
    from copyalign.services.journey.service import JourneyService
    from copyalign.services.licensing.notices import NoticeService
    from copyalign.services.licensing.reporting import ReportingService
    from copyalign.services.licensing.royalties import LicensingService
    from copyalign.services.matching.embeddings import Embedder
    from copyalign.services.matching.service import MatchService
    from copyalign.services.modelcard.service import ModelCardService
    from copyalign.services.registry.blobgc import BlobService
    from copyalign.services.registry.conflicts import ConflictService
    from copyalign.services.registry.lookup import LookupService
    from copyalign.services.registry.parties import PartyService
    from copyalign.services.registry.preferences import PreferenceService
    from copyalign.services.registry.works import WorkService
    from copyalign.services.scan.service import ScanService
    from copyalign.services.takedown.desk import TakedownService


def load_or_create_signer(path: Path, origin: str) -> Signer:
    """The log's Ed25519 key: read from ``path``, or created there (mode 0600) on first use."""
    if path.exists():
        try:
            return Ed25519Signer.from_key(path.read_text("ascii").strip())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read the log key {path}: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    skey, _vkey = generate_key(origin)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(skey + "\n")
    return Ed25519Signer.from_key(skey)


class Copyalign:
    """Every service over one store, ledger, blob store, clock and policy; each built on first use, once."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        ledger: Ledger,
        blobs: BlobStore,
        clock: Clock,
        policy: PolicyProfile,
        *,
        embedders: Sequence[Embedder] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.ledger = ledger
        self.blobs = blobs
        self.clock = clock
        self.policy = policy
        self.deps = Deps(store=store, ledger=ledger, blobs=blobs, clock=clock, policy=policy, limits=settings.limits)
        self._embedders = embedders
        # cached_property no longer locks (Python 3.12): two threads of a server must not build a service twice
        self._building = threading.RLock()

    # -- the registry and the log -----------------------------------------------------------------------
    @cached_property
    def parties(self) -> PartyService:
        from copyalign.services.registry.parties import PartyService

        with self._building:
            return PartyService(self.deps)

    @cached_property
    def works(self) -> WorkService:
        from copyalign.services.registry.works import WorkService

        with self._building:
            # a registration asks the matching engine (a mechanism above the registry) whether it duplicates
            # another holder's work; the engine is reached through the hook, built on the first registration
            return WorkService(
                self.deps, find_conflicts=lambda contents, holder: self.matching.duplicates(contents, holder)
            )

    @cached_property
    def conflicts(self) -> ConflictService:
        from copyalign.services.registry.conflicts import ConflictService

        with self._building:
            return ConflictService(self.deps)

    @cached_property
    def preferences(self) -> PreferenceService:
        from copyalign.services.registry.preferences import PreferenceService

        with self._building:
            prefs = PreferenceService(self.deps)
            # dynamic filtering (seed 001 §3.2): a deny updates finalised notices, in the same transaction;
            # the notices are reached through the hook, so a lookup does not build them
            prefs.on_opt_out.append(lambda session, event: self.notices.after_opt_out(session, event))
            return prefs

    @cached_property
    def lookup(self) -> LookupService:
        from copyalign.services.registry.lookup import LookupService

        with self._building:
            return LookupService(self.deps)

    # -- matching, licensing, scanning, the guard, the audit ------------------------------------------
    @cached_property
    def matching(self) -> MatchService:
        from copyalign.services.matching.embeddings import load_embedder
        from copyalign.services.matching.index import MatchIndex
        from copyalign.services.matching.service import MatchService

        with self._building:
            s = self.settings
            embedders = self._embedders
            if embedders is None:  # the models the settings name (none unless configured), loaded once
                loaded = (
                    load_embedder(s.text_embedder, "text"),
                    load_embedder(s.image_embedder, "image", image_size=s.image_embedder_size),
                )
                embedders = [e for e in loaded if e is not None]
            index = MatchIndex(
                s.index_dir,
                shards=s.index_shards,
                database=_database_identity(s),
                models={e.kind: e.identity for e in embedders},
            )
            remote = None
            if s.matching_backend == "ray":  # the shards served by Ray actors; this process stays the writer
                from copyalign.services.matching.distributed import RayShards

                remote = RayShards(
                    s.index_dir,
                    groups=s.ray_shard_groups,
                    replicas=s.ray_replicas,
                    address=s.ray_address,
                    replica_cpus=s.ray_replica_cpus,
                    call_timeout=s.ray_call_timeout_seconds,
                )
            return MatchService(
                self.deps,
                index,
                refresh_seconds=s.index_refresh_seconds,
                workers=s.worker_count,
                embedders=embedders,
                remote=remote,
            )

    @cached_property
    def notices(self) -> NoticeService:
        from copyalign.services.licensing.notices import NoticeService

        with self._building:
            return NoticeService(self.deps)

    @cached_property
    def licensing(self) -> LicensingService:
        from copyalign.services.licensing.royalties import LicensingService

        with self._building:
            return LicensingService(self.deps)

    @cached_property
    def scan(self) -> ScanService:
        from copyalign.services.scan.service import ScanService

        with self._building:
            return ScanService(self.deps, self.matching)

    @cached_property
    def guard(self) -> GuardService:
        from copyalign.services.guard.keys import load_or_create_secret
        from copyalign.services.guard.service import GuardService
        from copyalign.services.matching.index import MatchIndex

        with self._building:
            s = self.settings
            guard = GuardService(
                self.deps,
                self.matching,
                secret=load_or_create_secret(s.guard_key_file),
                blocklist=MatchIndex(s.blocklist_dir, database=_database_identity(s)),
                c2pa_dir=s.c2pa_dir,
                refresh_seconds=s.index_refresh_seconds,
            )
            # the graduated response (seed 004 ¶85): a suspended user's requests are refused; the desk sits above
            # the guard, so the guard calls it through this hook, and it is built on the first user checked
            guard.user_checks.append(lambda provider, user: self.takedown.user_check(provider, user))
            # the user journey (seed 004 ¶84, ¶26): terms before use, dynamic warnings and the cooling-off period,
            # user models that are not allowed or were removed; the journey is built on the first request checked
            guard.user_checks.append(lambda provider, user: self.journey.user_check(provider, user))
            guard.prompt_hooks.append(lambda provider, user, verdict: self.journey.prompt_hook(provider, user, verdict))
            guard.model_checks.append(lambda provider, model: self.journey.model_check(provider, model))
            return guard

    @cached_property
    def journey(self) -> JourneyService:
        """The provider's duties along its users' journey: terms, dynamic warnings, user models (004 ¶84, ¶26)."""
        from copyalign.services.journey.service import JourneyService

        with self._building:
            return JourneyService(
                self.deps, self.guard, self.scan, work_dir=Path(self.settings.data_dir) / "user-models"
            )

    @cached_property
    def modelcards(self) -> ModelCardService:
        """Models' copyright records for deployers, assembled from the log (seed 004 ¶56, ¶96(a))."""
        from copyalign.services.modelcard.service import ModelCardService

        with self._building:
            return ModelCardService(self.deps)

    @cached_property
    def takedown(self) -> TakedownService:
        """The takedown desk: notice and necessary measures, counter-notices, complaints, strikes (004 ¶84-92)."""
        from copyalign.services.takedown.desk import TakedownService

        with self._building:
            return TakedownService(self.deps, self.guard, self.matching, self.journey)

    @cached_property
    def audit(self) -> AuditService:
        from copyalign.services.audit.service import AuditService

        with self._building:
            return AuditService(self.deps)

    @cached_property
    def reporting(self) -> ReportingService:
        """Usage reports due and overdue under finalised notices, and the reminders (seed 001 §3.2)."""
        from copyalign.services.licensing.reporting import ReportingService

        with self._building:
            return ReportingService(self.deps)

    @cached_property
    def blob_gc(self) -> BlobService:
        from copyalign.services.registry.blobgc import BlobService

        with self._building:
            return BlobService(self.deps, grace=timedelta(seconds=self.settings.blob_gc_grace_seconds))

    def close(self) -> None:
        matching = self.__dict__.get("matching")
        if matching is not None:  # the Ray replicas, if the ray backend started them
            matching.close()
        self.store.dispose()
        close_blobs = getattr(self.blobs, "close", None)  # a pack store's index connections and open packs
        if close_blobs is not None:
            close_blobs()  # it reopens them on its next use, should another context share it


def connect(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    signer: Signer | None = None,
    blobs: BlobStore | None = None,
    policy: PolicyProfile | None = None,
    store: Store | None = None,
    embedders: Sequence[Embedder] | None = None,
) -> Copyalign:
    """Open (and migrate) the database and wire the services; every seam can be replaced for tests.

    ``embedders`` defaults to the models the settings name (none unless configured), loaded when matching is
    first used, once, so a process that serves many queries pays for them once.
    """
    settings = settings or Settings.from_env()
    store = store or Store(settings.database_url)
    clock = clock or SystemClock()
    policy = policy or load_policy(settings.policy)
    signer = signer or load_or_create_signer(settings.key_file, settings.log_origin)
    blobs = blobs or open_blob_store(settings)
    ledger = Ledger(store, signer=signer, clock=clock, origin=settings.log_origin)
    return Copyalign(settings, store, ledger, blobs, clock, policy, embedders=embedders)


def open_blob_store(settings: Settings) -> BlobStore:
    """The blob store ``settings.blob_store`` names, under ``settings.blob_dir``."""
    if settings.blob_store == "pack":
        from copyalign.store.packs import PackBlobStore

        return PackBlobStore(settings.blob_dir)
    if settings.blob_store != "directory":
        raise ConfigurationError(f"unknown blob store {settings.blob_store!r}", field="COPYALIGN_BLOB_STORE")
    return DirectoryBlobStore(settings.blob_dir)


def _database_identity(settings: Settings) -> str:
    """Which database an index belongs to: its URL without credentials."""
    url = make_url(settings.database_url)
    return url.set(password=None, username=None).render_as_string(hide_password=True)


__all__ = ["Copyalign", "ServiceBase", "connect", "load_or_create_signer"]
