"""Merkle tree maths exactly as RFC 9162 §2.1 (RFC 6962 §2.1) defines it.

Leaf hash ``SHA-256(0x00 || entry)``, interior hash ``SHA-256(0x01 || left || right)``, empty root
``SHA-256("")``. The tree of ``n`` leaves splits at ``k``, the largest power of two below ``n``.

Storage model: the hash of every *perfect* subtree is kept under ``(level, index)``, covering leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 are the leaf hashes. A tree of any size is the
concatenation of the perfect subtrees named by the set bits of its size (its *frontier*), so

* appending needs only the old frontier (:func:`append_leaves`), never a re-read of the tree, and
* a proof needs O(log n) perfect nodes, fetched in one call (:class:`NodeReader`), which keeps proof
  generation sub-millisecond at millions of leaves against a database.

:func:`root_from_leaves` computes a root from all its leaf hashes (a batch of traces is sealed that way). The
tests' oracle is not here: ``tests/unit/core/merkle_reference.py`` writes the RFC's recursive definitions out on
their own, and pymerkle, an independent implementation, checks roots and proofs.

Example:
    >>> store = MemoryNodeStore()
    >>> _ = store.append([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])
    >>> proof = inclusion_proof(2, 3, store)
    >>> verify_inclusion(leaf_hash(b"c"), 2, 3, proof, store.root())
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from copyalign.errors import InvalidInputError, VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class NodeReader(Protocol):
    def get_nodes(self, keys: Collection[NodeKey]) -> Mapping[NodeKey, bytes]:
        """The stored hashes of the perfect subtrees ``keys``; missing keys are simply absent."""
        ...


# -- the frontier ------------------------------------------------------------------------------------


def frontier_keys(size: int) -> list[NodeKey]:
    """The perfect subtrees that make up a tree of ``size`` leaves, left to right."""
    keys: list[NodeKey] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


@dataclass(frozen=True, slots=True)
class AppendResult:
    new_size: int
    frontier: list[bytes]
    nodes: dict[NodeKey, bytes]


def append_leaves(size: int, frontier: Sequence[bytes], leaves: Sequence[bytes]) -> AppendResult:
    """Append ``leaves`` to a tree of ``size`` whose frontier is ``frontier``.

    Returns the new frontier and every perfect node completed on the way (leaves included). Amortised O(1)
    hashes per leaf, as for a binary counter.
    """
    if len(frontier) != bin(size).count("1"):
        raise InvalidInputError(f"a frontier of {len(frontier)} hashes does not fit a tree of size {size}")
    # stack of (level, hash), left to right, levels strictly decreasing
    stack: list[tuple[int, bytes]] = [(k[0], h) for k, h in zip(frontier_keys(size), frontier, strict=True)]
    nodes: dict[NodeKey, bytes] = {}
    n = size
    for leaf in leaves:
        if len(leaf) != HASH_SIZE:
            raise InvalidInputError("a leaf hash must be 32 bytes")
        nodes[(0, n)] = leaf
        level, h = 0, leaf
        while stack and stack[-1][0] == level:
            _, left = stack.pop()
            h = node_hash(left, h)
            level += 1
            nodes[(level, n >> level)] = h
        stack.append((level, h))
        n += 1
    return AppendResult(n, [h for _, h in stack], nodes)


def root_from_frontier(size: int, frontier: Sequence[bytes]) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    if len(frontier) != bin(size).count("1"):
        raise InvalidInputError(f"a frontier of {len(frontier)} hashes does not fit a tree of size {size}")
    h = frontier[-1]
    for left in reversed(frontier[:-1]):
        h = node_hash(left, h)
    return h


# -- subtree hashes from stored perfect nodes ------------------------------------------------------------


def _parts(start: int, end: int) -> list[NodeKey]:
    """The perfect subtrees making up the (RFC-shaped) subtree over leaves [start, end)."""
    out: list[NodeKey] = []
    n = end - start
    for level in range(n.bit_length() - 1, -1, -1):
        if n >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


def _fold(parts: Sequence[bytes]) -> bytes:
    h = parts[-1]
    for left in reversed(parts[:-1]):
        h = node_hash(left, h)
    return h


def _subtrees_inclusion(index: int, size: int) -> list[tuple[int, int]]:
    """The [start, end) ranges whose hashes form the inclusion proof, leaf-side first (RFC PATH)."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    ranges.reverse()
    return ranges


def _subtrees_consistency(old: int, new: int) -> list[tuple[int, int]]:
    """The [start, end) ranges of the consistency proof (RFC SUBPROOF), in proof order."""
    ranges: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, new, old, True
    while True:
        n = hi - lo
        if m == n:
            if not complete:
                ranges.append((lo, hi))
            break
        k = _split(n)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    ranges.reverse()
    return ranges


def _hashes(ranges: Sequence[tuple[int, int]], reader: NodeReader) -> list[bytes]:
    plans = [_parts(a, b) for a, b in ranges]
    wanted = {k for plan in plans for k in plan}
    got = reader.get_nodes(wanted)
    missing = wanted - got.keys()
    if missing:
        level, idx = min(missing)
        raise VerificationError(f"the store lacks the tree node at level {level}, index {idx}", index=idx << level)
    return [_fold([got[k] for k in plan]) for plan in plans]


def root(size: int, reader: NodeReader) -> bytes:
    return EMPTY_ROOT if size == 0 else _hashes([(0, size)], reader)[0]


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    if not 0 <= index < size:
        raise InvalidInputError(f"index {index} is not in a tree of size {size}", field="index")
    return _hashes(_subtrees_inclusion(index, size), reader)


def consistency_proof(old_size: int, new_size: int, reader: NodeReader) -> list[bytes]:
    if not 0 <= old_size <= new_size:
        raise InvalidInputError("need 0 <= old size <= new size", field="first")
    if old_size == 0 or old_size == new_size:
        return []
    return _hashes(_subtrees_consistency(old_size, new_size), reader)


# -- a root over all its leaves (RFC 9162 §2.1.1) -------------------------------------------------------------


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_from_leaves(leaves[:k]), root_from_leaves(leaves[k:]))


# -- verification (RFC 9162 §2.1.3.2, §2.1.4.2) --------------------------------------------------------


def _check_hashes(*hs: bytes) -> None:
    for h in hs:
        if len(h) != HASH_SIZE:
            raise VerificationError("a hash in the proof is not 32 bytes")


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    if not 0 <= index < size:
        raise VerificationError(f"index {index} is not in a tree of size {size}", index=index)
    _check_hashes(leaf, *proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("the inclusion proof is too long", index=index)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("the inclusion proof is too short", index=index)
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes) -> None:
    if root_from_inclusion_proof(leaf, index, size, proof) != root_hash:
        raise VerificationError(f"entry {index} is not included in the tree of size {size}", index=index)


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    _check_hashes(old_root, new_root, *proof)
    if not 0 <= old_size <= new_size:
        raise VerificationError(f"size {old_size} cannot precede size {new_size}")
    if old_size == new_size:
        if proof:
            raise VerificationError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise VerificationError(f"two different roots for size {old_size}", index=old_size)
        return
    if old_size == 0:
        if proof:
            raise VerificationError("a consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise VerificationError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("the consistency proof is too short")
    if fr != old_root or sr != new_root:
        raise VerificationError(f"the trees of sizes {old_size} and {new_size} are not consistent", index=old_size)


@dataclass
class MemoryNodeStore:
    """The in-memory twin of the database's node table."""

    nodes: dict[NodeKey, bytes] = field(default_factory=dict)
    size: int = 0
    frontier: list[bytes] = field(default_factory=list)

    def append(self, leaves: Sequence[bytes]) -> AppendResult:
        result = append_leaves(self.size, self.frontier, leaves)
        self.nodes.update(result.nodes)
        self.size, self.frontier = result.new_size, result.frontier
        return result

    def get_nodes(self, keys: Collection[NodeKey]) -> Mapping[NodeKey, bytes]:
        return {k: self.nodes[k] for k in keys if k in self.nodes}

    def root(self) -> bytes:
        return root_from_frontier(self.size, self.frontier)
