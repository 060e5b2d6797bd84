"""What every service holds: the store, the ledger, the clock, the policy and the content limits."""

from __future__ import annotations

from dataclasses import dataclass

from copyalign.clock import Clock
from copyalign.core.content import Limits
from copyalign.core.policy import PolicyProfile
from copyalign.services.log.ledger import Ledger
from copyalign.store.blobs import BlobStore
from copyalign.store.db import Store


@dataclass(frozen=True)
class Deps:
    store: Store
    ledger: Ledger
    blobs: BlobStore
    clock: Clock
    policy: PolicyProfile
    limits: Limits


class ServiceBase:
    def __init__(self, deps: Deps) -> None:
        self.store = deps.store
        self.ledger = deps.ledger
        self.blobs = deps.blobs
        self.clock = deps.clock
        self.policy = deps.policy
        self.limits = deps.limits
