"""RFC 9162 §2.1's recursive definitions, written out on their own: the oracle of the Merkle tests.

Nothing here comes from ``copyalign.core.log.merkle`` (the code under test): the hashes are ``hashlib`` over the
RFC's prefixes, the split is the RFC's "largest power of two smaller than n", and each proof is the list of
subtree hashes MTH(D[a:b]) that the RFC's PATH (§2.1.3.1) and SUBPROOF (§2.1.4.1) name. The ranges are exposed too,
so that another implementation (pymerkle) can compute each subtree hash on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

Range = tuple[int, int]


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = split(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_ranges(m: int, n: int, offset: int = 0) -> list[Range]:
    """PATH(m, D[n]): the leaf ranges whose subtree hashes prove leaf ``m``, leaf side first."""
    if n <= 1:
        return []
    k = split(n)
    if m < k:
        return [*inclusion_ranges(m, k, offset), (offset + k, offset + n)]
    return [*inclusion_ranges(m - k, n - k, offset + k), (offset, offset + k)]


def consistency_ranges(m: int, n: int) -> list[Range]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) as leaf ranges; empty for m = 0 or m = n."""

    def subproof(m: int, lo: int, hi: int, complete: bool) -> list[Range]:
        n = hi - lo
        if m == n:
            return [] if complete else [(lo, hi)]
        k = split(n)
        if m <= k:
            return [*subproof(m, lo, lo + k, complete), (lo + k, hi)]
        return [*subproof(m - k, lo + k, hi, False), (lo, lo + k)]

    if m == 0 or m == n:
        return []
    return subproof(m, 0, n, True)


def inclusion(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    return [root(leaves[a:b]) for a, b in inclusion_ranges(index, len(leaves))]


def consistency(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    return [root(leaves[a:b]) for a, b in consistency_ranges(old_size, len(leaves))]
