"""What every service holds: the store, the ledger, the clock, the policy and the content limits."""

from __future__ import annotations

from copyalign.clock import Clock
from copyalign.core.content import Limits
from copyalign.core.policy import PolicyProfile
from copyalign.services.ledger import Ledger
from copyalign.store.blobs import BlobStore
from copyalign.store.db import Store


class ServiceBase:
    def __init__(
        self,
        *,
        store: Store,
        ledger: Ledger,
        blobs: BlobStore,
        clock: Clock,
        policy: PolicyProfile,
        limits: Limits,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.blobs = blobs
        self.clock = clock
        self.policy = policy
        self.limits = limits
