"""Wiring: one :class:`Copyalign` object holds every service over one store, ledger, clock and policy.

This is the Python library's entry point for in-process use, and what the API and CLI build on.

Example:
    >>> from copyalign import connect  # doctest: +SKIP
    >>> ca = connect(Settings(database_url="sqlite:///registry.db"))  # doctest: +SKIP
    >>> ca.lookup.lookup(ca.parties.operator(), b"some text").registered  # doctest: +SKIP
    False
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from copyalign.clock import Clock, SystemClock
from copyalign.core.log.checkpoint import Ed25519Signer, Signer, generate_key
from copyalign.core.policy import PolicyProfile
from copyalign.errors import ConfigurationError
from copyalign.policy import load_policy
from copyalign.services.audit.service import AuditService
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.keys import load_or_create_secret
from copyalign.services.guard.service import GuardService
from copyalign.services.licensing.notices import NoticeService
from copyalign.services.licensing.royalties import LicensingService
from copyalign.services.log.ledger import Ledger
from copyalign.services.matching.embeddings import Embedder, load_embedder
from copyalign.services.matching.index import MatchIndex
from copyalign.services.matching.service import MatchService
from copyalign.services.registry.lookup import LookupService
from copyalign.services.registry.parties import PartyService
from copyalign.services.registry.preferences import PreferenceService
from copyalign.services.registry.works import WorkService
from copyalign.services.scan.service import ScanService
from copyalign.services.takedown.desk import TakedownService
from copyalign.settings import Settings
from copyalign.store.blobs import BlobStore, DirectoryBlobStore
from copyalign.store.db import Store


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


@dataclass
class Copyalign:
    settings: Settings
    store: Store
    ledger: Ledger
    blobs: BlobStore
    clock: Clock
    policy: PolicyProfile
    parties: PartyService
    works: WorkService
    preferences: PreferenceService
    lookup: LookupService
    matching: MatchService
    notices: NoticeService
    licensing: LicensingService
    scan: ScanService
    guard: GuardService
    audit: AuditService
    takedown: TakedownService

    def close(self) -> None:
        self.store.dispose()


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

    ``embedders`` defaults to the models the settings name (none unless configured): a model is loaded
    once here, so a process that serves many queries pays for it once.
    """
    settings = settings or Settings.from_env()
    if embedders is None:
        embedders = [
            e
            for e in (
                load_embedder(settings.text_embedder, "text"),
                load_embedder(settings.image_embedder, "image", image_size=settings.image_embedder_size),
            )
            if e is not None
        ]
    store = store or Store(settings.database_url)
    clock = clock or SystemClock()
    policy = policy or load_policy(settings.policy)
    signer = signer or load_or_create_signer(settings.key_file, settings.log_origin)
    blobs = blobs or DirectoryBlobStore(settings.blob_dir)
    ledger = Ledger(store, signer=signer, clock=clock, origin=settings.log_origin)
    deps = Deps(store=store, ledger=ledger, blobs=blobs, clock=clock, policy=policy, limits=settings.limits)
    matching = MatchService(
        deps,
        MatchIndex(
            settings.index_dir,
            shards=settings.index_shards,
            database=_database_identity(settings),
            models={e.kind: e.identity for e in embedders},
        ),
        refresh_seconds=settings.index_refresh_seconds,
        workers=settings.worker_count,
        embedders=embedders,
    )
    preferences = PreferenceService(deps)
    notices = NoticeService(deps)
    preferences.on_opt_out.append(notices.after_opt_out)  # dynamic filtering: a deny updates finalised notices
    guard = GuardService(
        deps,
        matching,
        secret=load_or_create_secret(settings.guard_key_file),
        blocklist=MatchIndex(settings.blocklist_dir, database=_database_identity(settings)),
        c2pa_dir=settings.c2pa_dir,
        refresh_seconds=settings.index_refresh_seconds,
    )
    takedown = TakedownService(deps, guard, matching)
    guard.user_checks.append(takedown.user_check)  # graduated response: a suspended user's requests are refused
    return Copyalign(
        settings=settings,
        store=store,
        ledger=ledger,
        blobs=blobs,
        clock=clock,
        policy=policy,
        parties=PartyService(deps),
        works=WorkService(deps),
        preferences=preferences,
        lookup=LookupService(deps),
        matching=matching,
        notices=notices,
        licensing=LicensingService(deps),
        scan=ScanService(deps, matching),
        guard=guard,
        audit=AuditService(deps),
        takedown=takedown,
    )


def _database_identity(settings: Settings) -> str:
    """Which database an index belongs to: its URL without credentials."""
    url = make_url(settings.database_url)
    return url.set(password=None, username=None).render_as_string(hide_password=True)


__all__ = ["Copyalign", "ServiceBase", "connect", "load_or_create_signer"]
