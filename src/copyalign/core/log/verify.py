"""Verifying a whole log: every entry well-formed, none missing, and all hashing to the signed roots.

This is what an auditor runs, offline, on an exported bundle (or the operator on its own database). It
replays the entries into a Merkle frontier and compares the root at every signed checkpoint size, so a
tampered, dropped, inserted or reordered entry is caught. Where per-entry leaf hashes are available from a
second source (the database's stored leaf nodes, or an earlier bundle the auditor kept) the first bad index
is exact. Where the tree's stored nodes are at hand (the database's, or those a bundle carries), a root that
does not match is bisected (:func:`locate_bad_leaf`): the stored nodes are authenticated top-down against the
signed root, and the descent follows the subtree whose entries no longer hash to its authenticated node, down
to the first bad entry. Only without them is the finding the start of the first checkpoint range that fails.

Example:
    >>> verify_log([], [], []).entries
    0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from copyalign.core.log import merkle
from copyalign.core.log.checkpoint import Checkpoint, NoteVerifier, open_note
from copyalign.core.log.entry import check_entry
from copyalign.core.log.merkle import NodeReader
from copyalign.errors import VerificationError


@dataclass(frozen=True, slots=True)
class LogReport:
    entries: int
    checkpoints: tuple[Checkpoint, ...]
    root: bytes


def verify_log(
    entries: Iterable[tuple[int, bytes]],
    notes: Sequence[bytes],
    verifiers: Sequence[NoteVerifier],
    *,
    expected_leaf: Callable[[int], bytes | None] | None = None,
    nodes: NodeReader | None = None,
) -> LogReport:
    """Replay ``entries`` (index, bytes), in order, against the signed checkpoint ``notes``.

    Raises :class:`VerificationError` with ``index`` set to the first bad entry (or, where ``nodes`` cannot
    locate it, the start of the first bad checkpoint range).
    """
    checkpoints = sorted((open_note(n, verifiers) for n in notes), key=lambda c: c.size)
    for a, b in zip(checkpoints, checkpoints[1:], strict=False):
        if a.size == b.size and a.root != b.root:
            raise VerificationError(
                f"two signed checkpoints of size {a.size} with different roots (a fork)", index=a.size
            )
    pending = [c for c in checkpoints if c.size > 0]
    for c in checkpoints:
        if c.size == 0 and c.root != merkle.EMPTY_ROOT:
            raise VerificationError("the signed root of the empty tree is wrong", index=0)
    size = 0
    frontier: list[bytes] = []
    range_start = 0
    leaves: list[bytes] = []  # kept only to bisect a failing root against ``nodes``
    for index, data in entries:
        if index != size:
            what = "missing" if index > size else "duplicated or out of order"
            raise VerificationError(f"entry {size} is {what} (next entry has index {index})", index=size)
        check_entry(index, data)
        leaf = merkle.leaf_hash(data)
        if expected_leaf is not None:
            want = expected_leaf(index)
            if want is not None and want != leaf:
                raise VerificationError(f"entry {index} does not hash to its recorded leaf", index=index)
        if nodes is not None:
            leaves.append(leaf)
        result = merkle.append_leaves(size, frontier, [leaf])
        size, frontier = result.new_size, result.frontier
        while pending and pending[0].size == size:
            cp = pending.pop(0)
            if merkle.root_from_frontier(size, frontier) != cp.root:
                bad = None if nodes is None else locate_bad_leaf(size, cp.root, leaves, nodes)
                if bad is not None:
                    raise located(bad, f"the signed root of size {size}")
                raise VerificationError(
                    f"entries {range_start}..{size - 1} do not hash to the signed root of size {size}",
                    index=range_start,
                )
            range_start = size
    if pending:
        raise VerificationError(
            f"a checkpoint of size {pending[0].size} is signed but only {size} entries were served",
            index=size,
        )
    return LogReport(size, tuple(checkpoints), merkle.root_from_frontier(size, frontier))


def locate_bad_leaf(size: int, root: bytes, leaves: Sequence[bytes], nodes: NodeReader) -> tuple[int, int] | None:
    """The first of ``leaves`` (the entries' hashes, as replayed) that the tree of ``size`` with ``root`` does
    not contain, found by bisection: ``(first, last)`` of the smallest subtree that holds it (one entry, unless
    its stored nodes were rewritten too); ``None`` where the stored ``nodes`` do not hash to ``root`` at all.

    A stored node is trusted only once it hashes, with its sibling, to a node already trusted (the frontier's
    nodes to the signed ``root`` itself). Where a stored child fails, the replayed child beside it is tried in
    its place; a forger who rewrote an entry *and* its stored leaf leaves two siblings that cannot be told
    apart by hashes alone, and the pair is what is named.

    Example:
        >>> tree = merkle.MemoryNodeStore()
        >>> _ = tree.append([merkle.leaf_hash(bytes([i])) for i in range(5)])
        >>> forged = [merkle.leaf_hash(bytes([i if i != 3 else 9])) for i in range(5)]
        >>> locate_bad_leaf(5, tree.root(), forged, tree)
        (3, 3)
    """
    keys = merkle.frontier_keys(size)
    stored = nodes.get_nodes(keys)
    frontier = [stored.get(k) for k in keys]
    if any(h is None for h in frontier) or merkle.root_from_frontier(size, [h for h in frontier if h]) != root:
        return None
    for key in keys:
        level, idx = key
        trusted = stored[key]
        if _subtree(leaves, level, idx) != trusted:
            return _descend(leaves, level, idx, trusted, nodes)
    return None


def _subtree(leaves: Sequence[bytes], level: int, idx: int) -> bytes:
    return merkle.root_from_leaves(leaves[idx << level : (idx + 1) << level])


def _descend(leaves: Sequence[bytes], level: int, idx: int, trusted: bytes, nodes: NodeReader) -> tuple[int, int]:
    while level > 0:
        lk, rk = (level - 1, 2 * idx), (level - 1, 2 * idx + 1)
        got = nodes.get_nodes([lk, rk])
        mine_l, mine_r = _subtree(leaves, *lk), _subtree(leaves, *rk)
        left, right = got.get(lk), got.get(rk)
        if left is not None and right is not None and merkle.node_hash(left, right) == trusted:
            go_left = mine_l != left
            trusted = left if go_left else right
        elif right is not None and merkle.node_hash(mine_l, right) == trusted:
            go_left, trusted = False, right  # the replayed left half is right; the stored left was rewritten
        elif left is not None and merkle.node_hash(left, mine_r) == trusted:
            go_left, trusted = True, left
        else:  # neither stored child authenticates: the bad entry is somewhere in this subtree
            return idx << level, ((idx + 1) << level) - 1
        level, idx = level - 1, lk[1] if go_left else rk[1]
    return idx, idx


def located(found: tuple[int, int], what: str) -> VerificationError:
    """The error naming what :func:`locate_bad_leaf` found, against ``what`` (a signed root, a frontier)."""
    first, last = found
    if first == last:
        return VerificationError(f"entry {first} does not hash to {what}", index=first)
    return VerificationError(
        f"one of entries {first}..{last} does not hash to {what} (their stored leaves were rewritten too, so "
        "the hashes cannot tell which)",
        index=first,
    )


def first_divergence(ours: Iterable[tuple[int, bytes]], theirs: Iterable[tuple[int, bytes]]) -> int | None:
    """The first index where two copies of a log disagree (a fork), or ``None`` if one extends the other."""
    for (i, a), (j, b) in zip(ours, theirs, strict=False):
        if i != j or a != b:
            return min(i, j)
    return None
